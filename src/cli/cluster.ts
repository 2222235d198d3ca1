/**
 * `smartchain cluster --replicas N --mode memory|weak|strong`: a local network of N replica
 * processes on loopback, with everything under one directory (./data by default):
 *
 *   data/genesis.json, data/clients/minter-0.key          from `smartchain init` (run if needed)
 *   data/replica-<i>/identity.key, view-0.key              replica i's keys
 *   data/replica-<i>/node.json                             its configuration (written if missing)
 *   data/replica-<i>/blocks/                               its block store (weak and strong mode)
 *
 * Replica i listens for replicas on base-port + i and serves HTTP on base-port + N + i. The
 * command starts `smartchain node --config data/replica-<i>/node.json` for each, prefixes their
 * output with the replica id, waits until every API answers, prints the endpoints, and on Ctrl-C
 * (or SIGTERM) stops them all with SIGTERM (SIGKILL after a grace period). If a replica exits on
 * its own, the cluster stops the others and reports it. Run again on the same directory, the
 * replicas come back from their block stores.
 *
 * `ProcessCluster` holds the replica processes of such a directory for programs that crash and
 * restart them (`npm run demo`, the end-to-end test); `freePortRange` finds free ports for one.
 */
import { Console, Deferred, Effect, Either, Schema } from "effect"
import type { Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"
import type { Genesis, PersistenceMode } from "../chain/types.ts"
import { nodeConfigJson } from "../node/config.ts"
import { nodeCrypto } from "../services/crypto.ts"
import { identityKeyPath, initNetwork, replicaDir, viewKeyPath } from "./init.ts"

export class ClusterError extends Schema.TaggedError<ClusterError>()("ClusterError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export interface ClusterOptions {
  readonly replicas: number
  readonly mode: PersistenceMode
  readonly dir: string
  readonly basePort: number
  readonly host: string
  /** Delete the directory's network first (only a directory that holds one, or is empty). */
  readonly fresh: boolean
}

/** The HTTP port of replica `i` of `n`. */
export const httpPortOf = (basePort: number, n: number, i: number): number => basePort + n + i

export const nodeConfigPath = (dir: string, i: number): string => path.join(replicaDir(dir, i), "node.json")

/** How long replicas get to answer on HTTP after start, and to exit after SIGTERM. */
const readyTimeoutMs = 180_000
const stopGraceMs = 5_000

const exists = (p: string) =>
  Effect.promise(() =>
    fs.access(p).then(
      () => true,
      () => false
    )
  )

const attempt = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new ClusterError({ reason: `${what}: ${e instanceof Error ? e.message : String(e)}` }) })

