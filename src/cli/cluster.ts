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
 * its own, the cluster stops the others and reports it.
 */
import { Console, Deferred, Effect, Either, Schema } from "effect"
import type { Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
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

/** Copies a child's output lines to ours, each prefixed. */
const pipeLines = (stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WriteStream): void => {
  if (stream === null) return
  let rest = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n")
    rest = lines.pop() ?? ""
    for (const line of lines) out.write(`${prefix}${line}\n`)
  })
  stream.on("end", () => {
    if (rest !== "") out.write(`${prefix}${rest}\n`)
  })
}

const stopChild = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs)
    // 'close' comes after the child's last output lines, so they are printed before the cluster ends.
    child.once("close", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

/** Starts `smartchain node` for each configuration; they are stopped when the scope closes. */
export const spawnNodes = (
  configs: ReadonlyArray<string>,
  onExit: (replica: number, code: number | null, signal: string | null) => void
): Effect.Effect<ReadonlyArray<ChildProcess>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      configs.map((config, i) => {
        const child = spawn(process.execPath, [launcher, "node", "--config", config], { stdio: ["ignore", "pipe", "pipe"] })
        pipeLines(child.stdout, `[replica ${i}] `, process.stdout)
        pipeLines(child.stderr, `[replica ${i}] `, process.stderr)
        child.on("exit", (code, signal) => onExit(i, code, signal))
        return child
      })
    ),
    (children) => Effect.promise(() => Promise.all(children.map(stopChild)))
  )

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
