import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  checkModelFiles,
  checkSpecs,
  combineManifests,
  decodeManifest,
  formatTable,
  judge,
  loadManifests,
  main,
  Manifest,
  manifestFolders,
  type ModelReport,
  repositoryRoot,
  runModel,
  selectModels,
  skippedLine,
  tlcArguments,
  writeLastRun
} from "../../scripts/spec-check.ts"
import { readSanyOutput, readTlcOutput, splitNames, toolsFromEnv, type TlcOutcome } from "../../scripts/tla.ts"

/*
 * The fixtures under fixtures/output are real output of tla2tools.jar (SANY and TLC) run with the
 * harness's own flags on the tiny specs in fixtures/tiny, one per model of fixtures/cases.json.
 * exit-codes.json holds each run's exit code.
 */
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures")
const exitCodes = JSON.parse(fs.readFileSync(path.join(fixtures, "output", "exit-codes.json"), "utf8")) as Record<string, number | null>
const captured = (name: string): { output: string; exitCode: number | null } => ({
  output: fs.readFileSync(path.join(fixtures, "output", `${name}.txt`), "utf8"),
  exitCode: exitCodes[name] ?? null
})
const cases = Either.getOrThrow(
  decodeManifest(fs.readFileSync(path.join(fixtures, "cases.json"), "utf8"), "cases.json").pipe(
    Either.flatMap((entries) => checkModelFiles(entries, "cases.json", fixtures))
  )
)

/** What each tiny model's TLC output must read as. */
const expectedOutcomes: Record<string, TlcOutcome> = {
  pass: { _tag: "Pass" },
  invariant: { _tag: "InvariantViolated", name: "Small", initial: false },
  boxProperty: { _tag: "InvariantViolated", name: "NeverMax", initial: false },
  action: { _tag: "ActionPropertyViolated", name: "Frozen" },
  temporal: { _tag: "TemporalPropertyViolated", names: ["Reaches"] },
  temporalTwo: { _tag: "TemporalPropertyViolated", names: ["Reaches", "AlsoReaches"] },
  deadlock: { _tag: "Deadlock" },
  passButDeadlock: { _tag: "Deadlock" },
  simulatePass: { _tag: "Pass" },
  simulateInvariant: { _tag: "InvariantViolated", name: "Small", initial: false },
  assumption: { _tag: "AssumptionFalse", name: "line 5, col 20 to line 5, col 24 of module Assume" },
  communityModules: { _tag: "Pass" }
}

/** Which tiny models end as their cases.json entry expects. */
const expectedVerdicts: Record<string, boolean> = {
  pass: true,
  invariant: true,
  boxProperty: true,
  action: true,
  temporal: true,
  temporalTwo: false,
  deadlock: true,
  passButDeadlock: false,
  simulatePass: true,
  simulateInvariant: true,
  parseError: false,
  evaluationError: false,
  assumption: false,
  assertion: false,
  communityModules: true
}

