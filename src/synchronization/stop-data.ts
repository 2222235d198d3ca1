/**
 * StopData: q members asked for regency r above the installed one, so the replica installs r and
 * sends the new leader (members[r mod n]) a signed STOPDATA: its last decided instance with the
 * decision proof, and its state in the open instance (write set and last accepted value). From
 * here on it takes no part in lower regencies: that is what makes its STOPDATA a faithful report.
 */
import { stopDataSigningBytes } from "../chain/encoding.ts"
import type { StopData } from "../chain/types.ts"
import { Option } from "effect"
import { assert } from "../core/assert.ts"
import { leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { regencyKey } from "../core/state.ts"
import { stopCount } from "./stop.ts"

export const stopDataEvent = "StopData" as const

/** The highest regency above the installed one that q members asked for, if any. */
export const regencyToInstall = (state: ReplicaState): bigint | undefined => {
  let install: bigint | undefined
  for (const r of state.stops.keys()) {
    const regency = BigInt(r)
    if (regency > state.regency && stopCount(state, regency) >= state.config.quorum && (install === undefined || regency > install))
      install = regency
  }
  return install
}

export const canInstall = (state: ReplicaState): boolean => regencyToInstall(state) !== undefined

/** This replica's STOPDATA for the installed regency, signed by its view key. */
export const buildStopData = (state: ReplicaState): StopData => {
  const accepted = state.instance.accepted
  const fields = {
    viewId: state.config.view.id,
    regency: state.regency,
    lastDecided: state.lastDecidedProof === undefined ? Option.none() : Option.some(state.lastDecidedProof),
    lastDecidedBatch: state.lastDecidedBatch,
    openCid: state.instance.cid,
    written: [...state.instance.writeSet],
    accepted: accepted === undefined ? Option.none() : Option.some(accepted)
  }
  return { _tag: "StopData", ...fields, signature: state.config.signer.sign(stopDataSigningBytes(state.config.chainId, fields)) }
}

/**
 * Enters `regency` (from StopData, or from a valid SYNC that proves q members entered it): the
 * STOPs and STOPDATA of lower regencies are dropped and the request timers restart, so the new
 * leader has a full timeout.
 */
export const enterRegency = (state: ReplicaState, regency: bigint): void => {
  assert(regency > state.regency, "regencies only grow")
  state.regency = regency
  state.regencySinceMs = state.nowMs
  if (state.nextRegency < regency) state.nextRegency = regency
  state.synced = false
  state.changesWithoutDecision++
  state.stopData.clear()
  state.stopDataSent = undefined
  state.syncSent = undefined
  for (const r of [...state.stops.keys()]) if (BigInt(r) <= regency) state.stops.delete(r)
  for (const p of state.pending.values()) {
    p.sinceMs = state.nowMs
    p.forwardedToAll = false
  }
}

export const installRegency = (state: ReplicaState, fx: Emitter): void => {
  const regency = regencyToInstall(state)
  assert(regency !== undefined, "StopData is enabled")
  const stoppers = [...(state.stops.get(regencyKey(regency)) ?? [])].sort((a, b) => a - b)
  enterRegency(state, regency)
  const leader = leaderOf(state.config, regency)
  const stopData = buildStopData(state)
  state.stopDataSent = stopData
  fx.trace(stopDataEvent, {
    regency: Number(regency),
    leader,
    cid: Number(stopData.openCid),
    lastDecided: Number(state.lastDecidedCid),
    accepted: state.instance.accepted === undefined ? -1 : Number(state.instance.accepted.regency),
    stoppers
  })
  fx.send(leader, stopData)
  for (const p of state.pending.values()) fx.forward(leader, p.tx)
  assert(state.regency === regency && !state.synced, "the new regency waits for its SYNC")
}
