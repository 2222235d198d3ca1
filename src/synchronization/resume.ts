/**
 * Resume: a replica receives the SYNC of the leader of a regency at or above its own, checks it
 * (q signed STOPDATA from distinct members for that regency, the cid is the one after the highest
 * decided cid they report, and the value is the one the rule of ./sound.ts forces, or any valid
 * batch when the value is free), and continues the instance in that regency by writing the
 * value. A replica still behind that cid keeps the value and writes it when it gets there.
 */
import type { ReplicaId, Sync } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import type { HashedBatch, ReplicaState } from "../core/state.ts"
import { isActive, regencyKey } from "../core/state.ts"
import { batchProblem, hashBatch } from "../ordering/batch.ts"
import { canRecoverWritten, recoverWritten, writeValue } from "../ordering/write.ts"
import { choose, collect, proofsProblem } from "./sound.ts"
import { enterRegency } from "./stop-data.ts"

export const resumeEvent = "Resume" as const

export type SyncCheck = { readonly _tag: "Valid"; readonly value: HashedBatch } | { readonly _tag: "Invalid"; readonly reason: string }

/** Checks a SYNC against the rules; independent of this replica's state but for the batch checks. */
export const checkSync = (state: ReplicaState, from: ReplicaId, message: Sync): SyncCheck => {
  const config = state.config
  if (message.viewId !== config.view.id) return { _tag: "Invalid", reason: "another view" }
  if (from !== leaderOf(config, message.regency)) return { _tag: "Invalid", reason: "not from the regency's leader" }
  const problem = proofsProblem(config, message.regency, message.cid, message.proofs)
  if (problem !== undefined) return { _tag: "Invalid", reason: problem }
  const value = hashBatch(config, message.batch)
  const choice = choose(config, collect(message.proofs).entries)
  if (choice._tag === "Undetermined") return { _tag: "Invalid", reason: "the STOPDATA determine no value" }
  if (choice._tag === "Bound" && choice.value.hashHex !== value.hashHex) return { _tag: "Invalid", reason: "not the value the STOPDATA force" }
  if (message.cid === state.instance.cid) {
    const batchIssue = batchProblem(state, message.batch)
    if (batchIssue !== undefined) return { _tag: "Invalid", reason: batchIssue }
  } else if (message.batch.length === 0) return { _tag: "Invalid", reason: "empty batch" }
  return { _tag: "Valid", value }
}

/** Whether this replica is waiting for (or missed) the SYNC of `message.regency`. */
export const wantsSync = (state: ReplicaState, message: Sync): boolean =>
  message.regency > state.regency || (message.regency === state.regency && !state.synced)

export const canResume = (state: ReplicaState, from: ReplicaId, message: Sync): boolean =>
  wantsSync(state, message) && checkSync(state, from, message)._tag === "Valid"

export const resume = (state: ReplicaState, fx: Emitter, from: ReplicaId, message: Sync, value: HashedBatch): void => {
  assert(wantsSync(state, message), "Resume is enabled")
  if (message.regency > state.regency) enterRegency(state, message.regency)
  state.synced = true
  fx.trace(resumeEvent, { regency: Number(message.regency), cid: Number(message.cid), batchHash: value.hashHex, leader: from })
  if (message.cid > state.instance.cid) {
    state.syncedValue = { cid: message.cid, regency: message.regency, value }
  } else if (message.cid === state.instance.cid && !state.instance.proposals.has(regencyKey(message.regency))) {
    // Back from a crash after writing in this regency: the value comes back, and no second one is written.
    if (canRecoverWritten(state, message.regency, value)) recoverWritten(state, message.regency, value)
    else if (!state.instance.wroteIn.has(regencyKey(message.regency))) writeValue(state, fx, value, from)
  }
  assert(state.synced && state.regency === message.regency, "the replica runs in the SYNC's regency")
}

/** A SYNC value kept while catching up is written once its instance opens. */
export const canWriteSyncedValue = (state: ReplicaState): boolean => {
  const v = state.syncedValue
  return (
    v !== undefined &&
    v.cid === state.instance.cid &&
    v.regency === state.regency &&
    isActive(state) &&
    !state.instance.proposals.has(regencyKey(v.regency)) &&
    (!state.instance.wroteIn.has(regencyKey(v.regency)) || canRecoverWritten(state, v.regency, v.value)) &&
    batchProblem(state, v.value.batch) === undefined
  )
}

export const writeSyncedValue = (state: ReplicaState, fx: Emitter): void => {
  const v = state.syncedValue
  assert(v !== undefined && canWriteSyncedValue(state), "the kept SYNC value is due")
  state.syncedValue = undefined
  if (canRecoverWritten(state, v.regency, v.value)) recoverWritten(state, v.regency, v.value)
  else writeValue(state, fx, v.value, leaderOf(state.config, v.regency))
}
