/**
 * The simulated Transport layer: an in-process network of Effect queues, one inbox per replica,
 * with an optional drop predicate (to cut links in tests). Client transactions enter through
 * `submit`. The deterministic simulator (test/sim) has its own event-driven network; this layer
 * runs real shells as concurrent fibers.
 */
import { Chunk, Effect, Layer, Queue } from "effect"
import type { ReplicaId, Transaction } from "../chain/types.ts"
import type { Envelope, Payload } from "./transport.ts"
import { Transport } from "./transport.ts"

export interface SimNetwork {
  readonly inboxes: ReadonlyMap<ReplicaId, Queue.Queue<Envelope>>
  /** Whether a message from `from` to `to` is dropped (a cut link). */
  drop: (from: ReplicaId, to: ReplicaId, payload: Payload) => boolean
}

/** Bound of each inbox; a full inbox drops new messages, as a congested link would. */
const inboxCapacity = 1 << 16

export const makeSimNetwork = (replicas: ReadonlyArray<ReplicaId>): Effect.Effect<SimNetwork> =>
  Effect.gen(function* () {
    const inboxes = new Map<ReplicaId, Queue.Queue<Envelope>>()
    for (const r of replicas) inboxes.set(r, yield* Queue.dropping<Envelope>(inboxCapacity))
    return { inboxes, drop: () => false }
  })

export const simTransport = (network: SimNetwork, self: ReplicaId): Layer.Layer<Transport> =>
  Layer.succeed(Transport, {
    self,
    send: (to, payload) => {
      const inbox = network.inboxes.get(to)
      if (inbox === undefined || network.drop(self, to, payload)) return Effect.void
      return Effect.asVoid(Queue.offer(inbox, { from: self, payload }))
    },
    receive: (max) =>
      Effect.gen(function* () {
        const inbox = network.inboxes.get(self)
        if (inbox === undefined) return yield* Effect.never
        return Chunk.toReadonlyArray(yield* Queue.takeBetween(inbox, 1, max))
      })
  })

/** A client sends `tx` to `to` (the envelope's sender is the receiving replica's own id, unused for requests). */
export const submitTo = (network: SimNetwork, to: ReplicaId, tx: Transaction): Effect.Effect<void> => {
  const inbox = network.inboxes.get(to)
  return inbox === undefined ? Effect.void : Effect.asVoid(Queue.offer(inbox, { from: to, payload: { _tag: "Request", tx } }))
}
