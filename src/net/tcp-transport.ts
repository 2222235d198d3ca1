/**
 * The TCP Transport layer: the Transport service (src/services/transport.ts) over real sockets.
 *
 * Under it, the peer manager keeps one authenticated channel per member (handshake by identity
 * keys, per-connection session keys, a MAC and a sequence number on every frame, reconnection
 * with backoff; see channel.ts and peer-manager.ts), and the frame writer packs every frame
 * queued in one turn of the event loop into one socket write. On top, payloads are encoded by
 * ./payload.ts: deterministic binary, consensus messages in the chain encoding.
 *
 * What a peer sends can close its connection, never stop the replica: a frame too large, a bad
 * MAC, a replayed frame, an unknown identity (all found by the channel layer) and a payload that
 * does not decode (found here) each close that one connection with a typed error, which is
 * logged and counted (NetMetrics.closes by tag, and `payloadsMalformed` here), and the peer is
 * redialed with backoff. The sender's replica id in every envelope is the authenticated peer's.
 *
 * Client transactions reach the replica through `submit` (the HTTP API calls it); they enter the
 * same inbox as the peers' messages, marked as sent by the replica itself.
 */
import { Chunk, Context, Effect, Either, Layer, Queue } from "effect"
import type { Scope } from "effect"
import type { ReplicaId, Transaction, ViewRecord } from "../chain/types.ts"
import type { Envelope, Payload, TransportImpl } from "../services/transport.ts"
import { Transport } from "../services/transport.ts"
import { Malformed, NotConnected } from "./errors.ts"
import type { NetLimits } from "./limits.ts"
import { channelOverheadBytes } from "./limits.ts"
import type { NetLog } from "./metrics.ts"
import { decodePayload, encodePayloadFrames } from "./payload.ts"
import type { PeerEntry, StartError } from "./peer-manager.ts"
import { effectNetLog, PeerManager } from "./peer-manager.ts"

/** Default bound of the inbox; when it is full, new messages are dropped (as a congested link would). */
export const inboxCapacityDefault = 1 << 16

export interface TcpTransportConfig {
  readonly chainId: string
  /** This replica's id and identity secret (the 32-byte Ed25519 seed). */
  readonly replica: ReplicaId
  readonly identitySecret: Uint8Array
  /** Where to listen; port 0 picks a free port. */
  readonly listen: { readonly host: string; readonly port: number }
  /** The members to keep channels with (this replica's own entry is ignored). */
  readonly peers: ReadonlyArray<PeerEntry>
  readonly limits?: Partial<NetLimits>
  readonly inboxCapacity?: number
  /** Defaults to the Effect logger of the fiber that builds the transport. */
  readonly log?: NetLog
}

/** Counters of the payload layer (the channel layer's are in `manager.metrics`). */
export class TransportMetrics {
  /** Authenticated frames whose payload did not decode; each closed its connection. */
  payloadsMalformed = 0
  /** Envelopes dropped because the inbox was full. */
  inboxDropped = 0
  /** Envelopes put in the inbox (peers' messages and submitted transactions). */
  delivered = 0
  /** Client transactions submitted through `submit`. */
  submitted = 0
  /** State replies split into several frames because one would exceed the frame limit. */
  stateRepliesSplit = 0
  /** Payloads queued for a peer, by kind. */
  readonly sent: Record<PayloadKind, number> = { Consensus: 0, Request: 0, StateRequest: 0, StateReply: 0, Transfer: 0 }
  /** Payloads received from peers, by kind. */
  readonly received: Record<PayloadKind, number> = { Consensus: 0, Request: 0, StateRequest: 0, StateReply: 0, Transfer: 0 }
  /** Decided instances received in state replies. */
  stateInstancesReceived = 0
}

export type PayloadKind = Payload["_tag"]

export interface TcpTransport {
  /** The Transport service implementation. */
  readonly transport: TransportImpl
  readonly manager: PeerManager
  readonly metrics: TransportMetrics
  /** Puts a client transaction in this replica's inbox; false when the inbox is full. */
  readonly submit: (tx: Transaction) => boolean
}

/** The running TCP transport, for the parts of a node that need more than the Transport service. */
export class TcpNetwork extends Context.Tag("smartchain/TcpNetwork")<TcpNetwork, TcpTransport>() {}

