/**
 * The HTTP JSON API of one replica (node:http), and its Prometheus endpoint.
 *
 *   GET  /status                 chain id, replica, mode, height, durable, certified and released heights,
 *                                regency, view, leader, peers
 *   GET  /view                   the current view record, n, f, quorum, leader, the height that installed it
 *   GET  /views?after=<id>       the certified reconfiguration blocks after view <id> (./views.ts)
 *   GET  /blocks/:height         a block: header, header hash, transactions, results, decision proof, certificate
 *                                (?encoding=binary: the encoded block and certificate, hex)
 *   GET  /tx/:client/:seq        where a transaction landed, its result, Merkle paths to txRoot and
 *                                resultsRoot, the block header and its certificate when there is one;
 *                                answered once the replica released the reply by its persistence
 *                                mode's rule; with ?waitMs=N it waits up to N ms for that
 *   POST /tx                     submit a signed transaction { client, seq, op, signature } (hex, seq decimal)
 *   POST /txs                    submit many binary-encoded transactions; their replies stream back as
 *                                they are released (./batch.ts)
 *   GET  /metrics                Prometheus exposition (prom-client)
 *
 * Every error is JSON `{ "error": Tag, "message": text }` with a 4xx or 5xx status, and is counted
 * in smartchain_api_rejected_total by tag. A submitted transaction is checked before it reaches
 * the replica: its JSON fields, its encoded size against txBytesMax, and its signature.
 */
import { Effect, Either } from "effect"
import type { Scope } from "effect"
import * as http from "node:http"
import { toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { encodeBlock, encodeCertificate, transactionEncodedSize, txSigningBytes } from "../chain/encoding.ts"
import { headerHash, txHash } from "../chain/hash.ts"
import type { Limits, PersistenceMode, Transaction, ViewRecord } from "../chain/types.ts"
import type { ChainView } from "../node/chain.ts"
import type { NodeMetrics } from "../node/metrics.ts"
import { ListenFailed } from "../net/errors.ts"
import { handleBatch } from "./batch.ts"
import type { InstalledView } from "./views.ts"
import { viewChangesJson } from "./views.ts"
import { blockJson, certificateJson, decodeTransactionJson, headerJson, parseKeyHex, parseU64, viewJson } from "./json.ts"

/** Longest wait a GET /tx may ask for with ?waitMs=, in milliseconds. */
export const longPollMsMax = 30_000

/** Largest request body accepted, in bytes (a transaction of txBytesMax in hex fits well below it). */
export const requestBodyBytesMax = 256 * 1024

export interface ReplicaStatus {
  readonly regency: bigint
  readonly leader: number
  readonly lastDecidedCid: bigint
  readonly pendingTransactions: number
  readonly connectedPeers: ReadonlyArray<number>
}

export interface ApiContext {
  readonly chainId: string
  readonly replica: number
  readonly mode: PersistenceMode
  readonly limits: Limits
  readonly crypto: ChainCrypto
  readonly view: () => ViewRecord
  /**
   * Every view the replica's chain installed, genesis's first (a replica that follows
   * reconfigurations); without it the view never changes and GET /views lists no change.
   */
  readonly views?: () => ReadonlyArray<InstalledView>
  /** The quorum of the current view. */
  readonly quorum: number | (() => number)
  readonly chain: ChainView
  readonly status: () => ReplicaStatus
  /**
   * Hands a checked transaction to the replica; false when its inbox is full. `sentToAll`: the
   * client says it sent the transaction to every member itself (POST /txs?all=1), so the replica
   * need not pass it on to the leader.
   */
  readonly submit: (tx: Transaction, sentToAll?: boolean) => boolean
  /**
   * Checks a transaction's signature on this chain; by default `crypto.verify` of its signing
   * bytes. The node passes its signature memory's, so the Verifier does not check it again.
   */
  readonly verifyTransaction?: (tx: Transaction) => boolean
  readonly metrics: NodeMetrics
}

/** An API error: the HTTP status, the tag that names it, and a message for people. */
export class ApiError {
  constructor(
    readonly status: number,
    readonly tag: string,
    readonly message: string
  ) {}
}

type Json = unknown

interface Response {
  readonly status: number
  readonly body: Json
}

const ok = (body: Json, status = 200): Response => ({ status, body })

/** JSON.stringify with bigints as decimal strings. */
const stringify = (value: Json): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

const readBody = (req: http.IncomingMessage): Promise<string | ApiError> =>
  new Promise((resolve) => {
    const declared = Number(req.headers["content-length"] ?? "0")
    if (declared > requestBodyBytesMax) {
      resolve(new ApiError(413, "PayloadTooLarge", `request body of ${declared} bytes exceeds ${requestBodyBytesMax}`))
      req.resume()
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    req.on("data", (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > requestBodyBytesMax) {
        done = true
        resolve(new ApiError(413, "PayloadTooLarge", `request body exceeds ${requestBodyBytesMax} bytes`))
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks).toString("utf8"))
    })
    req.on("error", () => {
      if (!done) resolve(new ApiError(400, "BadRequest", "the request body could not be read"))
    })
  })

