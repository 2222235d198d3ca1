/**
 * `npm run demo`: SmartChain end to end, on this machine.
 *
 *   1. creates a 4-replica strong-mode network in a fresh directory (a new temporary one unless
 *      --dir is given) with every port on 127.0.0.1 chosen free, and starts one `smartchain node`
 *      process per replica (src/cli/cluster.ts);
 *   2. drives a coin workload through the client library over the replicas' HTTP APIs: the
 *      genesis minter mints coins to each client key, then the clients pay each other with
 *      signed SPENDs, each client waiting for its previous payment's change; a progress bar shows
 *      the transactions committed, then the throughput and the commit latency are printed;
 *   3. SIGKILLs every replica at once, and starts them again: each comes back from its data
 *      directory (src/persistence/restart.ts);
 *   4. asks every replica for every transaction a client saw committed, with its Merkle proof
 *      and the block's certificate, and checks each against what the client accepted; then one
 *      more payment shows the chain goes on;
 *   5. stops the replicas with SIGTERM (each must exit with code 0) and verifies every replica's
 *      stored chain from genesis (src/cli/verify.ts, as `smartchain verify` does).
 *
 * Options: --transactions N (default 500), --clients N (concurrent clients, default 16),
 * --dir DIR (default: a new temporary directory), --keep (keep the temporary directory).
 * Every replica's output goes to DIR/replica-<i>/node.log. Exits 1, after stopping every
 * replica and keeping the directory, at the first thing that does not hold.
 */
import { SingleBar } from "cli-progress"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeHttpClientTransport } from "../src/api/http-client-transport.ts"
import { fetchTxProof, sameOutcome, TxProofViews } from "../src/api/tx-proof.ts"
import type { Outpoint } from "../src/app/coin.ts"
import { decodeCoinResult, mintOp, spendOp } from "../src/app/coin.ts"
import { toHex } from "../src/chain/bytes.ts"
import type { Genesis, Transaction } from "../src/chain/types.ts"
import type { Client, ClientKey, Submitted } from "../src/client/client.ts"
import { makeClient } from "../src/client/client.ts"
import { freePortRange, prepareCluster, ProcessCluster } from "../src/cli/cluster.ts"
import type { LineSink } from "../src/cli/cluster.ts"
import { replicaDir } from "../src/cli/init.ts"
import { fetchStatus } from "../src/cli/status.ts"
import { formatSummary, verifyStoredChain } from "../src/cli/verify.ts"
import { BlockStoreLevel } from "../src/services/blockstore.ts"
import { nodeCrypto } from "../src/services/crypto.ts"
import { readKeyFile } from "../src/services/keystore.ts"

const usage = `usage: npm run demo -- [--transactions N] [--clients N] [--dir DIR] [--keep]

  --transactions N   transactions to commit before the crash (default 500, at least 2 x clients)
  --clients N        concurrent clients, each with its own key (default 16, 1 to 64)
  --dir DIR          where the network and the replicas' data go: a new or empty directory
                     (default: a new temporary directory, deleted at the end unless --keep)
  --keep             keep the temporary directory`

interface Options {
  readonly transactions: number
  readonly clients: number
  readonly dir: string | undefined
  readonly keep: boolean
}

class DemoFailure extends Error {}

const parseOptions = (args: ReadonlyArray<string>): Options => {
  let transactions = 500
  let clients = 16
  let dir: string | undefined
  let keep = false
  const int = (name: string, value: string | undefined, min: number, max: number): number => {
    const n = value === undefined ? NaN : Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new DemoFailure(`${name} must be an integer from ${min} to ${max}, got ${value ?? "nothing"}\n\n${usage}`)
    return n
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--help" || a === "-h") {
      console.log(usage)
      process.exit(0)
    } else if (a === "--transactions") transactions = int(a, args[++i], 1, 1_000_000)
    else if (a === "--clients") clients = int(a, args[++i], 1, 64)
    else if (a === "--dir") {
      dir = args[++i]
      if (dir === undefined || dir === "") throw new DemoFailure(`--dir needs a directory\n\n${usage}`)
    } else if (a === "--keep") keep = true
    else throw new DemoFailure(`unknown option ${a}\n\n${usage}`)
  }
  if (transactions < 2 * clients) throw new DemoFailure(`--transactions must be at least twice --clients (${2 * clients}): each client is minted coins, then pays`)
  return { transactions, clients, dir, keep }
}

