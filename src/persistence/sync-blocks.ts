/**
 * SyncBlocks (spec/Persistence.tla): every written block becomes durable at once (group commit:
 * one sync for all the blocks, certificates and consensus records written since the last one).
 *
 * The core asks with a SyncRequest output and learns of completion by a Synced input; one sync
 * is in flight at a time. The event is emitted on completion, when `dur` advances. Weak and
 * strong modes sync as soon as anything is written; memory mode syncs lazily, once a checkpoint
 * interval of blocks is written (its replies never wait for a sync, which is why a full crash
 * can lose what it replied: the negative control of PROTOCOL.md section 4).
 *
 * Checkpoint (spec/Persistence.tla): a checkpoint block's snapshot is staged with the block
 * (./checkpoint.ts), so the sync that makes block c durable makes checkpoint c durable too. When
 * a sync completes, one Checkpoint event is emitted per checkpoint height it covered, in height
 * order: the spec's Checkpoint(r) moves `ckpt` up by one interval while `ckpt + K <= dur`.
 */
import { toHex } from "../chain/bytes.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { certified } from "./certify.ts"
import type { PersistenceState } from "./state.ts"
import { heightKey } from "./state.ts"
import { checkpointHeightAt } from "./checkpoint.ts"

export const syncBlocksEvent = "SyncBlocks" as const
export const checkpointEvent = "Checkpoint" as const

/** Whether there is anything written to make durable, by the mode's rule, and no sync in flight. */
export const canRequestSync = (p: PersistenceState, checkpointInterval: number): boolean => {
  if (p.inFlight !== undefined) return false
  if (p.mode === "memory") return p.wrote - p.dur >= BigInt(Math.max(1, checkpointInterval))
  return p.wrote > p.dur || p.certWrote > p.certH || p.recordVersion > p.recordDurable
}

export const requestSync = (p: PersistenceState, fx: Emitter): void => {
  const seq = p.nextSyncSeq++
  p.inFlight = { seq, wrote: p.wrote, certWrote: p.certWrote, recordVersion: p.recordVersion }
  fx.emit({ _tag: "SyncRequest", seq })
}

/** The sync `seq` completed: what it covered is durable, and what waited on it may go. */
export const syncBlocks = (state: ReplicaState, fx: Emitter, seq: number): void => {
  const p = state.persistence
  if (p === undefined || p.inFlight === undefined || p.inFlight.seq !== seq) return
  const done = p.inFlight
  p.inFlight = undefined
  if (done.wrote > p.dur) {
    const from = p.dur
    p.dur = done.wrote
    fx.trace(syncBlocksEvent, { height: Number(p.dur), from: Number(from) })
    checkpointsSynced(state, p, fx, from)
  }
  if (done.certWrote > p.certH) certified(state, fx, done.certWrote)
  if (done.recordVersion > p.recordDurable) p.recordDurable = done.recordVersion
  const still: Array<(typeof p.held)[number]> = []
  for (const h of p.held) {
    if (h.version <= p.recordDurable) fx.emit(h.output)
    else still.push(h)
  }
  p.held.length = 0
  p.held.push(...still)
}

/**
 * The checkpoints the sync that raised `dur` from `from` made durable. Those at or below `from`
 * were durable before (or, for a block written again below `from`, stayed counted in `ckpt`).
 */
const checkpointsSynced = (state: ReplicaState, p: PersistenceState, fx: Emitter, from: bigint): void => {
  const interval = state.config.limits.checkpointInterval
  if (interval <= 0) return
  const k = BigInt(interval)
  for (let c = lastCheckpoint(p.ckpt, from, interval) + k; c <= p.dur; c += k) {
    p.ckpt = c
    const kept = p.headers.get(heightKey(c))
    fx.trace(checkpointEvent, kept === undefined ? { height: Number(c) } : { height: Number(c), stateHash: toHex(kept.header.stateHash) })
  }
}

/**
 * The last durable checkpoint (spec: ckpt): every checkpoint at or below `dur` is durable (its
 * snapshot is synced with its block), and `ckpt` keeps one a block written again has cut below.
 */
export const durableCheckpoint = (p: PersistenceState, checkpointInterval: number): bigint => lastCheckpoint(p.ckpt, p.dur, checkpointInterval)

const lastCheckpoint = (ckpt: bigint, dur: bigint, interval: number): bigint => {
  const synced = checkpointHeightAt(dur, interval)
  return ckpt > synced ? ckpt : synced
}
