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
 *   --trace-dir <dir>     keep the traces there (default: a temporary folder, removed at the end)
 *   --summary <file>      also write the summary as JSON
 *   --timeout <seconds>   per TLC run (default 600)
 *   --transactions <k>    client transactions per run (default 16; the seed's faults do not depend on it)
 *   --jobs <k>            TLC runs at a time (default 1)
 *
 * Needs TLA2TOOLS_JAR (scripts/tla.ts); without it, prints one line saying what was skipped and
 * exits 0. Exits 1 when a trace that should validate does not (or, with --broken-quorum, when a
 * trace of a run that misbehaved is accepted).
 */
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { OrderingActions, SynchronizationActions } from "../src/core/actions.ts"
import { byzantineQuorum } from "../src/core/quorum.ts"
import { traceLine } from "../src/services/trace.ts"
import { optionsForSeed } from "../test/sim/campaign.ts"
import type { SimOptions } from "../test/sim/simulator.ts"
import { runSimulation } from "../test/sim/simulator.ts"
import { commonJvmOptions, runJava, type TlaTools, toolsFromEnv } from "./tla.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const conformanceDir = path.join(root, "conformance")
const specDir = path.join(root, "spec")

export interface TraceRun {
  readonly seed: number
  readonly n: number
  readonly byzantine: ReadonlyArray<number>
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

/** Runs one seed and writes its trace and description. */
export const simulateSeed = (seed: number, dir: string, brokenQuorum: boolean, transactions: number): TraceRun => {
  // Ordering and leader change only: persistence events and crashes are outside this spec's
  // matchers. The fault plan is drawn before the transactions, so a smaller workload keeps the
  // seed's faults and shortens the trace.
  const options: SimOptions = { ...optionsForSeed(seed, true), mode: "off", transactions }
  const n = options.n ?? 4
  const result = runSimulation(brokenQuorum ? { ...options, quorumOverrideForTests: byzantineQuorum(n) - 1 } : options)
  const byzantine = byzantineOf(result.faults)
  const traceFile = path.join(dir, `seed-${seed}.ndjson`)
  const metaFile = path.join(dir, `seed-${seed}.meta.json`)
  fs.writeFileSync(traceFile, result.trace.map((r) => traceLine(r) + "\n").join(""))
  fs.writeFileSync(metaFile, JSON.stringify({ seed, n, byzantine, faults: result.faults }) + "\n")
  const actions: Record<string, number> = {}
  let events = 0
  for (const r of result.trace) {
    if (byzantine.includes(r.event.replica)) continue
    events++
    actions[r.event.action] = (actions[r.event.action] ?? 0) + 1
  }
  return {
    seed,
    n,
    byzantine,
    faults: result.faults,
    simulatorViolations: result.violations.map((v) => v.property),
    events,
    actions,
    traceFile,
    metaFile
  }
}

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
  timeoutSeconds: number
): Effect.Effect<{ readonly verdict: Verdict; readonly millis: number }, Error> =>
  Effect.gen(function* () {
    const metadir = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-trace-tlc-"))
    const java = yield* runJava({
      tools,
      jvmOptions: ["-XX:+UseParallelGC", "-Xss16m", ...commonJvmOptions(tools, [specDir])],
      mainClass: "tlc2.TLC",
      args: ["-workers", "1", "-noTE", "-metadir", metadir, "-config", "TraceSmartChain.cfg", "TraceSmartChain"],
      cwd: conformanceDir,
      env: { TRACE_FILE: run.traceFile, TRACE_META: run.metaFile },
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
  const keepDir = argValue(args, "--trace-dir")
  const dir = keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-traces-"))
  fs.mkdirSync(dir, { recursive: true })

  const started = performance.now()
  console.log(`${brokenQuorum ? "broken quorum (q - 1): " : ""}simulating and validating ${seeds.length} seeds, traces in ${dir}`)
  const outcomes: Array<Outcome> = []
  yield* Effect.forEach(
    seeds,
    (seed) =>
      Effect.gen(function* () {
        const run = simulateSeed(seed, dir, brokenQuorum, transactions)
        const { verdict, millis } = yield* validateTrace(tools.value, run, timeoutSeconds)
        outcomes.push({ run, verdict, millis })
        const sim = run.simulatorViolations.length === 0 ? "sim ok" : `sim: ${[...new Set(run.simulatorViolations)].join(",")}`
        const what =
          verdict._tag === "Accepted"
            ? "accepted"
            : verdict._tag === "Rejected"
              ? `REJECTED at event ${verdict.index} (seq ${verdict.seq}): ${verdict.event.slice(0, 160)}`
              : `ERROR ${verdict.message}`
        console.log(
          `[${outcomes.length}/${seeds.length}] seed ${seed} n=${run.n} byzantine=[${run.byzantine.join(",")}] ${run.events} events, ${sim}, TLC ${(millis / 1000).toFixed(1)}s: ${what}`
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
  const required = [...OrderingActions, ...SynchronizationActions]
  const missing = required.filter((a) => covered[a] === undefined)
  const tlcSeconds = outcomes.reduce((s, o) => s + o.millis, 0) / 1000

  console.log("")
  console.log(`seeds ${seeds[0]}..${seeds[seeds.length - 1]}: ${outcomes.length} traces, ${outcomes.reduce((s, o) => s + o.run.events, 0)} events`)
  console.log(`accepted ${accepted.length} (${accepted.reduce((s, o) => s + o.run.events, 0)} events, ${leaderChanges} with a leader change), rejected ${rejected.length}, errors ${errors.length}`)
  console.log(`actions in accepted traces: ${Object.entries(covered).sort(([a], [b]) => a.localeCompare(b)).map(([a, k]) => `${a} ${k}`).join(", ")}`)
  if (!brokenQuorum) console.log(missing.length === 0 ? "every Ordering and Synchronization action is covered" : `NOT covered: ${missing.join(", ")}`)
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
      seeds: { from: seeds[0], to: seeds[seeds.length - 1], count: seeds.length },
      events: outcomes.reduce((s, o) => s + o.run.events, 0),
      accepted: accepted.map((o) => o.run.seed),
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

Effect.runPromise(main).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(2)
  }
)
