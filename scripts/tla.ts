/**
 * The TLA+ tools as seen from TypeScript: where the jars are, how to run SANY (the parser) and TLC
 * (the model checker) on the JVM, and how to read what they print.
 *
 * The tools are not a project dependency: a machine that has them points TLA2TOOLS_JAR at
 * tla2tools.jar. TLA_COMMUNITY_JAR (the community modules: IOUtils, SequencesExt, ...) and
 * TLA_LIBRARY (a folder of extra modules such as TLAPS.tla for proof modules) are optional; when
 * unset, a CommunityModules-deps.jar or a tla-library folder beside tla2tools.jar is used if present.
 *
 * The readers below work on the plain-text output of SANY and TLC. The message texts they match
 * are TLC's own (tlc2/output/MP.java), e.g. "Invariant X is violated." and
 * "Temporal property X was violated."
 */
import { Data, Effect, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Where the tools are on this machine. */
export interface TlaTools {
  readonly jar: string
  readonly community: string | undefined
  readonly library: string | undefined
}

/** TLA2TOOLS_JAR (or another tools path) points at something that is not there. */
export class ToolsNotFound extends Data.TaggedError("ToolsNotFound")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** The JVM could not be started at all (no `java` on the PATH, bad working directory, ...). */
export class JavaNotStarted extends Data.TaggedError("JavaNotStarted")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const isFile = (p: string): boolean => fs.existsSync(p) && fs.statSync(p).isFile()
const isDirectory = (p: string): boolean => fs.existsSync(p) && fs.statSync(p).isDirectory()

/**
 * Reads the tool locations from the environment. None when TLA2TOOLS_JAR is unset or empty; a
 * ToolsNotFound error when a variable is set but names nothing usable.
 */
export const toolsFromEnv = (
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<Option.Option<TlaTools>, ToolsNotFound> =>
  Effect.gen(function* () {
    const jarVariable = env["TLA2TOOLS_JAR"]
    if (jarVariable === undefined || jarVariable.trim() === "") return Option.none()
    const jar = path.resolve(jarVariable)
    if (!isFile(jar)) return yield* new ToolsNotFound({ reason: `TLA2TOOLS_JAR=${jarVariable}: no such file` })
    const beside = path.dirname(jar)

    const communityVariable = env["TLA_COMMUNITY_JAR"]
    let community: string | undefined
    if (communityVariable !== undefined && communityVariable.trim() !== "") {
      community = path.resolve(communityVariable)
      if (!isFile(community)) {
        return yield* new ToolsNotFound({ reason: `TLA_COMMUNITY_JAR=${communityVariable}: no such file` })
      }
    } else if (isFile(path.join(beside, "CommunityModules-deps.jar"))) {
      community = path.join(beside, "CommunityModules-deps.jar")
    }

    const libraryVariable = env["TLA_LIBRARY"]
    let library: string | undefined
    if (libraryVariable !== undefined && libraryVariable.trim() !== "") {
      library = path.resolve(libraryVariable)
      if (!isDirectory(library)) {
        return yield* new ToolsNotFound({ reason: `TLA_LIBRARY=${libraryVariable}: no such directory` })
      }
    } else if (isDirectory(path.join(beside, "tla-library"))) {
      library = path.join(beside, "tla-library")
    }
    return Option.some({ jar, community, library })
  })

/** The Java class path for the tools: tla2tools.jar first, then the community modules. */
export const classPath = (tools: TlaTools): string =>
  tools.community === undefined ? tools.jar : `${tools.jar}${path.delimiter}${tools.community}`

/**
 * JVM options shared by SANY and TLC: UTF-8 sources, and the folders searched for modules that are
 * neither in the working directory nor standard (`moduleFolders`, then the tools' library).
 */
export const commonJvmOptions = (tools: TlaTools, moduleFolders: ReadonlyArray<string> = []): ReadonlyArray<string> => {
  const search = [...moduleFolders, ...(tools.library === undefined ? [] : [tools.library])]
  return ["-Dfile.encoding=UTF-8", ...(search.length === 0 ? [] : [`-DTLA-Library=${search.join(path.delimiter)}`])]
}

/** What one JVM run printed and how it ended. `exitCode` is null when the process was killed. */
export interface JavaRun {
  readonly exitCode: number | null
  readonly output: string
  readonly timedOut: boolean
  readonly millis: number
}

export interface JavaOptions {
  readonly tools: TlaTools
  readonly jvmOptions: ReadonlyArray<string>
  readonly mainClass: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env?: Readonly<Record<string, string>>
  /** Kill the JVM after this many milliseconds; the run then reports timedOut. */
  readonly timeoutMillis?: number
  /** Called with each complete line of output (stdout and stderr interleaved) as it arrives. */
  readonly onLine?: (line: string) => void
}

/**
 * Runs one class of the tools in a fresh JVM and collects its output. The JVM is killed when the
 * timeout passes or when the surrounding Effect is interrupted. The JVM gets a temporary directory
 * of its own (SANY and TLC unpack the standard modules there), removed when it ends.
 */
export const runJava = (options: JavaOptions): Effect.Effect<JavaRun, JavaNotStarted> =>
  Effect.acquireUseRelease(
    Effect.try({
      try: () => fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-jvm-")),
      catch: (error) => new JavaNotStarted({ reason: `cannot create a temporary directory: ${String(error)}` })
    }),
    (tmpdir) => runJavaIn(options, tmpdir),
    (tmpdir) => Effect.sync(() => fs.rmSync(tmpdir, { recursive: true, force: true }))
  )

const runJavaIn = (options: JavaOptions, tmpdir: string): Effect.Effect<JavaRun, JavaNotStarted> =>
  Effect.async<JavaRun, JavaNotStarted>((resume) => {
    const started = performance.now()
    const chunks: Array<string> = []
    let pending = ""
    let timedOut = false
    let settled = false
    const child = spawn(
      "java",
      [...options.jvmOptions, `-Djava.io.tmpdir=${tmpdir}`, "-cp", classPath(options.tools), options.mainClass, ...options.args],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] }
    )
    const take = (data: Buffer) => {
      const text = data.toString("utf8")
      chunks.push(text)
      if (options.onLine === undefined) return
      pending += text
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) options.onLine(line.replace(/\r$/, ""))
    }
    child.stdout.on("data", take)
    child.stderr.on("data", take)
    let killTimer: ReturnType<typeof setTimeout> | undefined
    const timer =
      options.timeoutMillis === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            child.kill("SIGTERM")
            killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000)
          }, options.timeoutMillis)
    const clearTimers = () => {
      if (timer !== undefined) clearTimeout(timer)
      if (killTimer !== undefined) clearTimeout(killTimer)
    }
    child.on("error", (error) => {
      if (settled) return
      settled = true
      clearTimers()
      resume(Effect.fail(new JavaNotStarted({ reason: `cannot run java: ${error.message}` })))
    })
    child.on("close", (code) => {
      if (settled) return
      settled = true
      clearTimers()
      if (options.onLine !== undefined && pending !== "") options.onLine(pending)
      resume(
        Effect.succeed({
          exitCode: code,
          output: chunks.join(""),
          timedOut,
          millis: Math.round(performance.now() - started)
        })
      )
    })
    return Effect.sync(() => {
      clearTimers()
      if (!settled) child.kill("SIGKILL")
    })
  })

