/**
 * Batches: their hash and the checks every replica applies before it writes one (PROTOCOL.md
 * section 2: size limits, no duplicates, nothing already decided, well formed). Transaction
 * signatures were checked by the Verifier before the batch reached the core.
 */
import { toHex } from "../chain/bytes.ts"
import { transactionEncodedSize } from "../chain/encoding.ts"
import { batchHash } from "../chain/hash.ts"
import type { Transaction } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import type { HashedBatch, ReplicaState } from "../core/state.ts"
import { txKey } from "../core/state.ts"

export const hashBatch = (config: ReplicaConfig, batch: ReadonlyArray<Transaction>): HashedBatch => {
  const hash = batchHash(config.crypto, batch)
  return { batch, hash, hashHex: toHex(hash) }
}

/** Why a batch may not be ordered in the open instance, or undefined when it may. */
export const batchProblem = (state: ReplicaState, batch: ReadonlyArray<Transaction>): string | undefined => {
  const limits = state.config.limits
  if (batch.length === 0) return "empty batch"
  if (batch.length > limits.batchTxMax) return "more transactions than batchTxMax"
  let bytes = 0
  const keys = new Set<string>()
  for (const tx of batch) {
    const size = transactionEncodedSize(tx)
    if (size > limits.txBytesMax) return "a transaction exceeds txBytesMax"
    bytes += size
    const key = txKey(tx)
    if (keys.has(key)) return "a transaction appears twice"
    if (state.decidedTx.has(key)) return "a transaction was already decided"
    keys.add(key)
  }
  if (bytes > limits.batchBytesMax) return "more bytes than batchBytesMax"
  return undefined
}

/** The next batch a leader proposes: pending transactions in arrival order, within the limits. */
export const nextBatch = (state: ReplicaState): Array<Transaction> => {
  const limits = state.config.limits
  const batch: Array<Transaction> = []
  let bytes = 0
  for (const pending of state.pending.values()) {
    if (batch.length >= limits.batchTxMax) break
    if (state.decidedTx.has(pending.key)) continue
    if (bytes + pending.bytes > limits.batchBytesMax) break
    batch.push(pending.tx)
    bytes += pending.bytes
  }
  return batch
}

/**
 * The leader's batching rule: whether the pending transactions make a batch worth proposing now.
 * A leader with nothing in flight (every block it decided has released its replies, or it keeps
 * no blocks) proposes at once; otherwise it waits until the batch is full (batchTxMax
 * transactions or batchBytesMax bytes) or the oldest pending transaction has waited
 * `batchDelayMs` by the core's clock. Safety does not depend on it: it only chooses when a batch
 * goes out, and ticks advance the clock, so a held batch always goes out.
 */
export const batchReady = (state: ReplicaState): boolean => {
  const p = state.persistence
  if (p === undefined || p.releasedH >= p.height) return true
  const limits = state.config.limits
  let count = 0
  let bytes = 0
  let oldest = true
  for (const pending of state.pending.values()) {
    if (state.decidedTx.has(pending.key)) continue
    if (oldest) {
      if (state.nowMs - pending.sinceMs >= state.config.batchDelayMs) return true
      oldest = false
    }
    if (bytes + pending.bytes > limits.batchBytesMax) return true
    bytes += pending.bytes
    if (++count >= limits.batchTxMax) return true
  }
  return false
}
