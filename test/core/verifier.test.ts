// Establishes that the Verifier drops, and counts by reason, every input whose signatures or proofs
// fail (STOPDATA signed by another key, inconsistent STOPDATA, SYNC carrying a forged STOPDATA),
// and lets valid ones through in the same batch.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import type { StopData } from "../../src/chain/types.ts"
import type { Input } from "../../src/core/io.ts"
import { hashBatch } from "../../src/ordering/batch.ts"
import { buildStopData } from "../../src/synchronization/stop-data.ts"
import type { RejectCounts } from "../../src/services/verifier.ts"
import { countRejected } from "../../src/services/verifier.ts"
import { signStopData, signTx } from "../sim/world.ts"
import { makeCluster } from "./harness.ts"

describe("Verifier", () => {
  const { world, replicas } = makeCluster()
  const r0 = replicas[0]!
  r0.state.regency = 1n
  const own = (i: number): StopData => {
    const s = replicas[i]!.state
    s.regency = 1n
    return buildStopData(s)
  }

  it("accepts valid STOPDATA and rejects one signed by another member or inconsistent with its proof", () => {
    const good = own(1)
    const fields = { ...good, openCid: 2n }
    const inconsistent: StopData = { ...fields, signature: signStopData(world.viewKeys[1]!, fields) }
    const wrongSigner: StopData = { ...good, signature: signStopData(world.viewKeys[2]!, good) }
    const inputs: Array<Input> = [
      { _tag: "Message", from: 1, message: good },
      { _tag: "Message", from: 1, message: inconsistent },
      { _tag: "Message", from: 1, message: wrongSigner },
      { _tag: "Message", from: 9, message: good }
    ]
    const result = r0.verifier.verify(inputs)
    expect(result.accepted).toEqual([inputs[0]])
    expect(result.rejected.map((r) => r.reason)).toEqual(["BadStopData", "BadStopDataSignature", "NotAMember"])
    const counts: RejectCounts = {}
    countRejected(counts, result.rejected)
    countRejected(counts, result.rejected)
    expect(counts).toEqual({ BadStopData: 2, BadStopDataSignature: 2, NotAMember: 2 })
  })

  it("rejects a SYNC whose STOPDATA was forged, and a STOPDATA whose accepted batch does not hash to its hash", () => {
    const tx = signTx(world.clients[0]!, 1n, new Uint8Array([3]))
    const proofs = [0, 2, 3].map((i) => ({ replica: i, stopData: own(i) }))
    const sync = { _tag: "Sync" as const, viewId: 0n, regency: 1n, cid: 1n, proofs, batch: [tx] }
    const forged = { ...sync, proofs: [{ replica: 0, stopData: { ...proofs[0]!.stopData, signature: new Uint8Array(64) } }, ...proofs.slice(1)] }
    const r2 = replicas[2]!
    const result = r2.verifier.verify([
      { _tag: "Message", from: 1, message: sync },
      { _tag: "Message", from: 1, message: forged }
    ])
    expect(result.accepted.length).toBe(1)
    expect(result.rejected.map((r) => r.reason)).toEqual(["BadSyncProofs"])
    const value = hashBatch(r0.state.config, [tx])
    const fields = { ...own(3), accepted: Option.some({ regency: 0n, batchHash: value.hash, batch: [] }) }
    const lying: StopData = { ...fields, signature: signStopData(world.viewKeys[3]!, fields) }
    expect(r0.verifier.verify([{ _tag: "Message", from: 3, message: lying }]).rejected[0]?.reason).toBe("BadStopData")
  })
})
