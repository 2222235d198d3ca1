// Establishes: four peer managers on loopback form a full mesh and deliver thousands of
// broadcast and point-to-point messages, each from its authenticated sender, complete and in the
// order sent; a peer whose server is killed is redialed with backoff until it is back on the same
// port; when both sides dial at once each side keeps the same single connection (the one dialed
// by the lower id); a peer removed from the set is disconnected and then refused; the Effect
// constructor delivers into a queue and closes with its scope; bad addresses and bad limits are
// typed errors.
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Queue } from "effect"
import { parseAddress, PeerManager, peerManagerWithInbox, reconnectDelayMs } from "../../src/net/peer-manager.ts"
import type { TestIdentity, TestNode } from "./support.ts"
import { chainId, closeCount, deadPort, entryOf, loopback, makeIdentity, numbered, quickLimits, readNumbered, sleep, startNode, waitFor } from "./support.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const node = async (...args: Parameters<typeof startNode>): Promise<TestNode> => {
  const n = await startNode(...args)
  cleanups.push(() => n.manager.close())
  return n
}

const mesh = async (ids: ReadonlyArray<TestIdentity>, limits = {}): Promise<Array<TestNode>> => {
  const nodes = await Promise.all(ids.map((id) => node(id, { limits })))
  const entries = nodes.map((n) => entryOf(n))
  for (const n of nodes) expect(n.manager.setPeers(entries)).toBeUndefined()
  // Settled: every pair keeps the connection dialed by its lower id (both may have dialed).
  const settled = () =>
    nodes.every((n) =>
      nodes.every((m) => m === n || n.manager.connectionRole(m.id.replica) === (n.id.replica < m.id.replica ? "initiator" : "responder"))
    )
  await waitFor(settled, "the full mesh")
  return nodes
}

