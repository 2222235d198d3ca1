/**
 * Authenticated channels: one TCP connection, the handshake of handshake.ts, then MAC'd frames.
 *
 * After the handshake every frame body (inside the u32 length prefix of framing.ts) is
 *
 *   seq (u64 big-endian) || payload || tag,   tag = first 16 bytes of HMAC-SHA256(K_dir, seq || payload)
 *
 * K_dir is the session key of the frame's direction (K_i2r or K_r2i, see handshake.ts). seq
 * counts the frames of one direction of one connection: 0, 1, 2, ... The receiver computes the
 * MAC first, then requires seq to be exactly the next number; a bad MAC (BadMac), a replayed or
 * reordered frame (Replay), or a body shorter than 24 bytes (Malformed) closes the connection.
 * Keys are fresh for every connection, so a frame recorded on one connection never verifies on
 * another. The tag is HMAC-SHA256 truncated to 128 bits: a forger gets one guess per connection,
 * since the first failure closes it. A frame with an empty payload is a heartbeat: it proves
 * liveness and is not delivered.
 *
 * The channel provides authenticity, integrity and ordering, not confidentiality: payloads are
 * sent in the clear. The protocol's messages are public to the members anyway; what matters is
 * who sent them and that they arrive unaltered.
 *
 * A Connection never throws on what the peer sends and leaves no 'error' event unhandled: every
 * failure ends in `fail`, which destroys the socket, counts the reason in NetMetrics, logs it and
 * reports it to the owner through `onClose`.
 */
import { Either } from "effect"
import type { KeyObject } from "node:crypto"
import { createHmac, createSecretKey, timingSafeEqual } from "node:crypto"
import type { Socket } from "node:net"
import type { CloseError, SendError } from "./errors.ts"
import { BadMac, FrameTooLarge, Malformed, NotConnected, PeerClosed, Replay, SocketError, Timeout } from "./errors.ts"
import { FrameDecoder, FrameWriter } from "./framing.ts"
import type { HandshakeSecrets, Identity, InitiatorState, KnownPeer, ResponderState, Session } from "./handshake.ts"
import { initiatorOnReply, initiatorStart, responderOnFinish, responderOnHello } from "./handshake.ts"
import type { NetLimits } from "./limits.ts"
import type { NetLog, NetLogFields, NetLogLevel } from "./metrics.ts"
import type { NetMetrics } from "./metrics.ts"

/** Bytes of the sequence number. */
export const seqBytes = 8
/** Bytes of the MAC tag (HMAC-SHA256 truncated). */
export const macBytes = 16

const TWO_32 = 0x1_0000_0000

const readU32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0

const writeSeq = (b: Uint8Array, at: number, seq: number): void => {
  const hi = Math.floor(seq / TWO_32)
  const lo = seq >>> 0
  b[at] = hi >>> 24
  b[at + 1] = (hi >>> 16) & 0xff
  b[at + 2] = (hi >>> 8) & 0xff
  b[at + 3] = hi & 0xff
  b[at + 4] = lo >>> 24
  b[at + 5] = (lo >>> 16) & 0xff
  b[at + 6] = (lo >>> 8) & 0xff
  b[at + 7] = lo & 0xff
}

const readSeq = (b: Uint8Array): bigint => (BigInt(readU32(b, 0)) << 32n) | BigInt(readU32(b, 4))

/** Adds seq and MAC to the frames of one direction. */
export class FrameSealer {
  private readonly key: KeyObject
  /** The seq of the next frame (a safe integer: 2^53 frames is centuries at any rate). */
  nextSeq = 0

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key)
  }

  /** Body length of the frame carrying `payloadLength` bytes. */
  static bodyLength(payloadLength: number): number {
    return seqBytes + payloadLength + macBytes
  }

  /** Writes the frame body of `payload` at `buffer[at..at + bodyLength)`. */
  sealInto(buffer: Uint8Array, at: number, payload: Uint8Array): void {
    writeSeq(buffer, at, this.nextSeq)
    buffer.set(payload, at + seqBytes)
    const macAt = at + seqBytes + payload.length
    const tag = createHmac("sha256", this.key).update(buffer.subarray(at, macAt)).digest()
    buffer.set(tag.subarray(0, macBytes), macAt)
    this.nextSeq++
  }

  /** The frame body of `payload`, as a new array. */
  seal(payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(FrameSealer.bodyLength(payload.length))
    this.sealInto(out, 0, payload)
    return out
  }
}

