// Establishes: four replica nodes (TCP transport, shell with the core's durable commit pipeline,
// HTTP API) on loopback order transactions submitted over HTTP: every replica reports each
// transaction, once its reply is released, at the same height with the same result and the same
// block header, the Merkle paths it serves verify against the header roots,
// the weak-mode block stores hold a chain that verifies from genesis, /status and /metrics show
// the progress (a stranger's garbage on a replica port is refused and counted while ordering goes
// on), replica 0 writes its spec trace file in order, the client library over the HTTP client
// transport gets its submissions accepted by q matching replies, and the nodes shut down cleanly
// when their scope closes.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeCoinResult, mintOp } from "../../src/app/coin.ts"
import { makeHttpClientTransport } from "../../src/api/http-client-transport.ts"
import { fromHex, toHex } from "../../src/chain/bytes.ts"
import { makeClient } from "../../src/client/client.ts"
import { verifyMerkleProof } from "../../src/chain/merkle.ts"
import { resultHash } from "../../src/chain/hash.ts"
import { verifyStoredChain } from "../../src/cli/verify.ts"
import { replicaDir } from "../../src/cli/init.ts"
import { BlockStoreLevel } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { sendGarbage } from "../net/support.ts"
import { get, makeNetwork, mintTx, post, startCluster, txBody, waitUntil } from "./support.ts"

