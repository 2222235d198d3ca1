/**
 * The client library's transport over the replicas' HTTP APIs (src/client/transport.ts).
 *
 * `send(to, tx)` posts the transaction to member `to` (POST /tx), then long-polls that member
 * for its result (GET /tx/:client/:seq?waitMs=...) in a fiber of the transport's scope. A member
 * answers once it released the reply by its persistence mode's rule; its reply goes on the reply
 * stream, marked as from `to`:
 *
 *  - a plain reply { viewId, client, seq, height, result }: the member is the one whose
 *    configured URL answered, which is what the acceptance rule counts on (one reply per member);
 *  - in strong mode, when the answer carries the block's certificate, the certified reply built
 *    from it (header, certificate, Merkle paths of the transaction and its result): it proves
 *    itself to the client library, which checks it against the view it trusts.
 *
 * A long poll that ends without the result is dropped: the client library resends after its
 * timeout, which starts a new one.
 *
 * Views: `viewChanges(after)` asks every member it knows for GET /views?after=<id> (./views.ts)
 * and hands the client library every certified change received (it checks them); `useView` adds
 * the members of a view the client learned, with their API URLs from `urlOf`. A plain reply names
 * the view of its block's header.
 */
import { Effect, Either, Queue, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { toHex } from "../chain/bytes.ts"
import { U64FromDecimal } from "../chain/genesis-json.ts"
import type { ClientReply } from "../chain/reply.ts"
import type { Member, ReplicaId, Transaction, ViewRecord } from "../chain/types.ts"
import type { ClientTransport, ReplyFrom, ViewChangesAnswer } from "../client/transport.ts"
import { ClientSendError } from "../client/transport.ts"
import { CertificateJson, HeaderJson, MerklePathJson, transactionJson } from "./json.ts"
import { decodeViewChanges } from "./views.ts"

/** Default wait of one long poll, in milliseconds. */
export const longPollMsDefault = 10_000

export interface HttpClientTransportOptions {
  /** The API base URL of each member, e.g. http://127.0.0.1:7104. */
  readonly urls: ReadonlyMap<ReplicaId, string>
  readonly viewId: bigint
  readonly longPollMs?: number
  /** The API URL of a member of a view learned later (one not in `urls`), if it can be known. */
  readonly urlOf?: (member: Member) => string | undefined
}

const Hex = Schema.String.pipe(Schema.pattern(/^(?:[0-9a-f]{2})*$/))
const TxAnswer = Schema.Struct({ height: U64FromDecimal, result: Hex })
const AnswerView = Schema.Struct({ header: Schema.Struct({ viewId: U64FromDecimal }) })
const U32 = Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffff_ffff))
const CertifiedAnswer = Schema.Struct({
  index: U32,
  leafCount: U32,
  resultLeafCount: U32,
  header: HeaderJson,
  certificate: CertificateJson,
  txPath: MerklePathJson,
  resultPath: MerklePathJson
})

/** Counters of the HTTP transport. */
export interface HttpClientTransportMetrics {
  posts: number
  postFailures: number
  polls: number
  replies: number
  /** Replies that carried a certificate and went out as certified replies. */
  certified: number
}

export const makeHttpClientTransport = (
  options: HttpClientTransportOptions
): Effect.Effect<ClientTransport & { readonly metrics: HttpClientTransportMetrics }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<ReplyFrom>(), Queue.shutdown)
    const scope = yield* Effect.scope
    const waitMs = options.longPollMs ?? longPollMsDefault
    const metrics: HttpClientTransportMetrics = { posts: 0, postFailures: 0, polls: 0, replies: 0, certified: 0 }
    const decodeAnswer = Schema.decodeUnknownEither(TxAnswer)
    const decodeCertified = Schema.decodeUnknownEither(CertifiedAnswer)
    const decodeAnswerView = Schema.decodeUnknownEither(AnswerView)
    const urls = new Map(options.urls)

    /** The reply an answer stands for: certified when it carries a well-formed certificate. */
    const replyOf = (tx: Transaction, json: unknown, height: bigint, result: Uint8Array): ClientReply => {
      const certified = decodeCertified(json)
      if (Either.isRight(certified)) {
        const c = certified.right
        metrics.certified++
        return {
          _tag: "CertifiedReply",
          header: c.header,
          certificate: c.certificate,
          transaction: tx,
          index: c.index,
          txCount: c.leafCount,
          resultLeafCount: c.resultLeafCount,
          result,
          txPath: c.txPath,
          resultPath: c.resultPath
        }
      }
      const named = decodeAnswerView(json)
      const viewId = Either.isRight(named) ? named.right.header.viewId : options.viewId
      return { _tag: "Reply", viewId, client: tx.client, seq: tx.seq, height, result }
    }

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
          const result = new Uint8Array(Buffer.from(answer.right.result, "hex"))
          return Queue.offer(queue, { from: to, reply: replyOf(tx, json, answer.right.height, result) })
        }),
        Effect.ignore
      )

    const send = (to: ReplicaId, tx: Transaction): Effect.Effect<void, ClientSendError> => {
      const base = urls.get(to)
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

    const viewChangesFrom = (base: string, after: bigint) =>
      Effect.tryPromise({
        try: async (signal) => {
          const r = await fetch(`${base}/views?after=${after}`, { signal })
          return r.status === 200 ? ((await r.json()) as unknown) : undefined
        },
        catch: () => undefined
      }).pipe(
        Effect.map((json) => {
          if (json === undefined) return undefined
          const decoded = decodeViewChanges(json)
          return Either.isRight(decoded) ? decoded.right : undefined
        }),
        Effect.timeout("5 seconds"),
        Effect.orElseSucceed(() => undefined)
      )

    const viewChanges = (after: bigint): Effect.Effect<ViewChangesAnswer> =>
      Effect.map(
        Effect.forEach([...urls], ([from, base]) => Effect.map(viewChangesFrom(base, after), (a) => (a === undefined ? [] : [{ from, ...a }])), {
          concurrency: "unbounded"
        }),
        (all) => ({ changes: all.flat().flatMap((a) => a.changes), heads: all.flat().map((a) => ({ from: a.from, height: a.height })) })
      )

    const useView = (view: ViewRecord): Effect.Effect<void> =>
      Effect.sync(() => {
        for (const m of view.members) {
          if (urls.has(m.replica)) continue
          const url = options.urlOf?.(m)
          if (url !== undefined) urls.set(m.replica, url)
        }
      })

    return { send, replies: Stream.fromQueue(queue), metrics, viewChanges, useView }
  })
