/**
 * A transaction's proof as a replica's API serves it (GET /tx/:client/:seq), checked by the
 * caller without trusting the replica: the transaction's hash is recomputed from the transaction
 * the caller holds, its Merkle path must lead to the header's txRoot and the result's path to
 * resultsRoot, and in strong mode the block's certificate must carry q valid COMMITs of the view
 * that certifies the block's height (src/chain/reply.ts, FORMAT.md section 11).
 *
 * Views are followed as a client follows them (src/client/views.ts): the caller starts from a
 * view it trusts (genesis's) and learns each later view only from the certified block that
 * installed it, as GET /views?after=<id> lists them (src/api/views.ts). A certificate is checked
 * against the known view current at the block's height: one by a view superseded at that height
 * (the keys of departed members) is refused with WrongView, and so is one by a view not learned.
 * `fetchTxProof` asks the replica that serves the proof for the view changes before it checks a
 * block above the height that replica last listed every change up to, so a caller that trusted
 * genesis's view checks a proof of a block certified by a later view. What it learns is checked
 * (certificates of the view before, Merkle proofs of the records); a replica can withhold a
 * change but not invent one, and a caller that asks several replicas (as the demo does) learns
 * every change any of them lists.
 *
 * The demo and the end-to-end test use it to show that what a client saw committed is still in
 * the chain after every replica crashed and restarted.
 */
