/**
 * The in-process benchmark: a baseline for the networked one (bench/cluster.ts). Four replica
 * shells (src/replica/shell.ts, the loop a `smartchain node` process runs: Verifier, `step`, the
 * durable-commit pipeline, storage) run in this process, connected by an in-process Transport
 * (below: no sockets, no MACs), each with its own block store: the
 * in-memory store, or classic-level in a temporary directory (every sync a LevelDB batch written
 * with fsync).
 *
 * For each persistence mode and store, C closed-loop clients (own Ed25519 keys, funded by a MINT)
 * each sign a coin SPEND of their one unspent output (1 coin to the next client, the change back
 * to themselves), send it to all four replicas, wait until the replies satisfy the mode's
 * acceptance rule (src/client/acceptance.ts: q matching replies, f + 1 in strong mode), and send
 * the next. After a warm-up, a measured window counts accepted transactions, their latencies
 * (send to acceptance), the blocks built and the process CPU time. Figures are printed as a
 * table; nothing is asserted. Everything shares this process's cores, clients included.
 *
 *   npm run bench:inproc                      6 cases (3 modes x 2 stores), about a minute
 *   npm run bench:inproc -- --duration 20 --warmup 5 --clients 256 --modes strong --stores level
 */
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Layer, Queue, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeCoinResult, mintOp, spendOp } from "../src/app/coin.ts"
import type { Outpoint } from "../src/app/coin.ts"
import { coinApp } from "../src/app/coin.ts"
import { genesisHash, txHash, viewHash } from "../src/chain/hash.ts"
import { trustedView } from "../src/chain/reply.ts"
import { txSigningBytes } from "../src/chain/encoding.ts"
import type { Genesis, PersistenceMode, ReplicaId, Transaction, ViewRecord } from "../src/chain/types.ts"
import { acceptanceRule, ReplyCollector } from "../src/client/acceptance.ts"
import { makeConfig } from "../src/core/config.ts"
import type { ReplyOutput } from "../src/core/io.ts"
import { defaultLimits } from "../src/core/limits.ts"
import { faultsTolerated } from "../src/core/quorum.ts"
import { txKey } from "../src/core/state.ts"
import { genesisMachine } from "../src/persistence/machine.ts"
import { makeShell } from "../src/replica/shell.ts"
import type { Shell } from "../src/replica/shell.ts"
import type { BlockStoreApi } from "../src/services/blockstore-core.ts"
import { openLevelBlockStore } from "../src/services/blockstore-level.ts"
import { makeMemoryBlockStore } from "../src/services/blockstore-memory.ts"
import { clockLayer } from "../src/services/clock.ts"
import { nodeCrypto } from "../src/services/crypto.ts"
import { TraceNone } from "../src/services/trace.ts"
import type { Envelope } from "../src/services/transport.ts"
import { Transport } from "../src/services/transport.ts"
import { verifierLayer } from "../src/services/verifier.ts"

const replicas = 4
const chainId = "bench-inproc"
const storesAll = ["memory", "level"] as const
type StoreKind = (typeof storesAll)[number]
const modesAll: ReadonlyArray<PersistenceMode> = ["memory", "weak", "strong"]
/** Coins each client starts with: one is sent per transaction. */
const clientFunds = 1_000_000_000n
/** Outputs per funding MINT (the coin's limit). */
const mintOutputsMax = 256
/** A transaction not accepted within this is sent to every replica again. */
const resendMs = 3_000
const tickMs = 10

export class InprocBenchError extends Schema.TaggedError<InprocBenchError>()("InprocBenchError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export interface InprocOptions {
  readonly modes: ReadonlyArray<PersistenceMode>
  readonly stores: ReadonlyArray<StoreKind>
  readonly clients: number
  readonly durationS: number
  readonly warmupS: number
}

const usage = "usage: npm run bench:inproc -- [--modes memory,weak,strong] [--stores memory,level] [--clients 64] [--duration 6] [--warmup 2]"

