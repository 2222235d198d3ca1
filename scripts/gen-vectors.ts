/**
 * Writes the conformance test vectors, conformance/vectors/*.json. Everything is derived from
 * fixed labels (keys are SHA-256 of a label; Ed25519 signing is deterministic), so running this
 * twice writes the same bytes; test/chain/vectors.test.ts checks the committed files against a
 * fresh generation and against both crypto implementations.
 *
 *   npx tsx scripts/gen-vectors.ts            writes the files
 *   npx tsx scripts/gen-vectors.ts --check    exits 1 if the committed files differ
 *
 * JSON conventions (conformance/FORMAT.md section 10): byte strings are lowercase hex, u64 values
 * are decimal strings, u32 values are numbers, an absent option is null.
 */
import { Either, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { toHex } from "../src/chain/bytes.ts"
import { Writer } from "../src/chain/codec.ts"
import { portableCrypto as crypto } from "../src/chain/crypto.ts"
import * as E from "../src/chain/encoding.ts"
import { encodeGenesisJson } from "../src/chain/genesis-json.ts"
import * as H from "../src/chain/hash.ts"
import { merkleProof, merkleRoot, merkleTags } from "../src/chain/merkle.ts"
import type * as T from "../src/chain/types.ts"
import { verifyChain } from "../src/chain/verify.ts"
import {
  ChainBuilder,
  keyPairFromLabel,
  makeDecisionProof,
  makeView,
  signBytes,
  type NextBlockOptions
} from "../test/support/chain-builder.ts"

/** A chain value as JSON: bytes to hex, bigint to decimal string, Option to null or its value. */
export const toJsonValue = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return toHex(v)
  if (typeof v === "bigint") return v.toString(10)
  if (Option.isOption(v)) return Option.isNone(v) ? null : toJsonValue(v.value)
  if (Array.isArray(v)) return v.map(toJsonValue)
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x)
    return out
  }
  return v
}

const utf8 = (s: string) => new TextEncoder().encode(s)
const hex = toHex

/** The input of decisionHash: viewId u64, cid u64, batchHash (conformance/FORMAT.md). */
const decidedBytes = (d: { readonly viewId: bigint; readonly cid: bigint; readonly batchHash: Uint8Array }): Uint8Array => {
  const w = new Writer(48)
  w.u64(d.viewId)
  w.u64(d.cid)
  w.raw(d.batchHash)
  return w.finish()
}
const SEED = "conformance"
const CHAIN_ID = "conformance-chain"

// ---------------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------------

interface EncodingCase {
  readonly type: string
  readonly name: string
  readonly value: unknown
  readonly hex: string
}

const encodingCase = <A>(type: string, name: string, encode: (a: A) => Uint8Array, value: A): EncodingCase => ({
  type,
  name,
  value: toJsonValue(value),
  hex: hex(encode(value))
})

