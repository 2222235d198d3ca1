/**
 * The typed errors of the channel layer. A peer's misbehaviour (a frame too large, a bad MAC, a
 * replayed sequence number, an unknown identity, a failed or slow handshake, bytes that do not
 * parse) closes that one connection with one of these; it is counted by tag in NetMetrics and
 * logged, and nothing is thrown. Send-side refusals (QueueFull, FrameTooLarge, NotConnected) are
 * returned to the caller and leave the connection open.
 */
import { Schema } from "effect"

/** A length prefix above the limit in force (handshake or channel), seen before any body byte is kept. */
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>()("FrameTooLarge", {
  bytes: Schema.Number,
  max: Schema.Number
}) {}

/** A channel frame whose MAC does not verify under the session key of its direction. */
export class BadMac extends Schema.TaggedError<BadMac>()("BadMac", {
  /** The sequence number the frame claimed. */
  seq: Schema.BigIntFromSelf
}) {}

/** A frame with a valid MAC but a sequence number other than the next one: replayed or reordered. */
export class Replay extends Schema.TaggedError<Replay>()("Replay", {
  expected: Schema.BigIntFromSelf,
  got: Schema.BigIntFromSelf
}) {}

/** The peer's identity key is not one this side accepts (not a member, or not the peer dialed). */
export class UnknownPeer extends Schema.TaggedError<UnknownPeer>()("UnknownPeer", {
  /** The identity key the peer presented, lowercase hex. */
  identityKey: Schema.String
}) {}

/** The handshake did not establish a channel: a bad signature, a bad ephemeral key, a wrong version. */
export class HandshakeFailed extends Schema.TaggedError<HandshakeFailed>()("HandshakeFailed", {
  reason: Schema.String
}) {}

/** Bytes that do not have the layout the current phase expects. */
export class Malformed extends Schema.TaggedError<Malformed>()("Malformed", {
  reason: Schema.String
}) {}

/** A named limit on waiting ran out: the handshake (connect included) or an idle open channel. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  phase: Schema.Literal("handshake", "idle"),
  ms: Schema.Number
}) {}

/** A send refused because the connection already holds sendQueueBytesMax bytes waiting to be written. */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  bytes: Schema.Number,
  max: Schema.Number
}) {}

/** A send to a peer that has no open channel right now. */
export class NotConnected extends Schema.TaggedError<NotConnected>()("NotConnected", {
  peer: Schema.Number
}) {}

/** The operating system reported an error on the socket (refused, reset, unreachable...). */
export class SocketError extends Schema.TaggedError<SocketError>()("SocketError", {
  code: Schema.String,
  detail: Schema.String
}) {}

/** The peer closed the connection. */
export class PeerClosed extends Schema.TaggedError<PeerClosed>()("PeerClosed", {}) {}

/** The listening socket could not be bound. */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  host: Schema.String,
  port: Schema.Number,
  detail: Schema.String
}) {}

/** A peer address that is not `host:port` (IPv6 hosts in brackets). */
export class BadAddress extends Schema.TaggedError<BadAddress>()("BadAddress", {
  address: Schema.String
}) {}

/** What went wrong in a handshake. */
export type HandshakeError = UnknownPeer | HandshakeFailed | Malformed

/** Why a connection was closed other than by this side's own choice. */
export type CloseError = FrameTooLarge | BadMac | Replay | UnknownPeer | HandshakeFailed | Malformed | Timeout | SocketError | PeerClosed

export type CloseTag = CloseError["_tag"]

/** Every close reason, in a fixed order (the keys of NetMetrics.closes). */
export const closeTags: ReadonlyArray<CloseTag> = [
  "FrameTooLarge",
  "BadMac",
  "Replay",
  "UnknownPeer",
  "HandshakeFailed",
  "Malformed",
  "Timeout",
  "SocketError",
  "PeerClosed"
]

/** The close reasons that are a peer's violation of the protocol (as opposed to the network failing). */
export const violationTags: ReadonlySet<CloseTag> = new Set<CloseTag>(["FrameTooLarge", "BadMac", "Replay", "UnknownPeer", "HandshakeFailed", "Malformed"])

/** Why a send was refused. */
export type SendError = QueueFull | FrameTooLarge | NotConnected
