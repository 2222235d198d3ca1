// Establishes the named scenarios end to end in the simulator: normal case, leader crash, Byzantine
// leader equivocating, partition and heal, and a replica far behind that catches up.
import { describe, expect, it } from "vitest"
import type { FaultPlan } from "../sim/simulator.ts"
import { runSimulation } from "../sim/simulator.ts"

const calm: FaultPlan = {
  byzantine: new Map(),
  lossRate: 0,
  duplicateRate: 0,
  faultyDelayMs: 10,
  stableDelayMs: 10,
  partitions: [],
  healMs: 1_500,
  isolated: []
}

const actionsOf = (r: ReturnType<typeof runSimulation>, replica?: number) =>
  r.trace.filter((t) => replica === undefined || t.event.replica === replica).map((t) => t.event.action)

describe("scenarios", () => {
  it("normal case: every transaction is decided in regency 0, with no leader change", () => {
    const r = runSimulation({ seed: 21, faults: calm, transactions: 30, trace: true })
    expect(r.violations).toEqual([])
    expect(r.regencyMax).toBe(0)
    expect(actionsOf(r)).not.toContain("Stop")
  })

  it("leader crash: the leader of regency 0 is silent; a leader change happens and transactions still decide", () => {
    const r = runSimulation({ seed: 22, faults: { ...calm, byzantine: new Map([[0, "silent"]]) }, trace: true })
    expect(r.violations).toEqual([])
    expect(r.regencyMax).toBeGreaterThanOrEqual(1)
    expect(actionsOf(r)).toEqual(expect.arrayContaining(["Stop", "StopData", "Sync", "Resume", "Decide"]))
  })

  it("Byzantine leader equivocating: replicas never decide different batches, and everything is decided", () => {
    for (const seed of [23, 24, 25]) {
      const r = runSimulation({ seed, faults: { ...calm, byzantine: new Map([[0, "equivocate"]]), faultyDelayMs: 40 } })
      expect(r.violations).toEqual([])
    }
  })

  it("Byzantine replica lying in STOPDATA while the leader is down cannot block or bend the leader change", () => {
    const r = runSimulation({
      seed: 26,
      n: 7,
      faults: { ...calm, byzantine: new Map([[0, "silent"], [1, "stopDataLie"]]) },
      trace: true
    })
    expect(r.violations).toEqual([])
    expect(r.regencyMax).toBeGreaterThanOrEqual(1)
  })

  it("partition and heal: a 2/2 split stops progress, and after it heals everything is decided", () => {
    const r = runSimulation({
      seed: 27,
      faults: { ...calm, partitions: [{ fromMs: 100, toMs: 2_500, side: [0, 1] }], healMs: 2_500 },
      submitUntilMs: 2_000,
      trace: true
    })
    expect(r.violations).toEqual([])
    const during = r.trace.filter((t) => t.event.action === "Decide" && t.timeMs > 300 && t.timeMs < 2_500)
    expect(during).toEqual([])
  })

  it("a replica far behind (cut off until the others decided many instances) catches up by verified state transfer", () => {
    const r = runSimulation({
      seed: 28,
      faults: { ...calm, isolated: [3], healMs: 3_000 },
      transactions: 60,
      submitUntilMs: 2_500,
      trace: true
    })
    expect(r.violations).toEqual([])
    const transferred = r.trace.filter((t) => t.event.replica === 3 && t.event.action === "StateTransfer")
    expect(transferred.length).toBeGreaterThan(5)
  })
})