import { Effect, Either, Schema } from "effect"
import { bytesEqual, fromHex, toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { U64FromDecimal } from "../chain/genesis-json.ts"
import { headerHash, resultHash, txHash } from "../chain/hash.ts"
import { verifyMerkleProof } from "../chain/merkle.ts"
import { CertifiedReplyErrorReason } from "../chain/reply.ts"
import type { PersistenceMode, Transaction, ViewRecord } from "../chain/types.ts"
import type { ClientViewError } from "../client/views.ts"
import { ClientViews } from "../client/views.ts"
import { CertificateJson, HeaderJson, MerklePathJson } from "./json.ts"
import { decodeViewChanges, viewChangesMax } from "./views.ts"

/** Why a proof does not hold: the checks of this module, then those of a certified reply. */
export const TxProofReason = Schema.Union(
  Schema.Literal(
    /** The replica could not be asked, or did not answer 200. */
    "Unreachable",
    /** The answer is not a proof (JSON shape, hex, heights that disagree). */
    "Malformed",
    /** The transaction is not the leaf the answer names (index, path). */
    "NotInBlock",
    /** The result is not the leaf of resultsRoot the answer names. */
    "BadResult",
    /** Strong mode: the block comes without its certificate. */
    "MissingCertificate",
    /** The view changes the replica listed could not be read. */
    "BadViewChanges"
  ),
  CertifiedReplyErrorReason
)
export type TxProofReason = typeof TxProofReason.Type

/** The transaction's proof could not be read, or does not hold. */
export class TxProofError extends Schema.TaggedError<TxProofError>()("TxProofError", {
  url: Schema.String,
  reason: TxProofReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.url}: ${this.reason}: ${this.detail}`
  }
}

/** A failed check of an answer, before it is tied to a URL. */
export interface TxProofProblem {
  readonly reason: TxProofReason
  readonly detail: string
}

/** What a checked proof establishes. */
export interface ProvenTx {
  readonly height: bigint
  readonly index: number
  readonly result: Uint8Array
  readonly headerHash: Uint8Array
  /** Whether a certificate of the view current at the block's height certifies the block (strong mode). */
  readonly certified: boolean
  /** The view that certified it, when it did. */
  readonly viewId: bigint | undefined
}

/**
 * The views a proof checker knows (a ClientViews), and for each replica URL the height up to
 * which that replica listed every view change (its GET /views `height`).
 */
export class TxProofViews {
  private readonly listedTo = new Map<string, bigint>()

  private constructor(readonly views: ClientViews) {}

  /** Trusts `view`, installed at `installedAt` (0n: genesis's view). */
  static trusting(crypto: ChainCrypto, chainId: string, view: ViewRecord, installedAt = 0n): Either.Either<TxProofViews, ClientViewError> {
    return Either.map(ClientViews.start(crypto, chainId, view, installedAt), (v) => new TxProofViews(v))
  }

  /** The newest known view. */
  get current(): ViewRecord {
    return this.views.current
  }

  /** Ids and installing heights of the known views, the trusted one first. */
  get known(): ReadonlyArray<{ readonly id: bigint; readonly installedAt: bigint }> {
    return this.views.known
  }

  /** The height up to which the replica at `base` listed every view change (-1n: never asked). */
  listedBy(base: string): bigint {
    return this.listedTo.get(base) ?? -1n
  }

  /**
   * Learns from one GET /views answer (already parsed from JSON) of the replica at `base`:
   * every certified change that passes the checks. Returns how many views were learned and
   * whether the answer was cut (more changes to ask for), or why the answer is unreadable.
   */
  learnFrom(base: string, json: unknown): Either.Either<{ readonly learned: number; readonly rejected: number; readonly more: boolean }, TxProofProblem> {
    const decoded = decodeViewChanges(json)
    if (Either.isLeft(decoded)) return Either.left({ reason: "BadViewChanges", detail: decoded.left.split("\n")[0] ?? "" })
    const learned = this.views.learn(decoded.right.changes)
    const before = this.listedBy(base)
    if (decoded.right.height > before) this.listedTo.set(base, decoded.right.height)
    return Either.right({ learned: learned.views.length, rejected: learned.rejected.length, more: decoded.right.changes.length >= viewChangesMax && learned.views.length > 0 })
  }
}

const U32 = Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffff_ffff))

const TxProofJson = Schema.Struct({
  height: U64FromDecimal,
  index: U32,
  result: Schema.String,
  leafCount: U32,
  resultLeafCount: U32,
  header: HeaderJson,
  txPath: MerklePathJson,
  resultPath: MerklePathJson,
  certificate: Schema.NullOr(CertificateJson)
})
type TxProofJson = typeof TxProofJson.Type

const decodeProof = Schema.decodeUnknownEither(TxProofJson)

const problem = (reason: TxProofReason, detail: string): Either.Either<never, TxProofProblem> => Either.left({ reason, detail })

const decodeAnswer = (json: unknown): Either.Either<TxProofJson, TxProofProblem> =>
  Either.mapLeft(decodeProof(json), (e) => ({ reason: "Malformed" as const, detail: `malformed answer: ${e.message.split("\n")[0]}` }))

/**
 * Checks a GET /tx answer for `tx` (already parsed from JSON) against the views `views` knows. A
 * certificate is checked against the known view current at the block's height (WrongView when
 * the block names a superseded view or one not learned yet).
 */
export const checkTxProof = (
  crypto: ChainCrypto,
  views: TxProofViews,
  mode: PersistenceMode,
  tx: Transaction,
  json: unknown
): Either.Either<ProvenTx, TxProofProblem> => {
  const decoded = decodeAnswer(json)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  const a = decoded.right
  const result = fromHex(a.result)
  if (result === undefined) return problem("Malformed", "the result is not hex")
  if (a.header.height !== a.height) return problem("Malformed", `the header is of height ${a.header.height}, the answer says ${a.height}`)
  if (a.index >= a.leafCount) return problem("NotInBlock", `index ${a.index} outside a block of ${a.leafCount} transactions`)
  const leaf = txHash(crypto, tx)
  if (!verifyMerkleProof(crypto, a.header.txRoot, leaf, a.index, a.leafCount, a.txPath))
    return problem("NotInBlock", `the transaction is not leaf ${a.index} of the block's txRoot`)
  if (!verifyMerkleProof(crypto, a.header.resultsRoot, resultHash(crypto, result), a.index, a.resultLeafCount, a.resultPath))
    return problem("BadResult", `the result is not leaf ${a.index} of the block's resultsRoot`)
  const hash = headerHash(crypto, a.header)
  if (a.certificate === null) {
    if (mode === "strong") return problem("MissingCertificate", `block ${a.height} comes without its certificate`)
    return Either.right({ height: a.height, index: a.index, result, headerHash: hash, certified: false, viewId: undefined })
  }
  const checked = views.views.check(
    {
      _tag: "CertifiedReply",
      header: a.header,
      certificate: a.certificate,
      transaction: tx,
      index: a.index,
      txCount: a.leafCount,
      resultLeafCount: a.resultLeafCount,
      result,
      txPath: a.txPath,
      resultPath: a.resultPath
    },
    { client: tx.client, seq: tx.seq, txHash: leaf }
  )
  if (Either.isLeft(checked)) return problem(checked.left.reason, checked.left.detail)
  return Either.right({ height: a.height, index: a.index, result, headerHash: hash, certified: true, viewId: a.header.viewId })
}

const getJson = (url: string): Effect.Effect<unknown, TxProofError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const r = await fetch(url, { signal })
      const text = await r.text()
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`)
      return JSON.parse(text) as unknown
    },
    catch: (e) => new TxProofError({ url, reason: "Unreachable", detail: e instanceof Error ? e.message : String(e) })
  })

/** Most GET /views requests one sync makes (each answer carries up to `viewChangesMax` changes). */
const viewSyncRequestsMax = 16

/**
 * Learns the view changes the replica at `base` lists after the newest known view (GET /views,
 * asking again while answers are cut). Returns the number of views learned.
 */
export const syncProofViews = (views: TxProofViews, base: string): Effect.Effect<number, TxProofError> =>
  Effect.gen(function* () {
    let total = 0
    for (let i = 0; i < viewSyncRequestsMax; i++) {
      const url = `${base}/views?after=${views.current.id}`
      const json = yield* getJson(url)
      const learned = views.learnFrom(base, json)
      if (Either.isLeft(learned)) return yield* new TxProofError({ url, ...learned.left })
      total += learned.right.learned
      if (!learned.right.more) break
    }
    return total
  })

/**
 * Asks the replica at `base` for `tx`'s proof (waiting up to `waitMs` for it, e.g. while the
 * replica catches up after a restart) and checks it. When the block is above the height up to
 * which `base` last listed every view change, or names a view newer than every known one, the
 * view changes are asked of `base` first.
 */
export const fetchTxProof = (
  crypto: ChainCrypto,
  views: TxProofViews,
  mode: PersistenceMode,
  base: string,
  tx: Transaction,
  waitMs: number
): Effect.Effect<ProvenTx, TxProofError> => {
  const url = `${base}/tx/${toHex(tx.client)}/${tx.seq}${waitMs > 0 ? `?waitMs=${waitMs}` : ""}`
  return Effect.gen(function* () {
    const json = yield* getJson(url)
    const answer = decodeAnswer(json)
    if (Either.isRight(answer) && answer.right.certificate !== null) {
      const header = answer.right.header
      if (header.height > views.listedBy(base) || views.views.isAhead(header.viewId)) yield* syncProofViews(views, base)
    }
    return yield* Either.mapLeft(checkTxProof(crypto, views, mode, tx, json), (p) => new TxProofError({ url, ...p }))
  })
}

/** Whether a proven transaction is the committed one a client accepted: same height and result. */
export const sameOutcome = (proven: ProvenTx, accepted: { readonly height: bigint; readonly result: Uint8Array }): boolean =>
  proven.height === accepted.height && bytesEqual(proven.result, accepted.result)
