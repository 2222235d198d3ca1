/**
 * Replies to clients: the plain Reply (src/chain/types.ts) and the certified reply of strong
 * mode, which proves one transaction's result to anyone who knows the view that certified the
 * block, with no other reply needed (PROTOCOL.md sections 4 and 7).
 *
 * A certified reply carries the block header, the block's certificate (q COMMIT signatures on the
 * header hash), the transaction and its result, the transaction's index in the block, and two
 * Merkle inclusion proofs: the transaction's hash in `txRoot` and the result's hash in
 * `resultsRoot` (src/chain/merkle.ts). The checker recomputes both leaves itself, so a reply
 * cannot attach a true result to another transaction or a forged result to a true one.
 *
 * The wire format (conformance/FORMAT.md section 11) is the codec below: `encodeCertifiedReply`
 * / `decodeCertifiedReply` for the certified reply alone and `encodeClientReply` /
 * `decodeClientReply` for the tagged union of both reply kinds that replicas send to clients.
 * Pure: no I/O.
 */
import { Either, Schema } from "effect"
import { byzantineQuorum } from "../core/quorum.ts"
import { bytesEqual } from "./bytes.ts"
import { array, decodeWith, encodeWith, taggedStruct, taggedUnion } from "./codec.ts"
import type { Codec } from "./codec.ts"
import type { ChainCrypto } from "./crypto.ts"
import {
  blockHeaderCodec,
  bytesCodec,
  certificateCodec,
  commitSigningBytes,
  hashCodec,
  replyCodec,
  transactionCodec,
  u32Codec
} from "./encoding.ts"
import type { DecodeError } from "./errors.ts"
import { headerHash, resultHash, txHash, viewHash } from "./hash.ts"
import { merkleLeafHash, merkleNodeHash, verifyMerkleProof } from "./merkle.ts"
import * as T from "./types.ts"

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** Most hashes in one Merkle path: a tree of at most 2^32 - 1 leaves has at most 32 levels. */
export const merklePathMax = 32

const MerklePath = Schema.Array(T.Hash).pipe(Schema.maxItems(merklePathMax))

/**
 * A reply proving that `transaction`, at position `index` of block `header.height`, has `result`.
 * `txCount` is the block's transaction count (the leaf count of txRoot); `resultLeafCount` is the
 * leaf count of resultsRoot: `txCount`, or `txCount + 1` on a block that installs a view (its last
 * leaf is the new view's hash, see FORMAT.md section 4).
 */
export const CertifiedReply = Schema.TaggedStruct("CertifiedReply", {
  header: T.BlockHeader,
  certificate: T.Certificate,
  transaction: T.Transaction,
  index: T.U32,
  txCount: T.U32,
  resultLeafCount: T.U32,
  result: T.Bytes,
  txPath: MerklePath,
  resultPath: MerklePath
})
export type CertifiedReply = typeof CertifiedReply.Type

/** What a replica sends a client: a plain reply, or (strong mode) a certified one. */
export const ClientReply = Schema.Union(T.Reply, CertifiedReply)
export type ClientReply = typeof ClientReply.Type

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

const merklePathCodec = array(hashCodec, merklePathMax)

export const certifiedReplyCodec: Codec<CertifiedReply> = taggedStruct(CertifiedReply, "CertifiedReply", {
  header: blockHeaderCodec,
  certificate: certificateCodec,
  transaction: transactionCodec,
  index: u32Codec,
  txCount: u32Codec,
  resultLeafCount: u32Codec,
  result: bytesCodec,
  txPath: merklePathCodec,
  resultPath: merklePathCodec
})

/** Tag bytes of the client reply union. */
export const clientReplyTags = { Reply: 1, CertifiedReply: 2 } as const

export const clientReplyCodec: Codec<ClientReply> = taggedUnion("ClientReply", ClientReply, [
  [clientReplyTags.Reply, replyCodec as Codec<ClientReply>],
  [clientReplyTags.CertifiedReply, certifiedReplyCodec as Codec<ClientReply>]
])

export const encodeCertifiedReply = (x: CertifiedReply): Uint8Array => encodeWith(certifiedReplyCodec, x, 1024 + x.result.length)
export const decodeCertifiedReply = (b: Uint8Array): Either.Either<CertifiedReply, DecodeError> => decodeWith(certifiedReplyCodec, b)
export const encodeClientReply = (x: ClientReply): Uint8Array => encodeWith(clientReplyCodec, x, 1024 + x.result.length)
export const decodeClientReply = (b: Uint8Array): Either.Either<ClientReply, DecodeError> => decodeWith(clientReplyCodec, b)

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/**
 * The Merkle path of every leaf at once: the same paths as `merkleProof` for each index, in one
 * pass over the tree instead of one pass per leaf (a block of 512 transactions needs 512 paths).
 */
