/**
 * The named limits of the TCP channel layer. Every buffer, queue and wait of src/net is bounded by
 * one of these. `frameBytesMax` normally comes from genesis (Limits.frameBytesMax); the rest are
 * operational defaults that a deployment may override.
 */
import { Either, Schema } from "effect"
import { defaultLimits } from "../core/limits.ts"

export interface NetLimits {
  /** Largest channel frame, counting its body only (seq + payload + MAC, not the length prefix). */
  readonly frameBytesMax: number
  /** Largest handshake frame; the handshake messages are at most 162 bytes. */
  readonly handshakeFrameBytesMax: number
  /**
   * Most bytes one connection holds waiting to be written: frames queued for the next flush plus
   * what the socket has accepted but not yet handed to the kernel. A send beyond it is refused.
   */
  readonly sendQueueBytesMax: number
  /** Size of the buffers frames are packed into; one flush writes them all in one system call. */
  readonly writeSegmentBytes: number
  /** From the start of a connection (connect included) to an authenticated channel. */
  readonly handshakeTimeoutMs: number
  /** An open channel that receives nothing (not even a heartbeat) for this long is closed. */
  readonly idleTimeoutMs: number
  /** A channel that has sent nothing for this long sends an empty heartbeat frame. */
  readonly heartbeatIntervalMs: number
  /** First reconnection delay; it doubles with each failed attempt. */
  readonly reconnectBaseMs: number
  /** Ceiling of the reconnection delay. */
  readonly reconnectMaxMs: number
  /**
   * Extra delay before the replica with the higher id dials a peer it has no connection with, so
   * that the lower id (whose connection is kept when both dial) usually connects first.
   */
  readonly higherIdDialDelayMs: number
  /** Most inbound connections still in their handshake; further ones are refused at once. */
  readonly inboundPendingMax: number
  /** After a graceful local close, the socket is destroyed if the peer has not closed by then. */
  readonly closeLingerMs: number
}

/** Bytes a channel frame adds around its payload: the sequence number and the MAC. */
export const channelOverheadBytes = 8 + 16

export const defaultNetLimits: NetLimits = {
  frameBytesMax: defaultLimits.frameBytesMax,
  handshakeFrameBytesMax: 256,
  sendQueueBytesMax: 16 << 20,
  writeSegmentBytes: 64 << 10,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 15_000,
  heartbeatIntervalMs: 5_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 5_000,
  higherIdDialDelayMs: 250,
  inboundPendingMax: 64,
  closeLingerMs: 2_000
}

/** Limits that cannot work together, e.g. a send queue smaller than one frame. */
export class InvalidNetLimits extends Schema.TaggedError<InvalidNetLimits>()("InvalidNetLimits", {
  reason: Schema.String
}) {}

/** The defaults with `overrides` applied, checked for consistency. */
export const resolveNetLimits = (overrides: Partial<NetLimits> = {}): Either.Either<NetLimits, InvalidNetLimits> => {
  const l: NetLimits = { ...defaultNetLimits, ...overrides }
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value < 0) return Either.left(new InvalidNetLimits({ reason: `${name} must be a non-negative integer, got ${value}` }))
  }
  if (l.frameBytesMax < channelOverheadBytes)
    return Either.left(new InvalidNetLimits({ reason: `frameBytesMax must be at least ${channelOverheadBytes}` }))
  if (l.frameBytesMax > 0xffff_ffff) return Either.left(new InvalidNetLimits({ reason: "frameBytesMax must fit the u32 length prefix" }))
  if (l.handshakeFrameBytesMax < 162) return Either.left(new InvalidNetLimits({ reason: "handshakeFrameBytesMax must be at least 162" }))
  if (l.sendQueueBytesMax < l.frameBytesMax + 4)
    return Either.left(new InvalidNetLimits({ reason: "sendQueueBytesMax must hold at least one frame of frameBytesMax" }))
  if (l.writeSegmentBytes < 64) return Either.left(new InvalidNetLimits({ reason: "writeSegmentBytes must be at least 64" }))
  if (l.heartbeatIntervalMs === 0 || l.heartbeatIntervalMs >= l.idleTimeoutMs)
    return Either.left(new InvalidNetLimits({ reason: "heartbeatIntervalMs must be positive and below idleTimeoutMs" }))
  if (l.reconnectBaseMs === 0 || l.reconnectMaxMs < l.reconnectBaseMs)
    return Either.left(new InvalidNetLimits({ reason: "reconnectBaseMs must be positive and at most reconnectMaxMs" }))
  if (l.handshakeTimeoutMs === 0) return Either.left(new InvalidNetLimits({ reason: "handshakeTimeoutMs must be positive" }))
  return Either.right(l)
}
