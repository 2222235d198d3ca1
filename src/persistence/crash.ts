/**
 * Crash and CrashAll (spec/Persistence.tla). A crash is not something a replica does: the host
 * (the simulator, or a test driving a shell) stops it, and storage loses every write that was not
 * synced. These build the trace events the host emits for them, from the replica's state at the
 * moment of the crash: how far its chain was built, written and synced. What survives is only the
 * synced storage; `restart` (./restart.ts) rebuilds the replica from it.
 */
import type { TraceEvent } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"

export const crashEvent = "Crash" as const
export const crashAllEvent = "CrashAll" as const

const heights = (state: ReplicaState) => {
  const p = state.persistence
  return {
    height: Number(p?.height ?? state.lastDecidedCid),
    wrote: Number(p?.wrote ?? 0n),
    dur: Number(p?.dur ?? 0n),
    certH: Number(p?.certH ?? 0n)
  }
}

/** The event of one replica crashing alone. */
export const crashTrace = (state: ReplicaState): TraceEvent => ({ action: crashEvent, replica: state.config.self, ...heights(state) })

/** The event of every running replica crashing at once; `replica` is the lowest of them. */
export const crashAllTrace = (states: ReadonlyArray<ReplicaState>): TraceEvent => ({
  action: crashAllEvent,
  replica: Math.min(...states.map((s) => s.config.self)),
  replicas: states.map((s) => s.config.self),
  durable: states.map((s) => Number(s.persistence?.dur ?? 0n))
})
