/**
 * Helpers of the channel tests: identities, peer managers on loopback, a framing-aware TCP proxy
 * that can alter what passes through, a hand-driven initiator, and polling with a deadline.
 */
import { Effect, Either } from "effect"
import * as net from "node:net"
import { FrameSealer } from "../../src/net/channel.ts"
import type { CloseTag } from "../../src/net/errors.ts"
import { encodeFrame, FrameDecoder } from "../../src/net/framing.ts"
import type { KnownPeer } from "../../src/net/handshake.ts"
import { initiatorOnReply, initiatorStart } from "../../src/net/handshake.ts"
import type { NetLimits } from "../../src/net/limits.ts"
import type { NetLogFields, NetLogLevel } from "../../src/net/metrics.ts"
import type { PeerEntry, PeerManagerConfig } from "../../src/net/peer-manager.ts"
import { PeerManager } from "../../src/net/peer-manager.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

export const chainId = "net-test-chain"
export const loopback = "127.0.0.1"

export interface TestIdentity {
  readonly replica: number
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

export const makeIdentity = (replica: number): TestIdentity => {
  const secretKey = nodeCrypto.generateSecretKey()
  return { replica, secretKey, publicKey: nodeCrypto.publicKeyFromSecret(secretKey) }
}

export const knownPeer = (id: TestIdentity): KnownPeer => ({ replica: id.replica, identityKey: id.publicKey })

/** Limits that make the tests quick: short waits and reconnection delays. */
export const quickLimits: Partial<NetLimits> = {
  handshakeTimeoutMs: 1_000,
  idleTimeoutMs: 3_000,
  heartbeatIntervalMs: 500,
  reconnectBaseMs: 20,
  reconnectMaxMs: 200,
  higherIdDialDelayMs: 30,
  closeLingerMs: 200
}

export interface LogLine {
  readonly level: NetLogLevel
  readonly message: string
  readonly fields: NetLogFields
}

export interface Received {
  readonly from: number
  readonly payload: Uint8Array
}

export interface TestNode {
  readonly id: TestIdentity
  readonly manager: PeerManager
  readonly received: Array<Received>
  readonly logs: Array<LogLine>
  readonly ups: Array<number>
  readonly downs: Array<number>
}

/** Starts a peer manager for `id` on 127.0.0.1 (port 0 unless given), recording what it sees. */
export const startNode = async (
  id: TestIdentity,
  options: { readonly port?: number; readonly peers?: ReadonlyArray<PeerEntry>; readonly limits?: Partial<NetLimits>; readonly keepPayloads?: boolean } = {}
): Promise<TestNode> => {
  const received: Array<Received> = []
  const logs: Array<LogLine> = []
  const ups: Array<number> = []
  const downs: Array<number> = []
  const config: PeerManagerConfig = {
    chainId,
    replica: id.replica,
    identitySecret: id.secretKey,
    listen: { host: loopback, port: options.port ?? 0 },
    peers: options.peers ?? [],
    limits: { ...quickLimits, ...options.limits },
    log: (level, message, fields) => void logs.push({ level, message, fields }),
    onMessage: (from, payload) => void received.push({ from, payload: new Uint8Array(payload) }),
    onPeerUp: (r) => void ups.push(r),
    onPeerDown: (r) => void downs.push(r)
  }
  const manager = await Effect.runPromise(PeerManager.start(config))
  return { id, manager, received, logs, ups, downs }
}

export const entryOf = (node: TestNode, address: string = node.manager.address): PeerEntry => ({
  replica: node.id.replica,
  identityKey: node.id.publicKey,
  address
})

/** Polls `condition` every few milliseconds; rejects naming `what` after `timeoutMs`. */
export const waitFor = async (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A port on loopback where nothing listens (bound, then released). */
export const deadPort = async (): Promise<number> => {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, loopback, () => r()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

export const closeCount = (node: TestNode, tag: CloseTag): number => node.manager.metrics.closes[tag]

/** A message payload carrying (sender, counter), padded to `size` bytes. */
export const numbered = (sender: number, counter: number, size = 32): Uint8Array => {
  const b = new Uint8Array(Math.max(size, 8))
  const v = new DataView(b.buffer)
  v.setUint32(0, sender)
  v.setUint32(4, counter)
  for (let i = 8; i < b.length; i++) b[i] = (sender * 31 + counter + i) & 0xff
  return b
}

export const readNumbered = (b: Uint8Array): { readonly sender: number; readonly counter: number } => {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return { sender: v.getUint32(0), counter: v.getUint32(4) }
}

/**
 * What the proxy does with the frames going from client to server, by index (0 = HELLO,
 * 1 = FINISH, 2 and on = channel frames): pass them on, or replace them with other frames.
 */
export type FrameRewrite = (index: number, body: Uint8Array) => ReadonlyArray<Uint8Array>

export interface Proxy {
  readonly port: number
  readonly close: () => Promise<void>
}

/** A TCP proxy to `targetPort` that re-frames the client-to-server stream through `rewrite`. */
export const startProxy = async (targetPort: number, rewrite: FrameRewrite): Promise<Proxy> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: loopback, port: targetPort })
    sockets.add(client)
    sockets.add(upstream)
    const decoder = new FrameDecoder(1 << 24)
    let index = 0
    client.on("data", (chunk: Buffer) => {
      decoder.push(chunk, (body) => {
        for (const out of rewrite(index, body)) upstream.write(encodeFrame(out))
        index++
      })
    })
    upstream.on("data", (chunk: Buffer) => client.write(chunk))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on("error", end)
    upstream.on("error", end)
    client.on("close", end)
    upstream.on("close", end)
  })
  await new Promise<void>((r) => server.listen(0, loopback, () => r()))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  }
}