/** Parses the command line; errors name the option. */
export const parseInprocOptions = (argv: ReadonlyArray<string>): InprocOptions => {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!
    const value = argv[i + 1]
    if (!["--modes", "--stores", "--clients", "--duration", "--warmup"].includes(name)) throw new InprocBenchError({ reason: `unknown option ${name}\n${usage}` })
    if (value === undefined) throw new InprocBenchError({ reason: `${name} needs a value\n${usage}` })
    if (values.has(name)) throw new InprocBenchError({ reason: `${name} given twice` })
    values.set(name, value)
  }
  const list = <A extends string>(name: string, all: ReadonlyArray<A>, fallback: ReadonlyArray<A>): ReadonlyArray<A> => {
    const raw = values.get(name)
    if (raw === undefined) return fallback
    const items = raw.split(",").map((s) => s.trim())
    for (const item of items) if (!all.includes(item as A)) throw new InprocBenchError({ reason: `${name}: ${JSON.stringify(item)} is not one of ${all.join(", ")}` })
    if (new Set(items).size !== items.length) throw new InprocBenchError({ reason: `${name}: a value repeats` })
    return items as Array<A>
  }
  const number = (name: string, fallback: number, min: number, max: number, whole: boolean): number => {
    const raw = values.get(name)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n)))
      throw new InprocBenchError({ reason: `${name}: ${JSON.stringify(raw)} is not a ${whole ? "whole " : ""}number in ${min}..${max}` })
    return n
  }
  return {
    modes: list("--modes", modesAll, modesAll),
    stores: list("--stores", storesAll, storesAll),
    clients: number("--clients", 64, 1, 4096, true),
    durationS: number("--duration", 6, 1, 3600, false),
    warmupS: number("--warmup", 2, 0, 600, false)
  }
}

/**
 * The in-process network: what is sent is delivered on the next turn of the event loop, every
 * message of a turn together, as reads from sockets are. Delivering at once would let the
 * replicas' fibers hand work to one another in microtasks without end under load, and Node's
 * timers (the replicas' ticks, the clients' resends, this benchmark's clock) would never run.
 */
class TurnNetwork {
  readonly inboxes = new Map<ReplicaId, Queue.Queue<Envelope>>()
  private pending: Array<readonly [ReplicaId, Envelope]> = []
  private scheduled = false

  static make = (ids: ReadonlyArray<ReplicaId>) =>
    Effect.gen(function* () {
      const net = new TurnNetwork()
      for (const id of ids) net.inboxes.set(id, yield* Queue.unbounded<Envelope>())
      return net
    })

  deliver(to: ReplicaId, envelope: Envelope): void {
    this.pending.push([to, envelope])
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const batch = this.pending
      this.pending = []
      for (const [id, e] of batch) {
        const inbox = this.inboxes.get(id)
        if (inbox !== undefined) Queue.unsafeOffer(inbox, e)
      }
    })
  }

  transport(self: ReplicaId): Layer.Layer<Transport> {
    const inbox = this.inboxes.get(self)!
    return Layer.succeed(Transport, {
      self,
      send: (to, payload) => Effect.sync(() => this.deliver(to, { from: self, payload })),
      receive: (max) => Effect.map(Queue.takeBetween(inbox, 1, max), Chunk.toReadonlyArray)
    })
  }
}

interface Key {
  readonly publicKey: Uint8Array
  /** Signs with this key (prepared once: rebuilding the key per signature costs more than signing). */
  readonly sign: (message: Uint8Array) => Uint8Array
}

const newKey = (): Key => {
  const secret = nodeCrypto.generateSecretKey()
  return { publicKey: nodeCrypto.publicKeyFromSecret(secret), sign: nodeCrypto.signer(secret) }
}

const sign = (key: Key, seq: bigint, op: Uint8Array): Transaction => ({
  client: key.publicKey,
  seq,
  op,
  signature: key.sign(txSigningBytes(chainId, { client: key.publicKey, seq, op }))
})

export interface CaseResult {
  readonly mode: PersistenceMode
  readonly store: StoreKind
  readonly clients: number
  readonly accepted: number
  readonly windowS: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  readonly blocks: number
  readonly cpuPerTxMicros: number
  /** Inputs the four replicas fed to `step` in the window, per accepted transaction. */
  readonly stepsPerTx: number
  readonly failed: number
}

const quantile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

