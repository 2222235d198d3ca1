// Establishes: every chain type round-trips through its canonical binary encoding, decoded values
// satisfy the type's Schema, and malformed bytes of every kind give a typed DecodeError, never a throw.
import { Either, Option, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeWith, encodeWith } from "../../src/chain/codec.ts"
import type { Codec } from "../../src/chain/codec.ts"
import * as E from "../../src/chain/encoding.ts"
import { DecodeError } from "../../src/chain/errors.ts"
import * as T from "../../src/chain/types.ts"
import { toHex } from "../../src/chain/bytes.ts"
import * as A from "./arbitraries.ts"

interface Case<X> {
  readonly name: string
  readonly arb: fc.Arbitrary<X>
  readonly codec: Codec<X>
  readonly encode: (x: X) => Uint8Array
  readonly decode: (b: Uint8Array) => Either.Either<X, DecodeError>
  readonly fromBytes: Schema.Schema<X, Uint8Array>
  readonly schema: Schema.Schema<X, X>
}

const cases: ReadonlyArray<Case<never>> = [
  { name: "Transaction", arb: A.transaction, codec: E.transactionCodec, encode: E.encodeTransaction, decode: E.decodeTransaction, fromBytes: E.TransactionFromBytes, schema: T.Transaction },
  { name: "BlockHeader", arb: A.blockHeader, codec: E.blockHeaderCodec, encode: E.encodeBlockHeader, decode: E.decodeBlockHeader, fromBytes: E.BlockHeaderFromBytes, schema: T.BlockHeader },
  { name: "Block", arb: A.block, codec: E.blockCodec, encode: E.encodeBlock, decode: E.decodeBlock, fromBytes: E.BlockFromBytes, schema: T.Block },
  { name: "Member", arb: A.member, codec: E.memberCodec, encode: E.encodeMember, decode: E.decodeMember, fromBytes: E.MemberFromBytes, schema: T.Member },
  { name: "ViewRecord", arb: A.viewRecord, codec: E.viewRecordCodec, encode: E.encodeViewRecord, decode: E.decodeViewRecord, fromBytes: E.ViewRecordFromBytes, schema: T.ViewRecord },
  { name: "Limits", arb: A.limits, codec: E.limitsCodec, encode: E.encodeLimits, decode: E.decodeLimits, fromBytes: E.LimitsFromBytes, schema: T.Limits },
  { name: "Genesis", arb: A.genesis, codec: E.genesisCodec, encode: E.encodeGenesis, decode: E.decodeGenesis, fromBytes: E.GenesisFromBytes, schema: T.Genesis },
  { name: "DecisionProof", arb: A.decisionProof, codec: E.decisionProofCodec, encode: E.encodeDecisionProof, decode: E.decodeDecisionProof, fromBytes: E.DecisionProofFromBytes, schema: T.DecisionProof },
  { name: "Certificate", arb: A.certificate, codec: E.certificateCodec, encode: E.encodeCertificate, decode: E.decodeCertificate, fromBytes: E.CertificateFromBytes, schema: T.Certificate },
  { name: "Reply", arb: A.reply, codec: E.replyCodec, encode: E.encodeReply, decode: E.decodeReply, fromBytes: E.ReplyFromBytes, schema: T.Reply },
  { name: "ConsensusMessage", arb: A.consensusMessage, codec: E.consensusMessageCodec, encode: E.encodeMessage, decode: E.decodeMessage, fromBytes: E.ConsensusMessageFromBytes, schema: T.ConsensusMessage }
] as unknown as ReadonlyArray<Case<never>>

const hex = (b: Uint8Array) => toHex(b)
const fromHexStr = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16))

/** Decoding must return an Either; if it decodes, re-encoding must give the same bytes back. */
const checkCanonical = <X>(c: Case<X>, bytes: Uint8Array): Either.Either<X, DecodeError> => {
  const r = c.decode(bytes)
  if (Either.isRight(r)) expect(hex(c.encode(r.right))).toBe(hex(bytes))
  else expect(r.left).toBeInstanceOf(DecodeError)
  return r
}

