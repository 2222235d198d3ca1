// Establishes: POST /txs takes a binary array of transactions, answers at once which it refused
// and why (bad signature, too large, inbox full), then streams each block's released replies
// (results by request position; with proofs=1 also header and Merkle paths that verify) and ends
// with the positions still unanswered when the wait ran out; bad requests get JSON errors. The
// batching client hub puts what several clients send to a member in one turn into one request,
// fails the sends of refused transactions, and routes each reply to the client that sent it,
// marked as from the member whose URL answered.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Fiber, Scope, Stream } from "effect"
import { coinApp, mintOp } from "../../src/app/coin.ts"
import { fromHex, toHex } from "../../src/chain/bytes.ts"
import { encodeWith } from "../../src/chain/codec.ts"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import { batchHash, genesisHash, resultHash, txHash, viewHash } from "../../src/chain/hash.ts"
import { verifyMerkleProof } from "../../src/chain/merkle.ts"
import type { Block, Genesis, Transaction } from "../../src/chain/types.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { batchBodyCodec } from "../../src/api/batch.ts"
import { makeHttpBatchHub } from "../../src/api/http-batch-transport.ts"
import { startApiServer } from "../../src/api/server.ts"
import { makeClient } from "../../src/client/client.ts"
import type { ReplyFrom } from "../../src/client/transport.ts"
import { NodeChain } from "../../src/node/chain.ts"
import { NodeMetrics } from "../../src/node/metrics.ts"
import { executeBatch, finalizeBlock } from "../../src/persistence/block.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

const minterSecret = nodeCrypto.generateSecretKey()
const minter = nodeCrypto.publicKeyFromSecret(minterSecret)
const members = [0, 1, 2, 3].map((replica) => ({
  replica,
  identityKey: nodeCrypto.publicKeyFromSecret(nodeCrypto.generateSecretKey()),
  viewKey: nodeCrypto.publicKeyFromSecret(nodeCrypto.generateSecretKey()),
  address: `127.0.0.1:${7200 + replica}`
}))
const genesis: Genesis = {
  chainId: "batch-test",
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
const mint = (seq: bigint) => sign(seq, mintOp([{ owner: minter, amount: 100n + seq }]))

// The chain the API reads, moved by hand as the core would: blocks written, then released.
const heights = { executed: 0n, written: 0n, released: 0n }
const store = Effect.runSync(makeMemoryBlockStore({ crypto: nodeCrypto }))
const chain = new NodeChain(
  nodeCrypto,
  store,
  {
    executed: () => heights.executed,
    written: () => heights.written,
    durable: () => 0n,
    certified: () => 0n,
    released: () => heights.released,
    knownCertificate: () => undefined
  },
  (r) => coinApp.describeResult(r),
  true
)
const chainStore = chain.wrapStore(() => {})
let machine = genesisMachine(coinApp, nodeCrypto, genesis)
let prevHash = genesisHash(nodeCrypto, genesis)

/** Orders `batch` as the next block, writes it and releases its replies. */
const decide = (batch: ReadonlyArray<Transaction>): Block => {
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
  heights.released = height
  const block = built.block
  chain.noteReply({ _tag: "Reply", viewId: 0n, client: block.transactions[0]!.client, seq: block.transactions[0]!.seq, height, index: 0, result: block.results[0]! })
  return block
}

let submitted: Array<Transaction> = []
/** For each transaction handed over, whether its request said the client sent it to every member (all=1). */
const sentToAllFlags: Array<boolean> = []
let inboxRoom = Number.POSITIVE_INFINITY
/** Takes what the replica was handed so far (as the core would order it). */
const takeSubmitted = () => {
  const out = submitted
  submitted = []
  return out
}
const metrics = new NodeMetrics({
  height: () => chain.height(),
  durableHeight: () => 0n,
  regency: () => 0n,
  view: () => 0n,
  leader: () => 0,
  lastDecidedCid: () => 0n,
  highestSeenCid: () => 0n,
  connectedPeers: () => 3,
  pendingTransactions: () => submitted.length,
  verifierRejected: () => ({}),
  connectionsClosed: () => ({}),
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
          chain,
          status: () => ({ regency: 0n, leader: 0, lastDecidedCid: 0n, pendingTransactions: submitted.length, connectedPeers: [0, 2, 3] }),
          submit: (tx, sentToAll) => {
            if (inboxRoom <= 0) return false
            inboxRoom--
            submitted.push(tx)
            sentToAllFlags.push(sentToAll === true)
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

/** Posts a batch and reads the answer line by line, calling `onLine` as each arrives. */
const postBatch = async (txs: ReadonlyArray<Transaction>, query: string, onLine: (line: Record<string, unknown>, n: number) => void = () => {}) => {
  const r = await fetch(`${base}/txs${query}`, { method: "POST", body: encodeWith(batchBodyCodec, txs) })
  expect(r.status).toBe(200)
  expect(r.headers.get("content-type")).toBe("application/x-ndjson")
  const lines: Array<Record<string, unknown>> = []
  let buffered = ""
  const decoder = new TextDecoder()
  for await (const chunk of r.body!) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true })
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
      buffered = buffered.slice(nl + 1)
      lines.push(line)
      onLine(line, lines.length)
    }
  }
  expect(buffered).toBe("")
  return lines
}

