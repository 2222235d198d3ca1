/**
 * The throughput benchmark of a 4-replica network on loopback (`smartchain bench`, or
 * `npx tsx bench/cluster.ts` with the same options).
 *
 * For each persistence mode it starts 4 `smartchain node` processes with the cluster starter
 * (src/cli/cluster.ts), then for each offered load L (ascending) runs L closed-loop clients in this
 * process: each has its own Ed25519 key, funded by a MINT, and repeatedly signs a coin SPEND of
 * its one unspent output (1 coin to the next client, the rest back to itself as change), submits
 * it through the client library over HTTP, and waits for the mode's acceptance rule before sending
 * the next. L is thus the number of outstanding requests. After a warm-up, a measured window
 * counts the transactions accepted in it, their latencies (submit to acceptance), and the CPU
 * time the replica processes spent (utime + stime from /proc/<pid>/stat).
 *
 * In the same run it measures the machine's Ed25519 verification rate with node:crypto on one
 * core (200-byte messages, one KeyObject reused), and states each throughput as a share of the
 * ceiling that rate allows when each of the 4 replicas verifies every transaction:
 *
 *   ceiling = cores x verifications per second per core / replicas
 *
 * Results go to OUT/cluster-<timestamp>.json and an SVG chart of throughput against offered load
 * (one line per mode, the ceiling dashed) to OUT/cluster-<timestamp>.svg.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Either, Fiber, Schema } from "effect"
import type { Scope } from "effect"
import { execFileSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as nodeCryptoModule from "node:crypto"
import * as fs from "node:fs/promises"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { makeHttpBatchHub } from "../src/api/http-batch-transport.ts"
import { makeHttpClientTransport } from "../src/api/http-client-transport.ts"
import type { Outpoint } from "../src/app/coin.ts"
import { decodeCoinResult, mintOp, spendOp } from "../src/app/coin.ts"
import type { PersistenceMode } from "../src/chain/types.ts"
import { makeClient } from "../src/client/client.ts"
import type { ClientKey } from "../src/client/client.ts"
import type { ClientTransport } from "../src/client/transport.ts"
import { connect } from "../src/cli/coin.ts"
import type { CoinNetwork } from "../src/cli/coin.ts"
import { httpPortOf, prepareCluster, spawnNodes, waitForHttp } from "../src/cli/cluster.ts"
import { fetchStatus } from "../src/cli/status.ts"
import { nodeCrypto } from "../src/services/crypto.ts"
import { readKeyFile } from "../src/services/keystore.ts"
import { renderChart } from "./chart.ts"

export const benchReplicas = 4
const modesAll: ReadonlyArray<PersistenceMode> = ["memory", "weak", "strong"]
/** Most concurrent clients one level may run. */
export const loadMax = 1024
/** Coins each client starts with: one is sent per transaction. */
const clientFunds = 1_000_000_000n
/** Outputs per funding MINT (the coin's limit). */
const mintOutputsMax = 256
/** How long the idle replicas' CPU is measured before the first level. */
const idleWindowMs = 2_000

export class BenchError extends Schema.TaggedError<BenchError>()("BenchError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export interface BenchOptions {
  readonly modes: ReadonlyArray<PersistenceMode>
  /** Offered loads (concurrent closed-loop clients), ascending and distinct. */
  readonly loads: ReadonlyArray<number>
  readonly durationS: number
  readonly warmupS: number
  readonly out: string
  readonly basePort: number
  /**
   * How clients reach the replicas: "batch", one POST /txs per member per turn of this process's
   * event loop with the replies streamed back (src/api/http-batch-transport.ts); or "tx", one
   * POST /tx and one long-polling GET /tx per transaction and member (src/api/http-client-transport.ts).
   */
  readonly api: BenchApi
  /** With the batch API, ask for certified replies (strong mode) instead of plain ones. */
  readonly proofs: boolean
}

export const benchApis = ["batch", "tx"] as const
export type BenchApi = (typeof benchApis)[number]

export interface BenchRawOptions {
  readonly modes: string
  readonly loads: string
  readonly duration: number
  readonly warmup: number
  readonly out: string
  readonly basePort: number
  readonly api: string
  readonly proofs: boolean
}

