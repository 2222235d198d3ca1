// Establishes that the trace-validation script (scripts/validate-traces.ts) prepares what
// conformance/TraceSmartChain.tla reads: the adversary of a run (Byzantine replicas, and replicas
// whose synced storage the simulator damaged), the run options per seed, and traces whose events
// carry every field the TLA+ matchers select; that it reads TLC's verdict; and, where the TLA+
// tools are present (TLA2TOOLS_JAR), that TLC accepts a persistence trace with checkpoints and a
// reconfiguration trace, and rejects a trace of replicas running with a broken quorum and one
// whose checkpoint skips ahead. Reconfiguration runs also get their description checked: genesis
// members, joiners, and the membership requests of each decided batch.
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { OrderingActions, PersistenceActions, ReconfigurationActions, SynchronizationActions } from "../../src/core/actions.ts"
import { toolsFromEnv } from "../../scripts/tla.ts"
import type { TraceRequest } from "../../scripts/validate-traces.ts"
import {
  amnesiaOf,
  byzantineOf,
  readVerdict,
  reconfigSeedOptions,
  seedOptions,
  simulateReconfigSeed,
  simulateSeed,
  validateTrace
} from "../../scripts/validate-traces.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-validate-test-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The fields TraceSmartChain.tla selects from each event (besides action, replica and seq). */
const matcherFields: Record<string, ReadonlyArray<string>> = {
  Submit: ["client", "txSeq"],
  Propose: ["cid", "regency", "batchHash"],
  Write: ["cid", "regency", "batchHash", "leader"],
  Accept: ["cid", "regency", "batchHash", "writers"],
  Decide: ["cid", "regency", "batchHash", "signers"],
  Stop: ["regency", "from", "cid"],
  StopData: ["regency", "leader", "cid", "lastDecided", "accepted", "stoppers"],
  Sync: ["regency", "cid", "batchHash", "bound"],
  Resume: ["regency", "cid", "batchHash", "leader"],
  StateTransfer: ["cid", "regency", "batchHash", "via"],
  PersistBlock: ["height"],
  SyncBlocks: ["height", "from"],
  Commit: ["height"],
  Certify: ["height", "signers"],
  ReleaseReply: ["from", "height", "mode"],
  Checkpoint: ["height"],
  RequestJoin: ["view"],
  RequestLeave: ["view"],
  RequestRemove: ["view", "target"],
  Rotate: ["view"],
  InstallView: ["view", "members", "left"],
  EraseKeys: ["views"],
  AcceptReply: ["height"],
  Crash: ["height", "wrote", "dur", "certH", "lost"],
  CrashAll: ["replicas", "durable", "lost"],
  Restart: ["height", "regency", "certHeight", "accepted", "recovered", "cutFrom"]
}

const readTrace = (file: string): Array<Record<string, unknown>> =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)