const encodings = (b: ChainBuilder): ReadonlyArray<EncodingCase> => {
  const block1 = b.blocks[0]!
  const block2 = b.blocks[1]!
  const tx = block1.transactions[0]!
  const view = b.genesis.view
  const emptyTx: T.Transaction = { client: tx.client, seq: 0n, op: new Uint8Array(), signature: tx.signature }
  const stopData: T.StopData = {
    _tag: "StopData",
    viewId: 0n,
    regency: 1n,
    lastDecided: Option.some(block1.decision),
    lastDecidedBatch: block1.transactions,
    openCid: 2n,
    written: [{ regency: 0n, batchHash: block2.header.txRoot }],
    accepted: Option.some({ regency: 0n, batchHash: block2.header.txRoot, batch: block2.transactions }),
    signature: signBytes(
      b.views[0]!.secrets.get(1)!,
      E.stopDataSigningBytes(CHAIN_ID, {
        viewId: 0n,
        regency: 1n,
        lastDecided: Option.some(block1.decision),
        lastDecidedBatch: block1.transactions,
        openCid: 2n,
        written: [{ regency: 0n, batchHash: block2.header.txRoot }],
        accepted: Option.some({ regency: 0n, batchHash: block2.header.txRoot, batch: block2.transactions })
      })
    )
  }
  const accept = block2.decision.accepts[0]!
  return [
    encodingCase("Transaction", "signed transaction", E.encodeTransaction, tx),
    encodingCase("Transaction", "empty op, seq 0", E.encodeTransaction, emptyTx),
    encodingCase("Member", "member 0 of view 0", E.encodeMember, view.members[0]!),
    encodingCase("Member", "non-ASCII address with a byte-order mark", E.encodeMember, { ...view.members[0]!, address: "\uFEFFnœud-é.example:7000" }),
    encodingCase("ViewRecord", "view 0 (n = 4, f = 1)", E.encodeViewRecord, view),
    encodingCase("Limits", "default limits", E.encodeLimits, b.genesis.limits),
    encodingCase("Genesis", "genesis", E.encodeGenesis, b.genesis),
    encodingCase("BlockHeader", "header of block 1", E.encodeBlockHeader, block1.header),
    encodingCase("DecisionProof", "decision proof of block 1", E.encodeDecisionProof, block1.decision),
    encodingCase("Certificate", "certificate of block 1", E.encodeCertificate, b.certificates[0]!),
    encodingCase("Block", "block 1 (no certificate, no new view)", E.encodeBlock, block1),
    encodingCase("Block", "block 2 (carries block 1's certificate and installs view 1)", E.encodeBlock, block2),
    encodingCase("Reply", "reply", E.encodeReply, { _tag: "Reply", viewId: 0n, client: tx.client, seq: tx.seq, height: 1n, result: block1.results[0]! }),
    encodingCase("ConsensusMessage", "Propose", E.encodeMessage, { _tag: "Propose", viewId: 0n, cid: 2n, regency: 0n, batch: block2.transactions }),
    encodingCase("ConsensusMessage", "Write", E.encodeMessage, { _tag: "Write", viewId: 0n, cid: 2n, regency: 0n, batchHash: block2.header.txRoot }),
    encodingCase("ConsensusMessage", "Accept", E.encodeMessage, {
      _tag: "Accept",
      viewId: 0n,
      cid: 2n,
      regency: 0n,
      batchHash: block2.header.txRoot,
      signature: accept.signature
    }),
    encodingCase("ConsensusMessage", "Stop", E.encodeMessage, { _tag: "Stop", viewId: 0n, regency: 1n }),
    encodingCase("ConsensusMessage", "StopData", E.encodeMessage, stopData),
    encodingCase("ConsensusMessage", "Sync", E.encodeMessage, {
      _tag: "Sync",
      viewId: 0n,
      regency: 1n,
      cid: 2n,
      proofs: [{ replica: 1, stopData }],
      batch: block2.transactions
    }),
    encodingCase("ConsensusMessage", "Commit", E.encodeMessage, {
      _tag: "Commit",
      viewId: 0n,
      height: 1n,
      headerHash: b.certificates[0]!.headerHash,
      signature: b.certificates[0]!.commits[0]!.signature
    })
  ]
}

// ---------------------------------------------------------------------------------------------
// Decode errors
// ---------------------------------------------------------------------------------------------

interface DecodeErrorCase {
  readonly type: string
  readonly name: string
  readonly hex: string
  readonly offset: number
  readonly path: string
  readonly expected: string
}

const decoders: Record<string, (b: Uint8Array) => Either.Either<unknown, { offset: number; path: string; expected: string }>> = {
  Transaction: E.decodeTransaction,
  Member: E.decodeMember,
  ViewRecord: E.decodeViewRecord,
  Limits: E.decodeLimits,
  Genesis: E.decodeGenesis,
  BlockHeader: E.decodeBlockHeader,
  DecisionProof: E.decodeDecisionProof,
  Certificate: E.decodeCertificate,
  Block: E.decodeBlock,
  Reply: E.decodeReply,
  ConsensusMessage: E.decodeMessage
}

/** The decoder for a vector's `type`. */
export const decoderFor = (type: string) => {
  const d = decoders[type]
  if (d === undefined) throw new Error(`no decoder for ${type}`)
  return d
}

