/**
 * ClientTransport: how a client reaches the members of a view. The client library sends each
 * signed transaction to every member and reads replies from one stream, which carries the replies
 * to every transaction sent through this transport, in arrival order.
 *
 * `from` must be the member that sent the reply: the transport authenticates it (the HTTP
 * transport knows which member's address answered a request; a transport over an open network
 * must authenticate the channel). Matching replies count once per member, so a transport that let
 * one peer speak for several would let it forge a quorum. Certified replies need no such trust:
 * they prove themselves.
 */
import type { Effect, Queue, Stream } from "effect"
import { Schema } from "effect"
import type { ClientReply } from "../chain/reply.ts"
import type { ReplicaId, Transaction, ViewRecord } from "../chain/types.ts"
import type { CertifiedViewChange } from "../reconfiguration/view-tracker.ts"

/** What members answered when asked for the reconfiguration blocks after a view. */
export interface ViewChangesAnswer {
  readonly changes: ReadonlyArray<CertifiedViewChange>
  /** Each answering member (as the transport authenticated it) and the height it vouches for. */
  readonly heads: ReadonlyArray<{ readonly from: ReplicaId; readonly height: bigint }>
}

/** A reply as it arrived, with the member that sent it. */
export interface ReplyFrom {
  readonly from: ReplicaId
  readonly reply: ClientReply
}

/** A transaction could not be handed to a member (connection refused, member unknown, ...). */
export class ClientSendError extends Schema.TaggedError<ClientSendError>()("ClientSendError", {
  to: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot send to replica ${this.to}: ${this.reason}`
  }
}

export interface ClientTransport {
  /** Hands `tx` to member `to`. Success means sent, not delivered: replies come on `replies`. */
  readonly send: (to: ReplicaId, tx: Transaction) => Effect.Effect<void, ClientSendError>
  /**
   * Optional: `send` to each of `to` at once, completing when every send has; the sends that
   * failed. A transport that can hand one transaction to several members together (one request
   * per member for many clients, see src/api/http-batch-transport.ts) spares the client a fiber
   * per member.
   */
  readonly sendAll?: (to: ReadonlyArray<ReplicaId>, tx: Transaction) => Effect.Effect<ReadonlyArray<ClientSendError>>
  /** Every reply to a transaction sent through this transport, as it arrives. */
  readonly replies: Stream.Stream<ReplyFrom>
  /**
   * Optional: the queue `replies` reads, for a consumer that takes replies from it directly (a
   * stream step per reply costs several times a queue take). A consumer uses one or the other.
   */
  readonly replyQueue?: Queue.Dequeue<ReplyFrom>
  /**
   * Optional: the certified reconfiguration blocks after view `afterViewId` that the members
   * reachable now hold (each installs a view and carries the certificate of the view before;
   * src/client/views.ts checks them), in any order, and for each member that answered the height
   * up to which it says it listed every change. Empty when none answered. Without it the client
   * follows no view it was not given.
   */
  readonly viewChanges?: (afterViewId: bigint) => Effect.Effect<ViewChangesAnswer>
  /**
   * Optional: the client learned `view` and sends to its members from now on (a transport that
   * maps replica ids to addresses learns the new members here).
   */
  readonly useView?: (view: ViewRecord) => Effect.Effect<void>
}