describe("trace validation: what the script prepares for TLC", () => {
  it("the adversary of a run: its Byzantine replicas, and the replicas whose disk was wiped or corrupted", () => {
    const faults =
      "byzantine=none loss=0.00 dup=0.06 delay<=22ms then <=12ms partitions=none isolated=none heal=3725ms " +
      "crashes=1@1997ms+178ms 2@2423ms+161ms(corrupt) 0@3007ms+272ms(wiped) slowDisks=0:54ms failingSyncs=none torn=false"
    expect(byzantineOf(faults)).toEqual([])
    expect(amnesiaOf(faults)).toEqual([0, 2])
    expect(byzantineOf("byzantine=3:silent,0:forge loss=0.00 crashes=all@300ms+20ms")).toEqual([0, 3])
    expect(amnesiaOf("byzantine=3:silent crashes=all@300ms+20ms 1@900ms+40ms")).toEqual([])
    expect(() => byzantineOf("loss=0.00")).toThrow(/byzantine=/)
  })

  it("ordering-only runs use the campaign's faults without persistence; persistence runs keep only the listed modes", () => {
    const off = seedOptions(7, { _tag: "Off" }, 16)
    expect(off?.mode).toBe("off")
    expect(off?.transactions).toBe(16)
    // Odd seeds run weak mode, even ones strong, every tenth memory (test/sim/campaign.ts).
    expect(seedOptions(7, { _tag: "Persistence", modes: ["weak", "strong"] }, 16)?.mode).toBe("weak")
    expect(seedOptions(8, { _tag: "Persistence", modes: ["weak", "strong"] }, 16)?.mode).toBe("strong")
    expect(seedOptions(10, { _tag: "Persistence", modes: ["weak", "strong"] }, 16)).toBeUndefined()
    expect(seedOptions(10, { _tag: "Persistence", modes: ["all"] }, 16)?.mode).toBe("memory")
  })

  it("a persistence run's trace names only spec actions, and each event has the fields its matcher reads", () => {
    const known = new Set<string>([...OrderingActions, ...SynchronizationActions, ...PersistenceActions])
    const seen = new Set<string>()
    for (const seed of [1, 2]) {
      // A checkpoint every 2 blocks, so that the short runs take some.
      const options = seedOptions(seed, { _tag: "Persistence", modes: ["weak", "strong"] }, 8, 2)
      if (options === undefined) throw new Error(`seed ${seed} runs weak or strong mode`)
      const run = simulateSeed(seed, dir, false, options)
      const meta = JSON.parse(fs.readFileSync(run.metaFile, "utf8")) as Record<string, unknown>
      expect(meta["mode"]).toBe(options.mode)
      expect(meta["n"]).toBe(run.n)
      expect(meta["checkpointInterval"]).toBe(2)
      const events = readTrace(run.traceFile)
      expect(events.length).toBeGreaterThan(0)
      events.forEach((e, i) => {
        expect(e["seq"]).toBe(i)
        const action = String(e["action"])
        expect(known.has(action), action).toBe(true)
        seen.add(action)
        for (const field of matcherFields[action] ?? []) expect(e, `${action} at seq ${i} has ${field}`).toHaveProperty(field)
      })
    }
    // Seed 1 (weak) crashes one replica, seed 2 (strong) every replica: the persistence matchers all get exercised.
    for (const action of ["PersistBlock", "SyncBlocks", "Commit", "Certify", "ReleaseReply", "Checkpoint", "Crash", "CrashAll", "Restart"])
      expect(seen.has(action), action).toBe(true)
  })

  it("a reconfiguration run's description: genesis members, joiners, and the membership requests of each decided batch", () => {
    const options = reconfigSeedOptions(1, 12)
    const run = simulateReconfigSeed(1, dir, options)
    const meta = JSON.parse(fs.readFileSync(run.metaFile, "utf8")) as {
      readonly n: number
      readonly members: number
      readonly joiners: ReadonlyArray<number>
      readonly batches: Record<string, ReadonlyArray<TraceRequest>>
    }
    expect(meta.members).toBe(options.n)
    expect(meta.n).toBe(options.n + (options.joiners ?? 0))
    expect(meta.joiners.length).toBe(options.joiners ?? 0)
    const events = readTrace(run.traceFile)
    const known = new Set<string>([...OrderingActions, ...SynchronizationActions, ...PersistenceActions, ...ReconfigurationActions])
    for (const e of events) {
      const action = String(e["action"])
      expect(known.has(action), action).toBe(true)
      for (const field of matcherFields[action] ?? []) expect(e, `${action} at seq ${String(e["seq"])} has ${field}`).toHaveProperty(field)
    }
    const requests = Object.values(meta.batches).flat()
    // Every joiner that installed a view was admitted by a decided JOIN of its own.
    const joined = events.filter((e) => e["action"] === "InstallView" && e["left"] === false && meta.joiners.includes(Number(e["replica"])))
    expect(joined.length).toBeGreaterThan(0)
    for (const e of joined) expect(requests.some((q) => q.k === "join" && q.r === e["replica"])).toBe(true)
    // Every decided ROTATE is one a member announced with a Rotate event.
    const rotations = requests.filter((q) => q.k === "rotate")
    expect(rotations.length).toBeGreaterThan(0)
    for (const q of rotations) expect(events.some((e) => e["action"] === "Rotate" && e["replica"] === q.r && e["view"] === q.v)).toBe(true)
  })

  it("TLC's verdict: accepted with the event count, the first unmatched event, or an error", () => {
    expect(readVerdict('<<"TRACE-ACCEPTED", 218>>\nModel checking completed.')).toEqual({ _tag: "Accepted", events: 218 })
    const rejected = readVerdict('<< "TRACE-UNMATCHED",\n   151,\n   201,\n   [ action |-> "Stop",\n     replica |-> 1 ] >>\nError: Postcondition')
    expect(rejected._tag).toBe("Rejected")
    if (rejected._tag === "Rejected") {
      expect(rejected.index).toBe(151)
      expect(rejected.seq).toBe(201)
      expect(rejected.event).toContain('action |-> "Stop"')
    }
    const error = readVerdict("Error: TLC threw an unexpected exception.\nsomething else")
    expect(error._tag).toBe("Error")
  })
})