describe("peer manager", () => {
  it("forms a full mesh of four and delivers thousands of messages per sender, complete and in order", async () => {
    const ids = [0, 1, 2, 3].map(makeIdentity)
    const nodes = await mesh(ids)
    const perSender = 3000
    // Each node broadcasts perSender messages and also sends every tenth one point-to-point to its
    // successor, in bursts across several turns of the event loop.
    const direct = (i: number) => (i + 1) % 4
    for (let burst = 0; burst < perSender; burst += 500) {
      for (const n of nodes) {
        const me = n.id.replica
        for (let c = burst; c < burst + 500; c++) {
          expect(n.manager.broadcast(numbered(me, c, 200))).toBe(3)
          if (c % 10 === 0) expect(n.manager.send(direct(me), numbered(me, perSender + c, 200))).toBeUndefined()
        }
      }
      await sleep(0)
    }
    const expectedCount = 3 * perSender + perSender / 10
    await waitFor(() => nodes.every((n) => n.received.length >= expectedCount), "every message", 30_000)
    for (const n of nodes) {
      expect(n.received.length).toBe(expectedCount)
      const bySender = new Map<number, Array<number>>()
      for (const m of n.received) {
        const { sender, counter } = readNumbered(m.payload)
        // The payload's claimed sender is the authenticated one.
        expect(sender).toBe(m.from)
        const list = bySender.get(sender) ?? []
        list.push(counter)
        bySender.set(sender, list)
      }
      expect([...bySender.keys()].sort()).toEqual([0, 1, 2, 3].filter((r) => r !== n.id.replica))
      for (const [sender, counters] of bySender) {
        const broadcasts = Array.from({ length: perSender }, (_, c) => c)
        const expected =
          direct(sender) === n.id.replica
            ? broadcasts.flatMap((c) => (c % 10 === 0 ? [c, perSender + c] : [c]))
            : broadcasts
        expect(counters).toEqual(expected)
      }
      expect(n.manager.metrics.violations).toBe(0)
      expect(n.manager.metrics.messagesDroppedInactive).toBe(0)
    }
  })

  it("redials a peer whose server was killed, with backoff, until it is back on the same port", async () => {
    const aId = makeIdentity(0)
    const bId = makeIdentity(1)
    const [a, b] = await mesh([aId, bId])
    const port = b!.manager.port
    expect(a!.manager.send(1, numbered(0, 1))).toBeUndefined()
    await waitFor(() => b!.received.length === 1, "the first message")
    await b!.manager.close()
    await waitFor(() => !a!.manager.isConnected(1), "the loss to be noticed")
    expect(a!.downs).toEqual([1])
    expect(a!.manager.send(1, numbered(0, 2))?._tag).toBe("NotConnected")
    // While b is down, a keeps dialing and each attempt is refused.
    const dialedBefore = a!.manager.metrics.connectionsDialed
    await sleep(300)
    expect(a!.manager.metrics.connectionsDialed).toBeGreaterThan(dialedBefore + 1)
    expect(closeCount(a!, "SocketError")).toBeGreaterThan(0)
    const b2 = await node(bId, { port, peers: [entryOf(a!)] })
    await waitFor(() => a!.manager.isConnected(1) && b2.manager.isConnected(0), "the reconnection")
    expect(a!.ups).toEqual([1, 1])
    expect(a!.manager.send(1, numbered(0, 3))).toBeUndefined()
    expect(b2.manager.send(0, numbered(1, 4))).toBeUndefined()
    await waitFor(() => b2.received.length === 1 && a!.received.length === 1, "messages both ways after reconnection")
    expect(readNumbered(b2.received[0]!.payload).counter).toBe(3)
    expect(readNumbered(a!.received[0]!.payload).counter).toBe(4)
  })

  it("computes redial delays that double from the base, stop at the ceiling, and jitter within the upper half", () => {
    const limits = { reconnectBaseMs: 100, reconnectMaxMs: 5_000, higherIdDialDelayMs: 250 }
    const lows = [0, 1, 2, 3, 4, 5, 6, 10, 40, 1000].map((k) => reconnectDelayMs(limits, k, 0, false))
    const highs = [0, 1, 2, 3, 4, 5, 6, 10, 40, 1000].map((k) => reconnectDelayMs(limits, k, 0.999999, false))
    expect(lows).toEqual([50, 100, 200, 400, 800, 1600, 2500, 2500, 2500, 2500])
    expect(highs).toEqual([99, 199, 399, 799, 1599, 3199, 4999, 4999, 4999, 4999])
    expect(reconnectDelayMs(limits, 0, 0, true)).toBe(300)
  })

  it("keeps redialing an unreachable peer, spaced by the backoff", async () => {
    const limits = { reconnectBaseMs: 10, reconnectMaxMs: 40, higherIdDialDelayMs: 0 }
    const a = await node(makeIdentity(0), { limits })
    a.manager.setPeers([{ replica: 1, identityKey: makeIdentity(1).publicKey, address: `${loopback}:${await deadPort()}` }])
    await sleep(700)
    const attempts = a.manager.metrics.connectionsDialed
    // A first dial at once, then delays of 5-10, 10-20, then 20-40 ms each: at most about 37 in
    // 700 ms (fewer when the machine is busy); without backoff there would be hundreds.
    expect(attempts).toBeGreaterThanOrEqual(4)
    expect(attempts).toBeLessThanOrEqual(45)
    // Every attempt but possibly the one in progress was refused and counted.
    expect(closeCount(a, "SocketError")).toBeGreaterThanOrEqual(attempts - 1)
  })

  it("keeps the same single connection on both sides when both dial at once", async () => {
    for (let round = 0; round < 5; round++) {
      const limits = { higherIdDialDelayMs: 0, reconnectBaseMs: 1_000, reconnectMaxMs: 1_000 }
      const a = await node(makeIdentity(0), { limits })
      const b = await node(makeIdentity(1), { limits })
      // Both learn of each other in the same turn and dial at once.
      a.manager.setPeers([entryOf(b)])
      b.manager.setPeers([entryOf(a)])
      await waitFor(() => a.manager.isConnected(1) && b.manager.isConnected(0), "a channel")
      await waitFor(() => a.manager.metrics.connectionsDialed + b.manager.metrics.connectionsDialed === 2, "both dials")
      await sleep(50)
      // The connection dialed by replica 0 is kept on both sides.
      expect(a.manager.connectionRole(1)).toBe("initiator")
      expect(b.manager.connectionRole(0)).toBe("responder")
      expect(a.manager.send(1, numbered(0, round))).toBeUndefined()
      expect(b.manager.send(0, numbered(1, round))).toBeUndefined()
      await waitFor(() => a.received.length === 1 && b.received.length === 1, "messages on the kept connection")
      expect(a.ups).toEqual([1])
      expect(b.ups).toEqual([0])
      await a.manager.close()
      await b.manager.close()
    }
  })

  it("disconnects a removed peer and then refuses it", async () => {
    const ids = [0, 1, 2].map(makeIdentity)
    const [a, b, c] = await mesh(ids)
    a!.manager.setPeers([entryOf(b!)])
    expect(a!.manager.isConnected(2)).toBe(false)
    expect(a!.downs).toContain(2)
    await waitFor(() => closeCount(a!, "UnknownPeer") >= 1, "the removed peer to be refused when it redials")
    expect(a!.manager.isConnected(1)).toBe(true)
    expect(c!.manager.isConnected(0)).toBe(false)
  })

  it("delivers into an Effect queue and closes with its scope", async () => {
    const aId = makeIdentity(0)
    const b = await node(makeIdentity(1))
    const program = Effect.scoped(
      Effect.gen(function* () {
        const { manager, inbox } = yield* peerManagerWithInbox(
          {
            chainId,
            replica: 0,
            identitySecret: aId.secretKey,
            listen: { host: loopback, port: 0 },
            peers: [entryOf(b)],
            limits: quickLimits
          },
          1024
        )
        b.manager.setPeers([{ replica: 0, identityKey: aId.publicKey, address: manager.address }])
        // Both sides settled on the connection dialed by replica 0 (a second, dropped connection
        // could otherwise lose the messages in flight on it).
        yield* Effect.promise(() =>
          waitFor(() => b.manager.connectionRole(0) === "responder" && manager.connectionRole(1) === "initiator", "the channel")
        )
        for (let i = 0; i < 10; i++) b.manager.send(0, numbered(1, i))
        const got: Array<number> = []
        while (got.length < 10) {
          const batch = yield* Queue.takeBetween(inbox, 1, 10)
          for (const m of Chunk.toReadonlyArray(batch)) {
            expect(m.from).toBe(1)
            got.push(readNumbered(m.payload).counter)
          }
        }
        return got
      })
    )
    expect(await Effect.runPromise(program)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // The scope closed the manager: b loses its channel.
    await waitFor(() => !b.manager.isConnected(0), "the scope to close the manager")
  })

  it("returns typed errors for bad addresses, bad limits and a port in use", async () => {
    expect(Either.isLeft(parseAddress("localhost"))).toBe(true)
    expect(Either.isLeft(parseAddress("127.0.0.1:0"))).toBe(true)
    expect(Either.isLeft(parseAddress("127.0.0.1:65536"))).toBe(true)
    expect(parseAddress("[::1]:7000")).toEqual(Either.right({ host: "::1", port: 7000 }))
    expect(parseAddress("node-1.example:7001")).toEqual(Either.right({ host: "node-1.example", port: 7001 }))
    const id = makeIdentity(0)
    const base = { chainId, replica: 0, identitySecret: id.secretKey, peers: [], onMessage: () => {}, log: () => {} }
    const badLimits = await Effect.runPromise(Effect.either(PeerManager.start({ ...base, listen: { host: loopback, port: 0 }, limits: { sendQueueBytesMax: 10 } })))
    expect(Either.isLeft(badLimits) && badLimits.left._tag).toBe("InvalidNetLimits")
    const badPeer = await Effect.runPromise(
      Effect.either(PeerManager.start({ ...base, listen: { host: loopback, port: 0 }, peers: [{ replica: 1, identityKey: id.publicKey, address: "nowhere" }] }))
    )
    expect(Either.isLeft(badPeer) && badPeer.left._tag).toBe("BadAddress")
    const taken = await node(makeIdentity(5))
    const inUse = await Effect.runPromise(Effect.either(PeerManager.start({ ...base, listen: { host: loopback, port: taken.manager.port } })))
    expect(Either.isLeft(inUse) && inUse.left._tag).toBe("ListenFailed")
  })
})