describe("POST /txs", () => {
  it("refuses what POST /tx would refuse, takes the rest, and streams the replies block by block", async () => {
    const good = [mint(1n), mint(2n), mint(3n)]
    const forged = { ...mint(4n), op: mintOp([{ owner: minter, amount: 1n }]) }
    const large = sign(5n, new Uint8Array(2000))
    const lines = await postBatch([good[0]!, forged, good[1]!, large, good[2]!], "?waitMs=5000", (_line, n) => {
      // After the first line the replica holds the good ones; order them in two blocks.
      if (n === 1) {
        const taken = takeSubmitted()
        expect(taken).toEqual(good)
        setTimeout(() => {
          decide(taken.slice(0, 2))
          setTimeout(() => decide(taken.slice(2)), 20)
        }, 20)
      }
    })
    expect(lines[0]).toEqual({
      refused: [
        { index: 1, error: "BadSignature", message: expect.stringContaining("does not verify") },
        { index: 3, error: "TransactionTooLarge", message: expect.stringContaining("limit is 1024") }
      ]
    })
    const blocks = lines.slice(1, -1)
    expect(blocks.map((b) => b["height"])).toEqual(["1", "2"])
    expect(blocks.map((b) => (b["replies"] as Array<{ index: number }>).map((r) => r.index))).toEqual([[0, 2], [4]])
    const results = blocks.flatMap((b) => b["replies"] as Array<{ index: number; result: string }>)
    const h1 = await Effect.runPromise(store.readBlock(1n))
    expect(results[0]!.result).toBe(toHex(h1.results[0]!))
    expect(blocks[0]!["viewId"]).toBe("0")
    expect(lines.at(-1)).toEqual({ end: true, unanswered: [] })
  })

  it("answers a transaction already decided at once, and a full inbox with Busy", async () => {
    const [decided] = [mint(1n)]
    inboxRoom = 1
    try {
      const lines = await postBatch([decided!, mint(20n), mint(21n)], "?waitMs=50")
      expect(lines[0]).toEqual({ refused: [{ index: 2, error: "Busy", message: expect.stringContaining("inbox is full") }] })
      expect(lines[1]).toMatchObject({ height: "1", replies: [{ index: 0 }] })
      // mint(20n) was taken but not ordered within the wait.
      expect(lines.at(-1)).toEqual({ end: true, unanswered: [1] })
      expect(takeSubmitted().map((t) => t.seq)).toEqual([20n])
    } finally {
      inboxRoom = Number.POSITIVE_INFINITY
    }
  })

  it("with proofs=1 carries the header and Merkle paths that verify against it", async () => {
    const txs = [mint(30n), mint(31n), mint(32n)]
    const lines = await postBatch(txs, "?waitMs=5000&proofs=1", (_, n) => {
      if (n === 1) setTimeout(() => decide(takeSubmitted()), 10)
    })
    const block = lines[1]!
    expect(block).toMatchObject({ leafCount: 3, resultLeafCount: 3, certificate: null })
    const header = block["header"] as Record<string, string>
    for (const r of block["replies"] as Array<{ index: number; txIndex: number; result: string; txPath: Array<string>; resultPath: Array<string> }>) {
      const path = (p: Array<string>) => p.map((h) => fromHex(h)!)
      expect(r.txIndex).toBe(r.index)
      expect(verifyMerkleProof(nodeCrypto, fromHex(header["txRoot"]!)!, txHash(nodeCrypto, txs[r.index]!), r.txIndex, 3, path(r.txPath))).toBe(true)
      expect(verifyMerkleProof(nodeCrypto, fromHex(header["resultsRoot"]!)!, resultHash(nodeCrypto, fromHex(r.result)!), r.txIndex, 3, path(r.resultPath))).toBe(true)
    }
  })

  it("refuses a body that is not an encoded array, a bad wait and a wrong method, with JSON errors", async () => {
    const bad = await fetch(`${base}/txs`, { method: "POST", body: new Uint8Array([0, 0, 0, 1, 9]) })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: "BadBatch" })
    const wait = await fetch(`${base}/txs?waitMs=-1`, { method: "POST", body: encodeWith(batchBodyCodec, []) })
    expect(wait.status).toBe(400)
    expect(await wait.json()).toMatchObject({ error: "BadWait" })
    const get = await fetch(`${base}/txs`)
    expect(get.status).toBe(405)
    expect(await get.json()).toMatchObject({ error: "MethodNotAllowed" })
    const empty = await postBatch([], "")
    expect(empty).toEqual([{ refused: [] }, { end: true, unanswered: [] }])
  })
})

