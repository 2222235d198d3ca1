/**
 * Summarises V8 CPU profiles (the .cpuprofile files `node --cpu-prof` writes): self and total time
 * by function and by file, and optionally who calls a function. Total time counts a function once
 * per sample however deep it recurses, so the figures of one table add up to no more than 100%
 * (self) and each total is the share of samples with the function anywhere on the stack.
 *
 *   npx tsx bench/profile-summary.ts /tmp/cpuprof/CPU.*.cpuprofile
 *   npx tsx bench/profile-summary.ts --top 40 --by file prof.cpuprofile
 *   npx tsx bench/profile-summary.ts --callers verify prof.cpuprofile   (who calls functions named *verify*)
 *   npx tsx bench/profile-summary.ts --callees step prof.cpuprofile     (where time goes under functions named *step*)
 *   npx tsx bench/profile-summary.ts --from 25 --to 35 prof.cpuprofile  (only samples 25..35 s after the profile started)
 *
 * Several files are added together (e.g. the profiles of four replica processes).
 */
import * as fs from "node:fs"
import * as path from "node:path"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

export class ProfileSummaryError extends Error {
  override readonly name = "ProfileSummaryError"
}

export interface SummaryOptions {
  readonly files: ReadonlyArray<string>
  readonly top: number
  readonly by: "function" | "file" | "both"
  readonly callers: string | undefined
  /** Whether `callers` names the function whose callees (rather than callers) are listed. */
  readonly inward: boolean
  readonly depth: number
  /** Only samples taken this many seconds after the profile started, and before `toS`. */
  readonly fromS: number
  readonly toS: number
}

const usage =
  "usage: npx tsx bench/profile-summary.ts [--top 30] [--by function|file|both] [--callers NAME | --callees NAME] [--depth 4] [--from S] [--to S] FILE.cpuprofile..."

export const parseSummaryOptions = (argv: ReadonlyArray<string>): SummaryOptions => {
  const files: Array<string> = []
  let top = 30
  let by: SummaryOptions["by"] = "both"
  let callers: string | undefined
  let inward = false
  let depth = 4
  let fromS = 0
  let toS = Number.POSITIVE_INFINITY
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) {
      files.push(arg)
      continue
    }
    const value = argv[++i]
    if (value === undefined) throw new ProfileSummaryError(`${arg} needs a value\n${usage}`)
    switch (arg) {
      case "--top":
      case "--depth": {
        const n = Number(value)
        if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new ProfileSummaryError(`${arg}: ${JSON.stringify(value)} is not a whole number in 1..10000`)
        if (arg === "--top") top = n
        else depth = n
        break
      }
      case "--by":
        if (value !== "function" && value !== "file" && value !== "both") throw new ProfileSummaryError(`--by: ${JSON.stringify(value)} is not function, file or both`)
        by = value
        break
      case "--callers":
      case "--callees":
        if (callers !== undefined) throw new ProfileSummaryError("give one of --callers and --callees")
        callers = value
        inward = arg === "--callees"
        break
      case "--from":
      case "--to": {
        const n = Number(value)
        if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new ProfileSummaryError(`${arg}: ${JSON.stringify(value)} is not a number of seconds`)
        if (arg === "--from") fromS = n
        else toS = n
        break
      }
      default:
        throw new ProfileSummaryError(`unknown option ${arg}\n${usage}`)
    }
  }
  if (files.length === 0) throw new ProfileSummaryError(`no profile given\n${usage}`)
  if (fromS >= toS) throw new ProfileSummaryError(`--from ${fromS} is not before --to ${toS}`)
  return { files, top, by, callers, inward, depth, fromS, toS }
}

const isProfile = (value: unknown): value is CpuProfile => {
  if (typeof value !== "object" || value === null) return false
  const v = value as Record<string, unknown>
  return Array.isArray(v["nodes"]) && Array.isArray(v["samples"]) && Array.isArray(v["timeDeltas"]) && v["samples"].length === v["timeDeltas"].length
}