export const merklePaths = (crypto: ChainCrypto, leaves: ReadonlyArray<Uint8Array>): Array<Array<Uint8Array>> => {
  const paths = leaves.map(() => new Array<Uint8Array>())
  let level = leaves.map((leaf) => merkleLeafHash(crypto, leaf))
  // positions[i]: the position of leaf i's ancestor in the current level.
  const positions = leaves.map((_, i) => i)
  while (level.length > 1) {
    for (let i = 0; i < leaves.length; i++) {
      const p = positions[i]!
      if (p % 2 === 1) paths[i]!.push(level[p - 1]!)
      else if (p + 1 < level.length) paths[i]!.push(level[p + 1]!)
      positions[i] = p >> 1
    }
    const next = new Array<Uint8Array>((level.length + 1) >> 1)
    for (let j = 0; j + 1 < level.length; j += 2) next[j >> 1] = merkleNodeHash(crypto, level[j]!, level[j + 1]!)
    if (level.length % 2 === 1) next[next.length - 1] = level[level.length - 1]!
    level = next
  }
  return paths
}

/** The leaves of a block's results tree: each result's hash, then the new view's hash if it installs one. */
export const resultLeaves = (crypto: ChainCrypto, block: T.Block): Array<Uint8Array> => {
  const leaves = block.results.map((r) => resultHash(crypto, r))
  if (block.newView._tag === "Some") leaves.push(viewHash(crypto, block.newView.value))
  return leaves
}

const assertBuildable = (block: T.Block, certificate: T.Certificate): void => {
  if (block.results.length !== block.transactions.length)
    throw new RangeError(`block ${block.header.height} has ${block.transactions.length} transactions and ${block.results.length} results`)
  if (certificate.height !== block.header.height)
    throw new RangeError(`certificate of height ${certificate.height} given for block ${block.header.height}`)
}

/**
 * The certified replies for every transaction of `block`, in block order. `certificate` must be
 * the block's certificate (a RangeError otherwise: replicas only build replies for their own
 * certified blocks, so a mismatch is a bug, not peer input).
 */
export const certifiedReplies = (crypto: ChainCrypto, block: T.Block, certificate: T.Certificate): Array<CertifiedReply> => {
  assertBuildable(block, certificate)
  const txPaths = merklePaths(crypto, block.transactions.map((tx) => txHash(crypto, tx)))
  const resultLeafList = resultLeaves(crypto, block)
  const resultPaths = merklePaths(crypto, resultLeafList)
  return block.transactions.map((transaction, index) => ({
    _tag: "CertifiedReply",
    header: block.header,
    certificate,
    transaction,
    index,
    txCount: block.transactions.length,
    resultLeafCount: resultLeafList.length,
    result: block.results[index]!,
    txPath: txPaths[index]!,
    resultPath: resultPaths[index]!
  }))
}

/** The certified reply for transaction `index` of `block` (a RangeError when there is none). */
export const certifiedReply = (crypto: ChainCrypto, block: T.Block, certificate: T.Certificate, index: number): CertifiedReply => {
  if (!Number.isInteger(index) || index < 0 || index >= block.transactions.length)
    throw new RangeError(`transaction index ${index} outside 0..${block.transactions.length - 1}`)
  const reply = certifiedReplies(crypto, block, certificate)[index]
  if (reply === undefined) throw new RangeError(`no reply for transaction ${index}`)
  return reply
}

/** The plain reply that a certified reply stands for. */
export const plainReply = (reply: CertifiedReply): T.Reply => ({
  _tag: "Reply",
  viewId: reply.header.viewId,
  client: reply.transaction.client,
  seq: reply.transaction.seq,
  height: reply.header.height,
  result: reply.result
})

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

/** Why a certified reply was rejected; FORMAT.md section 11 lists the checks in order. */
export const CertifiedReplyErrorReason = Schema.Literal(
  /** The transaction is not the one the client expects (client key, seq or hash differ). */
  "WrongTransaction",
  /** The header or certificate names another view than the trusted one, or another view hash. */
  "WrongView",
  /** The certificate is for another height or header hash than the header carried. */
  "WrongBlock",
  /** index >= txCount, or resultLeafCount is neither txCount nor txCount + 1. */
  "BadIndex",
  /** The transaction path does not lead to the header's txRoot. */
  "BadTxPath",
  /** The result path does not lead to the header's resultsRoot. */
  "BadResultPath",
  /** A COMMIT by a replica that is not a member of the view, or by one member twice. */
  "BadSigner",
  /** Fewer COMMITs than the view's quorum. */
  "MissingSignatures",
  /** A COMMIT signature does not verify. */
  "BadSignature"
)
export type CertifiedReplyErrorReason = typeof CertifiedReplyErrorReason.Type

export class CertifiedReplyError extends Schema.TaggedError<CertifiedReplyError>()("CertifiedReplyError", {
  reason: CertifiedReplyErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `certified reply rejected: ${this.reason}: ${this.detail}`
  }
}

/** A view a client trusts, prepared for checking many replies: its hash, quorum and keys. */
export interface TrustedView {
  readonly chainId: string
  readonly record: T.ViewRecord
  readonly hash: Uint8Array
  readonly quorum: number
  readonly keys: ReadonlyMap<number, Uint8Array>
}