describe.each(cases)("$name encoding", (c0) => {
  const c = c0 as unknown as Case<unknown>

  it(`${c.name}: decode(encode(x)) = x and re-encodes to the same bytes`, () => {
    fc.assert(
      fc.property(c.arb, (x) => {
        const bytes = c.encode(x)
        const back = c.decode(bytes)
        expect(Either.isRight(back)).toBe(true)
        const v = Either.getOrThrow(back)
        expect(v).toEqual(x)
        expect(hex(c.encode(v))).toBe(hex(bytes))
      }),
      { numRuns: 150 }
    )
  })

  it(`${c.name}: decoded values satisfy the shared Schema, and ${c.name}FromBytes agrees with the fast path`, () => {
    const decodeSchema = Schema.decodeUnknownEither(c.fromBytes)
    const encodeSchema = Schema.encodeEither(c.fromBytes)
    fc.assert(
      fc.property(c.arb, (x) => {
        const bytes = c.encode(x)
        const v = Either.getOrThrow(c.decode(bytes))
        expect(Schema.is(c.schema)(v)).toBe(true)
        expect(Schema.is(c.codec.schema)(v)).toBe(true)
        expect(Either.getOrThrow(decodeSchema(bytes))).toEqual(v)
        expect(hex(Either.getOrThrow(encodeSchema(v)))).toBe(hex(bytes))
      }),
      { numRuns: 60 }
    )
  })

  it(`${c.name}: random bytes give a DecodeError or a canonical value, never a throw`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = checkCanonical(c, bytes)
        if (Either.isRight(r)) expect(Schema.is(c.codec.schema)(r.right)).toBe(true)
      }),
      { numRuns: 300 }
    )
  })

  it(`${c.name}: every truncation and any trailing byte is rejected with the offset where input ended`, () => {
    fc.assert(
      fc.property(c.arb, fc.integer({ min: 0, max: 255 }), (x, extra) => {
        const bytes = c.encode(x)
        for (let cut = 0; cut < bytes.length; cut++) {
          const r = c.decode(bytes.subarray(0, cut))
          expect(Either.isLeft(r)).toBe(true)
          const e = (r as Either.Left<DecodeError, unknown>).left
          expect(e._tag).toBe("DecodeError")
          expect(e.offset).toBeLessThanOrEqual(cut)
        }
        const longer = new Uint8Array(bytes.length + 1)
        longer.set(bytes)
        longer[bytes.length] = extra
        const r = c.decode(longer)
        expect(Either.isLeft(r)).toBe(true)
        expect((r as Either.Left<DecodeError, unknown>).left.offset).toBe(bytes.length)
      }),
      { numRuns: 25 }
    )
  })

  it(`${c.name}: single-byte corruptions decode to an error or to a value that re-encodes identically`, () => {
    fc.assert(
      fc.property(c.arb, fc.nat(), fc.integer({ min: 1, max: 255 }), (x, at, delta) => {
        const bytes = c.encode(x)
        const copy = bytes.slice()
        const i = at % copy.length
        copy[i] = (copy[i]! + delta) & 0xff
        checkCanonical(c, copy)
      }),
      { numRuns: 300 }
    )
  })
})

