/**
 * Propose: the leader of the installed regency proposes a batch of pending transactions for the
 * open instance, once per (cid, regency), by sending PROPOSE to every member (itself included,
 * so it then writes its own proposal like everyone else). A leader that wrote in the regency
 * before a crash (its record says so) does not propose in it again, nor does one whose record
 * says it proposed (src/persistence/restart.ts). One instance runs at a time: the next
 * cid is proposed only after this one is decided, and (with persistence) only while the blocks
 * decided and not yet written stay within the consensus record's bound.
 */
import type { Propose } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { isActive, regencyKey } from "../core/state.ts"
import { hasRoomForBlocks } from "../persistence/pipeline.ts"
import { batchReady, hashBatch, nextBatch } from "./batch.ts"

export const proposeEvent = "Propose" as const

export const canPropose = (state: ReplicaState): boolean => {
  const r = regencyKey(state.regency)
  return (
    isActive(state) &&
    leaderOf(state.config, state.regency) === state.config.self &&
    !state.instance.proposedIn.has(r) &&
    !state.instance.proposals.has(r) &&
    !state.instance.wroteIn.has(r) &&
    state.syncedValue === undefined &&
    hasRoomForBlocks(state) &&
    batchReady(state) &&
    nextBatch(state).length > 0
  )
}

export const propose = (state: ReplicaState, fx: Emitter): void => {
  assert(canPropose(state), "Propose is enabled")
  const value = hashBatch(state.config, nextBatch(state))
  const message: Propose = {
    _tag: "Propose",
    viewId: state.config.view.id,
    cid: state.instance.cid,
    regency: state.regency,
    batch: value.batch
  }
  state.instance.proposedIn.add(regencyKey(state.regency))
  fx.trace(proposeEvent, {
    cid: Number(message.cid),
    regency: Number(message.regency),
    batchHash: value.hashHex,
    txs: value.batch.length
  })
  fx.broadcast(message)
  assert(!canPropose(state), "a leader proposes once per (cid, regency)")
}
