/**
 * The durable-commit part of a replica's core state (PROTOCOL.md section 4, spec/Persistence.tla):
 * the chain the replica built from its decisions, how far it is written (`wrote`), synced
 * (`dur`) and certified (`certH`), the COMMITs it collected, the replies it holds back, and what
 * its consensus record (regency and vote) has made durable. Pure data; the actions that change it
 * are the files of this folder, one per spec action.
 */
import type { Block, BlockHeader, Certificate, DecisionProof, Genesis, PersistenceMode, ReplicaId, Transaction, ViewRecord } from "../chain/types.ts"
import type { Output, ReplyOutput } from "../core/io.ts"
import type { Machine } from "./machine.ts"

/** What a replica needs to build and keep blocks: fixed for its lifetime. */
export interface PersistenceConfig {
  readonly mode: PersistenceMode
  readonly genesis: Genesis
  /** The hash of genesis: block 1's prevHash. */
  readonly genesisHash: Uint8Array
  /** The hash of the view record that certifies the blocks (the header's viewHash). */
  readonly viewHash: Uint8Array
  /** The application at genesis. */
  readonly machine: Machine
}

/** A decided instance, executed, whose block is not written yet. */
export interface DecidedBlock {
  readonly height: bigint
  readonly batch: ReadonlyArray<Transaction>
  readonly results: ReadonlyArray<Uint8Array>
  /** Whether it is a checkpoint block, and the state hash its header carries (zero bytes if not). */
  readonly checkpoint: boolean
  readonly stateHash: Uint8Array
  /** The snapshot of the application state after a checkpoint block, staged with the block. */
  readonly snapshot: Uint8Array | undefined
  /** The proof it was decided (or taken) with. */
  readonly proof: DecisionProof
  readonly decidedAtMs: number
  /** ACCEPT signatures held for the decided (regency, batch hash), by member; late ones are added. */
  readonly signatures: Map<ReplicaId, Uint8Array>
  /**
   * With reconfiguration (src/reconfiguration/core-views.ts): the view that decided the block and
   * its hash, the header's lastReconfigHeight, and the view record the block installs, if any.
   * Absent with a fixed membership: the block is in the configuration's view.
   */
  readonly view?: BlockView
}

/** The view fields of one block's header and body. */
export interface BlockView {
  readonly viewId: bigint
  readonly viewHash: Uint8Array
  readonly lastReconfigHeight: bigint
  readonly newView: ViewRecord | undefined
}

/** The last written block of strong mode, until it is certified. */
export interface WrittenHead {
  readonly decided: DecidedBlock
  readonly prevHash: Uint8Array
  /** lastCheckpointHeight of the block before it. */
  readonly lastCheckpointHeight: bigint
  /** The signers of the proof it was written with, e.g. "0,1,2". */
  signers: string
}

/** A block with its header fixed, and its header hash. */
export interface BuiltBlock {
  readonly block: Block
  readonly hash: Uint8Array
  readonly hashHex: string
}

/** A header kept for COMMIT and certificates while its block is not certified. */
export interface KeptHeader {
  readonly header: BlockHeader
  readonly hash: Uint8Array
  readonly hashHex: string
}

/** The sync in flight: what it makes durable when it completes. */
export interface SyncInFlight {
  readonly seq: number
  readonly wrote: bigint
  readonly certWrote: bigint
  readonly recordVersion: number
}

export interface PersistenceState {
  readonly mode: PersistenceMode
  /** The application after the last block executed. */
  machine: Machine
  /** Height of the last block executed (the chain's length, spec: Len(chain)). */
  height: bigint
  /** Header hash of the last block written (genesis's hash before any), and the last checkpoint height there. */
  headHash: Uint8Array
  lastCheckpointHeight: bigint
  /**
   * Executed blocks not yet written, in height order. A block is written once its decision proof
   * is canonical (or a short wait passed) and, in strong mode, once the block before is certified.
   */
  readonly unwritten: Array<DecidedBlock>
  /**
   * Strong mode: the last written block while it is not certified, with what rebuilding it takes:
   * it may be written again with another decision proof (./converge.ts).
   */
  head: WrittenHead | undefined
  /** Highest height written to storage (spec: wrote). */
  wrote: bigint
  /** Highest height synced (spec: dur). */
  dur: bigint
  /**
   * Highest checkpoint height whose Checkpoint event this core emitted since it started (0 after
   * a restart, when every checkpoint at or below the restored `dur` is durable already). With
   * `dur` it gives the spec's ckpt: `durableCheckpoint` in ./sync-blocks.ts.
   */
  ckpt: bigint
  /** Highest height whose certificate is synced (spec: certH). */
  certH: bigint
  /** Highest height whose certificate was written. */
  certWrote: bigint
  /** Certificates known and not yet synced, plus the last synced one (block h + 1 repeats it), by height. */
  readonly certificates: Map<string, Certificate>
  /** Headers of blocks written and not yet certified (and a few below), by height. */
  readonly headers: Map<string, KeptHeader>
  /**
   * COMMITs received for heights not yet certified: height -> header hash (hex) -> sender ->
   * signature. A sender may commit to two headers of one height when its block was rewritten.
   */
  readonly commits: Map<string, Map<string, Map<ReplicaId, Uint8Array>>>
  /** Highest height this replica sent COMMIT for. */
  commitH: bigint
  /**
   * When this replica last answered a peer's COMMIT for a height it had already certified, by
   * "peer:height": two replicas that both certified a height would otherwise answer each other's
   * answers for ever.
   */
  readonly answered: Map<string, number>
  /** Replies of blocks whose mode condition does not hold yet, in height order. */
  readonly replies: Array<{ readonly height: bigint; readonly replies: ReadonlyArray<ReplyOutput> }>
  /** Highest height whose replies were released. */
  releasedH: bigint
  /** The number the next SyncRequest carries. */
  nextSyncSeq: number
  inFlight: SyncInFlight | undefined
  /** Consensus records written so far (the version of the last one), and the highest synced version. */
  recordVersion: number
  recordDurable: number
  /** What the last written record said, to write a new one only when it changes. */
  recordKey: string
  /** Messages that depend on a record not yet durable (ACCEPT, STOPDATA, SYNC), with the version they wait for. */
  readonly held: Array<{ readonly version: number; readonly output: Output }>
}

export const initialPersistence = (config: PersistenceConfig): PersistenceState => ({
  mode: config.mode,
  machine: config.machine,
  height: 0n,
  headHash: config.genesisHash,
  lastCheckpointHeight: 0n,
  unwritten: [],
  head: undefined,
  wrote: 0n,
  dur: 0n,
  ckpt: 0n,
  certH: 0n,
  certWrote: 0n,
  certificates: new Map(),
  headers: new Map(),
  commits: new Map(),
  commitH: 0n,
  answered: new Map(),
  replies: [],
  releasedH: 0n,
  nextSyncSeq: 1,
  inFlight: undefined,
  recordVersion: 0,
  recordDurable: 0,
  recordKey: "",
  held: []
})

export const heightKey = (height: bigint): string => height.toString()

/** Highest height whose replies the mode lets out (spec: Releasable). */
export const releasableHeight = (p: PersistenceState): bigint =>
  p.mode === "memory" ? p.height : p.mode === "weak" ? p.dur : p.certH