export const trustedView = (crypto: ChainCrypto, chainId: string, record: T.ViewRecord): TrustedView => ({
  chainId,
  record,
  hash: viewHash(crypto, record),
  quorum: byzantineQuorum(record.n, record.f),
  keys: new Map(record.members.map((m) => [m.replica, m.viewKey]))
})

/** The transaction a client expects an answer for; `txHash`, when given, pins its exact bytes. */
export interface ExpectedTransaction {
  readonly client: Uint8Array
  readonly seq: bigint
  readonly txHash?: Uint8Array
}

const reject = (reason: CertifiedReplyErrorReason, detail: string) => Either.left(new CertifiedReplyError({ reason, detail }))

/**
 * Checks a certified reply against the view the client trusts and the transaction it expects.
 * Returns the plain reply it proves, or the first failed check. Signatures are checked last,
 * after every cheap check passed.
 */
export const checkCertifiedReply = (
  crypto: ChainCrypto,
  view: TrustedView,
  reply: CertifiedReply,
  expected: ExpectedTransaction
): Either.Either<T.Reply, CertifiedReplyError> => {
  const { header, certificate: cert, transaction: tx } = reply
  if (!bytesEqual(tx.client, expected.client)) return reject("WrongTransaction", "the transaction is by another client")
  if (tx.seq !== expected.seq) return reject("WrongTransaction", `the transaction has seq ${tx.seq}, expected ${expected.seq}`)
  const leaf = txHash(crypto, tx)
  if (expected.txHash !== undefined && !bytesEqual(leaf, expected.txHash))
    return reject("WrongTransaction", "the transaction differs from the one submitted")

  const certified = checkHeaderCertificate(crypto, view, header, cert, false)
  if (Either.isLeft(certified)) return Either.left(certified.left)
  if (reply.index >= reply.txCount) return reject("BadIndex", `index ${reply.index} outside a block of ${reply.txCount} transactions`)
  if (reply.resultLeafCount !== reply.txCount && reply.resultLeafCount !== reply.txCount + 1)
    return reject("BadIndex", `${reply.resultLeafCount} result leaves for ${reply.txCount} transactions`)
  if (!verifyMerkleProof(crypto, header.txRoot, leaf, reply.index, reply.txCount, reply.txPath))
    return reject("BadTxPath", `the transaction is not leaf ${reply.index} of txRoot`)
  if (!verifyMerkleProof(crypto, header.resultsRoot, resultHash(crypto, reply.result), reply.index, reply.resultLeafCount, reply.resultPath))
    return reject("BadResultPath", `the result is not leaf ${reply.index} of resultsRoot`)

  const signed = checkHeaderCertificate(crypto, view, header, cert, true)
  if (Either.isLeft(signed)) return Either.left(signed.left)
  return Either.right(plainReply(reply))
}

/**
 * Checks that `cert` certifies `header` in the trusted view: both name the view (and the header
 * its hash), the certificate names the header's height and hash, and (with `signatures`) its
 * COMMITs are by distinct members, at least q of them, each valid. Without `signatures` only the
 * cheap checks run.
 */
export const checkHeaderCertificate = (
  crypto: ChainCrypto,
  view: TrustedView,
  header: T.BlockHeader,
  cert: T.Certificate,
  signatures = true
): Either.Either<void, CertifiedReplyError> => {
  const viewId = view.record.id
  if (header.viewId !== viewId) return reject("WrongView", `the block names view ${header.viewId}, the trusted view is ${viewId}`)
  if (!bytesEqual(header.viewHash, view.hash)) return reject("WrongView", `the block's viewHash is not the hash of view ${viewId}`)
  if (cert.viewId !== viewId) return reject("WrongView", `the certificate names view ${cert.viewId}, the trusted view is ${viewId}`)

  if (cert.height !== header.height) return reject("WrongBlock", `the certificate is for height ${cert.height}, the header is ${header.height}`)
  const hash = headerHash(crypto, header)
  if (!bytesEqual(cert.headerHash, hash)) return reject("WrongBlock", "the certificate is for another header")

  if (!signatures) return Either.right(undefined)
  const seen = new Set<number>()
  for (const c of cert.commits) {
    if (!view.keys.has(c.replica)) return reject("BadSigner", `replica ${c.replica} is not a member of view ${viewId}`)
    if (seen.has(c.replica)) return reject("BadSigner", `replica ${c.replica} signs twice`)
    seen.add(c.replica)
  }
  if (cert.commits.length < view.quorum)
    return reject("MissingSignatures", `${cert.commits.length} COMMITs, view ${viewId} needs ${view.quorum}`)
  const message = commitSigningBytes(view.chainId, cert)
  for (const c of cert.commits)
    if (!crypto.verify(view.keys.get(c.replica)!, message, c.signature))
      return reject("BadSignature", `the COMMIT of replica ${c.replica} does not verify`)
  return Either.right(undefined)
}
