// Establishes: four strong-mode replica nodes (in this process, over TCP and HTTP, blocks in
// classic-level stores) stopped and started again on their data directories come back from their
// stores: each replays its blocks to the same height, the API still answers for the transactions
// of the earlier run with their certificates, and new transactions are committed above the old
// head. A replica whose head block was damaged on disk cuts it at startup, fetches it back from its
// peers, and ends with a chain that verifies from genesis, as every other replica's does.
import { describe, expect, it } from "@effect/vitest"
import { ClassicLevel } from "classic-level"
import { Effect } from "effect"
import * as path from "node:path"
import { makeHttpClientTransport } from "../../src/api/http-client-transport.ts"
import { mintOp } from "../../src/app/coin.ts"
import { toHex } from "../../src/chain/bytes.ts"
import type { Submitted } from "../../src/client/client.ts"
import { makeClient } from "../../src/client/client.ts"
import { replicaDir } from "../../src/cli/init.ts"
import { verifyStoredChain } from "../../src/cli/verify.ts"
import { BlockStoreLevel, recordKey } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Cluster, TestNetwork } from "./support.ts"
import { get, makeNetwork, startCluster, waitUntil } from "./support.ts"

const mint = (network: TestNetwork, cluster: Cluster, count: number): Promise<ReadonlyArray<Submitted>> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const transport = yield* makeHttpClientTransport({ urls: new Map(cluster.nodes.map((n, i) => [i, n.httpUrl])), viewId: 0n, longPollMs: 5_000 })
        const client = yield* makeClient(
          {
            chainId: network.genesis.chainId,
            view: network.genesis.view,
            mode: "strong",
            key: { publicKey: network.minter.publicKey, secret: network.minter.secretKey },
            crypto: nodeCrypto,
            timeoutMs: 10_000
          },
          transport
        )
        return yield* Effect.forEach(Array.from({ length: count }, (_, i) => BigInt(i + 1)), (amount) => client.submit(mintOp([{ owner: network.minter.publicKey, amount }])), {
          concurrency: 3
        })
      })
    )
  )

const blocksDir = (network: TestNetwork, i: number) => path.join(replicaDir(network.dir, i), "blocks")

describe("replica nodes restarted on their data directories", () => {
  it("replay their blocks, keep answering for committed transactions, refetch a damaged head, and go on", async () => {
    const network = await makeNetwork(4, "strong")
    const first = await startCluster(network)
    let accepted: ReadonlyArray<Submitted>
    let head = 0n
    try {
      await waitUntil(() => first.nodes.every((n) => n.transport.manager.connectedPeers().length === 3), "the full mesh")
      accepted = await mint(network, first, 10)
      head = accepted.reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
      await waitUntil(() => first.nodes.every((n) => n.chain.certifiedHeight() >= head), "every replica to certify the committed blocks")
      head = first.nodes.reduce((m, n) => (n.chain.durableHeight() > m ? n.chain.durableHeight() : m), 0n)
      await waitUntil(() => first.nodes.every((n) => n.chain.durableHeight() === head), "every replica to sync the same blocks")
      // Strong-mode metrics: COMMIT collection is timed, syncs are counted with their blocks.
      const metrics = await first.nodes[1]!.metrics.text()
      expect(metrics).toMatch(/^smartchain_commit_collection_seconds_count [1-9]/m)
      expect(metrics).toMatch(/^smartchain_blocks_per_sync_sum [1-9]/m)
      expect(metrics).toMatch(new RegExp(`^smartchain_durable_height ${head}$`, "m"))
    } finally {
      await first.stop()
    }
    expect(head).toBeGreaterThanOrEqual(1n)

    // Damage replica 2's head block on disk: one byte of its stored record.
    const db = new ClassicLevel<Uint8Array, Uint8Array>(blocksDir(network, 2), { keyEncoding: "view", valueEncoding: "view" })
    await db.open()
    const key = recordKey("block", head)
    const value = await db.get(key)
    expect(value).toBeDefined()
    const damaged = Uint8Array.from(value!)
    damaged[Math.floor(damaged.length / 2)]! ^= 0x40
    await db.put(key, damaged)
    await db.close()

    const second = await startCluster(network)
    try {
      for (const [i, n] of second.nodes.entries()) {
        expect(n.restarted).toBeDefined()
        if (i === 2) {
          expect(n.restarted?.cutFrom).toBe(head)
          expect(n.restarted?.blocks).toBe(Number(head) - 1)
        } else {
          expect(n.restarted?.cutFrom).toBeUndefined()
          expect(n.restarted?.blocks).toBe(Number(head))
          expect(n.restarted?.certifiedHeight).toBe(head)
        }
      }
      await waitUntil(() => second.nodes.every((n) => n.transport.manager.connectedPeers().length === 3), "the full mesh again")
      // Replica 2 asks its peers for what it lacks as soon as they connect, and gets its head back.
      await waitUntil(() => second.nodes[2]!.chain.durableHeight() >= head, "replica 2 to fetch its damaged head again", 30_000)
      await waitUntil(() => second.nodes[2]!.chain.certifiedHeight() >= head, "replica 2 to certify its head again", 30_000)
      // The cluster goes on above the old head.
      const later = await mint(network, second, 3)
      for (const a of later) expect(a.reply.height).toBeGreaterThan(head)
      const top = later.reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
      await waitUntil(() => second.nodes.every((n) => n.chain.certifiedHeight() >= top), "every replica to certify the new blocks", 30_000)
      // Every replica answers for every transaction of the earlier run, as the client accepted it, certified.
      for (const n of second.nodes)
        for (const a of accepted) {
          const answer = await get(`${n.httpUrl}/tx/${toHex(a.transaction.client)}/${a.transaction.seq}?waitMs=20000`)
          expect(answer.status).toBe(200)
          expect(answer.json["height"]).toBe(a.reply.height.toString())
          expect(answer.json["result"]).toBe(toHex(a.reply.result))
          expect(answer.json["certificate"]).not.toBeNull()
        }
    } finally {
      await second.stop()
    }

    for (let i = 0; i < 4; i++) {
      const summary = await Effect.runPromise(verifyStoredChain(network.genesis).pipe(Effect.provide(BlockStoreLevel(blocksDir(network, i), nodeCrypto, { readOnly: true }))))
      expect(summary.transactions).toBe(13)
      expect(summary.headCertified).toBe(true)
    }
  }, 120_000)
})