describe("TLC output reader: real TLC output of each kind reads as the right verdict and counts", () => {
  for (const [name, outcome] of Object.entries(expectedOutcomes)) {
    it(`tlc-${name}: ${outcome._tag}`, () => {
      const { output, exitCode } = captured(`tlc-${name}`)
      expect(readTlcOutput(output, exitCode).outcome).toEqual(outcome)
    })
  }

  it("a parse error names SANY's message; an evaluation error and a failed Assert keep TLC's text", () => {
    const parse = readTlcOutput(captured("tlc-parseError").output, captured("tlc-parseError").exitCode).outcome
    expect(parse._tag).toBe("ParseError")
    expect(parse._tag === "ParseError" && parse.message).toContain("***Parse Error***")

    const evaluation = readTlcOutput(captured("tlc-evaluationError").output, captured("tlc-evaluationError").exitCode).outcome
    expect(evaluation._tag).toBe("Failure")
    expect(evaluation._tag === "Failure" && evaluation.message).toContain("Evaluating invariant HeadIsOne failed.")
    expect(evaluation._tag === "Failure" && evaluation.message).toContain("Attempted to apply Head to the empty sequence.")

    const assertion = readTlcOutput(captured("tlc-assertion").output, captured("tlc-assertion").exitCode).outcome
    expect(assertion._tag).toBe("AssertionFailed")
    expect(assertion._tag === "AssertionFailed" && assertion.message).toContain('"x too large"')
  })

  it("statistics: distinct states and depth from model checking, states and traces from simulation, TLC's version", () => {
    const pass = readTlcOutput(captured("tlc-pass").output, 0)
    expect(pass.statistics).toEqual({ statesGenerated: 6, distinctStates: 6, depth: 6, traces: undefined })
    expect(pass.version).toMatch(/^\d{4}\.\d{2}\.\d{2}/)
    const invariant = readTlcOutput(captured("tlc-invariant").output, 12)
    expect(invariant.statistics.distinctStates).toBe(4)
    expect(invariant.statistics.depth).toBe(4)
    const simulation = readTlcOutput(captured("tlc-simulatePass").output, 0).statistics
    expect(simulation.distinctStates).toBeUndefined()
    expect(simulation.statesGenerated).toBeGreaterThan(100)
    expect(simulation.traces).toBeGreaterThanOrEqual(100)
  })

  it("the exit code is a cross-check: a clean-looking output with a non-zero exit is a failure, a cut-off one has no verdict", () => {
    const { output } = captured("tlc-pass")
    expect(readTlcOutput(output, 12).outcome._tag).toBe("Failure")
    const cut = output.slice(0, output.indexOf("Finished computing initial states"))
    expect(readTlcOutput(cut, null).outcome).toEqual({ _tag: "Incomplete" })
  })

  it("a run cut short takes its counts from the last progress report", () => {
    const { output } = captured("tlc-pass")
    const cut = output.slice(0, output.indexOf("Checking temporal properties"))
    expect(readTlcOutput(cut, null).statistics).toEqual({ statesGenerated: 6, distinctStates: 6, depth: 6, traces: undefined })
    const busy =
      "Progress(16) at 2026-11-25 08:56:05: 581,575 states generated (69,565 s/min), 122,570 distinct states found (14,607 ds/min), 51,544 states left on queue."
    expect(readTlcOutput(busy, null).statistics).toEqual({ statesGenerated: 581575, distinctStates: 122570, depth: 16, traces: undefined })
  })

  it("property lists split on commas and 'and'", () => {
    expect(splitNames("A")).toEqual(["A"])
    expect(splitNames("A and B")).toEqual(["A", "B"])
    expect(splitNames("A, B, and C")).toEqual(["A", "B", "C"])
  })
})

describe("SANY output reader: parse and semantic errors fail, clean modules pass", () => {
  it("a clean module is ok", () => {
    const { output, exitCode } = captured("sany-ok")
    expect(readSanyOutput(output, exitCode)).toEqual({ ok: true, message: "" })
  })

  it("a syntax error fails with SANY's location", () => {
    const { output, exitCode } = captured("sany-parse-error")
    const result = readSanyOutput(output, exitCode)
    expect(result.ok).toBe(false)
    expect(result.message).toContain("***Parse Error***")
    expect(result.message).toContain("line 6, column 1")
    expect(result.message).not.toContain("Parsing file")
  })

  it("a semantic error fails even if SANY's exit code says 0 (SANY without -error-codes)", () => {
    const { output, exitCode } = captured("sany-semantic-error")
    expect(exitCode).toBe(4)
    for (const code of [exitCode, 0]) {
      const result = readSanyOutput(output, code)
      expect(result.ok).toBe(false)
      expect(result.message).toContain("Unknown operator: `y'.")
    }
  })
})

