/**
 * Behaviour generation, spec -> implementation: TLC simulates conformance/GenBehaviours.tla until
 * it reaches each goal (GOAL), dumps that behaviour as JSON (-dumpTrace json), and this script
 * turns it into conformance/behaviours/<goal>.json (format: test/conformance/behaviour.ts), which
 * test/conformance/replay.test.ts replays through the real `step` in `npm test` without Java.
 *
 *   npx tsx scripts/gen-behaviours.ts                  every goal
 *   npx tsx scripts/gen-behaviours.ts leader-change-bound crash-restart
 *   npx tsx scripts/gen-behaviours.ts --reconfig       the goals of conformance/GenReconfigBehaviours.tla
 *   --seed <n>   TLC's simulation seed (default 7); --depth <n> (default 100, with --reconfig 200)
 *
 * Needs TLA2TOOLS_JAR (scripts/tla.ts); without it, prints one line saying what was skipped and
 * exits 0 (the committed behaviours stay as they are).
 */
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Behaviour, ReplicaView, SentMessage, Step } from "../test/conformance/behaviour.ts"
import { Behaviour as BehaviourSchema } from "../test/conformance/behaviour.ts"
import { commonJvmOptions, readTlcOutput, runJava, toolsFromEnv } from "./tla.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const conformanceDir = path.join(root, "conformance")
const outDir = path.join(conformanceDir, "behaviours")

/** BatchMax in conformance/GenBehaviours.cfg. */
const batchMax = 1

/** CheckpointInterval of conformance/GenBehaviours.tla (GenCheckpointInterval) for a goal. */
export const checkpointIntervalOf = (goal: string): number => (goal === "checkpoint" || goal === "checkpoint-restart" ? 1 : 100)

/** The goals of GenBehaviours.tla (its Reached operator), one behaviour each, with the persistence mode each runs in. */
export const goalModes = {
  "normal-case": "weak",
  "two-instances": "weak",
  "leader-change-free": "weak",
  "leader-change-bound": "weak",
  "persist-weak": "weak",
  "certify-strong": "strong",
  "crash-restart": "weak",
  "crash-all": "strong",
  checkpoint: "weak",
  "checkpoint-restart": "strong"
} as const
export type Goal = keyof typeof goalModes
export const goals = Object.keys(goalModes) as ReadonlyArray<Goal>
const isGoal = (g: string): g is Goal => g in goalModes

/**
 * The goals of GenReconfigBehaviours.tla (its RReached operator), run with `--reconfig`, with
 * their mode; genesis members and RotationWindow as in GenReconfigBehaviours.cfg.
 */
export const reconfigGoalModes = { "join-rotate": "weak", "join-leave": "weak" } as const
export type ReconfigGoal = keyof typeof reconfigGoalModes
const isReconfigGoal = (g: string): g is ReconfigGoal => g in reconfigGoalModes
const reconfigShape = { members: 4, rotationWindow: 10 }

/** GenReconfigBehaviours.tla's restricted actions, by the spec action each one takes. */
const reconfigActionNames: Record<string, string> = {
  GenRPropose: "Propose",
  GenRSubmit: "Submit",
  GenRotate: "Rotate",
  GenRequestJoin: "RequestJoin",
  GenJoinerTransfer: "StateTransfer"
}

/** A malformed TLC dump: the script stops with this rather than write a wrong behaviour. */
export class DumpShapeError extends Schema.TaggedError<DumpShapeError>()("DumpShapeError", { reason: Schema.String }) {}

type Json = unknown
type Obj = { readonly [k: string]: Json }

const obj = (x: Json, what: string): Obj => {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new DumpShapeError({ reason: `${what} is not an object` })
  return x as Obj
}
const arr = (x: Json, what: string): ReadonlyArray<Json> => {
  if (!Array.isArray(x)) throw new DumpShapeError({ reason: `${what} is not an array` })
  return x
}
const int = (x: Json, what: string): number => {
  if (typeof x !== "number" || !Number.isInteger(x)) throw new DumpShapeError({ reason: `${what} is not an integer` })
  return x
}