export const readProfile = (file: string): CpuProfile => {
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    throw new ProfileSummaryError(`${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!isProfile(parsed)) throw new ProfileSummaryError(`${file}: not a V8 CPU profile (nodes, samples, timeDeltas)`)
  return parsed
}

/** A short place for a frame's file: the part after the project folder or node_modules. */
const shortFile = (url: string): string => {
  if (url === "") return "(native)"
  const clean = url.replace(/^file:\/\//, "")
  const nm = clean.lastIndexOf("/node_modules/")
  if (nm >= 0) return clean.slice(nm + 1)
  const src = clean.search(/\/(src|bench|test|scripts)\//)
  if (src >= 0) return clean.slice(src + 1)
  return clean.startsWith("node:") ? clean : path.basename(clean)
}

const frameKey = (f: CallFrame): string => `${f.functionName === "" ? "(anonymous)" : f.functionName} ${shortFile(f.url)}:${f.lineNumber + 1}`

export interface Tally {
  /** Microseconds with the function (or file) on top of the stack. */
  readonly self: Map<string, number>
  /** Microseconds with the function (or file) anywhere on the stack, once per sample. */
  readonly total: Map<string, number>
  /** For --callers: the matching stacks, innermost `depth` frames above the match, by time. */
  readonly callerStacks: Map<string, number>
  totalMicros: number
}

export const newTally = (): Tally => ({ self: new Map(), total: new Map(), callerStacks: new Map(), totalMicros: 0 })

const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v)

/** Adds one profile to the function and file tallies. */
export const tallyProfile = (
  profile: CpuProfile,
  byFunction: Tally,
  byFile: Tally,
  callers: string | undefined,
  depth: number,
  fromS = 0,
  toS = Number.POSITIVE_INFINITY,
  inward = false
): void => {
  const parent = new Map<number, number>()
  const nodes = new Map<number, ProfileNode>()
  for (const n of profile.nodes) {
    nodes.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  // Stacks are computed once per node (samples repeat nodes).
  const stacks = new Map<number, ReadonlyArray<CallFrame>>()
  const stackOf = (id: number): ReadonlyArray<CallFrame> => {
    const known = stacks.get(id)
    if (known !== undefined) return known
    const frames: Array<CallFrame> = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = nodes.get(at)
      if (node === undefined) break
      if (node.callFrame.functionName !== "(root)") frames.push(node.callFrame)
    }
    stacks.set(id, frames)
    return frames
  }
  const pattern = callers?.toLowerCase()
  let at = 0
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the interval the sample stands for is the next one.
    at += profile.timeDeltas[i] ?? 0
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0
    if (dt <= 0 || at < fromS * 1e6 || at >= toS * 1e6) continue
    const stack = stackOf(profile.samples[i]!)
    byFunction.totalMicros += dt
    byFile.totalMicros += dt
    const top = stack[0]
    const topKey = top === undefined ? "(root)" : frameKey(top)
    add(byFunction.self, topKey, dt)
    add(byFile.self, top === undefined ? "(root)" : shortFile(top.url), dt)
    const seenF = new Set<string>()
    const seenFile = new Set<string>()
    for (const f of stack) {
      const k = frameKey(f)
      if (!seenF.has(k)) {
        seenF.add(k)
        add(byFunction.total, k, dt)
      }
      const file = shortFile(f.url)
      if (!seenFile.has(file)) {
        seenFile.add(file)
        add(byFile.total, file, dt)
      }
    }
    if (pattern !== undefined) {
      // Outermost matching frame, so a recursive match counts once.
      let match = -1
      for (let j = stack.length - 1; j >= 0; j--)
        if (stack[j]!.functionName.toLowerCase().includes(pattern)) {
          match = j
          break
        }
      if (match >= 0)
        add(
          byFunction.callerStacks,
          inward
            ? stack.slice(Math.max(0, match - depth), match + 1).reverse().map(frameKey).join("  ->  ")
            : stack.slice(match, match + depth + 1).map(frameKey).join("  <-  "),
          dt
        )
    }
  }
}

const pct = (part: number, whole: number): string => `${((100 * part) / Math.max(1, whole)).toFixed(1).padStart(5)}%`
const ms = (micros: number): string => `${(micros / 1000).toFixed(0).padStart(7)} ms`

export const formatTally = (title: string, tally: Tally, top: number): string => {
  const rows = [...tally.self.keys(), ...tally.total.keys()]
  const keys = [...new Set(rows)]
  const bySelf = [...keys].sort((a, b) => (tally.self.get(b) ?? 0) - (tally.self.get(a) ?? 0)).slice(0, top)
  const byTotal = [...keys].sort((a, b) => (tally.total.get(b) ?? 0) - (tally.total.get(a) ?? 0)).slice(0, top)
  const line = (k: string): string => {
    const s = tally.self.get(k) ?? 0
    const t = tally.total.get(k) ?? 0
    return `${ms(s)} ${pct(s, tally.totalMicros)}  ${ms(t)} ${pct(t, tally.totalMicros)}  ${k}`
  }
  const head = `     self           total`
  return [
    `== ${title} by self time (of ${ms(tally.totalMicros).trim()} sampled)`,
    head,
    ...bySelf.map(line),
    "",
    `== ${title} by total time`,
    head,
    ...byTotal.map(line)
  ].join("\n")
}

const main = (): void => {
  let options: SummaryOptions
  try {
    options = parseSummaryOptions(process.argv.slice(2))
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exitCode = 2
    return
  }
  const byFunction = newTally()
  const byFile = newTally()
  try {
    for (const file of options.files) tallyProfile(readProfile(file), byFunction, byFile, options.callers, options.depth, options.fromS, options.toS, options.inward)
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exitCode = 1
    return
  }
  if (options.by !== "file") console.log(formatTally("functions", byFunction, options.top) + "\n")
  if (options.by !== "function") console.log(formatTally("files", byFile, options.top) + "\n")
  if (options.callers !== undefined) {
    const stacks = [...byFunction.callerStacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, options.top)
    const sum = [...byFunction.callerStacks.values()].reduce((a, b) => a + b, 0)
    console.log(
      `== ${options.inward ? "callees of" : "callers of"} *${options.callers}* (${ms(sum).trim()}, ${pct(sum, byFunction.totalMicros).trim()} of samples), outermost match first`
    )
    for (const [k, v] of stacks) console.log(`${ms(v)} ${pct(v, byFunction.totalMicros)}  ${k}`)
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) main()
