// Establishes that the trace-validation script (scripts/validate-traces.ts) prepares what
// conformance/TraceSmartChain.tla reads: the adversary of a run (Byzantine replicas, and replicas
// whose synced storage the simulator damaged), the run options per seed, and traces whose events
// carry every field the TLA+ matchers select; that it reads TLC's verdict; and, where the TLA+
// tools are present (TLA2TOOLS_JAR), that TLC accepts a persistence trace and rejects a trace of
// replicas running with a broken quorum.
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { OrderingActions, PersistenceActions, SynchronizationActions } from "../../src/core/actions.ts"
import { toolsFromEnv } from "../../scripts/tla.ts"
import { amnesiaOf, byzantineOf, readVerdict, seedOptions, simulateSeed, validateTrace } from "../../scripts/validate-traces.ts"

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
      const options = seedOptions(seed, { _tag: "Persistence", modes: ["weak", "strong"] }, 8)
      if (options === undefined) throw new Error(`seed ${seed} runs weak or strong mode`)
      const run = simulateSeed(seed, dir, false, options)
      const meta = JSON.parse(fs.readFileSync(run.metaFile, "utf8")) as Record<string, unknown>
      expect(meta["mode"]).toBe(options.mode)
      expect(meta["n"]).toBe(run.n)
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
    for (const action of ["PersistBlock", "SyncBlocks", "Commit", "Certify", "ReleaseReply", "Crash", "CrashAll", "Restart"])
      expect(seen.has(action), action).toBe(true)
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

  it("a weak-mode trace with a crash and a restart is accepted", async () => {
    const { verdict } = await run(1, false, { _tag: "Persistence", modes: ["weak"] }, 8)
    expect(verdict._tag).toBe("Accepted")
  }, 1_000_000)

  it("a trace of replicas running with q - 1 is rejected", async () => {
    const { verdict } = await run(3, true, { _tag: "Off" }, 16)
    expect(verdict._tag).toBe("Rejected")
  }, 1_000_000)
})
