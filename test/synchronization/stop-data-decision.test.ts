// Establishes that a decision known only through a STOPDATA (its proof and batch) reaches the new
// leader, which takes it and continues with the next instance, and that a forged one is dropped.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import type { StopData } from "../../src/chain/types.ts"
import { hashBatch } from "../../src/ordering/batch.ts"
import { signAccept, signStopData, signTx } from "../sim/world.ts"
import { feed, makeCluster } from "../core/harness.ts"

describe("decisions carried by STOPDATA", () => {
  const setup = () => {
    const { world, replicas } = makeCluster()
    const leader = replicas[1]!
    for (const from of [2, 3]) feed(leader, { _tag: "Message", from, message: { _tag: "Stop", viewId: 0n, regency: 1n } })
    expect(leader.state.regency).toBe(1n)
    const batch = [signTx(world.clients[0]!, 1n, new Uint8Array([4]))]
    const value = hashBatch(leader.state.config, batch)
    const fields = { viewId: 0n, cid: 1n, regency: 0n, batchHash: value.hash }
    const proof = { ...fields, accepts: [0, 2, 3].map((replica) => ({ replica, signature: signAccept(world.viewKeys[replica]!, fields) })) }
    const stopDataFields = {
      viewId: 0n,
      regency: 1n,
      lastDecided: Option.some(proof),
      lastDecidedBatch: batch,
      openCid: 2n,
      written: [],
      accepted: Option.none()
    }
    return { world, leader, batch, proof, stopDataFields }
  }

  it("the new leader takes the decision of its open instance from a valid STOPDATA", () => {
    const { world, leader, stopDataFields } = setup()
    const stopData: StopData = { _tag: "StopData", ...stopDataFields, signature: signStopData(world.viewKeys[0]!, stopDataFields) }
    const before = leader.events.length
    feed(leader, { _tag: "Message", from: 0, message: stopData })
    expect(leader.state.lastDecidedCid).toBe(1n)
    expect(leader.events.slice(before).map((e) => [e.action, e.via])).toEqual([["StateTransfer", "stopData"]])
  })

  it("a STOPDATA whose last decided batch does not match its proof never reaches the core", () => {
    const { world, leader, stopDataFields } = setup()
    const other = [signTx(world.clients[1]!, 1n, new Uint8Array([5]))]
    const fields = { ...stopDataFields, lastDecidedBatch: other }
    const stopData: StopData = { _tag: "StopData", ...fields, signature: signStopData(world.viewKeys[0]!, fields) }
    const result = leader.verifier.verify([{ _tag: "Message", from: 0, message: stopData }])
    expect(result.rejected.map((r) => r.reason)).toEqual(["BadStopData"])
  })
})