const decodeErrors = (b: ChainBuilder): ReadonlyArray<DecodeErrorCase> => {
  const tx = E.encodeTransaction(b.blocks[0]!.transactions[0]!)
  const block2 = E.encodeBlock(b.blocks[1]!)
  const view = E.encodeViewRecord(b.genesis.view)
  const genesis = E.encodeGenesis(b.genesis)
  const header = E.encodeBlockHeader(b.blocks[0]!.header)
  const with_ = (bytes: Uint8Array, at: number, value: number) => {
    const c = bytes.slice()
    c[at] = value
    return c
  }
  const certTagAt = block2.length - 1 - E.encodeViewRecord(Option.getOrThrow(b.blocks[1]!.newView)).length - 1 - E.encodeCertificate(Option.getOrThrow(b.blocks[1]!.prevCertificate)).length
  const raw: Array<{ type: string; name: string; bytes: Uint8Array }> = [
    { type: "Transaction", name: "empty input", bytes: new Uint8Array() },
    { type: "Transaction", name: "truncated inside the signature", bytes: tx.subarray(0, tx.length - 1) },
    { type: "Transaction", name: "one trailing byte", bytes: new Uint8Array([...tx, 0]) },
    { type: "Transaction", name: "op length beyond the input", bytes: with_(tx, 40, 0x7f) },
    { type: "BlockHeader", name: "truncated after the height", bytes: header.subarray(0, 8) },
    { type: "Block", name: "prevCertificate option tag 2", bytes: with_(block2, certTagAt, 2) },
    { type: "Block", name: "transaction count larger than the input", bytes: with_(block2, E.BLOCK_HEADER_SIZE + 2, 0xff) },
    { type: "Block", name: "truncated in the middle", bytes: block2.subarray(0, Math.floor(block2.length / 2)) },
    { type: "ViewRecord", name: "n does not match the member count", bytes: with_(view, view.length - 5, 5) },
    { type: "ViewRecord", name: "f is not floor((n - 1) / 3)", bytes: with_(view, view.length - 1, 2) },
    { type: "ViewRecord", name: "member count above the hard limit", bytes: new Uint8Array([...new Uint8Array(8), 0, 0, 0x04, 0x01]) },
    { type: "Genesis", name: "persistence tag 3", bytes: with_(genesis, 4 + CHAIN_ID.length + view.length, 3) },
    { type: "Genesis", name: "empty chain id", bytes: new Uint8Array([0, 0, 0, 0, ...genesis.subarray(4 + CHAIN_ID.length)]) },
    { type: "Member", name: "address is not UTF-8", bytes: new Uint8Array([0, 0, 0, 1, ...new Uint8Array(64), 0, 0, 0, 2, 0xc3, 0x28]) },
    { type: "ConsensusMessage", name: "unknown message tag 0", bytes: new Uint8Array([0]) },
    { type: "ConsensusMessage", name: "unknown message tag 8", bytes: new Uint8Array([8, 0, 0, 0]) },
    { type: "ConsensusMessage", name: "Stop truncated", bytes: new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
  ]
  return raw.map(({ type, name, bytes }) => {
    const r = decoderFor(type)(bytes)
    if (Either.isRight(r)) throw new Error(`decode-error vector "${name}" decodes`)
    return { type, name, hex: hex(bytes), offset: r.left.offset, path: r.left.path, expected: r.left.expected }
  })
}

// ---------------------------------------------------------------------------------------------
// Hashes, Merkle trees, signatures
// ---------------------------------------------------------------------------------------------

const hashes = (b: ChainBuilder) => {
  const block2 = b.blocks[1]!
  const tx = block2.transactions[0]!
  return {
    tags: { ...H.hashTags, ...Object.fromEntries(Object.entries(merkleTags).map(([k, v]) => [`merkle-${k}`, v])) },
    cases: [
      { function: "txHash", type: "Transaction", inputHex: hex(E.encodeTransaction(tx)), hash: hex(H.txHash(crypto, tx)) },
      { function: "resultHash", type: "bytes", inputHex: hex(block2.results[0]!), hash: hex(H.resultHash(crypto, block2.results[0]!)) },
      { function: "headerHash", type: "BlockHeader", inputHex: hex(E.encodeBlockHeader(block2.header)), hash: hex(H.headerHash(crypto, block2.header)) },
      { function: "genesisHash", type: "Genesis", inputHex: hex(E.encodeGenesis(b.genesis)), hash: hex(H.genesisHash(crypto, b.genesis)) },
      { function: "viewHash", type: "ViewRecord", inputHex: hex(E.encodeViewRecord(b.genesis.view)), hash: hex(H.viewHash(crypto, b.genesis.view)) },
      {
        function: "decisionHash",
        type: "viewId u64, cid u64, batchHash",
        inputHex: hex(decidedBytes(block2.decision)),
        hash: hex(H.decisionHash(crypto, block2.decision))
      }
    ],
    blocks: b.blocks.slice(0, 2).map((blk) => ({
      blockHex: hex(E.encodeBlock(blk)),
      txHashes: blk.transactions.map((t) => hex(H.txHash(crypto, t))),
      txRoot: hex(H.batchHash(crypto, blk.transactions)),
      resultHashes: blk.results.map((r) => hex(H.resultHash(crypto, r))),
      newViewHash: Option.isSome(blk.newView) ? hex(H.viewHash(crypto, blk.newView.value)) : null,
      resultsRoot: hex(H.blockResultsRoot(crypto, blk)),
      decisionHash: hex(H.decisionHash(crypto, blk.decision)),
      headerHash: hex(H.headerHash(crypto, blk.header))
    }))
  }
}

const merkle = () => {
  const leafOf = (i: number) => crypto.sha256(utf8(`leaf ${i}`))
  const trees = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13].map((n) => {
    const leaves = Array.from({ length: n }, (_, i) => leafOf(i))
    return {
      leafCount: n,
      leaves: leaves.map(hex),
      root: hex(merkleRoot(crypto, leaves)),
      proofs: leaves.map((_, i) => merkleProof(crypto, leaves, i).map(hex))
    }
  })
  const five = Array.from({ length: 5 }, (_, i) => leafOf(i))
  const root5 = hex(merkleRoot(crypto, five))
  const p4 = merkleProof(crypto, five, 4).map(hex)
  const p1 = merkleProof(crypto, five, 1).map(hex)
  const invalid = [
    { name: "leaf at another index", root: root5, leaf: hex(five[1]!), index: 2, leafCount: 5, proof: p1 },
    { name: "claimed leaf count differs", root: root5, leaf: hex(five[4]!), index: 2, leafCount: 3, proof: p4 },
    { name: "sibling changed", root: root5, leaf: hex(five[1]!), index: 1, leafCount: 5, proof: [hex(new Uint8Array(32)), ...p1.slice(1)] },
    { name: "extra hash", root: root5, leaf: hex(five[1]!), index: 1, leafCount: 5, proof: [...p1, p1[0]!] },
    { name: "missing hash", root: root5, leaf: hex(five[1]!), index: 1, leafCount: 5, proof: p1.slice(0, -1) },
    { name: "index out of range", root: root5, leaf: hex(five[4]!), index: 5, leafCount: 5, proof: p4 }
  ]
  return { tags: merkleTags, trees, invalid }
}

