/**
 * An in-memory ClientTransport: each member is a function from a received transaction to the
 * replies it sends back. Tests and the simulator give it honest, slow, lossy or Byzantine
 * members; `inject` delivers any reply as if a given member had sent it. `viewChanges`, when
 * given, stands for what the members answer when asked for the reconfiguration blocks after a
 * view; the members map may gain the members of views the client learns.
 */
import { Effect, Queue, Stream } from "effect"
import type { ClientReply } from "../chain/reply.ts"
import type { ReplicaId, Transaction } from "../chain/types.ts"
import { ClientSendError } from "./transport.ts"
import type { ClientTransport, ReplyFrom, ViewChangesAnswer } from "./transport.ts"

/** A member as the client sees it: the replies it sends for one received transaction. */
export type MemoryMember = (tx: Transaction) => ReadonlyArray<ClientReply>

export interface MemoryClientTransport extends ClientTransport {
  /** Every transaction sent, in order, with its destination. */
  readonly sent: ReadonlyArray<{ readonly to: ReplicaId; readonly tx: Transaction }>
  /** Delivers `reply` as if member `from` had sent it. */
  readonly inject: (from: ReplicaId, reply: ClientReply) => Effect.Effect<void>
}

export interface MemoryTransportOptions {
  /** What the members answer when asked for the reconfiguration blocks after view `afterViewId`. */
  readonly viewChanges?: (afterViewId: bigint) => ViewChangesAnswer
}

export const makeMemoryClientTransport = (
  members: ReadonlyMap<ReplicaId, MemoryMember>,
  options: MemoryTransportOptions = {}
): Effect.Effect<MemoryClientTransport> =>
  Effect.map(Queue.unbounded<ReplyFrom>(), (queue) => {
    const sent: Array<{ readonly to: ReplicaId; readonly tx: Transaction }> = []
    const changes = options.viewChanges
    return {
      sent,
      ...(changes === undefined ? {} : { viewChanges: (after: bigint) => Effect.sync(() => changes(after)) }),
      replies: Stream.fromQueue(queue),
      inject: (from, reply) => Queue.offer(queue, { from, reply }),
      send: (to, tx) => {
        const member = members.get(to)
        if (member === undefined) return Effect.fail(new ClientSendError({ to, reason: "no such member" }))
        sent.push({ to, tx })
        return Queue.offerAll(
          queue,
          member(tx).map((reply) => ({ from: to, reply }))
        )
      }
    }
  })