/** One mode with one kind of store: start four shells, fund the clients, measure, stop. */
const runCase = (mode: PersistenceMode, store: StoreKind, options: InprocOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const limits = defaultLimits
      const viewKeys = Array.from({ length: replicas }, newKey)
      const view: ViewRecord = {
        id: 0n,
        n: replicas,
        f: faultsTolerated(replicas),
        members: viewKeys.map((k, i) => ({ replica: i, identityKey: newKey().publicKey, viewKey: k.publicKey, address: `inproc:${i}` }))
      }
      const minter = newKey()
      const clients = Array.from({ length: options.clients }, newKey)
      const genesis: Genesis = { chainId, view, persistence: mode, minters: [minter.publicKey], admission: [], limits }
      // Each replica gets its own application state, as in separate processes: versions of one
      // state share storage (src/app/versioned-map.ts), so replicas sharing one would keep
      // converting it between their versions.
      const persistenceOf = () => ({
        mode,
        genesis,
        genesisHash: genesisHash(nodeCrypto, genesis),
        viewHash: viewHash(nodeCrypto, view),
        machine: genesisMachine(coinApp, nodeCrypto, genesis)
      })
      const ids = view.members.map((m) => m.replica)
      const network = yield* TurnNetwork.make(ids)
      const dir = store === "level" ? fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-inproc-")) : undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => dir !== undefined && fs.rmSync(dir, { recursive: true, force: true })))

      // Replies reach the clients' collectors; an accepted one completes the client's wait.
      const waiting = new Map<string, { readonly collector: ReplyCollector; readonly done: Deferred.Deferred<Uint8Array> }>()
      const rule = acceptanceRule(mode, view)
      const trusted = trustedView(nodeCrypto, chainId, view)
      const onReply = (from: ReplicaId, out: ReplyOutput): void => {
        const w = waiting.get(txKey(out))
        if (w === undefined) return
        const offered = w.collector.offer(from, { _tag: "Reply", viewId: out.viewId, client: out.client, seq: out.seq, height: out.height, result: out.result })
        if (offered._tag === "Accepted") {
          waiting.delete(txKey(out))
          Deferred.unsafeDone(w.done, Exit.succeed(offered.accepted.reply.result))
        }
      }

      const shells: Array<{ readonly shell: Shell; readonly fiber: Fiber.RuntimeFiber<never> }> = []
      for (const id of ids) {
        const keys = viewKeys[id]!
        const blockStore: BlockStoreApi =
          dir === undefined ? yield* makeMemoryBlockStore({ crypto: nodeCrypto }) : yield* openLevelBlockStore(path.join(dir, `replica-${id}`), nodeCrypto)
        const config = makeConfig({ self: id, chainId, view, limits, crypto: nodeCrypto, signer: { sign: keys.sign }, persistence: persistenceOf() })
        const shell = makeShell(config, { store: blockStore, onReply: (reply) => onReply(id, reply) })
        const layers = Layer.mergeAll(
          network.transport(id),
          clockLayer(tickMs),
          TraceNone,
          verifierLayer({ chainId, view, quorum: config.quorum, limits, crypto: nodeCrypto })
        )
        shells.push({ shell, fiber: yield* Effect.fork(Effect.provide(shell.run, layers)) })
      }
      yield* Effect.addFinalizer(() => Effect.forEach(shells, (s) => Fiber.interrupt(s.fiber), { discard: true }))

      /** Sends `tx` to every replica until the mode's rule accepts a result; its result bytes. */
      const submit = (tx: Transaction) =>
        Effect.gen(function* () {
          const done = yield* Deferred.make<Uint8Array>()
          waiting.set(txKey(tx), { collector: new ReplyCollector(nodeCrypto, trusted, rule, { client: tx.client, seq: tx.seq, txHash: txHash(nodeCrypto, tx) }), done })
          for (;;) {
            for (const id of ids) network.deliver(id, { from: id, payload: { _tag: "Request", tx } })
            const result = yield* Deferred.await(done).pipe(Effect.timeout(Duration.millis(resendMs)), Effect.option)
            if (result._tag === "Some") return result.value
          }
        })

      // Funding: MINTs of at most 256 outputs, one output per client.
      const utxos: Array<Outpoint> = []
      let minterSeq = 0n
      for (let from = 0; from < clients.length; from += mintOutputsMax) {
        const batch = clients.slice(from, from + mintOutputsMax)
        const tx = sign(minter, minterSeq++, mintOp(batch.map((c) => ({ owner: c.publicKey, amount: clientFunds }))))
        const result = decodeCoinResult(yield* submit(tx))
        if (result._tag === "Left" || result.right._tag !== "Minted") return yield* new InprocBenchError({ reason: `the funding MINT failed: ${JSON.stringify(result)}` })
        const hash = txHash(nodeCrypto, tx)
        batch.forEach((_, i) => utxos.push({ txHash: hash, index: i }))
      }

      // Closed-loop clients; samples are (acceptance time, latency) in ms since the start.
      const t0 = performance.now()
      const samples: Array<readonly [number, number]> = []
      let failed = 0
      const client = (index: number) =>
        Effect.gen(function* () {
          const key = clients[index]!
          const next = clients[(index + 1) % clients.length]!
          let balance = clientFunds
          let seq = 0n
          let utxo = utxos[index]!
          for (;;) {
            const tx = sign(key, seq++, spendOp([utxo], [{ owner: next.publicKey, amount: 1n }, { owner: key.publicKey, amount: balance - 1n }]))
            const sent = performance.now()
            const result = decodeCoinResult(yield* submit(tx))
            const now = performance.now()
            if (result._tag === "Left" || result.right._tag !== "Spent") {
              failed++
              return
            }
            samples.push([now - t0, now - sent])
            balance -= 1n
            utxo = { txHash: txHash(nodeCrypto, tx), index: 1 }
          }
        })
      const fibers = yield* Effect.forEach(clients, (_, i) => Effect.fork(client(i)))
      yield* Effect.sleep(Duration.seconds(options.warmupS))
      const heightAt = () => shells[0]!.shell.state().persistence?.height ?? 0n
      const from = performance.now() - t0
      const h0 = heightAt()
      const stepsAt = () => shells.reduce((sum, s) => sum + s.shell.metrics.steps, 0)
      const steps0 = stepsAt()
      const cpu0 = process.cpuUsage()
      yield* Effect.sleep(Duration.seconds(options.durationS))
      const cpu = process.cpuUsage(cpu0)
      const to = performance.now() - t0
      const blocks = Number(heightAt() - h0)
      const steps = stepsAt() - steps0
      yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
      const window = samples.filter(([at]) => at >= from && at < to).map(([, latency]) => latency)
      window.sort((a, b) => a - b)
      const windowS = (to - from) / 1000
      const result: CaseResult = {
        mode,
        store,
        clients: options.clients,
        accepted: window.length,
        windowS,
        perSecond: window.length / windowS,
        p50Ms: quantile(window, 0.5),
        p99Ms: quantile(window, 0.99),
        meanMs: window.reduce((a, b) => a + b, 0) / Math.max(1, window.length),
        blocks,
        cpuPerTxMicros: window.length === 0 ? Number.NaN : (cpu.user + cpu.system) / window.length,
        stepsPerTx: window.length === 0 ? Number.NaN : steps / window.length,
        failed
      }
      return result
    })
  )