/* ------------------------------------------------------------------------------------------------
 * SANY
 * ---------------------------------------------------------------------------------------------- */

/** SANY's verdict on one or more files. `message` holds the error text SANY printed, if any. */
export interface SanyResult {
  readonly ok: boolean
  readonly message: string
}

const sanyChatter = [
  /^\s*\*+ SANY2 Version/,
  /^Parsing file /,
  /^Semantic processing of module /,
  /^Linting of module /
]

/**
 * Reads SANY's output. SANY is run with -error-codes, so a non-zero exit means a parse (2, 255)
 * or semantic / level-checking (4) error; the text also counts, since without -error-codes SANY
 * exits 0 on semantic errors.
 */
export const readSanyOutput = (output: string, exitCode: number | null): SanyResult => {
  const errorText = /\*\*\*Parse Error\*\*\*|\*\*\* Errors: [1-9]|Semantic errors:|Fatal errors while parsing|Could not parse module|Cannot find source file/.test(output)
  const ok = exitCode === 0 && !errorText
  const message = output
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => !sanyChatter.some((pattern) => pattern.test(line)))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()
  return { ok, message: ok ? "" : message }
}

/* ------------------------------------------------------------------------------------------------
 * TLC
 * ---------------------------------------------------------------------------------------------- */

