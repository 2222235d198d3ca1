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
import type { ReplicaId, Transaction } from "../chain/types.ts"

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
}