describe("a four-replica cluster over TCP and HTTP", () => {
  it("orders transactions submitted over HTTP identically on every replica, with proofs, a verifiable chain and metrics", async () => {
    const network = await makeNetwork(4, "weak", 1_000, true)
    const cluster = await startCluster(network)
    try {
      const urls = cluster.nodes.map((n) => n.httpUrl)
      await waitUntil(() => cluster.nodes.every((n) => n.transport.manager.connectedPeers().length === 3), "the full mesh")
      // A stranger sends garbage to replica 1's replica port: that connection is closed and counted.
      const p2pPort = Number(cluster.nodes[1]!.p2pAddress.split(":")[1])
      await sendGarbage(p2pPort, new Uint8Array([0, 0, 0, 3, 1, 2, 3]))
      const txs = Array.from({ length: 12 }, (_, i) => mintTx(network, BigInt(i + 1), BigInt(100 + i)))
      // A client sends each transaction to every member.
      for (const tx of txs) {
        const answers = await Promise.all(urls.map((u) => post(`${u}/tx`, JSON.stringify(txBody(tx)))))
        for (const a of answers) expect([202, 200]).toContain(a.status)
      }
      const client = txBody(txs[0]!).client
      await waitUntil(
        async () => (await Promise.all(urls.flatMap((u) => txs.map((t) => get(`${u}/tx/${client}/${t.seq}`))))).every((a) => a.status === 200),
        "every replica to report every transaction"
      )
      for (const tx of txs) {
        const answers = await Promise.all(urls.map((u) => get(`${u}/tx/${client}/${tx.seq}`)))
        const first = answers[0]!.json
        for (const a of answers) {
          expect(a.json["height"]).toBe(first["height"])
          expect(a.json["result"]).toBe(first["result"])
          // Every replica built the same block: the same header, so the same header hash.
          expect(a.json["header"]).toEqual(first["header"])
          expect(a.json["headerHash"]).toBe(first["headerHash"])
        }
        const result = fromHex(first["result"] as string)!
        const decoded = decodeCoinResult(result)
        expect(Either.isRight(decoded) && decoded.right._tag).toBe("Minted")
        const header = first["header"] as Record<string, string>
        const index = first["index"] as number
        const leafCount = first["leafCount"] as number
        const txPath = (first["txPath"] as Array<string>).map((h) => fromHex(h)!)
        const resultPath = (first["resultPath"] as Array<string>).map((h) => fromHex(h)!)
        expect(verifyMerkleProof(nodeCrypto, fromHex(header["txRoot"]!)!, fromHex(first["txHash"] as string)!, index, leafCount, txPath)).toBe(true)
        expect(verifyMerkleProof(nodeCrypto, fromHex(header["resultsRoot"]!)!, resultHash(nodeCrypto, result), index, leafCount, resultPath)).toBe(true)
        // A path checked against the other root fails: the check can fail.
        expect(verifyMerkleProof(nodeCrypto, fromHex(header["resultsRoot"]!)!, fromHex(first["txHash"] as string)!, index, leafCount, txPath)).toBe(false)
      }
      // Every replica has the same blocks.
      const height = Number((await get(`${urls[0]}/status`)).json["height"])
      expect(height).toBeGreaterThanOrEqual(1)
      for (let h = 1; h <= height; h++) {
        const blocks = await Promise.all(urls.map((u) => get(`${u}/blocks/${h}`)))
        for (const b of blocks) expect(b.json["transactions"]).toEqual(blocks[0]!.json["transactions"])
      }
      const statuses = await Promise.all(urls.map((u) => get(`${u}/status`)))
      for (const [i, s] of statuses.entries()) {
        expect(s.json["replica"]).toBe(i)
        expect(s.json["mode"]).toBe("weak")
        expect(s.json["leader"]).toBe(0)
        expect(s.json["connectedPeers"]).toHaveLength(3)
      }
      await waitUntil(() => cluster.nodes.every((n) => n.chain.durableHeight() >= BigInt(height)), "the blocks to be synced")
      const metrics = (await get(`${urls[1]}/metrics`)).text
      expect(metrics).toMatch(new RegExp(`^smartchain_height ${height}$`, "m"))
      expect(metrics).toMatch(/^smartchain_decided_transactions_total 12$/m)
      expect(metrics).toMatch(/^smartchain_phase_seconds_count\{phase="total"\} [1-9]/m)
      expect(metrics).toMatch(/^smartchain_disk_sync_seconds_count [1-9]/m)
      expect(metrics).toMatch(/^smartchain_connected_peers 3$/m)
      expect(metrics).toMatch(/^smartchain_rejected_total\{source="net",reason="Malformed"\} 1$/m)
      const view = (await get(`${urls[2]}/view`)).json
      expect(view["n"]).toBe(4)
      expect(view["quorum"]).toBe(3)

      // The client library over the HTTP transport: each submission is accepted by q matching replies.
      const accepted = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const transport = yield* makeHttpClientTransport({ urls: new Map(urls.map((u, i) => [i, u])), viewId: 0n, longPollMs: 5_000 })
            const client = yield* makeClient(
              { chainId: network.genesis.chainId, view: network.genesis.view, mode: "weak", key: { publicKey: network.minter.publicKey, secret: network.minter.secretKey }, crypto: nodeCrypto, timeoutMs: 10_000, firstSeq: 1000n },
              transport
            )
            const out = []
            for (let i = 0; i < 3; i++) out.push(yield* client.submit(mintOp([{ owner: network.minter.publicKey, amount: 7n }])))
            return out
          })
        )
      )
      for (const a of accepted) {
        expect(a.via).toBe("matching")
        expect(a.voters.length).toBeGreaterThanOrEqual(3)
        const seen = await get(`${urls[0]}/tx/${txBody(a.transaction).client}/${a.transaction.seq}`)
        expect(seen.json["height"]).toBe(a.reply.height.toString())
        expect(seen.json["result"]).toBe(toHex(a.reply.result))
      }
    } finally {
      await cluster.stop()
    }
    // Replica 0 wrote its spec trace: one event per line, in order, ordering actions included.
    const trace = (await fs.readFile(path.join(replicaDir(network.dir, 0), "trace.ndjson"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { seq: number; action: string; replica: number })
    expect(trace.map((e) => e.seq)).toEqual(trace.map((_, i) => i))
    for (const action of ["Propose", "Write", "Accept", "Decide"]) expect(trace.some((e) => e.action === action && e.replica === 0)).toBe(true)
    // After a clean shutdown each replica's store holds a chain that verifies from genesis.
    for (let i = 0; i < 4; i++) {
      const summary = await Effect.runPromise(
        verifyStoredChain(network.genesis).pipe(Effect.provide(BlockStoreLevel(path.join(replicaDir(network.dir, i), "blocks"), nodeCrypto, { readOnly: true })))
      )
      expect(summary.transactions).toBe(15)
    }
  })
})
