/**
 * Submit: a client transaction (signature already verified) enters a replica. It waits in the
 * pending set, its request timer running, until it is decided; a replica that is not the leader
 * passes it on to the leader. A transaction already decided is answered again from the stored
 * result instead (ReplyAgain), and one already pending is ignored: (client, seq) is unique.
 */
import { transactionEncodedSize } from "../chain/encoding.ts"
import type { Transaction } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import { hex } from "../core/emitter.ts"
import { coreLimits } from "../core/limits.ts"
import type { ReplicaState } from "../core/state.ts"
import { txKey } from "../core/state.ts"

export const submitEvent = "Submit" as const

export type SubmitOutcome = "Pending" | "AlreadyDecided" | "AlreadyPending" | "TooLarge" | "PendingFull"

/** Whether `tx` would join the pending set, and if not why. */
export const canSubmit = (state: ReplicaState, tx: Transaction): SubmitOutcome => {
  const key = txKey(tx)
  if (state.decidedTx.has(key)) return "AlreadyDecided"
  if (state.pending.has(key)) return "AlreadyPending"
  if (transactionEncodedSize(tx) > state.config.limits.txBytesMax) return "TooLarge"
  if (state.pending.size >= coreLimits.pendingTxMax) return "PendingFull"
  return "Pending"
}

export const submit = (state: ReplicaState, fx: Emitter, tx: Transaction): void => {
  const outcome = canSubmit(state, tx)
  const key = txKey(tx)
  if (outcome === "AlreadyDecided") {
    const cid = state.decidedTx.get(key)
    assert(cid !== undefined, "a decided transaction has its cid")
    // With persistence, a reply not yet released goes out when ReleaseReply releases it.
    if (state.persistence === undefined || cid <= state.persistence.releasedH)
      fx.emit({ _tag: "ReplyAgain", client: tx.client, seq: tx.seq, cid })
    return
  }
  if (outcome !== "Pending") return
  const sizeBefore = state.pending.size
  state.pending.set(key, { tx, key, bytes: transactionEncodedSize(tx), sinceMs: state.nowMs, forwardedToAll: false })
  fx.trace(submitEvent, { client: hex(tx.client), txSeq: tx.seq.toString() })
  fx.forward(leaderOf(state.config, state.regency), tx)
  assert(state.pending.size === sizeBefore + 1, "Submit adds exactly one pending transaction")
}
