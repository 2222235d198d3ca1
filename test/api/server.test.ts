// Establishes: the HTTP API serves status, view, blocks and transaction results with Merkle paths
// that verify, accepts a valid signed transaction into the replica, and answers every kind of bad
// request (bad JSON, a missing or malformed field, a bad signature, an oversized transaction or
// body, a bad path parameter, an unknown route, a wrong method, a full inbox) with a clear JSON
// 4xx/5xx error that is counted by reason in /metrics; a long poll on a transaction returns as
// soon as the transaction's reply is released (and not when its block is only written).
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { coinApp, mintOp } from "../../src/app/coin.ts"
import { fromHex, toHex } from "../../src/chain/bytes.ts"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import { batchHash, genesisHash, resultHash, viewHash } from "../../src/chain/hash.ts"
import { verifyMerkleProof } from "../../src/chain/merkle.ts"
import type { Block, Genesis, Transaction } from "../../src/chain/types.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { requestBodyBytesMax, startApiServer } from "../../src/api/server.ts"
import { NodeChain } from "../../src/node/chain.ts"
import { executeBatch, finalizeBlock } from "../../src/persistence/block.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { NodeMetrics } from "../../src/node/metrics.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

const minterSecret = nodeCrypto.generateSecretKey()
const minter = nodeCrypto.publicKeyFromSecret(minterSecret)
const members = [0, 1, 2, 3].map((replica) => ({
  replica,
  identityKey: nodeCrypto.publicKeyFromSecret(nodeCrypto.generateSecretKey()),
  viewKey: nodeCrypto.publicKeyFromSecret(nodeCrypto.generateSecretKey()),
  address: `127.0.0.1:${7100 + replica}`
}))
const genesis: Genesis = {
  chainId: "api-test",
  view: { id: 0n, members, n: 4, f: 1 },
  persistence: "memory",
  minters: [minter],
  admission: [],
  limits: { ...defaultLimits, txBytesMax: 1024 }
}

const sign = (seq: bigint, op: Uint8Array): Transaction => ({
  client: minter,
  seq,
  op,
  signature: nodeCrypto.sign(minterSecret, txSigningBytes(genesis.chainId, { client: minter, seq, op }))
})
const mint = (seq: bigint) => sign(seq, mintOp([{ owner: minter, amount: 10n + seq }]))
const body = (tx: Transaction) => ({ client: toHex(tx.client), seq: tx.seq.toString(), op: toHex(tx.op), signature: toHex(tx.signature) })

// The chain the API reads: blocks built as the core builds them, appended through the store
// wrapper of NodeChain, and heights the test moves (what the core would have written, synced and
// released).
const heights = { executed: 0n, written: 0n, durable: 0n, certified: 0n, released: 0n }
const store = Effect.runSync(makeMemoryBlockStore({ crypto: nodeCrypto }))
const chain = new NodeChain(
  nodeCrypto,
  store,
  {
    executed: () => heights.executed,
    written: () => heights.written,
    durable: () => heights.durable,
    certified: () => heights.certified,
    released: () => heights.released,
    knownCertificate: () => undefined
  },
  (r) => coinApp.describeResult(r),
  true
)
const chainStore = chain.wrapStore(() => {})
let machine = genesisMachine(coinApp, nodeCrypto, genesis)
let prevHash = genesisHash(nodeCrypto, genesis)

/** Executes and writes the next block (not yet released). */
const writeBlock = (batch: ReadonlyArray<Transaction>) => {
  const height = machine.height + 1n
  const proof = { viewId: 0n, cid: height, regency: 0n, batchHash: batchHash(nodeCrypto, batch), accepts: [] }
  const executed = executeBatch(machine, 0, batch, proof, new Map(), 0)
  machine = executed.machine
  const built = finalizeBlock(executed.decided, {
    crypto: nodeCrypto,
    viewId: 0n,
    viewHash: viewHash(nodeCrypto, genesis.view),
    prevHash,
    lastCheckpointHeight: 0n,
    lastReconfigHeight: 0n,
    proof
  })
  prevHash = built.hash
  Effect.runSync(chainStore.appendBlock(built.block))
  heights.executed = height
  heights.written = height
  return built.block
}

/** The core released the replies of block `height`. */
const release = (block: Block) => {
  heights.released = block.header.height
  chain.noteReply({ _tag: "Reply", viewId: 0n, client: block.transactions[0]!.client, seq: block.transactions[0]!.seq, height: block.header.height, index: 0, result: block.results[0]! })
}

