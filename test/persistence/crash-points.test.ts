// Establishes: a crash at each point of the durable-commit pipeline (block executed / written /
// synced / COMMIT sent / certificate written / certificate synced / replies released), of one
// replica and of all four at once, loses no result a client accepted in weak and strong mode;
// after the restart every replica's stored chain verifies, the replicas converge on one state and
// keep deciding the transactions submitted afterwards. The crash really happens at the named
// point (what the crashed replica's disk kept is checked), memory mode crashed after its replies
// loses accepted results (so the checks can fail), and a block torn by the crash is cut at restart
// and comes back from peers.
import { describe, expect, it } from "vitest"
import type { PersistenceMode } from "../../src/chain/types.ts"
import type { CrashPoint, CrashPointOutcome, FaultPlan, SimOptions, SimResult } from "../sim/simulator.ts"
import { crashPoints, runSimulation } from "../sim/simulator.ts"

/** A calm network: the crash is the only fault. */
const calm = (extra: Partial<FaultPlan> = {}): FaultPlan => ({
  byzantine: new Map(),
  lossRate: 0,
  duplicateRate: 0,
  faultyDelayMs: 10,
  stableDelayMs: 10,
  partitions: [],
  healMs: 700,
  isolated: [],
  ...extra
})

/** The block whose pipeline the crash interrupts; blocks 1 and 2 are committed before it. */
const height = 3n
const replicas = [0, 1, 2, 3]

const strongOnly: ReadonlySet<CrashPoint> = new Set(["committed", "certificateWritten", "certificateSynced"])
const pointsOf = (mode: PersistenceMode): ReadonlyArray<CrashPoint> => crashPoints.filter((p) => mode === "strong" || !strongOnly.has(p))

const simulate = (mode: PersistenceMode, point: CrashPoint, all: boolean, extra: Partial<SimOptions> = {}): SimResult =>
  runSimulation({
    seed: 7,
    mode,
    faults: calm(),
    transactions: 16,
    submitUntilMs: 500,
    crashPoint: { point, height, replica: 0, all, downMs: 60 },
    ...extra
  })

/** What the crashed replica's disk must have kept of block `height`, point by point. */
const expectDisk = (mode: PersistenceMode, point: CrashPoint, o: CrashPointOutcome): void => {
  const blockKept = !(point === "executed" || point === "written")
  expect(o.blockDurable).toBe(blockKept)
  if (mode === "strong") expect(o.certificateDurable).toBe(point === "certificateSynced" || point === "replied")
  else expect(o.certificateDurable).toBe(false)
  expect(o.repliesReleased > 0).toBe(point === "replied")
}

describe.each(["weak", "strong"] as const)("%s mode: a crash at each pipeline point", (mode) => {
  for (const point of pointsOf(mode))
    for (const all of [false, true])
      it(`${point}, ${all ? "all replicas" : "one replica (the leader)"}: no accepted reply lost, chains verify, replicas converge and go on`, () => {
        const r = simulate(mode, point, all)
        const o = r.crashPoint
        if (o === undefined) throw new Error(`the crash point ${point} of block ${height} was never reached`)
        expect(o.crashed).toEqual(all ? replicas : [0])
        expectDisk(mode, point, o)
        // Results were accepted before the crash, so "none lost" is a real check.
        expect(o.acceptedBefore).toBeGreaterThan(0)
        expect(r.crashAlls).toBe(all ? 1 : 0)
        expect(r.restarts.map((x) => x.replica).sort()).toEqual(o.crashed)

        // DurableReplies (right after the crash and at the end), ChainVerify of every stored chain,
        // the coin invariants, Agreement, and Liveness: every transaction decided and accepted.
        expect(r.violations).toEqual([])
        expect(r.lostReplies).toBe(0)
        expect(r.accepted).toBe(r.transactions)

        // Converged: every replica up, at one height, with one application state.
        expect(r.finals.every((f) => f.up)).toBe(true)
        expect(new Set(r.finals.map((f) => f.height)).size).toBe(1)
        expect(new Set(r.finals.map((f) => f.stateHash)).size).toBe(1)
        if (mode === "strong") {
          expect(new Set(r.finals.map((f) => f.headHash)).size).toBe(1)
          expect(r.finals.every((f) => f.certH === f.height)).toBe(true)
        }
        // Went on: most results were accepted after the crash, in blocks past the interrupted one.
        expect(r.transactions - o.acceptedBefore).toBeGreaterThan(r.transactions / 2)
        expect(r.chainHeight).toBeGreaterThan(Number(height))
      })
})

describe("the checks can fail", () => {
  it("memory mode: a full crash right after replies were released loses results clients accepted", () => {
    const r = simulate("memory", "replied", true)
    expect(r.crashPoint?.repliesReleased).toBeGreaterThan(0)
    expect(r.crashPoint?.acceptedBefore).toBeGreaterThan(0)
    expect(r.lostReplies).toBeGreaterThan(0)
    expect(r.violations.length).toBeGreaterThan(0)
    expect(r.violations.every((v) => v.property === "DurableReplies")).toBe(true)
  })
})

describe("a damaged tail", () => {
  it.each(["weak", "strong"] as const)("%s mode: the block torn by the crash is found by its checksum, cut at restart and fetched again", (mode) => {
    const r = simulate(mode, "written", false, { faults: calm({ disks: { slowMs: new Map(), failing: [], torn: true } }), trace: true })
    expect(r.crashPoint?.blockDurable).toBe(false)
    const back = r.trace.find((t) => t.event.action === "Restart" && t.event.replica === 0)
    expect(back?.event["cutFrom"]).toBe(Number(height))
    expect(back?.event["height"]).toBe(Number(height) - 1)
    expect(r.violations).toEqual([])
    expect(new Set(r.finals.map((f) => f.height)).size).toBe(1)
    expect(r.accepted).toBe(r.transactions)
  })
})