/** Creates the network if needed (or anew with `fresh`), and a node.json per replica. */
export const prepareCluster = (o: ClusterOptions): Effect.Effect<{ readonly genesis: Genesis; readonly configs: ReadonlyArray<string> }, ClusterError> =>
  Effect.gen(function* () {
    const genesisPath = path.join(o.dir, "genesis.json")
    if (o.fresh && (yield* exists(o.dir))) {
      const entries = yield* attempt(`cannot list ${o.dir}`, () => fs.readdir(o.dir))
      if (entries.length > 0 && !entries.includes("genesis.json"))
        return yield* new ClusterError({ reason: `--fresh: ${o.dir} holds files but no genesis.json; refusing to delete it` })
      yield* attempt(`cannot delete ${o.dir}`, () => fs.rm(o.dir, { recursive: true, force: true }))
    }
    if (!(yield* exists(genesisPath))) {
      const chainId = `local-${Buffer.from(nodeCrypto.generateSecretKey().subarray(0, 4)).toString("hex")}`
      yield* initNetwork(nodeCrypto, { replicas: o.replicas, out: o.dir, mode: o.mode, chainId, host: o.host, basePort: o.basePort, minters: 1 }).pipe(
        Effect.mapError((e) => new ClusterError({ reason: e.message }))
      )
      yield* Console.log(`created network ${chainId} in ${o.dir}: ${o.replicas} replicas, ${o.mode} mode`)
    }
    const text = yield* attempt(`cannot read ${genesisPath}`, () => fs.readFile(genesisPath, "utf8"))
    const genesis = yield* Either.mapLeft(decodeGenesisJsonText(text), (e) => new ClusterError({ reason: `${genesisPath}: ${e.message}` }))
    if (genesis.view.n !== o.replicas || genesis.persistence !== o.mode)
      return yield* new ClusterError({
        reason: `${o.dir} holds a network of ${genesis.view.n} replicas in ${genesis.persistence} mode, not ${o.replicas} in ${o.mode} mode; use --fresh to replace it, or another --dir`
      })
    const configs: Array<string> = []
    for (let i = 0; i < genesis.view.n; i++) {
      const file = nodeConfigPath(o.dir, i)
      configs.push(file)
      if (yield* exists(file)) continue
      const dir = replicaDir(o.dir, i)
      const json = nodeConfigJson({
        genesis: path.relative(dir, genesisPath),
        identityKey: path.relative(dir, identityKeyPath(dir)),
        viewKey: path.relative(dir, viewKeyPath(dir, 0n)),
        dataDir: "blocks",
        http: { host: o.host, port: httpPortOf(o.basePort, genesis.view.n, i) }
      })
      yield* attempt(`cannot write ${file}`, () => fs.writeFile(file, json))
    }
    return { genesis, configs }
  })

/** The launcher of the `smartchain` command, to start replicas with. */
const launcher = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/smartchain.js")

/** Calls `onLine` with each line of a child's output stream. */
const eachLine = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void => {
  if (stream === null) return
  let rest = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n")
    rest = lines.pop() ?? ""
    for (const line of lines) onLine(line)
  })
  stream.on("end", () => {
    if (rest !== "") onLine(rest)
  })
}

/** How a replica process ended. */
export interface ReplicaExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** One `smartchain node` process. */
export interface ReplicaProcess {
  readonly replica: number
  readonly child: ChildProcess
  /** Settles once the process has exited and its output is closed (its last lines delivered). */
  readonly exited: Promise<ReplicaExit>
  /** Whether it is still running. */
  readonly running: () => boolean
  /** Sends `signal` (SIGKILL: at once, as a crash) if it is still running. */
  readonly kill: (signal: NodeJS.Signals) => void
  /** SIGTERM, then SIGKILL after `graceMs`; settles when it has exited. */
  readonly stop: (graceMs?: number) => Promise<ReplicaExit>
}

/** Where a replica process's output lines go: `stream` is "out" or "err". */
export type LineSink = (replica: number, stream: "out" | "err", line: string) => void

/** Output lines prefixed with the replica id, on our standard output and error. */
export const prefixedLines: LineSink = (replica, stream, line) =>
  (stream === "out" ? process.stdout : process.stderr).write(`[replica ${replica}] ${line}\n`)

/**
 * Options for the replicas' Node runtime, space-separated, from SMARTCHAIN_NODE_ARGS: for
 * measuring them, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (Node refuses those in NODE_OPTIONS).
 */
const replicaNodeArgs = (): Array<string> => (process.env["SMARTCHAIN_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "")

/** Starts `smartchain node --config FILE` as replica `replica`. */
export const startReplicaProcess = (config: string, replica: number, sink: LineSink = prefixedLines): ReplicaProcess => {
  const child = spawn(process.execPath, [...replicaNodeArgs(), launcher, "node", "--config", config], { stdio: ["ignore", "pipe", "pipe"] })
  eachLine(child.stdout, (line) => sink(replica, "out", line))
  eachLine(child.stderr, (line) => sink(replica, "err", line))
  // 'close' comes after the child's last output lines.
  const exited = new Promise<ReplicaExit>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }))
    child.once("error", () => resolve({ code: null, signal: null }))
  })
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined
  const kill = (signal: NodeJS.Signals) => {
    if (running()) child.kill(signal)
  }
  const stop = (graceMs = stopGraceMs) => {
    const timer = setTimeout(() => kill("SIGKILL"), graceMs)
    kill("SIGTERM")
    return exited.finally(() => clearTimeout(timer))
  }
  return { replica, child, exited, running, kill, stop }
}

