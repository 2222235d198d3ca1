// Establishes: a real four-process strong-mode cluster on loopback (`smartchain node` processes,
// TCP replica channels, HTTP APIs, classic-level stores) commits transactions submitted through
// the client library; when the leader is killed with SIGKILL the others change leader and keep
// committing; when every replica is killed at once and restarted from its data directory, every
// transaction a client saw committed is still on every replica, at the height and with the result
// the client accepted, with Merkle proofs and a certificate of q COMMITs that check; the restarted
// cluster commits more; every replica stops cleanly on SIGTERM (exit 0); and every replica's
// stored chain verifies from genesis with its head certified.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { makeHttpClientTransport } from "../../src/api/http-client-transport.ts"
import { fetchTxProof, sameOutcome, TxProofViews } from "../../src/api/tx-proof.ts"
import { decodeCoinResult, mintOp } from "../../src/app/coin.ts"
import type { Genesis } from "../../src/chain/types.ts"
import type { Submitted } from "../../src/client/client.ts"
import { makeClient } from "../../src/client/client.ts"
import { freePortRange, prepareCluster, ProcessCluster } from "../../src/cli/cluster.ts"
import { replicaDir } from "../../src/cli/init.ts"
import { fetchStatus } from "../../src/cli/status.ts"
import { verifyStoredChain } from "../../src/cli/verify.ts"
import { BlockStoreLevel } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { readKeyFile } from "../../src/services/keystore.ts"

const host = "127.0.0.1"
/** Replica processes start through tsx: several CPU seconds each, on a machine that may be busy. */
const readyTimeoutMs = 150_000

const statusOf = (url: string) => Effect.runPromise(Effect.either(fetchStatus(url)))

