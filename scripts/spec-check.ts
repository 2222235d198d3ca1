/**
 * `npm run spec:check [-- MODEL...]`: checks the TLA+ specification and the proofs with the TLA+
 * tools.
 *
 *  1. SANY parses every .tla file under spec/, proofs/ and conformance/; any parse or semantic
 *     error fails the check.
 *  2. TLC runs every model listed in the manifests spec/models.json and proofs/models.json (or only
 *     the models named on the command line, from either manifest) and each must end as its entry
 *     expects: "pass" (no error), { "violates": "Name" } (exactly that invariant or property is
 *     violated) or { "deadlock": true }. Model names are unique across both manifests.
 *
 * The results are printed as a table and written beside each manifest (spec/last-run.json,
 * proofs/last-run.json). Without TLA2TOOLS_JAR the check prints one line saying what was skipped
 * and succeeds: the tools are not a dependency of the project (see scripts/tla.ts for the
 * variables it reads). TLC_HEAP sets TLC's heap (8g).
 *
 * A manifest entry (defaults in brackets); `dir` is the manifest's own folder or a folder under it:
 *   { "name": "MCOrdering",            unique; what `npm run spec:check -- MCOrdering` selects
 *     "dir": "spec",                   folder of the module and config, TLC's working directory
 *     "module": "MCOrdering", "config": "MCOrdering.cfg",
 *     "expect": "pass" | { "violates": "DurableReplies" } | { "deadlock": true },
 *     "workers": 2, "timeoutMinutes": 10,                                        [2, 10]
 *     "mode": "bfs" | { "simulate": { "depth": 100, "traces": 10000 } },         ["bfs"]
 *     "checkDeadlock": false,          false passes -deadlock, TLC's "do not check"  [true]
 *     "env": { "TRACE_FILE": "..." },  extra environment variables, e.g. for IOEnv  [none]
 *     "seed": 1,                       TLC's -seed, for a randomized run that must be reproducible
 *                                      (RandomElement draws, simulation); [a fresh seed per run]
 *     "description": "..." }                                                       [none]
 */
import { Data, Effect, Either, Option, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import {
  commonJvmOptions,
  describeOutcome,
  type JavaNotStarted,
  readSanyOutput,
  readTlcOutput,
  runJava,
  type TlaTools,
  type TlcOutcome,
  type TlcStatistics,
  toolsFromEnv,
  type ToolsNotFound
} from "./tla.ts"

/** The repository root (this file lives in scripts/). */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The folders whose .tla files SANY parses, relative to the repository root. */
export const parsedFolders = ["spec", "proofs", "conformance"] as const

/** The folders that hold a model manifest (models.json), in the order their models run. */
export const manifestFolders = ["spec", "proofs"] as const

/** The one line printed when the tools are not configured. */
export const skippedLine =
  "spec:check skipped: TLA2TOOLS_JAR is not set (SANY parse of spec/, proofs/, conformance/ and the TLC models in spec/models.json and proofs/models.json not run)"

/* ------------------------------------------------------------------------------------------------
 * The manifests: spec/models.json and proofs/models.json
 * ---------------------------------------------------------------------------------------------- */

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())
const Identifier = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/),
  Schema.annotations({ message: () => "expected a TLA+ identifier" })
)
const RelativeFolder = Schema.String.pipe(
  Schema.filter((s) => s !== "" && !path.isAbsolute(s) && !s.split(/[\\/]/).includes(".."), {
    message: () => "expected a folder relative to the repository root, without '..'"
  })
)

/** What a model's run must show: no error, exactly one named violation, or a deadlock. */
export const Expectation = Schema.Union(
  Schema.Literal("pass"),
  Schema.Struct({ violates: Identifier }),
  Schema.Struct({ deadlock: Schema.Literal(true) })
)
export type Expectation = typeof Expectation.Type

/** Exhaustive breadth-first model checking, or random simulation of bounded behaviours. */
export const SearchMode = Schema.Union(
  Schema.Literal("bfs"),
  Schema.Struct({ simulate: Schema.Struct({ depth: PositiveInt, traces: PositiveInt }) })
)
export type SearchMode = typeof SearchMode.Type

/**
 * One model: TLC runs `module` with `config`, both in folder `dir`, which is also its working
 * directory. `checkDeadlock: false` passes -deadlock (TLC then does not report deadlocks). `env`
 * adds environment variables (e.g. a trace file path read with IOEnv).
 */
