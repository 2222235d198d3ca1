/**
 * Trace validation, implementation -> spec: runs the deterministic simulator for a set of seeds,
 * writes each run's trace, and checks each trace with TLC against conformance/TraceSmartChain.tla
 * (every event must be matched by the spec action of the same name; see conformance/README.md).
 *
 *   npx tsx scripts/validate-traces.ts                    seeds 1..50
 *   npx tsx scripts/validate-traces.ts --seeds 80 --from 1 --jobs 2
 *   npx tsx scripts/validate-traces.ts --seed 17          one seed
 *   npx tsx scripts/validate-traces.ts --broken-quorum    every replica runs with q - 1 (the
 *                                                         simulator's test-only switch): the
 *                                                         traces must be REJECTED
 *   --persistence <modes>  run each seed with the campaign's options (test/sim/campaign.ts:
 *                         weak, strong or memory mode with crashes, restarts and storage faults)
 *                         instead of ordering only, keeping the seeds whose mode is listed
 *                         ("weak,strong", or "all"); the others are skipped
 *   --reconfig            run the reconfiguration simulator instead (test/sim/reconfig.ts, each seed's
 *                         options from reconfig-scenarios.ts campaignOptions: joins, leaves,
 *                         evictions, crashes, Byzantine members); the description adds the
 *                         genesis members, joiners, leavers, removable members, the rotation window
 *                         and each decided batch's membership requests (conformance/README.md)
 *   --traces <dir>        validate the traces already in <dir> (seed-N.ndjson with seed-N.meta.json,
 *                         as this script writes them; all of them, or those of --seed / --seeds)
 *   --strict              validate against spec/ exactly as it stands: without the two spec
 *                         changes conformance/TraceSmartChain.tla assumes (see conformance/README.md)
 *   --trace-dir <dir>     keep the traces there (default: a temporary folder, removed at the end)
 *   --summary <file>      also write the summary as JSON
 *   --timeout <seconds>   per TLC run (default 600)
 *   --transactions <k>    client transactions per run (default 16; the seed's faults do not depend on it)
 *   --checkpoint-interval <k>  blocks between checkpoints (default the simulator's, simChainLimits: 4);
 *                         the run's description passes it to the trace spec's CheckpointInterval
 *   --jobs <k>            TLC runs at a time (default 1)
 *
 * Needs TLA2TOOLS_JAR (scripts/tla.ts); without it, prints one line saying what was skipped and
 * exits 0. Exits 1 when a trace that should validate does not (or, with --broken-quorum, when a
 * trace of a run that misbehaved is accepted).
 */
