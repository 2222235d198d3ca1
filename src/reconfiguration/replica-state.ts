/**
 * One replica's own reconfiguration state (spec/Base.tla variables `view`, `keys`, `left`, and
 * the part of `submitted` it sent): the view it has installed, the views whose private view key
 * it still holds, whether it has left, and which requests it has already submitted (each at most
 * once, as in the spec's enabling conditions).
 *
 * The private keys themselves live in files (src/services/view-keys.ts); this state says which
 * of them should exist, so the shell can erase exactly the ones the actions drop.
 */
import type { PublicKey } from "../chain/types.ts"

export interface ReplicaReconfigState {
  /**
   * The replica's id in trace events: its member id, or for a joiner the id its operator gave it
   * (events also carry its identity key, which is what the chain knows it by until it is admitted).
   */
  readonly replica: number
  readonly identityKey: PublicKey
  /** The installed view's id; -1n while a joiner is not yet a member. */
  readonly view: bigint
  /** True once the replica installed a view without itself: it has left. */
  readonly left: boolean
  /** Ids of the views whose private view key the replica holds, ascending. */
  readonly heldViewKeys: ReadonlyArray<bigint>
  /** Keys of the requests already submitted (see `requestKey`). */
  readonly submitted: ReadonlySet<string>
}

/** A member of view `view` at start (e.g. of genesis's view 0), holding that view's key. */
export const memberState = (replica: number, identityKey: PublicKey, view: bigint): ReplicaReconfigState => ({
  replica,
  identityKey,
  view,
  left: false,
  heldViewKeys: [view],
  submitted: new Set()
})

/** A replica that intends to join: not a member of any view yet, holding no view key. */
export const joinerState = (replica: number, identityKey: PublicKey): ReplicaReconfigState => ({
  replica,
  identityKey,
  view: -1n,
  left: false,
  heldViewKeys: [],
  submitted: new Set()
})

/** The identity of a request for the at-most-once rule. */
export const requestKey = {
  join: (viewId: bigint) => `join/${viewId}`,
  leave: (viewId: bigint) => `leave/${viewId}`,
  remove: (viewId: bigint, target: number) => `remove/${viewId}/${target}`,
  rotate: (nextViewId: bigint) => `rotate/${nextViewId}`
} as const

export const withSubmitted = (s: ReplicaReconfigState, key: string): ReplicaReconfigState => ({
  ...s,
  submitted: new Set([...s.submitted, key])
})

export const withHeldKey = (s: ReplicaReconfigState, viewId: bigint): ReplicaReconfigState =>
  s.heldViewKeys.includes(viewId) ? s : { ...s, heldViewKeys: [...s.heldViewKeys, viewId].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) }
