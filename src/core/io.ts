/**
 * What goes into `step` and what comes out. Inputs are already verified (signatures, proofs,
 * batch hashes) by the Verifier service; outputs are data that the shell interprets in order.
 */
import type { Block, Certificate, ConsensusMessage, DecisionProof, ReplicaId, Transaction, ViewRecord } from "../chain/types.ts"
import type { ActionName } from "./actions.ts"

/** A consensus message from a member of the view, its signatures checked. */
export interface MessageInput {
  readonly _tag: "Message"
  readonly from: ReplicaId
  readonly message: ConsensusMessage
}

/** A client transaction with a valid signature, sent by the client or forwarded by a replica. */
export interface TransactionInput {
  readonly _tag: "Transaction"
  readonly tx: Transaction
}

/** The passage of time: the shell's clock reading, in milliseconds of logical time. */
export interface TickInput {
  readonly _tag: "Tick"
  readonly nowMs: number
}

/**
 * A decided instance fetched from a peer by state transfer; the Verifier checked that the proof
 * holds q valid ACCEPT signatures and that the batch hashes to the proof's batchHash.
 */
export interface DecidedInput {
  readonly _tag: "Decided"
  readonly batch: ReadonlyArray<Transaction>
  readonly proof: DecisionProof
  /**
   * The certificate of the block this instance made (strong mode), when the serving peer had it;
   * the Verifier checked its q COMMIT signatures, the core checks its header hash.
   */
  readonly certificate?: Certificate
}

/**
 * The sync the core asked for with SyncRequest `seq` completed: everything written before that
 * request is durable.
 */
export interface SyncedInput {
  readonly _tag: "Synced"
  readonly seq: number
}

export type Input = MessageInput | TransactionInput | TickInput | DecidedInput | SyncedInput

/** Send one message to one member. */
export interface SendOutput {
  readonly _tag: "Send"
  readonly to: ReplicaId
  readonly message: ConsensusMessage
}

/** Send one message to every other member (the core has already delivered it to itself). */
export interface BroadcastOutput {
  readonly _tag: "Broadcast"
  readonly message: ConsensusMessage
}

/** Pass a client transaction on to another member (the leader, or everyone on a timeout). */
export interface ForwardOutput {
  readonly _tag: "Forward"
  readonly to: ReplicaId
  readonly tx: Transaction
}

/** Instance `cid` decided `batch`; `proof` holds q signed ACCEPTs. For the application and storage. */
export interface DecideOutput {
  readonly _tag: "Decide"
  readonly cid: bigint
  readonly batch: ReadonlyArray<Transaction>
  readonly proof: DecisionProof
}

/** A transaction arrived again after it was decided in `cid`: answer with the stored result. */
export interface ReplyAgainOutput {
  readonly _tag: "ReplyAgain"
  readonly client: Uint8Array
  readonly seq: bigint
  readonly cid: bigint
}

/** The replica is behind: fetch decided instances from `fromCid` on, with their proofs, from peers. */
export interface RequestStateOutput {
  readonly _tag: "RequestState"
  readonly fromCid: bigint
}

/** The application state after a checkpoint block: its hash (the header's stateHash) and snapshot. */
export interface CheckpointSnapshot {
  readonly stateHash: Uint8Array
  readonly bytes: Uint8Array
}

/**
 * Write a block to storage (not yet durable): PersistBlock. A checkpoint block comes with the
 * snapshot of the state after it, staged together with the block (one sync makes both durable).
 */
export interface WriteBlockOutput {
  readonly _tag: "WriteBlock"
  readonly block: Block
  readonly snapshot?: CheckpointSnapshot
}

/** Write a block's certificate to storage (not yet durable). */
export interface WriteCertificateOutput {
  readonly _tag: "WriteCertificate"
  readonly certificate: Certificate
}

/**
 * Write the consensus record (src/persistence/consensus-record.ts) into storage slot `slot`:
 * the regency, the vote of the open instance and decided instances whose blocks are not yet
 * written. Two slots alternate, so a write torn by a crash never destroys the last durable record.
 */
