/**
 * The peer manager: one authenticated channel per peer, kept up.
 *
 * - It listens on a configured address and authenticates every inbound connection (the peer must
 *   be in the current peer set); at most inboundPendingMax handshakes run at once.
 * - It dials every peer it has no channel with, and after a loss redials with exponential
 *   backoff: delay = min(reconnectMaxMs, reconnectBaseMs * 2^attempt), of which a random half is
 *   taken off (jitter), so that peers that lost each other do not redial in lockstep. The replica
 *   with the higher id waits higherIdDialDelayMs more before each dial, so the lower id usually
 *   connects first and only one connection is ever made.
 * - When both sides did connect, each side keeps one connection by the same rule: the one dialed
 *   by the lower replica id; between two dialed by the same replica, the newer (its dialer has
 *   given up on the older). Both sides reach the same choice without talking.
 * - Messages are delivered only from the kept connection, so a peer's messages are delivered in
 *   the order it sent them; messages in flight on a connection being dropped may be lost, as on
 *   any loss of a connection (the protocol retransmits what it needs).
 *
 * Sending never blocks and never throws: `send` returns a typed refusal (NotConnected, QueueFull,
 * FrameTooLarge). A peer's misbehaviour closes that peer's connection only (see channel.ts).
 */
import { Effect, Either, Queue, Runtime } from "effect"
import type { Scope } from "effect"
import * as net from "node:net"
import { toHex } from "../chain/bytes.ts"
import { nodeCrypto } from "../services/crypto.ts"
import type { ChannelContext, ConnectionHandlers, ConnectionRole } from "./channel.ts"
import { Connection } from "./channel.ts"
import type { CloseError, SendError } from "./errors.ts"
import { BadAddress, ListenFailed, NotConnected } from "./errors.ts"
import type { KnownPeer } from "./handshake.ts"
import type { InvalidNetLimits, NetLimits } from "./limits.ts"
import { resolveNetLimits } from "./limits.ts"
import type { NetLog } from "./metrics.ts"
import { NetMetrics, stderrLog } from "./metrics.ts"

/** A peer as a view record lists it (the shape of Member, without the view key). */
export interface PeerEntry {
  readonly replica: number
  readonly identityKey: Uint8Array
  /** `host:port`; an IPv6 host in brackets. */
  readonly address: string
}

export interface PeerManagerConfig {
  readonly chainId: string
  /** This replica's id and identity secret (the 32-byte Ed25519 seed). */
  readonly replica: number
  readonly identitySecret: Uint8Array
  /** Where to listen; port 0 picks a free port (see `PeerManager.port`). */
  readonly listen: { readonly host: string; readonly port: number }
  /** The peers; an entry for this replica itself is ignored. */
  readonly peers: ReadonlyArray<PeerEntry>
  readonly limits?: Partial<NetLimits>
  /** Defaults to warnings on standard error. */
  readonly log?: NetLog
  /** Each verified message, with the authenticated sender. The payload may view a larger buffer. */
  readonly onMessage: (from: number, payload: Uint8Array) => void
  /** A channel with `replica` is now up (there was none). */
  readonly onPeerUp?: (replica: number) => void
  /** The channel with `replica` is gone and none replaces it yet. */
  readonly onPeerDown?: (replica: number) => void
  /** Uniform in [0, 1), for the backoff jitter; Math.random by default. */
  readonly random?: () => number
}

export type StartError = ListenFailed | InvalidNetLimits | BadAddress

interface Slot {
  readonly entry: PeerEntry
  readonly known: KnownPeer
  readonly host: string
  readonly port: number
  /** The kept channel. */
  active: Connection | undefined
  /** The outbound connection being set up. */
  dialing: Connection | undefined
  attempts: number
  timer: ReturnType<typeof setTimeout> | undefined
}

/** Splits `host:port` (or `[v6]:port`); the port must be 1..65535. */
export const parseAddress = (address: string): Either.Either<{ readonly host: string; readonly port: number }, BadAddress> => {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 1 && port <= 65535)) return Either.left(new BadAddress({ address }))
  return Either.right({ host: m[1] ?? m[2]!, port })
}

