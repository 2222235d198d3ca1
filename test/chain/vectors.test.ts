// Establishes: the committed conformance vectors are exactly what scripts/gen-vectors.ts generates,
// and every vector (encodings, decode errors, hashes, Merkle proofs, signatures, chains) holds under
// the portable crypto and under both Crypto service implementations (node:crypto and @noble).
import { Either, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { concatBytes, fromHex, tagPrefix, toHex } from "../../src/chain/bytes.ts"
import { encodeWith } from "../../src/chain/codec.ts"
import type { Codec } from "../../src/chain/codec.ts"
import type { ChainCrypto } from "../../src/chain/crypto.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import * as E from "../../src/chain/encoding.ts"
import { decodeGenesisJson } from "../../src/chain/genesis-json.ts"
import * as H from "../../src/chain/hash.ts"
import { merkleProof, merkleRoot, verifyMerkleProof } from "../../src/chain/merkle.ts"
import type * as T from "../../src/chain/types.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import { nobleCrypto, nodeCrypto } from "../../src/services/crypto.ts"
import { decoderFor, generateVectors, signingBytesOf, toJsonValue, vectorFileText, vectorsDir } from "../../scripts/gen-vectors.ts"

/** A vector file; tests cast the parts they read to the shapes FORMAT.md section 10 gives. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type VectorFile = Record<string, any>
const read = (name: string): VectorFile => JSON.parse(fs.readFileSync(path.join(vectorsDir, name), "utf8")) as VectorFile
const bytes = (hex: string): Uint8Array => {
  const b = fromHex(hex)
  if (b === undefined) throw new Error(`bad hex in a vector: ${hex.slice(0, 20)}`)
  return b
}
const decoded = <A>(r: Either.Either<A, unknown>): A => {
  if (Either.isLeft(r)) throw new Error(`vector does not decode: ${String(r.left)}`)
  return r.right
}

const codecs: Record<string, Codec<never>> = {
  Transaction: E.transactionCodec,
  Member: E.memberCodec,
  ViewRecord: E.viewRecordCodec,
  Limits: E.limitsCodec,
  Genesis: E.genesisCodec,
  BlockHeader: E.blockHeaderCodec,
  DecisionProof: E.decisionProofCodec,
  Certificate: E.certificateCodec,
  Block: E.blockCodec,
  Reply: E.replyCodec,
  ConsensusMessage: E.consensusMessageCodec
} as unknown as Record<string, Codec<never>>

const impls: ReadonlyArray<readonly [string, ChainCrypto]> = [
  ["portable", portableCrypto],
  ["node", nodeCrypto],
  ["noble", nobleCrypto]
]

// JSON -> typed fields for the signing payload vectors.
const u64 = (s: string) => BigInt(s)
type Json = Record<string, unknown>
const decisionProofFromJson = (j: Json): T.DecisionProof => ({
  viewId: u64(j.viewId as string),
  cid: u64(j.cid as string),
  regency: u64(j.regency as string),
  batchHash: bytes(j.batchHash as string),
  accepts: (j.accepts as Array<Json>).map((a) => ({ replica: a.replica as number, signature: bytes(a.signature as string) }))
})
const signingFieldsFromJson = (kind: string, j: Json): unknown => {
  switch (kind) {
    case "transaction":
      return { client: bytes(j.client as string), seq: u64(j.seq as string), op: bytes(j.op as string) }
    case "accept":
      return { viewId: u64(j.viewId as string), cid: u64(j.cid as string), regency: u64(j.regency as string), batchHash: bytes(j.batchHash as string) }
    case "commit":
      return { viewId: u64(j.viewId as string), height: u64(j.height as string), headerHash: bytes(j.headerHash as string) }
    case "stopData": {
      const opt = (v: unknown) => (v === null ? Option.none() : Option.some(decisionProofFromJson(v as Json)))
      if (!Array.isArray(j.written) || j.written.length !== 0 || !Array.isArray(j.lastDecidedBatch) || j.lastDecidedBatch.length !== 0)
        throw new Error("the stopData vector has an empty write set and last decided batch")
      return { viewId: u64(j.viewId as string), regency: u64(j.regency as string), lastDecided: opt(j.lastDecided), lastDecidedBatch: [], openCid: u64(j.openCid as string), written: [], accepted: opt(j.accepted) }
    }
    default:
      throw new Error(`unknown kind ${kind}`)
  }
}

describe("conformance vectors", () => {
  it("the committed files are byte-for-byte what the generator writes (generation is deterministic)", () => {
    const fresh = generateVectors()
    const again = generateVectors()
    for (const [name, value] of Object.entries(fresh)) {
      expect(vectorFileText(value)).toBe(vectorFileText(again[name]))
      expect(fs.readFileSync(path.join(vectorsDir, name), "utf8")).toBe(vectorFileText(value))
    }
  })

  it("encoding.json: each hex decodes to the value and the value re-encodes to the hex", () => {
    const cases = read("encoding.json").cases as Array<{ type: string; name: string; value: unknown; hex: string }>
    expect(cases.length).toBeGreaterThan(15)
    for (const c of cases) {
      const v = decoded(decoderFor(c.type)(bytes(c.hex)))
      expect(toJsonValue(v), c.name).toEqual(c.value)
      expect(toHex(encodeWith(codecs[c.type]!, v as never)), c.name).toBe(c.hex)
    }
    expect(new Set(cases.filter((c) => c.type === "ConsensusMessage").map((c) => c.name))).toEqual(
      new Set(Object.keys(E.messageTags))
    )
  })

  it("decode-errors.json: every case is rejected at the stated offset and path", () => {
    const cases = read("decode-errors.json").cases as Array<{ type: string; name: string; hex: string; offset: number; path: string; expected: string }>
    for (const c of cases) {
      const r = decoderFor(c.type)(bytes(c.hex))
      expect(Either.isLeft(r), c.name).toBe(true)
      const e = (r as Either.Left<{ offset: number; path: string; expected: string }, unknown>).left
      expect({ offset: e.offset, path: e.path, expected: e.expected }, c.name).toEqual({ offset: c.offset, path: c.path, expected: c.expected })
    }
  })

  describe.each(impls)("with %s crypto", (_name, crypto) => {
    it("hashes.json: each hash is SHA-256(tag || 00 || input) and the block hashes match", () => {
      const v = read("hashes.json")
      const tagOf: Record<string, string> = {
        txHash: v.tags.transaction,
        resultHash: v.tags.result,
        headerHash: v.tags.header,
        genesisHash: v.tags.genesis,
        viewHash: v.tags.view,
        decisionHash: v.tags.decision
      }
      for (const c of v.cases as Array<{ function: string; type: string; inputHex: string; hash: string }>) {
        expect(toHex(crypto.sha256(concatBytes(tagPrefix(tagOf[c.function]!), bytes(c.inputHex)))), c.function).toBe(c.hash)
        const input = bytes(c.inputHex)
        const computed = (() => {
          switch (c.function) {
            case "txHash":
              return H.txHash(crypto, decoded(E.decodeTransaction(input)))
            case "resultHash":
              return H.resultHash(crypto, input)
            case "headerHash":
              return H.headerHash(crypto, decoded(E.decodeBlockHeader(input)))
            case "genesisHash":
              return H.genesisHash(crypto, decoded(E.decodeGenesis(input)))
            case "viewHash":
              return H.viewHash(crypto, decoded(E.decodeViewRecord(input)))
            default: {
              expect(input.length, "decisionHash input").toBe(48)
              const view = new DataView(input.buffer, input.byteOffset, input.length)
              return H.decisionHash(crypto, { viewId: view.getBigUint64(0), cid: view.getBigUint64(8), batchHash: input.slice(16) })
            }
          }
        })()
        expect(toHex(computed), c.function).toBe(c.hash)
      }
      for (const bv of v.blocks as Array<Record<string, unknown>>) {
        const block = decoded(E.decodeBlock(bytes(bv.blockHex as string)))
        expect(block.transactions.map((t) => toHex(H.txHash(crypto, t)))).toEqual(bv.txHashes)
        expect(toHex(H.batchHash(crypto, block.transactions))).toBe(bv.txRoot)
        expect(toHex(block.header.txRoot)).toBe(bv.txRoot)
        expect(block.results.map((r) => toHex(H.resultHash(crypto, r)))).toEqual(bv.resultHashes)
        expect(Option.isSome(block.newView) ? toHex(H.viewHash(crypto, block.newView.value)) : null).toBe(bv.newViewHash)
        expect(toHex(H.blockResultsRoot(crypto, block))).toBe(bv.resultsRoot)
        expect(toHex(H.decisionHash(crypto, block.decision))).toBe(bv.decisionHash)
        expect(toHex(H.headerHash(crypto, block.header))).toBe(bv.headerHash)
      }
    })

    it("merkle.json: roots and proofs reproduce, proofs verify, tampered proofs do not", () => {
      const v = read("merkle.json")
      for (const t of v.trees as Array<{ leafCount: number; leaves: Array<string>; root: string; proofs: Array<Array<string>> }>) {
        const leaves = t.leaves.map(bytes)
        expect(toHex(merkleRoot(crypto, leaves))).toBe(t.root)
        t.proofs.forEach((p, i) => {
          expect(merkleProof(crypto, leaves, i).map(toHex)).toEqual(p)
          expect(verifyMerkleProof(crypto, bytes(t.root), leaves[i]!, i, t.leafCount, p.map(bytes))).toBe(true)
        })
      }
      for (const c of v.invalid as Array<{ name: string; root: string; leaf: string; index: number; leafCount: number; proof: Array<string> }>)
        expect(verifyMerkleProof(crypto, bytes(c.root), bytes(c.leaf), c.index, c.leafCount, c.proof.map(bytes)), c.name).toBe(false)
    })

    it("signatures.json: payloads reproduce and signatures verify; a changed payload does not", () => {
      const v = read("signatures.json")
      for (const c of v.cases as Array<{ kind: string; chainId: string; fields: Json; signingBytes: string; signer: string; signature: string }>) {
        expect(toHex(signingBytesOf(c.kind, c.chainId, signingFieldsFromJson(c.kind, c.fields))), c.kind).toBe(c.signingBytes)
        expect(crypto.verify(bytes(c.signer), bytes(c.signingBytes), bytes(c.signature)), c.kind).toBe(true)
        const changed = bytes(c.signingBytes).map((x, i, all) => (i === all.length - 1 ? x ^ 1 : x))
        expect(crypto.verify(bytes(c.signer), changed, bytes(c.signature)), c.kind).toBe(false)
      }
    })

    it("chains.json: valid chains give the expected summary, invalid ones the expected height and reason", () => {
      const v = read("chains.json")
      const load = (c: { genesis: unknown; genesisHex: string; blocks: Array<string>; headCertificate: string | null }) => {
        const genesis = decoded(decodeGenesisJson(c.genesis))
        expect(toHex(E.encodeGenesis(genesis))).toBe(c.genesisHex)
        const blocks = c.blocks.map((b) => decoded(E.decodeBlock(bytes(b))))
        const options = c.headCertificate === null ? {} : { headCertificate: decoded(E.decodeCertificate(bytes(c.headCertificate))) }
        return verifyChain(crypto, genesis, blocks, options)
      }
      for (const c of v.valid) {
        const r = load(c)
        if (Either.isLeft(r)) throw new Error(`${c.name}: ${r.left.message}`)
        const s = r.right
        expect(
          {
            blocks: s.blocks,
            transactions: s.transactions,
            views: s.views.map(String),
            headHeight: String(s.headHeight),
            headHash: toHex(s.headHash),
            lastReconfigHeight: String(s.lastReconfigHeight),
            headCertified: s.headCertified
          },
          c.name
        ).toEqual(c.expected)
      }
      expect(v.invalid.length).toBeGreaterThanOrEqual(8)
      for (const c of v.invalid) {
        const r = load(c)
        expect(Either.isLeft(r), c.name).toBe(true)
        const e = (r as Either.Left<{ height: bigint; reason: string }, unknown>).left
        expect({ height: String(e.height), reason: e.reason }, c.name).toEqual(c.expected)
      }
    })
  })

  it("both Crypto services derive the vector keys and reproduce every signature bit for bit", () => {
    const v = read("signatures.json")
    const alice = (v.keys as Array<{ label: string; seed: string; publicKey: string }>).find((k) => k.label.endsWith("/alice"))!
    for (const impl of [nodeCrypto, nobleCrypto]) {
      for (const k of v.keys as Array<{ seed: string; publicKey: string }>) expect(toHex(impl.publicKeyFromSecret(bytes(k.seed)))).toBe(k.publicKey)
      for (const c of v.cases as Array<{ signingBytes: string; signature: string }>)
        expect(toHex(impl.sign(bytes(alice.seed), bytes(c.signingBytes))), impl.name).toBe(c.signature)
    }
  })
})