/**
 * A hand-driven initiator over a raw socket: it completes the handshake with `server` and then
 * lets the test write any bytes, sealed or not.
 */
export interface RawClient {
  readonly socket: net.Socket
  readonly sealer: FrameSealer
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
}

export const rawHandshake = async (port: number, self: TestIdentity, server: TestIdentity): Promise<RawClient> => {
  const socket = net.connect({ host: loopback, port })
  let closedFlag = false
  const closed = new Promise<void>((resolve) => {
    socket.on("close", () => {
      closedFlag = true
      resolve()
    })
  })
  socket.on("error", () => {})
  const { state, hello } = initiatorStart(chainId, { secretKey: self.secretKey, publicKey: self.publicKey }, knownPeer(server))
  socket.write(encodeFrame(hello))
  const reply = await new Promise<Uint8Array>((resolve, reject) => {
    const decoder = new FrameDecoder(1024)
    const onData = (chunk: Buffer) =>
      decoder.push(chunk, (body) => {
        socket.off("data", onData)
        resolve(new Uint8Array(body))
        return false
      })
    socket.on("data", onData)
    socket.once("close", () => reject(new Error("closed during the handshake")))
  })
  const r = initiatorOnReply(state, reply)
  if (Either.isLeft(r)) throw new Error(`handshake failed: ${r.left._tag}`)
  socket.write(encodeFrame(r.right.finish))
  // Keep reading (and discarding) what the server sends, so its writes never block.
  socket.on("data", () => {})
  return { socket, sealer: new FrameSealer(r.right.session.sendKey), closed, isClosed: () => closedFlag }
}

/** Connects a raw socket, writes `bytes`, and resolves when the other side has closed it. */
export const sendGarbage = (port: number, bytes: Uint8Array): Promise<void> =>
  new Promise<void>((resolve) => {
    const socket = net.connect({ host: loopback, port }, () => socket.write(bytes))
    socket.on("error", () => {})
    socket.on("data", () => {})
    socket.on("close", () => resolve())
  })