/** Checks the command's options; every error names the option. */
export const parseBenchOptions = (raw: BenchRawOptions): Either.Either<BenchOptions, BenchError> => {
  const bad = (reason: string) => Either.left(new BenchError({ reason }))
  const modeNames = raw.modes.split(",").map((m) => m.trim()).filter((m) => m !== "")
  if (modeNames.length === 0) return bad(`--modes must list at least one of memory, weak, strong`)
  const modes: Array<PersistenceMode> = []
  for (const m of modeNames) {
    const mode = modesAll.find((x) => x === m)
    if (mode === undefined) return bad(`--modes: unknown mode "${m}"; use memory, weak, strong (comma-separated)`)
    if (modes.includes(mode)) return bad(`--modes: "${m}" is listed twice`)
    modes.push(mode)
  }
  const loadTexts = raw.loads.split(",").map((l) => l.trim()).filter((l) => l !== "")
  if (loadTexts.length === 0) return bad(`--loads must list at least one number of concurrent clients`)
  const loads: Array<number> = []
  for (const l of loadTexts) {
    if (!/^[1-9][0-9]*$/.test(l) || Number(l) > loadMax) return bad(`--loads: "${l}" is not a whole number of clients from 1 to ${loadMax}`)
    loads.push(Number(l))
  }
  const sorted = [...new Set(loads)].sort((a, b) => a - b)
  if (sorted.length !== loads.length) return bad(`--loads: a load is listed twice`)
  if (!Number.isFinite(raw.duration) || raw.duration < 1 || raw.duration > 3600) return bad(`--duration must be 1 to 3600 seconds, got ${raw.duration}`)
  if (!Number.isFinite(raw.warmup) || raw.warmup < 0 || raw.warmup > 600) return bad(`--warmup must be 0 to 600 seconds, got ${raw.warmup}`)
  if (!Number.isInteger(raw.basePort) || raw.basePort < 1024 || raw.basePort + 2 * benchReplicas > 65535)
    return bad(`--base-port must leave room for ${2 * benchReplicas} ports from 1024 to 65535, got ${raw.basePort}`)
  if (raw.out.trim() === "") return bad(`--out must name a directory`)
  const api = benchApis.find((a) => a === raw.api)
  if (api === undefined) return bad(`--api: unknown "${raw.api}"; use ${benchApis.join(" or ")}`)
  if (raw.proofs && api !== "batch") return bad(`--proofs needs --api batch (the tx API's answers carry proofs anyway)`)
  return Either.right({ modes, loads: sorted, durationS: raw.duration, warmupS: raw.warmup, out: raw.out, basePort: raw.basePort, api, proofs: raw.proofs })
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

/**
 * Ed25519 verifications per second on one core with node:crypto: 200-byte messages, one
 * KeyObject reused (as a replica keeps one per client key). The median of `rounds` timed rounds.
 */
export const measureVerifyRate = (roundMs = 300, rounds = 5): number => {
  const { publicKey, privateKey } = nodeCryptoModule.generateKeyPairSync("ed25519")
  const message = nodeCryptoModule.randomBytes(200)
  const signature = nodeCryptoModule.sign(null, message, privateKey)
  if (!nodeCryptoModule.verify(null, message, publicKey, signature)) throw new Error("node:crypto failed to verify its own signature")
  const rates: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    let n = 0
    const start = performance.now()
    let elapsed = 0
    while (elapsed < roundMs) {
      for (let i = 0; i < 64; i++) nodeCryptoModule.verify(null, message, publicKey, signature)
      n += 64
      elapsed = performance.now() - start
    }
    rates.push(n / (elapsed / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)] as number
}

const clockTicks = ((): number => {
  try {
    const t = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isInteger(t) && t > 0 ? t : 100
  } catch {
    return 100
  }
})()

/** CPU time (user + system) of process `pid` in milliseconds, from /proc; undefined if gone. */
export const processCpuMs = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks
  } catch {
    return undefined
  }
}

const cpuOf = (children: ReadonlyArray<ChildProcess>): number =>
  children.reduce((sum, c) => sum + (c.pid === undefined ? 0 : (processCpuMs(c.pid) ?? 0)), 0)

/** The p-quantile (0..1) of ascending `sorted`, nearest rank. */
export const quantile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[rank] as number
}

// ---------------------------------------------------------------------------------------------
// One load level
// ---------------------------------------------------------------------------------------------