describe("the batching client hub", () => {
  it("sends one request per member and turn, fails refused sends, and routes each reply to its client", async () => {
    const before = submitted.length
    sentToAllFlags.length = 0
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          // Members 0 and 1 answer on the same server here; the hub tells them apart by URL.
          const hub = yield* makeHttpBatchHub({ urls: new Map([[0, base], [1, base]]), viewId: 0n, waitMs: 5000 })
          const a = yield* hub.transport
          const b = yield* hub.transport
          const collect = (t: typeof a, n: number) => Effect.fork(Stream.runCollect(Stream.take(t.replies, n)))
          const fa = yield* collect(a, 2)
          const fb = yield* collect(b, 2)
          const ta = mint(40n)
          const tb = mint(41n)
          const forged = { ...mint(42n), seq: 43n }
          const [sends, all] = yield* Effect.all(
            [
              Effect.all([a.send(0, ta), a.send(1, ta), b.send(0, tb), b.send(1, tb), b.send(0, forged), a.send(7, ta)].map(Effect.either), {
                concurrency: "unbounded"
              }),
              b.sendAll!([0, 1, 7], forged)
            ],
            { concurrency: "unbounded" }
          )
          const requestsAfterSends = hub.metrics.requests
          // The replica (both "members") holds ta and tb twice each; order them once.
          const taken = takeSubmitted()
          decide([ta, tb])
          const repliesA = Chunk.toReadonlyArray(yield* Fiber.join(fa))
          const repliesB = Chunk.toReadonlyArray(yield* Fiber.join(fb))
          return { sends, all, taken, requestsAfterSends, repliesA, repliesB, metrics: hub.metrics }
        })
      )
    )
    expect(before).toBe(0)
    expect(outcome.sends.slice(0, 4).every(Either.isRight)).toBe(true)
    const refused = outcome.sends[4]!
    expect(Either.isLeft(refused) && refused.left.message).toContain("BadSignature")
    const unknown = outcome.sends[5]!
    expect(Either.isLeft(unknown) && unknown.left.message).toContain("no API URL")
    // sendAll reports each member's refusal: two bad signatures and an unknown member.
    expect(outcome.all.map((e) => e.message.includes("BadSignature") || e.message.includes("no API URL"))).toEqual([true, true, true])
    // One request per member for everything sent in that turn.
    expect(outcome.requestsAfterSends).toBe(2)
    expect(outcome.taken.map((t) => t.seq).sort()).toEqual([40n, 40n, 41n, 41n])
    // Each request mixed single sends with one sent to every member: none is marked all=1.
    expect(sentToAllFlags).toEqual([false, false, false, false])
    const label = (r: ReplyFrom) => `${r.from}:${r.reply._tag === "Reply" ? r.reply.seq : "certified"}`
    expect(outcome.repliesA.map(label).sort()).toEqual(["0:40", "1:40"])
    expect(outcome.repliesB.map(label).sort()).toEqual(["0:41", "1:41"])
    const [first] = outcome.repliesA
    expect(first!.reply).toMatchObject({ _tag: "Reply", viewId: 0n, height: machine.height })
    expect(outcome.metrics).toMatchObject({ requests: 2, transactions: 7, refused: 3, replies: 4, requestFailures: 0 })
  })

  it("carries a client library submission to acceptance (q matching replies), and a timeout when nothing is ordered", async () => {
    const outcome = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const hub = yield* makeHttpBatchHub({ urls: new Map([[0, base], [1, base], [2, base], [3, base]]), viewId: 0n, waitMs: 5000 })
          const key = { publicKey: minter, secret: minterSecret }
          const client = yield* makeClient({ chainId: genesis.chainId, view: genesis.view, mode: "memory", key, crypto: nodeCrypto, timeoutMs: 3000, attempts: 1, firstSeq: 60n }, yield* hub.transport)
          sentToAllFlags.length = 0
          const fiber = yield* Effect.fork(client.submit(mintOp([{ owner: minter, amount: 7n }])))
          while (submitted.length < 4) yield* Effect.sleep("5 millis")
          // The client library sends to every member: each member hears so (all=1).
          expect(sentToAllFlags).toEqual([true, true, true, true])
          decide([takeSubmitted()[0]!])
          const accepted = yield* Fiber.join(fiber)
          const late = yield* makeClient({ chainId: genesis.chainId, view: genesis.view, mode: "memory", key, crypto: nodeCrypto, timeoutMs: 100, attempts: 1, firstSeq: 70n }, yield* hub.transport)
          const timedOut = yield* Effect.either(late.submit(mintOp([{ owner: minter, amount: 8n }])))
          takeSubmitted()
          return { accepted, timedOut, metrics: client.metrics() }
        })
      )
    )
    expect(outcome.accepted).toMatchObject({ via: "matching", attempt: 1 })
    expect(outcome.accepted.voters.length).toBe(3)
    expect(outcome.accepted.reply.height).toBe(machine.height)
    expect(outcome.metrics).toMatchObject({ submitted: 1, accepted: 1, sendFailures: 0 })
    expect(Either.isLeft(outcome.timedOut) && outcome.timedOut.left._tag).toBe("ClientTimeout")
  })

  it("fails every send of a request the member does not answer", async () => {
    const sent = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const hub = yield* makeHttpBatchHub({ urls: new Map([[0, "http://127.0.0.1:1"]]), viewId: 0n })
          const t = yield* hub.transport
          return yield* Effect.either(t.send(0, mint(50n)))
        })
      )
    )
    expect(Either.isLeft(sent)).toBe(true)
  })
})
