/**
 * A transaction's proof as a replica's API serves it (GET /tx/:client/:seq), checked by the
 * caller without trusting the replica: the transaction's hash is recomputed from the transaction
 * the caller holds, its Merkle path must lead to the header's txRoot and the result's path to
 * resultsRoot, and in strong mode the block's certificate (q COMMIT signatures of members of the
 * view the caller trusts) must certify that header (src/chain/reply.ts, FORMAT.md section 11).
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
import type { TrustedView } from "../chain/reply.ts"
import { checkCertifiedReply } from "../chain/reply.ts"
import type { PersistenceMode, Transaction } from "../chain/types.ts"
import { CertificateJson, HeaderJson, MerklePathJson } from "./json.ts"

/** The transaction's proof could not be read, or does not hold. */
export class TxProofError extends Schema.TaggedError<TxProofError>()("TxProofError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.url}: ${this.reason}`
  }
}

/** What a checked proof establishes. */
export interface ProvenTx {
  readonly height: bigint
  readonly index: number
  readonly result: Uint8Array
  readonly headerHash: Uint8Array
  /** Whether a certificate of the trusted view certifies the block (strong mode). */
  readonly certified: boolean
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

const decodeProof = Schema.decodeUnknownEither(TxProofJson)

/** Checks a GET /tx answer for `tx` (already parsed from JSON). */
export const checkTxProof = (
  crypto: ChainCrypto,
  view: TrustedView,
  mode: PersistenceMode,
  tx: Transaction,
  json: unknown
): Either.Either<ProvenTx, string> => {
  const decoded = decodeProof(json)
  if (Either.isLeft(decoded)) return Either.left(`malformed answer: ${decoded.left.message.split("\n")[0]}`)
  const a = decoded.right
  const result = fromHex(a.result)
  if (result === undefined) return Either.left("the result is not hex")
  if (a.header.height !== a.height) return Either.left(`the header is of height ${a.header.height}, the answer says ${a.height}`)
  if (a.index >= a.leafCount) return Either.left(`index ${a.index} outside a block of ${a.leafCount} transactions`)
  if (!verifyMerkleProof(crypto, a.header.txRoot, txHash(crypto, tx), a.index, a.leafCount, a.txPath))
    return Either.left(`the transaction is not leaf ${a.index} of the block's txRoot`)
  if (!verifyMerkleProof(crypto, a.header.resultsRoot, resultHash(crypto, result), a.index, a.resultLeafCount, a.resultPath))
    return Either.left(`the result is not leaf ${a.index} of the block's resultsRoot`)
  const hash = headerHash(crypto, a.header)
  if (a.certificate !== null) {
    const checked = checkCertifiedReply(
      crypto,
      view,
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
      { client: tx.client, seq: tx.seq, txHash: txHash(crypto, tx) }
    )
    if (Either.isLeft(checked)) return Either.left(checked.left.message)
  } else if (mode === "strong") return Either.left(`block ${a.height} comes without its certificate`)
  return Either.right({ height: a.height, index: a.index, result, headerHash: hash, certified: a.certificate !== null })
}

/**
 * Asks the replica at `base` for `tx`'s proof (waiting up to `waitMs` for it, e.g. while the
 * replica catches up after a restart) and checks it.
 */
export const fetchTxProof = (
  crypto: ChainCrypto,
  view: TrustedView,
  mode: PersistenceMode,
  base: string,
  tx: Transaction,
  waitMs: number
): Effect.Effect<ProvenTx, TxProofError> => {
  const url = `${base}/tx/${toHex(tx.client)}/${tx.seq}${waitMs > 0 ? `?waitMs=${waitMs}` : ""}`
  return Effect.tryPromise({
    try: async (signal) => {
      const r = await fetch(url, { signal })
      const text = await r.text()
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`)
      return JSON.parse(text) as unknown
    },
    catch: (e) => new TxProofError({ url, reason: e instanceof Error ? e.message : String(e) })
  }).pipe(Effect.flatMap((json) => Either.mapLeft(checkTxProof(crypto, view, mode, tx, json), (reason) => new TxProofError({ url, reason }))))
}

/** Whether a proven transaction is the committed one a client accepted: same height and result. */
export const sameOutcome = (proven: ProvenTx, accepted: { readonly height: bigint; readonly result: Uint8Array }): boolean =>
  proven.height === accepted.height && bytesEqual(proven.result, accepted.result)
