/**
 * Write: a replica takes the value of the installed regency's leader for the open instance (the
 * first PROPOSE from that leader for this (cid, regency), or the value a SYNC carries) and sends
 * WRITE(cid, regency, batchHash) to every member. It records the value in its write set, which
 * it reports in STOPDATA if the regency changes.
 */
import type { Propose, ReplicaId, Write } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import { coreLimits } from "../core/limits.ts"
import type { HashedBatch, ReplicaState } from "../core/state.ts"
import { isActive, regencyKey } from "../core/state.ts"
import { batchProblem } from "./batch.ts"

export const writeEvent = "Write" as const

/** Whether `message` is the installed regency's leader's PROPOSE for the open instance. */
export const isLeaderProposal = (state: ReplicaState, from: ReplicaId, message: Propose): boolean =>
  isActive(state) &&
  message.viewId === state.config.view.id &&
  message.cid === state.instance.cid &&
  message.regency === state.regency &&
  from === leaderOf(state.config, message.regency)

/** Whether PROPOSE `message` from `from` makes this replica write. */
export const canWrite = (state: ReplicaState, from: ReplicaId, message: Propose): boolean =>
  isLeaderProposal(state, from, message) &&
  !state.instance.proposals.has(regencyKey(message.regency)) &&
  !state.instance.wroteIn.has(regencyKey(message.regency)) &&
  batchProblem(state, message.batch) === undefined

/**
 * After a restart the consensus record says which value this replica wrote in a regency, by
 * hash, without its batch. The batch comes back when the value arrives again (the leader's
 * PROPOSE retransmitted, or the SYNC): it is taken as the regency's value without a second WRITE
 * (the one sent before the crash already counts), so the replica can ACCEPT it. No spec step: the
 * spec's state already has the write.
 */
export const canRecoverWritten = (state: ReplicaState, regency: bigint, value: HashedBatch): boolean => {
  const r = regencyKey(regency)
  return (
    regency === state.regency &&
    !state.instance.proposals.has(r) &&
    state.instance.wroteIn.get(r) === value.hashHex &&
    batchProblem(state, value.batch) === undefined
  )
}

export const recoverWritten = (state: ReplicaState, regency: bigint, value: HashedBatch): void => {
  assert(canRecoverWritten(state, regency, value), "the value written before the crash comes back")
  state.instance.proposals.set(regencyKey(regency), value)
}

/**
 * Takes `value` as the regency's value and writes it. Shared by Write (value from PROPOSE) and
 * Resume (value from SYNC).
 */
export const writeValue = (state: ReplicaState, fx: Emitter, value: HashedBatch, leader: ReplicaId): void => {
  const instance = state.instance
  const r = regencyKey(state.regency)
  assert(!instance.proposals.has(r) && !instance.wroteIn.has(r), "one value per (cid, regency)")
  instance.proposals.set(r, value)
  instance.wroteIn.set(r, value.hashHex)
  const others = instance.writeSet.filter((w) => w.batchHash.length !== value.hash.length || !sameHash(w.batchHash, value.hash))
  others.push({ regency: state.regency, batchHash: value.hash })
  // The oldest entries go first when the set is full; dropping entries can only make a value
  // harder to certify in a later SYNC (a liveness cost), never let a wrong value through.
  instance.writeSet = others.slice(Math.max(0, others.length - coreLimits.writeSetMax))
  const message: Write = {
    _tag: "Write",
    viewId: state.config.view.id,
    cid: instance.cid,
    regency: state.regency,
    batchHash: value.hash
  }
  fx.trace(writeEvent, {
    cid: Number(instance.cid),
    regency: Number(state.regency),
    batchHash: value.hashHex,
    leader
  })
  fx.broadcast(message)
  assert(instance.wroteIn.get(r) === value.hashHex, "the write is recorded")
}

export const write = (state: ReplicaState, fx: Emitter, from: ReplicaId, message: Propose, value: HashedBatch): void => {
  assert(canWrite(state, from, message), "Write is enabled")
  writeValue(state, fx, value, from)
}

const sameHash = (a: Uint8Array, b: Uint8Array): boolean => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