export interface WriteRecordOutput {
  readonly _tag: "WriteRecord"
  readonly slot: 0 | 1
  readonly bytes: Uint8Array
}

/**
 * Make every write requested so far durable (one fsync for all of them: group commit), then
 * answer with a Synced input carrying `seq`. A failed sync is retried by the shell; the core
 * waits.
 */
export interface SyncRequestOutput {
  readonly _tag: "SyncRequest"
  readonly seq: number
}

/**
 * Send every other member this decided instance with every ACCEPT signature this replica holds
 * for it (and its block's certificate, when known), as a state-transfer answer: peers choose the
 * same canonical decision proof for the block from the union (src/persistence/block.ts).
 */
export interface ShareDecidedOutput {
  readonly _tag: "ShareDecided"
  readonly batch: ReadonlyArray<Transaction>
  readonly proof: DecisionProof
  readonly certificate?: Certificate
}

/**
 * Replace the last written block (not yet certified) by `block`, the same block with another
 * decision proof: cut storage from its height (durably) and write it again.
 */
export interface RewriteBlockOutput {
  readonly _tag: "RewriteBlock"
  readonly block: Block
  /** The checkpoint snapshot, when the block is a checkpoint block (cutting storage removed it). */
  readonly snapshot?: CheckpointSnapshot
}

/** The result of a client's transaction, released by the persistence mode's rule (ReleaseReply). */
export interface ReplyOutput {
  readonly _tag: "Reply"
  readonly viewId: bigint
  readonly client: Uint8Array
  readonly seq: bigint
  readonly height: bigint
  /** Position of the transaction in its block. */
  readonly index: number
  readonly result: Uint8Array
}

/**
 * Reconfiguration (src/reconfiguration/core-views.ts): a membership change is decided and this
 * replica continues into view `nextViewId`. The shell makes a fresh view key for that view,
 * stores it in its own file, and submits ROTATE signed by the identity key and the current view
 * key (src/reconfiguration/rotate.ts), which also gives the Rotate trace event.
 */
export interface RotateKeyOutput {
  readonly _tag: "RotateKey"
  readonly nextViewId: bigint
}

/**
 * EraseKeys: erase the private view keys of these views (overwrite, sync, unlink:
 * src/services/view-keys.ts). Keys already gone are no error: a restart may ask again.
 */
export interface EraseViewKeysOutput {
  readonly _tag: "EraseViewKeys"
  readonly views: ReadonlyArray<bigint>
}

/**
 * InstallView performed: the replica now runs in `view` as member `self` (its peers, its
 * Verifier's keys and quorum change with it), or, when `left`, it has left and stops.
 */
export interface ViewInstalledOutput {
  readonly _tag: "ViewInstalled"
  readonly view: ViewRecord
  readonly self: ReplicaId
  readonly left: boolean
}

/** One spec action performed: the trace event (see conformance/TRACE.md). */
export interface TraceOutput {
  readonly _tag: "Trace"
  readonly event: TraceEvent
}

export type Output =
  | SendOutput
  | BroadcastOutput
  | ForwardOutput
  | DecideOutput
  | ReplyAgainOutput
  | RequestStateOutput
  | TraceOutput
  | WriteBlockOutput
  | WriteCertificateOutput
  | WriteRecordOutput
  | SyncRequestOutput
  | ReplyOutput
  | ShareDecidedOutput
  | RewriteBlockOutput
  | RotateKeyOutput
  | EraseViewKeysOutput
  | ViewInstalledOutput

/**
 * A trace event: the spec action's name and the values the spec needs to check it. Integers are
 * JSON numbers (cids and regencies stay far below 2^53 in any run), hashes and keys lowercase hex.
 */
export interface TraceEvent {
  readonly action: ActionName
  readonly replica: ReplicaId
  readonly [field: string]: string | number | boolean | ReadonlyArray<number> | ReadonlyArray<string>
}
