// Establishes: the shared result format (status byte, reason code, reason text) round-trips and
// refuses anything else; the default admission policy is the genesis allow-list; op and snapshot
// decoding report typed errors with the offset where they stopped, never throwing.
import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  ResultStatus,
  appContext,
  decodeOpWith,
  decodeResult,
  defaultAdmitJoin,
  failedResult,
  okResult,
  reasonTextBytesMax,
  restoreWith
} from "../../src/app/application.ts"
import type { Genesis } from "../../src/chain/types.ts"
import { clientKey, crypto } from "./support.ts"

describe("results", () => {
  it("ok results carry their body; failed results their reason code and text", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 50 }), fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 40 }), (body, code, text) => {
        const ok = okResult(body)
        expect(ok[0]).toBe(ResultStatus.ok)
        expect(decodeResult(ok)).toEqual(Either.right({ _tag: "Ok", body }))
        const failed = failedResult(code, text)
        expect(failed[0]).toBe(ResultStatus.failed)
        expect(decodeResult(failed)).toEqual(Either.right({ _tag: "Failed", reason: code, text }))
      })
    )
  })

  it("refuses an empty result, an unknown status, a truncated or extended failure, and overlong text", () => {
    const failed = failedResult(3, "why")
    for (const bad of [new Uint8Array(0), Uint8Array.of(2), failed.subarray(0, failed.length - 1), Uint8Array.of(...failed, 0)])
      expect(Either.isLeft(decodeResult(bad))).toBe(true)
    expect(() => failedResult(1, "x".repeat(reasonTextBytesMax + 1))).toThrow(RangeError)
    expect(failedResult(1, "x".repeat(reasonTextBytesMax)).length).toBe(6 + reasonTextBytesMax)
  })
})

describe("admission and decoding helpers", () => {
  it("the default admission policy admits exactly the keys on the genesis allow-list", () => {
    const genesis = { admission: [clientKey(1), clientKey(5)] } as unknown as Genesis
    expect([0, 1, 5, 6].map((i) => defaultAdmitJoin(undefined, genesis, clientKey(i)))).toEqual([false, true, true, false])
  })

  it("decoders report where they stopped; exceptions inside a reader become typed errors", () => {
    const op = decodeOpWith("test", Uint8Array.of(1, 2, 3), (r) => r.u8())
    expect(Either.isLeft(op) && op.left.reason === "Malformed" && op.left.offset === 1).toBe(true)
    const thrown = decodeOpWith("test", Uint8Array.of(1), () => {
      throw new Error("boom")
    })
    expect(Either.isLeft(thrown) && thrown.left._tag === "OpDecodeError").toBe(true)
    const snap = restoreWith("test", Uint8Array.of(1), (r) => r.u32())
    expect(Either.isLeft(snap) && snap.left._tag === "AppError" && snap.left.offset === 0).toBe(true)
    expect(Either.isLeft(snap) && snap.left.message).toMatch(/corrupt test snapshot/)
  })

  it("appContext carries chain id, height, minters and optional transaction hashes", () => {
    const g = { chainId: "c", minters: [clientKey(1)] }
    expect(appContext(crypto, g, 4n)).toEqual({ crypto, chainId: "c", height: 4n, minters: g.minters })
    expect(appContext(crypto, g, 4n, []).txHashes).toEqual([])
  })
})