/** How a TLC run ended, as far as its output tells. */
export type TlcOutcome =
  /** Model checking (or simulation) finished without finding an error. */
  | { readonly _tag: "Pass" }
  /** "Invariant X is violated." (also for a PROPERTY that is a plain [](state predicate)). */
  | { readonly _tag: "InvariantViolated"; readonly name: string; readonly initial: boolean }
  /** "Action property X is violated." */
  | { readonly _tag: "ActionPropertyViolated"; readonly name: string }
  /** "Temporal property X was violated." / "Temporal properties X and Y were violated." */
  | { readonly _tag: "TemporalPropertyViolated"; readonly names: ReadonlyArray<string> }
  /** "Property X is violated by the initial state." */
  | { readonly _tag: "PropertyViolatedInitially"; readonly name: string }
  /** "Deadlock reached." */
  | { readonly _tag: "Deadlock" }
  /** "Assumption X is false." */
  | { readonly _tag: "AssumptionFalse"; readonly name: string }
  /** An Assert in the spec evaluated to FALSE. */
  | { readonly _tag: "AssertionFailed"; readonly message: string }
  /** The spec or its configuration did not parse. */
  | { readonly _tag: "ParseError"; readonly message: string }
  /** Any other error TLC reported: evaluation errors, exceptions, bad options. */
  | { readonly _tag: "Failure"; readonly message: string }
  /** Killed at the manifest's time limit. */
  | { readonly _tag: "Timeout" }
  /** The output ends without any verdict (the JVM died or was killed). */
  | { readonly _tag: "Incomplete" }

/**
 * Counts TLC reports at the end of a run (for a run cut short, at its last progress report);
 * undefined where the run did not report them.
 */
export interface TlcStatistics {
  readonly statesGenerated: number | undefined
  readonly distinctStates: number | undefined
  readonly depth: number | undefined
  readonly traces: number | undefined
}

export interface TlcReading {
  readonly outcome: TlcOutcome
  readonly statistics: TlcStatistics
  readonly version: string | undefined
}

const toNumber = (text: string): number => Number(text.replace(/,/g, ""))

/** Splits TLC's "A", "A and B", "A, B, and C" lists of property names. */
export const splitNames = (list: string): ReadonlyArray<string> =>
  list
    .split(/,\s*(?:and\s+)?|\s+and\s+/)
    .map((name) => name.trim())
    .filter((name) => name !== "")

/** The text of the first "Error:" block: its first line and what follows up to a blank line. */
const firstErrorBlock = (lines: ReadonlyArray<string>): string | undefined => {
  const start = lines.findIndex((line) => line.startsWith("Error:"))
  if (start < 0) return undefined
  const block: Array<string> = []
  for (let i = start; i < lines.length && block.length < 12; i++) {
    const line = lines[i] ?? ""
    if (i > start && line.trim() === "") break
    block.push(line)
  }
  return block.join("\n")
}

/** The lines of a parse failure, from SANY's error marker to the end of its report. */
const parseErrorBlock = (lines: ReadonlyArray<string>): string | undefined => {
  const start = lines.findIndex((line) =>
    /\*\*\*Parse Error\*\*\*|Semantic errors:|\*\*\* Errors: [1-9]|Fatal errors while parsing|Cannot find source file/.test(line)
  )
  if (start < 0) return undefined
  return lines
    .slice(start, start + 20)
    .filter((line) => line.trim() !== "")
    .join("\n")
}

const findOutcome = (lines: ReadonlyArray<string>, exitCode: number | null): TlcOutcome => {
  for (const line of lines) {
    const text = line.replace(/^Error:\s*/, "")
    let m: RegExpMatchArray | null
    if ((m = text.match(/^Invariant (\S+) is violated by the initial state/)) !== null) {
      return { _tag: "InvariantViolated", name: m[1] ?? "", initial: true }
    }
    if ((m = text.match(/^Invariant (\S+) is violated\./)) !== null) {
      return { _tag: "InvariantViolated", name: m[1] ?? "", initial: false }
    }
    if ((m = text.match(/^Action property (\S+) is violated\./)) !== null) {
      return { _tag: "ActionPropertyViolated", name: m[1] ?? "" }
    }
    if ((m = text.match(/^Property (\S+) is violated by the initial state/)) !== null) {
      return { _tag: "PropertyViolatedInitially", name: m[1] ?? "" }
    }
    if ((m = text.match(/^Temporal property (\S+) was violated\./)) !== null) {
      return { _tag: "TemporalPropertyViolated", names: [m[1] ?? ""] }
    }
    if ((m = text.match(/^Temporal properties (.+) were violated\./)) !== null) {
      return { _tag: "TemporalPropertyViolated", names: splitNames(m[1] ?? "") }
    }
    if (/^Temporal properties were violated\./.test(text)) {
      return { _tag: "TemporalPropertyViolated", names: [] }
    }
    if (/^Deadlock reached\./.test(text)) return { _tag: "Deadlock" }
    if ((m = text.match(/^Assumption (.+) is false\./)) !== null) {
      return { _tag: "AssumptionFalse", name: m[1] ?? "" }
    }
    if (/^The first argument of Assert evaluated to FALSE/.test(text)) {
      const at = lines.indexOf(line)
      return { _tag: "AssertionFailed", message: lines.slice(at, at + 3).join("\n") }
    }
  }
  const parseError = parseErrorBlock(lines)
  if (parseError !== undefined || exitCode === 150 || exitCode === 151) {
    return { _tag: "ParseError", message: parseError ?? firstErrorBlock(lines) ?? `TLC exited with ${exitCode}` }
  }
  const error = firstErrorBlock(lines)
  if (error !== undefined) return { _tag: "Failure", message: error }
  const finished = lines.some((line) => /^Finished in /.test(line))
  const success = lines.some((line) => line.startsWith("Model checking completed. No error has been found."))
  const simulated = lines.some((line) => line.startsWith("The number of states generated: "))
  if (exitCode === 0 && finished && (success || simulated)) return { _tag: "Pass" }
  if (exitCode !== null && exitCode !== 0) return { _tag: "Failure", message: `TLC exited with ${exitCode}` }
  return { _tag: "Incomplete" }
}

