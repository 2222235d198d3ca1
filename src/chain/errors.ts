/**
 * The typed errors of the chain format. Decoders return a DecodeError (never throw); chain
 * verification returns a ChainError naming the block height and a reason tag.
 */
import { Schema } from "effect"

/**
 * Bytes that are not the canonical encoding of the expected type: truncated, oversized, with
 * trailing bytes, a tag out of range, or a value its Schema rejects.
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  /** The top-level type being decoded, e.g. "Block". */
  type: Schema.String,
  /** Byte offset in the input where decoding stopped. */
  offset: Schema.Number,
  /** Field path inside the value, e.g. "transactions[3].signature" (empty at top level). */
  path: Schema.String,
  /** What the decoder expected to find there. */
  expected: Schema.String
}) {
  override get message(): string {
    const where = this.path === "" ? "" : ` (${this.path})`
    return `cannot decode ${this.type}: at byte ${this.offset}${where}: expected ${this.expected}`
  }
}

/**
 * Why a chain failed verification. Each reason names one check of src/chain/verify.ts; the
 * table in conformance/FORMAT.md (section "Verifying a chain") lists the order they run in.
 */
export const ChainErrorReason = Schema.Literal(
  /** The block's height is not the next height. */
  "BadHeight",
  /** prevHash is not the header hash of the previous block (the genesis hash for block 1). */
  "BadLink",
  /** viewId / viewHash of the header or decision proof are not the view the chain is in. */
  "WrongView",
  /** results.length differs from transactions.length. */
  "BadResultCount",
  /** txRoot is not the Merkle root of the transactions. */
  "BadTxRoot",
  /** resultsRoot is not the Merkle root of the results. */
  "BadResultsRoot",
  /** decisionHash is not the hash of the decision proof in the body. */
  "BadDecisionHash",
  /** The decision proof is for another batch or instance, names non-members, or repeats one. */
  "BadDecisionProof",
  /** Fewer signatures than the view's quorum in a decision proof or certificate. */
  "MissingSignatures",
  /** A signature (transaction, ACCEPT or COMMIT) does not verify. */
  "BadSignature",
  /** The same (client, seq) appears twice in one block. */
  "DuplicateTransaction",
  /** A certificate is missing where required, present where not allowed, or for another block. */
  "BadCertificate",
  /** A view record is inconsistent (ids, n, f, members, keys). */
  "BadViewRecord",
  /** lastReconfigHeight does not name the last block that installed a view. */
  "BadReconfigHeight",
  /** lastCheckpointHeight decreases or exceeds the block's height. */
  "BadCheckpointHeight"
)
export type ChainErrorReason = typeof ChainErrorReason.Type

/** A chain that fails verification: the first failing block's height and the reason. */
export class ChainError extends Schema.TaggedError<ChainError>()("ChainError", {
  height: Schema.BigIntFromSelf,
  reason: ChainErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `block ${this.height}: ${this.reason}: ${this.detail}`
  }
}