import { Effect, Either, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { OrderingActions, PersistenceActions, ReconfigurationActions, SynchronizationActions } from "../src/core/actions.ts"
import { byzantineQuorum } from "../src/core/quorum.ts"
import { traceLine } from "../src/services/trace.ts"
import { optionsForSeed } from "../test/sim/campaign.ts"
import { campaignOptions } from "../test/sim/reconfig-scenarios.ts"
import type { ReconfigOptions } from "../test/sim/reconfig.ts"
import { runReconfig } from "../test/sim/reconfig.ts"
import { simLimits } from "../test/sim/world.ts"
import { toHex } from "../src/chain/bytes.ts"
import { decodeReconfigOp, isReconfigOp } from "../src/reconfiguration/requests.ts"
import type { SimOptions } from "../test/sim/simulator.ts"
import { runSimulation, simChainLimits } from "../test/sim/simulator.ts"
import { commonJvmOptions, runJava, type TlaTools, toolsFromEnv } from "./tla.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const conformanceDir = path.join(root, "conformance")
const specDir = path.join(root, "spec")

export interface TraceRun {
  readonly seed: number
  readonly n: number
  readonly mode: string
  /** Blocks between checkpoints (the genesis limit the replicas ran with). */
  readonly checkpointInterval: number
  readonly byzantine: ReadonlyArray<number>
  /** Replicas whose synced storage the simulator wiped or corrupted: the adversary stands for them. */
  readonly amnesia: ReadonlyArray<number>
  readonly faults: string
  readonly simulatorViolations: ReadonlyArray<string>
  readonly events: number
  readonly actions: Record<string, number>
  readonly traceFile: string
  readonly metaFile: string
}

/** The run's Byzantine replicas, from the simulator's description of its faults ("byzantine=0:silent,2:forge ..."). */
export const byzantineOf = (faults: string): ReadonlyArray<number> => {
  const m = faults.match(/byzantine=(\S+)/)
  if (m === null) throw new Error(`no byzantine= field in the fault description: ${faults}`)
  if (m[1] === "none") return []
  return (m[1] ?? "")
    .split(",")
    .map((entry) => Number(entry.split(":")[0]))
    .sort((a, b) => a - b)
}

/**
 * Replicas that crash with a wiped or corrupted disk ("crashes=... 2@900ms+120ms(wiped)"): losing
 * synced storage is a fault beyond the crash model, so trace validation counts them with the
 * adversary (the simulator draws them only in runs without Byzantine replicas).
 */
export const amnesiaOf = (faults: string): ReadonlyArray<number> => {
  const m = faults.match(/crashes=(.*?)(?: slowDisks=|$)/)
  if (m === null) return []
  const ids = new Set<number>()
  for (const entry of (m[1] ?? "").split(" ")) {
    if (!/\((wiped|corrupt)\)/.test(entry)) continue
    const who = entry.split("@")[0] ?? ""
    if (who === "all") throw new Error(`a full crash with a damaged disk is not expected: ${entry}`)
    for (const r of who.split(",")) ids.add(Number(r))
  }
  return [...ids].sort((a, b) => a - b)
}

/** Which runs a seed makes: ordering only ("off"), or the campaign's persistence options. */
export type RunKind = { readonly _tag: "Off" } | { readonly _tag: "Persistence"; readonly modes: ReadonlyArray<string> }

/** The simulator options of a seed for that kind of run; undefined when the seed's mode is not wanted. */
export const seedOptions = (seed: number, kind: RunKind, transactions: number, checkpointInterval?: number): SimOptions | undefined => {
  // The fault plan is drawn before the transactions, so a smaller workload keeps the seed's
  // faults and shortens the trace.
  const campaign = optionsForSeed(seed, true)
  const limits = checkpointInterval === undefined ? {} : { limits: { ...simChainLimits, checkpointInterval } }
  if (kind._tag === "Off") return { ...campaign, ...limits, mode: "off", transactions }
  const mode = campaign.mode ?? "weak"
  return kind.modes.includes("all") || kind.modes.includes(mode) ? { ...campaign, ...limits, transactions } : undefined
}

/** Runs one seed and writes its trace and description. */
export const simulateSeed = (seed: number, dir: string, brokenQuorum: boolean, options: SimOptions): TraceRun => {
  const n = options.n ?? 4
  const result = runSimulation(brokenQuorum ? { ...options, quorumOverrideForTests: byzantineQuorum(n) - 1 } : options)
  const byzantine = byzantineOf(result.faults)
  const mode = options.mode ?? "weak"
  const checkpointInterval = (options.limits ?? simChainLimits).checkpointInterval
  // Without persistence the simulator runs no crashes at all.
  const amnesia = mode === "off" ? [] : amnesiaOf(result.faults).filter((r) => !byzantine.includes(r))
  const traceFile = path.join(dir, `seed-${seed}.ndjson`)
  const metaFile = path.join(dir, `seed-${seed}.meta.json`)
  fs.writeFileSync(traceFile, result.trace.map((r) => traceLine(r) + "\n").join(""))
  const simulatorViolations = result.violations.map((v) => v.property)
  fs.writeFileSync(metaFile, JSON.stringify({ seed, n, mode, checkpointInterval, byzantine, amnesia, faults: result.faults, simulatorViolations }) + "\n")
  const { events, actions } = countEvents(result.trace.map((r) => r.event), [...byzantine, ...amnesia])
  return { seed, n, mode, checkpointInterval, byzantine, amnesia, faults: result.faults, simulatorViolations, events, actions, traceFile, metaFile }
}

/** The events TraceSmartChain.tla matches (its Kept: the adversary's own events are dropped), by action. */
const countEvents = (
  trace: ReadonlyArray<{ readonly action: string; readonly replica: number }>,
  adversary: ReadonlyArray<number>
): { readonly events: number; readonly actions: Record<string, number> } => {
  const actions: Record<string, number> = {}
  let events = 0
  for (const e of trace) {
    const own = e.action !== "CrashAll" && e.action !== "AcceptReply"
    if (own && adversary.includes(e.replica)) continue
    events++
    actions[e.action] = (actions[e.action] ?? 0) + 1
  }
  return { events, actions }
}

/** A membership request as the trace spec reads it: Base.tla's request record, 0-based replica ids. */
export interface TraceRequest {
  readonly k: "join" | "leave" | "remove" | "rotate"
  readonly id: number
  readonly r: number
  readonly v: number
}

/** The reconfiguration simulator's options for a seed, with the workload capped at `transactions`. */
export const reconfigSeedOptions = (seed: number, transactions: number): ReconfigOptions => {
  const o = campaignOptions(seed)
  return { ...o, trace: true, transactions: Math.min(o.transactions ?? transactions, transactions) }
}

/** Runs one reconfiguration seed and writes its trace and description. */
export const simulateReconfigSeed = (seed: number, dir: string, options: ReconfigOptions): TraceRun => {
  const result = runReconfig(options)
  const members = options.n
  // Replica ids: genesis members keep their label; a joiner gets its id when admitted (the views
  // say which); a joiner never admitted keeps its label (its JOIN then had no effect).
  const idOfLabel = new Map<number, number>()
  for (let l = 0; l < members + (options.joiners ?? 0); l++) idOfLabel.set(l, l)
  result.views.forEach((v, i) => v.labels.forEach((l, j) => idOfLabel.set(l, result.viewIds[i]?.[j] ?? l)))
  const idOfKey = new Map<string, number>()
  for (const [key, label] of result.identities) idOfKey.set(key, idOfLabel.get(label) ?? label)
  const byzantine = [...(options.byzantine ?? new Map()).keys()].map((l) => idOfLabel.get(l) ?? l).sort((a, b) => a - b)
  const joiners = Array.from({ length: options.joiners ?? 0 }, (_, j) => idOfLabel.get(members + j) ?? members + j).sort((a, b) => a - b)
  // A joiner's RequestJoin event names it by the label it had before admission; its identity key
  // names the replica id it was admitted with.
  const joinerIds: Record<string, number> = {}
  for (const [key, label] of result.identities) if (label >= members) joinerIds[key] = idOfLabel.get(label) ?? label
  const leavers = options.actions.flatMap((a) => (a.kind === "leave" ? [idOfLabel.get(a.label) ?? a.label] : []))
  const removable = options.actions.flatMap((a) => (a.kind === "remove" ? [idOfLabel.get(a.target) ?? a.target] : []))
  // Each decided batch's membership requests, from the correct replicas' stored chains.
  const batches: Record<string, Array<TraceRequest>> = {}
  for (const { blocks } of result.chains)
    for (const block of blocks) {
      const hash = toHex(block.header.txRoot)
      if (batches[hash] !== undefined) continue
      const requests: Array<TraceRequest> = []
      for (const tx of block.transactions) {
        if (!isReconfigOp(tx.op)) continue
        const decoded = decodeReconfigOp(tx.op)
        const by = idOfKey.get(toHex(tx.client))
        if (Either.isLeft(decoded) || by === undefined) continue
        const q = decoded.right
        if (q._tag === "Join") requests.push({ k: "join", id: 0, r: by, v: 0 })
        else if (q._tag === "Leave") requests.push({ k: "leave", id: 0, r: by, v: 0 })
        else if (q._tag === "Remove") requests.push({ k: "remove", id: by, r: q.target, v: 0 })
        else requests.push({ k: "rotate", id: 0, r: by, v: Number(q.nextViewId) })
      }
      if (requests.length > 0) batches[hash] = requests
    }
  const n = members + (options.joiners ?? 0)
  const mode = options.mode ?? "weak"
  const checkpointInterval = simLimits.checkpointInterval
  const rotationWindow = options.rotationWindow ?? simLimits.rotationWindow
  const faults = `byzantine=${byzantine.join(",") || "none"} actions=${options.actions.map((a) => a.kind).join(",")}`
  const simulatorViolations = result.violations.map((v) => v.property)
  const traceFile = path.join(dir, `seed-${seed}.ndjson`)
  const metaFile = path.join(dir, `seed-${seed}.meta.json`)
  fs.writeFileSync(traceFile, result.trace.map((r) => traceLine(r) + "\n").join(""))
  const meta = { seed, n, members, mode, checkpointInterval, byzantine, amnesia: [], joiners, joinerIds, leavers, removable, rotationWindow, batches, faults, simulatorViolations }
  fs.writeFileSync(metaFile, JSON.stringify(meta) + "\n")
  const { events, actions } = countEvents(result.trace.map((r) => r.event), byzantine)
  return { seed, n, mode, checkpointInterval, byzantine, amnesia: [], faults, simulatorViolations, events, actions, traceFile, metaFile }
}

/** A trace written earlier (seed-N.ndjson and seed-N.meta.json in `dir`), to validate again. */
export const loadRun = (dir: string, seed: number): TraceRun => {
  const traceFile = path.join(dir, `seed-${seed}.ndjson`)
  const metaFile = path.join(dir, `seed-${seed}.meta.json`)
  const meta = JSON.parse(fs.readFileSync(metaFile, "utf8")) as {
    readonly n: number
    readonly mode?: string
    readonly checkpointInterval?: number
    readonly byzantine: ReadonlyArray<number>
    readonly amnesia?: ReadonlyArray<number>
    readonly faults: string
    readonly simulatorViolations?: ReadonlyArray<string>
  }
  const trace = fs
    .readFileSync(traceFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { readonly action: string; readonly replica: number })
  const amnesia = meta.amnesia ?? []
  const { events, actions } = countEvents(trace, [...meta.byzantine, ...amnesia])
  return {
    seed,
    n: meta.n,
    mode: meta.mode ?? "off",
    checkpointInterval: meta.checkpointInterval ?? 0,
    byzantine: meta.byzantine,
    amnesia,
    faults: meta.faults,
    simulatorViolations: meta.simulatorViolations ?? [],
    events,
    actions,
    traceFile,
    metaFile
  }
}

/** The seeds of the traces in `dir`. */
export const tracedSeeds = (dir: string): ReadonlyArray<number> =>
  fs
    .readdirSync(dir)
    .flatMap((f) => {
      const m = f.match(/^seed-(\d+)\.meta\.json$/)
      return m === null ? [] : [Number(m[1])]
    })
    .sort((a, b) => a - b)

export type Verdict =
  | { readonly _tag: "Accepted"; readonly events: number }
  | { readonly _tag: "Rejected"; readonly index: number; readonly seq: number; readonly event: string }
  | { readonly _tag: "Error"; readonly message: string }

/** Reads TraceSmartChain's verdict from TLC's output. */
export const readVerdict = (output: string): Verdict => {
  // PrintT may break a long value over several lines.
  const flat = output.replace(/\s+/g, " ")
  const accepted = flat.match(/<< ?"TRACE-ACCEPTED", (\d+) ?>>/)
  if (accepted !== null) return { _tag: "Accepted", events: Number(accepted[1]) }
  const rejected = flat.match(/<< ?"TRACE-UNMATCHED", (\d+), (\d+), (\[[^\]]*\]) ?>>/)
  if (rejected !== null) return { _tag: "Rejected", index: Number(rejected[1]), seq: Number(rejected[2]), event: rejected[3] ?? "" }
  const error = output
    .split("\n")
    .filter((line) => /^Error|error|Exception/.test(line))
    .slice(0, 4)
    .join(" | ")
  return { _tag: "Error", message: error === "" ? "TLC printed no verdict" : error }
}

