/**
 * What goes into `step` and what comes out. Inputs are already verified (signatures, proofs,
 * batch hashes) by the Verifier service; outputs are data that the shell interprets in order.
 */
import type { ConsensusMessage, DecisionProof, ReplicaId, Transaction } from "../chain/types.ts"
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
}

export type Input = MessageInput | TransactionInput | TickInput | DecidedInput

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

/**
 * A trace event: the spec action's name and the values the spec needs to check it. Integers are
 * JSON numbers (cids and regencies stay far below 2^53 in any run), hashes and keys lowercase hex.
 */
export interface TraceEvent {
  readonly action: ActionName
  readonly replica: ReplicaId
  readonly [field: string]: string | number | boolean | ReadonlyArray<number> | ReadonlyArray<string>
}
