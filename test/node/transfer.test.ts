// Establishes: the node's state-transfer host (src/node/transfer.ts) over members answering from
// their block stores: an empty replica recovers the highest checkpoint's snapshot and every block
// (below the checkpoint and after it), verified, and ends where the members are; a member that
// forges its snapshot or its blocks, or answers with more blocks than asked, is caught with a
// typed, counted rejection and the recovery still succeeds from the others; an answer nobody asked
// for is counted, not used; a member serves ranges cut to fit its frames; and a replica whose chain
// already reaches the highest checkpoint finds nothing to install. The messages travel as
// `Transfer` payloads that decode to what was sent, and bytes that are not one give a DecodeError.
import { Effect, Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import { coinApp } from "../../src/app/coin.ts"
import type { CoinState } from "../../src/app/coin.ts"
import { bytesEqual } from "../../src/chain/bytes.ts"
import { headerHash } from "../../src/chain/hash.ts"
import type { Block, ReplicaId } from "../../src/chain/types.ts"
import { decodePayload, encodePayload, payloadTags } from "../../src/net/payload.ts"
import { checkpointHeightAt } from "../../src/persistence/checkpoint.ts"
import { restart } from "../../src/persistence/restart.ts"
import type { StateTransferMessage } from "../../src/persistence/state-transfer.ts"
import type { ServeContext, TransferSend } from "../../src/node/transfer.ts"
import { answerTransfer, positionOf, Recovery, TransferHost } from "../../src/node/transfer.ts"
import type { BlockStoreApi } from "../../src/services/blockstore-core.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Envelope, Payload } from "../../src/services/transport.ts"
import type { SimResult, StoredChain } from "../sim/simulator.ts"
import { runSimulation } from "../sim/simulator.ts"
import { optionsForSeed } from "../sim/campaign.ts"
import { restartConfig } from "../support/restart-config.ts"

/** A strong-mode run with a chain of several checkpoints. */
const sim: SimResult = runSimulation({ ...optionsForSeed(4), keepChains: true })
const chain: StoredChain = [...sim.chains].sort((a, b) => b.blocks.length - a.blocks.length)[0]!
const genesis = sim.genesis
const interval = genesis.limits.checkpointInterval
const head = BigInt(chain.blocks.length)
const top = checkpointHeightAt(head, interval)
const self: ReplicaId = 3

const config = restartConfig(genesis, self)

/** The snapshot of checkpoint c, as the replica that executed blocks 1..c holds it. */
const snapshotAt = (c: bigint): Uint8Array => restart(config, { blocks: chain.blocks.slice(0, Number(c)), certificates: [], record: undefined }, 0).state.persistence!.machine.snapshot()

/** A member's store: the chain, its certificates and the snapshot of every checkpoint. */
const memberStore = (): BlockStoreApi =>
  Effect.runSync(
    Effect.gen(function* () {
      const store = yield* makeMemoryBlockStore({ crypto: nodeCrypto })
      for (const block of chain.blocks) {
        yield* store.appendBlock(block)
        const h = block.header.height
        if (h % BigInt(interval) === 0n) yield* store.putSnapshot(h, block.header.stateHash, snapshotAt(h))
      }
      for (const c of chain.certificates) yield* store.appendCertificate(c)
      yield* store.sync()
      return store
    })
  )

const serveContext = (store: BlockStoreApi, payloadBytesMax = 4 << 20): ServeContext => ({
  store,
  viewOf: (id) => (id === genesis.view.id ? genesis.view : undefined),
  checkpointInterval: interval,
  servedHeight: () => head,
  payloadBytesMax
})

type Forge = (answer: StateTransferMessage) => StateTransferMessage

const flip = (bytes: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(bytes)
  if (out.length > 0) out[Math.floor(out.length / 2)]! ^= 0x01
  return out
}

const forgeSnapshot: Forge = (a) => (a._tag === "SnapshotAnswer" ? { ...a, snapshot: flip(a.snapshot) } : a)
const forgeBlocks: Forge = (a) => {
  if (a._tag !== "BlocksAnswer" || a.blocks[0] === undefined) return a
  const [first, ...rest] = a.blocks
  return { ...a, blocks: [{ ...first, transactions: first.transactions.map((tx, i) => (i === 0 ? { ...tx, seq: tx.seq + 1n } : tx)) }, ...rest] }
}
/** Answers a range with more blocks than asked: the blocks after it, or its first block again at the head. */
const overfill: Forge = (a) => {
  if (a._tag !== "BlocksAnswer" || a.blocks.length === 0) return a
  const last = a.blocks[a.blocks.length - 1]!.header.height
  const after = chain.blocks.slice(Number(last), Number(last) + 3)
  return { ...a, blocks: [...a.blocks, ...(after.length > 0 ? after : [a.blocks[0]!])] }
}

const stores = [memberStore(), memberStore(), memberStore()]

/** Runs a recovery of replica 3 against members 0..2 (each optionally forging), delivering in member order. */
const recover = (forgers: ReadonlyMap<ReplicaId, Forge>, local: Block | undefined = undefined): Recovery<CoinState> => {
  const recovery = new Recovery<CoinState>({
    crypto: nodeCrypto,
    genesis,
    app: coinApp,
    view: genesis.view,
    self,
    local: positionOf(nodeCrypto, genesis, genesis.view, local),
    requestTimeoutMs: 1_000
  })
  let queue: Array<TransferSend> = recovery.start(0)
  for (let round = 0; queue.length > 0 && recovery.outcome === undefined && round < 10_000; round++) {
    const { to, message } = queue.shift()!
    const answer = Effect.runSync(answerTransfer(serveContext(stores[to]!), message))
    if (answer === undefined) continue
    const forge = forgers.get(to)
    queue = [...queue, ...recovery.receive(to, forge === undefined ? answer : forge(answer))]
  }
  return recovery
}

const reasons = (r: Recovery<CoinState>): Array<string> => r.rejected.map((x) => x.reason)

describe("state transfer between nodes' stores", () => {
  it("the run gives a chain with checkpoints", () => {
    expect(genesis.persistence).toBe("strong")
    expect(top).toBeGreaterThanOrEqual(2n * BigInt(interval))
  })

  it("an empty replica recovers the highest checkpoint's snapshot and every block, verified", () => {
    const r = recover(new Map())
    expect(r.outcome?._tag).toBe("Installed")
    if (r.outcome?._tag !== "Installed") return
    expect(r.outcome.checkpoint.header.height).toBe(top)
    expect(r.outcome.target.height).toBe(head)
    expect(r.outcome.blocks.map((b) => b.header.height)).toEqual(chain.blocks.map((b) => b.header.height))
    for (const [i, b] of r.outcome.blocks.entries()) expect(bytesEqual(headerHash(nodeCrypto, b.header), headerHash(nodeCrypto, chain.blocks[i]!.header))).toBe(true)
    expect(bytesEqual(r.outcome.checkpoint.snapshot, snapshotAt(top))).toBe(true)
    expect(r.rejected).toEqual([])
    expect(r.progress().verifiedHeight).toBe(head)
  })

  it("a forged snapshot is rejected, counted, and the snapshot comes from another member", () => {
    const r = recover(new Map([[0, forgeSnapshot]]))
    expect(r.outcome?._tag).toBe("Installed")
    if (r.outcome?._tag !== "Installed") return
    expect(r.outcome.snapshotFrom).not.toBe(0)
    expect(reasons(r)).toContain("BadSnapshot")
    expect(r.rejected.every((x) => x.from === 0 && x._tag === "TransferRejected")).toBe(true)
    expect([...r.session.faulty]).toEqual([0])
    expect(r.outcome.blocks).toHaveLength(chain.blocks.length)
  })

  it("forged blocks are rejected, counted, and fetched from another member", () => {
    const r = recover(new Map([[0, forgeBlocks]]))
    expect(r.outcome?._tag).toBe("Installed")
    if (r.outcome?._tag !== "Installed") return
    expect(reasons(r)).toContain("BadBlocks")
    expect(r.rejected.every((x) => x.from === 0)).toBe(true)
    expect([...r.session.faulty]).toEqual([0])
    for (const [i, b] of r.outcome.blocks.entries()) expect(bytesEqual(headerHash(nodeCrypto, b.header), headerHash(nodeCrypto, chain.blocks[i]!.header))).toBe(true)
  })

  it("an answer with more blocks than asked is counted as oversized; only what was asked is used", () => {
    const r = recover(new Map([[0, overfill]]))
    expect(r.outcome?._tag).toBe("Installed")
    if (r.outcome?._tag !== "Installed") return
    expect(reasons(r)).toContain("Oversized")
    expect(r.outcome.blocks.map((b) => b.header.height)).toEqual(chain.blocks.map((b) => b.header.height))
  })

  it("a status request lost as a channel comes up is sent again within the round, not after its deadline", () => {
    const recovery = new Recovery<CoinState>({
      crypto: nodeCrypto,
      genesis,
      app: coinApp,
      view: genesis.view,
      self,
      local: positionOf(nodeCrypto, genesis, genesis.view, undefined),
      requestTimeoutMs: 1_000
    })
    const deliver = (sends: ReadonlyArray<TransferSend>): Array<TransferSend> =>
      sends.flatMap(({ to, message }) => {
        const answer = Effect.runSync(answerTransfer(serveContext(stores[to]!), message))
        return answer === undefined ? [] : recovery.receive(to, answer)
      })
    const first = recovery.start(0)
    expect(first.map((s) => s.to)).toEqual([0, 1, 2])
    // Member 2's request is lost; 0 and 1 answer. Nothing is decided before the round's deadline...
    expect(deliver(first.filter((s) => s.to !== 2))).toEqual([])
    expect(recovery.session.chosen).toBeUndefined()
    // ...but 250 ms on, member 2 alone is asked again, answers, and the target is chosen at once.
    const again = recovery.tick(250)
    expect(again).toEqual([{ to: 2, message: { _tag: "StatusRequest" } }])
    let queue = deliver(again)
    expect(recovery.session.chosen?.checkpointHeight).toBe(top)
    for (let i = 0; queue.length > 0 && i < 10_000; i++) {
      const next = queue.shift()!
      queue = [...queue, ...deliver([next])]
    }
    expect(recovery.outcome?._tag).toBe("Installed")
    expect(recovery.session.counters.timeouts).toBe(0)
    // A second answer to the request sent again is ignored, not held against anyone.
    const late = Effect.runSync(answerTransfer(serveContext(stores[2]!), { _tag: "StatusRequest" }))!
    expect(recovery.receive(2, late)).toEqual([])
    expect(recovery.rejected).toEqual([])
  })

  it("a replica whose chain reaches the highest checkpoint has nothing to install", () => {
    const r = recover(new Map(), chain.blocks[Number(top) - 1])
    expect(r.outcome?._tag).toBe("Nothing")
  })

  it("a member cuts a range of blocks to fit its frames", () => {
    const ctx = serveContext(stores[0]!, 3_000)
    const answer = Effect.runSync(answerTransfer(ctx, { _tag: "BlocksRequest", fromHeight: 1n, toHeight: head }))
    expect(answer?._tag).toBe("BlocksAnswer")
    if (answer?._tag !== "BlocksAnswer") return
    expect(answer.blocks.length).toBeGreaterThan(0)
    expect(answer.blocks.length).toBeLessThan(chain.blocks.length)
    expect(encodePayload({ _tag: "Transfer", message: answer }).length).toBeLessThanOrEqual(3_000)
    // A status claim names the highest stored checkpoint, with its certificate.
    const status = Effect.runSync(answerTransfer(serveContext(stores[0]!), { _tag: "StatusRequest" }))
    expect(status?._tag === "StatusAnswer" && Option.isSome(status.answer.checkpoint) ? status.answer.checkpoint.value.header.height : undefined).toBe(top)
  })

  it("an answer while no recovery runs is counted and not used; requests are answered", async () => {
    const sent: Array<Envelope> = []
    const host = new TransferHost<CoinState>(serveContext(stores[0]!), {
      self: 0,
      send: (to: ReplicaId, payload: Payload) => Effect.sync(() => void sent.push({ from: to, payload })),
      receive: () => Effect.never
    })
    await Effect.runPromise(host.onMessage(2, { _tag: "SnapshotAnswer", height: BigInt(interval), snapshot: new Uint8Array(8) }))
    expect(host.rejected.Unexpected).toBe(1)
    expect(sent).toEqual([])
    await Effect.runPromise(host.onMessage(2, { _tag: "SnapshotRequest", height: top }))
    expect(host.served.SnapshotAnswer).toBe(1)
    expect(sent).toHaveLength(1)
    const p = sent[0]!.payload
    expect(p._tag === "Transfer" && p.message._tag === "SnapshotAnswer" && bytesEqual(p.message.snapshot, snapshotAt(top))).toBe(true)
  })

  it("travel as Transfer payloads: what is encoded decodes to itself; truncated or trailing bytes are typed errors", () => {
    const status = Effect.runSync(answerTransfer(serveContext(stores[1]!), { _tag: "StatusRequest" }))!
    const blocks = Effect.runSync(answerTransfer(serveContext(stores[1]!), { _tag: "BlocksRequest", fromHeight: 1n, toHeight: 3n }))!
    const messages: ReadonlyArray<StateTransferMessage> = [
      { _tag: "StatusRequest" },
      status,
      { _tag: "SnapshotRequest", height: top },
      { _tag: "SnapshotAnswer", height: top, snapshot: snapshotAt(top) },
      { _tag: "BlocksRequest", fromHeight: 1n, toHeight: 3n },
      blocks
    ]
    for (const message of messages) {
      const bytes = encodePayload({ _tag: "Transfer", message })
      expect(bytes[0]).toBe(payloadTags.Transfer)
      const decoded = decodePayload(bytes)
      expect(Either.isRight(decoded) && decoded.right._tag === "Transfer" ? encodePayload(decoded.right) : undefined).toEqual(bytes)
      for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([...bytes, 0])]) {
        const r = decodePayload(bad)
        expect(Either.isLeft(r) && r.left._tag).toBe("DecodeError")
      }
    }
  })
})