export interface LevelResult {
  readonly mode: PersistenceMode
  /** Concurrent closed-loop clients (outstanding requests). */
  readonly load: number
  readonly seconds: number
  /** Transactions accepted within the measured window. */
  readonly transactions: number
  readonly throughput: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  /** CPU of the 4 replica processes in the window, per accepted transaction. */
  readonly replicaCpuMsPerTx: number
  /** The same, less what the replicas use when idle (measured before the first level). */
  readonly replicaCpuAboveIdleMsPerTx: number
  /** CPU of this (client) process in the window, per accepted transaction. */
  readonly clientCpuMsPerTx: number
  /** Throughput as a share of the verification ceiling. */
  readonly ofCeiling: number
  /** Transactions the coin refused (none expected), and submissions that timed out and were resent. */
  readonly failed: number
  readonly timeouts: number
  /** Blocks replica 0 executed in the window (so transactions per block), when its status answered. */
  readonly blocks: number
}

interface Tally {
  measuring: boolean
  stopping: boolean
  accepted: number
  total: number
  failed: number
  timeouts: number
  latencies: Array<number>
}

interface Funded {
  readonly key: ClientKey
  readonly outpoint: Outpoint
}

const newKey = (): ClientKey => {
  const secret = nodeCrypto.generateSecretKey()
  return { secret, publicKey: nodeCrypto.publicKeyFromSecret(secret) }
}

/** Makes one client's transport (in the client's scope). */
type TransportMaker = Effect.Effect<ClientTransport, never, Scope.Scope>

/** The clients' transports for one network: a shared batching hub (in the caller's scope), or one HTTP transport each. */
const transportsFor = (network: CoinNetwork, o: BenchOptions): Effect.Effect<TransportMaker, never, Scope.Scope> =>
  o.api === "batch"
    ? Effect.map(makeHttpBatchHub({ urls: network.urls, viewId: network.view.id, proofs: o.proofs }), (hub) => hub.transport)
    : Effect.succeed(makeHttpClientTransport({ urls: network.urls, viewId: network.view.id }))

const submitFor = (network: CoinNetwork, transports: TransportMaker, key: ClientKey) =>
  Effect.gen(function* () {
    const transport = yield* transports
    return yield* Effect.mapError(
      makeClient({ chainId: network.chainId, view: network.view, mode: network.mode, key, crypto: nodeCrypto, timeoutMs: 10_000, attempts: 1 }, transport),
      (e) => new BenchError({ reason: e.message })
    )
  })

/** `count` new keys, each given `clientFunds` coins by MINTs of the minter. */
const fundClients = (network: CoinNetwork, transports: TransportMaker, minter: ClientKey, count: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* submitFor(network, transports, minter)
      const funded: Array<Funded> = []
      for (let start = 0; start < count; start += mintOutputsMax) {
        const keys = Array.from({ length: Math.min(mintOutputsMax, count - start) }, newKey)
        const op = mintOp(keys.map((k) => ({ owner: k.publicKey, amount: clientFunds })))
        const tx = yield* client.sign(op)
        const submitted = yield* Effect.retry(client.submitTransaction(tx), { times: 5 })
        const result = decodeCoinResult(submitted.reply.result)
        if (Either.isLeft(result) || result.right._tag !== "Minted")
          return yield* new BenchError({ reason: `funding MINT refused: ${Either.isLeft(result) ? result.left.message : JSON.stringify(result.right)}` })
        const txHash = result.right.txHash
        keys.forEach((key, index) => funded.push({ key, outpoint: { txHash, index } }))
      }
      return funded
    })
  ).pipe(Effect.mapError((e) => (e instanceof BenchError ? e : new BenchError({ reason: `funding clients: ${e.message}` }))))

/** One closed-loop client: spend, wait for acceptance, repeat, until the tally says stop. */
const runClient = (network: CoinNetwork, transports: TransportMaker, me: Funded, recipient: Uint8Array, tally: Tally) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* submitFor(network, transports, me.key)
      let outpoint = me.outpoint
      let funds = clientFunds
      while (!tally.stopping && funds > 1n) {
        const tx = yield* client.sign(spendOp([outpoint], [{ owner: recipient, amount: 1n }, { owner: me.key.publicKey, amount: funds - 1n }]))
        const started = performance.now()
        let submitted = yield* Effect.either(client.submitTransaction(tx))
        while (Either.isLeft(submitted) && !tally.stopping) {
          tally.timeouts++
          submitted = yield* Effect.either(client.submitTransaction(tx))
        }
        if (Either.isLeft(submitted)) return
        const latency = performance.now() - started
        const result = decodeCoinResult(submitted.right.reply.result)
        tally.total++
        if (Either.isLeft(result) || result.right._tag !== "Spent") {
          // A refused transfer means this client no longer knows its unspent output: it stops.
          tally.failed++
          return
        }
        outpoint = { txHash: result.right.txHash, index: 1 }
        funds -= 1n
        if (tally.measuring) {
          tally.accepted++
          tally.latencies.push(latency)
        }
      }
    })
  )

