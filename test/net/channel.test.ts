// Establishes, over real loopback sockets: a peer's violation closes only its own connection,
// with the right typed reason counted and logged, while the server keeps serving the others:
// an oversized length prefix (before and after the handshake), an unknown or impostor identity,
// a byte flipped in transit (through a proxy), a replayed frame, an idle or silent peer, and
// random garbage on the listening port; and a slow reader makes sends fail with QueueFull
// rather than grow memory, with everything accepted still delivered in order once it reads.
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as nodeCryptoModule from "node:crypto"
import * as net from "node:net"
import { encodeFrame } from "../../src/net/framing.ts"
import type { Proxy, TestNode } from "./support.ts"
import {
  closeCount,
  deadPort,
  entryOf,
  loopback,
  makeIdentity,
  numbered,
  rawHandshake,
  readNumbered,
  sendGarbage,
  startNode,
  startProxy,
  waitFor
} from "./support.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const node = async (...args: Parameters<typeof startNode>): Promise<TestNode> => {
  const n = await startNode(...args)
  cleanups.push(() => n.manager.close())
  return n
}

const proxyTo = async (...args: Parameters<typeof startProxy>): Promise<Proxy> => {
  const p = await startProxy(...args)
  cleanups.push(() => p.close())
  return p
}

/** A server node (replica 2) with a direct peer (replica 1) already connected and talking. */
const serverWithHealthyPeer = async () => {
  const serverId = makeIdentity(2)
  const healthyId = makeIdentity(1)
  const server = await node(serverId)
  const healthy = await node(healthyId)
  server.manager.setPeers([entryOf(healthy)])
  healthy.manager.setPeers([entryOf(server)])
  // Settled on the connection dialed by the lower id (both sides may have dialed).
  await waitFor(
    () => server.manager.connectionRole(1) === "responder" && healthy.manager.connectionRole(2) === "initiator",
    "the healthy peer to connect"
  )
  server.downs.length = 0
  healthy.downs.length = 0
  return { serverId, healthyId, server, healthy }
}

/** The healthy peer can still send to the server and the server to it, and it was never disconnected. */
const stillServing = async (server: TestNode, healthy: TestNode, tag: number): Promise<void> => {
  expect(healthy.manager.send(2, numbered(1, tag))).toBeUndefined()
  expect(server.manager.send(1, numbered(2, tag))).toBeUndefined()
  await waitFor(() => server.received.some((m) => m.from === 1 && readNumbered(m.payload).counter === tag), "the server to hear the healthy peer")
  await waitFor(() => healthy.received.some((m) => m.from === 2 && readNumbered(m.payload).counter === tag), "the healthy peer to hear the server")
  expect(server.downs).not.toContain(1)
  expect(healthy.downs).not.toContain(2)
}

/** Whether frame `index` of the client's stream is a channel frame carrying message `counter` (see numbered). */
const carries = (index: number, body: Uint8Array, counter: number): boolean =>
  index >= 2 && body.length >= 8 + 8 + 16 && readNumbered(body.subarray(8)).counter === counter

