/**
 * What one seed means for a campaign: the run options drawn from the seed alone, and the
 * one-line outcome printed for it.
 *
 * Every fifth seed runs seven replicas, the others four. Persistence modes rotate: every tenth
 * seed is memory mode's negative control (no Byzantine replica, every replica crashes at once
 * after clients accepted results: replies are expected to be lost), odd seeds run weak mode and
 * the other even seeds strong mode, each with the storage faults drawn for the seed (full
 * crashes, torn writes, slow and failing disks, wiped and corrupt disks) and Byzantine replicas.
 * Every run takes a checkpoint every 4 blocks (`simChainLimits`): restarts restore the latest
 * snapshot, and a wiped replica recovers by snapshot-based state transfer.
 */
import type { SimOptions, SimResult } from "./simulator.ts"
import { drawFaults } from "./simulator.ts"
import { Prng } from "./prng.ts"

export const isNegativeControl = (seed: number): boolean => seed % 10 === 0

/** The memory-mode negative control: calm network, no Byzantine replica, one full crash mid-run. */
export const memoryControl = (seed: number, n: number, trace = false): SimOptions => {
  const plan = drawFaults(new Prng(seed), n)
  return {
    seed,
    n,
    trace,
    mode: "memory",
    faults: {
      ...plan,
      byzantine: new Map(),
      lossRate: 0,
      partitions: [],
      isolated: [],
      crashes: [{ atMs: Math.floor(plan.healMs / 2), downMs: 100, replicas: "all" }]
    }
  }
}

export const optionsForSeed = (seed: number, trace = false): SimOptions => {
  const n = seed % 5 === 0 ? 7 : 4
  if (isNegativeControl(seed)) return memoryControl(seed, n, trace)
  return { seed, n, trace, mode: seed % 2 === 1 ? "weak" : "strong" }
}

/** Whether a run is as expected: no violation, or (negative control) only lost replies. */
export const runOk = (r: SimResult): boolean =>
  r.mode === "memory" ? r.violations.every((v) => v.property === "DurableReplies") : r.violations.length === 0

export const outcomeLine = (r: SimResult): string => {
  const summary = `${r.mode} mode: ${r.decidedCids} instances decided, chain height ${r.chainHeight}, ${r.accepted}/${r.transactions} accepted, ${r.crashAlls} full crashes, highest regency ${r.regencyMax}, ${r.steps} steps, ended at ${r.endMs}ms`
  if (r.mode === "memory" && runOk(r))
    return r.lostReplies > 0 ? `ok (negative control: ${r.lostReplies} accepted results lost by the full crash): ${summary}` : `ok (negative control lost nothing this time): ${summary}`
  return r.violations.length === 0 ? `ok: ${summary}` : `FAILED: ${r.violations.map((v) => `${v.property} at ${v.atMs}ms: ${v.detail}`).join("; ")}`
}
