// Establishes: a strong-mode replica node (in this process, over TCP and HTTP, blocks in a
// classic-level store) whose data directory is wiped while the other three go on past several
// checkpoints comes back by snapshot-based state transfer: at startup it asks every member for its
// status, takes the snapshot of the highest checkpoint f + 1 of them claim from one member (its
// hash checked against the checkpoint header), fetches and verifies the blocks around it, stores
// them and restarts from the snapshot instead of executing every block. The metrics report the
// session, the members report the snapshot they served, the replica catches up with the cluster and
// takes part in new blocks, and its stored chain verifies from genesis with certificates.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { makeHttpClientTransport } from "../../src/api/http-client-transport.ts"
import { mintOp } from "../../src/app/coin.ts"
import { decodeGenesisJsonText, encodeGenesisJson } from "../../src/chain/genesis-json.ts"
import type { Genesis } from "../../src/chain/types.ts"
import type { Submitted } from "../../src/client/client.ts"
import { makeClient } from "../../src/client/client.ts"
import { replicaDir } from "../../src/cli/init.ts"
import { verifyStoredChain } from "../../src/cli/verify.ts"
import { loadNodeConfig } from "../../src/node/config.ts"
import type { RunningNode } from "../../src/node/node.ts"
import { startNode } from "../../src/node/node.ts"
import { BlockStoreLevel } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { TestNetwork } from "./support.ts"
import { makeNetwork, quickNetLimits, waitUntil } from "./support.ts"

/** Blocks between checkpoints in this network. */
const interval = 4

interface Running {
  readonly node: RunningNode
  readonly scope: Scope.CloseableScope
}

const start = async (file: string): Promise<Running> => {
  const scope = await Effect.runPromise(Scope.make())
  const node = await Effect.runPromise(
    Scope.extend(
      Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} })),
      scope
    )
  )
  return { node, scope }
}

const stop = (r: Running): Promise<void> => Effect.runPromise(Scope.close(r.scope, Exit.void))

/** Mints `count` coins one after another through the nodes given, as a strong-mode client. */
const mint = (network: TestNetwork, nodes: ReadonlyArray<RunningNode>, from: number, count: number): Promise<ReadonlyArray<Submitted>> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const transport = yield* makeHttpClientTransport({ urls: new Map(nodes.map((n) => [n.replica, n.httpUrl])), viewId: 0n, longPollMs: 5_000 })
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
        return yield* Effect.forEach(Array.from({ length: count }, (_, i) => BigInt(from + i)), (amount) =>
          client.submit(mintOp([{ owner: network.minter.publicKey, amount }]))
        )
      })
    )
  )

const metric = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

/** A 4-replica strong-mode network whose genesis takes a checkpoint every `interval` blocks. */
const network4 = async (): Promise<TestNetwork> => {
  const network = await makeNetwork(4, "strong")
  const file = path.join(network.dir, "genesis.json")
  const parsed = decodeGenesisJsonText(await fs.readFile(file, "utf8"))
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  const genesis: Genesis = { ...parsed.right, limits: { ...parsed.right.limits, checkpointInterval: interval } }
  await fs.writeFile(file, JSON.stringify(encodeGenesisJson(genesis), null, 2) + "\n")
  return { ...network, genesis }
}

describe("a replica node whose data directory was wiped", () => {
  it("recovers through a checkpoint snapshot from its peers, catches up and verifies", async () => {
    const network = await network4()
    const wiped = 3
    const nodes: Array<Running | undefined> = []
    try {
      for (const file of network.configs) nodes.push(await start(file))
      const all = () => nodes.flatMap((r) => (r === undefined ? [] : [r.node]))
      await waitUntil(() => all().every((n) => n.transport.manager.connectedPeers().length === 3), "the full mesh")
      // A fresh network has no checkpoint: the startup session finds nothing to install.
      for (const n of all()) expect((await Effect.runPromise(n.running))?._tag).toBe("Nothing")
      const early = await mint(network, all(), 1, 3)

      // Replica 3 stops and loses its disk; the others go on past several checkpoints.
      await stop(nodes[wiped]!)
      nodes[wiped] = undefined
      await fs.rm(path.join(replicaDir(network.dir, wiped), "blocks"), { recursive: true, force: true })
      const later = await mint(network, all(), 4, 10)
      const head = [...early, ...later].reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
      expect(head).toBeGreaterThanOrEqual(BigInt(2 * interval + 1))
      await waitUntil(() => all().every((n) => n.chain.durableHeight() >= head), "the others to sync every block")

      // It starts on the empty directory and recovers by state transfer.
      const back = await start(network.configs[wiped]!)
      nodes[wiped] = back
      const outcome = await Effect.runPromise(back.node.running)
      expect(outcome?._tag).toBe("Installed")
      const status = back.node.transfer.status()
      expect(status.phase).toBe("Installed")
      expect(status.snapshotHeight).toBeGreaterThanOrEqual(BigInt(interval))
      expect(status.snapshotHeight % BigInt(interval)).toBe(0n)
      expect(status.snapshotFrom).toBeDefined()
      expect(status.snapshotFrom).not.toBe(wiped)
      expect(status.targetHeight).toBeGreaterThanOrEqual(status.snapshotHeight)
      expect(status.blocksStored).toBe(Number(status.targetHeight))
      // The replica came back from what it stored: the state from the snapshot, not from genesis.
      expect(back.node.restarted?.checkpoint).toBe(status.snapshotHeight)
      expect(back.node.restarted?.blocks).toBe(Number(status.targetHeight))
      expect(Object.values(back.node.transfer.rejected).reduce((a, b) => a + b, 0)).toBe(0)

      const text = await back.node.metrics.text()
      expect(text).toMatch(/^smartchain_state_transfer_sessions_total\{outcome="Installed"\} 1$/m)
      expect(metric(text, "smartchain_state_transfer_snapshot_height")).toBe(Number(status.snapshotHeight))
      expect(metric(text, "smartchain_state_transfer_active")).toBe(0)
      // The member it took the snapshot from served it.
      const server = nodes[status.snapshotFrom!]!.node
      expect(server.transfer.served.SnapshotAnswer).toBeGreaterThanOrEqual(1)
      expect(await server.metrics.text()).toMatch(/^smartchain_state_transfer_served_total\{kind="SnapshotAnswer"\} [1-9]/m)

      // It catches up with the cluster and takes part in new blocks.
      await waitUntil(() => back.node.chain.certifiedHeight() >= head, "the recovered replica to reach the cluster's head", 30_000)
      const after = await mint(network, all(), 14, 2)
      const top = after.reduce((m, a) => (a.reply.height > m ? a.reply.height : m), 0n)
      await waitUntil(() => all().every((n) => n.chain.certifiedHeight() >= top), "every replica to certify the new blocks", 30_000)
      expect(back.node.chain.height()).toBe(all()[0]!.chain.height())
    } finally {
      for (const r of nodes) if (r !== undefined) await stop(r)
    }
    const summary = await Effect.runPromise(
      verifyStoredChain(network.genesis).pipe(Effect.provide(BlockStoreLevel(path.join(replicaDir(network.dir, wiped), "blocks"), nodeCrypto, { readOnly: true })))
    )
    expect(summary.transactions).toBe(15)
    expect(summary.headCertified).toBe(true)
  }, 60_000)
})
