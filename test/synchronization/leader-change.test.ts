// Establishes the synchronization phase step by step: with the leader down, request timeouts lead
// to STOP, q STOPs install regency 1 (StopData), its leader sends SYNC, replicas Resume and decide.
import { describe, expect, it } from "vitest"
import { signTx } from "../sim/world.ts"
import { deliverAll, feed, makeCluster, traced } from "../core/harness.ts"

describe("leader change", () => {
  it("three correct replicas replace a silent leader and decide the pending transaction in regency 1", () => {
    const { world, replicas } = makeCluster()
    const down = new Set([0])
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([7]))
    for (const i of [1, 2, 3]) feed(replicas[i]!, { _tag: "Transaction", tx })
    deliverAll(replicas, down)
    const timeout = world.limits.requestTimeoutMs
    for (const t of [timeout, 2 * timeout, 2 * timeout + 10]) {
      for (const i of [1, 2, 3]) feed(replicas[i]!, { _tag: "Tick", nowMs: t })
      deliverAll(replicas, down)
    }
    for (const i of [1, 2, 3]) expect(replicas[i]!.actions).toEqual(expect.arrayContaining(["Stop", "StopData", "Resume", "Write", "Accept", "Decide"]))
    expect(replicas[1]!.actions).toContain("Sync")
    expect(replicas[2]!.actions).not.toContain("Sync")
    for (const i of [1, 2, 3]) {
      const r = replicas[i]!
      expect(r.state.regency).toBe(1n)
      expect(r.state.synced).toBe(true)
      expect(r.state.lastDecidedCid).toBe(1n)
      expect(r.state.lastDecidedProof?.regency).toBe(1n)
    }
  })

  it("a STOP from one replica alone (f = 1) makes nobody join; f + 1 make a replica join", () => {
    const { replicas } = makeCluster()
    const r2 = replicas[2]!
    expect(traced(feed(r2, { _tag: "Message", from: 3, message: { _tag: "Stop", viewId: 0n, regency: 1n } }))).toEqual([])
    expect(r2.state.nextRegency).toBe(0n)
    expect(traced(feed(r2, { _tag: "Message", from: 1, message: { _tag: "Stop", viewId: 0n, regency: 1n } }))).toEqual(["Stop", "StopData"])
    expect(r2.state.regency).toBe(1n)
    expect(r2.state.synced).toBe(false)
  })
})