const signatures = (b: ChainBuilder) => {
  const labels = ["alice", "bob"]
  const keys = labels.map((label) => {
    const k = keyPairFromLabel(`${SEED}/${label}`)
    return { label: `${SEED}/${label}`, seed: hex(k.secret), publicKey: hex(k.publicKey) }
  })
  const alice = keyPairFromLabel(`${SEED}/alice`)
  const block1 = b.blocks[0]!
  const payloads: Array<{ kind: string; chainId: string; fields: unknown; signingBytes: Uint8Array }> = [
    { kind: "transaction", chainId: CHAIN_ID, fields: { client: alice.publicKey, seq: 7n, op: utf8("mint 100") }, signingBytes: new Uint8Array() },
    { kind: "transaction", chainId: "another-chain", fields: { client: alice.publicKey, seq: 7n, op: utf8("mint 100") }, signingBytes: new Uint8Array() },
    { kind: "accept", chainId: CHAIN_ID, fields: { viewId: 0n, cid: 1n, regency: 0n, batchHash: block1.header.txRoot }, signingBytes: new Uint8Array() },
    { kind: "commit", chainId: CHAIN_ID, fields: { viewId: 0n, height: 1n, headerHash: b.certificates[0]!.headerHash }, signingBytes: new Uint8Array() },
    {
      kind: "stopData",
      chainId: CHAIN_ID,
      fields: { viewId: 0n, regency: 1n, lastDecided: Option.some(block1.decision), lastDecidedBatch: [], openCid: 2n, written: [], accepted: Option.none() },
      signingBytes: new Uint8Array()
    }
  ].map((p) => ({ ...p, signingBytes: signingBytesOf(p.kind, p.chainId, p.fields) }))
  return {
    note: "Keys: seed = SHA-256(\"smartchain-test-key\" 0x00 label); Ed25519 per RFC 8032 (the seed is the secret key).",
    tags: E.signingTags,
    keys,
    cases: payloads.map((p) => ({
      kind: p.kind,
      chainId: p.chainId,
      fields: toJsonValue(p.fields),
      signingBytes: hex(p.signingBytes),
      signer: hex(alice.publicKey),
      signature: hex(signBytes(alice.secret, p.signingBytes))
    }))
  }
}