/** Starts `smartchain node` for each configuration; they are stopped when the scope closes. */
export const spawnReplicas = (
  configs: ReadonlyArray<string>,
  onExit: (replica: number, code: number | null, signal: string | null) => void,
  sink: LineSink = prefixedLines
): Effect.Effect<ReadonlyArray<ReplicaProcess>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      configs.map((config, i) => {
        const p = startReplicaProcess(config, i, sink)
        void p.exited.then((e) => onExit(i, e.code, e.signal))
        return p
      })
    ),
    (replicas) => Effect.promise(() => Promise.all(replicas.map((r) => r.stop())))
  )

/** As `spawnReplicas`, giving the child processes. */
export const spawnNodes = (
  configs: ReadonlyArray<string>,
  onExit: (replica: number, code: number | null, signal: string | null) => void,
  sink: LineSink = prefixedLines
): Effect.Effect<ReadonlyArray<ChildProcess>, never, Scope.Scope> => Effect.map(spawnReplicas(configs, onExit, sink), (rs) => rs.map((r) => r.child))

/** Polls `url` until it answers 200 or `timeoutMs` passes. */
export const waitForHttp = (url: string, timeoutMs: number): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      try {
        const r = await fetch(url)
        if (r.status === 200) return true
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    return false
  })

/** Whether `port` can be bound on `host` now. */
const portIsFree = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })

/** Ports `freePortRange` picks from: below Linux's ephemeral range (32768 and up), so outgoing connections do not take them. */
const pickFrom = 20_000
const pickBelow = 32_768

/**
 * A base port B such that B .. B + count - 1 are all free on `host` now (tried at random in
 * 20000-32767). Another program may still take one before it is used; a replica that cannot
 * listen says so.
 */
export const freePortRange = async (count: number, host = "127.0.0.1", tries = 50): Promise<number> => {
  for (let t = 0; t < tries; t++) {
    const base = pickFrom + Math.floor(Math.random() * (pickBelow - pickFrom - count))
    let free = true
    for (let i = 0; i < count && free; i++) free = await portIsFree(host, base + i)
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free ports found on ${host} after ${tries} tries`)
}

/**
 * The replica processes of a cluster directory, each started, killed and restarted on demand (the
 * demo and the end-to-end test drive crashes with it). Every process still running is sent
 * SIGKILL when this process exits, whatever the reason, so none is left behind.
 */
export class ProcessCluster {
  readonly replicas: Array<ReplicaProcess | undefined>
  private readonly onExit = () => this.killAll("SIGKILL")

  constructor(
    readonly configs: ReadonlyArray<string>,
    /** The API URL of each replica. */
    readonly urls: ReadonlyArray<string>,
    private readonly sink: LineSink = prefixedLines
  ) {
    this.replicas = configs.map(() => undefined)
    process.once("exit", this.onExit)
  }

  /** The cluster of a directory prepared by `prepareCluster`. */
  static of(dir: string, genesis: Genesis, host: string, basePort: number, sink?: LineSink): ProcessCluster {
    const n = genesis.view.n
    const configs = genesis.view.members.map((_, i) => nodeConfigPath(dir, i))
    const urls = configs.map((_, i) => `http://${host.includes(":") ? `[${host}]` : host}:${httpPortOf(basePort, n, i)}`)
    return new ProcessCluster(configs, urls, sink)
  }

  /** Starts replica `i` (which must not be running). */
  start(i: number): ReplicaProcess {
    if (this.replicas[i]?.running() === true) throw new Error(`replica ${i} is already running`)
    const p = startReplicaProcess(this.configs[i]!, i, this.sink)
    this.replicas[i] = p
    return p
  }

  startAll(): void {
    for (let i = 0; i < this.configs.length; i++) this.start(i)
  }

  /** Waits until every running replica answers GET /status; false after `timeoutMs`, or when one exits meanwhile. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const running = this.replicas.flatMap((p, i) => (p?.running() === true ? [{ p, url: this.urls[i]! }] : []))
    const exited = Promise.race(running.map(({ p }) => p.exited.then(() => false)))
    const ready = Promise.all(running.map(({ url }) => Effect.runPromise(waitForHttp(`${url}/status`, timeoutMs)))).then((ok) => ok.every((x) => x))
    return Promise.race([ready, exited])
  }

  /** Sends `signal` to replica `i`; settles when it has exited. */
  kill(i: number, signal: NodeJS.Signals): Promise<ReplicaExit | undefined> {
    const p = this.replicas[i]
    if (p === undefined) return Promise.resolve(undefined)
    p.kill(signal)
    return p.exited
  }

  /** Sends `signal` to every replica at once; settles when all have exited. */
  killAll(signal: NodeJS.Signals): Promise<ReadonlyArray<ReplicaExit | undefined>> {
    return Promise.all(this.replicas.map((_, i) => this.kill(i, signal)))
  }

  /** SIGTERM to every replica (SIGKILL after a grace period); how each ended. */
  stopAll(graceMs = stopGraceMs): Promise<ReadonlyArray<ReplicaExit | undefined>> {
    return Promise.all(this.replicas.map((p) => (p === undefined ? Promise.resolve(undefined) : p.stop(graceMs))))
  }

  /** Kills whatever still runs and forgets the exit hook. */
  async dispose(): Promise<void> {
    await this.killAll("SIGKILL")
    process.off("exit", this.onExit)
  }
}

