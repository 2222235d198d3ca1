// Establishes the normal case of Mod-SMaRt step by step: Submit, Propose, Write, Accept, Decide,
// with the decision proof holding q valid ACCEPTs, and the checks each action makes.
import { describe, expect, it } from "vitest"
import { txKey } from "../../src/core/state.ts"
import { canWrite } from "../../src/ordering/write.ts"
import { signTx } from "../sim/world.ts"
import { deliverAll, feed, makeCluster, traced } from "../core/harness.ts"

describe("ordering", () => {
  it("a transaction submitted to all replicas is proposed, written, accepted and decided by all four", () => {
    const { world, replicas } = makeCluster()
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    for (const r of replicas) feed(r, { _tag: "Transaction", tx })
    const leaderActions = traced(replicas[0]!.outputs)
    expect(leaderActions).toContain("Propose")
    deliverAll(replicas)
    for (const r of replicas) {
      expect(r.state.lastDecidedCid).toBe(1n)
      expect(r.state.decidedTx.get(txKey(tx))).toBe(1n)
      expect(r.state.pending.size).toBe(0)
      expect(r.state.lastDecidedProof?.accepts.length).toBe(3)
    }
  })

  it("the decision proof verifies as a state-transfer input; a tampered one is rejected", () => {
    const { world, replicas } = makeCluster()
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([2]))
    for (const r of replicas) feed(r, { _tag: "Transaction", tx })
    deliverAll(replicas)
    const proof = replicas[1]!.state.lastDecidedProof!
    const fresh = makeCluster().replicas[3]!
    const ok = fresh.verifier.verify([{ _tag: "Decided", batch: [tx], proof }])
    expect(ok.accepted.length).toBe(1)
    const bad = { ...proof, accepts: proof.accepts.map((a, i) => (i === 0 ? { ...a, signature: new Uint8Array(64) } : a)) }
    expect(fresh.verifier.verify([{ _tag: "Decided", batch: [tx], proof: bad }]).rejected[0]?.reason).toBe("BadDecisionProof")
    const short = { ...proof, accepts: proof.accepts.slice(0, 2) }
    expect(fresh.verifier.verify([{ _tag: "Decided", batch: [tx], proof: short }]).rejected[0]?.reason).toBe("BadDecisionProof")
    expect(fresh.verifier.verify([{ _tag: "Decided", batch: [tx, tx], proof }]).rejected[0]?.reason).toBe("BadBatchHash")
  })

  it("a replica writes only the first PROPOSE of the regency's leader, and only valid batches", () => {
    const { world, replicas } = makeCluster()
    const r1 = replicas[1]!
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const b = signTx(world.clients[1]!, 1n, new Uint8Array([2]))
    const propose = (batch: typeof a[]) => ({ _tag: "Propose" as const, viewId: 0n, cid: 1n, regency: 0n, batch })
    expect(canWrite(r1.state, 2, propose([a]))).toBe(false)
    expect(canWrite(r1.state, 0, propose([]))).toBe(false)
    expect(canWrite(r1.state, 0, propose([a, a]))).toBe(false)
    expect(traced(feed(r1, { _tag: "Message", from: 0, message: propose([a]) }))).toEqual(["Write"])
    expect(traced(feed(r1, { _tag: "Message", from: 0, message: propose([b]) }))).toEqual([])
    expect(r1.state.instance.writeSet.length).toBe(1)
  })

  it("a PROPOSE carrying a transaction with a bad signature never reaches the core", () => {
    const { world, replicas } = makeCluster()
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const forged = { ...tx, op: new Uint8Array([9]) }
    const r1 = replicas[1]!
    const result = r1.verifier.verify([{ _tag: "Message", from: 0, message: { _tag: "Propose", viewId: 0n, cid: 1n, regency: 0n, batch: [forged] } }])
    expect(result.rejected.map((x) => x.reason)).toEqual(["BadTxSignature"])
  })

  it("a transaction submitted again after its decision is answered from the stored result, not ordered again", () => {
    const { world, replicas } = makeCluster()
    const tx = signTx(world.clients[0]!, 5n, new Uint8Array([1]))
    for (const r of replicas) feed(r, { _tag: "Transaction", tx })
    deliverAll(replicas)
    const again = feed(replicas[2]!, { _tag: "Transaction", tx })
    expect(again).toEqual([{ _tag: "ReplyAgain", client: tx.client, seq: 5n, cid: 1n }])
    expect(replicas[2]!.state.pending.size).toBe(0)
  })

  it("a replica that is not the leader forwards a client's transaction to the leader", () => {
    const { world, replicas } = makeCluster()
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const out = feed(replicas[2]!, { _tag: "Transaction", tx })
    expect(out.filter((o) => o._tag === "Forward").map((o) => (o._tag === "Forward" ? o.to : -1))).toEqual([0])
  })

  it("batches respect batchTxMax: every proposal of 20 transactions holds at most 8 (batchTxMax)", () => {
    const { world, replicas } = makeCluster()
    const txs = Array.from({ length: 20 }, (_, i) => signTx(world.clients[0]!, BigInt(i), new Uint8Array([i])))
    for (const tx of txs) for (const r of replicas) feed(r, { _tag: "Transaction", tx })
    deliverAll(replicas)
    const sizes = replicas[0]!.events.filter((e) => e.action === "Propose").map((e) => e.txs as number)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20)
    expect(Math.max(...sizes)).toBe(8)
    expect(replicas.map((r) => r.state.lastDecidedCid)).toEqual(Array(4).fill(BigInt(sizes.length)))
    expect(replicas.every((r) => r.state.decidedTx.size === 20)).toBe(true)
  })
})
