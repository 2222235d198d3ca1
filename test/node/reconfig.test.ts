// Establishes: reconfiguration in the networked node. A fifth replica, started with the
// network's genesis and a "join" configuration, submits JOIN to a running four-replica strong-mode
// cluster, fetches and verifies the chain, and starts voting once view 1 (with it) is installed.
// Every member rotates to a fresh view key (stored in view-1.key) and erases its view-0 key file
// once the installing block is durable; GET /view and GET /views show the new view; transactions
// keep committing on all five; every replica's chain passes verifyChain following the views; and
// a client that trusted genesis's view (strict views) learns view 1 from the certified
// reconfiguration block and accepts a reply certified by it, and the offline proof check
// (src/api/tx-proof.ts) that trusted genesis's view checks a proof certified by view 1. Each
// replica's /metrics reports the change: views installed, ROTATEs submitted, key files erased, the
// membership requests by kind and outcome (JOIN, ROTATE and LEAVE accepted, a JOIN refused as
// NotAdmitted), and the joiner's own JOINs. A member leaving and the restart of members after the
// changes are covered too, and so is a genesis member whose data directory is wiped after the
// changes: at startup it recovers by snapshot state transfer through a checkpoint certified by
// view 2 (stored with its certificate, checked with view 2's keys that the verified history
// taught it), comes back in view 2 and takes part in new blocks.
import { Effect, Either, Exit, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fromHex } from "../../src/chain/bytes.ts"
import { decodeBlock, decodeCertificate } from "../../src/chain/encoding.ts"
import { decodeGenesisJsonText, encodeGenesisJson } from "../../src/chain/genesis-json.ts"
import type { Block, Certificate, Genesis, Transaction } from "../../src/chain/types.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import { identityKeyPath, replicaDir, viewKeyPath } from "../../src/cli/init.ts"
import { makeHttpClientTransport } from "../../src/api/http-client-transport.ts"
import { fetchTxProof, TxProofViews } from "../../src/api/tx-proof.ts"
import { makeClient } from "../../src/client/client.ts"
import { mintOp } from "../../src/app/coin.ts"
import type { NodeConfigJson } from "../../src/node/config.ts"
import { loadNodeConfig, nodeConfigJson } from "../../src/node/config.ts"
import type { RunningNode } from "../../src/node/node.ts"
import { startNode } from "../../src/node/node.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { KeyFile } from "../../src/services/keystore.ts"
import { readKeyFile, writeKeyFile } from "../../src/services/keystore.ts"
import { submitMembership } from "../../src/cli/view.ts"
import { describeReconfigResult, installedViews } from "../../src/node/views.ts"
import type { TestNetwork } from "./support.ts"
import { freePorts, get, makeNetwork, mintTx, post, quickNetLimits, txBody, waitUntil } from "./support.ts"

/** Blocks between checkpoints: small, so that a wiped member finds a checkpoint after the view changes. */
const checkpointInterval = 4

/** Starts the replica of configuration `file` in a scope of its own. */
const startIn = async (file: string): Promise<{ readonly node: RunningNode; readonly scope: Scope.CloseableScope }> => {
  const scope = await Effect.runPromise(Scope.make())
  const node = await Effect.runPromise(Scope.extend(Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} })), scope))
  return { node, scope }
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false
  )

/** Every block of a node's chain (and the head's certificate) through its API. */
const chainOf = async (node: RunningNode, height: bigint): Promise<{ blocks: Array<Block>; head: Certificate | undefined }> => {
  const blocks: Array<Block> = []
  let head: Certificate | undefined
  for (let h = 1n; h <= height; h++) {
    const r = await get(`${node.httpUrl}/blocks/${h}?encoding=binary`)
    expect(r.status).toBe(200)
    const block = decodeBlock(fromHex(r.json["block"] as string)!)
    if (Either.isLeft(block)) throw new Error(block.left.message)
    blocks.push(block.right)
    const c = r.json["certificate"]
    if (h === height && typeof c === "string") head = Either.getOrThrow(decodeCertificate(fromHex(c)!))
  }
  return { blocks, head }
}