const sleep = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** Progress on stderr: a line redrawn in place on a terminal, a line every 5 s otherwise. */
const progressLine = (() => {
  let lastPlain = 0
  return (text: string, final = false) => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}${final ? "\n" : ""}`)
    else if (final || performance.now() - lastPlain >= 5_000) {
      lastPlain = performance.now()
      process.stderr.write(`${text}\n`)
    }
  }
})()

const runLevel = (
  network: CoinNetwork,
  transports: TransportMaker,
  minter: ClientKey,
  children: ReadonlyArray<ChildProcess>,
  load: number,
  o: BenchOptions,
  ceiling: number,
  idleCpuMsPerS: number,
  replicaExited: () => string | undefined
) =>
  Effect.gen(function* () {
    const label = `${network.mode} load ${load}`
    progressLine(`[${label}] funding ${load} clients`)
    const funded = yield* fundClients(network, transports, minter, load)
    const tally: Tally = { measuring: false, stopping: false, accepted: 0, total: 0, failed: 0, timeouts: 0, latencies: [] }
    const fibers = yield* Effect.forEach(funded, (me, i) =>
      Effect.fork(runClient(network, transports, me, (funded[(i + 1) % funded.length] as Funded).key.publicKey, tally))
    )
    const watch = (phase: string, seconds: number, counter: () => number) =>
      Effect.gen(function* () {
        const start = performance.now()
        while (performance.now() - start < seconds * 1000) {
          const exited = replicaExited()
          if (exited !== undefined) return yield* new BenchError({ reason: exited })
          yield* sleep(Math.min(1000, seconds * 1000 - (performance.now() - start)))
          const t = (performance.now() - start) / 1000
          progressLine(`[${label}] ${phase} ${t.toFixed(0)}/${seconds} s: ${counter()} tx (${(counter() / Math.max(t, 0.001)).toFixed(0)} tx/s)`)
        }
      })
    const totalAtStart = tally.total
    yield* watch("warm-up", o.warmupS, () => tally.total - totalAtStart)
    const heightOf = Effect.map(Effect.either(fetchStatus(network.urls.get(0) ?? "")), (s) => (Either.isRight(s) ? Number(s.right.height) : Number.NaN))
    const h0 = yield* heightOf
    const cpu0 = cpuOf(children)
    const own0 = process.cpuUsage()
    const t0 = performance.now()
    tally.measuring = true
    yield* watch("measuring", o.durationS, () => tally.accepted)
    tally.measuring = false
    const seconds = (performance.now() - t0) / 1000
    const replicaCpu = cpuOf(children) - cpu0
    const own = process.cpuUsage(own0)
    const blocks = (yield* heightOf) - h0
    tally.stopping = true
    // Let each client finish its transaction in flight, so the next level starts from a quiet network.
    const joined = yield* Effect.timeoutOption(Fiber.joinAll(fibers), 15_000)
    if (joined._tag === "None") yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
    const sorted = [...tally.latencies].sort((a, b) => a - b)
    const throughput = tally.accepted / seconds
    const perTx = (ms: number) => (tally.accepted === 0 ? Number.NaN : ms / tally.accepted)
    const result: LevelResult = {
      mode: network.mode,
      load,
      seconds,
      transactions: tally.accepted,
      throughput,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      meanMs: sorted.length === 0 ? Number.NaN : sorted.reduce((s, x) => s + x, 0) / sorted.length,
      replicaCpuMsPerTx: perTx(replicaCpu),
      replicaCpuAboveIdleMsPerTx: perTx(replicaCpu - idleCpuMsPerS * seconds),
      clientCpuMsPerTx: perTx((own.user + own.system) / 1000),
      ofCeiling: throughput / ceiling,
      failed: tally.failed,
      timeouts: tally.timeouts,
      blocks
    }
    progressLine(`[${label}] ${throughput.toFixed(0)} tx/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`, true)
    return result
  })

// ---------------------------------------------------------------------------------------------
// One mode: a fresh 4-replica network
// ---------------------------------------------------------------------------------------------

const runMode = (mode: PersistenceMode, o: BenchOptions, ceiling: number, root: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const dir = path.join(root, mode)
      const host = "127.0.0.1"
      progressLine(`[${mode}] starting ${benchReplicas} replica processes`, true)
      const started = performance.now()
      const { configs } = yield* Effect.mapError(
        prepareCluster({ replicas: benchReplicas, mode, dir, basePort: o.basePort, host, fresh: false }),
        (e) => new BenchError({ reason: e.message })
      )
      let exited: string | undefined
      let stopping = false
      yield* Effect.addFinalizer(() => Effect.sync(() => void (stopping = true)))
      const children = yield* spawnNodes(configs, (replica, code, signal) => {
        if (!stopping) exited = `replica ${replica} exited (${signal ?? `code ${code}`}) during the ${mode} run`
      })
      const urls = configs.map((_, i) => `http://${host}:${httpPortOf(o.basePort, benchReplicas, i)}`)
      const ready = yield* Effect.forEach(urls, (u) => waitForHttp(`${u}/status`, 180_000), { concurrency: "unbounded" })
      if (!ready.every((x) => x)) return yield* new BenchError({ reason: exited ?? `${mode}: not every replica answered on HTTP within 180 s` })
      // Wait for the full mesh, so the first level does not measure connection set-up.
      const meshDeadline = performance.now() + 60_000
      while (performance.now() < meshDeadline) {
        const statuses = yield* Effect.forEach(urls, (u) => Effect.either(fetchStatus(u)))
        if (statuses.every((s) => Either.isRight(s) && s.right.connectedPeers.length === benchReplicas - 1)) break
        yield* sleep(200)
      }
      const startupS = (performance.now() - started) / 1000
      const startupCpuMs = cpuOf(children)
      progressLine(`[${mode}] replicas ready after ${startupS.toFixed(1)} s (their CPU so far: ${(startupCpuMs / 1000).toFixed(1)} s)`, true)
      // What the replicas spend with nothing to order (clock ticks, heartbeats), to read the per-transaction figures against.
      const idle0 = cpuOf(children)
      const idleT0 = performance.now()
      yield* sleep(idleWindowMs)
      const idleCpuMsPerS = ((cpuOf(children) - idle0) * 1000) / (performance.now() - idleT0)
      progressLine(`[${mode}] idle replicas use ${idleCpuMsPerS.toFixed(0)} ms of CPU per second together`, true)
      const network = yield* Effect.mapError(connect(urls), (e) => new BenchError({ reason: e.message }))
      const minterFile = yield* Effect.mapError(readKeyFile(path.join(dir, "clients", "minter-0.key")), (e) => new BenchError({ reason: e.message }))
      const minter: ClientKey = { publicKey: minterFile.publicKey, secret: minterFile.secretKey }
      const transports = yield* transportsFor(network, o)
      const levels: Array<LevelResult> = []
      for (const load of o.loads) levels.push(yield* runLevel(network, transports, minter, children, load, o, ceiling, idleCpuMsPerS, () => exited))
      return { mode, startupS, startupCpuMs, idleCpuMsPerS, levels }
    })
  )

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const pad = (s: string, n: number) => s.padStart(n)
const num = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : "-")

