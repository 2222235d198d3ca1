/**
 * Rotate (spec/Reconfiguration.tla): once a membership change is decided, every member that
 * continues into view v + 1 makes a fresh view key and submits ROTATE(v + 1, new key), signed by
 * its identity key (the transaction signature) and by its current view key; the new key signs
 * too, proving the member holds it. Fresh keys for every view are what make erasure work: once
 * a member erases its view-v key, nothing it still holds can sign for view v.
 *
 * Executing ROTATE (spec/Base.tla `ApplyMembership`, `rotates`) counts it only in blocks after
 * the one that decided the change (spec: `IF s.ha # 0`, evaluated before the block).
 */
import { toHex } from "../chain/bytes.ts"
import type { Transaction } from "../chain/types.ts"
import { okResult } from "../app/application.ts"
import type { RequestMade } from "./request-join.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { requestKey, withHeldKey, withSubmitted } from "./replica-state.ts"
import type { RotateRequest, Signer } from "./requests.ts"
import { requestTransaction, rotateRequest, rotateSigningBytes } from "./requests.ts"
import type { ReconfigContext, RequestOutcome, ViewState } from "./view-state.ts"
import { continuing, memberByIdentity, rejectWith, viewKeyTaken } from "./view-state.ts"

export const rotateEvent = "Rotate" as const

/**
 * Enabled for a member of the current view, once a change is decided (`ha` set), if it is
 * continuing (not leaving, not evicted) and has not rotated for the next view yet.
 */
export const canRotate = (local: ReplicaReconfigState, chainView: ViewState): boolean => {
  const self = memberByIdentity(chainView, local.identityKey)
  return (
    !local.left &&
    self !== undefined &&
    chainView.ha !== 0n &&
    continuing(chainView).includes(self.replica) &&
    !local.submitted.has(requestKey.rotate(chainView.view.id + 1n))
  )
}

/**
 * Submits ROTATE for the next view. `currentViewKey` is the member's key for the current view;
 * `newViewKey` the fresh key the shell generated and stored for the next view.
 */
export const rotate = (
  local: ReplicaReconfigState,
  chainView: ViewState,
  chainId: string,
  identity: Signer,
  currentViewKey: Signer,
  newViewKey: Signer,
  seq: bigint
): RequestMade => {
  const next = chainView.view.id + 1n
  return {
    local: withHeldKey(withSubmitted(local, requestKey.rotate(next)), next),
    transaction: requestTransaction(chainId, identity, seq, rotateRequest(chainId, identity, next, currentViewKey, newViewKey)),
    event: { action: rotateEvent, replica: local.replica, view: Number(next), viewKey: toHex(newViewKey.publicKey) }
  }
}

/**
 * Executes a ROTATE ordered in block `height`. Checks, in order: it names the next view
 * (WrongView), the requester is a member (NotMember), a change was decided in an earlier block
 * (NoChangeDecided), it has not rotated already (AlreadyRequested), the key is fresh
 * (ViewKeyTaken), and both the current and the new view key signed it (BadViewKeySignature).
 */
export const executeRotate = (s: ViewState, ctx: ReconfigContext, height: bigint, tx: Transaction, req: RotateRequest): RequestOutcome => {
  if (req.nextViewId !== s.view.id + 1n) return rejectWith(s, "WrongView", "the request names another view")
  const member = memberByIdentity(s, tx.client)
  if (member === undefined) return rejectWith(s, "NotMember", "not a member")
  if (s.ha === 0n || s.ha >= height) return rejectWith(s, "NoChangeDecided", "no membership change is decided")
  if (s.rotations.some((r) => r.replica === member.replica)) return rejectWith(s, "AlreadyRequested", "already rotated")
  if (viewKeyTaken(s, req.viewKey)) return rejectWith(s, "ViewKeyTaken", "the view key is already in use")
  const message = rotateSigningBytes(ctx.chainId, tx.client, req)
  if (!ctx.crypto.verify(member.viewKey, message, req.current) || !ctx.crypto.verify(req.viewKey, message, req.possession))
    return rejectWith(s, "BadViewKeySignature", "a view key's signature does not verify")
  return {
    state: { ...s, rotations: [...s.rotations, { replica: member.replica, viewKey: req.viewKey }] },
    result: okResult(new Uint8Array()),
    rejected: undefined
  }
}
