/**
 * Transport: how replicas exchange consensus messages, forwarded client transactions and state
 * transfer. Senders are authenticated by the transport (the TCP layer authenticates channels with
 * identity keys; the simulated layer knows who sent what), so `from` is trustworthy; the contents
 * are not, and go through the Verifier.
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { Certificate, ConsensusMessage, DecisionProof, ReplicaId, Transaction } from "../chain/types.ts"
import type { StateTransferMessage } from "../persistence/state-transfer.ts"

/** One decided instance as served by state transfer. */
export interface DecidedInstance {
  readonly batch: ReadonlyArray<Transaction>
  readonly proof: DecisionProof
  /** The certificate of the block it made (strong mode), when the server has it. */
  readonly certificate?: Certificate
}

export type Payload =
  | { readonly _tag: "Consensus"; readonly message: ConsensusMessage }
  /** A client transaction, from a client or forwarded by a replica. */
  | { readonly _tag: "Request"; readonly tx: Transaction }
  /** Asks for decided instances from `fromCid` on. */
  | { readonly _tag: "StateRequest"; readonly fromCid: bigint }
  | { readonly _tag: "StateReply"; readonly decided: ReadonlyArray<DecidedInstance> }
  /** Snapshot-based state transfer (src/persistence/state-transfer.ts): a request or an answer. */
  | { readonly _tag: "Transfer"; readonly message: StateTransferMessage }

export interface Envelope {
  readonly from: ReplicaId
  readonly payload: Payload
}

export interface TransportImpl {
  readonly self: ReplicaId
  /** Sends to one member; delivery is not guaranteed (a lost message is retransmitted by the protocol). */
  readonly send: (to: ReplicaId, payload: Payload) => Effect.Effect<void>
  /**
   * `send` performed at once, for transports whose sending is synchronous (the TCP one queues
   * frames for the next socket write): the replica loop sends without building an effect.
   */
  readonly sendNow?: (to: ReplicaId, payload: Payload) => void
  /** Waits for at least one inbound envelope and takes every one available, up to `max`. */
  readonly receive: (max: number) => Effect.Effect<ReadonlyArray<Envelope>>
}

export class Transport extends Context.Tag("smartchain/Transport")<Transport, TransportImpl>() {}
