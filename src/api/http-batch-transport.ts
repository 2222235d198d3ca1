/**
 * The client library's transport over the replicas' batch endpoint (POST /txs, ./batch.ts), for a
 * process that runs many clients at once. A hub collects what every client of the process sends
 * to each member during one turn of the event loop and posts it as one request; the member's
 * streamed answer tells which transactions it refused (the send of each fails with the reason)
 * and then carries the replies as they are released, which go to the client that sent each
 * transaction, marked as from that member.
 *
 * A request whose transactions were all sent to every member the hub knows (the client library's
 * `sendAll`) is marked all=1, so the members do not pass them on to their leader, which has its
 * own copies.
 *
 * `hub.transport` gives each client its own ClientTransport (its own reply stream), as the
 * client library expects (src/client/client.ts reads one stream per client). Replies are plain
 * { viewId, client, seq, height, result }, counted by the acceptance rule once per member (the
 * member is the one whose configured URL answered); with `proofs`, a reply whose block has its
 * certificate comes as a certified reply (header, certificate, Merkle paths) that the client
 * checks against the view it trusts.
 *
 * A request that fails (connection refused, an HTTP error, a malformed line) fails the sends of
 * its transactions that had no answer yet; a transaction whose reply did not come within the
 * wait is resent by the client library after its timeout, in a later request.
 */
import { Effect, Either, Queue, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { fromHex } from "../chain/bytes.ts"
import { encodeWith } from "../chain/codec.ts"
import { transactionEncodedSize } from "../chain/encoding.ts"
import type { ClientReply } from "../chain/reply.ts"
import type { ReplicaId, Transaction } from "../chain/types.ts"
import type { ClientTransport, ReplyFrom } from "../client/transport.ts"
import { ClientSendError } from "../client/transport.ts"
import { batchBodyCodec, batchTxsMax } from "./batch.ts"
import { CertificateJson, HeaderJson } from "./json.ts"

/** Default wait of one request for its replies, in milliseconds. */
export const batchWaitMsDefault = 10_000

export interface HttpBatchOptions {
  /** The API base URL of each member, e.g. http://127.0.0.1:7104. */
  readonly urls: ReadonlyMap<ReplicaId, string>
  readonly viewId: bigint
  /** How long a request waits for its replies (the endpoint's waitMs). */
  readonly waitMs?: number
  /** Ask for certified replies (strong mode): header, certificate and Merkle paths with each. */
  readonly proofs?: boolean
  /** Most transactions in one request (at most the endpoint's limit). */
  readonly batchMax?: number
}

/** Counters of a hub. */
export interface HttpBatchMetrics {
  requests: number
  /** Requests that failed before their end line (their unanswered sends failed). */
  requestFailures: number
  transactions: number
  refused: number
  replies: number
  certified: number
}

export interface HttpBatchHub {
  /** A transport for one client: its sends join the hub's requests, its stream has its replies. */
  readonly transport: Effect.Effect<ClientTransport, never, Scope.Scope>
  readonly metrics: HttpBatchMetrics
}

interface Entry {
  readonly tx: Transaction
  /** Sent to every member the hub knows (a request of such transactions only is marked all=1). */
  readonly toAll: boolean
  readonly replies: Queue.Queue<ReplyFrom>
  /** Completes the send: undefined when the member took the transaction. */
  readonly settle: (error: ClientSendError | undefined) => void
}

/** A malformed answer line. */
class BadLine extends Error {}

const decodeHeader = Schema.decodeUnknownEither(HeaderJson)
const decodeCertificate = Schema.decodeUnknownEither(CertificateJson)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const decimal = (v: unknown, what: string): bigint => {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]{0,19})$/.test(v)) throw new BadLine(`${what} is not a decimal string`)
  return BigInt(v)
}

const hexBytes = (v: unknown, what: string): Uint8Array => {
  const b = typeof v === "string" ? fromHex(v) : undefined
  if (b === undefined) throw new BadLine(`${what} is not hexadecimal`)
  return b
}