/** Checks seq and MAC of the frames of one direction. */
export class FrameOpener {
  private readonly key: KeyObject
  /** The seq the next frame must carry. */
  expectedSeq = 0

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key)
  }

  /** The payload (a view of `body`), or why the frame is refused. */
  open(body: Uint8Array): Uint8Array | BadMac | Replay | Malformed {
    if (body.length < seqBytes + macBytes) return new Malformed({ reason: `a channel frame of ${body.length} bytes is shorter than seq and MAC` })
    const macAt = body.length - macBytes
    const tag = createHmac("sha256", this.key).update(body.subarray(0, macAt)).digest()
    if (!timingSafeEqual(tag.subarray(0, macBytes), body.subarray(macAt))) return new BadMac({ seq: readSeq(body) })
    const expected = this.expectedSeq
    if (readU32(body, 0) !== Math.floor(expected / TWO_32) || readU32(body, 4) !== expected >>> 0)
      return new Replay({ expected: BigInt(expected), got: readSeq(body) })
    this.expectedSeq = expected + 1
    return body.subarray(seqBytes, macAt)
  }
}

/** What a connection needs from its owner. */
export interface ChannelContext {
  readonly chainId: string
  readonly identity: Identity
  readonly limits: NetLimits
  readonly metrics: NetMetrics
  readonly log: NetLog
}

export interface ConnectionHandlers {
  /** The handshake succeeded; `conn.peer` is the authenticated peer. */
  readonly onOpen: (conn: Connection) => void
  /** A verified payload from `conn.peer`, in the order sent. */
  readonly onMessage: (conn: Connection, payload: Uint8Array) => void
  /** The connection is closed: `error` says why, undefined when this side closed it. Called once. */
  readonly onClose: (conn: Connection, error: CloseError | undefined) => void
}

export type ConnectionRole = "initiator" | "responder"

type Phase =
  | { readonly _tag: "AwaitReply"; readonly state: InitiatorState }
  | { readonly _tag: "AwaitHello"; readonly lookup: (identityKey: Uint8Array) => KnownPeer | undefined; readonly secrets: HandshakeSecrets | undefined }
  | { readonly _tag: "AwaitFinish"; readonly state: ResponderState }
  | { readonly _tag: "Open" }
  | { readonly _tag: "Closed" }

const logLevelOf = (error: CloseError): NetLogLevel =>
  error._tag === "PeerClosed" ? "debug" : error._tag === "SocketError" ? "info" : "warn"

