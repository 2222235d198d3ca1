/**
 * POST /txs: many signed transactions in one request, and their replies streamed back on the same
 * response as the replica releases them. It does for a batch what POST /tx and the long poll of
 * GET /tx do for one transaction, with one HTTP exchange per batch instead of two per
 * transaction: a client process with many transactions in flight (a wallet service, the
 * benchmark's closed-loop clients) sends each member one request per turn of its event loop.
 *
 * Request: `POST /txs?waitMs=N[&proofs=1][&all=1]` with `content-type: application/octet-stream` and a
 * body that is the binary encoding (conformance/FORMAT.md) of an array of at most `batchTxsMax`
 * transactions: a u32 count, then each transaction's encoding. waitMs (0 to 30000, default 0) is
 * how long the response may wait for replies. all=1 says the client sent every one of these
 * transactions to every member itself (PROTOCOL.md section 7): the replica then does not pass
 * them on to the leader, which has its own copy (if it does not, the request timeout sends the
 * transaction to every member, as for any request).
 *
 * Response: 200 and newline-delimited JSON, one object per line:
 *
 *   {"refused":[{"index":2,"error":"BadSignature","message":"..."}]}
 *       first, at once: the transactions not taken, by position in the request, with the error
 *       POST /tx would have answered (TransactionTooLarge, BadSignature, Busy); every other one
 *       was handed to the replica (or was already decided).
 *   {"height":"7","viewId":"0","replies":[{"index":0,"result":"<hex>"},...]}
 *       the released replies of one block: what a plain reply carries. With proofs=1 the line also
 *       has the block's "header" and "certificate" (once it has one; JSON as GET /tx writes them),
 *       "leafCount" and "resultLeafCount", and each reply its position in the block "txIndex",
 *       its "txPath" and "resultPath": what a certified reply carries.
 *   {"end":true,"unanswered":[3,4]}
 *       last: the positions whose replies were not released within waitMs (empty when all were).
 *
 * A reply is released by the same rule as for GET /tx (the persistence mode's, see
 * src/node/chain.ts), so a client never hears of a result the replica could still lose. A body
 * that does not decode is refused as a whole with a JSON error (400 BadBatch), as is a wrong
 * method (405) or a bad waitMs (400 BadWait).
 */
import { Effect, Either } from "effect"
import type * as http from "node:http"
import { toHex } from "../chain/bytes.ts"
import { array, decodeWith } from "../chain/codec.ts"
import { transactionCodec, transactionEncodedSize } from "../chain/encoding.ts"
import type { Transaction } from "../chain/types.ts"
import { txKey } from "../core/state.ts"
import type { ApiContext } from "./server.ts"
import { ApiError, longPollMsMax, verifyTransaction } from "./server.ts"
import { certificateJson, headerJson } from "./json.ts"

/** Most transactions in one POST /txs. */
export const batchTxsMax = 4096

/** Largest POST /txs body, in bytes. */
export const batchBodyBytesMax = 16 * 1024 * 1024

/** Transactions checked between two turns of the event loop. */
const checkChunk = 32

/** The codec of a POST /txs body. */
export const batchBodyCodec = array(transactionCodec, batchTxsMax)

interface Refusal {
  readonly index: number
  readonly error: string
  readonly message: string
}

