/**
 * Merkle trees over byte-string leaves (transaction hashes, result hashes).
 *
 *   leaf node   = SHA-256( "smartchain/merkle/leaf/v1" || 0x00 || leaf )
 *   inner node  = SHA-256( "smartchain/merkle/node/v1" || 0x00 || left || right )
 *   root        = SHA-256( "smartchain/merkle/root/v1" || 0x00 || u32 leafCount || top )
 *
 * `top` is the single node left when the tree is built level by level from the leaf nodes:
 * adjacent nodes are paired left to right, and when a level has an odd count its last node is
 * carried up unchanged (never paired with a copy of itself). The empty tree has no top: its
 * root is SHA-256("smartchain/merkle/root/v1" || 0x00 || 00 00 00 00).
 *
 * Why this shape: no node is duplicated, so different leaf lists never share a root (Bitcoin's
 * scheme gives [a, b, c] and [a, b, c, c] the same root); leaf and inner nodes hash under
 * different tags, so an inner node can never be presented as a leaf; and the root commits to
 * the leaf count, so a proof cannot pass a leaf off at another position by claiming another
 * count. The shape depends only on the count and equals splitting the leaves at the largest
 * power of two below the count, recursively.
 *
 * An inclusion proof lists the sibling hashes from the leaf level up, skipping the levels where
 * the node is carried up without a sibling. Whether a sibling sits left or right follows from
 * the index and the leaf count, which the verifier is given.
 */
import type { ChainCrypto } from "./crypto.ts"
import { bytesEqual, tagPrefix } from "./bytes.ts"

export const merkleTags = {
  leaf: "smartchain/merkle/leaf/v1",
  node: "smartchain/merkle/node/v1",
  root: "smartchain/merkle/root/v1"
} as const

const leafPrefix = tagPrefix(merkleTags.leaf)
const nodePrefix = tagPrefix(merkleTags.node)
const rootPrefix = tagPrefix(merkleTags.root)

/** The hash of the leaf node for one leaf. */
export const merkleLeafHash = (crypto: ChainCrypto, leaf: Uint8Array): Uint8Array => {
  const buf = new Uint8Array(leafPrefix.length + leaf.length)
  buf.set(leafPrefix)
  buf.set(leaf, leafPrefix.length)
  return crypto.sha256(buf)
}

/** The hash of the inner node over two children. */
export const merkleNodeHash = (crypto: ChainCrypto, left: Uint8Array, right: Uint8Array): Uint8Array => {
  const buf = new Uint8Array(nodePrefix.length + left.length + right.length)
  buf.set(nodePrefix)
  buf.set(left, nodePrefix.length)
  buf.set(right, nodePrefix.length + left.length)
  return crypto.sha256(buf)
}

/** The root over the top node of a tree of `leafCount` leaves (no top for the empty tree). */
export const merkleRootOfTop = (crypto: ChainCrypto, leafCount: number, top: Uint8Array | undefined): Uint8Array => {
  const topLength = top === undefined ? 0 : top.length
  const buf = new Uint8Array(rootPrefix.length + 4 + topLength)
  buf.set(rootPrefix)
  new DataView(buf.buffer).setUint32(rootPrefix.length, leafCount)
  if (top !== undefined) buf.set(top, rootPrefix.length + 4)
  return crypto.sha256(buf)
}

/** The root of the empty tree. */
export const merkleEmptyRoot = (crypto: ChainCrypto): Uint8Array => merkleRootOfTop(crypto, 0, undefined)

const nextLevel = (crypto: ChainCrypto, level: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const out = new Array<Uint8Array>((level.length + 1) >> 1)
  // One scratch buffer for every inner node of this level (children are 32-byte hashes).
  const buf = new Uint8Array(nodePrefix.length + 64)
  buf.set(nodePrefix)
  let j = 0
  for (let i = 0; i + 1 < level.length; i += 2) {
    buf.set(level[i] as Uint8Array, nodePrefix.length)
    buf.set(level[i + 1] as Uint8Array, nodePrefix.length + 32)
    out[j++] = crypto.sha256(buf)
  }
  if (level.length % 2 === 1) out[j] = level[level.length - 1] as Uint8Array
  return out
}

const leafLevel = (crypto: ChainCrypto, leaves: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const out = new Array<Uint8Array>(leaves.length)
  for (let i = 0; i < leaves.length; i++) out[i] = merkleLeafHash(crypto, leaves[i] as Uint8Array)
  return out
}

/** The Merkle root of the leaves (the empty-tree root when there are none). */
export const merkleRoot = (crypto: ChainCrypto, leaves: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (leaves.length > 0xffff_ffff) throw new RangeError("more than 2^32 - 1 Merkle leaves")
  if (leaves.length === 0) return merkleEmptyRoot(crypto)
  let level = leafLevel(crypto, leaves)
  while (level.length > 1) level = nextLevel(crypto, level)
  return merkleRootOfTop(crypto, leaves.length, level[0])
}

/**
 * The inclusion proof of `leaves[index]`: sibling hashes from the bottom up. The index must be
 * within the leaves (a RangeError otherwise: asking for a proof of a missing leaf is a bug).
 */
export const merkleProof = (crypto: ChainCrypto, leaves: ReadonlyArray<Uint8Array>, index: number): ReadonlyArray<Uint8Array> => {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length)
    throw new RangeError(`Merkle proof index ${index} outside 0..${leaves.length - 1}`)
  const proof: Array<Uint8Array> = []
  let level = leafLevel(crypto, leaves)
  let p = index
  while (level.length > 1) {
    if (p % 2 === 1) proof.push(level[p - 1] as Uint8Array)
    else if (p + 1 < level.length) proof.push(level[p + 1] as Uint8Array)
    level = nextLevel(crypto, level)
    p >>= 1
  }
  return proof
}

/**
 * True when `proof` shows `leaf` at `index` of a tree of `leafCount` leaves with this root. The
 * proof must have exactly the expected number of 32-byte hashes.
 */
export const verifyMerkleProof = (
  crypto: ChainCrypto,
  root: Uint8Array,
  leaf: Uint8Array,
  index: number,
  leafCount: number,
  proof: ReadonlyArray<Uint8Array>
): boolean => {
  if (!Number.isInteger(index) || !Number.isInteger(leafCount) || index < 0 || index >= leafCount || leafCount > 0xffff_ffff)
    return false
  let h = merkleLeafHash(crypto, leaf)
  let p = index
  let width = leafCount
  let used = 0
  while (width > 1) {
    if (p % 2 === 1 || p + 1 < width) {
      const sibling = proof[used++]
      if (sibling === undefined || sibling.length !== 32) return false
      h = p % 2 === 1 ? merkleNodeHash(crypto, sibling, h) : merkleNodeHash(crypto, h, sibling)
    }
    p = Math.floor(p / 2)
    width = Math.ceil(width / 2)
  }
  return used === proof.length && bytesEqual(merkleRootOfTop(crypto, leafCount, h), root)
}