/** Runs the cluster until interrupted (Ctrl-C) or until a replica exits on its own. */
export const runCluster = (o: ClusterOptions): Effect.Effect<void, ClusterError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { genesis, configs } = yield* prepareCluster(o)
      const exited = yield* Deferred.make<string>()
      let stopping = false
      yield* Effect.addFinalizer(() => Effect.sync(() => void (stopping = true)))
      yield* spawnNodes(configs, (replica, code, signal) => {
        if (!stopping) Deferred.unsafeDone(exited, Effect.succeed(`replica ${replica} exited (${signal ?? `code ${code}`})`))
      })
      const urls = genesis.view.members.map((_, i) => `http://${o.host}:${httpPortOf(o.basePort, genesis.view.n, i)}`)
      yield* Console.log(`starting ${genesis.view.n} replicas...`)
      const ready = yield* Effect.raceFirst(
        Effect.map(Effect.forEach(urls, (u) => waitForHttp(`${u}/status`, readyTimeoutMs), { concurrency: "unbounded" }), (ok) => ok.every((x) => x)),
        Effect.as(Deferred.await(exited), false)
      )
      if (!ready) {
        const why = yield* Deferred.poll(exited)
        return yield* new ClusterError({
          reason: why._tag === "Some" ? yield* why.value : `not every replica answered on HTTP within ${readyTimeoutMs / 1000} s`
        })
      }
      yield* Console.log(`\ncluster ${genesis.chainId}: ${genesis.view.n} replicas (f = ${genesis.view.f}), ${genesis.persistence} mode, data in ${o.dir}`)
      yield* Effect.forEach(genesis.view.members, (m, i) => Console.log(`  replica ${m.replica}  channels ${m.address}  API ${urls[i]}`))
      yield* Console.log("  API: GET /status /view /blocks/:height /tx/:client/:seq /metrics, POST /tx")
      yield* Console.log("press Ctrl-C to stop every replica")
      const why = yield* Deferred.await(exited)
      return yield* new ClusterError({ reason: `${why}; stopping the others` })
    })
  ).pipe(Effect.onInterrupt(() => Console.log("cluster stopped")))