describe("judge: a model is right only with exactly its expected verdict", () => {
  it("every captured run is judged as expected against its cases.json entry", () => {
    for (const entry of cases) {
      const { output, exitCode } = captured(`tlc-${entry.name}`)
      const verdict = judge(entry.expect, readTlcOutput(output, exitCode).outcome)
      expect({ name: entry.name, ok: verdict.ok }).toEqual({ name: entry.name, ok: expectedVerdicts[entry.name] })
    }
  })

  it("a model meant to fail that passes is an error, and says so", () => {
    const verdict = judge({ violates: "DurableReplies" }, { _tag: "Pass" })
    expect(verdict.ok).toBe(false)
    expect(verdict.reason).toContain("found no error")
  })

  it("the wrong invariant, or an extra temporal property, is not the expected violation", () => {
    expect(judge({ violates: "TypeOK" }, { _tag: "InvariantViolated", name: "Small", initial: false }).ok).toBe(false)
    expect(judge({ violates: "A" }, { _tag: "TemporalPropertyViolated", names: ["A", "B"] }).ok).toBe(false)
    expect(judge({ violates: "A" }, { _tag: "TemporalPropertyViolated", names: [] }).ok).toBe(false)
    expect(judge({ violates: "A" }, { _tag: "ActionPropertyViolated", name: "A" }).ok).toBe(true)
    expect(judge({ deadlock: true }, { _tag: "Timeout" }).ok).toBe(false)
    expect(judge("pass", { _tag: "Timeout" }).ok).toBe(false)
  })
})

describe("manifest: spec/models.json is decoded into typed entries, and bad entries are typed errors", () => {
  const entry = { name: "M", dir: "tiny", module: "Counter", config: "Pass.cfg", expect: "pass" }
  const decode = (value: unknown) =>
    decodeManifest(JSON.stringify(value), "models.json").pipe(
      Either.flatMap((entries) => checkModelFiles(entries, "models.json", fixtures))
    )

  it("the repository's spec/models.json has the manifest's shape", () => {
    const text = fs.readFileSync(path.join(repositoryRoot, "spec", "models.json"), "utf8")
    expect(Either.isRight(Schema.decodeUnknownEither(Manifest)(JSON.parse(text)))).toBe(true)
  })

  it("defaults: 2 workers, 10 minutes, breadth-first, deadlock checked", () => {
    const decoded = Either.getOrThrow(decode([entry]))
    expect(decoded[0]).toMatchObject({ workers: 2, timeoutMinutes: 10, mode: "bfs", checkDeadlock: true })
  })

  it.each([
    ["not JSON", "{", "not JSON"],
    ["a missing field", [{ ...entry, module: undefined }], "module"],
    ["an unknown expectation", [{ ...entry, expect: "fail" }], "expect"],
    ["a folder outside the repository", [{ ...entry, dir: "../x" }], "without '..'"],
    ["a duplicate name", [entry, entry], "listed twice"],
    ["a missing module file", [{ ...entry, module: "Nope" }], "Nope.tla does not exist"],
    ["a deadlock expected but not checked", [{ ...entry, expect: { deadlock: true }, checkDeadlock: false }], "checkDeadlock"]
  ])("%s is a ManifestError", (_what, value, fragment) => {
    const decoded = typeof value === "string" ? decodeManifest(value, "models.json") : decode(value)
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) {
      expect(decoded.left._tag).toBe("ManifestError")
      expect(decoded.left.reason).toContain(fragment)
    }
  })

  it("selecting models by name keeps only those; an unknown name lists the known ones", () => {
    expect(Either.getOrThrow(selectModels(cases, ["pass", "deadlock"])).map((e) => e.name)).toEqual(["pass", "deadlock"])
    const unknown = selectModels(cases, ["Missing"])
    expect(Either.isLeft(unknown) && unknown.left.reason).toContain("known models: pass, invariant")
  })

  it("TLC arguments: -deadlock only when deadlock is not checked, simulation bounds, no trace specs written", () => {
    const byName = (name: string) => cases.find((c) => c.name === name)!
    const bfs = tlcArguments(byName("pass"), "/tmp/meta")
    expect(bfs).toEqual(["-workers", "2", "-cleanup", "-metadir", "/tmp/meta", "-noTE", "-config", "Pass.cfg", "-deadlock", "Counter"])
    const simulate = tlcArguments(byName("simulateInvariant"), "/tmp/meta")
    expect(simulate).not.toContain("-deadlock")
    expect(simulate.join(" ")).toContain("-simulate num=100 -depth 20")
  })

  it("a seed in the entry becomes TLC's -seed (a reproducible random run); without one TLC picks its own", () => {
    const pass = cases.find((c) => c.name === "pass")!
    expect(tlcArguments(pass, "/tmp/meta")).not.toContain("-seed")
    const seeded = Either.getOrThrow(decodeManifest(JSON.stringify([{ ...pass, seed: -42 }]), "models.json"))[0]!
    const args = tlcArguments(seeded, "/tmp/meta")
    expect(args.slice(args.indexOf("-seed"), args.indexOf("-seed") + 2)).toEqual(["-seed", "-42"])
    expect(args[args.length - 1]).toBe("Counter")
    expect(Either.isLeft(decodeManifest(JSON.stringify([{ ...pass, seed: 1.5 }]), "models.json"))).toBe(true)
  })

  it("the results table has a header and one row per model", () => {
    const report: ModelReport = {
      name: "MCX",
      module: "MCX",
      mode: "bfs",
      expected: "pass",
      outcome: "deadlock",
      ok: false,
      reason: "expected no error, got: deadlock",
      statistics: { statesGenerated: 12, distinctStates: 1234, depth: 7, traces: undefined },
      seconds: 1.5,
      tlcVersion: undefined,
      ranAt: "2026-01-01T00:00:00.000Z"
    }
    const lines = formatTable([report]).split("\n")
    expect(lines[0]).toMatch(/^model\s+\| expected \| outcome\s+\| distinct states \| depth \| time$/)
    expect(lines[2]).toMatch(/^FAIL MCX \| pass\s+\| deadlock \| 1,234\s+\| 7\s+\| 1.5s$/)
  })
})