const tools = Effect.runSync(toolsFromEnv(process.env))

describe.skipIf(Option.isNone(tools))("trace validation with TLC (needs TLA2TOOLS_JAR)", () => {
  const run = (seed: number, brokenQuorum: boolean, kind: Parameters<typeof seedOptions>[1], transactions: number) => {
    const options = seedOptions(seed, kind, transactions)
    if (options === undefined || Option.isNone(tools)) throw new Error("no run")
    const trace = simulateSeed(seed, dir, brokenQuorum, options)
    return Effect.runPromise(validateTrace(tools.value, trace, 900))
  }

  it("a weak-mode trace with a crash, a restart and checkpoints is accepted; with a checkpoint skipped ahead it is rejected", async () => {
    const options = seedOptions(1, { _tag: "Persistence", modes: ["weak"] }, 8, 1)
    if (options === undefined || Option.isNone(tools)) throw new Error("no run")
    const trace = simulateSeed(1, dir, false, options)
    expect(trace.actions["Checkpoint"]).toBeGreaterThan(0)
    const { verdict } = await Effect.runPromise(validateTrace(tools.value, trace, 900))
    expect(verdict._tag).toBe("Accepted")
    // The first checkpoint claims the height of the one after it.
    const events = readTrace(trace.traceFile)
    const first = events.findIndex((e) => e["action"] === "Checkpoint")
    events[first] = { ...events[first], height: Number(events[first]?.["height"]) + trace.checkpointInterval }
    const skipped = path.join(dir, "seed-1-skipped.ndjson")
    fs.writeFileSync(skipped, events.map((e) => JSON.stringify(e) + "\n").join(""))
    const rejected = await Effect.runPromise(validateTrace(tools.value, { ...trace, traceFile: skipped }, 900))
    expect(rejected.verdict._tag).toBe("Rejected")
    if (rejected.verdict._tag === "Rejected") expect(rejected.verdict.seq).toBe(first)
  }, 1_000_000)

  it("a reconfiguration trace (a member joins, the members rotate and install the new view) is accepted", async () => {
    if (Option.isNone(tools)) throw new Error("no TLA+ tools")
    const trace = simulateReconfigSeed(5, dir, reconfigSeedOptions(5, 12))
    expect(trace.actions["InstallView"]).toBeGreaterThan(0)
    expect(trace.actions["Rotate"]).toBeGreaterThan(0)
    const { verdict } = await Effect.runPromise(validateTrace(tools.value, trace, 900))
    expect(verdict._tag).toBe("Accepted")
  }, 1_000_000)

  it("a trace of replicas running with q - 1 is rejected", async () => {
    const { verdict } = await run(3, true, { _tag: "Off" }, 16)
    expect(verdict._tag).toBe("Rejected")
  }, 1_000_000)
})
