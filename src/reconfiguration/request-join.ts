/**
 * RequestJoin (spec/Reconfiguration.tla): a replica that is not a member asks to join. It makes
 * a fresh view key and submits JOIN, signed by its identity key, carrying its address and the
 * new view key (which signs the request too, proving the joiner holds it).
 *
 * Executing JOIN (spec/Base.tla `ApplyMembership`, `joins`) runs the deterministic admission
 * policy while the block is executed: every replica reaches the same verdict, and the verdict is
 * the request's result, part of the certified block results. An admitted joiner becomes a
 * member of the next view; it catches up by state transfer before it votes.
 */
import { toHex } from "../chain/bytes.ts"
import type { Transaction } from "../chain/types.ts"
import type { TraceEvent } from "../core/io.ts"
import { hardLimits } from "../core/limits.ts"
import { okResult } from "../app/application.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { requestKey, withHeldKey, withSubmitted } from "./replica-state.ts"
import type { JoinRequest, Signer } from "./requests.ts"
import { joinRequest, joinSigningBytes, requestTransaction } from "./requests.ts"
import type { ReconfigContext, RequestOutcome, ViewState } from "./view-state.ts"
import { memberByIdentity, rejectWith, viewKeyTaken } from "./view-state.ts"

export const requestJoinEvent = "RequestJoin" as const

/** Enabled for a replica that is not a member, has not left, and has not asked to join this view. */
export const canRequestJoin = (local: ReplicaReconfigState, chainView: ViewState): boolean =>
  local.view === -1n && !local.left && !local.submitted.has(requestKey.join(chainView.view.id)) && memberByIdentity(chainView, local.identityKey) === undefined

export interface RequestMade {
  readonly local: ReplicaReconfigState
  readonly transaction: Transaction
  readonly event: TraceEvent
}

/**
 * Submits JOIN for the view after `chainView`'s current one. `newViewKey` is the fresh key the
 * shell generated and stored for view `chainView.view.id + 1`.
 */
export const requestJoin = (
  local: ReplicaReconfigState,
  chainView: ViewState,
  chainId: string,
  identity: Signer,
  newViewKey: Signer,
  address: string,
  seq: bigint
): RequestMade => {
  const viewId = chainView.view.id
  const request = joinRequest(chainId, identity, { viewId, address }, newViewKey)
  return {
    local: withHeldKey(withSubmitted(local, requestKey.join(viewId)), viewId + 1n),
    transaction: requestTransaction(chainId, identity, seq, request),
    event: {
      action: requestJoinEvent,
      replica: local.replica,
      identityKey: toHex(identity.publicKey),
      viewKey: toHex(newViewKey.publicKey),
      view: Number(viewId + 1n)
    }
  }
}

/**
 * Executes a JOIN ordered in block `height`. Checks, in order: the view it names is current
 * (WrongView), the requester is not a member (AlreadyMember) nor already admitted
 * (AlreadyRequested), the next view would not exceed the member limit (TooManyMembers), the
 * admission policy admits it (NotAdmitted), its view key is fresh (ViewKeyTaken), and the view
 * key's signature verifies (BadViewKeySignature).
 */
export const executeJoin = (s: ViewState, ctx: ReconfigContext, tx: Transaction, req: JoinRequest): RequestOutcome => {
  if (req.viewId !== s.view.id) return rejectWith(s, "WrongView", "the request names another view")
  if (memberByIdentity(s, tx.client) !== undefined) return rejectWith(s, "AlreadyMember", "already a member")
  const hex = toHex(tx.client)
  if (s.joins.some((j) => toHex(j.identityKey) === hex)) return rejectWith(s, "AlreadyRequested", "already admitted")
  if (s.view.members.length + s.joins.length >= hardLimits.membersMax) return rejectWith(s, "TooManyMembers", "the view is full")
  if (!ctx.admit(tx.client)) return rejectWith(s, "NotAdmitted", "the admission policy refuses this key")
  if (viewKeyTaken(s, req.viewKey)) return rejectWith(s, "ViewKeyTaken", "the view key is already in use")
  if (!ctx.crypto.verify(req.viewKey, joinSigningBytes(ctx.chainId, tx.client, req), req.possession))
    return rejectWith(s, "BadViewKeySignature", "the view key's signature does not verify")
  return {
    state: { ...s, joins: [...s.joins, { identityKey: tx.client, viewKey: req.viewKey, address: req.address }] },
    result: okResult(new Uint8Array()),
    rejected: undefined
  }
}