const backoffExponentMax = 30

/**
 * The delay before redialing after `attempts` failed attempts: a ceiling of
 * min(reconnectMaxMs, reconnectBaseMs * 2^attempts), of which `u` (uniform in [0, 1)) picks a
 * point in the upper half; plus higherIdDialDelayMs for the replica with the higher id.
 */
export const reconnectDelayMs = (
  limits: Pick<NetLimits, "reconnectBaseMs" | "reconnectMaxMs" | "higherIdDialDelayMs">,
  attempts: number,
  u: number,
  higherId: boolean
): number => {
  const ceiling = Math.min(limits.reconnectMaxMs, limits.reconnectBaseMs * 2 ** Math.min(attempts, backoffExponentMax))
  const delay = Math.floor(ceiling / 2 + u * (ceiling / 2))
  return higherId ? delay + limits.higherIdDialDelayMs : delay
}

export class PeerManager {
  readonly metrics = new NetMetrics()
  private readonly slots = new Map<number, Slot>()
  private readonly byIdentity = new Map<string, Slot>()
  private readonly pending = new Set<Connection>()
  private readonly connections = new Set<Connection>()
  private readonly ctx: ChannelContext
  private readonly random: () => number
  private closed = false
  private closing: Promise<void> | undefined

  private constructor(
    private readonly config: PeerManagerConfig,
    readonly limits: NetLimits,
    private readonly server: net.Server
  ) {
    this.random = config.random ?? Math.random
    this.ctx = {
      chainId: config.chainId,
      identity: { secretKey: config.identitySecret, publicKey: nodeCrypto.publicKeyFromSecret(config.identitySecret) },
      limits,
      metrics: this.metrics,
      log: config.log ?? stderrLog
    }
    server.on("connection", this.onInbound)
    server.on("error", (e: Error) => this.ctx.log("warn", "listening socket error", { detail: e.message }))
  }

