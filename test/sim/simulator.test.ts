// Establishes that the deterministic simulator finds no Agreement, Validity or Liveness violation
// on a fixed list of seeds, reproduces a run from its seed, and catches a deliberately broken quorum.
import { describe, expect, it } from "vitest"
import { OrderingActions, PersistenceActions, SynchronizationActions } from "../../src/core/actions.ts"
import { traceLine } from "../../src/services/trace.ts"
import { isNegativeControl, optionsForSeed, runOk } from "./campaign.ts"
import { Prng } from "./prng.ts"
import type { FaultPlan } from "./simulator.ts"
import { runSimulation } from "./simulator.ts"

const fixedSeeds = Array.from({ length: 16 }, (_, i) => i + 1)

describe("deterministic simulator", () => {
  it("SplitMix64 matches its published first outputs for seed 0", () => {
    const p = new Prng(0)
    expect(p.next64()).toBe(0xe220a8397b1dcdafn)
    expect(p.next64()).toBe(0x6e789e6aa1b965f4n)
  })

  it.each(fixedSeeds.filter((s) => !isNegativeControl(s)))(
    "seed %i: Agreement, Validity, Liveness, DurableReplies and the coin invariants hold",
    (seed) => {
      const r = runSimulation(optionsForSeed(seed))
      expect(r.violations).toEqual([])
      expect(r.decidedCids).toBeGreaterThan(0)
      expect(r.accepted).toBe(r.transactions)
      expect(r.chainHeight).toBeGreaterThan(0)
    }
  )

  it("negative control: memory mode loses accepted results in a full crash, and nothing else goes wrong", () => {
    const seed = fixedSeeds.find(isNegativeControl)!
    const r = runSimulation(optionsForSeed(seed))
    expect(r.mode).toBe("memory")
    expect(r.crashAlls).toBe(1)
    expect(r.lostReplies).toBeGreaterThan(0)
    expect(r.violations.length).toBeGreaterThan(0)
    expect(runOk(r)).toBe(true)
  })

  it("the same seed gives the same run, event for event", () => {
    const a = runSimulation(optionsForSeed(11, true))
    const b = runSimulation(optionsForSeed(11, true))
    expect(a.trace.length).toBeGreaterThan(50)
    expect(a.trace.map(traceLine)).toEqual(b.trace.map(traceLine))
    expect(a.faults).toBe(b.faults)
  })

  it("the trace names only spec actions and covers ordering and a leader change", () => {
    const plan: FaultPlan = {
      byzantine: new Map([[0, "silent"]]),
      lossRate: 0,
      duplicateRate: 0,
      faultyDelayMs: 20,
      stableDelayMs: 5,
      partitions: [],
      healMs: 1_000,
      isolated: []
    }
    const r = runSimulation({ seed: 3, faults: plan, trace: true })
    expect(r.violations).toEqual([])
    const names = new Set(r.trace.map((t) => t.event.action))
    const known = new Set<string>([...OrderingActions, ...SynchronizationActions, ...PersistenceActions])
    for (const name of names) expect(known.has(name)).toBe(true)
    for (const name of [...OrderingActions, ...SynchronizationActions]) expect(names.has(name)).toBe(true)
    expect(r.trace.map((t) => t.seq)).toEqual(r.trace.map((_, i) => i))
  })

  it("a broken quorum (q - 1) with an equivocating leader is caught as an Agreement violation", () => {
    const plan: FaultPlan = {
      byzantine: new Map([[0, "equivocate"]]),
      lossRate: 0,
      duplicateRate: 0,
      faultyDelayMs: 30,
      stableDelayMs: 10,
      partitions: [],
      healMs: 2_000,
      isolated: []
    }
    const honest = runSimulation({ seed: 1, faults: plan })
    expect(honest.violations).toEqual([])
    const broken = runSimulation({ seed: 1, faults: plan, quorumOverrideForTests: 2 })
    expect(broken.violations.map((v) => v.property)).toContain("Agreement")
  })
})