/**
 * Reads a TLC run's output: the first verdict it reports, and the final statistics. The exit code
 * is a cross-check: a run that prints no error but exits non-zero is a failure, not a pass.
 */
export const readTlcOutput = (output: string, exitCode: number | null): TlcReading => {
  const lines = output.split("\n").map((line) => line.replace(/\r$/, ""))
  let statesGenerated: number | undefined
  let distinctStates: number | undefined
  let depth: number | undefined
  let traces: number | undefined
  let version: string | undefined
  let progress: { depth: number; statesGenerated: number; distinctStates: number } | undefined
  for (const line of lines) {
    let m: RegExpMatchArray | null
    if ((m = line.match(/^TLC2 Version (\S+)/)) !== null) version = m[1]
    if ((m = line.match(/^([\d,]+) states generated, ([\d,]+) distinct states found/)) !== null) {
      statesGenerated = toNumber(m[1] ?? "")
      distinctStates = toNumber(m[2] ?? "")
    }
    if ((m = line.match(/^The depth of the complete state graph search is ([\d,]+)\./)) !== null) {
      depth = toNumber(m[1] ?? "")
    }
    if ((m = line.match(/^The number of states generated: ([\d,]+)/)) !== null) {
      statesGenerated = toNumber(m[1] ?? "")
    }
    if ((m = line.match(/^Progress\((\d+)\) at .*?: ([\d,]+) states generated.*?, ([\d,]+) distinct states found/)) !== null) {
      progress = { depth: toNumber(m[1] ?? ""), statesGenerated: toNumber(m[2] ?? ""), distinctStates: toNumber(m[3] ?? "") }
    }
    if ((m = line.match(/^Progress: ([\d,]+) states checked, ([\d,]+) traces generated/)) !== null) {
      statesGenerated ??= toNumber(m[1] ?? "")
      traces = toNumber(m[2] ?? "")
    }
  }
  // A run cut short (time limit) has no final statistics: its last progress report stands in.
  if (distinctStates === undefined && progress !== undefined) {
    statesGenerated ??= progress.statesGenerated
    distinctStates = progress.distinctStates
    depth ??= progress.depth
  }
  return {
    outcome: findOutcome(lines, exitCode),
    statistics: { statesGenerated, distinctStates, depth, traces },
    version
  }
}

/** A short human description of an outcome, as printed in the results table. */
export const describeOutcome = (outcome: TlcOutcome): string => {
  switch (outcome._tag) {
    case "Pass":
      return "pass"
    case "InvariantViolated":
      return `violates ${outcome.name}${outcome.initial ? " (initial state)" : ""}`
    case "ActionPropertyViolated":
      return `violates ${outcome.name} (action property)`
    case "TemporalPropertyViolated":
      return outcome.names.length === 0 ? "violates an unnamed temporal property" : `violates ${outcome.names.join(", ")} (temporal)`
    case "PropertyViolatedInitially":
      return `violates ${outcome.name} (initial state)`
    case "Deadlock":
      return "deadlock"
    case "AssumptionFalse":
      return `assumption ${outcome.name} is false`
    case "AssertionFailed":
      return "assertion failed"
    case "ParseError":
      return "parse error"
    case "Failure":
      return "TLC error"
    case "Timeout":
      return "timed out"
    case "Incomplete":
      return "no verdict"
  }
}