const errorFields = (error: CloseError): NetLogFields => {
  const out: Record<string, string | number | bigint | boolean> = {}
  for (const [k, v] of Object.entries(error)) {
    if (k === "_tag") continue
    if (typeof v === "string" || typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") out[k] = v
  }
  return out
}

export class Connection {
  /**
   * The peer: for an initiator the one it dialed (authenticated once open); for a responder
   * undefined until the handshake has authenticated it.
   */
  peer: KnownPeer | undefined
  private phase: Phase
  private readonly decoder: FrameDecoder
  private readonly writer: FrameWriter
  private sealer: FrameSealer | undefined
  private opener: FrameOpener | undefined
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  private sentSinceTick = false
  private receivedSinceTick = false
  private idleTicks = 0

  private constructor(
    readonly socket: Socket,
    readonly role: ConnectionRole,
    private readonly ctx: ChannelContext,
    private readonly handlers: ConnectionHandlers,
    phase: Phase,
    expected: KnownPeer | undefined
  ) {
    this.phase = phase
    this.peer = expected
    this.decoder = new FrameDecoder(ctx.limits.handshakeFrameBytesMax)
    this.writer = new FrameWriter(socket, { queueBytesMax: ctx.limits.sendQueueBytesMax, segmentBytes: ctx.limits.writeSegmentBytes })
    socket.setNoDelay(true)
    socket.on("data", this.onData)
    socket.on("error", this.onSocketError)
    socket.on("end", this.onEnd)
    socket.on("close", this.onEnd)
    this.handshakeTimer = setTimeout(this.onHandshakeTimeout, ctx.limits.handshakeTimeoutMs)
    this.handshakeTimer.unref()
  }

  /**
   * Runs the initiator's side on `socket` (connected or still connecting) towards `expected`:
   * sends HELLO at once; the channel opens when a valid REPLY arrives.
   */
  static initiate(
    socket: Socket,
    ctx: ChannelContext,
    expected: KnownPeer,
    handlers: ConnectionHandlers,
    secrets?: HandshakeSecrets
  ): Connection {
    const { state, hello } = initiatorStart(ctx.chainId, ctx.identity, expected, secrets)
    const conn = new Connection(socket, "initiator", ctx, handlers, { _tag: "AwaitReply", state }, expected)
    conn.writer.enqueue(hello)
    return conn
  }

  /** Runs the responder's side on an accepted `socket`; `lookup` says which identities are peers. */
  static accept(
    socket: Socket,
    ctx: ChannelContext,
    lookup: (identityKey: Uint8Array) => KnownPeer | undefined,
    handlers: ConnectionHandlers,
    secrets?: HandshakeSecrets
  ): Connection {
    return new Connection(socket, "responder", ctx, handlers, { _tag: "AwaitHello", lookup, secrets }, undefined)
  }

  get isOpen(): boolean {
    return this.phase._tag === "Open"
  }

  get isClosed(): boolean {
    return this.phase._tag === "Closed"
  }

  /** `host:port` of the other end, for logs. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? "?"}:${this.socket.remotePort ?? "?"}`
  }

  /** Bytes waiting to be written (queued here and buffered in the socket). */
  get pendingBytes(): number {
    return this.writer.queuedBytes + this.socket.writableLength
  }

  /**
   * Queues `payload` as the next frame; it is written with everything else queued in this turn of
   * the event loop. An empty payload is a heartbeat and is not delivered. Refusals leave the
   * connection open.
   */
  send(payload: Uint8Array): SendError | undefined {
    const metrics = this.ctx.metrics
    if (this.phase._tag !== "Open" || this.sealer === undefined) {
      const e = new NotConnected({ peer: this.peer?.replica ?? -1 })
      metrics.countRefusal(e)
      return e
    }
    const bodyLength = FrameSealer.bodyLength(payload.length)
    if (bodyLength > this.ctx.limits.frameBytesMax) {
      const e = new FrameTooLarge({ bytes: bodyLength, max: this.ctx.limits.frameBytesMax })
      metrics.countRefusal(e)
      return e
    }
    const at = this.writer.reserve(bodyLength)
    if (typeof at !== "number") {
      metrics.countRefusal(at)
      return at
    }
    this.sealer.sealInto(this.writer.segment, at, payload)
    this.sentSinceTick = true
    metrics.framesSent++
    metrics.payloadBytesSent += payload.length
    return undefined
  }

  /** Writes what is queued now rather than at the end of this turn. */
  flush(): void {
    this.writer.flush()
  }

  /**
   * Closes by this side's choice: writes what is queued, half-closes, and destroys the socket if
   * the peer has not closed within closeLingerMs. Not counted as an error.
   */
  close(): void {
    if (this.phase._tag === "Closed") return
    this.phase = { _tag: "Closed" }
    this.stopTimers()
    this.decoder.stop()
    this.writer.flush()
    this.writer.close()
    const socket = this.socket
    const linger = setTimeout(() => socket.destroy(), this.ctx.limits.closeLingerMs)
    linger.unref()
    socket.once("close", () => clearTimeout(linger))
    socket.end()
    this.handlers.onClose(this, undefined)
  }

  /** Closes at once for `error`: counted, logged, reported. */
  fail(error: CloseError): void {
    if (this.phase._tag === "Closed") return
    this.phase = { _tag: "Closed" }
    this.stopTimers()
    this.decoder.stop()
    this.writer.close()
    this.socket.destroy()
    this.ctx.metrics.countClose(error)
    this.ctx.log(logLevelOf(error), `connection closed: ${error._tag}`, {
      role: this.role,
      peer: this.peer?.replica,
      remote: this.remote,
      ...errorFields(error)
    })
    this.handlers.onClose(this, error)
  }

  private stopTimers(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer)
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer)
    this.handshakeTimer = undefined
    this.heartbeatTimer = undefined
  }

  private readonly onSocketError = (e: Error & { code?: string }): void => {
    this.fail(new SocketError({ code: typeof e.code === "string" ? e.code : "UNKNOWN", detail: e.message }))
  }

  private readonly onEnd = (): void => {
    this.fail(new PeerClosed())
  }

  private readonly onHandshakeTimeout = (): void => {
    this.fail(new Timeout({ phase: "handshake", ms: this.ctx.limits.handshakeTimeoutMs }))
  }

  private readonly onHeartbeatTick = (): void => {
    if (this.receivedSinceTick) this.idleTicks = 0
    else if (++this.idleTicks * this.ctx.limits.heartbeatIntervalMs >= this.ctx.limits.idleTimeoutMs) {
      this.fail(new Timeout({ phase: "idle", ms: this.ctx.limits.idleTimeoutMs }))
      return
    }
    this.receivedSinceTick = false
    if (!this.sentSinceTick && this.send(new Uint8Array(0)) === undefined) this.ctx.metrics.heartbeatsSent++
    this.sentSinceTick = false
  }

  private readonly onData = (chunk: Buffer): void => {
    const error = this.decoder.push(chunk, this.onFrame)
    if (error !== undefined) this.fail(error)
  }

  private readonly onFrame = (body: Uint8Array): boolean => {
    const phase = this.phase
    switch (phase._tag) {
      case "Open": {
        const payload = this.opener!.open(body)
        if (!(payload instanceof Uint8Array)) {
          this.fail(payload)
          return false
        }
        this.receivedSinceTick = true
        const metrics = this.ctx.metrics
        metrics.framesReceived++
        if (payload.length === 0) return true
        metrics.payloadBytesReceived += payload.length
        this.handlers.onMessage(this, payload)
        return this.phase._tag === "Open"
      }
      case "AwaitReply": {
        const r = initiatorOnReply(phase.state, body)
        if (Either.isLeft(r)) {
          this.fail(r.left)
          return false
        }
        this.writer.enqueue(r.right.finish)
        return this.becomeOpen(r.right.session)
      }
      case "AwaitHello": {
        const r = responderOnHello(this.ctx.chainId, this.ctx.identity, phase.lookup, body, phase.secrets)
        if (Either.isLeft(r)) {
          this.fail(r.left)
          return false
        }
        this.phase = { _tag: "AwaitFinish", state: r.right.state }
        this.writer.enqueue(r.right.reply)
        return true
      }
      case "AwaitFinish": {
        const r = responderOnFinish(phase.state, body)
        if (Either.isLeft(r)) {
          this.fail(r.left)
          return false
        }
        return this.becomeOpen(r.right)
      }
      case "Closed":
        return false
    }
  }

  private becomeOpen(session: Session): boolean {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer)
    this.handshakeTimer = undefined
    this.peer = session.peer
    this.sealer = new FrameSealer(session.sendKey)
    this.opener = new FrameOpener(session.receiveKey)
    this.decoder.frameBytesMax = this.ctx.limits.frameBytesMax
    this.phase = { _tag: "Open" }
    this.heartbeatTimer = setInterval(this.onHeartbeatTick, this.ctx.limits.heartbeatIntervalMs)
    this.heartbeatTimer.unref()
    this.ctx.metrics.handshakesCompleted++
    this.ctx.log("debug", "channel open", { role: this.role, peer: session.peer.replica, remote: this.remote })
    this.handlers.onOpen(this)
    return this.phase._tag === "Open"
  }
}