export const ModelEntry = Schema.Struct({
  name: Identifier,
  dir: RelativeFolder,
  module: Identifier,
  config: Schema.String.pipe(Schema.pattern(/^[^\\/]+\.cfg$/)),
  expect: Expectation,
  workers: Schema.optionalWith(PositiveInt, { default: () => 2 }),
  timeoutMinutes: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 10 }),
  mode: Schema.optionalWith(SearchMode, { default: () => "bfs" as const }),
  checkDeadlock: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  seed: Schema.optional(Schema.Number.pipe(Schema.int())),
  description: Schema.optional(Schema.String)
})
export type ModelEntry = typeof ModelEntry.Type

export const Manifest = Schema.Array(ModelEntry)

/** spec/models.json is missing, is not JSON, does not match the format, or names missing files. */
export class ManifestError extends Data.TaggedError("ManifestError")<{ readonly file: string; readonly reason: string }> {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/** Decodes and checks a manifest's JSON text: its shape, unique names, consistent options. */
export const decodeManifest = (text: string, file: string): Either.Either<ReadonlyArray<ModelEntry>, ManifestError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(new ManifestError({ file, reason: `not JSON: ${String(error)}` }))
  }
  const decoded = Schema.decodeUnknownEither(Manifest)(json)
  if (Either.isLeft(decoded)) {
    return Either.left(new ManifestError({ file, reason: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }))
  }
  const entries = decoded.right
  const seen = new Set<string>()
  for (const entry of entries) {
    if (seen.has(entry.name)) return Either.left(new ManifestError({ file, reason: `model ${entry.name} is listed twice` }))
    seen.add(entry.name)
    if (typeof entry.expect === "object" && "deadlock" in entry.expect && !entry.checkDeadlock) {
      return Either.left(
        new ManifestError({ file, reason: `model ${entry.name} expects a deadlock but has checkDeadlock: false` })
      )
    }
  }
  return Either.right(entries)
}

/** Checks that each entry's module and config exist under `root`. */
export const checkModelFiles = (
  entries: ReadonlyArray<ModelEntry>,
  file: string,
  root: string
): Either.Either<ReadonlyArray<ModelEntry>, ManifestError> => {
  for (const entry of entries) {
    for (const name of [`${entry.module}.tla`, entry.config]) {
      if (!fs.existsSync(path.join(root, entry.dir, name))) {
        return Either.left(new ManifestError({ file, reason: `model ${entry.name}: ${path.join(entry.dir, name)} does not exist` }))
      }
    }
  }
  return Either.right(entries)
}

/** One manifest as read: its folder (relative to the root), its file, and its entries. */
export interface LoadedManifest {
  readonly folder: string
  readonly file: string
  readonly entries: ReadonlyArray<ModelEntry>
}

/** Checks that every entry of a manifest runs in the manifest's own folder or a folder under it. */
export const checkEntryFolders = (manifest: LoadedManifest): Either.Either<LoadedManifest, ManifestError> => {
  for (const entry of manifest.entries) {
    const dir = entry.dir.split(/[\\/]/).filter((part) => part !== "" && part !== ".").join("/")
    if (dir !== manifest.folder && !dir.startsWith(`${manifest.folder}/`)) {
      return Either.left(
        new ManifestError({
          file: manifest.file,
          reason: `model ${entry.name} has dir "${entry.dir}", outside this manifest's folder ${manifest.folder}/`
        })
      )
    }
  }
  return Either.right(manifest)
}

/** Reads `folder`/models.json under `root`: decoded, and with every entry inside `folder`. */
export const loadManifest = (root: string, folder: string = "spec"): Effect.Effect<LoadedManifest, ManifestError> => {
  const file = path.join(root, folder, "models.json")
  return Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (error) => new ManifestError({ file, reason: `cannot read: ${String(error)}` })
  }).pipe(
    Effect.flatMap((text) => decodeManifest(text, file)),
    Effect.flatMap((entries) => checkEntryFolders({ folder, file, entries }))
  )
}

/**
 * The models of several manifests as one list, in manifest order. A name listed in two manifests
 * is an error: names select models on the command line.
 */