/** A membership request of a spec batch as its label (test/conformance/behaviour.ts), replicas 0-based. */
const requestLabel = (req: Obj): string => {
  const r = int(req["r"], "request r") - 1
  switch (req["k"]) {
    case "join":
    case "leave":
      return `${String(req["k"])}:${r}`
    case "remove":
      return `remove:${int(req["id"], "request id") - 1}:${r}`
    case "rotate":
      return `rotate:${r}:${int(req["v"], "request v")}`
    default:
      throw new DumpShapeError({ reason: `unexpected request kind ${String(req["k"])}` })
  }
}

/** A spec batch (a set of requests) as the sorted ids of its client transactions, then the sorted labels of its membership requests. */
const batchOf = (x: Json): Array<number | string> => {
  const reqs = arr(x, "batch").map((req) => obj(req, "request"))
  const txs = reqs.filter((req) => req["k"] === "tx").map((req) => int(req["id"], "request id")).sort((a, b) => a - b)
  const labels = reqs.filter((req) => req["k"] !== "tx").map(requestLabel).sort()
  return [...txs, ...labels]
}

const pairsOf = (x: Json): Array<[number, Array<number | string>]> =>
  arr(x, "write set")
    .map((p): [number, Array<number | string>] => {
      const t = arr(p, "pair")
      return [int(t[0], "regency"), batchOf(t[1])]
    })
    .sort((a, b) => a[0] - b[0] || JSON.stringify(a[1]).localeCompare(JSON.stringify(b[1])))

const replicaViews = (state: Obj, reconfig: boolean): Array<ReplicaView> => {
  const chains = arr(state["chain"], "chain")
  return chains.map((c, i) => {
    const chain = arr(c, "chain[r]").map(batchOf)
    const open = chain.length + 1
    const vote = obj(arr(arr(state["vote"], "vote")[i], "vote[r]")[open - 1], "vote[r][c]")
    const wset = arr(arr(state["wset"], "wset")[i], "wset[r]")[open - 1]
    return {
      chain,
      regency: int(arr(state["reg"], "reg")[i], "reg[r]"),
      active: arr(state["active"], "active")[i] === true,
      vote: { regency: int(vote["ts"], "vote ts"), batch: batchOf(vote["b"]) },
      written: pairsOf(wset),
      wrote: int(arr(state["wrote"], "wrote")[i], "wrote[r]"),
      dur: int(arr(state["dur"], "dur")[i], "dur[r]"),
      certH: int(arr(state["certH"], "certH")[i], "certH[r]"),
      up: arr(state["up"], "up")[i] === true,
      ckpt: int(arr(state["ckpt"], "ckpt")[i], "ckpt[r]"),
      ...(reconfig
        ? {
          view: int(arr(state["view"], "view")[i], "view[r]"),
          keys: arr(arr(state["keys"], "keys")[i], "keys[r]").map((k) => int(k, "key view")).sort((a, b) => a - b),
          left: arr(state["left"], "left")[i] === true
        }
        : {})
    }
  })
}

const sentMessage = (m: Obj): SentMessage => {
  const from = int(m["from"], "from") - 1
  if (m["type"] === "COMMIT") {
    const height = int(m["h"], "h")
    return { type: "COMMIT", from, height, batch: batchOf(arr(m["blk"], "blk")[height - 1]) }
  }
  if (m["type"] === "REPLY") return { type: "REPLY", from, tx: int(m["t"], "t"), height: int(m["h"], "h") }
  const regency = int(m["e"], "e")
  switch (m["type"]) {
    case "PROPOSE":
      return { type: "PROPOSE", from, cid: int(m["c"], "c"), regency, batch: batchOf(m["b"]) }
    case "WRITE":
      return { type: "WRITE", from, cid: int(m["c"], "c"), regency, batch: batchOf(m["b"]) }
    case "ACCEPT":
      return { type: "ACCEPT", from, cid: int(m["c"], "c"), regency, batch: batchOf(m["b"]) }
    case "STOP":
      return { type: "STOP", from, regency }
    case "STOPDATA":
      return {
        type: "STOPDATA",
        from,
        regency,
        lastDecided: int(m["ld"], "ld"),
        accepted: { regency: int(m["ts"], "ts"), batch: batchOf(m["b"]) },
        written: pairsOf(m["ws"])
      }
    case "SYNC":
      return { type: "SYNC", from, regency, cid: int(m["c"], "c"), batch: batchOf(m["b"]), bound: m["bound"] === true }
    default:
      throw new DumpShapeError({ reason: `unexpected message type ${String(m["type"])}` })
  }
}

