/**
 * Domain-separated hashes of chain values. Every hash is
 *
 *   SHA-256( ASCII(tag) || 0x00 || encoding )
 *
 * with a distinct tag per purpose (`hashTags`), so bytes hashed for one purpose can never be
 * taken for another. The encodings are those of ./encoding.ts (conformance/FORMAT.md).
 */
import { Option } from "effect"
import { tagPrefix } from "./bytes.ts"
import type { Codec } from "./codec.ts"
import { Writer } from "./codec.ts"
import type { ChainCrypto } from "./crypto.ts"
import {
  blockHeaderCodec,
  genesisCodec,
  transactionCodec,
  viewRecordCodec
} from "./encoding.ts"
import { merkleRoot } from "./merkle.ts"
import type { Block, BlockHeader, DecisionProof, Genesis, Transaction, ViewRecord } from "./types.ts"

/** The domain tags of the hashes (the Merkle tree's own tags are in ./merkle.ts). */
export const hashTags = {
  transaction: "smartchain/tx/v1",
  result: "smartchain/result/v1",
  header: "smartchain/header/v1",
  genesis: "smartchain/genesis/v1",
  view: "smartchain/view/v1",
  decision: "smartchain/decided/v1"
} as const

const txTag = tagPrefix(hashTags.transaction)
const resultTag = tagPrefix(hashTags.result)
const headerTag = tagPrefix(hashTags.header)
const genesisTag = tagPrefix(hashTags.genesis)
const viewTag = tagPrefix(hashTags.view)
const decisionTag = tagPrefix(hashTags.decision)

/** SHA-256 of tag prefix and raw bytes. */
export const taggedHash = (crypto: ChainCrypto, prefix: Uint8Array, data: Uint8Array): Uint8Array => {
  const buf = new Uint8Array(prefix.length + data.length)
  buf.set(prefix)
  buf.set(data, prefix.length)
  return crypto.sha256(buf)
}

const hashEncoded = <A>(crypto: ChainCrypto, prefix: Uint8Array, codec: Codec<A>, value: A, w: Writer = new Writer(512)): Uint8Array => {
  w.reset()
  w.raw(prefix)
  codec.write(w, value)
  return crypto.sha256(w.peek())
}

/**
 * Hashes already computed, per crypto implementation and transaction object: a replica hashes each
 * transaction of a batch when it writes the batch, again when it builds the block, and the
 * application once more to name outputs. Transactions are immutable values, so the object is a
 * sound key; entries go with the transaction.
 */
const txHashes = new WeakMap<ChainCrypto, WeakMap<Transaction, Uint8Array>>()

/** The transaction's hash (a fresh array each call: callers may keep or change it). */
export const txHash = (crypto: ChainCrypto, tx: Transaction): Uint8Array => {
  let known = txHashes.get(crypto)
  if (known === undefined) txHashes.set(crypto, (known = new WeakMap()))
  let hash = known.get(tx)
  if (hash === undefined) known.set(tx, (hash = hashEncoded(crypto, txTag, transactionCodec, tx)))
  return hash.slice()
}

/** Hash of one transaction result: the result bytes as they are, after the tag. */
export const resultHash = (crypto: ChainCrypto, result: Uint8Array): Uint8Array => taggedHash(crypto, resultTag, result)

/** Merkle root over the transaction hashes: a batch's hash, which is also the block's txRoot. */
export const batchHash = (crypto: ChainCrypto, txs: ReadonlyArray<Transaction>): Uint8Array => {
  const leaves = new Array<Uint8Array>(txs.length)
  for (let i = 0; i < txs.length; i++) leaves[i] = txHash(crypto, txs[i] as Transaction)
  return merkleRoot(crypto, leaves)
}

/** Alias of batchHash under the header's field name. */
export const txRoot = batchHash

/**
 * Merkle root over the result hashes, in transaction order. On a block that installs a view,
 * one more leaf follows the results: the hash of the new view record (`viewHash`). The new view
 * is an outcome of executing the block, and this is how the header (and so the decision and
 * certificate chain) commits to it; the leaf tags keep a result from passing as a view.
 */
export const resultsRoot = (crypto: ChainCrypto, results: ReadonlyArray<Uint8Array>, newView?: ViewRecord): Uint8Array => {
  const leaves = new Array<Uint8Array>(results.length + (newView === undefined ? 0 : 1))
  for (let i = 0; i < results.length; i++) leaves[i] = resultHash(crypto, results[i] as Uint8Array)
  if (newView !== undefined) leaves[results.length] = viewHash(crypto, newView)
  return merkleRoot(crypto, leaves)
}

/** The resultsRoot a block's header must carry: over its results and its new view, if any. */
export const blockResultsRoot = (crypto: ChainCrypto, block: Pick<Block, "results" | "newView">): Uint8Array =>
  resultsRoot(crypto, block.results, Option.getOrUndefined(block.newView))

export const headerHash = (crypto: ChainCrypto, header: BlockHeader): Uint8Array =>
  hashEncoded(crypto, headerTag, blockHeaderCodec, header)

/** The hash of genesis: the prevHash of block 1. */
export const genesisHash = (crypto: ChainCrypto, genesis: Genesis): Uint8Array =>
  hashEncoded(crypto, genesisTag, genesisCodec, genesis)

export const viewHash = (crypto: ChainCrypto, view: ViewRecord): Uint8Array => hashEncoded(crypto, viewTag, viewRecordCodec, view)

/**
 * The hash of what a decision proof proves: view, instance and decided batch. The regency and the
 * signatures are left out on purpose: correct replicas may hold different (equally valid) sets of
 * q ACCEPTs for the same decision, possibly from different regencies, and their headers, hence
 * their header hashes and COMMITs, must still be identical. The body's proof is checked on its
 * own (q valid ACCEPTs of the block's view on these values).
 */
export const decisionHash = (crypto: ChainCrypto, proof: Pick<DecisionProof, "viewId" | "cid" | "batchHash">): Uint8Array => {
  const w = new Writer(decisionTag.length + 48)
  w.raw(decisionTag)
  w.u64(proof.viewId)
  w.u64(proof.cid)
  w.raw(proof.batchHash)
  return crypto.sha256(w.peek())
}
