// Establishes: every chain hash is SHA-256 over its own domain tag, a zero byte and the canonical
// encoding; tags are distinct; the batch hash is the txRoot; the new view is committed by resultsRoot.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import { concatBytes, tagPrefix, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import * as E from "../../src/chain/encoding.ts"
import * as H from "../../src/chain/hash.ts"
import { merkleRoot, merkleTags } from "../../src/chain/merkle.ts"
import { buildChain } from "../support/chain-builder.ts"

const u64 = (v: bigint): Uint8Array => {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, v)
  return out
}

describe("domain-separated hashes", () => {
  const chain = buildChain({ blocks: 3, txPerBlock: 3, viewChangeAt: 2 })
  const block = chain.blocks[1]!
  const manual = (tag: string, bytes: Uint8Array) => toHex(crypto.sha256(concatBytes(tagPrefix(tag), bytes)))

  it("each hash is SHA-256(tag || 0x00 || encoding)", () => {
    const tx = block.transactions[0]!
    expect(toHex(H.txHash(crypto, tx))).toBe(manual(H.hashTags.transaction, E.encodeTransaction(tx)))
    expect(toHex(H.headerHash(crypto, block.header))).toBe(manual(H.hashTags.header, E.encodeBlockHeader(block.header)))
    expect(toHex(H.genesisHash(crypto, chain.genesis))).toBe(manual(H.hashTags.genesis, E.encodeGenesis(chain.genesis)))
    expect(toHex(H.viewHash(crypto, chain.genesis.view))).toBe(manual(H.hashTags.view, E.encodeViewRecord(chain.genesis.view)))
    const d = block.decision
    const decided = concatBytes(u64(d.viewId), u64(d.cid), d.batchHash)
    expect(toHex(H.decisionHash(crypto, d))).toBe(manual(H.hashTags.decision, decided))
    expect(toHex(H.resultHash(crypto, block.results[0]!))).toBe(manual(H.hashTags.result, block.results[0]!))
  })

  it("decisionHash commits to view, cid and batch, not to which valid ACCEPT set or regency a replica holds", () => {
    const d = block.decision
    const other = { ...d, regency: d.regency + 1n, accepts: [...d.accepts].reverse().slice(1) }
    expect(toHex(H.decisionHash(crypto, other))).toBe(toHex(H.decisionHash(crypto, d)))
    expect(toHex(H.decisionHash(crypto, { ...d, cid: d.cid + 1n }))).not.toBe(toHex(H.decisionHash(crypto, d)))
    expect(toHex(H.decisionHash(crypto, { ...d, viewId: d.viewId + 1n }))).not.toBe(toHex(H.decisionHash(crypto, d)))
    const flipped = d.batchHash.slice()
    flipped[0] = flipped[0]! ^ 1
    expect(toHex(H.decisionHash(crypto, { ...d, batchHash: flipped }))).not.toBe(toHex(H.decisionHash(crypto, d)))
  })

  it("all domain tags (hashes, Merkle nodes, signatures) are distinct ASCII strings", () => {
    const tags = [...Object.values(H.hashTags), ...Object.values(merkleTags), ...Object.values(E.signingTags)]
    expect(new Set(tags).size).toBe(tags.length)
    for (const t of tags) expect(/^[\x21-\x7e]+$/.test(t)).toBe(true)
    for (const a of tags) for (const b of tags) if (a !== b) expect(b.startsWith(a)).toBe(false)
  })

  it("batchHash is the Merkle root over txHash leaves and equals the header's txRoot", () => {
    const leaves = block.transactions.map((tx) => H.txHash(crypto, tx))
    expect(toHex(H.batchHash(crypto, block.transactions))).toBe(toHex(merkleRoot(crypto, leaves)))
    expect(toHex(H.batchHash(crypto, block.transactions))).toBe(toHex(block.header.txRoot))
    expect(toHex(block.decision.batchHash)).toBe(toHex(block.header.txRoot))
  })

  it("resultsRoot covers the results, plus the new view's hash on a reconfiguration block", () => {
    expect(Option.isSome(block.newView)).toBe(true)
    const nv = Option.getOrThrow(block.newView)
    const leaves = [...block.results.map((r) => H.resultHash(crypto, r)), H.viewHash(crypto, nv)]
    expect(toHex(H.blockResultsRoot(crypto, block))).toBe(toHex(merkleRoot(crypto, leaves)))
    expect(toHex(H.blockResultsRoot(crypto, block))).toBe(toHex(block.header.resultsRoot))
    expect(toHex(H.resultsRoot(crypto, block.results))).not.toBe(toHex(block.header.resultsRoot))
    const plain = chain.blocks[0]!
    expect(toHex(H.resultsRoot(crypto, plain.results))).toBe(toHex(plain.header.resultsRoot))
  })

  it("changing any header field changes the header hash", () => {
    const h = block.header
    const base = toHex(H.headerHash(crypto, h))
    const flip = (b: Uint8Array) => b.map((x, i) => (i === 31 ? x ^ 1 : x))
    const variants = [
      { ...h, height: h.height + 1n },
      { ...h, viewId: h.viewId + 1n },
      { ...h, prevHash: flip(h.prevHash) },
      { ...h, txRoot: flip(h.txRoot) },
      { ...h, resultsRoot: flip(h.resultsRoot) },
      { ...h, decisionHash: flip(h.decisionHash) },
      { ...h, lastCheckpointHeight: h.lastCheckpointHeight + 1n },
      { ...h, lastReconfigHeight: h.lastReconfigHeight + 1n },
      { ...h, viewHash: flip(h.viewHash) },
      { ...h, stateHash: flip(h.stateHash) }
    ]
    for (const v of variants) expect(toHex(H.headerHash(crypto, v))).not.toBe(base)
  })
})
