import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { asciiBytes, toHex } from "../../src/chain/bytes.ts"
import { DecodeError } from "../../src/chain/errors.ts"
import type { ReconfigRequest } from "../../src/reconfiguration/requests.ts"
import {
  decodeReconfigOp,
  encodeReconfigOp,
  isReconfigOp,
  joinSigningBytes,
  reconfigTag,
  rotateSigningBytes
} from "../../src/reconfiguration/requests.ts"

const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })

const request: fc.Arbitrary<ReconfigRequest> = fc.oneof(
  fc.record({
    _tag: fc.constant("Join" as const),
    viewId: u64,
    address: fc.string({ minLength: 1, maxLength: 256, unit: "grapheme" }).filter((s) => s.length >= 1 && s.length <= 256),
    viewKey: bytesN(32),
    possession: bytesN(64)
  }),
  fc.record({ _tag: fc.constant("Leave" as const), viewId: u64 }),
  fc.record({ _tag: fc.constant("Remove" as const), viewId: u64, target: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  fc.record({ _tag: fc.constant("Rotate" as const), nextViewId: u64, viewKey: bytesN(32), current: bytesN(64), possession: bytesN(64) })
)

const TAG_HEX = toHex(asciiBytes(reconfigTag)) + "00"

describe("reconfiguration requests: canonical binary encoding", () => {
  it("every request round-trips, re-encodes to the same bytes and is recognised by its tag", () => {
    fc.assert(
      fc.property(request, (r) => {
        const bytes = encodeReconfigOp(r)
        expect(isReconfigOp(bytes)).toBe(true)
        const back = decodeReconfigOp(bytes)
        expect(Either.isRight(back)).toBe(true)
        if (Either.isRight(back)) {
          expect(back.right).toEqual(r)
          expect(toHex(encodeReconfigOp(back.right))).toBe(toHex(bytes))
        }
      }),
      { numRuns: 300 }
    )
  })

  it("fixed vectors: LEAVE(view 7) and REMOVE(view 1, target 3) are the tag, the kind byte, then big-endian fields", () => {
    expect(toHex(encodeReconfigOp({ _tag: "Leave", viewId: 7n }))).toBe(TAG_HEX + "02" + "0000000000000007")
    expect(toHex(encodeReconfigOp({ _tag: "Remove", viewId: 1n, target: 3 }))).toBe(TAG_HEX + "03" + "0000000000000001" + "00000003")
    const join = encodeReconfigOp({ _tag: "Join", viewId: 0n, address: "h:1", viewKey: new Uint8Array(32).fill(0xaa), possession: new Uint8Array(64).fill(0xbb) })
    expect(toHex(join)).toBe(TAG_HEX + "01" + "0000000000000000" + "00000003" + "683a31" + "aa".repeat(32) + "bb".repeat(64))
  })

  it("truncated, extended and mutated encodings give a DecodeError (never a throw, never a different request)", () => {
    fc.assert(
      fc.property(request, fc.nat(), fc.integer({ min: 0, max: 255 }), (r, at, byte) => {
        const bytes = encodeReconfigOp(r)
        const cut = decodeReconfigOp(bytes.subarray(0, at % bytes.length))
        expect(Either.isLeft(cut) && cut.left instanceof DecodeError).toBe(true)
        const longer = new Uint8Array(bytes.length + 1)
        longer.set(bytes)
        expect(Either.isLeft(decodeReconfigOp(longer))).toBe(true)
        const mutated = bytes.slice()
        const i = at % bytes.length
        mutated[i] = byte
        const m = decodeReconfigOp(mutated)
        if (Either.isRight(m)) expect(toHex(encodeReconfigOp(m.right))).toBe(toHex(mutated))
      }),
      { numRuns: 300 }
    )
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void decodeReconfigOp(b)))
  })

  it("unknown kinds, another tag, and addresses outside 1..256 characters are refused naming what was expected", () => {
    const leave = encodeReconfigOp({ _tag: "Leave", viewId: 1n })
    const kind = leave.slice()
    kind[reconfigTag.length + 1] = 9
    const k = decodeReconfigOp(kind)
    expect(Either.isLeft(k) && k.left.expected).toMatch(/tag in/)
    const tag = leave.slice()
    tag[0] = 0x53
    const t = decodeReconfigOp(tag)
    expect(Either.isLeft(t) && t.left.expected).toMatch(/smartchain\/reconfig\/v1/)
    expect(isReconfigOp(tag)).toBe(false)
    expect(isReconfigOp(new Uint8Array([1, 2, 3]))).toBe(false)
    const base = { _tag: "Join" as const, viewId: 0n, viewKey: new Uint8Array(32), possession: new Uint8Array(64) }
    for (const address of ["", "x".repeat(257)]) {
      const d = decodeReconfigOp(encodeReconfigOp({ ...base, address }))
      expect(Either.isLeft(d) && d.left.expected).toMatch(/address of 1 to 256/)
    }
  })

  it("view-key signing payloads are domain-separated and bind the chain, the identity key, the view and the key", () => {
    const id = new Uint8Array(32).fill(1)
    const key = new Uint8Array(32).fill(2)
    const join = joinSigningBytes("c", id, { viewId: 1n, address: "a", viewKey: key })
    const rotate = rotateSigningBytes("c", id, { nextViewId: 1n, viewKey: key })
    expect(new TextDecoder().decode(join.subarray(0, 24))).toBe("smartchain/sign/join/v1\u0000")
    expect(new TextDecoder().decode(rotate.subarray(0, 26))).toBe("smartchain/sign/rotate/v1\u0000")
    const variants = [
      rotateSigningBytes("d", id, { nextViewId: 1n, viewKey: key }),
      rotateSigningBytes("c", key, { nextViewId: 1n, viewKey: key }),
      rotateSigningBytes("c", id, { nextViewId: 2n, viewKey: key }),
      rotateSigningBytes("c", id, { nextViewId: 1n, viewKey: id })
    ]
    for (const v of variants) expect(toHex(v)).not.toBe(toHex(rotate))
  })
})
