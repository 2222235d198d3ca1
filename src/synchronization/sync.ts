/**
 * Sync: the leader of the installed regency, holding signed STOPDATA from at least q members,
 * chooses the value of the instance after the highest decided one by the rule of ./sound.ts
 * (the value forced by the STOPDATA, or its own batch when the value is free) and sends SYNC
 * with the STOPDATA it used, so every replica can check the choice. If the STOPDATA show an
 * instance decided that the leader has not decided, it first catches up by state transfer. If
 * they determine nothing yet, it waits for more STOPDATA.
 */
import type { StopDataFrom, Sync } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { hashBatch, nextBatch } from "../ordering/batch.ts"
import { buildStopData } from "./stop-data.ts"
import { choose, collect } from "./sound.ts"

export const syncEvent = "Sync" as const

export type SyncPlan =
  | { readonly _tag: "Send"; readonly message: Sync; readonly bound: boolean }
  | { readonly _tag: "Behind" }
  | { readonly _tag: "Wait" }

const isLeaderWaiting = (state: ReplicaState): boolean =>
  leaderOf(state.config, state.regency) === state.config.self && !state.synced && state.syncSent === undefined

/** What the leader can do with the STOPDATA it holds. */
export const syncPlan = (state: ReplicaState): SyncPlan => {
  if (!isLeaderWaiting(state) || state.stopData.size + (state.stopData.has(state.config.self) ? 0 : 1) < state.config.quorum)
    return { _tag: "Wait" }
  // The leader's own entry is taken fresh: it may have decided more since it installed the regency.
  const own = buildStopData(state)
  const proofs: Array<StopDataFrom> = [...state.stopData.entries()]
    .filter(([replica]) => replica !== state.config.self)
    .map(([replica, stopData]) => ({ replica, stopData }))
  proofs.push({ replica: state.config.self, stopData: own })
  proofs.sort((a, b) => a.replica - b.replica)
  const collected = collect(proofs)
  if (collected.target > state.instance.cid) return { _tag: "Behind" }
  assert(collected.target === state.instance.cid, "the leader's own entry bounds the target from below")
  const choice = choose(state.config, collected.entries)
  if (choice._tag === "Undetermined") return { _tag: "Wait" }
  const batch = choice._tag === "Bound" ? choice.value.batch : nextBatch(state)
  if (batch.length === 0) return { _tag: "Wait" }
  const message: Sync = {
    _tag: "Sync",
    viewId: state.config.view.id,
    regency: state.regency,
    cid: collected.target,
    proofs,
    batch
  }
  return { _tag: "Send", message, bound: choice._tag === "Bound" }
}

export const canSync = (state: ReplicaState): boolean => syncPlan(state)._tag === "Send"

export const sync = (state: ReplicaState, fx: Emitter): void => {
  const plan = syncPlan(state)
  assert(plan._tag === "Send", "Sync is enabled")
  state.syncSent = plan.message
  fx.trace(syncEvent, {
    regency: Number(plan.message.regency),
    cid: Number(plan.message.cid),
    batchHash: hashBatch(state.config, plan.message.batch).hashHex,
    bound: plan.bound,
    proofs: plan.message.proofs.map((p) => p.replica)
  })
  fx.broadcast(plan.message)
  assert(state.syncSent !== undefined, "a leader sends one SYNC per regency")
}