/** Converts TLC's -dumpTrace json output of one behaviour. */
export const behaviourFromDump = (
  dump: Json,
  goal: string,
  mode: Behaviour["mode"],
  source: string,
  batchMax: number,
  checkpointInterval: number,
  reconfig?: { readonly members: number; readonly rotationWindow: number }
): Behaviour => {
  const actions = arr(obj(obj(dump, "dump")["counterexample"], "counterexample")["action"], "actions")
  const steps: Array<Step> = []
  let txs = new Set<number>()
  let replicas = 0
  for (const a of actions) {
    const [pre, info, post] = arr(a, "action")
    const preState = obj(arr(pre, "pre")[1], "pre state")
    const postState = obj(arr(post, "post")[1], "post state")
    const action = obj(info, "action info")
    const before = new Set(arr(preState["msgs"], "msgs").map((m) => JSON.stringify(m)))
    const sent = arr(postState["msgs"], "msgs")
      .filter((m) => !before.has(JSON.stringify(m)))
      .map((m) => sentMessage(obj(m, "message")))
    // TLC names a step by the innermost named operator; a step it calls "GenNext" is a STOP (the
    // one disjunct of older versions of the module that had no name of its own).
    const stop = sent.length === 1 && sent[0]?.type === "STOP" ? sent[0] : undefined
    const unnamed = action["name"] === "GenNext" && stop !== undefined
    const name = unnamed ? "Stop" : (reconfigActionNames[String(action["name"])] ?? String(action["name"]).replace(/^Gen/, ""))
    const views = replicaViews(postState, reconfig !== undefined)
    replicas = views.length
    if (name === "CrashAll") {
      // The one action without a parameter.
      steps.push({ action: "CrashAll", sent, post: views })
      continue
    }
    const context = unnamed ? { r: (stop?.from ?? 0) + 1 } : obj(action["context"], `the context of step ${steps.length + 1} (${String(action["name"])})`)
    if (name === "Submit") {
      const tx = int(context["i"], "i")
      txs = new Set([...txs, tx])
      steps.push({ action: "Submit", tx, sent, post: views })
    } else {
      const replica = int(context[name === "RequestJoin" ? "j" : "r"], "r") - 1
      const step = Schema.decodeUnknownEither(BehaviourSchema.fields.steps)([
        { action: name, replica, sent, post: views }
      ])
      if (step._tag === "Left") throw new DumpShapeError({ reason: `step ${steps.length + 1}: unexpected action ${name}` })
      steps.push(...step.right)
    }
  }
  const membership = reconfig === undefined ? {} : { members: reconfig.members, rotationWindow: reconfig.rotationWindow }
  return { goal, source, mode, replicas, batchMax, checkpointInterval, ...membership, txs: [...txs].sort((a, b) => a - b), steps }
}

/** One step per line: readable diffs when behaviours are regenerated. */
export const formatBehaviour = (b: Behaviour): string =>
  [
    "{",
    `  "goal": ${JSON.stringify(b.goal)},`,
    `  "source": ${JSON.stringify(b.source)},`,
    `  "mode": ${JSON.stringify(b.mode)},`,
    `  "replicas": ${b.replicas},`,
    `  "batchMax": ${b.batchMax},`,
    ...(b.checkpointInterval === undefined ? [] : [`  "checkpointInterval": ${b.checkpointInterval},`]),
    ...(b.members === undefined ? [] : [`  "members": ${b.members},`]),
    ...(b.rotationWindow === undefined ? [] : [`  "rotationWindow": ${b.rotationWindow},`]),
    `  "txs": ${JSON.stringify(b.txs)},`,
    `  "steps": [`,
    b.steps.map((s) => `    ${JSON.stringify(s)}`).join(",\n"),
    "  ]",
    "}",
    ""
  ].join("\n")

const argValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

const main = Effect.gen(function* () {
  const args = process.argv.slice(2)
  const tools = yield* toolsFromEnv(process.env)
  if (Option.isNone(tools)) {
    console.log("gen-behaviours skipped: TLA2TOOLS_JAR is not set (conformance/behaviours/ left as committed)")
    return 0
  }
  const seed = Number(argValue(args, "--seed") ?? 7)
  const reconfig = args.includes("--reconfig")
  const depth = Number(argValue(args, "--depth") ?? (reconfig ? 200 : 100))
  const named = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1]?.startsWith("--") && args[i - 1] !== "--reconfig"))
  const known = reconfig ? Object.keys(reconfigGoalModes) : goals
  const unknown = named.filter((g) => !(reconfig ? isReconfigGoal(g) : isGoal(g)))
  if (unknown.length > 0) {
    console.log(`unknown goal(s): ${unknown.join(", ")}; the goals are ${known.join(", ")}`)
    return 2
  }
  const selected = named.length > 0 ? named : [...known]
  const module = reconfig ? "GenReconfigBehaviours" : "GenBehaviours"
  fs.mkdirSync(outDir, { recursive: true })
  let failed = 0
  for (const goal of selected) {
    const mode = reconfig ? reconfigGoalModes[goal as ReconfigGoal] : goalModes[goal as Goal]
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-behaviour-"))
    const dumpFile = path.join(work, "behaviour.json")
    const run = yield* runJava({
      tools: tools.value,
      jvmOptions: ["-XX:+UseParallelGC", ...commonJvmOptions(tools.value, [path.join(root, "spec")])],
      mainClass: "tlc2.TLC",
      args: ["-simulate", "-depth", String(depth), "-seed", String(seed), "-workers", "1", "-noTE", "-metadir", path.join(work, "states"),
        "-dumpTrace", "json", dumpFile, "-config", `${module}.cfg`, module],
      cwd: conformanceDir,
      env: { GOAL: goal, MODE: mode },
      timeoutMillis: 20 * 60 * 1000
    })
    const reading = readTlcOutput(run.output, run.exitCode)
    if (reading.outcome._tag !== "InvariantViolated" || reading.outcome.name !== (reconfig ? "RGoalNotReached" : "GoalNotReached") || !fs.existsSync(dumpFile)) {
      console.log(`${goal}: TLC did not reach the goal (${reading.outcome._tag}) in ${(run.millis / 1000).toFixed(1)}s`)
      failed++
    } else {
      const flag = reconfig ? " --reconfig" : ""
      const source = `TLC -simulate -seed ${seed} -depth ${depth} of conformance/${module}.tla with GOAL=${goal} MODE=${mode} (scripts/gen-behaviours.ts${flag})`
      const shape = reconfig ? reconfigShape : undefined
      const behaviour = yield* Effect.try({
        try: () => behaviourFromDump(JSON.parse(fs.readFileSync(dumpFile, "utf8")), goal, mode, source, batchMax, checkpointIntervalOf(goal), shape),
        catch: (e) => (e instanceof DumpShapeError ? e : new DumpShapeError({ reason: String(e) }))
      })
      fs.writeFileSync(path.join(outDir, `${goal}.json`), formatBehaviour(behaviour))
      const actions = [...new Set(behaviour.steps.map((s) => s.action))].join(", ")
      console.log(`${goal}: ${behaviour.steps.length} steps (${actions}) in ${(run.millis / 1000).toFixed(1)}s`)
    }
    fs.rmSync(work, { recursive: true, force: true })
  }
  return failed === 0 ? 0 : 1
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
