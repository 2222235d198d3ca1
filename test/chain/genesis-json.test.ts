// Establishes: the genesis file format round-trips every valid genesis, writes keys as lowercase
// hex and u64 as decimal strings, and rejects bad files with an error naming the failing field path.
import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeGenesis } from "../../src/chain/encoding.ts"
import type { GenesisFileError } from "../../src/chain/genesis-json.ts";
import { decodeGenesisJson, decodeGenesisJsonText, encodeGenesisJson } from "../../src/chain/genesis-json.ts"
import { toHex } from "../../src/chain/bytes.ts"
import type { Genesis } from "../../src/chain/types.ts"
import { ChainBuilder } from "../support/chain-builder.ts"
import * as A from "./arbitraries.ts"

const genesis = new ChainBuilder({ persistence: "strong", minters: 2 }).genesis
const json = () => JSON.parse(JSON.stringify(encodeGenesisJson(genesis))) as Record<string, unknown> & { view: { members: Array<Record<string, unknown>> } & Record<string, unknown> }

const failure = (u: unknown): GenesisFileError => {
  const r = decodeGenesisJson(u)
  expect(Either.isLeft(r)).toBe(true)
  return (r as Either.Left<GenesisFileError, Genesis>).left
}

/** Genesis values the file format accepts: a consistent id-0 view with distinct members and keys. */
const validGenesis = A.genesis
  .map((g) => ({
    ...g,
    view: {
      ...g.view,
      id: 0n,
      members: g.view.members.map((m, i) => ({
        ...m,
        replica: i,
        identityKey: m.identityKey.map((x, j) => (j === 0 ? i : j === 1 ? 0 : x)),
        viewKey: m.viewKey.map((x, j) => (j === 0 ? i : j === 1 ? 1 : x)),
        address: `host-${i}:1`
      }))
    }
  }))

describe("genesis file", () => {
  it("JSON round trip: decode(JSON.parse(JSON.stringify(encode(g)))) = g, same binary encoding", () => {
    fc.assert(
      fc.property(validGenesis, (g) => {
        const text = JSON.stringify(encodeGenesisJson(g))
        const back = Either.getOrThrow(decodeGenesisJsonText(text))
        expect(back).toEqual(g)
        expect(toHex(encodeGenesis(back))).toBe(toHex(encodeGenesis(g)))
      }),
      { numRuns: 100 }
    )
  })

  it("keys are 64 lowercase hex digits and u64 values decimal strings", () => {
    const j = json()
    expect(j.view.id).toBe("0")
    expect(j.view.members[0]!.identityKey).toBe(toHex(genesis.view.members[0]!.identityKey))
    expect((j.minters as Array<string>).every((k) => /^[0-9a-f]{64}$/.test(k))).toBe(true)
    expect(j.limits).toEqual(genesis.limits)
  })

  it("errors name the failing field path", () => {
    const cases: Array<[(j: ReturnType<typeof json>) => void, RegExp]> = [
      [(j) => (j.view.members[2]!.identityKey = "ABCD"), /view\.members\[2\]\.identityKey: expected a key of 64 lowercase hexadecimal digits/],
      [(j) => (j.view.members[1]!.viewKey = toHex(new Uint8Array(32).fill(0xab)).toUpperCase()), /view\.members\[1\]\.viewKey/],
      [(j) => ((j.minters as Array<string>)[0] = "00"), /minters\[0\]/],
      [(j) => (j.view.id = 0), /view\.id: Expected string/],
      [(j) => (j.view.id = "01"), /view\.id: expected an unsigned decimal/],
      [(j) => (j.persistence = "durable"), /persistence: expected "memory", "weak" or "strong", got "durable"/],
      [(j) => ((j.limits as Record<string, unknown>).batchTxMax = -1), /limits\.batchTxMax/],
      [(j) => ((j.limits as Record<string, unknown>).txBytesMax = 2 ** 32), /limits\.txBytesMax/],
      [(j) => (j.chainId = ""), /chainId/],
      [(j) => (j.colour = "blue"), /colour: is unexpected/],
      [(j) => delete j.admission, /admission/],
      [(j) => (j.view.n = 5), /view: .*n equal to the member count 4/],
      [(j) => (j.view.f = 0), /view: .*f = floor/],
      [(j) => (j.view.members[3]!.replica = 0), /view: replica 0 appears twice/],
      [(j) => (j.view.id = "1"), /view: expected the genesis view to have id "0"/]
    ]
    for (const [mutate, pattern] of cases) {
      const j = json()
      mutate(j)
      const e = failure(j)
      expect(e._tag).toBe("GenesisFileError")
      expect(e.message).toMatch(pattern)
    }
  })

  it("every problem is reported, not only the first", () => {
    const j = json()
    j.view.members[0]!.viewKey = "x"
    j.persistence = "none"
    expect(failure(j).issues.map((i) => i.path).sort()).toEqual(["persistence", "view.members[0].viewKey"])
  })

  it("non-JSON text and non-object values are typed errors", () => {
    const r = decodeGenesisJsonText("{ not json")
    expect(Either.isLeft(r) && r.left.message.includes("not JSON")).toBe(true)
    for (const u of [null, 3, "genesis", []]) expect(failure(u)._tag).toBe("GenesisFileError")
  })
})