export const combineManifests = (
  manifests: ReadonlyArray<LoadedManifest>
): Either.Either<ReadonlyArray<ModelEntry>, ManifestError> => {
  const owner = new Map<string, string>()
  for (const manifest of manifests) {
    for (const entry of manifest.entries) {
      const first = owner.get(entry.name)
      if (first !== undefined) {
        return Either.left(
          new ManifestError({ file: manifest.file, reason: `model ${entry.name} is also listed in ${first}` })
        )
      }
      owner.set(entry.name, manifest.file)
    }
  }
  return Either.right(manifests.flatMap((manifest) => manifest.entries))
}

/** Reads every manifest under `root` (spec/models.json, proofs/models.json); each must exist. */
export const loadManifests = (
  root: string,
  folders: ReadonlyArray<string> = manifestFolders
): Effect.Effect<ReadonlyArray<LoadedManifest>, ManifestError> =>
  Effect.forEach(folders, (folder) => loadManifest(root, folder)).pipe(
    Effect.tap((manifests) => combineManifests(manifests))
  )

/** The models named on the command line, or all of them; unknown names are an error. */
export const selectModels = (
  entries: ReadonlyArray<ModelEntry>,
  names: ReadonlyArray<string>
): Either.Either<ReadonlyArray<ModelEntry>, ManifestError> => {
  if (names.length === 0) return Either.right(entries)
  const unknown = names.filter((name) => !entries.some((entry) => entry.name === name))
  if (unknown.length > 0) {
    return Either.left(
      new ManifestError({
        file: manifestFolders.map((folder) => `${folder}/models.json`).join(", "),
        reason: `no model named ${unknown.join(", ")}; known models: ${entries.map((e) => e.name).join(", ") || "(none)"}`
      })
    )
  }
  return Either.right(entries.filter((entry) => names.includes(entry.name)))
}

/* ------------------------------------------------------------------------------------------------
 * Judging a run against its expectation
 * ---------------------------------------------------------------------------------------------- */

export const describeExpectation = (expect: Expectation): string =>
  expect === "pass" ? "pass" : "violates" in expect ? `violates ${expect.violates}` : "deadlock"

/** Whether an outcome is the one expected; when not, why. */
export const judge = (expect: Expectation, outcome: TlcOutcome): { readonly ok: boolean; readonly reason: string } => {
  const shown = describeOutcome(outcome)
  if (expect === "pass") {
    return outcome._tag === "Pass" ? { ok: true, reason: "" } : { ok: false, reason: `expected no error, got: ${shown}` }
  }
  if ("deadlock" in expect) {
    return outcome._tag === "Deadlock" ? { ok: true, reason: "" } : { ok: false, reason: `expected a deadlock, got: ${shown}` }
  }
  const wanted = expect.violates
  const violated: ReadonlyArray<string> | undefined =
    outcome._tag === "InvariantViolated" ||
    outcome._tag === "ActionPropertyViolated" ||
    outcome._tag === "PropertyViolatedInitially"
      ? [outcome.name]
      : outcome._tag === "TemporalPropertyViolated"
        ? outcome.names
        : undefined
  if (violated === undefined) {
    return {
      ok: false,
      reason:
        outcome._tag === "Pass"
          ? `expected ${wanted} to be violated, but TLC found no error (the model no longer exposes the bug it is meant to catch)`
          : `expected ${wanted} to be violated, got: ${shown}`
    }
  }
  if (violated.length === 1 && violated[0] === wanted) return { ok: true, reason: "" }
  if (violated.length === 0) {
    return { ok: false, reason: `expected ${wanted} to be violated; TLC reported a temporal violation without naming the property` }
  }
  return { ok: false, reason: `expected exactly ${wanted} to be violated, got: ${shown}` }
}

/* ------------------------------------------------------------------------------------------------
 * Running SANY and TLC
 * ---------------------------------------------------------------------------------------------- */

export type Log = (line: string) => void

/** Every .tla file under the given folders of `root`, sorted; folders that do not exist are skipped. */
export const findTlaFiles = (root: string, folders: ReadonlyArray<string> = parsedFolders): ReadonlyArray<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "states") continue
        walk(full)
      } else if (entry.isFile() && entry.name.endsWith(".tla")) {
        found.push(full)
      }
    }
  }
  for (const folder of folders) walk(path.join(root, folder))
  return found.sort()
}