const hashPath = (v: unknown, what: string): Array<Uint8Array> => {
  if (!Array.isArray(v) || v.length > 32) throw new BadLine(`${what} is not a Merkle path`)
  return v.map((h) => {
    const b = hexBytes(h, what)
    if (b.length !== 32) throw new BadLine(`${what} holds a hash that is not 32 bytes`)
    return b
  })
}

const index = (v: unknown, count: number): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= count) throw new BadLine(`index ${String(v)} is not a position of the request`)
  return v
}

export const makeHttpBatchHub = (options: HttpBatchOptions): Effect.Effect<HttpBatchHub, never, Scope.Scope> =>
  Effect.gen(function* () {
    const waitMs = options.waitMs ?? batchWaitMsDefault
    const batchMax = Math.max(1, Math.min(options.batchMax ?? 1024, batchTxsMax))
    const proofs = options.proofs === true
    const metrics: HttpBatchMetrics = { requests: 0, requestFailures: 0, transactions: 0, refused: 0, replies: 0, certified: 0 }
    const pending = new Map<ReplicaId, Array<Entry>>()
    const memberIds = [...options.urls.keys()]
    const inFlight = new Set<AbortController>()
    let scheduled = false
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const c of inFlight) c.abort()
      })
    )

    /** Handles one answer line; true at the end line. */
    const onLine = (to: ReplicaId, entries: ReadonlyArray<Entry>, settled: Array<boolean>, first: boolean, text: string): boolean => {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        throw new BadLine("a line is not JSON")
      }
      if (!isRecord(json)) throw new BadLine("a line is not an object")
      if (first) {
        if (!Array.isArray(json["refused"])) throw new BadLine("the first line does not list the refused transactions")
        for (const r of json["refused"]) {
          if (!isRecord(r)) throw new BadLine("a refusal is not an object")
          const i = index(r["index"], entries.length)
          if (settled[i] === true) continue
          settled[i] = true
          metrics.refused++
          entries[i]!.settle(new ClientSendError({ to, reason: `${String(r["error"])}: ${String(r["message"])}` }))
        }
        entries.forEach((e, i) => {
          if (settled[i] !== true) {
            settled[i] = true
            e.settle(undefined)
          }
        })
        return false
      }
      if (json["end"] === true) return true
      const height = decimal(json["height"], "height")
      const viewId = decimal(json["viewId"], "viewId")
      if (!Array.isArray(json["replies"])) throw new BadLine("a block line has no replies")
      let certified: { header: typeof HeaderJson.Type; certificate: typeof CertificateJson.Type; txCount: number; resultLeafCount: number } | undefined
      if (proofs && json["certificate"] !== null && json["certificate"] !== undefined) {
        const header = decodeHeader(json["header"])
        const certificate = decodeCertificate(json["certificate"])
        const txCount = json["leafCount"]
        const resultLeafCount = json["resultLeafCount"]
        if (Either.isLeft(header) || Either.isLeft(certificate) || typeof txCount !== "number" || typeof resultLeafCount !== "number")
          throw new BadLine("a block line's header, certificate or leaf counts are malformed")
        certified = { header: header.right, certificate: certificate.right, txCount, resultLeafCount }
      }
      for (const r of json["replies"]) {
        if (!isRecord(r)) throw new BadLine("a reply is not an object")
        const entry = entries[index(r["index"], entries.length)]!
        const result = hexBytes(r["result"], "result")
        const tx = entry.tx
        let reply: ClientReply
        if (certified !== undefined) {
          metrics.certified++
          reply = {
            _tag: "CertifiedReply",
            header: certified.header,
            certificate: certified.certificate,
            transaction: tx,
            index: index(r["txIndex"] ?? -1, certified.txCount),
            txCount: certified.txCount,
            resultLeafCount: certified.resultLeafCount,
            result,
            txPath: hashPath(r["txPath"], "txPath"),
            resultPath: hashPath(r["resultPath"], "resultPath")
          }
        } else reply = { _tag: "Reply", viewId, client: tx.client, seq: tx.seq, height, result }
        metrics.replies++
        Queue.unsafeOffer(entry.replies, { from: to, reply })
      }
      return false
    }

    const post = async (to: ReplicaId, base: string, entries: ReadonlyArray<Entry>, toAll: boolean): Promise<void> => {
      const settled = new Array<boolean>(entries.length).fill(false)
      const failUnsettled = (reason: string) =>
        entries.forEach((e, i) => {
          if (settled[i] !== true) {
            settled[i] = true
            e.settle(new ClientSendError({ to, reason }))
          }
        })
      const controller = new AbortController()
      inFlight.add(controller)
      metrics.requests++
      metrics.transactions += entries.length
      let ended = false
      try {
        const txs = entries.map((e) => e.tx)
        const body = encodeWith(batchBodyCodec, txs, txs.reduce((n, tx) => n + transactionEncodedSize(tx), 4))
        const r = await fetch(`${base}/txs?waitMs=${waitMs}${proofs ? "&proofs=1" : ""}${toAll ? "&all=1" : ""}`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body,
          signal: controller.signal
        })
        if (r.status !== 200 || r.body === null) {
          failUnsettled(`HTTP ${r.status}: ${(await r.text()).slice(0, 500)}`)
          return
        }
        const decoder = new TextDecoder()
        let buffered = ""
        let first = true
        for await (const chunk of r.body) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true })
          let nl = buffered.indexOf("\n")
          while (nl >= 0) {
            const text = buffered.slice(0, nl)
            buffered = buffered.slice(nl + 1)
            if (onLine(to, entries, settled, first, text)) ended = true
            first = false
            nl = buffered.indexOf("\n")
          }
          if (ended) break
        }
        if (!ended) throw new BadLine("the answer ended without its end line")
      } catch (e) {
        if (!ended) metrics.requestFailures++
        failUnsettled(closed ? "the client is closing" : e instanceof Error ? e.message : String(e))
      } finally {
        inFlight.delete(controller)
        if (!ended) controller.abort()
      }
    }

    const flush = (): void => {
      scheduled = false
      if (closed) return
      const all = [...pending]
      pending.clear()
      for (const [to, entries] of all) {
        const base = options.urls.get(to)!
        for (let from = 0; from < entries.length; from += batchMax) {
          const part = entries.slice(from, from + batchMax)
          void post(to, base, part, part.every((e) => e.toAll))
        }
      }
    }

    /** Queues `tx` for member `to` in the next request; `settle` hears how the member took it. */
    const enqueue = (
      to: ReplicaId,
      tx: Transaction,
      replies: Queue.Queue<ReplyFrom>,
      settle: (error: ClientSendError | undefined) => void,
      toAll = false
    ): void => {
      if (closed) return settle(new ClientSendError({ to, reason: "the client is closing" }))
      if (!options.urls.has(to)) return settle(new ClientSendError({ to, reason: "no API URL for this member" }))
      const list = pending.get(to)
      const entry: Entry = { tx, toAll, replies, settle }
      if (list === undefined) pending.set(to, [entry])
      else list.push(entry)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    }

    const transport: Effect.Effect<ClientTransport, never, Scope.Scope> = Effect.map(
      Effect.acquireRelease(Queue.unbounded<ReplyFrom>(), Queue.shutdown),
      (replies) => ({
        send: (to, tx) =>
          Effect.async<void, ClientSendError>((resume) => enqueue(to, tx, replies, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))),
        sendAll: (members, tx) =>
          Effect.async<ReadonlyArray<ClientSendError>>((resume) => {
            const failures: Array<ClientSendError> = []
            let left = members.length
            if (left === 0) return resume(Effect.succeed(failures))
            // "Sent to all" only if every member the client sends to can be reached, and they are all the hub knows.
            const toAll = memberIds.every((r) => members.includes(r)) && members.every((r) => options.urls.has(r))
            for (const to of members)
              enqueue(
                to,
                tx,
                replies,
                (error) => {
                  if (error !== undefined) failures.push(error)
                  if (--left === 0) resume(Effect.succeed(failures))
                },
                toAll
              )
          }),
        replies: Stream.fromQueue(replies),
        replyQueue: replies
      })
    )
    return { transport, metrics }
  })
