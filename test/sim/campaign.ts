/**
 * What one seed means for a campaign: the run options drawn from the seed alone (every fifth seed
 * runs seven replicas, the others four), and the one-line outcome printed for it.
 */
import type { SimOptions, SimResult } from "./simulator.ts"

export const optionsForSeed = (seed: number, trace = false): SimOptions => ({ seed, n: seed % 5 === 0 ? 7 : 4, trace })

export const outcomeLine = (r: SimResult): string =>
  r.violations.length === 0
    ? `ok: ${r.decidedCids} instances decided, ${r.transactions} transactions, highest regency ${r.regencyMax}, ${r.steps} steps, ended at ${r.endMs}ms`
    : `FAILED: ${r.violations.map((v) => `${v.property} at ${v.atMs}ms: ${v.detail}`).join("; ")}`
