/**
 * RequestRemove (spec/Reconfiguration.tla): a member asks to evict another member, in an ordered
 * transaction signed by its identity key.
 *
 * Executing REMOVE (spec/Base.tla `ApplyMembership`, `removes`, and `Evicted`) records the
 * request; the target is evicted once f + 1 distinct members of the current view asked, so at
 * least one correct member wants it out and f Byzantine members cannot evict anyone on their own.
 */
import type { Transaction } from "../chain/types.ts"
import { okResult } from "../app/application.ts"
import type { RequestMade } from "./request-join.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { requestKey, withSubmitted } from "./replica-state.ts"
import type { RemoveRequest, Signer } from "./requests.ts"
import { removeRequest, requestTransaction } from "./requests.ts"
import type { RequestOutcome, ViewState } from "./view-state.ts"
import { isMember, memberByIdentity, rejectWith } from "./view-state.ts"

export const requestRemoveEvent = "RequestRemove" as const

/** Enabled for a member of the current view, about another member, once per (view, target). */
export const canRequestRemove = (local: ReplicaReconfigState, chainView: ViewState, target: number): boolean => {
  const self = memberByIdentity(chainView, local.identityKey)
  return (
    !local.left &&
    self !== undefined &&
    self.replica !== target &&
    isMember(chainView, target) &&
    !local.submitted.has(requestKey.remove(chainView.view.id, target))
  )
}

export const requestRemove = (
  local: ReplicaReconfigState,
  chainView: ViewState,
  chainId: string,
  identity: Signer,
  target: number,
  seq: bigint
): RequestMade => {
  const viewId = chainView.view.id
  return {
    local: withSubmitted(local, requestKey.remove(viewId, target)),
    transaction: requestTransaction(chainId, identity, seq, removeRequest(viewId, target)),
    event: { action: requestRemoveEvent, replica: local.replica, view: Number(viewId), target }
  }
}

/**
 * Executes a REMOVE. Checks, in order: the view it names is current (WrongView), the requester
 * is a member (NotMember), the target is a member (TargetNotMember) other than the requester
 * (SelfRemoval: a member leaves with LEAVE), and this requester has not asked already
 * (AlreadyRequested).
 */
export const executeRemove = (s: ViewState, tx: Transaction, req: RemoveRequest): RequestOutcome => {
  if (req.viewId !== s.view.id) return rejectWith(s, "WrongView", "the request names another view")
  const member = memberByIdentity(s, tx.client)
  if (member === undefined) return rejectWith(s, "NotMember", "not a member")
  if (!isMember(s, req.target)) return rejectWith(s, "TargetNotMember", "the target is not a member")
  if (req.target === member.replica) return rejectWith(s, "SelfRemoval", "a member cannot evict itself")
  if (s.removes.some((r) => r.by === member.replica && r.target === req.target))
    return rejectWith(s, "AlreadyRequested", "already asked to evict this member")
  return {
    state: { ...s, removes: [...s.removes, { by: member.replica, target: req.target }] },
    result: okResult(new Uint8Array()),
    rejected: undefined
  }
}