export interface ParseReport {
  /** Path relative to the repository root. */
  readonly file: string
  readonly ok: boolean
  readonly message: string
}

/**
 * The folders TLC and SANY search for modules beyond the working directory: spec/, proofs/ and
 * conformance/, so that a proof or a trace-validation module can EXTEND or INSTANCE a spec module.
 */
export const moduleFolders = (root: string): ReadonlyArray<string> =>
  parsedFolders.map((folder) => path.join(root, folder)).filter((dir) => fs.existsSync(dir))

const sanyIn = (tools: TlaTools, root: string, dir: string, files: ReadonlyArray<string>) =>
  runJava({
    tools,
    jvmOptions: commonJvmOptions(tools, moduleFolders(root)),
    mainClass: "tla2sany.SANY",
    args: ["-error-codes", ...files],
    cwd: dir,
    timeoutMillis: 5 * 60_000
  })

/**
 * Parses every file with SANY, one JVM per folder (SANY looks for EXTENDS and INSTANCE in the
 * working directory first, then in moduleFolders). SANY stops at the first file that fails, so a
 * failing folder is parsed again file by file to report every error.
 */
export const parseAll = (
  tools: TlaTools,
  root: string,
  files: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<ParseReport>, JavaNotStarted> =>
  Effect.gen(function* () {
    const byFolder = new Map<string, Array<string>>()
    for (const file of files) {
      const dir = path.dirname(file)
      byFolder.set(dir, [...(byFolder.get(dir) ?? []), path.basename(file)])
    }
    const reports: Array<ParseReport> = []
    for (const [dir, names] of byFolder) {
      const batch = yield* sanyIn(tools, root, dir, names)
      if (readSanyOutput(batch.output, batch.exitCode).ok) {
        for (const name of names) reports.push({ file: path.relative(root, path.join(dir, name)), ok: true, message: "" })
        continue
      }
      for (const name of names) {
        const run = yield* sanyIn(tools, root, dir, [name])
        const result = readSanyOutput(run.output, run.exitCode)
        reports.push({ file: path.relative(root, path.join(dir, name)), ok: result.ok, message: result.message })
      }
    }
    return reports
  })

/** The JVM heap for TLC: TLC_HEAP if set (e.g. "12g"), otherwise 8 GiB of the machine's 24. */
export const tlcHeap = (env: Readonly<Record<string, string | undefined>>): string => {
  const heap = env["TLC_HEAP"]
  return heap !== undefined && /^\d+[mgMG]$/.test(heap) ? heap : "8g"
}

/** The TLC command-line arguments for one model (after the class name). */
export const tlcArguments = (entry: ModelEntry, metadir: string): ReadonlyArray<string> => [
  "-workers",
  String(entry.workers),
  "-cleanup",
  "-metadir",
  metadir,
  "-noTE",
  "-config",
  entry.config,
  ...(entry.checkDeadlock ? [] : ["-deadlock"]),
  ...(entry.mode === "bfs" ? [] : ["-simulate", `num=${entry.mode.simulate.traces}`, "-depth", String(entry.mode.simulate.depth)]),
  ...(entry.seed === undefined ? [] : ["-seed", String(entry.seed)]),
  entry.module
]

export interface ModelReport {
  readonly name: string
  readonly module: string
  readonly mode: string
  readonly expected: string
  readonly outcome: string
  readonly ok: boolean
  readonly reason: string
  readonly statistics: TlcStatistics
  readonly seconds: number
  readonly tlcVersion: string | undefined
  readonly ranAt: string
}

const formatDuration = (millis: number): string => {
  const seconds = Math.round(millis / 1000)
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`
}

const isProgressLine = (line: string): boolean =>
  /^Progress[(:]/.test(line) ||
  line.startsWith("Finished computing initial states") ||
  line.startsWith("Checking temporal properties for the") ||
  line.startsWith("Finished checking temporal properties")

/** TLC reports progress once a minute; the harness speaks up when TLC has been quiet for longer. */
const heartbeatMillis = 90_000

/**
 * Runs one model with TLC and judges the result. TLC's progress lines are passed to `log` as they
 * arrive, and a heartbeat is logged when TLC has been quiet for 90 seconds (e.g. while it checks
 * temporal properties).
 */
export const runModel = (
  tools: TlaTools,
  root: string,
  entry: ModelEntry,
  log: Log,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<ModelReport, JavaNotStarted> =>
  Effect.gen(function* () {
    const metadir = yield* Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), `smartchain-tlc-${entry.name}-`)))
    const started = performance.now()
    let lastOutput = started
    let lastProgress = "starting"
    const heartbeat = setInterval(() => {
      if (performance.now() - lastOutput >= heartbeatMillis) {
        log(`  [${entry.name}] still running after ${formatDuration(performance.now() - started)}; last: ${lastProgress}`)
        lastOutput = performance.now()
      }
    }, 5_000)
    const run = yield* runJava({
      tools,
      jvmOptions: ["-XX:+UseParallelGC", `-Xmx${tlcHeap(env)}`, ...commonJvmOptions(tools, moduleFolders(root))],
      mainClass: "tlc2.TLC",
      args: tlcArguments(entry, metadir),
      cwd: path.join(root, entry.dir),
      ...(entry.env === undefined ? {} : { env: entry.env }),
      timeoutMillis: Math.round(entry.timeoutMinutes * 60_000),
      onLine: (line) => {
        if (!isProgressLine(line)) return
        lastProgress = line
        lastOutput = performance.now()
        log(`  [${entry.name}] ${line}`)
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          clearInterval(heartbeat)
          fs.rmSync(metadir, { recursive: true, force: true })
        })
      )
    )
    const reading = readTlcOutput(run.output, run.exitCode)
    const outcome: TlcOutcome = run.timedOut ? { _tag: "Timeout" } : reading.outcome
    const verdict = judge(entry.expect, outcome)
    const detail =
      outcome._tag === "Failure" || outcome._tag === "ParseError" || outcome._tag === "AssertionFailed"
        ? `\n${outcome.message}`
        : outcome._tag === "Timeout"
          ? ` (limit ${entry.timeoutMinutes} min; last: ${lastProgress})`
          : ""
    return {
      name: entry.name,
      module: entry.module,
      mode: entry.mode === "bfs" ? "bfs" : `simulate depth ${entry.mode.simulate.depth} x ${entry.mode.simulate.traces}`,
      expected: describeExpectation(entry.expect),
      outcome: describeOutcome(outcome),
      ok: verdict.ok,
      reason: verdict.ok ? "" : `${verdict.reason}${detail}`,
      statistics: reading.statistics,
      seconds: Math.round(run.millis / 100) / 10,
      tlcVersion: reading.version,
      ranAt: new Date().toISOString()
    }
  })

/* ------------------------------------------------------------------------------------------------
 * The whole check
 * ---------------------------------------------------------------------------------------------- */

export interface CheckSummary {
  readonly parse: ReadonlyArray<ParseReport>
  readonly models: ReadonlyArray<ModelReport>
  readonly ok: boolean
}

const cell = (value: number | undefined): string => (value === undefined ? "-" : value.toLocaleString("en-US"))

/** The results table: model | expected | outcome | distinct states | depth | time. */
export const formatTable = (models: ReadonlyArray<ModelReport>): string => {
  const header = ["model", "expected", "outcome", "distinct states", "depth", "time"]
  const rows = models.map((m) => [
    `${m.ok ? "ok  " : "FAIL"} ${m.name}`,
    m.expected,
    m.outcome,
    m.statistics.distinctStates === undefined && m.statistics.statesGenerated !== undefined
      ? `(${cell(m.statistics.statesGenerated)} generated)`
      : cell(m.statistics.distinctStates),
    cell(m.statistics.depth),
    `${m.seconds}s`
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n")
}

/**
 * Writes a manifest's last-run.json beside it (spec/last-run.json, proofs/last-run.json): one row
 * per model of that manifest. Results of models that were not run this time are kept, so a run of
 * a few named models updates their rows without dropping the others; models no longer in the
 * manifest are dropped.
 */
export const writeLastRun = (
  root: string,
  manifest: LoadedManifest,
  summary: CheckSummary
): Effect.Effect<void, ManifestError> => {
  const file = path.join(root, manifest.folder, "last-run.json")
  return Effect.try({
    try: () => {
      let previous: ReadonlyArray<ModelReport> = []
      if (fs.existsSync(file)) {
        const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
        if (typeof parsed === "object" && parsed !== null && "models" in parsed && Array.isArray(parsed.models)) {
          previous = parsed.models as ReadonlyArray<ModelReport>
        }
      }
      const fresh = new Map(summary.models.map((m) => [m.name, m]))
      const models = manifest.entries.flatMap((entry) => {
        const report = fresh.get(entry.name) ?? previous.find((m) => m.name === entry.name)
        return report === undefined ? [] : [report]
      })
      const parseFailures = summary.parse.filter((p) => !p.ok)
      const body = {
        note: `Written by \`npm run spec:check\`; one row per model of ${manifest.folder}/models.json, from its latest run.`,
        parsed: { files: summary.parse.length, failed: parseFailures.map((p) => p.file) },
        models
      }
      fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`)
    },
    catch: (error) => new ManifestError({ file, reason: `cannot write: ${String(error)}` })
  })
}

/**
 * Parses every module and runs the selected models. Progress and results go to `log`; the result
 * says whether everything was as expected.
 */
export const checkSpecs = (options: {
  readonly tools: TlaTools
  readonly root: string
  readonly only: ReadonlyArray<string>
  readonly log: Log
  readonly writeResults: boolean
}): Effect.Effect<CheckSummary, ManifestError | JavaNotStarted> =>
  Effect.gen(function* () {
    const { tools, root, log } = options
    const manifests = yield* loadManifests(root)
    const selected = yield* combineManifests(manifests).pipe(Either.flatMap((entries) => selectModels(entries, options.only)))
    for (const manifest of manifests) {
      yield* checkModelFiles(manifest.entries.filter((entry) => selected.includes(entry)), manifest.file, root)
    }

    const files = findTlaFiles(root)
    log(`SANY: parsing ${files.length} module(s) under ${parsedFolders.map((f) => `${f}/`).join(", ")}`)
    const parse = yield* parseAll(tools, root, files)
    for (const failure of parse.filter((p) => !p.ok)) log(`SANY error in ${failure.file}:\n${failure.message}\n`)

    const models: Array<ModelReport> = []
    for (const entry of selected) {
      log(`TLC: ${entry.name} (${entry.dir}/${entry.module}.tla, ${entry.config}; expect ${describeExpectation(entry.expect)})`)
      const report = yield* runModel(tools, root, entry, log)
      log(`  [${entry.name}] ${report.ok ? "ok" : "FAIL"}: ${report.outcome} in ${report.seconds}s${report.ok ? "" : `; ${report.reason}`}`)
      models.push(report)
    }

    const summary: CheckSummary = {
      parse,
      models,
      ok: parse.every((p) => p.ok) && models.every((m) => m.ok)
    }
    const parsedOk = parse.filter((p) => p.ok).length
    log("")
    log(`SANY: ${parsedOk}/${parse.length} module(s) parsed${parsedOk === parse.length ? "" : `; failed: ${parse.filter((p) => !p.ok).map((p) => p.file).join(", ")}`}`)
    if (models.length > 0) log(formatTable(models))
    else log("TLC: no models selected")
    if (options.writeResults) {
      for (const manifest of manifests) yield* writeLastRun(root, manifest, summary)
    }
    return summary
  })

/** The command: returns the process exit code. */
export const main = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>, log: Log): Effect.Effect<number> =>
  Effect.gen(function* () {
    const tools = yield* toolsFromEnv(env)
    if (Option.isNone(tools)) {
      log(skippedLine)
      return 0
    }
    log(
      `spec:check: tla2tools ${tools.value.jar}; community modules ${tools.value.community ?? "(none)"}; library ${tools.value.library ?? "(none)"}`
    )
    const summary = yield* checkSpecs({ tools: tools.value, root: repositoryRoot, only: argv, log, writeResults: true })
    log(summary.ok ? "spec:check: all as expected" : "spec:check: FAILED")
    return summary.ok ? 0 : 1
  }).pipe(
    Effect.catchAll((error: ToolsNotFound | ManifestError | JavaNotStarted) =>
      Effect.sync(() => {
        log(`spec:check: ${error.message}`)
        return 2
      })
    )
  )

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2).filter((arg) => arg !== "--")
  Effect.runPromise(main(args, process.env, (line) => console.log(line))).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`spec:check: ${String(error)}`)
      process.exit(2)
    }
  )
}
