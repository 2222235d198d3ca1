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

/**
 * The PROPOSE, WRITE, ACCEPT, STOPDATA and SYNC messages the replica still held back for a consensus record
 * that was not synced yet (./pipeline.ts): the crash loses them unsent, and with them the actions
 * whose trace events were emitted when they were decided. One entry per message, as
 * "replica:Action:cid:regency" (Propose, Write, Accept) or "replica:Action:regency" (StopData, Sync).
 */
const lostMessages = (state: ReplicaState): ReadonlyArray<string> => {
  const self = state.config.self
  const lost = new Set<string>()
  for (const { output } of state.persistence?.held ?? []) {
    if (output._tag !== "Send" && output._tag !== "Broadcast") continue
    const m = output.message
    if (m._tag === "Propose" || m._tag === "Write" || m._tag === "Accept") lost.add(`${self}:${m._tag}:${m.cid}:${m.regency}`)
    else if (m._tag === "StopData" || m._tag === "Sync") lost.add(`${self}:${m._tag}:${m.regency}`)
  }
  return [...lost]
}

/** The event of one replica crashing alone. */
export const crashTrace = (state: ReplicaState): TraceEvent => ({
  action: crashEvent,
  replica: state.config.self,
  ...heights(state),
  lost: lostMessages(state)
})

/** The event of every running replica crashing at once; `replica` is the lowest of them. */
export const crashAllTrace = (states: ReadonlyArray<ReplicaState>): TraceEvent => ({
  action: crashAllEvent,
  replica: Math.min(...states.map((s) => s.config.self)),
  replicas: states.map((s) => s.config.self),
  durable: states.map((s) => Number(s.persistence?.dur ?? 0n)),
  lost: states.flatMap(lostMessages)
})