export const formatTable = (levels: ReadonlyArray<LevelResult>): string => {
  const head = ["mode", "load", "tx/s", "p50 ms", "p99 ms", "tx/block", "replica CPU ms/tx", "client CPU ms/tx", "of ceiling", "failed", "resent"]
  const widths = [7, 5, 8, 8, 8, 9, 18, 17, 11, 7, 7]
  const row = (cells: ReadonlyArray<string>) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] as number) : pad(c, widths[i] as number))).join(" ")
  return [
    row(head),
    ...levels.map((l) =>
      row([
        l.mode,
        String(l.load),
        num(l.throughput),
        num(l.p50Ms, 1),
        num(l.p99Ms, 1),
        num(l.transactions / l.blocks, 1),
        num(l.replicaCpuMsPerTx, 2),
        num(l.clientCpuMsPerTx, 2),
        `${num(l.ofCeiling * 100, 1)} %`,
        String(l.failed),
        String(l.timeouts)
      ])
    )
  ].join("\n")
}

export const chartOf = (levels: ReadonlyArray<LevelResult>, ceiling: number, title: string): string =>
  renderChart({
    title,
    xLabel: "offered load (outstanding requests)",
    yLabel: "throughput (tx/s)",
    series: modesAll
      .filter((m) => levels.some((l) => l.mode === m))
      .map((m) => ({ name: m, points: levels.filter((l) => l.mode === m).map((l) => ({ x: l.load, y: l.throughput })) })),
    references: [{ name: `verification ceiling ${ceiling.toFixed(0)} tx/s`, y: ceiling }]
  })