export const validateTrace = (
  tools: TlaTools,
  run: TraceRun,
  timeoutSeconds: number,
  strict = false
): Effect.Effect<{ readonly verdict: Verdict; readonly millis: number }, Error> =>
  Effect.gen(function* () {
    const metadir = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-trace-tlc-"))
    const java = yield* runJava({
      tools,
      jvmOptions: ["-XX:+UseParallelGC", "-Xss16m", ...commonJvmOptions(tools, [specDir])],
      mainClass: "tlc2.TLC",
      args: ["-workers", "1", "-noTE", "-metadir", metadir, "-config", "TraceSmartChain.cfg", "TraceSmartChain"],
      cwd: conformanceDir,
      env: { TRACE_FILE: run.traceFile, TRACE_META: run.metaFile, TRACE_STRICT: strict ? "1" : "0" },
      timeoutMillis: timeoutSeconds * 1000
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(metadir, { recursive: true, force: true }))))
    if (java.timedOut) return { verdict: { _tag: "Error", message: `TLC timed out after ${timeoutSeconds}s` }, millis: java.millis }
    const verdict = readVerdict(java.output)
    // TLC's own report stays beside a trace it did not accept.
    if (verdict._tag !== "Accepted") fs.writeFileSync(run.traceFile.replace(/\.ndjson$/, ".tlc.txt"), java.output)
    return { verdict, millis: java.millis }
  })

const argValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

interface Outcome {
  readonly run: TraceRun
  readonly verdict: Verdict
  readonly millis: number
}

const main = Effect.gen(function* () {
  const args = process.argv.slice(2)
  const brokenQuorum = args.includes("--broken-quorum")
  const strict = args.includes("--strict")
  const persistence = argValue(args, "--persistence")
  const reconfig = args.includes("--reconfig")
  const kind: RunKind = persistence === undefined ? { _tag: "Off" } : { _tag: "Persistence", modes: persistence.split(",") }
  const tools = yield* toolsFromEnv(process.env)
  if (Option.isNone(tools)) {
    console.log("validate-traces skipped: TLA2TOOLS_JAR is not set (simulator traces not checked against conformance/TraceSmartChain.tla)")
    return 0
  }
  const single = argValue(args, "--seed")
  const from = Number(argValue(args, "--from") ?? 1)
  const count = Number(argValue(args, "--seeds") ?? 50)
  const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, i) => from + i)
  const jobs = Math.max(1, Number(argValue(args, "--jobs") ?? 1))
  const timeoutSeconds = Number(argValue(args, "--timeout") ?? 600)
  const transactions = Number(argValue(args, "--transactions") ?? 16)
  const intervalArg = argValue(args, "--checkpoint-interval")
  const checkpointInterval = intervalArg === undefined ? undefined : Number(intervalArg)
  const keepDir = argValue(args, "--trace-dir")
  const dir = keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-traces-"))
  fs.mkdirSync(dir, { recursive: true })

  const started = performance.now()
  // --traces: validate traces written before (no simulation), every one in the folder or the seeds asked for.
  const tracesDir = argValue(args, "--traces")
  const asked = single !== undefined || argValue(args, "--seeds") !== undefined
  const chosen: ReadonlyArray<{ readonly seed: number; readonly make: () => TraceRun }> =
    tracesDir !== undefined
      ? tracedSeeds(tracesDir)
          .filter((seed) => !asked || seeds.includes(seed))
          .map((seed) => ({ seed, make: () => loadRun(tracesDir, seed) }))
      : reconfig
        ? seeds.map((seed) => ({ seed, make: () => simulateReconfigSeed(seed, dir, reconfigSeedOptions(seed, transactions)) }))
        : seeds.flatMap((seed) => {
          const options = seedOptions(seed, kind, transactions, checkpointInterval)
          return options === undefined ? [] : [{ seed, make: () => simulateSeed(seed, dir, brokenQuorum, options) }]
        })
  const what = `${tracesDir !== undefined ? `traces from ${tracesDir}` : reconfig ? "reconfiguration" : kind._tag === "Off" ? "ordering only" : `persistence modes ${kind.modes.join(",")}`}${strict ? ", strict (spec/ as it stands)" : ""}`
  console.log(
    tracesDir !== undefined
      ? `validating ${chosen.length} traces from ${tracesDir}${strict ? ", strict (spec/ as it stands)" : ""}`
      : `${brokenQuorum ? "broken quorum (q - 1): " : ""}${what}: simulating and validating ${chosen.length} of seeds ${seeds[0]}..${seeds[seeds.length - 1]}, traces in ${dir}`
  )
  const outcomes: Array<Outcome> = []
  yield* Effect.forEach(
    chosen,
    ({ seed, make }) =>
      Effect.gen(function* () {
        const run = make()
        const { verdict, millis } = yield* validateTrace(tools.value, run, timeoutSeconds, strict)
        outcomes.push({ run, verdict, millis })
        const sim = run.simulatorViolations.length === 0 ? "sim ok" : `sim: ${[...new Set(run.simulatorViolations)].join(",")}`
        const verdictText =
          verdict._tag === "Accepted"
            ? "accepted"
            : verdict._tag === "Rejected"
              ? `REJECTED at event ${verdict.index} (seq ${verdict.seq}): ${verdict.event.slice(0, 160)}`
              : `ERROR ${verdict.message}`
        const adversary = `byzantine=[${run.byzantine.join(",")}]${run.amnesia.length > 0 ? ` amnesia=[${run.amnesia.join(",")}]` : ""}`
        console.log(
          `[${outcomes.length}/${chosen.length}] seed ${seed} ${run.mode} n=${run.n} ${adversary} ${run.events} events, ${sim}, TLC ${(millis / 1000).toFixed(1)}s: ${verdictText}`
        )
      }),
    { concurrency: jobs, discard: true }
  )
  const seconds = (performance.now() - started) / 1000
  outcomes.sort((a, b) => a.run.seed - b.run.seed)

  const accepted = outcomes.filter((o) => o.verdict._tag === "Accepted")
  const rejected = outcomes.filter((o) => o.verdict._tag === "Rejected")
  const errors = outcomes.filter((o) => o.verdict._tag === "Error")
  const covered: Record<string, number> = {}
  for (const o of accepted) for (const [a, k] of Object.entries(o.run.actions)) covered[a] = (covered[a] ?? 0) + k
  const leaderChanges = accepted.filter((o) => (o.run.actions["StopData"] ?? 0) > 0).length
  const required: ReadonlyArray<string> = [...OrderingActions, ...SynchronizationActions]
  const missing = required.filter((a) => covered[a] === undefined)
  const tlcSeconds = outcomes.reduce((s, o) => s + o.millis, 0) / 1000

  console.log("")
  const done = outcomes.map((o) => o.run.seed)
  console.log(`seeds ${done[0] ?? "-"}..${done[done.length - 1] ?? "-"}: ${outcomes.length} traces, ${outcomes.reduce((s, o) => s + o.run.events, 0)} events`)
  console.log(`accepted ${accepted.length} (${accepted.reduce((s, o) => s + o.run.events, 0)} events, ${leaderChanges} with a leader change), rejected ${rejected.length}, errors ${errors.length}`)
  console.log(`actions in accepted traces: ${Object.entries(covered).sort(([a], [b]) => a.localeCompare(b)).map(([a, k]) => `${a} ${k}`).join(", ")}`)
  if (!brokenQuorum) console.log(missing.length === 0 ? "every Ordering and Synchronization action is covered" : `NOT covered: ${missing.join(", ")}`)
  if (kind._tag === "Persistence" || outcomes.some((o) => o.run.mode !== "off")) {
    const absent = PersistenceActions.filter((a) => covered[a] === undefined)
    console.log(absent.length === 0 ? "every Persistence action is covered" : `Persistence actions in no accepted trace: ${absent.join(", ")}`)
  }
  if (reconfig) {
    // Compromise is the adversary's step, never an event of the implementation.
    const absent = ReconfigurationActions.filter((a) => a !== "Compromise" && covered[a] === undefined)
    console.log(absent.length === 0 ? "every Reconfiguration action the implementation takes is covered" : `Reconfiguration actions in no accepted trace: ${absent.join(", ")}`)
  }
  console.log(`TLC time ${tlcSeconds.toFixed(1)}s, wall time ${seconds.toFixed(1)}s`)
  for (const o of [...rejected, ...errors]) {
    const v = o.verdict
    console.log(
      v._tag === "Rejected"
        ? `  seed ${o.run.seed}: first unmatched event ${v.index} (seq ${v.seq}) ${v.event}`
        : v._tag === "Error"
          ? `  seed ${o.run.seed}: ${v.message}`
          : ""
    )
  }

  const summaryFile = argValue(args, "--summary")
  if (summaryFile !== undefined) {
    const summary = {
      brokenQuorum,
      runs: what,
      seeds: { from: done[0], to: done[done.length - 1], count: done.length },
      events: outcomes.reduce((s, o) => s + o.run.events, 0),
      accepted: accepted.map((o) => o.run.seed),
      modes: Object.fromEntries([...new Set(outcomes.map((o) => o.run.mode))].map((m) => [m, outcomes.filter((o) => o.run.mode === m).map((o) => o.run.seed)])),
      rejected: rejected.map((o) => ({ seed: o.run.seed, simulator: o.run.simulatorViolations, verdict: o.verdict })),
      errors: errors.map((o) => ({ seed: o.run.seed, verdict: o.verdict })),
      leaderChanges,
      covered,
      tlcSeconds: Math.round(tlcSeconds),
      wallSeconds: Math.round(seconds)
    }
    fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + "\n")
  }
  if (keepDir === undefined) fs.rmSync(dir, { recursive: true, force: true })

  if (brokenQuorum) {
    // Every run whose replicas actually misbehaved (the simulator saw a violation) must be rejected.
    const misbehaved = outcomes.filter((o) => o.run.simulatorViolations.length > 0)
    const slipped = misbehaved.filter((o) => o.verdict._tag === "Accepted")
    console.log(
      `broken quorum: ${misbehaved.length} runs misbehaved (simulator violation), ${misbehaved.length - slipped.length} of them rejected by trace validation; ${rejected.length} of ${outcomes.length} traces rejected in all`
    )
    return slipped.length === 0 && errors.length === 0 && rejected.length > 0 ? 0 : 1
  }
  return rejected.length === 0 && errors.length === 0 && missing.length === 0 ? 0 : 1
})

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  Effect.runPromise(main).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e)
      process.exit(2)
    }
  )
}