/*
 * A scratch repository with both manifests: spec/models.json and proofs/models.json, each listing
 * the tiny Counter module copied into its folder.
 */
const scratchEntry = (name: string, dir: string, config = "Pass.cfg", expect: unknown = "pass") => ({
  name,
  dir,
  module: "Counter",
  config,
  expect,
  checkDeadlock: false
})
const scratchRoots: Array<string> = []
afterAll(() => {
  for (const root of scratchRoots) fs.rmSync(root, { recursive: true, force: true })
})
const makeScratchRoot = (manifests: { spec?: unknown; proofs?: unknown }): string => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-spec-check-test-"))
  scratchRoots.push(root)
  for (const folder of ["spec", "proofs"] as const) {
    fs.mkdirSync(path.join(root, folder))
    for (const file of ["Counter.tla", "Pass.cfg", "Invariant.cfg"]) {
      fs.copyFileSync(path.join(fixtures, "tiny", file), path.join(root, folder, file))
    }
    const manifest = manifests[folder]
    if (manifest !== undefined) fs.writeFileSync(path.join(root, folder, "models.json"), JSON.stringify(manifest))
  }
  return root
}
const loadScratch = (root: string) => Effect.runSync(Effect.either(loadManifests(root)))

describe("two manifests: spec/models.json and proofs/models.json are read, checked and selected from together", () => {
  const specModels = [scratchEntry("SpecA", "spec"), scratchEntry("SpecB", "spec", "Invariant.cfg", { violates: "Small" })]
  const proofModels = [scratchEntry("ProofA", "proofs")]

  it("the harness knows both manifest folders, and the skip line names both manifests", () => {
    expect(manifestFolders).toEqual(["spec", "proofs"])
    expect(skippedLine).toContain("spec/models.json and proofs/models.json")
  })

  it("both manifests are loaded, spec's models first, and a name selects from either", () => {
    const root = makeScratchRoot({ spec: specModels, proofs: proofModels })
    const loaded = Either.getOrThrow(loadScratch(root))
    expect(loaded.map((m) => [m.folder, m.entries.map((e) => e.name)])).toEqual([
      ["spec", ["SpecA", "SpecB"]],
      ["proofs", ["ProofA"]]
    ])
    const all = Either.getOrThrow(combineManifests(loaded))
    expect(all.map((e) => e.name)).toEqual(["SpecA", "SpecB", "ProofA"])
    expect(Either.getOrThrow(selectModels(all, ["ProofA", "SpecB"])).map((e) => e.name)).toEqual(["SpecB", "ProofA"])
    const unknown = selectModels(all, ["Nope"])
    expect(Either.isLeft(unknown) && unknown.left.reason).toContain("known models: SpecA, SpecB, ProofA")
  })

  it("a name listed in both manifests is a ManifestError naming the other file", () => {
    const root = makeScratchRoot({ spec: specModels, proofs: [scratchEntry("SpecA", "proofs")] })
    const loaded = loadScratch(root)
    expect(Either.isLeft(loaded)).toBe(true)
    if (Either.isLeft(loaded)) {
      expect(loaded.left._tag).toBe("ManifestError")
      expect(loaded.left.file).toBe(path.join(root, "proofs", "models.json"))
      expect(loaded.left.reason).toBe(`model SpecA is also listed in ${path.join(root, "spec", "models.json")}`)
    }
  })

  it("an entry of proofs/models.json whose dir is another folder is a ManifestError", () => {
    const root = makeScratchRoot({ spec: specModels, proofs: [scratchEntry("ProofA", "spec")] })
    const loaded = loadScratch(root)
    expect(Either.isLeft(loaded) && loaded.left.reason).toContain('has dir "spec", outside this manifest\'s folder proofs/')
    const nested = makeScratchRoot({ spec: specModels, proofs: [scratchEntry("ProofA", "proofs/sub")] })
    expect(Either.isRight(loadScratch(nested))).toBe(true)
  })

  it("a missing proofs/models.json is a ManifestError, not an empty list", () => {
    const root = makeScratchRoot({ spec: specModels })
    const loaded = loadScratch(root)
    expect(Either.isLeft(loaded) && loaded.left.reason).toContain("cannot read")
    expect(Either.isLeft(loaded) && loaded.left.file).toBe(path.join(root, "proofs", "models.json"))
  })

  it("each manifest's results go to the last-run.json beside it, keeping rows of models not run this time", () => {
    const root = makeScratchRoot({ spec: specModels, proofs: proofModels })
    const loaded = Either.getOrThrow(loadScratch(root))
    const row = (name: string, outcome: string): ModelReport => ({
      name,
      module: "Counter",
      mode: "bfs",
      expected: "pass",
      outcome,
      ok: true,
      reason: "",
      statistics: { statesGenerated: 6, distinctStates: 6, depth: 6, traces: undefined },
      seconds: 1,
      tlcVersion: undefined,
      ranAt: "2026-01-01T00:00:00.000Z"
    })
    const write = (models: ReadonlyArray<ModelReport>) =>
      Effect.runSync(Effect.forEach(loaded, (m) => writeLastRun(root, m, { parse: [], models, ok: true })))
    const read = (folder: string) =>
      (JSON.parse(fs.readFileSync(path.join(root, folder, "last-run.json"), "utf8")) as { models: ReadonlyArray<ModelReport> }).models.map(
        (m) => `${m.name}:${m.outcome}`
      )
    write([row("SpecA", "first"), row("ProofA", "first")])
    expect(read("spec")).toEqual(["SpecA:first"])
    expect(read("proofs")).toEqual(["ProofA:first"])
    write([row("ProofA", "second"), row("SpecB", "second")])
    expect(read("spec")).toEqual(["SpecA:first", "SpecB:second"])
    expect(read("proofs")).toEqual(["ProofA:second"])
  })

  it("the repository's proofs/models.json decodes, stays in proofs/, names existing files, and shares no name with spec/models.json", () => {
    const loaded = Effect.runSync(Effect.either(loadManifests(repositoryRoot)))
    expect(Either.isRight(loaded) ? "ok" : loaded.left.message).toBe("ok")
    const proofs = Either.getOrThrow(loaded).find((m) => m.folder === "proofs")!
    expect(proofs.entries.length).toBeGreaterThan(0)
    expect(Either.isRight(checkModelFiles(proofs.entries, proofs.file, repositoryRoot))).toBe(true)
  })
})

