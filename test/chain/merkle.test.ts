// Establishes: Merkle roots are domain-separated, commit to the leaf count, never collide by
// duplication, match the recursive power-of-two split, and proofs verify for every index and
// fail when anything about them is changed.
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { concatBytes, tagPrefix, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import {
  merkleEmptyRoot,
  merkleLeafHash,
  merkleNodeHash,
  merkleProof,
  merkleRoot,
  merkleRootOfTop,
  merkleTags,
  verifyMerkleProof
} from "../../src/chain/merkle.ts"

const leaf = (i: number) => new Uint8Array([i & 0xff, (i >> 8) & 0xff, 7])
const leavesArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 40 })

/** The recursive definition: split at the largest power of two strictly below n. */
const recursiveTop = (leaves: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (leaves.length === 1) return merkleLeafHash(crypto, leaves[0]!)
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return merkleNodeHash(crypto, recursiveTop(leaves.slice(0, k)), recursiveTop(leaves.slice(k)))
}

describe("Merkle roots", () => {
  it("node hashes are SHA-256 over tag, zero byte and the children, as FORMAT.md states", () => {
    const a = new Uint8Array(32).fill(1)
    const b = new Uint8Array(32).fill(2)
    expect(toHex(merkleLeafHash(crypto, a))).toBe(toHex(crypto.sha256(concatBytes(tagPrefix(merkleTags.leaf), a))))
    expect(toHex(merkleNodeHash(crypto, a, b))).toBe(toHex(crypto.sha256(concatBytes(tagPrefix(merkleTags.node), a, b))))
    expect(toHex(merkleEmptyRoot(crypto))).toBe(toHex(crypto.sha256(concatBytes(tagPrefix(merkleTags.root), new Uint8Array(4)))))
    expect(toHex(merkleRoot(crypto, []))).toBe(toHex(merkleEmptyRoot(crypto)))
  })

  it("one leaf: root = H(root tag, count 1, leaf node); three leaves: the third is carried up", () => {
    const [x, y, z] = [leaf(1), leaf(2), leaf(3)]
    const lx = merkleLeafHash(crypto, x)
    expect(toHex(merkleRoot(crypto, [x]))).toBe(toHex(crypto.sha256(concatBytes(tagPrefix(merkleTags.root), new Uint8Array([0, 0, 0, 1]), lx))))
    const top3 = merkleNodeHash(crypto, merkleNodeHash(crypto, lx, merkleLeafHash(crypto, y)), merkleLeafHash(crypto, z))
    expect(toHex(merkleRoot(crypto, [x, y, z]))).toBe(toHex(merkleRootOfTop(crypto, 3, top3)))
  })

  it("the level-by-level tree equals the recursive largest-power-of-two split for every size", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i))
      expect(toHex(merkleRoot(crypto, leaves))).toBe(toHex(merkleRootOfTop(crypto, n, recursiveTop(leaves))))
    }
  })

  it("duplicating the last leaf changes the root (no Bitcoin-style collision)", () => {
    for (let n = 1; n <= 17; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(i))
      const dup = [...leaves, leaves[n - 1]!]
      expect(toHex(merkleRoot(crypto, dup))).not.toBe(toHex(merkleRoot(crypto, leaves)))
    }
  })

  it("an inner node presented as a leaf does not reproduce the root", () => {
    const leaves = [leaf(1), leaf(2), leaf(3), leaf(4)]
    const inner = [
      merkleNodeHash(crypto, merkleLeafHash(crypto, leaves[0]!), merkleLeafHash(crypto, leaves[1]!)),
      merkleNodeHash(crypto, merkleLeafHash(crypto, leaves[2]!), merkleLeafHash(crypto, leaves[3]!))
    ]
    expect(toHex(merkleRoot(crypto, inner))).not.toBe(toHex(merkleRoot(crypto, leaves)))
  })

  it("distinct leaf lists have distinct roots", () => {
    fc.assert(
      fc.property(leavesArb, leavesArb, (a, b) => {
        const same = a.length === b.length && a.every((x, i) => toHex(x) === toHex(b[i]!))
        expect(toHex(merkleRoot(crypto, a)) === toHex(merkleRoot(crypto, b))).toBe(same)
      }),
      { numRuns: 100 }
    )
  })
})

describe("Merkle proofs", () => {
  it("a proof verifies for every index of random trees", () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const root = merkleRoot(crypto, leaves)
        for (let i = 0; i < leaves.length; i++) {
          const proof = merkleProof(crypto, leaves, i)
          expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(leaves.length)))
          expect(verifyMerkleProof(crypto, root, leaves[i]!, i, leaves.length, proof)).toBe(true)
        }
      }),
      { numRuns: 60 }
    )
  })

  it("tampered proofs are rejected: other leaf, index, count, sibling, missing or extra hash", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), fc.nat(), (n, a, b) => {
        const leaves = Array.from({ length: n }, (_, i) => leaf(i))
        const root = merkleRoot(crypto, leaves)
        const i = a % n
        const proof = merkleProof(crypto, leaves, i)
        const other = (i + 1 + (b % (n - 1))) % n
        expect(verifyMerkleProof(crypto, root, leaves[other]!, i, n, proof)).toBe(false)
        expect(verifyMerkleProof(crypto, root, leaves[i]!, other, n, proof)).toBe(false)
        expect(verifyMerkleProof(crypto, root, leaves[i]!, i, n + 1, proof)).toBe(false)
        expect(verifyMerkleProof(crypto, root, leaves[i]!, i, n - 1 > i ? n - 1 : n + 2, proof)).toBe(false)
        if (proof.length > 0) {
          const j = b % proof.length
          const flipped = proof.map((h, k) => (k === j ? h.map((x, m) => (m === 0 ? x ^ 1 : x)) : h))
          expect(verifyMerkleProof(crypto, root, leaves[i]!, i, n, flipped)).toBe(false)
          expect(verifyMerkleProof(crypto, root, leaves[i]!, i, n, proof.slice(1))).toBe(false)
        }
        expect(verifyMerkleProof(crypto, root, leaves[i]!, i, n, [...proof, new Uint8Array(32)])).toBe(false)
        expect(verifyMerkleProof(crypto, root, leaves[i]!, -1, n, proof)).toBe(false)
        expect(verifyMerkleProof(crypto, root, leaves[i]!, n, n, proof)).toBe(false)
      }),
      { numRuns: 150 }
    )
  })

  it("the carried-up leaf of a 3-leaf tree cannot pass as index 1 of a 2-leaf tree", () => {
    const leaves = [leaf(1), leaf(2), leaf(3)]
    const root = merkleRoot(crypto, leaves)
    const proof = merkleProof(crypto, leaves, 2)
    expect(proof.length).toBe(1)
    expect(verifyMerkleProof(crypto, root, leaves[2]!, 2, 3, proof)).toBe(true)
    expect(verifyMerkleProof(crypto, root, leaves[2]!, 1, 2, proof)).toBe(false)
  })

  it("asking for a proof outside the leaves is a RangeError (a caller bug)", () => {
    expect(() => merkleProof(crypto, [leaf(1)], 1)).toThrow(RangeError)
    expect(() => merkleProof(crypto, [], 0)).toThrow(RangeError)
  })
})
