// Establishes that the simulator exercises checkpoints: replicas that crash restart from their
// latest stored snapshot and replay only the blocks after it; a replica whose disk was wiped
// recovers by snapshot-based state transfer (f + 1 matching checkpoint claims, the snapshot from
// one member checked against the claimed stateHash, the blocks after it verified), restarts from
// what it stored and catches up; and a member that forges its snapshot or blocks is caught and
// not used, while no correct member is ever taken for Byzantine.
import { describe, expect, it } from "vitest"
import type { PersistenceMode, ReplicaId } from "../../src/chain/types.ts"
import type { Behaviour } from "./byzantine.ts"
import type { FaultPlan, SimResult } from "./simulator.ts"
import { runSimulation, simChainLimits } from "./simulator.ts"

const calm = (extra: Partial<FaultPlan> = {}): FaultPlan => ({
  byzantine: new Map(),
  lossRate: 0,
  duplicateRate: 0,
  faultyDelayMs: 10,
  stableDelayMs: 10,
  partitions: [],
  healMs: 1_500,
  isolated: [],
  ...extra
})

const interval = BigInt(simChainLimits.checkpointInterval)

/** Everything a run should end with: no violation, every result accepted, one state everywhere. */
const expectConverged = (r: SimResult): void => {
  expect(r.violations).toEqual([])
  expect(r.accepted).toBe(r.transactions)
  expect(r.finals.every((f) => f.up)).toBe(true)
  expect(new Set(r.finals.map((f) => f.height)).size).toBe(1)
  expect(new Set(r.finals.map((f) => f.stateHash)).size).toBe(1)
}

describe("checkpoints in the simulator", () => {
  it.each(["weak", "strong"] as const)("%s mode: after a full crash every replica restores its latest snapshot and replays the rest", (mode) => {
    const height = 2n * interval + 2n
    const r = runSimulation({
      seed: 7,
      mode,
      faults: calm(),
      transactions: 24,
      submitUntilMs: 800,
      crashPoint: { point: "synced", height, replica: 0, all: true, downMs: 60 }
    })
    expect(r.crashPoint?.crashed).toEqual([0, 1, 2, 3])
    expect(r.restarts).toHaveLength(4)
    for (const x of r.restarts) {
      // The newest checkpoint at or below what it had synced, never above it.
      expect(x.restoredFrom).toBe(x.height - (x.height % interval))
      expect(x.restoredFrom).toBeGreaterThanOrEqual(interval)
    }
    expectConverged(r)
  })

  const wiped = (mode: PersistenceMode, byzantine: ReadonlyMap<ReplicaId, Behaviour>, seed: number): SimResult =>
    runSimulation({
      seed,
      mode,
      faults: calm({ byzantine, crashes: [{ atMs: 600, downMs: 50, replicas: [2], wipe: true }] }),
      transactions: 40,
      submitUntilMs: 1_200
    })

  it.each(["weak", "strong"] as const)("%s mode: a wiped replica recovers through a snapshot and catches up", (mode) => {
    const r = wiped(mode, new Map(), 5)
    expect(r.transfers).toHaveLength(1)
    const t = r.transfers[0]!
    expect(t.replica).toBe(2)
    expect(t.ok).toBe(true)
    // A checkpoint above genesis was installed from a snapshot another member served.
    expect(t.checkpoint).toBeGreaterThanOrEqual(interval)
    expect(t.checkpoint % interval).toBe(0n)
    expect(t.snapshotFrom).toBeDefined()
    expect(t.snapshotFrom).not.toBe(2)
    expect(t.height).toBeGreaterThanOrEqual(t.checkpoint)
    expect(t.counters.badSnapshots + t.counters.badBlocks).toBe(0)
    // It restarted from what the transfer stored: state from that snapshot, not from genesis.
    const back = r.restarts.filter((x) => x.replica === 2)
    expect(back).toHaveLength(1)
    expect(back[0]!.wiped).toBe(true)
    expect(back[0]!.restoredFrom).toBe(t.checkpoint)
    expect(back[0]!.height).toBe(t.height)
    expectConverged(r)
  })

  it("a member that forges its snapshot or blocks is caught and not used; correct members never are", () => {
    // Whether the forger is asked at all depends on the order answers arrive: the first seed in
    // which it is asked shows it caught, and every run shows it never used.
    const forger = 3
    let caught: SimResult | undefined
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const r = wiped("weak", new Map([[forger, "forge"]]), seed)
      expect(r.violations).toEqual([])
      expect(r.accepted).toBe(r.transactions)
      const t = r.transfers[0]!
      expect(t.ok).toBe(true)
      expect(t.checkpoint).toBeGreaterThanOrEqual(interval)
      expect(t.snapshotFrom).not.toBe(forger)
      expect(t.faulty.every((x) => x === forger)).toBe(true)
      if (t.faulty.includes(forger)) {
        expect(t.counters.badSnapshots + t.counters.badBlocks).toBeGreaterThan(0)
        caught = r
        break
      }
    }
    expect(caught).toBeDefined()
  })
})