const replicas = 4
const host = "127.0.0.1"
/** How long replicas get to start (tsx compiles on the fly: several CPU seconds each). */
const readyTimeoutMs = 180_000
/** How long a restarted replica gets to catch up on one transaction's proof. */
const catchUpMs = 30_000

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const step = (n: number, text: string) => console.log(`\n[${n}/5] ${text}`)
const say = (text: string) => console.log(`      ${text}`)

const percentile = (sorted: ReadonlyArray<number>, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** A progress bar on a terminal; a line per tenth otherwise. */
const progressBar = (total: number) => {
  if (process.stdout.isTTY) {
    const bar = new SingleBar({
      format: "      [{bar}] {value}/{total} committed | {rate} tx/s | {duration_formatted}",
      stream: process.stdout,
      hideCursor: true,
      clearOnComplete: false
    })
    bar.start(total, 0, { rate: "0" })
    return { update: (done: number, rate: number) => bar.update(done, { rate: rate.toFixed(0) }), stop: () => bar.stop() }
  }
  let nextTenth = 1
  return {
    update: (done: number, rate: number) => {
      while (done * 10 >= nextTenth * total && nextTenth <= 10) {
        say(`${done}/${total} committed (${rate.toFixed(0)} tx/s)`)
        nextTenth++
      }
    },
    stop: () => {}
  }
}

/** The mean of a Prometheus histogram (`_sum` over `_count`) in a /metrics text; 0 without samples. */
const mean = (text: string, name: string, labels = ""): number => {
  const value = (suffix: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}${suffix}${labels} `))
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  const count = value("_count")
  return count > 0 ? value("_sum") / count : 0
}

const meanMs = (text: string, name: string, labels = ""): string => `${(mean(text, name, labels) * 1000).toFixed(1)} ms`

/** A transaction a client saw committed: what it sent and the answer it accepted. */
interface Committed {
  readonly tx: Transaction
  readonly height: bigint
  readonly result: Uint8Array
  readonly latencyMs: number
  readonly via: Submitted["via"]
}

/** An unspent output and its amount. */
interface Coin {
  readonly outpoint: Outpoint
  readonly amount: bigint
}

/** A client key and what it can spend next: its one unspent change output. */
interface Payer {
  readonly key: ClientKey
  readonly client: Client
  coin: Coin | undefined
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

const submitted = async (client: Client, op: Uint8Array, what: string): Promise<Committed & { readonly txHash: Uint8Array }> => {
  const started = performance.now()
  const outcome = await run(Effect.either(client.submit(op)))
  if (Either.isLeft(outcome)) throw new DemoFailure(`${what}: ${outcome.left.message}`)
  const s = outcome.right
  const result = decodeCoinResult(s.reply.result)
  if (Either.isLeft(result)) throw new DemoFailure(`${what}: undecodable coin result: ${result.left.message}`)
  if (result.right._tag === "Failed") throw new DemoFailure(`${what}: refused by the coin: ${result.right.reason}: ${result.right.text}`)
  return { tx: s.transaction, height: s.reply.height, result: s.reply.result, latencyMs: performance.now() - started, via: s.via, txHash: result.right.txHash }
}

const main = async (): Promise<void> => {
  const options = parseOptions(process.argv.slice(2))
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-demo-"))
  const temporary = options.dir === undefined
  if (!temporary && fs.existsSync(dir) && fs.readdirSync(dir).length > 0)
    throw new DemoFailure(`--dir ${dir} is not empty; give a new or empty directory`)

  console.log(`SmartChain demo: ${replicas} replicas, strong persistence, ${options.transactions} transactions from ${options.clients} clients`)
  const basePort = await freePortRange(2 * replicas, host)
  const prepared = await run(Effect.either(prepareCluster({ replicas, mode: "strong", dir, basePort, host, fresh: false })))
  if (Either.isLeft(prepared)) throw new DemoFailure(prepared.left.message)
  const genesis: Genesis = prepared.right.genesis
  say(`network ${genesis.chainId} in ${dir}`)
  say(`replica channels on ${host}:${basePort}-${basePort + replicas - 1}, HTTP APIs on ${host}:${basePort + replicas}-${basePort + 2 * replicas - 1}`)

  // Every replica's output goes to its log; restart reports are shown.
  const logs = genesis.view.members.map((_, i) => fs.openSync(path.join(replicaDir(dir, i), "node.log"), "a"))
  const restartLines: Array<string> = []
  const sink: LineSink = (replica, stream, line) => {
    fs.writeSync(logs[replica]!, `${stream === "err" ? "! " : ""}${line}\n`)
    if (line.includes("restarted from")) restartLines.push(line)
  }
  const cluster = ProcessCluster.of(dir, genesis, host, basePort, sink)
  const stopEverything = () => void cluster.killAll("SIGKILL")
  process.once("SIGINT", () => {
    stopEverything()
    process.exit(130)
  })
  process.once("SIGTERM", () => {
    stopEverything()
    process.exit(143)
  })

  let succeeded = false
  try {
    step(1, `starting ${replicas} replica processes (smartchain node)...`)
    let t0 = performance.now()
    cluster.startAll()
    if (!(await cluster.waitReady(readyTimeoutMs))) throw new DemoFailure("not every replica started; see the node.log files")
    say(`all ${replicas} answer on HTTP after ${seconds(performance.now() - t0)}; their logs: ${dir}/replica-<i>/node.log`)

    // ---- Workload ------------------------------------------------------------------------------
    step(2, `coin workload: the minter mints to ${options.clients} clients, then they pay each other with signed spends`)
    const view = genesis.view
    const urls = new Map(cluster.urls.map((u, i) => [i, u]))
    const minterFile = await run(readKeyFile(path.join(dir, "clients", "minter-0.key")))
    const committed: Array<Committed> = []
    const outcome = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const clientFor = (key: ClientKey) =>
            Effect.flatMap(makeHttpClientTransport({ urls, viewId: view.id }), (transport) =>
              makeClient({ chainId: genesis.chainId, view, mode: "strong", key, crypto: nodeCrypto, timeoutMs: 15_000, attempts: 4 }, transport)
            )
          const minter = yield* clientFor({ publicKey: minterFile.publicKey, secret: minterFile.secretKey })
          const payers: Array<Payer> = []
          for (let i = 0; i < options.clients; i++) {
            const secret = nodeCrypto.generateSecretKey()
            const key = { publicKey: nodeCrypto.publicKeyFromSecret(secret), secret }
            payers.push({ key, client: yield* clientFor(key), coin: undefined })
          }
          const total = options.transactions
          const bar = progressBar(total)
          const started = performance.now()
          const note = (c: Committed) => {
            committed.push(c)
            bar.update(committed.length, (committed.length * 1000) / (performance.now() - started))
          }
          const mintAmount = 1_000_000n
          let spendsLeft = total - payers.length
          const work = Effect.forEach(
            payers,
            (payer, i) =>
              Effect.promise(async () => {
                const minted = await submitted(minter, mintOp([{ owner: payer.key.publicKey, amount: mintAmount }]), `mint to client ${i}`)
                note(minted)
                let coin: Coin = { outpoint: { txHash: minted.txHash, index: 0 }, amount: mintAmount }
                payer.coin = coin
                // Each client pays the next one 1 coin per spend, its change (output 1) funding the next.
                const payee = payers[(i + 1) % payers.length]!.key.publicKey
                while (spendsLeft > 0) {
                  spendsLeft--
                  const op = spendOp([coin.outpoint], [{ owner: payee, amount: 1n }, { owner: payer.key.publicKey, amount: coin.amount - 1n }])
                  const spent = await submitted(payer.client, op, `spend by client ${i}`)
                  note(spent)
                  coin = { outpoint: { txHash: spent.txHash, index: 1 }, amount: coin.amount - 1n }
                  payer.coin = coin
                }
              }),
            { concurrency: "unbounded", discard: true }
          )
          const failed = yield* Effect.either(Effect.tryPromise({ try: () => Effect.runPromise(work), catch: (e) => e }))
          bar.stop()
          if (Either.isLeft(failed)) throw failed.left
          return { elapsedMs: performance.now() - started, payers }
        })
      )
    )
    const latencies = committed.map((c) => c.latencyMs).sort((a, b) => a - b)
    const byCertificate = committed.filter((c) => c.via === "certificate").length
    const heights = committed.map((c) => c.height)
    const top = heights.reduce((m, h) => (h > m ? h : m), 0n)
    say(`${committed.length} transactions committed in ${seconds(outcome.elapsedMs)}: ${((committed.length * 1000) / outcome.elapsedMs).toFixed(1)} tx/s, in blocks up to height ${top}`)
    say(
      `commit latency (submit to accepted reply): mean ${(latencies.reduce((s, x) => s + x, 0) / latencies.length).toFixed(0)} ms, ` +
        `p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`
    )
    say(`accepted by ${byCertificate} certified replies (q COMMITs, Merkle paths) and ${committed.length - byCertificate} sets of f + 1 matching replies`)
    const metrics = await fetch(`${cluster.urls[0]}/metrics`).then((r) => r.text())
    say(
      `replica 0's metrics: ordering (first PROPOSE to decision) ${meanMs(metrics, "smartchain_phase_seconds", '{phase="total"}')}, ` +
        `COMMIT collection ${meanMs(metrics, "smartchain_commit_collection_seconds")}, disk sync ${meanMs(metrics, "smartchain_disk_sync_seconds")} (means); ` +
        `${mean(metrics, "smartchain_batch_size").toFixed(1)} transactions per block, ${mean(metrics, "smartchain_blocks_per_sync").toFixed(1)} blocks per sync`
    )

    // ---- Crash and restart ------------------------------------------------------------------
    const before = await Promise.all(cluster.urls.map((u) => run(Effect.either(fetchStatus(u)))))
    step(3, "SIGKILL to every replica at once, then starting them again from their data directories")
    say(`before: ${before.map((s, i) => (Either.isRight(s) ? `replica ${i} height ${s.right.height}` : `replica ${i} not answering`)).join(", ")}`)
    const killed = await cluster.killAll("SIGKILL")
    say(`killed: ${killed.map((e, i) => `replica ${i} ${e?.signal ?? `code ${e?.code}`}`).join(", ")}`)
    t0 = performance.now()
    cluster.startAll()
    if (!(await cluster.waitReady(readyTimeoutMs))) throw new DemoFailure("not every replica restarted; see the node.log files")
    say(`all ${replicas} answer again after ${seconds(performance.now() - t0)}`)
    for (const line of restartLines.sort()) say(line)

    // ---- Nothing committed is lost ----------------------------------------------------------
    step(4, `asking every replica for each of the ${committed.length} committed transactions, with its Merkle proof and certificate`)
    const trusted = Either.getOrThrow(TxProofViews.trusting(nodeCrypto, genesis.chainId, view))
    t0 = performance.now()
    for (const [i, url] of cluster.urls.entries()) {
      const checks = await run(
        Effect.forEach(committed, (c) => Effect.either(fetchTxProof(nodeCrypto, trusted, "strong", url, c.tx, catchUpMs)), { concurrency: 16 })
      )
      const bad = checks.flatMap((r, k) => (Either.isLeft(r) ? [`${toHex(committed[k]!.tx.client).slice(0, 8)}/${committed[k]!.tx.seq}: ${r.left.reason}: ${r.left.detail}`] : []))
      const differ = checks.flatMap((r, k) => (Either.isRight(r) && !sameOutcome(r.right, committed[k]!) ? [committed[k]!] : []))
      if (bad.length > 0) throw new DemoFailure(`replica ${i}: ${bad.length} committed transactions missing or unproven, e.g. ${bad[0]}`)
      if (differ.length > 0) throw new DemoFailure(`replica ${i}: ${differ.length} transactions with another height or result than the client accepted`)
      say(`replica ${i}: all ${committed.length} present, same height and result as accepted, proofs and certificates check`)
    }
    say(`checked ${committed.length * replicas} proofs in ${seconds(performance.now() - t0)}`)
    const payer = outcome.payers[0]!
    const coin = payer.coin!
    const after = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const transport = yield* makeHttpClientTransport({ urls, viewId: view.id })
          const client = yield* makeClient({ chainId: genesis.chainId, view, mode: "strong", key: payer.key, crypto: nodeCrypto, timeoutMs: 15_000, attempts: 4 }, transport)
          return yield* Effect.promise(() =>
            submitted(client, spendOp([coin.outpoint], [{ owner: outcome.payers[1 % outcome.payers.length]!.key.publicKey, amount: 1n }, { owner: payer.key.publicKey, amount: coin.amount - 1n }]), "a spend after the restart")
          )
        })
      )
    )
    say(`a spend after the restart, of the change the crash left: committed at height ${after.height} in ${after.latencyMs.toFixed(0)} ms`)

    // A client accepts once q replicas certified the block; the last replica may still be
    // fetching it. The clean stop comes once every replica has made that block durable.
    const settledBy = performance.now() + catchUpMs
    for (;;) {
      const heights = await Promise.all(cluster.urls.map((u) => run(Effect.either(fetchStatus(u)))))
      const behind = heights.flatMap((h, i) => (Either.isRight(h) && BigInt(h.right.durableHeight) >= after.height ? [] : [i]))
      if (behind.length === 0) break
      if (performance.now() > settledBy) throw new DemoFailure(`replicas ${behind.join(", ")} did not make height ${after.height} durable within ${seconds(catchUpMs)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    say(`every replica has height ${after.height} on disk`)

    // ---- Clean stop and offline verification ------------------------------------------------
    step(5, "stopping every replica (SIGTERM), then verifying each replica's stored chain from genesis")
    const stopped = await cluster.stopAll()
    const unclean = stopped.flatMap((e, i) => (e === undefined || e.code !== 0 ? [`replica ${i}: ${e?.signal ?? `code ${e?.code}`}`] : []))
    if (unclean.length > 0) throw new DemoFailure(`not every replica stopped cleanly: ${unclean.join(", ")}`)
    say(`every replica exited with code 0`)
    for (let i = 0; i < replicas; i++) {
      const blocks = path.join(replicaDir(dir, i), "blocks")
      const summary = await run(Effect.either(verifyStoredChain(genesis).pipe(Effect.provide(BlockStoreLevel(blocks, nodeCrypto, { readOnly: true })))))
      if (Either.isLeft(summary)) throw new DemoFailure(`replica ${i}'s chain in ${blocks} does not verify: ${summary.left.message}`)
      if (summary.right.headHeight < after.height) throw new DemoFailure(`replica ${i}'s chain ends at ${summary.right.headHeight}, below ${after.height}`)
      say(`replica ${i}: ${formatSummary(summary.right).split("\n")[0]}${summary.right.headCertified ? " (head certified)" : ""}`)
    }
    say(`the same check from the command line: npx smartchain verify ${path.join(replicaDir(dir, 0), "blocks")} --genesis ${path.join(dir, "genesis.json")}`)
    console.log("\ndemo complete: nothing a client saw committed was lost, and every replica's chain verifies")
    succeeded = true
  } finally {
    await cluster.dispose()
    for (const fd of logs) fs.closeSync(fd)
    // A failed run keeps its directory: the replicas' logs say what happened.
    if (temporary && !options.keep && succeeded) fs.rmSync(dir, { recursive: true, force: true })
    else console.log(`data and replica logs kept in ${dir}`)
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`)
    if (!(e instanceof DemoFailure) && e instanceof Error && e.stack !== undefined) console.error(e.stack)
    process.exit(1)
  }
)