  /** Listens, then dials the configured peers. Close it with `close`. */
  static start(config: PeerManagerConfig): Effect.Effect<PeerManager, StartError> {
    return Effect.gen(function* () {
      const limits = yield* resolveNetLimits(config.limits)
      for (const p of config.peers) yield* parseAddress(p.address)
      const server = net.createServer()
      yield* Effect.async<void, ListenFailed>((resume) => {
        const onError = (e: Error) => resume(Effect.fail(new ListenFailed({ host: config.listen.host, port: config.listen.port, detail: e.message })))
        server.once("error", onError)
        server.listen(config.listen.port, config.listen.host, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      })
      const manager = new PeerManager(config, limits, server)
      manager.setPeers(config.peers)
      return manager
    })
  }

  /** `start`, closed when the scope closes. */
  static scoped(config: PeerManagerConfig): Effect.Effect<PeerManager, StartError, Scope.Scope> {
    return Effect.acquireRelease(PeerManager.start(config), (m) => Effect.promise(() => m.close()))
  }

  get replica(): number {
    return this.config.replica
  }

  /** The port actually listened on. */
  get port(): number {
    const a = this.server.address()
    return a !== null && typeof a === "object" ? a.port : 0
  }

  /** `host:port` of the listening socket. */
  get address(): string {
    const host = this.config.listen.host
    return `${host.includes(":") ? `[${host}]` : host}:${this.port}`
  }

  /** Peers with an open channel now. */
  connectedPeers(): Array<number> {
    const out: Array<number> = []
    for (const [r, s] of this.slots) if (s.active !== undefined) out.push(r)
    return out.sort((a, b) => a - b)
  }

  /** Whether this side dialed the kept channel with `replica` ("initiator") or accepted it. */
  connectionRole(replica: number): ConnectionRole | undefined {
    return this.slots.get(replica)?.active?.role
  }

  isConnected(replica: number): boolean {
    return this.slots.get(replica)?.active !== undefined
  }

  /**
   * Replaces the peer set (a new view). New peers are dialed; removed peers, and peers whose key
   * or address changed, are disconnected. Nothing changes if an address does not parse.
   */
  setPeers(peers: ReadonlyArray<PeerEntry>): BadAddress | undefined {
    const next = new Map<number, { entry: PeerEntry; host: string; port: number }>()
    for (const entry of peers) {
      if (entry.replica === this.config.replica) continue
      const a = parseAddress(entry.address)
      if (Either.isLeft(a)) return a.left
      next.set(entry.replica, { entry, ...a.right })
    }
    for (const [replica, slot] of [...this.slots]) {
      const n = next.get(replica)
      if (n !== undefined && n.entry.address === slot.entry.address && toHex(n.entry.identityKey) === toHex(slot.entry.identityKey)) continue
      this.removeSlot(slot)
    }
    if (this.closed) return undefined
    for (const [replica, n] of next) {
      if (this.slots.has(replica)) continue
      const slot: Slot = {
        entry: n.entry,
        known: { replica, identityKey: n.entry.identityKey },
        host: n.host,
        port: n.port,
        active: undefined,
        dialing: undefined,
        attempts: 0,
        timer: undefined
      }
      this.slots.set(replica, slot)
      this.byIdentity.set(toHex(n.entry.identityKey), slot)
      this.scheduleDial(slot, this.config.replica < replica ? 0 : this.limits.higherIdDialDelayMs)
    }
    return undefined
  }

  /** Queues `payload` for `to`. A refusal is returned (and counted); the message is then not sent. */
  send(to: number, payload: Uint8Array): SendError | undefined {
    const conn = this.slots.get(to)?.active
    if (conn === undefined) {
      const e = new NotConnected({ peer: to })
      this.metrics.countRefusal(e)
      return e
    }
    return conn.send(payload)
  }

  /**
   * Closes the kept channel with `replica` for a violation found above the channel layer (a
   * payload that does not decode, say): counted, logged and redialed like any other close.
   */
  reject(replica: number, error: CloseError): void {
    this.slots.get(replica)?.active?.fail(error)
  }

  /** Queues `payload` for every connected peer; returns how many accepted it. */
  broadcast(payload: Uint8Array): number {
    let n = 0
    for (const slot of this.slots.values()) if (slot.active !== undefined && slot.active.send(payload) === undefined) n++
    return n
  }

  /** Stops listening and dialing and closes every connection. Resolves when the listening socket is closed. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closed = true
    for (const slot of this.slots.values()) if (slot.timer !== undefined) clearTimeout(slot.timer)
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      for (const conn of [...this.connections]) conn.close()
    })
    return this.closing
  }

  private removeSlot(slot: Slot): void {
    this.slots.delete(slot.known.replica)
    this.byIdentity.delete(toHex(slot.known.identityKey))
    if (slot.timer !== undefined) clearTimeout(slot.timer)
    slot.timer = undefined
    const wasUp = slot.active !== undefined
    slot.dialing?.close()
    slot.active?.close()
    slot.dialing = undefined
    slot.active = undefined
    if (wasUp) this.config.onPeerDown?.(slot.known.replica)
  }

  private backoffMs(slot: Slot): number {
    const delay = reconnectDelayMs(this.limits, slot.attempts, this.random(), this.config.replica > slot.known.replica)
    slot.attempts++
    return delay
  }

  private scheduleDial(slot: Slot, delayMs: number): void {
    if (this.closed || slot.timer !== undefined || slot.active !== undefined || slot.dialing !== undefined) return
    slot.timer = setTimeout(() => this.dial(slot), delayMs)
    slot.timer.unref()
  }

  private dial(slot: Slot): void {
    slot.timer = undefined
    if (this.closed || this.slots.get(slot.known.replica) !== slot || slot.active !== undefined || slot.dialing !== undefined) return
    this.metrics.connectionsDialed++
    const socket = net.connect({ host: slot.host, port: slot.port })
    const conn = Connection.initiate(socket, this.ctx, slot.known, this.handlers)
    slot.dialing = conn
    this.connections.add(conn)
  }

  private readonly lookup = (identityKey: Uint8Array): KnownPeer | undefined => this.byIdentity.get(toHex(identityKey))?.known

  private readonly onInbound = (socket: net.Socket): void => {
    if (this.closed || this.pending.size >= this.limits.inboundPendingMax) {
      this.metrics.inboundRefused++
      socket.on("error", () => {})
      socket.destroy()
      return
    }
    this.metrics.connectionsAccepted++
    const conn = Connection.accept(socket, this.ctx, this.lookup, this.handlers)
    this.pending.add(conn)
    this.connections.add(conn)
  }

  /** The connection to keep of two open ones with the same peer. */
  private preferred(a: Connection, b: Connection): Connection {
    const dialerOf = (c: Connection): number => (c.role === "initiator" ? this.config.replica : c.peer!.replica)
    const da = dialerOf(a)
    const db = dialerOf(b)
    if (da !== db) return da < db ? a : b
    return b
  }

  private readonly handlers: ConnectionHandlers = {
    onOpen: (conn) => {
      this.pending.delete(conn)
      const peer = conn.peer!
      const slot = this.slots.get(peer.replica)
      if (slot === undefined || toHex(slot.known.identityKey) !== toHex(peer.identityKey)) {
        conn.close()
        return
      }
      if (slot.dialing === conn) slot.dialing = undefined
      slot.attempts = 0
      const current = slot.active
      if (current === undefined) {
        slot.active = conn
        this.config.onPeerUp?.(peer.replica)
        return
      }
      this.metrics.duplicatesClosed++
      if (this.preferred(current, conn) === conn) {
        slot.active = conn
        current.close()
      } else conn.close()
    },
    onMessage: (conn, payload) => {
      const peer = conn.peer!
      if (this.slots.get(peer.replica)?.active === conn) this.config.onMessage(peer.replica, payload)
      else this.metrics.messagesDroppedInactive++
    },
    onClose: (conn, _error: CloseError | undefined) => {
      this.connections.delete(conn)
      this.pending.delete(conn)
      if (this.closed || conn.peer === undefined) return
      const slot = this.slots.get(conn.peer.replica)
      if (slot === undefined) return
      let lost = false
      if (slot.dialing === conn) {
        slot.dialing = undefined
        lost = true
      }
      if (slot.active === conn) {
        slot.active = undefined
        lost = true
        this.config.onPeerDown?.(slot.known.replica)
      }
      if (lost && slot.active === undefined && slot.dialing === undefined) this.scheduleDial(slot, this.backoffMs(slot))
    }
  }
}

/** A NetLog that writes to the Effect logger of the calling fiber's runtime, fields as annotations. */
export const effectNetLog: Effect.Effect<NetLog> = Effect.map(Effect.runtime<never>(), (runtime) => {
  const runSync = Runtime.runSync(runtime)
  return (level, message, fields) => {
    const line = level === "warn" ? Effect.logWarning(message) : level === "info" ? Effect.logInfo(message) : Effect.logDebug(message)
    const annotations: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) annotations[k] = typeof v === "bigint" ? v.toString() : v
    runSync(Effect.annotateLogs(line, annotations))
  }
})

/** A message as the inbox holds it. */
export interface InboundMessage {
  readonly from: number
  readonly payload: Uint8Array
}

/**
 * A scoped peer manager whose messages go to a dropping queue of `capacity` (a full queue drops
 * new messages, as a congested link would) and whose log lines go to the Effect logger.
 */
export const peerManagerWithInbox = (
  config: Omit<PeerManagerConfig, "onMessage" | "log">,
  capacity: number
): Effect.Effect<{ readonly manager: PeerManager; readonly inbox: Queue.Dequeue<InboundMessage> }, StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const inbox = yield* Queue.dropping<InboundMessage>(capacity)
    const log = yield* effectNetLog
    const manager = yield* PeerManager.scoped({ ...config, log, onMessage: (from, payload) => void inbox.unsafeOffer({ from, payload }) })
    return { manager, inbox }
  })
