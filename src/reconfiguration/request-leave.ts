/**
 * RequestLeave (spec/Reconfiguration.tla): a member asks to leave. LEAVE is self-signed: the
 * transaction signature by the member's identity key is the whole authorization.
 *
 * Executing LEAVE (spec/Base.tla `ApplyMembership`, `leaves`) marks the member as leaving: it is
 * not continuing, so the next view is installed without it. It erases all its view keys when it
 * installs that view (install-view.ts).
 */
import type { Transaction } from "../chain/types.ts"
import { okResult } from "../app/application.ts"
import type { RequestMade } from "./request-join.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { requestKey, withSubmitted } from "./replica-state.ts"
import type { LeaveRequest, Signer } from "./requests.ts"
import { leaveRequest, requestTransaction } from "./requests.ts"
import type { RequestOutcome, ViewState } from "./view-state.ts"
import { memberByIdentity, rejectWith } from "./view-state.ts"

export const requestLeaveEvent = "RequestLeave" as const

/** Enabled for a running member of the current view that has not asked to leave it yet. */
export const canRequestLeave = (local: ReplicaReconfigState, chainView: ViewState): boolean =>
  !local.left &&
  local.view >= 0n &&
  memberByIdentity(chainView, local.identityKey) !== undefined &&
  !local.submitted.has(requestKey.leave(chainView.view.id))

export const requestLeave = (
  local: ReplicaReconfigState,
  chainView: ViewState,
  chainId: string,
  identity: Signer,
  seq: bigint
): RequestMade => {
  const viewId = chainView.view.id
  return {
    local: withSubmitted(local, requestKey.leave(viewId)),
    transaction: requestTransaction(chainId, identity, seq, leaveRequest(viewId)),
    event: { action: requestLeaveEvent, replica: local.replica, view: Number(viewId) }
  }
}

/**
 * Executes a LEAVE. Checks, in order: the view it names is current (WrongView), the requester is
 * a member (NotMember), it has not asked already (AlreadyRequested).
 */
export const executeLeave = (s: ViewState, tx: Transaction, req: LeaveRequest): RequestOutcome => {
  if (req.viewId !== s.view.id) return rejectWith(s, "WrongView", "the request names another view")
  const member = memberByIdentity(s, tx.client)
  if (member === undefined) return rejectWith(s, "NotMember", "not a member")
  if (s.leaves.includes(member.replica)) return rejectWith(s, "AlreadyRequested", "already leaving")
  return { state: { ...s, leaves: [...s.leaves, member.replica] }, result: okResult(new Uint8Array()), rejected: undefined }
}
