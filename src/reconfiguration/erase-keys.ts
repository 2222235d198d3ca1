/**
 * EraseKeys (spec/Reconfiguration.tla): a member that installed view v + 1 (so the block that
 * installed it is durable) erases the private keys of every older view. From then on no key it
 * holds can sign for a superseded view, so even if it is compromised later, its old keys cannot
 * help build a competing chain. The spec proves NoFork under an adversary that holds every key
 * not yet erased; test/reconfiguration/fork.test.ts shows the fork when erasure is off.
 *
 * The files are erased by src/services/view-keys.ts; this is the decision.
 */
import type { TraceEvent } from "../core/io.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"

export const eraseKeysEvent = "EraseKeys" as const

/** The views whose keys the replica holds although they are older than its installed view. */
export const staleViewKeys = (local: ReplicaReconfigState): ReadonlyArray<bigint> =>
  local.view < 0n ? [] : local.heldViewKeys.filter((v) => v < local.view)

/** Enabled when erasure is on and the replica holds a key of a view older than its installed one. */
export const canEraseKeys = (local: ReplicaReconfigState, erasure: boolean): boolean => erasure && staleViewKeys(local).length > 0

export interface KeysErased {
  readonly local: ReplicaReconfigState
  readonly erase: ReadonlyArray<bigint>
  readonly event: TraceEvent
}

export const eraseKeys = (local: ReplicaReconfigState): KeysErased => {
  const erase = staleViewKeys(local)
  return {
    local: { ...local, heldViewKeys: local.heldViewKeys.filter((v) => v >= local.view) },
    erase,
    event: { action: eraseKeysEvent, replica: local.replica, views: erase.map(Number) }
  }
}