/** The route name used in metrics for a path. */
const routeOf = (method: string, parts: ReadonlyArray<string>): string => `${method} /${parts[0] ?? ""}`

export const handleRequest = async (ctx: ApiContext, req: http.IncomingMessage): Promise<Response | ApiError | { readonly metrics: string }> => {
  const url = new URL(req.url ?? "/", "http://localhost")
  const parts = url.pathname.split("/").filter((p) => p !== "")
  const method = req.method ?? "GET"
  const route = parts[0] ?? ""
  const known = ["status", "view", "views", "blocks", "tx", "metrics"]
  if (!known.includes(route))
    return new ApiError(404, "NotFound", `no route ${url.pathname}; see GET /status, /view, /views?after=<id>, /blocks/:height, /tx/:client/:seq, POST /tx, POST /txs, GET /metrics`)
  ctx.metrics.countRequest(routeOf(method, parts))
  const allow = (methods: ReadonlyArray<string>) =>
    methods.includes(method) ? undefined : new ApiError(405, "MethodNotAllowed", `${method} ${url.pathname}: use ${methods.join(" or ")}`)

  switch (route) {
    case "status": {
      const bad = allow(["GET"]) ?? (parts.length === 1 ? undefined : new ApiError(404, "NotFound", `no route ${url.pathname}`))
      if (bad !== undefined) return bad
      const s = ctx.status()
      return ok({
        chainId: ctx.chainId,
        replica: ctx.replica,
        mode: ctx.mode,
        height: ctx.chain.height(),
        durableHeight: ctx.chain.durableHeight(),
        certifiedHeight: ctx.chain.certifiedHeight(),
        releasedHeight: ctx.chain.releasedHeight(),
        lastDecidedCid: s.lastDecidedCid,
        regency: s.regency,
        view: ctx.view().id,
        leader: s.leader,
        pendingTransactions: s.pendingTransactions,
        connectedPeers: s.connectedPeers
      })
    }
    case "view": {
      const bad = allow(["GET"]) ?? (parts.length === 1 ? undefined : new ApiError(404, "NotFound", `no route ${url.pathname}`))
      if (bad !== undefined) return bad
      const s = ctx.status()
      const history = ctx.views?.() ?? []
      const installedAt = history[history.length - 1]?.installedAt ?? 0n
      const quorum = typeof ctx.quorum === "number" ? ctx.quorum : ctx.quorum()
      return ok({ ...viewJson(ctx.view()), quorum, regency: s.regency, leader: s.leader, installedAt: installedAt.toString() })
    }
    case "views": {
      const bad = allow(["GET"]) ?? (parts.length === 1 ? undefined : new ApiError(404, "NotFound", `no route ${url.pathname}`))
      if (bad !== undefined) return bad
      const afterParam = url.searchParams.get("after") ?? "0"
      const after = parseU64(afterParam)
      if (after === undefined) return new ApiError(400, "BadView", `after must be a view id (unsigned decimal integer), got "${afterParam}"`)
      const history = ctx.views?.() ?? [{ record: ctx.view(), installedAt: 0n }]
      return ok(await Effect.runPromise(viewChangesJson(ctx.crypto, ctx.chain, history, after)))
    }
    case "metrics": {
      const bad = allow(["GET"])
      if (bad !== undefined) return bad
      return { metrics: await ctx.metrics.text() }
    }
    case "blocks": {
      const bad = allow(["GET"])
      if (bad !== undefined) return bad
      if (parts.length !== 2) return new ApiError(404, "NotFound", "use GET /blocks/:height")
      const height = parseU64(parts[1]!)
      if (height === undefined || height === 0n) return new ApiError(400, "BadHeight", `height must be a decimal integer from 1, got "${parts[1]}"`)
      const block = await Effect.runPromise(ctx.chain.block(height))
      if (block === undefined)
        return new ApiError(404, "BlockNotFound", `no block ${height} here (height is ${ctx.chain.height()})`)
      const certificate = await Effect.runPromise(ctx.chain.certificate(height))
      // ?encoding=binary: the block and its certificate in their binary encodings (FORMAT.md
      // section 3), hex; what a joining replica fetches and verifies (src/node/joiner.ts).
      if (url.searchParams.get("encoding") === "binary")
        return ok({ block: toHex(encodeBlock(block)), certificate: certificate === undefined ? null : toHex(encodeCertificate(certificate)) })
      return ok(blockJson(block, headerHash(ctx.crypto, block.header), certificate))
    }
    case "tx": {
      if (method === "POST") {
        if (parts.length !== 1) return new ApiError(404, "NotFound", "use POST /tx")
        return submit(ctx, req)
      }
      const bad = allow(["GET", "POST"])
      if (bad !== undefined) return bad
      if (parts.length !== 3) return new ApiError(404, "NotFound", "use GET /tx/:client/:seq")
      const client = parseKeyHex(parts[1]!)
      if (client === undefined) return new ApiError(400, "BadClient", "client must be a public key of 64 lowercase hex digits")
      const seq = parseU64(parts[2]!)
      if (seq === undefined) return new ApiError(400, "BadSeq", `seq must be an unsigned decimal integer, got "${parts[2]}"`)
      const waitParam = url.searchParams.get("waitMs")
      const waitMs = waitParam === null ? 0 : Number(waitParam)
      if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > longPollMsMax)
        return new ApiError(400, "BadWait", `waitMs must be an integer from 0 to ${longPollMsMax}, got "${waitParam}"`)
      if (waitMs > 0) await Effect.runPromise(ctx.chain.waitFor(client, seq, waitMs))
      const ev = await Effect.runPromise(ctx.chain.evidence(client, seq))
      if (ev === undefined) return new ApiError(404, "TransactionNotFound", `no transaction ${parts[1]}/${seq} with a released reply here`)
      const height = ev.block.header.height
      return ok({
        client: toHex(client),
        seq: seq.toString(),
        height: height.toString(),
        index: ev.index,
        durable: ctx.mode !== "memory" && height <= ctx.chain.durableHeight(),
        certified: ev.certificate !== undefined,
        txHash: toHex(ev.txHash),
        result: toHex(ev.result),
        resultText: ctx.chain.describeResult(ev.result),
        header: headerJson(ev.block.header),
        headerHash: toHex(headerHash(ctx.crypto, ev.block.header)),
        leafCount: ev.block.transactions.length,
        resultLeafCount: ev.resultLeafCount,
        txPath: ev.txPath.map(toHex),
        resultPath: ev.resultPath.map(toHex),
        certificate: ev.certificate === undefined ? null : certificateJson(ev.certificate)
      })
    }
  }
  return new ApiError(404, "NotFound", `no route ${url.pathname}`)
}