/**
 * CPU microseconds of one node:crypto Ed25519 verification (200-byte message, prepared key) on
 * this machine now: the unit CPU per transaction is compared with, since a busy shared machine
 * slows every operation alike. The median of five rounds.
 */
export const verifyCpuMicros = (perRound = 500): number => {
  const key = newKey()
  const message = new Uint8Array(200).fill(7)
  const signature = key.sign(message)
  const rounds: Array<number> = []
  for (let r = 0; r < 5; r++) {
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < perRound; i++) if (!nodeCrypto.verify(key.publicKey, message, signature)) throw new InprocBenchError({ reason: "a signature failed to verify" })
    const cpu = process.cpuUsage(cpu0)
    rounds.push((cpu.user + cpu.system) / perRound)
  }
  rounds.sort((a, b) => a - b)
  return rounds[2]!
}

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : "-")

export const formatTable = (rows: ReadonlyArray<CaseResult>, verifyMicros: number): string => {
  const header = ["mode", "store", "clients", "tx/s", "p50 ms", "p99 ms", "mean ms", "blocks", "tx/block", "steps/tx", "CPU us/tx", "= verifies", "failed"]
  const cells = rows.map((r) => [
    r.mode,
    r.store,
    String(r.clients),
    fixed(r.perSecond, 0),
    fixed(r.p50Ms, 1),
    fixed(r.p99Ms, 1),
    fixed(r.meanMs, 1),
    String(r.blocks),
    fixed(r.blocks === 0 ? Number.NaN : r.accepted / r.blocks, 1),
    fixed(r.stepsPerTx, 1),
    fixed(r.cpuPerTxMicros, 0),
    fixed(r.cpuPerTxMicros / verifyMicros, 1),
    String(r.failed)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: ReadonlyArray<string>) => c.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ")
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n")
}

const main = async (): Promise<void> => {
  let options: InprocOptions
  try {
    options = parseInprocOptions(process.argv.slice(2))
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exitCode = 2
    return
  }
  const cores = os.cpus().length
  const verifyMicros = verifyCpuMicros()
  console.log(
    `in-process benchmark: ${replicas} replicas, ${options.clients} closed-loop clients, ${options.warmupS} s warm-up + ${options.durationS} s measured per case; ` +
      `${cores} cores, load average ${os.loadavg()[0]!.toFixed(2)}; batches of up to ${defaultLimits.batchTxMax} transactions; ` +
      `one Ed25519 verification takes ${verifyMicros.toFixed(0)} us of CPU now`
  )
  const rows: Array<CaseResult> = []
  for (const store of options.stores)
    for (const mode of options.modes) {
      const result = await Effect.runPromise(Effect.either(runCase(mode, store, options)))
      if (result._tag === "Left") {
        console.error(`${mode} / ${store}: ${result.left.message}`)
        process.exitCode = 1
        continue
      }
      rows.push(result.right)
      console.log(`  ${mode} mode, ${store} store: ${fixed(result.right.perSecond, 0)} tx/s, p50 ${fixed(result.right.p50Ms, 1)} ms`)
    }
  console.log("")
  console.log(formatTable(rows, verifyMicros))
  console.log("")
  console.log("tx/s: transactions accepted by their clients per second of the measured window; latency: send to acceptance;")
  console.log("CPU: this process's user + system time (four replicas and all clients) per accepted transaction;")
  console.log(`"= verifies": that CPU in Ed25519 verifications (each replica verifies each transaction: 4 is the floor). Load average at the end ${os.loadavg()[0]!.toFixed(2)}.`)
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) void main()
