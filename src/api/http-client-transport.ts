/**
 * The client library's transport over the replicas' HTTP APIs (src/client/transport.ts).
 *
 * `send(to, tx)` posts the transaction to member `to` (POST /tx), then long-polls that member
 * for its result (GET /tx/:client/:seq?waitMs=...) in a fiber of the transport's scope; when the
 * member answers, its reply { viewId, client, seq, height, result } goes on the reply stream,
 * marked as from `to`. The member is the one whose configured URL answered, which is what the
 * acceptance rule counts on (one reply per member). A long poll that ends without the result is
 * dropped: the client library resends after its timeout, which starts a new one.
 */
import { Effect, Either, Queue, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { toHex } from "../chain/bytes.ts"
import { U64FromDecimal } from "../chain/genesis-json.ts"
import type { ReplicaId, Transaction } from "../chain/types.ts"
import type { ClientTransport, ReplyFrom } from "../client/transport.ts"
import { ClientSendError } from "../client/transport.ts"
import { transactionJson } from "./json.ts"

/** Default wait of one long poll, in milliseconds. */
export const longPollMsDefault = 10_000

export interface HttpClientTransportOptions {
  /** The API base URL of each member, e.g. http://127.0.0.1:7104. */
  readonly urls: ReadonlyMap<ReplicaId, string>
  readonly viewId: bigint
  readonly longPollMs?: number
}

const Hex = Schema.String.pipe(Schema.pattern(/^(?:[0-9a-f]{2})*$/))
const TxAnswer = Schema.Struct({ height: U64FromDecimal, result: Hex })

/** Counters of the HTTP transport. */
export interface HttpClientTransportMetrics {
  posts: number
  postFailures: number
  polls: number
  replies: number
}

export const makeHttpClientTransport = (
  options: HttpClientTransportOptions
): Effect.Effect<ClientTransport & { readonly metrics: HttpClientTransportMetrics }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<ReplyFrom>(), Queue.shutdown)
    const scope = yield* Effect.scope
    const waitMs = options.longPollMs ?? longPollMsDefault
    const metrics: HttpClientTransportMetrics = { posts: 0, postFailures: 0, polls: 0, replies: 0 }
    const decodeAnswer = Schema.decodeUnknownEither(TxAnswer)

    const poll = (to: ReplicaId, base: string, tx: Transaction) =>
      Effect.tryPromise({
        try: async (signal) => {
          metrics.polls++
          const r = await fetch(`${base}/tx/${toHex(tx.client)}/${tx.seq}?waitMs=${waitMs}`, { signal })
          return r.status === 200 ? ((await r.json()) as unknown) : undefined
        },
        catch: () => undefined
      }).pipe(
        Effect.flatMap((json) => {
          const answer = json === undefined ? undefined : decodeAnswer(json)
          if (answer === undefined || Either.isLeft(answer)) return Effect.void
          metrics.replies++
          const result = Buffer.from(answer.right.result, "hex")
          return Queue.offer(queue, {
            from: to,
            reply: { _tag: "Reply", viewId: options.viewId, client: tx.client, seq: tx.seq, height: answer.right.height, result: new Uint8Array(result) }
          })
        }),
        Effect.ignore
      )

    const send = (to: ReplicaId, tx: Transaction): Effect.Effect<void, ClientSendError> => {
      const base = options.urls.get(to)
      if (base === undefined) return Effect.fail(new ClientSendError({ to, reason: "no API URL for this member" }))
      return Effect.tryPromise({
        try: async (signal) => {
          metrics.posts++
          const r = await fetch(`${base}/tx`, { method: "POST", body: JSON.stringify(transactionJson(tx)), signal })
          const text = await r.text()
          if (r.status !== 200 && r.status !== 202) throw new Error(`HTTP ${r.status}: ${text}`)
        },
        catch: (e) => {
          metrics.postFailures++
          return new ClientSendError({ to, reason: e instanceof Error ? e.message : String(e) })
        }
      }).pipe(Effect.zipRight(Effect.asVoid(Effect.forkIn(poll(to, base, tx), scope))))
    }

    return { send, replies: Stream.fromQueue(queue), metrics }
  })
