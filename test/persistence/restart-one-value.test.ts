// Establishes: a correct replica sends at most one PROPOSE value and one WRITE value per (cid,
// regency) across crashes and restarts in weak and strong mode. The consensus record keeps that
// the leader proposed (its PROPOSE leaves only once that is synced) and which value was written
// in each regency, and a restarted replica neither proposes nor writes again where it did before.
// The seeds are ones where, before the record kept this, a restarted leader proposed a second
// batch (5, 6, 9) or a restarted replica wrote the second value of an equivocating leader (2, 15):
// the simulator's OneValuePerRegency check flagged each of them.
import { describe, expect, it } from "vitest"
import { optionsForSeed } from "../sim/campaign.ts"
import { runSimulation } from "../sim/simulator.ts"

describe("one value per (cid, regency) across restarts", () => {
  it.each([2, 5, 6, 9, 15])("seed %i: no second PROPOSE or WRITE value after a restart, and the run's other checks hold", (seed) => {
    const options = { ...optionsForSeed(seed, true), transactions: 12 }
    const r = runSimulation(options)
    // The run really restarts replicas from their records, and the open instance comes back.
    expect(r.restarts.length).toBeGreaterThan(0)
    expect(r.violations).toEqual([])
    expect(r.accepted).toBe(r.transactions)
  })
})