const decided = [mint(1n), mint(2n), mint(3n)]
release(writeBlock(decided))
const submitted: Array<Transaction> = []
let inboxFull = false
const metrics = new NodeMetrics({
  height: () => chain.height(),
  durableHeight: () => 0n,
  regency: () => 2n,
  view: () => 0n,
  leader: () => 2,
  lastDecidedCid: () => 1n,
  highestSeenCid: () => 1n,
  connectedPeers: () => 3,
  pendingTransactions: () => submitted.length,
  verifierRejected: () => ({ BadTxSignature: 2 }),
  connectionsClosed: () => ({ BadMac: 1 }),
  sendsRefused: () => ({}),
  payloads: () => ({ sent: {}, received: {} }),
  payloadsMalformed: () => 0,
  stateInstancesReceived: () => 0
})

let scope: Scope.CloseableScope
let base = ""
beforeAll(async () => {
  scope = await Effect.runPromise(Scope.make())
  const api = await Effect.runPromise(
    Scope.extend(
      startApiServer(
        {
          chainId: genesis.chainId,
          replica: 1,
          mode: "memory",
          limits: genesis.limits,
          crypto: nodeCrypto,
          view: () => genesis.view,
          quorum: 3,
          chain: chain,
          status: () => ({ regency: 2n, leader: 2, lastDecidedCid: 1n, pendingTransactions: submitted.length, connectedPeers: [0, 2, 3] }),
          submit: (tx) => {
            if (inboxFull) return false
            submitted.push(tx)
            return true
          },
          metrics
        },
        { host: "127.0.0.1", port: 0 }
      ),
      scope
    )
  )
  base = `http://127.0.0.1:${api.port}`
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const call = async (method: string, path: string, payload?: string) => {
  const r = await fetch(`${base}${path}`, payload === undefined ? { method } : { method, body: payload })
  const text = await r.text()
  return { status: r.status, text, json: (r.headers.get("content-type") === "application/json" ? JSON.parse(text) : {}) as Record<string, unknown> }
}

describe("HTTP API", () => {
  it("serves status and view", async () => {
    const s = await call("GET", "/status")
    expect(s.status).toBe(200)
    expect(s.json).toMatchObject({ chainId: "api-test", replica: 1, mode: "memory", height: "1", regency: "2", leader: 2, view: "0", connectedPeers: [0, 2, 3] })
    const v = await call("GET", "/view")
    expect(v.json).toMatchObject({ id: "0", n: 4, f: 1, quorum: 3, leader: 2 })
    expect((v.json["members"] as Array<{ identityKey: string }>)[3]!.identityKey).toBe(toHex(members[3]!.identityKey))
  })

  it("serves a block and a transaction's result with Merkle paths that verify against its header", async () => {
    const b = await call("GET", "/blocks/1")
    expect(b.status).toBe(200)
    expect((b.json["transactions"] as Array<unknown>).length).toBe(3)
    expect((b.json["transactions"] as Array<Record<string, string>>)[1]).toEqual(body(decided[1]!))
    const t = await call("GET", `/tx/${toHex(minter)}/2`)
    expect(t.status).toBe(200)
    expect(t.json).toMatchObject({ height: "1", index: 1, seq: "2", durable: false, certificate: null })
    expect(t.json["resultText"]).toMatch(/^ok: minted 1 output/)
    const header = t.json["header"] as Record<string, string>
    const result = fromHex(t.json["result"] as string)!
    const path = (k: string) => (t.json[k] as Array<string>).map((h) => fromHex(h)!)
    expect(verifyMerkleProof(nodeCrypto, fromHex(header["txRoot"]!)!, fromHex(t.json["txHash"] as string)!, 1, 3, path("txPath"))).toBe(true)
    expect(verifyMerkleProof(nodeCrypto, fromHex(header["resultsRoot"]!)!, resultHash(nodeCrypto, result), 1, 3, path("resultPath"))).toBe(true)
    expect(verifyMerkleProof(nodeCrypto, fromHex(header["resultsRoot"]!)!, resultHash(nodeCrypto, result), 0, 3, path("resultPath"))).toBe(false)
  })

  it("accepts a valid signed transaction into the replica, and reports one already decided", async () => {
    const tx = mint(9n)
    const r = await call("POST", "/tx", JSON.stringify(body(tx)))
    expect(r.status).toBe(202)
    expect(r.json["status"]).toBe("accepted")
    expect(submitted.at(-1)).toEqual(tx)
    const again = await call("POST", "/tx", JSON.stringify(body(decided[0]!)))
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({ status: "decided", height: "1", index: 0 })
  })

  it("holds a long poll until the transaction's reply is released, and returns 404 when the wait runs out", async () => {
    const pending = call("GET", `/tx/${toHex(minter)}/20?waitMs=5000`)
    let settled = false
    void pending.then(() => (settled = true))
    await new Promise((r) => setTimeout(r, 100))
    // Written but not released: the poll keeps waiting and a plain query does not see it.
    const later = writeBlock([mint(20n)])
    await new Promise((r) => setTimeout(r, 100))
    expect(settled).toBe(false)
    expect((await call("GET", `/tx/${toHex(minter)}/20`)).status).toBe(404)
    expect((await call("POST", "/tx", JSON.stringify(body(mint(20n))))).status).toBe(202)
    release(later)
    const answer = await pending
    expect(answer.status).toBe(200)
    expect(answer.json).toMatchObject({ height: "2", index: 0, seq: "20", resultLeafCount: 1, certified: false })
    const started = Date.now()
    const none = await call("GET", `/tx/${toHex(minter)}/21?waitMs=150`)
    expect(none.status).toBe(404)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
  })

  it("answers bad requests with typed JSON errors naming the problem, and counts them", async () => {
    const cases: Array<[string, string, string | undefined, number, string, RegExp?]> = [
      ["POST", "/tx", "{not json", 400, "BadJson"],
      ["POST", "/tx", JSON.stringify({ ...body(mint(5n)), signature: undefined }), 400, "BadTransaction", /signature/],
      ["POST", "/tx", JSON.stringify({ ...body(mint(5n)), seq: 5 }), 400, "BadTransaction", /^seq: /],
      ["POST", "/tx", JSON.stringify({ ...body(mint(5n)), client: "zz" }), 400, "BadTransaction", /^client: /],
      ["POST", "/tx", JSON.stringify({ ...body(mint(5n)), extra: 1 }), 400, "BadTransaction", /extra/],
      ["POST", "/tx", JSON.stringify({ ...body(mint(5n)), seq: "6" }), 400, "BadSignature"],
      ["POST", "/tx", JSON.stringify(body(sign(7n, new Uint8Array(2000)))), 413, "TransactionTooLarge"],
      ["POST", "/tx", "x".repeat(requestBodyBytesMax + 1), 413, "PayloadTooLarge"],
      ["GET", "/blocks/0", undefined, 400, "BadHeight"],
      ["GET", "/blocks/abc", undefined, 400, "BadHeight"],
      ["GET", "/blocks/99", undefined, 404, "BlockNotFound"],
      ["GET", "/tx/abcd/1", undefined, 400, "BadClient"],
      ["GET", `/tx/${toHex(minter)}/-1`, undefined, 400, "BadSeq"],
      ["GET", `/tx/${toHex(minter)}/77`, undefined, 404, "TransactionNotFound"],
      ["GET", `/tx/${toHex(minter)}/1?waitMs=-5`, undefined, 400, "BadWait"],
      ["GET", "/nowhere", undefined, 404, "NotFound"],
      ["DELETE", "/status", undefined, 405, "MethodNotAllowed"]
    ]
    for (const [method, path, payload, status, tag, message] of cases) {
      const r = await call(method, path, payload)
      expect({ path, payload: payload?.slice(0, 40), status: r.status, error: r.json["error"] }).toEqual({ path, payload: payload?.slice(0, 40), status, error: tag })
      expect(typeof r.json["message"]).toBe("string")
      if (message !== undefined) expect(r.json["message"]).toMatch(message)
    }
    inboxFull = true
    const busy = await call("POST", "/tx", JSON.stringify(body(mint(8n))))
    inboxFull = false
    expect(busy.status).toBe(503)
    expect(busy.json["error"]).toBe("Busy")
    const m = await call("GET", "/metrics")
    expect(m.status).toBe(200)
    expect(m.text).toMatch(/^smartchain_api_rejected_total\{reason="BadTransaction"\} 4$/m)
    expect(m.text).toMatch(/^smartchain_api_rejected_total\{reason="BadHeight"\} 2$/m)
    expect(m.text).toMatch(/^smartchain_api_rejected_total\{reason="Busy"\} 1$/m)
    expect(m.text).toMatch(/^smartchain_rejected_total\{source="verifier",reason="BadTxSignature"\} 2$/m)
    expect(m.text).toMatch(/^smartchain_rejected_total\{source="net",reason="BadMac"\} 1$/m)
    expect(m.text).toMatch(/^smartchain_regency 2$/m)
    expect(m.text).toMatch(/^smartchain_leader 2$/m)
  })
})