describe("without TLA2TOOLS_JAR, spec:check prints one line saying what it skipped and succeeds", () => {
  it.effect("main() with an empty environment logs exactly the skip line and returns 0", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const code = yield* main([], {}, (line) => lines.push(line))
      expect(code).toBe(0)
      expect(lines).toEqual([skippedLine])
    })
  )

  it("the npm script's entry point prints the same line and exits 0", async () => {
    const env = { ...process.env }
    delete env["TLA2TOOLS_JAR"]
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(repositoryRoot, "node_modules", "tsx", "dist", "cli.mjs"), path.join(repositoryRoot, "scripts", "spec-check.ts")],
        { env, cwd: repositoryRoot },
        (error, stdout) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout })
      )
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${skippedLine}\n`)
  })

  it.effect("a TLA2TOOLS_JAR that names no file is an error (exit 2), not a skip", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const code = yield* main([], { TLA2TOOLS_JAR: path.join(fixtures, "no-such.jar") }, (line) => lines.push(line))
      expect(code).toBe(2)
      expect(lines.join("\n")).toContain("no such file")
    })
  )
})

const tools = Effect.runSync(Effect.either(toolsFromEnv(process.env)))
const liveTools = Either.isRight(tools) ? Option.getOrUndefined(tools.right) : undefined
if (liveTools === undefined) console.log(skippedLine)

describe.skipIf(liveTools === undefined)("live tools (TLA2TOOLS_JAR is set): TLC runs of the tiny specs agree with the captured fixtures", () => {
  it.effect(
    "each tiny model, run now through runModel, is judged as its captured output is",
    () =>
      Effect.gen(function* () {
        for (const entry of cases) {
          const report = yield* runModel(liveTools!, fixtures, entry, () => {})
          const { output, exitCode } = captured(`tlc-${entry.name}`)
          const fromFixture = readTlcOutput(output, exitCode)
          expect({ name: entry.name, ok: report.ok }).toEqual({ name: entry.name, ok: expectedVerdicts[entry.name] })
          if (entry.mode === "bfs") {
            expect({ name: entry.name, distinct: report.statistics.distinctStates }).toEqual({
              name: entry.name,
              distinct: fromFixture.statistics.distinctStates
            })
          }
        }
      }),
    120_000
  )

  it.effect("a model that outlives its time limit is killed and reported as timed out, not passed", () =>
    Effect.gen(function* () {
      const pass = cases.find((c) => c.name === "pass")!
      const report = yield* runModel(liveTools!, fixtures, { ...pass, timeoutMinutes: 0.001 }, () => {})
      expect(report.outcome).toBe("timed out")
      expect(report.ok).toBe(false)
    })
  )
})

describe.skipIf(liveTools === undefined)("live tools: checkSpecs runs the models named from both manifests", () => {
  it.effect(
    "naming one spec model and one proofs model runs exactly those two, each judged by its own entry",
    () =>
      Effect.gen(function* () {
        const root = makeScratchRoot({
          spec: [scratchEntry("SpecA", "spec"), scratchEntry("SpecB", "spec", "Invariant.cfg", { violates: "Small" })],
          proofs: [scratchEntry("ProofA", "proofs", "Invariant.cfg", "pass")]
        })
        const summary = yield* checkSpecs({ tools: liveTools!, root, only: ["ProofA", "SpecB"], log: () => {}, writeResults: true })
        expect(summary.models.map((m) => [m.name, m.ok, m.outcome])).toEqual([
          ["SpecB", true, "violates Small"],
          ["ProofA", false, "violates Small"]
        ])
        expect(summary.ok).toBe(false)
        expect(fs.existsSync(path.join(root, "proofs", "last-run.json"))).toBe(true)
      }),
    120_000
  )
})

describe.skipIf(liveTools === undefined)(
  "spec:check on the repository (TLA2TOOLS_JAR is set): SANY parses spec/, proofs/, conformance/ and every model of spec/models.json and proofs/models.json ends as expected",
  () => {
    const manifest = manifestFolders.flatMap(
      (folder) =>
        JSON.parse(fs.readFileSync(path.join(repositoryRoot, folder, "models.json"), "utf8")) as ReadonlyArray<{
          timeoutMinutes?: number
        }>
    )
    const budget = manifest.reduce((total, m) => total + (m.timeoutMinutes ?? 10), 5) * 60_000
    it.effect(
      "no parse errors, and every model as expected",
      () =>
        Effect.gen(function* () {
          const summary = yield* checkSpecs({
            tools: liveTools!,
            root: repositoryRoot,
            only: [],
            log: (line) => console.log(line),
            writeResults: false
          })
          expect(summary.parse.filter((p) => !p.ok)).toEqual([])
          expect(summary.models.filter((m) => !m.ok).map((m) => `${m.name}: ${m.reason}`)).toEqual([])
        }),
      budget
    )
  }
)