const submit = async (ctx: ApiContext, req: http.IncomingMessage): Promise<Response | ApiError> => {
  const text = await readBody(req)
  if (text instanceof ApiError) return text
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return new ApiError(400, "BadJson", `the body is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  const decoded = decodeTransactionJson(json)
  if (Either.isLeft(decoded)) return new ApiError(400, "BadTransaction", decoded.left.message)
  const tx = decoded.right
  const size = transactionEncodedSize(tx)
  if (size > ctx.limits.txBytesMax) return new ApiError(413, "TransactionTooLarge", `the transaction encodes to ${size} bytes; the limit is ${ctx.limits.txBytesMax}`)
  if (!verifyTransaction(ctx, tx))
    return new ApiError(400, "BadSignature", `the signature does not verify for client ${toHex(tx.client)} on chain ${ctx.chainId}`)
  const hash = toHex(txHash(ctx.crypto, tx))
  const at = ctx.chain.locate(tx.client, tx.seq)
  if (at !== undefined) return ok({ status: "decided", txHash: hash, height: at.height.toString(), index: at.index })
  if (!ctx.submit(tx)) return new ApiError(503, "Busy", "the replica's inbox is full; retry later")
  return ok({ status: "accepted", txHash: hash }, 202)
}

/** The API's signature check of a submitted transaction. */
export const verifyTransaction = (ctx: ApiContext, tx: Transaction): boolean =>
  ctx.verifyTransaction !== undefined ? ctx.verifyTransaction(tx) : ctx.crypto.verify(tx.client, txSigningBytes(ctx.chainId, tx), tx.signature)

export interface ApiServer {
  readonly port: number
  readonly server: http.Server
}

/** Serves the API on host:port (0 picks a free port) until the scope closes. */
export const startApiServer = (ctx: ApiContext, listen: { readonly host: string; readonly port: number }): Effect.Effect<ApiServer, ListenFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<ApiServer, ListenFailed>((resume) => {
      const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://localhost")
        if (url.pathname === "/txs") {
          // POST /txs streams its own response (./batch.ts); only a refusal of the whole request comes back here.
          ctx.metrics.countRequest(`${req.method ?? "GET"} /txs`)
          handleBatch(ctx, req, res, url).then(
            (refusal) => {
              if (refusal === undefined) return
              ctx.metrics.countApiRejected(refusal.tag)
              res.writeHead(refusal.status, { "content-type": "application/json" })
              res.end(stringify({ error: refusal.tag, message: refusal.message }))
            },
            (e: unknown) => {
              ctx.metrics.countApiRejected("InternalError")
              if (res.headersSent) res.destroy()
              else {
                res.writeHead(500, { "content-type": "application/json" })
                res.end(stringify({ error: "InternalError", message: e instanceof Error ? e.message : String(e) }))
              }
            }
          )
          return
        }
        handleRequest(ctx, req).then(
          (r) => {
            if (r instanceof ApiError) {
              ctx.metrics.countApiRejected(r.tag)
              res.writeHead(r.status, { "content-type": "application/json" })
              res.end(stringify({ error: r.tag, message: r.message }))
            } else if ("metrics" in r) {
              res.writeHead(200, { "content-type": ctx.metrics.contentType })
              res.end(r.metrics)
            } else {
              res.writeHead(r.status, { "content-type": "application/json" })
              res.end(stringify(r.body))
            }
          },
          (e: unknown) => {
            ctx.metrics.countApiRejected("InternalError")
            res.writeHead(500, { "content-type": "application/json" })
            res.end(stringify({ error: "InternalError", message: e instanceof Error ? e.message : String(e) }))
          }
        )
      })
      server.keepAliveTimeout = 5_000
      const onError = (e: Error) => resume(Effect.fail(new ListenFailed({ host: listen.host, port: listen.port, detail: e.message })))
      server.once("error", onError)
      server.listen(listen.port, listen.host, () => {
        server.off("error", onError)
        const a = server.address()
        resume(Effect.succeed({ port: a !== null && typeof a === "object" ? a.port : listen.port, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )
