/**
 * The JSON forms of the HTTP API. Bytes are lowercase hex, 64-bit integers decimal strings (JSON
 * numbers lose precision above 2^53), 32-bit integers numbers. A transaction submitted by POST
 * /tx is validated by `TransactionJson`, which names the failing field.
 */
import { Either, ParseResult, Schema } from "effect"
import { fromHex, toHex } from "../chain/bytes.ts"
import { HexKey, U64FromDecimal } from "../chain/genesis-json.ts"
import type { Block, BlockHeader, Certificate, DecisionProof, Transaction, ViewRecord } from "../chain/types.ts"

/** Bytes as lowercase hex with an even number of digits (possibly empty), up to `maxBytes`. */
const hexBytes = (maxBytes: number, exact?: number) =>
  Schema.transformOrFail(
    Schema.String.pipe(
      Schema.pattern(/^(?:[0-9a-f]{2})*$/, { message: () => "expected lowercase hexadecimal digits, two per byte" }),
      Schema.filter((s) =>
        exact !== undefined
          ? s.length === 2 * exact || `expected ${exact} bytes (${2 * exact} hex digits), got ${s.length} digits`
          : s.length <= 2 * maxBytes || `expected at most ${maxBytes} bytes`
      )
    ),
    Schema.Uint8ArrayFromSelf,
    {
      strict: true,
      decode: (s, _o, ast) => {
        const b = fromHex(s)
        return b === undefined ? ParseResult.fail(new ParseResult.Type(ast, s, "expected hexadecimal")) : ParseResult.succeed(b)
      },
      encode: (b) => ParseResult.succeed(toHex(b))
    }
  )

/** A submitted transaction: `{ client, seq, op, signature }`. */
export const TransactionJson = Schema.Struct({
  client: HexKey,
  seq: U64FromDecimal,
  op: hexBytes(1 << 24),
  signature: hexBytes(64, 64)
})

/** Why a submitted body is not a transaction: `field` is the dotted path ("" for the whole body). */
export class BadTransactionJson extends Schema.TaggedError<BadTransactionJson>()("BadTransactionJson", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

const decodeTx = Schema.decodeUnknownEither(TransactionJson, { errors: "first", onExcessProperty: "error" })

export const decodeTransactionJson = (json: unknown): Either.Either<Transaction, BadTransactionJson> =>
  Either.mapLeft(decodeTx(json), (e) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
    return new BadTransactionJson({ field: issue?.path.map(String).join(".") ?? "", reason: issue?.message ?? "not a transaction" })
  })

export const transactionJson = (tx: Transaction) => ({
  client: toHex(tx.client),
  seq: tx.seq.toString(),
  op: toHex(tx.op),
  signature: toHex(tx.signature)
})

export const headerJson = (h: BlockHeader) => ({
  height: h.height.toString(),
  viewId: h.viewId.toString(),
  prevHash: toHex(h.prevHash),
  txRoot: toHex(h.txRoot),
  resultsRoot: toHex(h.resultsRoot),
  decisionHash: toHex(h.decisionHash),
  lastCheckpointHeight: h.lastCheckpointHeight.toString(),
  lastReconfigHeight: h.lastReconfigHeight.toString(),
  viewHash: toHex(h.viewHash),
  stateHash: toHex(h.stateHash)
})

export const decisionJson = (d: DecisionProof) => ({
  viewId: d.viewId.toString(),
  cid: d.cid.toString(),
  regency: d.regency.toString(),
  batchHash: toHex(d.batchHash),
  accepts: d.accepts.map((a) => ({ replica: a.replica, signature: toHex(a.signature) }))
})

export const certificateJson = (c: Certificate) => ({
  viewId: c.viewId.toString(),
  height: c.height.toString(),
  headerHash: toHex(c.headerHash),
  commits: c.commits.map((s) => ({ replica: s.replica, signature: toHex(s.signature) }))
})

export const viewJson = (v: ViewRecord) => ({
  id: v.id.toString(),
  n: v.n,
  f: v.f,
  members: v.members.map((m) => ({ replica: m.replica, identityKey: toHex(m.identityKey), viewKey: toHex(m.viewKey), address: m.address }))
})

export const blockJson = (block: Block, headerHash: Uint8Array, certificate: Certificate | undefined) => ({
  headerHash: toHex(headerHash),
  header: headerJson(block.header),
  transactions: block.transactions.map(transactionJson),
  results: block.results.map(toHex),
  decision: decisionJson(block.decision),
  prevCertificate: block.prevCertificate._tag === "Some" ? certificateJson(block.prevCertificate.value) : null,
  newView: block.newView._tag === "Some" ? viewJson(block.newView.value) : null,
  certificate: certificate === undefined ? null : certificateJson(certificate)
})

/** The decimal string of a u64 path segment, or undefined. */
export const parseU64 = (s: string): bigint | undefined => {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(s)) return undefined
  const v = BigInt(s)
  return v <= 0xffff_ffff_ffff_ffffn ? v : undefined
}

/** A 32-byte key as 64 lowercase hex digits, or undefined. */
export const parseKeyHex = (s: string): Uint8Array | undefined => (/^[0-9a-f]{64}$/.test(s) ? fromHex(s) : undefined)

const hash32 = hexBytes(32, 32)
const signature64 = hexBytes(64, 64)

/** A block header as `headerJson` writes it. */
export const HeaderJson = Schema.Struct({
  height: U64FromDecimal,
  viewId: U64FromDecimal,
  prevHash: hash32,
  txRoot: hash32,
  resultsRoot: hash32,
  decisionHash: hash32,
  lastCheckpointHeight: U64FromDecimal,
  lastReconfigHeight: U64FromDecimal,
  viewHash: hash32,
  stateHash: hash32
})

/** A certificate as `certificateJson` writes it. */
export const CertificateJson = Schema.Struct({
  viewId: U64FromDecimal,
  height: U64FromDecimal,
  headerHash: hash32,
  commits: Schema.Array(Schema.Struct({ replica: Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffff_ffff)), signature: signature64 }))
})

/** A Merkle path: sibling hashes as hex, at most 32 of them. */
export const MerklePathJson = Schema.Array(hash32).pipe(Schema.maxItems(32))