/** The signing payload of a signatures.json case, from its decoded fields. */
export const signingBytesOf = (kind: string, chainId: string, fields: unknown): Uint8Array => {
  switch (kind) {
    case "transaction":
      return E.txSigningBytes(chainId, fields as Parameters<typeof E.txSigningBytes>[1])
    case "accept":
      return E.acceptSigningBytes(chainId, fields as Parameters<typeof E.acceptSigningBytes>[1])
    case "commit":
      return E.commitSigningBytes(chainId, fields as Parameters<typeof E.commitSigningBytes>[1])
    case "stopData":
      return E.stopDataSigningBytes(chainId, fields as E.StopDataUnsigned)
    default:
      throw new Error(`unknown signing payload kind ${kind}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------

const flip = (b: Uint8Array): Uint8Array => b.map((x, i) => (i === 0 ? x ^ 1 : x))

interface ChainSpec {
  readonly name: string
  readonly persistence: T.PersistenceMode
  readonly blocks: number
  readonly at?: (h: number, b: ChainBuilder) => NextBlockOptions
  readonly after?: (blocks: Array<T.Block>) => Array<T.Block>
  readonly headCertificate?: boolean
}

const buildSpec = (spec: ChainSpec) => {
  const b = new ChainBuilder({ chainId: CHAIN_ID, persistence: spec.persistence, seed: SEED })
  for (let h = 1; h <= spec.blocks; h++) b.next({ txCount: 2, ...(spec.at?.(h, b) ?? {}) })
  const blocks = spec.after ? spec.after([...b.blocks]) : b.blocks
  const headCertificate = spec.headCertificate ? b.headCertificate : undefined
  const result = verifyChain(crypto, b.genesis, blocks, headCertificate === undefined ? {} : { headCertificate })
  return {
    base: {
      name: spec.name,
      genesis: encodeGenesisJson(b.genesis),
      genesisHex: hex(E.encodeGenesis(b.genesis)),
      blocks: blocks.map((blk) => hex(E.encodeBlock(blk))),
      headCertificate: headCertificate === undefined ? null : hex(E.encodeCertificate(headCertificate))
    },
    result
  }
}

const chains = () => {
  const valid: Array<ChainSpec> = [
    { name: "weak mode, 3 blocks", persistence: "weak", blocks: 3 },
    {
      name: "strong mode, 5 blocks, view 1 installed by block 2 (members 0-3 -> 0-4), head certificate",
      persistence: "strong",
      blocks: 5,
      at: (h) => (h === 2 ? { installView: { replicas: [0, 1, 2, 3, 4] } } : {}),
      headCertificate: true
    }
  ]
  const invalid: Array<ChainSpec> = [
    { name: "block 3 missing", persistence: "weak", blocks: 4, after: (bs) => [bs[0]!, bs[1]!, bs[3]!] },
    { name: "broken link at block 2", persistence: "weak", blocks: 3, at: (h) => (h === 2 ? { header: (x) => ({ ...x, prevHash: flip(x.prevHash) }) } : {}) },
    {
      name: "transaction changed after block 2 was decided",
      persistence: "weak",
      blocks: 3,
      after: (bs) => bs.map((blk, i) => (i === 1 ? { ...blk, transactions: blk.transactions.map((t, j) => (j === 0 ? { ...t, op: flip(t.op) } : t)) } : blk))
    },
    {
      name: "result changed in block 3",
      persistence: "weak",
      blocks: 3,
      after: (bs) => bs.map((blk, i) => (i === 2 ? { ...blk, results: blk.results.map((r, j) => (j === 1 ? flip(r) : r)) } : blk))
    },
    {
      name: "new view record swapped in block 2",
      persistence: "strong",
      blocks: 3,
      at: (h) => (h === 2 ? { installView: {}, block: (x) => ({ ...x, newView: Option.some(makeView("intruder", 1n, [0, 1, 2, 3]).record) }) } : {})
    },
    { name: "decision proof of block 2 has q - 1 signatures", persistence: "weak", blocks: 3, at: (h) => (h === 2 ? { decision: (d) => ({ ...d, accepts: d.accepts.slice(1) }) } : {}) },
    {
      name: "decision proof of block 1 signed for another chain",
      persistence: "weak",
      blocks: 2,
      at: (h, b) => (h === 1 ? { decision: (d) => makeDecisionProof("another-chain", b.currentView, d) } : {})
    },
    { name: "block 4 certified by the superseded view 0 after block 2 installed view 1", persistence: "weak", blocks: 4, at: (h, b) => (h === 2 ? { installView: {} } : h === 4 ? { signingView: b.views[0]! } : {}) },
    { name: "strong mode: block 3 lacks block 2's certificate", persistence: "strong", blocks: 3, at: (h) => (h === 3 ? { block: (x) => ({ ...x, prevCertificate: Option.none() }) } : {}) },
    {
      name: "strong mode: certificate of block 1 with q - 1 COMMITs",
      persistence: "strong",
      blocks: 2,
      at: (h) => (h === 2 ? { block: (x) => ({ ...x, prevCertificate: Option.map(x.prevCertificate, (c) => ({ ...c, commits: c.commits.slice(1) })) }) } : {})
    },
    { name: "block 2 decides instance 3", persistence: "weak", blocks: 2, at: (h, b) => (h === 2 ? { decision: (d) => makeDecisionProof(CHAIN_ID, b.currentView, { ...d, cid: 3n }) } : {}) }
  ]
  return {
    valid: valid.map((spec) => {
      const { base, result } = buildSpec(spec)
      if (Either.isLeft(result)) throw new Error(`valid chain "${spec.name}" fails: ${result.left.message}`)
      const s = result.right
      return {
        ...base,
        expected: {
          blocks: s.blocks,
          transactions: s.transactions,
          views: s.views.map(String),
          headHeight: String(s.headHeight),
          headHash: hex(s.headHash),
          lastReconfigHeight: String(s.lastReconfigHeight),
          headCertified: s.headCertified
        }
      }
    }),
    invalid: invalid.map((spec) => {
      const { base, result } = buildSpec(spec)
      if (Either.isRight(result)) throw new Error(`invalid chain "${spec.name}" verifies`)
      return { ...base, expected: { height: String(result.left.height), reason: result.left.reason } }
    })
  }
}

// ---------------------------------------------------------------------------------------------

/** Every vector file: name -> JSON value. Deterministic. */
export const generateVectors = (): Record<string, unknown> => {
  const b = new ChainBuilder({ chainId: CHAIN_ID, persistence: "strong", seed: SEED })
  b.next({ txCount: 2 })
  b.next({ txCount: 3, installView: {} })
  b.next({ txCount: 1 })
  return {
    "encoding.json": { description: "Canonical encodings: decode(hex) gives value; encode(value) gives hex.", cases: encodings(b) },
    "decode-errors.json": {
      description: "Bytes every decoder must reject. offset is where decoding stops; path and expected are informative.",
      cases: decodeErrors(b)
    },
    "hashes.json": { description: "Domain-separated hashes: SHA-256(ASCII(tag) || 0x00 || input).", ...hashes(b) },
    "merkle.json": { description: "Merkle roots and inclusion proofs (sibling hashes from the leaves up).", ...merkle() },
    "signatures.json": { description: "Signing payloads and Ed25519 signatures over them.", ...signatures(b) },
    "chains.json": { description: "Chains to verify against their genesis: valid ones with their summary, invalid ones with the failing height and reason.", ...chains() }
  }
}

export const vectorsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "conformance", "vectors")

/** The exact text written for one vector file. */
export const vectorFileText = (value: unknown): string => JSON.stringify(value, null, 2) + "\n"

const main = () => {
  const check = process.argv.includes("--check")
  const files = generateVectors()
  let stale = 0
  fs.mkdirSync(vectorsDir, { recursive: true })
  for (const [name, value] of Object.entries(files)) {
    const file = path.join(vectorsDir, name)
    const text = vectorFileText(value)
    if (check) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
      if (current !== text) {
        stale++
        console.error(`${name} is out of date`)
      }
    } else {
      fs.writeFileSync(file, text)
      console.log(`wrote ${path.relative(process.cwd(), file)} (${text.length} bytes)`)
    }
  }
  if (stale > 0) process.exit(1)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
