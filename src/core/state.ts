/**
 * The state of one replica's core.
 *
 * Ownership: `step` consumes the state it is given and returns the next one, which may reuse the
 * same objects (as a Rust `fn step(self) -> Self` would). Callers never touch a state after
 * passing it to `step`; `step` is otherwise a pure function of (state, input): no I/O, no clock,
 * no randomness.
 */
import { toHex } from "../chain/bytes.ts"
import type {
  AcceptedValue,
  ConsensusMessage,
  DecisionProof,
  ReplicaId,
  StopData,
  Sync,
  Transaction,
  WrittenEntry
} from "../chain/types.ts"
import type { PersistenceState } from "../persistence/state.ts"
import { initialPersistence } from "../persistence/state.ts"
import type { CoreViews } from "../reconfiguration/core-views.ts"
import { initialCoreViews } from "../reconfiguration/core-views.ts"
import type { ReplicaConfig } from "./config.ts"

/** A batch as the core holds it: the transactions and their hash (the Merkle root = txRoot). */
export interface HashedBatch {
  readonly batch: ReadonlyArray<Transaction>
  readonly hash: Uint8Array
  readonly hashHex: string
}

/** A signed ACCEPT as received. */
export interface ReceivedAccept {
  readonly hashHex: string
  readonly batchHash: Uint8Array
  readonly signature: Uint8Array
}

/**
 * The open consensus instance (cid = lastDecidedCid + 1). Maps are keyed by regency in decimal.
 * One instance runs at a time: the leader proposes cid + 1 only after cid is decided (no pipelining).
 */
export interface Instance {
  readonly cid: bigint
  /** The value this replica takes as the leader's for each regency: the first PROPOSE, or the SYNC value. */
  readonly proposals: Map<string, HashedBatch>
  /** Regencies in which this replica (as leader) sent PROPOSE. */
  readonly proposedIn: Set<string>
  /** Regencies in which this replica sent WRITE, with the hash it wrote. */
  readonly wroteIn: Map<string, string>
  /** The write set reported in STOPDATA: per value written, the highest regency. */
  writeSet: Array<WrittenEntry>
  /** Regencies in which this replica sent ACCEPT. */
  readonly acceptedIn: Set<string>
  /** The value this replica last accepted, reported in STOPDATA. */
  accepted: AcceptedValue | undefined
  /** WRITEs received: regency -> sender -> batch hash (hex). */
  readonly writes: Map<string, Map<ReplicaId, string>>
  /** ACCEPTs received: regency -> sender -> accept. */
  readonly accepts: Map<string, Map<ReplicaId, ReceivedAccept>>
}

/** A client transaction waiting to be decided. */
export interface PendingTx {
  readonly tx: Transaction
  readonly key: string
  readonly bytes: number
  /** When its request timer started (arrival, or the last regency change). */
  sinceMs: number
  /** Whether the first timeout has passed, on which the transaction went to every member. */
  forwardedToAll: boolean
}

export interface ReplicaState {
  /** Changes only when the replica installs a new view (src/reconfiguration/core-views.ts). */
  config: ReplicaConfig
  /** The latest Tick's time. */
  nowMs: number
  /** The installed regency. */
  regency: bigint
  /** When the installed regency was installed (its SYNC must come within the timeout). */
  regencySinceMs: number
  /** The highest regency this replica sent STOP for; greater than `regency` while it is stopping. */
  nextRegency: bigint
  /** Whether the installed regency's SYNC was processed (regency 0 needs none). */
  synced: boolean
  lastDecidedCid: bigint
  lastDecidedProof: DecisionProof | undefined
  /** The batch the last decided instance decided (reported in STOPDATA with its proof). */
  lastDecidedBatch: ReadonlyArray<Transaction>
  instance: Instance
  /** Pending client transactions by (client, seq) key, in arrival order. */
  readonly pending: Map<string, PendingTx>
  /** Every decided (client, seq) key and the cid that decided it. */
  readonly decidedTx: Map<string, bigint>
  /** STOP senders per regency above the installed one. */
  readonly stops: Map<string, Set<ReplicaId>>
  /** As the leader of the installed regency: the STOPDATA collected, by sender. */
  readonly stopData: Map<ReplicaId, StopData>
  /** The STOPDATA this replica sent in the installed regency (kept for retransmission). */
  stopDataSent: StopData | undefined
  /** The SYNC this replica sent as leader of the installed regency (kept for retransmission). */
  syncSent: Sync | undefined
  /** A SYNC value for a cid this replica has not reached yet (it is catching up). */
  syncedValue: { readonly cid: bigint; readonly regency: bigint; readonly value: HashedBatch } | undefined
  /** Messages for cids just beyond the open instance, replayed when it opens. */
  future: Array<{ readonly from: ReplicaId; readonly message: ConsensusMessage }>
  /** The highest cid each member was seen working on. */
  readonly seenCid: Map<ReplicaId, bigint>
  /** Since when f + 1 members have been seen ahead of the open instance. */
  behindSinceMs: number | undefined
  /** Set when q ACCEPTs decided the open instance but this replica lacks the batch. */
  missingBatch: boolean
  /** When state transfer was last requested. */
  stateRequestedAtMs: number | undefined
  /** Leader changes since the last decision (the request timeout doubles with each). */
  changesWithoutDecision: number
  lastRetransmitMs: number
  /** Blocks and durable commit; undefined when the configuration has no persistence. */
  readonly persistence: PersistenceState | undefined
  /** The views executed blocks installed and this replica's own keys; undefined with a fixed membership. */
  readonly reconfig: CoreViews | undefined
}

export const newInstance = (cid: bigint): Instance => ({
  cid,
  proposals: new Map(),
  proposedIn: new Set(),
  wroteIn: new Map(),
  writeSet: [],
  acceptedIn: new Set(),
  accepted: undefined,
  writes: new Map(),
  accepts: new Map()
})

export const initialState = (config: ReplicaConfig): ReplicaState => ({
  config,
  nowMs: 0,
  regency: 0n,
  regencySinceMs: 0,
  nextRegency: 0n,
  synced: true,
  lastDecidedCid: 0n,
  lastDecidedProof: undefined,
  lastDecidedBatch: [],
  instance: newInstance(1n),
  pending: new Map(),
  decidedTx: new Map(),
  stops: new Map(),
  stopData: new Map(),
  stopDataSent: undefined,
  syncSent: undefined,
  syncedValue: undefined,
  future: [],
  seenCid: new Map(),
  behindSinceMs: undefined,
  missingBatch: false,
  stateRequestedAtMs: undefined,
  changesWithoutDecision: 0,
  lastRetransmitMs: 0,
  persistence: config.persistence === undefined ? undefined : initialPersistence(config.persistence),
  reconfig: initialCoreViews(config)
})

/** The key that makes a transaction unique: (client, seq). */
export const txKey = (tx: { readonly client: Uint8Array; readonly seq: bigint }): string => `${toHex(tx.client)}:${tx.seq}`

export const regencyKey = (regency: bigint): string => regency.toString()

/**
 * Whether this replica takes part in ordering in its installed regency: once that regency is
 * synced (a replica that asked for a higher regency still takes part until it installs it).
 */
export const isActive = (state: ReplicaState): boolean => state.synced
