/**
 * The view state: what executing blocks 1..h tells every replica about membership (spec/Base.tla
 * `Genesis`, `Evicted`, `Continuing`, `ViewAfter`). It holds the current view record and the
 * change in progress: the height `ha` where a change was decided, the admitted joins, the leaves,
 * the eviction requests and the rotated view keys. Every replica computes the same view state
 * from the same blocks, so the view of every height is a function of the chain.
 *
 * Values are immutable: each transition returns a new state.
 */
import { toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { Genesis, PublicKey, ViewRecord } from "../chain/types.ts"
import { byzantineQuorum, faultsTolerated, weakQuorum } from "../core/quorum.ts"
import { reasonTable } from "../app/application.ts"

/** A joiner admitted into the change in progress. */
export interface PendingJoin {
  readonly identityKey: PublicKey
  readonly viewKey: PublicKey
  readonly address: string
}

/** A continuing member's fresh key for the next view. */
export interface Rotation {
  readonly replica: number
  readonly viewKey: PublicKey
}

/** One eviction request: member `by` asked to evict member `target`. */
export interface RemoveVote {
  readonly by: number
  readonly target: number
}

export interface ViewState {
  /** The current view: it orders and certifies the next block. */
  readonly view: ViewRecord
  /** Height of the block where the change in progress was decided; 0n when there is none. */
  readonly ha: bigint
  /** Admitted joins, in the order they were executed. */
  readonly joins: ReadonlyArray<PendingJoin>
  /** Members that asked to leave, in request order. */
  readonly leaves: ReadonlyArray<number>
  /** Eviction requests, in request order (at most one per (by, target)). */
  readonly removes: ReadonlyArray<RemoveVote>
  /** ROTATE requests counted for the next view, in request order (at most one per member). */
  readonly rotations: ReadonlyArray<Rotation>
  /** Hex of every view key of every view so far (a new view may use none of them). */
  readonly usedViewKeys: ReadonlySet<string>
  /** The replica id the next admitted joiner gets: ids are never reused. */
  readonly nextReplicaId: number
  /** Height of the block that installed the current view (0n: genesis). */
  readonly lastReconfigHeight: bigint
}

/** What executing requests needs besides the state: every replica passes the same values. */
export interface ReconfigContext {
  readonly crypto: ChainCrypto
  readonly chainId: string
  /** B: blocks after the decision before the next view is installed without the laggards. */
  readonly rotationWindow: bigint
  /** The deterministic admission policy for JOIN (default: `allowListPolicy(genesis)`). */
  readonly admit: (identityKey: PublicKey) => boolean
}

/** The default admission policy: the identity key is on genesis's allow-list. */
export const allowListPolicy =
  (genesis: Pick<Genesis, "admission">) =>
  (identityKey: PublicKey): boolean => {
    const hex = toHex(identityKey)
    return genesis.admission.some((k) => toHex(k) === hex)
  }

/** The context for a chain started by `genesis`, with its allow-list unless `admit` is given. */
export const reconfigContext = (
  crypto: ChainCrypto,
  genesis: Genesis,
  admit: (identityKey: PublicKey) => boolean = allowListPolicy(genesis)
): ReconfigContext => ({ crypto, chainId: genesis.chainId, rotationWindow: BigInt(genesis.limits.rotationWindow), admit })

/** The view state at height 0: genesis's view, no change in progress. */
export const initialViewState = (genesis: Pick<Genesis, "view">): ViewState => ({
  view: genesis.view,
  ha: 0n,
  joins: [],
  leaves: [],
  removes: [],
  rotations: [],
  usedViewKeys: new Set(genesis.view.members.map((m) => toHex(m.viewKey))),
  nextReplicaId: genesis.view.members.reduce((max, m) => Math.max(max, m.replica + 1), 0),
  lastReconfigHeight: 0n
})

/** f of the current view. */
export const faultsOf = (s: ViewState): number => faultsTolerated(s.view.n)
/** q of the current view. */
export const quorumOf = (s: ViewState): number => byzantineQuorum(s.view.n, s.view.f)

/** The member of the current view holding identity key `identityKey`, if any. */
export const memberByIdentity = (s: ViewState, identityKey: Uint8Array) => {
  const hex = toHex(identityKey)
  return s.view.members.find((m) => toHex(m.identityKey) === hex)
}

export const isMember = (s: ViewState, replica: number): boolean => s.view.members.some((m) => m.replica === replica)

/** Members evicted by f + 1 distinct REMOVE requests of members (spec `Evicted`). */
export const evicted = (s: ViewState): ReadonlyArray<number> => {
  const need = weakQuorum(faultsOf(s))
  return s.view.members
    .map((m) => m.replica)
    .filter((t) => new Set(s.removes.filter((r) => r.target === t).map((r) => r.by)).size >= need)
}

/** Members that stay in the next view if they rotate (spec `Continuing`). */
export const continuing = (s: ViewState): ReadonlyArray<number> => {
  const out = new Set([...s.leaves, ...evicted(s)])
  return s.view.members.map((m) => m.replica).filter((r) => !out.has(r))
}

/** True when a membership change is requested: a join, a leave or an eviction (spec `change`). */
export const changeRequested = (s: ViewState): boolean => s.joins.length > 0 || s.leaves.length > 0 || evicted(s).length > 0

/** True when `viewKey` appears in any view so far or in the change in progress. */
export const viewKeyTaken = (s: ViewState, viewKey: Uint8Array): boolean => {
  const hex = toHex(viewKey)
  return s.usedViewKeys.has(hex) || s.joins.some((j) => toHex(j.viewKey) === hex) || s.rotations.some((r) => toHex(r.viewKey) === hex)
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/**
 * Why a reconfiguration request had no effect. Each request still gets a result (it is ordered
 * and stays in its block); conformance/RECONFIG.md lists the codes and the order of the checks.
 */
export const reconfigReasonCodes = {
  Malformed: 1,
  WrongView: 2,
  NotMember: 3,
  AlreadyMember: 4,
  NotAdmitted: 5,
  AlreadyRequested: 6,
  ViewKeyTaken: 7,
  BadViewKeySignature: 8,
  NoChangeDecided: 9,
  TargetNotMember: 10,
  SelfRemoval: 11,
  TooManyMembers: 12
} as const
export type ReconfigReason = keyof typeof reconfigReasonCodes

export const reconfigReasons = reasonTable<ReconfigReason>("reconfig", reconfigReasonCodes)

/** The outcome of executing one request: the next state and the request's result bytes. */
export interface RequestOutcome {
  readonly state: ViewState
  readonly result: Uint8Array
  /** Undefined when the request took effect; otherwise why not. */
  readonly rejected: ReconfigReason | undefined
}

export const rejectWith = (state: ViewState, reason: ReconfigReason, text: string): RequestOutcome => ({
  state,
  result: reconfigReasons.fail(reason, text),
  rejected: reason
})