describe("a fifth replica joins a running four-replica cluster", () => {
  let network: TestNetwork
  let genesis: Genesis
  const nodes: Array<RunningNode> = []
  const scopes: Array<Scope.CloseableScope> = []
  const cluster = { nodes }
  let joinerScope: Scope.CloseableScope
  let joiner: RunningNode
  let joinerDir: string
  let seq = 1n

  /** The value of metric `name` (with exactly the labels `labels`, as exposed) in a node's /metrics, or undefined. */
  const metric = async (node: RunningNode, name: string, labels = ""): Promise<number | undefined> => {
    const text = (await get(`${node.httpUrl}/metrics`)).text
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels === "" ? "" : `{${labels}}`} `))
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
  }

  /** Submits a MINT to every given node and waits until each released its reply. */
  const commit = async (nodes: ReadonlyArray<RunningNode>): Promise<bigint> => (await commitTx(nodes)).height

  const commitTx = async (nodes: ReadonlyArray<RunningNode>): Promise<{ height: bigint; tx: Transaction }> => {
    const tx = mintTx(network, seq++, 5n)
    for (const n of nodes) await post(`${n.httpUrl}/tx`, JSON.stringify(txBody(tx)))
    let height = 0n
    for (const n of nodes) {
      const r = await get(`${n.httpUrl}/tx/${txBody(tx).client}/${tx.seq}?waitMs=20000`)
      expect(r.status, `${n.httpUrl}: ${r.text}`).toBe(200)
      height = BigInt(r.json["height"] as string)
    }
    return { height, tx }
  }

  beforeAll(async () => {
    network = await makeNetwork(4, "strong", 1_000)
    // The joiner's identity, on genesis's admission list.
    joinerDir = replicaDir(network.dir, 4)
    await fs.mkdir(joinerDir, { recursive: true })
    const secretKey = nodeCrypto.generateSecretKey()
    const identity: KeyFile = { kind: "identity", replica: undefined, view: undefined, publicKey: nodeCrypto.publicKeyFromSecret(secretKey), secretKey }
    await Effect.runPromise(writeKeyFile(identityKeyPath(joinerDir), identity))
    const genesisPath = path.join(network.dir, "genesis.json")
    const parsed = Either.getOrThrow(decodeGenesisJsonText(await fs.readFile(genesisPath, "utf8")))
    genesis = { ...parsed, admission: [identity.publicKey], limits: { ...parsed.limits, checkpointInterval } }
    await fs.writeFile(genesisPath, JSON.stringify(encodeGenesisJson(genesis), null, 2) + "\n")
    network = { ...network, genesis }
    // Each replica in its own scope, so that one can be stopped and restarted.
    for (const file of network.configs) {
      const started = await startIn(file)
      scopes.push(started.scope)
      nodes.push(started.node)
    }
  }, 60_000)

  afterAll(async () => {
    if (joinerScope !== undefined) await Effect.runPromise(Scope.close(joinerScope, Exit.void))
    for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("installs view 1 with the joiner on every member, erases the view-0 keys, keeps committing, and every chain verifies across the views", async () => {
    const members = cluster.nodes
    await commit(members)

    const [port] = await freePorts(1)
    const config: NodeConfigJson = {
      genesis: "../genesis.json",
      identityKey: "identity.key",
      viewKey: "view-0.key",
      dataDir: "blocks",
      listen: `127.0.0.1:${port}`,
      http: { host: "127.0.0.1", port: 0 },
      tickMs: 5,
      join: { from: members.map((n) => n.httpUrl) }
    }
    const file = path.join(joinerDir, "node.json")
    await fs.writeFile(file, nodeConfigJson(config))
    joinerScope = await Effect.runPromise(Scope.make())
    const started = Effect.runPromise(
      Scope.extend(Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} })), joinerScope)
    )
    // Load while the change goes through.
    for (let i = 0; i < 3; i++) await commit(members)
    joiner = await started
    expect(joiner.replica).toBe(4)

    // Every member installed view 1 = genesis's members plus the joiner, with fresh view keys.
    await waitUntil(async () => {
      for (const n of members) if ((await get(`${n.httpUrl}/view`)).json["id"] !== "1") return false
      return true
    }, "view 1 on every member")
    const view = (await get(`${members[0]!.httpUrl}/view`)).json
    expect(view).toMatchObject({ id: "1", n: 5, f: 1, quorum: 4 })
    expect((view["members"] as Array<{ replica: number }>).map((m) => m.replica)).toEqual([0, 1, 2, 3, 4])
    const changes = (await get(`${members[1]!.httpUrl}/views?after=0`)).json
    expect(changes["changes"]).toHaveLength(1)

    // Keys: each member holds view-1.key only (view-0.key erased); the joiner holds view-1.key.
    for (let r = 0; r < 4; r++) {
      await waitUntil(async () => !(await exists(viewKeyPath(replicaDir(network.dir, r), 0n))), `replica ${r} erasing view-0.key`)
      expect(await exists(viewKeyPath(replicaDir(network.dir, r), 1n))).toBe(true)
    }
    expect(await exists(viewKeyPath(joinerDir, 1n))).toBe(true)
    expect(await exists(viewKeyPath(joinerDir, 2n))).toBe(false)

    // Transactions keep committing, on all five.
    const all = [...members, joiner]
    const { height, tx: inView1 } = await commitTx(all)
    await commit(all)

    // The offline proof check, trusting genesis's view: it learns view 1 from each replica's
    // GET /views and checks the proof certified by view 1.
    const proofViews = Either.getOrThrow(TxProofViews.trusting(nodeCrypto, genesis.chainId, genesis.view))
    for (const n of all) {
      const proven = await Effect.runPromise(fetchTxProof(nodeCrypto, proofViews, "strong", n.httpUrl, inView1, 10_000))
      expect(proven).toMatchObject({ height, certified: true, viewId: 1n })
    }
    expect(proofViews.known.map((v) => v.id)).toEqual([0n, 1n])

    // Metrics: every genesis member installed view 1, rotated once, erased its view-0 key, and
    // wrote the accepted JOIN and the ROTATEs; the joiner reports its own JOIN.
    for (const n of members) {
      expect(await metric(n, "smartchain_view")).toBe(1)
      expect(await metric(n, "smartchain_views_installed_total")).toBe(1)
      expect(await metric(n, "smartchain_view_rotations_total")).toBe(1)
      expect(await metric(n, "smartchain_view_keys_erased_total")).toBe(1)
      expect(await metric(n, "smartchain_view_left")).toBe(0)
      expect(await metric(n, "smartchain_membership_requests_total", 'kind="join",outcome="ok"')).toBe(1)
      expect(await metric(n, "smartchain_membership_requests_total", 'kind="rotate",outcome="ok"')).toBeGreaterThanOrEqual(3)
    }
    expect(await metric(joiner, "smartchain_view")).toBe(1)
    expect(await metric(joiner, "smartchain_join_requests_total", 'outcome="submitted"')).toBeGreaterThanOrEqual(1)
    expect(await metric(joiner, "smartchain_join_requests_total", 'outcome="ok"')).toBe(1)

    // Every chain verifies from genesis, following the view records.
    for (const n of all) {
      const { blocks, head } = await chainOf(n, height)
      const summary = verifyChain(nodeCrypto, genesis, blocks, head === undefined ? {} : { headCertificate: head })
      if (Either.isLeft(summary)) throw new Error(`replica ${n.replica}: ${summary.left.message}`)
      expect(summary.right.views).toEqual([0n, 1n])
    }

    // A client that trusted genesis's view accepts a reply certified by view 1.
    const urls = new Map(all.map((n) => [n.replica, n.httpUrl]))
    const accepted = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const transport = yield* makeHttpClientTransport({ urls: new Map([...urls].filter(([r]) => r < 4)), viewId: 0n, urlOf: (m) => urls.get(m.replica) })
          const client = yield* makeClient({ chainId: genesis.chainId, view: genesis.view, mode: "strong", key: { publicKey: network.minter.publicKey, secret: network.minter.secretKey }, crypto: nodeCrypto, timeoutMs: 10_000, attempts: 2, strictViews: true }, transport)
          const submitted = yield* client.submit(mintOp([{ owner: network.minter.publicKey, amount: 1n }]))
          return { submitted, views: client.knownViews(), metrics: client.metrics() }
        })
      )
    )
    expect(accepted.submitted.reply.viewId).toBe(1n)
    expect(accepted.views.map((v) => v.id)).toEqual([0n, 1n])
    expect(accepted.metrics.viewsLearned).toBe(1)
    expect(accepted.metrics.acceptedByCertificate).toBe(1)
  }, 90_000)

  it("a replica whose identity the admission policy refuses does not start: its JOIN's result is a typed error", async () => {
    const dir = replicaDir(network.dir, 5)
    await fs.mkdir(dir, { recursive: true })
    const secretKey = nodeCrypto.generateSecretKey()
    await Effect.runPromise(writeKeyFile(identityKeyPath(dir), { kind: "identity", replica: undefined, view: undefined, publicKey: nodeCrypto.publicKeyFromSecret(secretKey), secretKey }))
    const [port] = await freePorts(1)
    const file = path.join(dir, "node.json")
    await fs.writeFile(
      file,
      nodeConfigJson({
        genesis: "../genesis.json",
        identityKey: "identity.key",
        viewKey: "view-0.key",
        dataDir: "blocks",
        listen: `127.0.0.1:${port}`,
        http: { host: "127.0.0.1", port: 0 },
        join: { from: cluster.nodes.map((n) => n.httpUrl) }
      })
    )
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} }))))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/NodeStartError.*JOIN refused: NotAdmitted/s)
    // The view key its JOIN announced was erased.
    expect((await fs.readdir(dir)).filter((f) => /^view-\d+\.key$/.test(f))).toEqual([])
    // The members wrote the refused JOIN, counted by its reason.
    for (const n of cluster.nodes)
      await waitUntil(async () => (await metric(n, "smartchain_membership_requests_total", 'kind="join",outcome="NotAdmitted"')) === 1, `replica ${n.replica} counting the refused JOIN`)
  }, 60_000)

  it("smartchain view leave: a member leaves with view 2, erases every view key it held, and the others go on", async () => {
    const leaver = cluster.nodes[3]!
    const identity = await Effect.runPromise(readKeyFile(identityKeyPath(replicaDir(network.dir, 3))))
    const done = await Effect.runPromise(
      submitMembership({ urls: [cluster.nodes[0]!.httpUrl, cluster.nodes[1]!.httpUrl], identity, waitMs: 20_000, request: () => Effect.succeed({ kind: "leave" as const }) })
    )
    expect(done.view.id).toBe(1n)
    expect(done.result !== undefined && describeReconfigResult(done.result.result)).toBe("ok")
    const stay = [cluster.nodes[0]!, cluster.nodes[1]!, cluster.nodes[2]!, joiner]
    await waitUntil(async () => {
      for (const n of stay) if ((await get(`${n.httpUrl}/view`)).json["id"] !== "2") return false
      return true
    }, "view 2 on the remaining members")
    const view = (await get(`${joiner.httpUrl}/view`)).json
    expect(view).toMatchObject({ id: "2", n: 4, f: 1 })
    expect((view["members"] as Array<{ replica: number }>).map((m) => m.replica)).toEqual([0, 1, 2, 4])
    // The leaver erases all its view keys once view 2 has taken over (it decided a block).
    await commit(stay)
    await waitUntil(async () => (await fs.readdir(replicaDir(network.dir, 3))).every((f) => !/^view-\d+\.key$/.test(f)), "the leaver erasing its view keys")
    expect(leaver.shell.state().reconfig?.local.left).toBe(true)
    expect(await metric(leaver, "smartchain_view_left")).toBe(1)
    for (const n of stay) {
      expect(await metric(n, "smartchain_membership_requests_total", 'kind="leave",outcome="ok"')).toBe(1)
      expect(await metric(n, "smartchain_view")).toBe(2)
    }
    const height = await commit(stay)
    for (const n of stay) {
      const { blocks, head } = await chainOf(n, height)
      const summary = verifyChain(nodeCrypto, genesis, blocks, head === undefined ? {} : { headCertificate: head })
      if (Either.isLeft(summary)) throw new Error(`replica ${n.replica}: ${summary.left.message}`)
      expect(summary.right.views).toEqual([0n, 1n, 2n])
    }
  }, 60_000)

  it("the joined replica and a genesis member restart from their data directories in view 2 (older keys erased) and go on committing", async () => {
    expect((await fs.readdir(joinerDir)).filter((f) => /^view-\d+\.key$/.test(f))).toEqual(["view-2.key"])
    await Effect.runPromise(Scope.close(joinerScope, Exit.void))
    joinerScope = await Effect.runPromise(Scope.make())
    joiner = await Effect.runPromise(
      Scope.extend(
        Effect.flatMap(loadNodeConfig(path.join(joinerDir, "node.json")), (c) => startNode(c, { netLimits: quickNetLimits, netLog: () => {} })),
        joinerScope
      )
    )
    expect(joiner.replica).toBe(4)
    await Effect.runPromise(joiner.running)
    expect(joiner.shell.state().config.view.id).toBe(2n)
    // Replica 1 holds only its view-2 key: view-0.key (the configured one) and view-1.key are gone.
    expect((await fs.readdir(replicaDir(network.dir, 1))).filter((f) => /^view-\d+\.key$/.test(f))).toEqual(["view-2.key"])
    await Effect.runPromise(Scope.close(scopes[1]!, Exit.void))
    const again = await startIn(network.configs[1]!)
    scopes[1] = again.scope
    nodes[1] = again.node
    await Effect.runPromise(again.node.running)
    expect(again.node.shell.state().config.view.id).toBe(2n)
    const stay = [cluster.nodes[0]!, cluster.nodes[1]!, cluster.nodes[2]!, joiner]
    await commit(stay)
    await commit(stay)
  }, 60_000)

  it("a genesis member wiped after the view changes recovers by snapshot through a checkpoint certified by view 2, and goes on", async () => {
    const wiped = 2
    const view2At = installedViews(cluster.nodes[0]!.shell.state()).find((v) => v.record.id === 2n)!.installedAt
    await Effect.runPromise(Scope.close(scopes[wiped]!, Exit.void))
    await fs.rm(path.join(replicaDir(network.dir, wiped), "blocks"), { recursive: true, force: true })
    // The other members of view 2 go on past two checkpoints after view 2's installation.
    const rest = [cluster.nodes[0]!, cluster.nodes[1]!, joiner]
    let head = 0n
    while (head < view2At + BigInt(2 * checkpointInterval) + 1n) head = await commit(rest)
    await waitUntil(() => rest.every((n) => n.chain.durableHeight() >= head), "the others to sync every block")

    const back = await startIn(network.configs[wiped]!)
    scopes[wiped] = back.scope
    nodes[wiped] = back.node
    const outcome = await Effect.runPromise(back.node.running)
    const status = back.node.transfer.status()
    expect(outcome?._tag, status.failure).toBe("Installed")
    expect(status.snapshotHeight).toBeGreaterThan(view2At)
    expect(status.snapshotHeight % BigInt(checkpointInterval)).toBe(0n)
    // No answer was refused as forged; the leaver (replica 3, still a view-0 member to this replica) may answer empty ranges.
    expect(back.node.transfer.rejected).toMatchObject({ BadStatus: 0, BadSnapshot: 0, BadBlocks: 0, BadHistory: 0, BadCertificate: 0 })
    // The checkpoint's certificate (COMMITs of view 2's keys) passed the check and was stored.
    const certificate = await Effect.runPromise(back.node.chain.certificate(status.snapshotHeight))
    expect(certificate?.viewId).toBe(2n)
    // It came back from the snapshot, in view 2, holding only its view-2 key.
    expect(back.node.restarted?.checkpoint).toBe(status.snapshotHeight)
    expect(back.node.shell.state().config.view.id).toBe(2n)
    expect((await fs.readdir(replicaDir(network.dir, wiped))).filter((f) => /^view-\d+\.key$/.test(f))).toEqual(["view-2.key"])
    expect(await back.node.metrics.text()).toMatch(/^smartchain_state_transfer_sessions_total\{outcome="Installed"\} 1$/m)

    // It takes part in new blocks, and its chain verifies from genesis across the three views.
    const stay = [cluster.nodes[0]!, cluster.nodes[1]!, back.node, joiner]
    await commit(stay)
    const top = await commit(stay)
    await waitUntil(() => back.node.chain.certifiedHeight() >= top, "the recovered member certifying the new blocks")
    const { blocks, head: headCertificate } = await chainOf(back.node, top)
    const summary = verifyChain(nodeCrypto, genesis, blocks, headCertificate === undefined ? {} : { headCertificate })
    if (Either.isLeft(summary)) throw new Error(summary.left.message)
    expect(summary.right.views).toEqual([0n, 1n, 2n])
  }, 60_000)
})
