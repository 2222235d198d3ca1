/**
 * Stop: a replica asks to leave the installed regency by sending STOP(r) for a higher regency r
 * to every member. It does so when a pending transaction outlives its request timeout (after a
 * first timeout sent it to every member), or when the installed regency's SYNC does not come in
 * time, with r = regency + 1; or it joins: once f + 1 members (so at least one correct) asked
 * for a regency above its own, it asks too. It keeps taking part in the installed regency until q
 * STOPs install the new one: only its STOPDATA freezes its state in the old regencies.
 */
import type { ReplicaId, Stop } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import { coreLimits } from "../core/limits.ts"
import type { ReplicaState } from "../core/state.ts"
import { regencyKey } from "../core/state.ts"

export const stopEvent = "Stop" as const

/** The request timeout now: it doubles with each leader change that brought no decision. */
export const requestTimeoutMs = (state: ReplicaState): number =>
  state.config.limits.requestTimeoutMs * 2 ** Math.min(state.changesWithoutDecision, coreLimits.timeoutBackoffMax)

/** Whether a reason to leave the installed regency holds now. */
export const timedOut = (state: ReplicaState): boolean => {
  const timeout = requestTimeoutMs(state)
  if (!state.synced && state.nowMs - state.regencySinceMs >= timeout) return true
  for (const p of state.pending.values()) if (p.forwardedToAll && state.nowMs - p.sinceMs >= timeout) return true
  return false
}

export const canStopOnTimeout = (state: ReplicaState): boolean => state.nextRegency === state.regency && timedOut(state)

export const stopCount = (state: ReplicaState, regency: bigint): number => state.stops.get(regencyKey(regency))?.size ?? 0

/** The highest regency above this replica's own STOP that f + 1 members asked for, if any. */
export const regencyToJoin = (state: ReplicaState): bigint | undefined => {
  let join: bigint | undefined
  for (const [r, senders] of state.stops) {
    const regency = BigInt(r)
    if (regency > state.nextRegency && senders.size >= state.config.weakQuorum && (join === undefined || regency > join))
      join = regency
  }
  return join
}

/** Records a received STOP (bounded: only regencies above the installed one, within a window). */
export const recordStop = (state: ReplicaState, from: ReplicaId, message: Stop): void => {
  if (message.viewId !== state.config.view.id) return
  if (message.regency <= state.regency || message.regency > state.regency + BigInt(coreLimits.regencyWindow)) return
  const key = regencyKey(message.regency)
  const senders = state.stops.get(key) ?? new Set<ReplicaId>()
  senders.add(from)
  state.stops.set(key, senders)
}

export const canJoin = (state: ReplicaState): boolean => regencyToJoin(state) !== undefined

export const stop = (state: ReplicaState, fx: Emitter, regency: bigint, reason: "timeout" | "join"): void => {
  assert(regency > state.nextRegency && state.nextRegency >= state.regency, "STOP asks for a regency above any asked before")
  state.nextRegency = regency
  fx.trace(stopEvent, { regency: Number(regency), from: Number(state.regency), reason, cid: Number(state.instance.cid) })
  fx.broadcast({ _tag: "Stop", viewId: state.config.view.id, regency })
  assert(state.nextRegency > state.regency, "a stopping replica asked for a higher regency")
}

/** Stop for the highest regency that f + 1 members asked for. */
export const join = (state: ReplicaState, fx: Emitter): void => {
  const regency = regencyToJoin(state)
  assert(regency !== undefined, "joining is enabled")
  stop(state, fx, regency, "join")
}

/** Stop for the regency after the installed one, because a request or the SYNC timed out. */
export const stopOnTimeout = (state: ReplicaState, fx: Emitter): void => {
  assert(canStopOnTimeout(state), "a timeout fired while not stopping")
  stop(state, fx, state.regency + 1n, "timeout")
}