/** Polls until `condition` holds; fails naming `what` after `timeoutMs`. */
const eventually = async (condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe("a four-process strong-mode cluster", () => {
  it("survives a killed leader and a crash of every replica without losing a committed transaction", { timeout: 400_000 }, async () => {
    const started = performance.now()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-e2e-"))
    const basePort = await freePortRange(8, host)
    const genesis: Genesis = (await Effect.runPromise(prepareCluster({ replicas: 4, mode: "strong", dir, basePort, host, fresh: false }))).genesis
    const lines: Array<Array<string>> = genesis.view.members.map(() => [])
    const cluster = ProcessCluster.of(dir, genesis, host, basePort, (replica, stream, line) => {
      lines[replica]!.push(`${stream === "err" ? "! " : ""}${line}`)
    })
    const logsOf = () => lines.map((l, i) => `replica ${i}:\n  ${l.slice(-15).join("\n  ")}`).join("\n")
    const minter = await Effect.runPromise(readKeyFile(path.join(dir, "clients", "minter-0.key")))
    const urls = new Map(cluster.urls.map((u, i) => [i, u]))
    const view = Either.getOrThrow(TxProofViews.trusting(nodeCrypto, genesis.chainId, genesis.view))
    const committed: Array<Submitted> = []
    const phases: Array<string> = []
    let phaseStart = performance.now()
    const phase = (name: string) => {
      const now = performance.now()
      phases.push(`${name} ${((now - phaseStart) / 1000).toFixed(1)} s`)
      phaseStart = now
    }

    /** Mints `count` coins through the client library (strong mode: f + 1 matching or one certified reply). */
    const mint = (count: number, firstAmount: number) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const transport = yield* makeHttpClientTransport({ urls, viewId: genesis.view.id })
            const client = yield* makeClient(
              { chainId: genesis.chainId, view: genesis.view, mode: "strong", key: { publicKey: minter.publicKey, secret: minter.secretKey }, crypto: nodeCrypto, timeoutMs: 10_000, attempts: 8 },
              transport
            )
            return yield* Effect.forEach(
              Array.from({ length: count }, (_, i) => BigInt(firstAmount + i)),
              (amount) => client.submit(mintOp([{ owner: minter.publicKey, amount }])),
              { concurrency: 4 }
            )
          })
        )
      ).then((accepted) => {
        for (const a of accepted) {
          const result = decodeCoinResult(a.reply.result)
          expect(Either.isRight(result) && result.right._tag).toBe("Minted")
          committed.push(a)
        }
        return accepted
      })

    try {
      cluster.startAll()
      expect(await cluster.waitReady(readyTimeoutMs), logsOf()).toBe(true)
      await eventually(
        async () => (await Promise.all(cluster.urls.map(statusOf))).every((s) => Either.isRight(s) && s.right.connectedPeers.length === 3),
        "the full mesh"
      )
      phase("start")

      // Normal case.
      const first = await mint(12, 100)
      expect(first.some((a) => a.via === "certificate")).toBe(true)
      const before = await statusOf(cluster.urls[0]!)
      expect(Either.isRight(before)).toBe(true)
      const leader = Either.isRight(before) ? before.right.leader : 0
      phase("12 transactions")

      // The leader crashes: the others change leader and go on.
      const exit = await cluster.kill(leader, "SIGKILL")
      expect(exit?.signal).toBe("SIGKILL")
      await mint(8, 200)
      const survivors = cluster.urls.filter((_, i) => i !== leader)
      const after = await Promise.all(survivors.map(statusOf))
      for (const s of after) {
        expect(Either.isRight(s)).toBe(true)
        if (Either.isRight(s)) {
          expect(BigInt(s.right.regency)).toBeGreaterThanOrEqual(1n)
          expect(s.right.leader).not.toBe(leader)
        }
      }
      const metrics = await (await fetch(`${survivors[0]}/metrics`)).text()
      expect(metrics).toMatch(/^smartchain_leader_changes_total [1-9]/m)
      phase("leader killed, 8 transactions")

      // Every replica crashes at once, then comes back from its data directory.
      await cluster.killAll("SIGKILL")
      cluster.startAll()
      expect(await cluster.waitReady(readyTimeoutMs), logsOf()).toBe(true)
      expect(lines.filter((l) => l.some((line) => line.includes("restarted from"))).length, logsOf()).toBe(4)
      phase("all killed, restarted")

      // Nothing committed is lost: each transaction, on every replica, with proofs that check.
      for (const url of cluster.urls) {
        const proofs = await Effect.runPromise(
          Effect.forEach(committed, (a) => Effect.either(fetchTxProof(nodeCrypto, view, "strong", url, a.transaction, 30_000)), { concurrency: 8 })
        )
        for (const [k, p] of proofs.entries()) {
          expect(Either.isRight(p) ? "ok" : p.left.message).toBe("ok")
          if (Either.isRight(p)) {
            expect(sameOutcome(p.right, committed[k]!.reply)).toBe(true)
            expect(p.right.certified).toBe(true)
          }
        }
      }
      phase("proofs checked")
      // And the cluster goes on.
      const later = await mint(3, 300)
      expect(later.length).toBe(3)
      // A client accepts once q replicas certified a block; the last replica may still be fetching
      // it. The clean stop below comes once every replica has made the newest committed block durable.
      const newest = committed.reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
      await eventually(
        async () => (await Promise.all(cluster.urls.map(statusOf))).every((s) => Either.isRight(s) && BigInt(s.right.durableHeight) >= newest),
        `every replica durable at height ${newest}`
      )

      const stopped = await cluster.stopAll()
      expect(stopped.map((e) => e?.code), logsOf()).toEqual([0, 0, 0, 0])
      phase("3 more transactions, stop")
    } finally {
      await cluster.dispose()
    }

    // Every replica's store holds a chain that verifies from genesis, with every committed transaction.
    const highest = committed.reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
    for (let i = 0; i < 4; i++) {
      const summary = await Effect.runPromise(
        verifyStoredChain(genesis).pipe(Effect.provide(BlockStoreLevel(path.join(replicaDir(dir, i), "blocks"), nodeCrypto, { readOnly: true })))
      )
      expect(summary.headHeight).toBeGreaterThanOrEqual(highest)
      expect(summary.transactions).toBeGreaterThanOrEqual(committed.length)
      expect(summary.headCertified).toBe(true)
    }
    await fs.rm(dir, { recursive: true, force: true })
    phase("chains verified")
    console.log(`end-to-end cluster test: ${committed.length} transactions, ${((performance.now() - started) / 1000).toFixed(1)} s (${phases.join(", ")})`)
  })
})