/** The peers of a view record: every member's replica id, identity key and address. */
export const peersOfView = (view: ViewRecord): ReadonlyArray<PeerEntry> =>
  view.members.map((m) => ({ replica: m.replica, identityKey: m.identityKey, address: m.address }))

/** Starts listening and dialing; everything is closed when the scope closes. */
export const makeTcpTransport = (config: TcpTransportConfig): Effect.Effect<TcpTransport, StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const inbox = yield* Effect.acquireRelease(Queue.dropping<Envelope>(config.inboxCapacity ?? inboxCapacityDefault), Queue.shutdown)
    const metrics = new TransportMetrics()
    const log = config.log ?? (yield* effectNetLog)
    const offer = (envelope: Envelope): boolean => {
      if (inbox.unsafeOffer(envelope)) {
        metrics.delivered++
        return true
      }
      metrics.inboxDropped++
      return false
    }
    // The manager delivers messages as soon as it starts, so the handler reaches it through a holder.
    const holder: { manager?: PeerManager } = {}
    const onMessage = (from: number, bytes: Uint8Array): void => {
      // A plain view (the channel hands out views of socket Buffers), so decoded fields are plain arrays.
      const decoded = decodePayload(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      if (Either.isLeft(decoded)) {
        metrics.payloadsMalformed++
        holder.manager?.reject(from, new Malformed({ reason: `payload: ${decoded.left.message}` }))
        return
      }
      const payload = decoded.right
      metrics.received[payload._tag]++
      if (payload._tag === "StateReply") metrics.stateInstancesReceived += payload.decided.length
      offer({ from, payload })
    }
    const peerManager = yield* PeerManager.scoped({
      chainId: config.chainId,
      replica: config.replica,
      identitySecret: config.identitySecret,
      listen: config.listen,
      peers: config.peers,
      ...(config.limits === undefined ? {} : { limits: config.limits }),
      log,
      onMessage
    })
    holder.manager = peerManager
    const payloadBytesMax = peerManager.limits.frameBytesMax - channelOverheadBytes

    // A broadcast sends the same message (in a new payload object each time) to each member in
    // turn: encode it once. Messages and transactions are immutable, so identity is a safe key.
    let lastKey: object | undefined
    let lastFrames: ReadonlyArray<Uint8Array> = []
    const framesOf = (payload: Payload): ReadonlyArray<Uint8Array> => {
      const key = payload._tag === "Consensus" ? payload.message : payload._tag === "Request" ? payload.tx : payload
      if (key !== lastKey) {
        lastFrames = encodePayloadFrames(payload, payloadBytesMax)
        lastKey = key
        if (lastFrames.length > 1) metrics.stateRepliesSplit++
      }
      return lastFrames
    }

    const sendNow = (to: ReplicaId, payload: Payload): void => {
      if (!peerManager.isConnected(to)) {
        peerManager.metrics.countRefusal(new NotConnected({ peer: to }))
        return
      }
      for (const frame of framesOf(payload)) if (peerManager.send(to, frame) !== undefined) return
      metrics.sent[payload._tag]++
    }
    const transport: TransportImpl = {
      self: config.replica,
      send: (to, payload) => Effect.sync(() => sendNow(to, payload)),
      sendNow,
      receive: (max) => Effect.map(Queue.takeBetween(inbox, 1, Math.max(1, max)), Chunk.toReadonlyArray)
    }
    const submit = (tx: Transaction): boolean => {
      metrics.submitted++
      return offer({ from: config.replica, payload: { _tag: "Request", tx } })
    }
    log("info", "transport listening", { replica: config.replica, address: peerManager.address, peers: config.peers.length - 1 })
    return { transport, manager: peerManager, metrics, submit }
  })

/** The TCP transport as a layer: the Transport service and the TcpNetwork handle. */
export const tcpTransportLayer = (config: TcpTransportConfig): Layer.Layer<Transport | TcpNetwork, StartError> =>
  Layer.scopedContext(
    Effect.map(makeTcpTransport(config), (t) => Context.make(Transport, t.transport).pipe(Context.add(TcpNetwork, t)))
  )