describe("canonical encoding rules", () => {
  const view: T.ViewRecord = {
    id: 7n,
    members: [{ replica: 2, identityKey: new Uint8Array(32).fill(1), viewKey: new Uint8Array(32).fill(2), address: "a" }],
    n: 1,
    f: 0
  }

  it("an option tag other than 0 or 1 is rejected at the tag's offset", () => {
    const cert: T.Certificate = { viewId: 1n, height: 2n, headerHash: new Uint8Array(32), commits: [] }
    const header = new Uint8Array(E.BLOCK_HEADER_SIZE)
    const decision = E.encodeDecisionProof({ viewId: 0n, cid: 0n, regency: 0n, batchHash: new Uint8Array(32), accepts: [] })
    const body = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]) // no transactions, no results
    const certBytes = E.encodeCertificate(cert)
    const ok = new Uint8Array([...header, ...body, ...decision, 1, ...certBytes, 0])
    expect(Either.isRight(E.decodeBlock(ok))).toBe(true)
    const tagAt = header.length + body.length + decision.length
    const bad = ok.slice()
    bad[tagAt] = 2
    const r = E.decodeBlock(bad)
    expect(Either.isLeft(r) && r.left.offset === tagAt && r.left.path === "prevCertificate").toBe(true)
  })

  it("message tags outside 1..7 and persistence tags outside 0..2 are rejected", () => {
    for (const tag of [0, 8, 255]) expect(Either.isLeft(E.decodeMessage(new Uint8Array([tag, 0, 0])))).toBe(true)
    const stop = E.encodeMessage({ _tag: "Stop", viewId: 3n, regency: 4n })
    expect(Array.from(stop.subarray(0, 1))).toEqual([E.messageTags.Stop])
    expect(Either.getOrThrow(E.decodeMessage(stop))).toEqual({ _tag: "Stop", viewId: 3n, regency: 4n })
    const g: T.Genesis = { chainId: "c", view, persistence: "strong", minters: [], admission: [], limits: { batchTxMax: 1, batchBytesMax: 2, txBytesMax: 3, frameBytesMax: 4, checkpointInterval: 5, rotationWindow: 6, requestTimeoutMs: 7 } }
    const bytes = E.encodeGenesis(g)
    const modeAt = 4 + 1 + E.encodeViewRecord(view).length
    expect(bytes[modeAt]).toBe(2)
    const bad = bytes.slice()
    bad[modeAt] = 3
    const r = E.decodeGenesis(bad)
    expect(Either.isLeft(r) && r.left.offset === modeAt && r.left.path === "persistence").toBe(true)
  })

  it("view records whose n or f disagree with the members are rejected", () => {
    const ok = E.encodeViewRecord(view)
    expect(Either.isRight(E.decodeViewRecord(ok))).toBe(true)
    const nAt = ok.length - 8
    const badN = ok.slice()
    badN[nAt + 3] = 2
    const badF = ok.slice()
    badF[ok.length - 1] = 1
    for (const b of [badN, badF]) {
      const r = E.decodeViewRecord(b)
      expect(Either.isLeft(r) && r.left.offset === 0 && /f = |n equal/.test(r.left.expected)).toBe(true)
    }
    expect(Either.isLeft(E.decodeViewRecord(E.encodeViewRecord({ ...view, members: [], n: 0, f: 0 })))).toBe(true)
  })

  it("strings must be well-formed UTF-8; a leading byte-order mark survives the round trip", () => {
    const m: T.Member = { replica: 1, identityKey: new Uint8Array(32), viewKey: new Uint8Array(32), address: "\uFEFFhost" }
    const bytes = E.encodeMember(m)
    expect(Either.getOrThrow(E.decodeMember(bytes)).address).toBe("\uFEFFhost")
    const addrAt = 4 + 64 + 4
    for (const invalid of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xff]]) {
      const b = new Uint8Array([...bytes.subarray(0, addrAt - 4), 0, 0, 0, invalid.length, ...invalid])
      const r = E.decodeMember(b)
      expect(Either.isLeft(r) && r.left.expected === "well-formed UTF-8").toBe(true)
    }
  })

  it("genesis chain ids must have 1 to 64 characters", () => {
    const g: T.Genesis = { chainId: "x", view, persistence: "weak", minters: [], admission: [], limits: { batchTxMax: 1, batchBytesMax: 2, txBytesMax: 3, frameBytesMax: 4, checkpointInterval: 5, rotationWindow: 6, requestTimeoutMs: 7 } }
    expect(Either.isRight(E.decodeGenesis(E.encodeGenesis(g)))).toBe(true)
    for (const chainId of ["", "y".repeat(65)]) {
      const r = E.decodeGenesis(E.encodeGenesis({ ...g, chainId }))
      expect(Either.isLeft(r) && r.left.path === "chainId").toBe(true)
    }
  })

  it("huge counts and lengths are rejected before anything is allocated", () => {
    // A Propose claiming 2^32 - 1 transactions in 13 bytes.
    const r1 = E.decodeMessage(new Uint8Array([1, ...new Uint8Array(24), 0xff, 0xff, 0xff, 0xff]))
    expect(Either.isLeft(r1) && /at most/.test(r1.left.expected)).toBe(true)
    // A Propose claiming 1000 transactions but holding none.
    const r2 = E.decodeMessage(new Uint8Array([1, ...new Uint8Array(24), 0, 0, 0x03, 0xe8]))
    expect(Either.isLeft(r2) && r2.left.offset === 25 && /1000 elements/.test(r2.left.expected)).toBe(true)
    // A transaction whose op claims 4 GiB.
    const r3 = E.decodeTransaction(new Uint8Array([...new Uint8Array(40), 0xff, 0xff, 0xff, 0xff, ...new Uint8Array(64)]))
    expect(Either.isLeft(r3) && r3.left.offset === 40 && r3.left.path === "op").toBe(true)
  })

  it("non-byte input gives a DecodeError, not a throw", () => {
    const r = E.decodeBlock(undefined as unknown as Uint8Array)
    expect(Either.isLeft(r) && r.left._tag === "DecodeError").toBe(true)
    expect(Either.isLeft(decodeWith(E.u64Codec, fromHexStr("00")))).toBe(true)
  })

  it("fixed sizes: a header is 224 bytes; transactionEncodedSize is the encoded length", () => {
    fc.assert(
      fc.property(A.blockHeader, A.transaction, (h, tx) => {
        expect(E.encodeBlockHeader(h).length).toBe(E.BLOCK_HEADER_SIZE)
        expect(E.encodeTransaction(tx).length).toBe(E.transactionEncodedSize(tx))
      }),
      { numRuns: 50 }
    )
  })

  it("u64 fields are big-endian and fixed width", () => {
    expect(hex(encodeWith(E.u64Codec, 0x0102030405060708n))).toBe("0102030405060708")
    expect(hex(encodeWith(E.u32Codec, 0x0a0b0c0d))).toBe("0a0b0c0d")
    expect(Either.getOrThrow(decodeWith(E.u64Codec, fromHexStr("ffffffffffffffff")))).toBe((1n << 64n) - 1n)
  })

  it("encoders refuse values outside their type (a programmer error), instead of wrapping them", () => {
    const tx: T.Transaction = { client: new Uint8Array(32), seq: -1n, op: new Uint8Array(), signature: new Uint8Array(64) }
    expect(() => E.encodeTransaction(tx)).toThrow(RangeError)
    expect(() => E.encodeTransaction({ ...tx, seq: 1n << 64n })).toThrow(RangeError)
    expect(() => E.encodeTransaction({ ...tx, seq: 0n, client: new Uint8Array(31) })).toThrow(RangeError)
    expect(() => E.encodeReply({ _tag: "Reply", viewId: 0n, client: new Uint8Array(32), seq: 0n, height: 0n, result: new Uint8Array() })).not.toThrow()
    expect(() => encodeWith(E.u32Codec, 2 ** 32)).toThrow(RangeError)
  })

  it("options encode absent as 00 and present as 01 followed by the value", () => {
    const c = E.certificateCodec
    const none = E.encodeBlock({
      header: Either.getOrThrow(E.decodeBlockHeader(new Uint8Array(E.BLOCK_HEADER_SIZE))),
      transactions: [],
      results: [],
      decision: { viewId: 0n, cid: 0n, regency: 0n, batchHash: new Uint8Array(32), accepts: [] },
      prevCertificate: Option.none(),
      newView: Option.none()
    })
    expect(hex(none.subarray(none.length - 2))).toBe("0000")
    expect(c.minSize).toBe(8 + 8 + 32 + 4)
  })
})