const readBytes = (req: http.IncomingMessage): Promise<Uint8Array | ApiError> =>
  new Promise((resolve) => {
    const declared = Number(req.headers["content-length"] ?? "0")
    if (declared > batchBodyBytesMax) {
      resolve(new ApiError(413, "PayloadTooLarge", `request body of ${declared} bytes exceeds ${batchBodyBytesMax}`))
      req.resume()
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    req.on("data", (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > batchBodyBytesMax) {
        done = true
        resolve(new ApiError(413, "PayloadTooLarge", `request body exceeds ${batchBodyBytesMax} bytes`))
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (done) return
      const all = Buffer.concat(chunks)
      resolve(new Uint8Array(all.buffer, all.byteOffset, all.byteLength))
    })
    req.on("error", () => {
      if (!done) resolve(new ApiError(400, "BadRequest", "the request body could not be read"))
    })
  })

/** The checks of POST /tx for one transaction of a batch: undefined when it was handed to the replica or is decided. */
const take = (ctx: ApiContext, tx: Transaction, index: number, sentToAll: boolean): Refusal | undefined => {
  const size = transactionEncodedSize(tx)
  if (size > ctx.limits.txBytesMax)
    return { index, error: "TransactionTooLarge", message: `the transaction encodes to ${size} bytes; the limit is ${ctx.limits.txBytesMax}` }
  if (!verifyTransaction(ctx, tx))
    return { index, error: "BadSignature", message: `the signature does not verify for client ${toHex(tx.client)} on chain ${ctx.chainId}` }
  if (ctx.chain.locate(tx.client, tx.seq) !== undefined) return undefined
  if (!ctx.submit(tx, sentToAll)) return { index, error: "Busy", message: "the replica's inbox is full; retry later" }
  return undefined
}

/** One block's line of the response: its replies by request position, and with proofs the evidence. */
interface ReplyLine {
  readonly height: string
  readonly viewId: string
  readonly replies: ReadonlyArray<{ readonly index: number }>
  readonly [field: string]: unknown
}

/** Replies released for the outstanding positions, grouped by block (ascending height), as response lines. */
const replyLines = (ctx: ApiContext, txs: ReadonlyArray<Transaction>, keys: ReadonlyMap<number, string>, proofs: boolean): Effect.Effect<Array<ReplyLine>> =>
  Effect.gen(function* () {
    const byHeight = new Map<bigint, Array<{ readonly index: number; readonly at: number }>>()
    for (const [index, key] of keys) {
      const at = ctx.chain.locateKey(key)
      if (at === undefined) continue
      const group = byHeight.get(at.height)
      if (group === undefined) byHeight.set(at.height, [{ index, at: at.index }])
      else group.push({ index, at: at.index })
    }
    const lines: Array<ReplyLine> = []
    for (const height of [...byHeight.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      const group = byHeight.get(height)!
      if (!proofs) {
        const block = yield* ctx.chain.block(height)
        if (block === undefined) continue
        const replies = group.flatMap((g) => {
          const result = block.results[g.at]
          return result === undefined ? [] : [{ index: g.index, result: toHex(result) }]
        })
        lines.push({ height: height.toString(), viewId: block.header.viewId.toString(), replies })
        continue
      }
      // With proofs: the evidence of each (Merkle paths are computed once per block and kept).
      const replies: Array<Record<string, unknown> & { readonly index: number }> = []
      let head: { readonly height: string; readonly viewId: string; readonly [field: string]: unknown } | undefined
      for (const g of group) {
        const tx = txs[g.index]!
        const ev = yield* ctx.chain.evidence(tx.client, tx.seq)
        if (ev === undefined) continue
        head ??= {
          height: height.toString(),
          viewId: ev.block.header.viewId.toString(),
          header: headerJson(ev.block.header),
          certificate: ev.certificate === undefined ? null : certificateJson(ev.certificate),
          leafCount: ev.block.transactions.length,
          resultLeafCount: ev.resultLeafCount
        }
        replies.push({ index: g.index, txIndex: ev.index, result: toHex(ev.result), txPath: ev.txPath.map(toHex), resultPath: ev.resultPath.map(toHex) })
      }
      if (head !== undefined) lines.push({ ...head, replies })
    }
    return lines
  })

/** JSON.stringify with bigints as decimal strings, one line. */
const line = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) + "\n"

/**
 * Serves one POST /txs on `res`. Returns an ApiError (nothing written yet) for a request refused
 * as a whole; otherwise it has started the streamed response and finishes it on its own.
 */
export const handleBatch = async (ctx: ApiContext, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<ApiError | undefined> => {
  if (req.method !== "POST") return new ApiError(405, "MethodNotAllowed", `${req.method ?? "GET"} /txs: use POST`)
  const waitParam = url.searchParams.get("waitMs")
  const waitMs = waitParam === null ? 0 : Number(waitParam)
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > longPollMsMax)
    return new ApiError(400, "BadWait", `waitMs must be an integer from 0 to ${longPollMsMax}, got "${waitParam}"`)
  const proofs = url.searchParams.get("proofs") === "1"
  const sentToAll = url.searchParams.get("all") === "1"
  const body = await readBytes(req)
  if (body instanceof ApiError) return body
  const decoded = decodeWith(batchBodyCodec, body)
  if (Either.isLeft(decoded)) return new ApiError(400, "BadBatch", `the body is not an array of at most ${batchTxsMax} encoded transactions: ${decoded.left.message}`)
  const txs = decoded.right

  const refused: Array<Refusal> = []
  // The positions still waiting for a reply, with their transactions' keys (computed once).
  const outstanding = new Map<number, string>()
  for (let index = 0; index < txs.length; index++) {
    // Checking signatures takes a while: between chunks the event loop runs, so the replica's
    // consensus messages are not held up behind a large batch.
    if (index > 0 && index % checkChunk === 0) await new Promise((resolve) => setImmediate(resolve))
    const tx = txs[index]!
    const refusal = take(ctx, tx, index, sentToAll)
    if (refusal === undefined) outstanding.set(index, txKey(tx))
    else {
      refused.push(refusal)
      ctx.metrics.countApiRejected(refusal.error)
    }
  }
  res.writeHead(200, { "content-type": "application/x-ndjson" })
  res.write(line({ refused }))

  let finished = false
  let unsubscribe = (): void => {}
  let timer: ReturnType<typeof setTimeout> | undefined
  const finish = () => {
    if (finished) return
    finished = true
    unsubscribe()
    if (timer !== undefined) clearTimeout(timer)
    res.end(line({ end: true, unanswered: [...outstanding.keys()] }))
  }
  // Answers are looked up one release at a time, in order, so lines go out in height order.
  let looking = false
  let again = false
  const lookUp = (): void => {
    if (finished) return
    if (looking) {
      again = true
      return
    }
    looking = true
    again = false
    Effect.runPromise(replyLines(ctx, txs, outstanding, proofs)).then(
      (lines) => {
        looking = false
        if (finished) return
        for (const l of lines) {
          for (const r of l.replies) outstanding.delete(r.index)
          res.write(line(l))
        }
        if (outstanding.size === 0 || waitMs === 0) finish()
        else if (again) lookUp()
      },
      () => {
        looking = false
        finish()
      }
    )
  }
  res.on("close", () => {
    finished = true
    unsubscribe()
    if (timer !== undefined) clearTimeout(timer)
  })
  if (outstanding.size === 0) {
    finish()
    return undefined
  }
  unsubscribe = ctx.chain.onRelease(lookUp)
  if (waitMs > 0) timer = setTimeout(finish, waitMs)
  lookUp()
  return undefined
}
