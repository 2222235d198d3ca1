// Establishes the value rule of the synchronization phase: a value some correct replica may have
// decided is always forced, lies cannot force another value, and nothing accepted leaves it free.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import type { StopDataFrom, Transaction } from "../../src/chain/types.ts"
import { hashBatch } from "../../src/ordering/batch.ts"
import { choose, collect, proofsProblem } from "../../src/synchronization/sound.ts"
import { signTx } from "../sim/world.ts"
import { makeCluster } from "../core/harness.ts"

const { world, replicas } = makeCluster()
const config = replicas[0]!.state.config
const v1 = [signTx(world.clients[0]!, 1n, new Uint8Array([1]))]
const v2 = [signTx(world.clients[1]!, 1n, new Uint8Array([2]))]

const entry = (
  replica: number,
  accepted: { regency: bigint; batch: ReadonlyArray<Transaction> } | undefined,
  written: ReadonlyArray<{ regency: bigint; batch: ReadonlyArray<Transaction> }>,
  openCid = 1n
): StopDataFrom => ({
  replica,
  stopData: {
    _tag: "StopData",
    viewId: 0n,
    regency: 5n,
    lastDecided: Option.none(),
    lastDecidedBatch: [],
    openCid,
    written: written.map((w) => ({ regency: w.regency, batchHash: hashBatch(config, w.batch).hash })),
    accepted: accepted === undefined ? Option.none() : Option.some({ regency: accepted.regency, batchHash: hashBatch(config, accepted.batch).hash, batch: accepted.batch }),
    signature: new Uint8Array(64)
  }
})

const hashOf = (batch: ReadonlyArray<Transaction>) => hashBatch(config, batch).hashHex

describe("the synchronization value rule", () => {
  it("nothing accepted by q entries: the leader's value is free", () => {
    const c = collect([entry(0, undefined, []), entry(1, undefined, []), entry(2, undefined, [])])
    expect(choose(config, c.entries)._tag).toBe("Free")
  })

  it("a value accepted by q (so possibly decided) is forced, even with a Byzantine entry claiming another value", () => {
    const w = [{ regency: 1n, batch: v1 }]
    const entries = collect([
      entry(0, { regency: 1n, batch: v1 }, w),
      entry(1, { regency: 1n, batch: v1 }, w),
      entry(3, { regency: 3n, batch: v2 }, [{ regency: 3n, batch: v2 }])
    ]).entries
    const c = choose(config, entries)
    // Only two honest entries here: the liar's higher regency keeps v1 from a quorum, so S waits.
    expect(c._tag).toBe("Undetermined")
    const all = collect([
      entry(0, { regency: 1n, batch: v1 }, w),
      entry(1, { regency: 1n, batch: v1 }, w),
      entry(2, { regency: 1n, batch: v1 }, w),
      entry(3, { regency: 3n, batch: v2 }, [{ regency: 3n, batch: v2 }])
    ]).entries
    const forced = choose(config, all)
    expect(forced._tag).toBe("Bound")
    if (forced._tag === "Bound") expect(forced.value.hashHex).toBe(hashOf(v1))
  })

  it("a value accepted by one replica and written by f + 1 binds when q entries are no higher", () => {
    const entries = collect([
      entry(0, { regency: 2n, batch: v1 }, [{ regency: 2n, batch: v1 }]),
      entry(1, undefined, [{ regency: 2n, batch: v1 }]),
      entry(2, undefined, [])
    ]).entries
    const c = choose(config, entries)
    expect(c._tag).toBe("Bound")
    if (c._tag === "Bound") expect(c.value.hashHex).toBe(hashOf(v1))
  })

  it("a made-up accepted value that nobody else wrote binds nothing", () => {
    const entries = collect([entry(3, { regency: 4n, batch: v2 }, [{ regency: 4n, batch: v2 }]), entry(1, undefined, []), entry(2, undefined, [])])
      .entries
    expect(choose(config, entries)._tag).toBe("Undetermined")
    const four = collect([
      entry(3, { regency: 4n, batch: v2 }, [{ regency: 4n, batch: v2 }]),
      entry(0, undefined, []),
      entry(1, undefined, []),
      entry(2, undefined, [])
    ]).entries
    expect(choose(config, four)._tag).toBe("Free")
  })

  it("entries still on an earlier instance count as empty for the target instance", () => {
    const ahead = entry(1, undefined, [], 2n)
    const decided = { viewId: 0n, cid: 1n, regency: 0n, batchHash: hashBatch(config, v1).hash, accepts: [] }
    const behind = entry(0, { regency: 1n, batch: v1 }, [{ regency: 1n, batch: v1 }], 1n)
    const c = collect([behind, { ...ahead, stopData: { ...ahead.stopData, lastDecided: Option.some(decided) } }, entry(2, undefined, [], 1n)])
    expect(c.target).toBe(2n)
    expect(c.entries.every((e) => e.accepted === undefined && e.written.length === 0)).toBe(true)
    expect(choose(config, c.entries)._tag).toBe("Free")
  })

  it("SYNC proofs need q distinct members for the SYNC's regency and the right cid", () => {
    const three = [entry(0, undefined, []), entry(1, undefined, []), entry(2, undefined, [])]
    expect(proofsProblem(config, 5n, 1n, three)).toBeUndefined()
    expect(proofsProblem(config, 5n, 2n, three)).toBeDefined()
    expect(proofsProblem(config, 6n, 1n, three)).toBeDefined()
    expect(proofsProblem(config, 5n, 1n, [three[0]!, three[0]!, three[1]!])).toBeDefined()
    expect(proofsProblem(config, 5n, 1n, three.slice(0, 2))).toBeDefined()
  })
})