describe("signing payloads", () => {
  const txFields = { client: new Uint8Array(32).fill(9), seq: 5n, op: new Uint8Array([1, 2, 3]) }
  const acceptFields = { viewId: 1n, cid: 2n, regency: 3n, batchHash: new Uint8Array(32).fill(4) }
  const commitFields = { viewId: 1n, height: 2n, headerHash: new Uint8Array(32).fill(4) }
  const stopData = {
    viewId: 1n,
    regency: 2n,
    lastDecided: Option.none(),
    lastDecidedBatch: [],
    openCid: 3n,
    written: [],
    accepted: Option.none()
  }

  it("each payload starts with its ASCII tag, a zero byte and the length-prefixed chain id", () => {
    const check = (bytes: Uint8Array, tag: string, chainId: string) => {
      const prefix = new TextEncoder().encode(`${tag}\u0000`)
      expect(hex(bytes.subarray(0, prefix.length))).toBe(hex(prefix))
      const view = new DataView(bytes.buffer, bytes.byteOffset)
      expect(view.getUint32(prefix.length)).toBe(new TextEncoder().encode(chainId).length)
    }
    check(E.txSigningBytes("chain-A", txFields), E.signingTags.transaction, "chain-A")
    check(E.acceptSigningBytes("chain-A", acceptFields), E.signingTags.accept, "chain-A")
    check(E.commitSigningBytes("chain-A", commitFields), E.signingTags.commit, "chain-A")
    check(E.stopDataSigningBytes("chain-A", stopData), E.signingTags.stopData, "chain-A")
  })

  it("payloads differ between chains, between kinds, and when any signed field changes", () => {
    const all = [
      E.txSigningBytes("a", txFields),
      E.txSigningBytes("b", txFields),
      E.txSigningBytes("a", { ...txFields, seq: 6n }),
      E.txSigningBytes("a", { ...txFields, op: new Uint8Array([1, 2]) }),
      E.acceptSigningBytes("a", acceptFields),
      E.acceptSigningBytes("a", { ...acceptFields, regency: 4n }),
      E.commitSigningBytes("a", commitFields),
      E.commitSigningBytes("a", { ...commitFields, height: 3n }),
      E.stopDataSigningBytes("a", stopData),
      E.stopDataSigningBytes("a", { ...stopData, openCid: 4n })
    ].map(hex)
    expect(new Set(all).size).toBe(all.length)
  })

  it("STOPDATA's payload is the message encoding minus tag byte and signature, after the prefix", () => {
    fc.assert(
      fc.property(A.stopData, (s) => {
        const { signature, _tag, ...unsigned } = s
        void _tag
        const payload = E.stopDataSigningBytes("c", unsigned)
        const message = E.encodeMessage(s)
        const prefixLength = E.signingTags.stopData.length + 1 + 4 + 1
        expect(hex(payload.subarray(prefixLength))).toBe(hex(message.subarray(1, message.length - signature.length)))
      }),
      { numRuns: 50 }
    )
  })
})