describe("channel over loopback", () => {
  it("closes a connection whose first length prefix exceeds the handshake limit, before any body arrives", async () => {
    const { server, healthy } = await serverWithHealthyPeer()
    const socket = net.connect({ port: server.manager.port, host: loopback })
    socket.on("error", () => {})
    const closed = new Promise<void>((r) => socket.on("close", () => r()))
    // Claims a 2 GiB frame and sends no body: the server must not wait for it.
    socket.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))
    await closed
    expect(closeCount(server, "FrameTooLarge")).toBe(1)
    expect(server.logs.some((l) => l.level === "warn" && l.message === "connection closed: FrameTooLarge" && l.fields["bytes"] === 0x7fffffff)).toBe(true)
    await stillServing(server, healthy, 1)
  })

  it("closes an authenticated connection whose frame exceeds frameBytesMax, before buffering it", async () => {
    const { serverId, server, healthy } = await serverWithHealthyPeer()
    const intruderId = makeIdentity(0)
    server.manager.setPeers([entryOf(healthy), { replica: 0, identityKey: intruderId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const raw = await rawHandshake(server.manager.port, intruderId, serverId)
    await waitFor(() => server.manager.isConnected(0), "the raw client's handshake")
    const max = server.manager.limits.frameBytesMax
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, max + 1)
    raw.socket.write(header)
    await raw.closed
    expect(closeCount(server, "FrameTooLarge")).toBe(1)
    await stillServing(server, healthy, 2)
  })

  it("refuses an unknown identity at the responder, and an impostor at the initiator", async () => {
    const { serverId, server, healthy } = await serverWithHealthyPeer()
    // A stranger dials the server: not in its peer set.
    const stranger = await node(makeIdentity(0), { peers: [entryOf(server)] })
    await waitFor(() => closeCount(server, "UnknownPeer") >= 1, "the server to refuse the stranger")
    expect(stranger.manager.isConnected(2)).toBe(false)
    // Replica 3 dials what it believes is replica 2, but the address is the healthy node's (which
    // accepts replica 3): the REPLY carries the wrong identity key.
    const fooledId = makeIdentity(3)
    healthy.manager.setPeers([entryOf(server), { replica: 3, identityKey: fooledId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const fooled = await node(fooledId, { peers: [{ replica: 2, identityKey: serverId.publicKey, address: healthy.manager.address }] })
    await waitFor(() => closeCount(fooled, "UnknownPeer") >= 1, "the initiator to refuse the impostor")
    expect(fooled.manager.isConnected(2)).toBe(false)
    expect(fooled.logs.some((l) => l.message === "connection closed: UnknownPeer" && l.fields["role"] === "initiator")).toBe(true)
    await stillServing(server, healthy, 3)
  })

  it("closes only the connection whose frame was altered in transit (BadMac); others keep being served", async () => {
    const { serverId, server, healthy } = await serverWithHealthyPeer()
    const senderId = makeIdentity(0)
    // Frames 0 and 1 are HELLO and FINISH; flip a payload byte of the channel frame carrying message 3.
    const proxy = await proxyTo(server.manager.port, (index, body) => {
      if (!carries(index, body, 3)) return [body]
      const c = new Uint8Array(body)
      c[20]! ^= 0x01
      return [c]
    })
    // The server cannot reach the sender directly, so the proxied connection is the only one.
    server.manager.setPeers([entryOf(healthy), { replica: 0, identityKey: senderId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const sender = await node(senderId, { peers: [{ replica: 2, identityKey: serverId.publicKey, address: `${loopback}:${proxy.port}` }] })
    await waitFor(() => sender.manager.isConnected(2) && server.manager.isConnected(0), "the proxied connection")
    for (let i = 0; i < 10; i++) expect(sender.manager.send(2, numbered(0, i))).toBeUndefined()
    await waitFor(() => closeCount(server, "BadMac") === 1, "the server to detect the altered frame")
    const fromSender = server.received.filter((m) => m.from === 0).map((m) => readNumbered(m.payload).counter)
    expect(fromSender.slice(0, 3)).toEqual([0, 1, 2])
    expect(fromSender).not.toContain(3)
    expect(server.logs.some((l) => l.message === "connection closed: BadMac" && l.fields["peer"] === 0)).toBe(true)
    await stillServing(server, healthy, 4)
  })

  it("rejects a replayed frame (Replay) and delivers the original once", async () => {
    const { serverId, server, healthy } = await serverWithHealthyPeer()
    const senderId = makeIdentity(0)
    const proxy = await proxyTo(server.manager.port, (index, body) => (carries(index, body, 1) ? [body, body] : [body]))
    server.manager.setPeers([entryOf(healthy), { replica: 0, identityKey: senderId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const sender = await node(senderId, { peers: [{ replica: 2, identityKey: serverId.publicKey, address: `${loopback}:${proxy.port}` }] })
    await waitFor(() => sender.manager.isConnected(2), "the proxied connection")
    for (let i = 0; i < 5; i++) sender.manager.send(2, numbered(0, i))
    await waitFor(() => closeCount(server, "Replay") === 1, "the server to detect the replay")
    const fromSender = server.received.filter((m) => m.from === 0).map((m) => readNumbered(m.payload).counter)
    expect(fromSender).toEqual([0, 1])
    expect(server.logs.some((l) => l.message === "connection closed: Replay" && typeof l.fields["got"] === "bigint" && l.fields["expected"] === l.fields["got"] + 1n)).toBe(true)
    await stillServing(server, healthy, 5)
  })

  it("closes a peer that stops sending, even heartbeats (idle Timeout), and one that never finishes its handshake", async () => {
    const serverId = makeIdentity(2)
    const limits = { heartbeatIntervalMs: 50, idleTimeoutMs: 200, handshakeTimeoutMs: 200 }
    const server = await node(serverId, { limits })
    const silentId = makeIdentity(0)
    server.manager.setPeers([{ replica: 0, identityKey: silentId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const raw = await rawHandshake(server.manager.port, silentId, serverId)
    await raw.closed
    expect(closeCount(server, "Timeout")).toBe(1)
    expect(server.logs.some((l) => l.message === "connection closed: Timeout" && l.fields["phase"] === "idle")).toBe(true)
    const mute = net.connect({ port: server.manager.port, host: loopback })
    mute.on("error", () => {})
    await new Promise<void>((r) => mute.on("close", () => r()))
    expect(closeCount(server, "Timeout")).toBe(2)
    expect(server.logs.some((l) => l.message === "connection closed: Timeout" && l.fields["phase"] === "handshake")).toBe(true)
  })

  it("keeps a quiet but healthy channel open with heartbeats", async () => {
    const limits = { heartbeatIntervalMs: 40, idleTimeoutMs: 150 }
    const a = await node(makeIdentity(0), { limits })
    const b = await node(makeIdentity(1), { limits })
    a.manager.setPeers([entryOf(b)])
    b.manager.setPeers([entryOf(a)])
    await waitFor(() => a.manager.isConnected(1) && b.manager.isConnected(0), "the channel")
    await new Promise((r) => setTimeout(r, 600))
    expect(a.downs).toEqual([])
    expect(b.downs).toEqual([])
    expect(a.manager.metrics.heartbeatsSent).toBeGreaterThan(3)
    expect(closeCount(a, "Timeout") + closeCount(b, "Timeout")).toBe(0)
  })

  it("counts and survives random garbage on the listening port", async () => {
    const { server, healthy } = await serverWithHealthyPeer()
    const rng = (seed: number) => nodeCryptoModule.createHash("sha256").update(String(seed)).digest()
    const attempts: Array<Uint8Array> = []
    for (let i = 0; i < 24; i++) {
      // Random bytes; then random bodies behind honest small prefixes (reach the HELLO parser);
      // then a well-sized HELLO with a random identity (reaches the peer lookup).
      const noise = new Uint8Array(Buffer.concat([rng(i), rng(i + 1000)]))
      if (i < 8) attempts.push(noise)
      else if (i < 16) attempts.push(encodeFrame(noise.subarray(0, i)))
      else {
        const hello = new Uint8Array(98)
        hello[0] = 1
        hello[1] = 1
        hello.set(noise.subarray(0, 32), 2)
        hello.set(noise.subarray(32, 64), 34)
        attempts.push(encodeFrame(hello))
      }
    }
    const handshakesBefore = server.manager.metrics.handshakesCompleted
    await Promise.all(attempts.map((bytes) => sendGarbage(server.manager.port, bytes)))
    const m = server.manager.metrics
    const counted = m.closes.FrameTooLarge + m.closes.Malformed + m.closes.UnknownPeer + m.closes.HandshakeFailed + m.closes.Timeout
    expect(counted).toBe(attempts.length)
    expect(m.closes.UnknownPeer).toBe(8)
    expect(m.closes.Malformed).toBeGreaterThanOrEqual(8)
    expect(m.violations).toBeGreaterThanOrEqual(attempts.length - m.closes.Timeout)
    expect(m.handshakesCompleted).toBe(handshakesBefore)
    await stillServing(server, healthy, 6)
  })

  it("refuses sends with QueueFull while a peer does not read, then delivers everything accepted in order", async () => {
    const serverId = makeIdentity(2)
    const server = await node(serverId, { limits: { sendQueueBytesMax: 1 << 20, frameBytesMax: 1 << 16 } })
    const readerId = makeIdentity(0)
    server.manager.setPeers([{ replica: 0, identityKey: readerId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const raw = await rawHandshake(server.manager.port, readerId, serverId)
    await waitFor(() => server.manager.isConnected(0), "the reader's channel")
    raw.socket.pause()
    const payload = new Uint8Array(16 << 10)
    let accepted = 0
    let refused = false
    for (let round = 0; round < 4000 && !refused; round++) {
      for (let i = 0; i < 16; i++) {
        if (server.manager.send(0, payload) !== undefined) {
          refused = true
          break
        }
        accepted++
      }
      await new Promise((r) => setImmediate(r))
    }
    expect(refused).toBe(true)
    expect(server.manager.metrics.sendsRefused.QueueFull).toBe(1)
    expect(server.manager.isConnected(0)).toBe(true)
    // Reading resumes: every accepted frame arrives (the raw client only counts bytes).
    let bytes = 0
    raw.socket.on("data", (c: Buffer) => void (bytes += c.length))
    raw.socket.resume()
    const expected = accepted * (4 + 8 + payload.length + 16)
    await waitFor(() => bytes >= expected, "the queued frames to arrive")
    expect(server.manager.send(0, payload)).toBeUndefined()
  })
})