const timestamp = (d: Date): string => d.toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")

export const runBench = (o: BenchOptions): Effect.Effect<void, BenchError> =>
  Effect.gen(function* () {
    const startedAt = new Date()
    const cores = os.availableParallelism()
    yield* Console.log(`measuring Ed25519 verification with node:crypto on one core...`)
    const verifyRate = measureVerifyRate()
    const ceiling = (cores * verifyRate) / benchReplicas
    yield* Console.log(
      `verification: ${verifyRate.toFixed(0)} /s per core; ceiling = cores x rate / replicas = ${cores} x ${verifyRate.toFixed(0)} / ${benchReplicas} = ${ceiling.toFixed(0)} tx/s`
    )
    const root = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-bench-")))
    const out = path.resolve(o.out)
    const base = path.join(out, `cluster-${timestamp(startedAt)}`)
    const modes: Array<{ readonly mode: PersistenceMode; readonly startupS: number; readonly startupCpuMs: number; readonly idleCpuMsPerS: number; readonly levels: ReadonlyArray<LevelResult> }> = []
    const write = Effect.tryPromise({
      try: async () => {
        const levels = modes.flatMap((m) => m.levels)
        const json = {
          startedAt: startedAt.toISOString(),
          machine: { cores, node: process.version, platform: `${os.platform()} ${os.release()}`, cpu: os.cpus()[0]?.model ?? "unknown" },
          verification: { library: "node:crypto", messageBytes: 200, perSecondPerCore: verifyRate },
          ceiling: { formula: "cores x verifications per second per core / replicas", cores, replicas: benchReplicas, txPerSecond: ceiling },
          options: { modes: o.modes, loads: o.loads, durationS: o.durationS, warmupS: o.warmupS, api: o.api, proofs: o.proofs },
          workload: "closed-loop clients, each signing coin SPENDs of its one unspent output (1 coin out, change back), accepted by the mode's reply rule",
          modes: modes.map((m) => ({ mode: m.mode, startupS: m.startupS, startupCpuMs: m.startupCpuMs, idleReplicaCpuMsPerS: m.idleCpuMsPerS })),
          results: levels
        }
        await fs.mkdir(out, { recursive: true })
        await fs.writeFile(`${base}.json`, JSON.stringify(json, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n")
        await fs.writeFile(`${base}.svg`, chartOf(levels, ceiling, `SmartChain, ${benchReplicas} replicas on loopback, ${cores} cores`))
      },
      catch: (e) => new BenchError({ reason: `cannot write results to ${out}: ${e instanceof Error ? e.message : String(e)}` })
    })
    yield* Effect.ensuring(
      Effect.forEach(o.modes, (mode) =>
        Effect.gen(function* () {
          modes.push(yield* runMode(mode, o, ceiling, root))
          yield* write
        })
      ),
      Effect.promise(() => fs.rm(root, { recursive: true, force: true }))
    )
    yield* Console.log(`\n${formatTable(modes.flatMap((m) => m.levels))}`)
    yield* Console.log(`\nceiling ${ceiling.toFixed(0)} tx/s = ${cores} cores x ${verifyRate.toFixed(0)} verifications/s / ${benchReplicas} replicas`)
    for (const m of modes) yield* Console.log(
        `${m.mode}: replicas started in ${m.startupS.toFixed(1)} s using ${(m.startupCpuMs / 1000).toFixed(1)} s of CPU; idle, they use ${m.idleCpuMsPerS.toFixed(0)} ms of CPU per second`
      )
    yield* Console.log(`results ${base}.json\nchart   ${base}.svg`)
  })

// Run directly (`npx tsx bench/cluster.ts [options]`): the same command as `smartchain bench`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { benchCommand } = await import("../src/cli/bench.ts")
  const cli = Command.run(benchCommand, { name: "bench", version: "0.1.0" })
  cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain({ disableErrorReporting: false }))
}
