/**
 * Helpers of the node tests: a network created by `initNetwork` in a temporary directory with
 * free loopback ports, node configuration files, in-process nodes, signed coin transactions and
 * a small JSON HTTP client.
 */
import { Effect, Either, Exit, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { mintOp } from "../../src/app/coin.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import { decodeGenesisJsonText, encodeGenesisJson } from "../../src/chain/genesis-json.ts"
import type { Genesis, PersistenceMode, Transaction } from "../../src/chain/types.ts"
import { identityKeyPath, initNetwork, replicaDir, viewKeyPath } from "../../src/cli/init.ts"
import type { NodeConfigJson } from "../../src/node/config.ts"
import { loadNodeConfig, nodeConfigJson } from "../../src/node/config.ts"
import type { RunningNode } from "../../src/node/node.ts"
import { startNode } from "../../src/node/node.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { KeyFile } from "../../src/services/keystore.ts"
import { readKeyFile } from "../../src/services/keystore.ts"

/** Channel limits that make tests quick. */
export const quickNetLimits = { reconnectBaseMs: 20, reconnectMaxMs: 200, higherIdDialDelayMs: 30, closeLingerMs: 200 }

/** `n` distinct free loopback ports (held together while chosen, then released). */
export const freePorts = async (n: number): Promise<Array<number>> => {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer()
      s.listen(0, "127.0.0.1", () => resolve(s))
    }))
  )
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  return ports
}

export interface TestNetwork {
  readonly dir: string
  readonly genesis: Genesis
  readonly minter: KeyFile
  /** The configuration file of each replica (HTTP on a free port chosen by the system). */
  readonly configs: ReadonlyArray<string>
}

/** A network of `n` replicas in a new temporary directory, listening on free ports. */
export const makeNetwork = async (n: number, mode: PersistenceMode, requestTimeoutMs = 1_000, traceReplica0 = false): Promise<TestNetwork> => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-node-"))
  await Effect.runPromise(
    initNetwork(nodeCrypto, { replicas: n, out: dir, mode, chainId: "node-test", host: "127.0.0.1", basePort: 7100, minters: 1 })
  )
  const genesisPath = path.join(dir, "genesis.json")
  const parsed = decodeGenesisJsonText(await fs.readFile(genesisPath, "utf8"))
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  const ports = await freePorts(n)
  const genesis: Genesis = {
    ...parsed.right,
    limits: { ...parsed.right.limits, requestTimeoutMs },
    view: { ...parsed.right.view, members: parsed.right.view.members.map((m, i) => ({ ...m, address: `127.0.0.1:${ports[i]}` })) }
  }
  await fs.writeFile(genesisPath, JSON.stringify(encodeGenesisJson(genesis), null, 2) + "\n")
  const configs: Array<string> = []
  for (let i = 0; i < n; i++) {
    const rdir = replicaDir(dir, i)
    const config: NodeConfigJson = {
      genesis: "../genesis.json",
      identityKey: path.relative(rdir, identityKeyPath(rdir)),
      viewKey: path.relative(rdir, viewKeyPath(rdir, 0n)),
      dataDir: "blocks",
      http: { host: "127.0.0.1", port: 0 },
      tickMs: 5,
      ...(traceReplica0 && i === 0 ? { trace: "trace.ndjson" } : {})
    }
    const file = path.join(rdir, "node.json")
    await fs.writeFile(file, nodeConfigJson(config))
    configs.push(file)
  }
  const minter = await Effect.runPromise(readKeyFile(path.join(dir, "clients", "minter-0.key")))
  return { dir, genesis, minter, configs }
}

export interface Cluster {
  readonly nodes: ReadonlyArray<RunningNode>
  readonly scope: Scope.CloseableScope
  readonly stop: () => Promise<void>
}

/** Starts every replica of the network in this process; returns once every replica loop runs. */
export const startCluster = async (network: TestNetwork): Promise<Cluster> => {
  const scope = await Effect.runPromise(Scope.make())
  const nodes = await Effect.runPromise(
    Scope.extend(
      Effect.forEach(network.configs, (file) =>
        Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} }))
      ),
      scope
    )
  )
  // Each replica loop starts once the startup state transfer asked the others for their status.
  await Effect.runPromise(Effect.forEach(nodes, (n) => n.running, { concurrency: "unbounded", discard: true }))
  return { nodes, scope, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** A MINT of `amount` to the minter itself, signed by the minter, as the API's JSON. */
export const mintTx = (network: TestNetwork, seq: bigint, amount: bigint): Transaction => {
  const client = network.minter.publicKey
  const op = mintOp([{ owner: client, amount }])
  return { client, seq, op, signature: nodeCrypto.sign(network.minter.secretKey, txSigningBytes(network.genesis.chainId, { client, seq, op })) }
}

export const txBody = (tx: Transaction) => ({ client: toHex(tx.client), seq: tx.seq.toString(), op: toHex(tx.op), signature: toHex(tx.signature) })

export interface HttpAnswer {
  readonly status: number
  readonly json: Record<string, unknown>
  readonly text: string
}

export const get = async (url: string): Promise<HttpAnswer> => {
  const r = await fetch(url)
  const text = await r.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // Not JSON (e.g. /metrics).
  }
  return { status: r.status, json, text }
}

export const post = async (url: string, body: string): Promise<HttpAnswer> => {
  const r = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } })
  const text = await r.text()
  return { status: r.status, json: JSON.parse(text) as Record<string, unknown>, text }
}

/** Polls `condition` every 20 ms; throws naming `what` after `timeoutMs`. */
export const waitUntil = async (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
