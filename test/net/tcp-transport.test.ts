// Establishes: the TCP Transport carries every payload kind between four replicas on loopback,
// byte-exact and from the authenticated sender; payload encoding is deterministic and its
// decoding returns typed errors; a state reply too large for one frame is split and still
// arrives whole; a hostile peer (undecodable payload, bad MAC, oversized frame, unknown identity)
// gets its connection closed with a counted error while the transport keeps serving the others;
// a restarted peer is redialed; client transactions enter the inbox through `submit`.
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Scope } from "effect"
import { encodeMessage, encodeTransaction } from "../../src/chain/encoding.ts"
import type { ConsensusMessage, DecisionProof, Transaction } from "../../src/chain/types.ts"
import { encodeFrame } from "../../src/net/framing.ts"
import { decodePayload, encodePayload, encodePayloadFrames, payloadTags } from "../../src/net/payload.ts"
import type { TcpTransport, TcpTransportConfig } from "../../src/net/tcp-transport.ts"
import { makeTcpTransport } from "../../src/net/tcp-transport.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Envelope, Payload } from "../../src/services/transport.ts"
import type { TestIdentity } from "./support.ts"
import { chainId, deadPort, loopback, makeIdentity, quickLimits, rawHandshake, sendGarbage, sleep, waitFor } from "./support.ts"

const scopes: Array<Scope.CloseableScope> = []
afterEach(async () => {
  for (const s of scopes.splice(0).reverse()) await Effect.runPromise(Scope.close(s, Exit.void))
})

const clientKey = nodeCrypto.generateSecretKey()
const tx = (seq: number, opBytes = 8): Transaction => {
  const client = nodeCrypto.publicKeyFromSecret(clientKey)
  const op = new Uint8Array(opBytes).fill(seq & 0xff)
  return { client, seq: BigInt(seq), op, signature: new Uint8Array(64).fill(7) }
}
const proof = (cid: bigint): DecisionProof => ({
  viewId: 0n,
  cid,
  regency: 0n,
  batchHash: new Uint8Array(32).fill(Number(cid)),
  accepts: [{ replica: 1, signature: new Uint8Array(64).fill(3) }]
})
const write = (cid: bigint): ConsensusMessage => ({ _tag: "Write", viewId: 0n, cid, regency: 0n, batchHash: new Uint8Array(32).fill(9) })

interface Started {
  readonly id: TestIdentity
  readonly transport: TcpTransport
  readonly scope: Scope.CloseableScope
  readonly received: Array<Envelope>
}

/** Starts a transport and a fiber that drains its inbox into `received`. */
const start = async (id: TestIdentity, overrides: Partial<TcpTransportConfig> = {}): Promise<Started> => {
  const scope = await Effect.runPromise(Scope.make())
  scopes.push(scope)
  const config: TcpTransportConfig = {
    chainId,
    replica: id.replica,
    identitySecret: id.secretKey,
    listen: { host: loopback, port: 0 },
    peers: [],
    limits: quickLimits,
    log: () => {},
    ...overrides
  }
  const transport = await Effect.runPromise(Scope.extend(makeTcpTransport(config), scope))
  const received: Array<Envelope> = []
  Effect.runFork(
    Scope.extend(
      Effect.forkScoped(Effect.forever(Effect.map(transport.transport.receive(64), (es) => void received.push(...es)))),
      scope
    )
  )
  return { id, transport, scope, received }
}

const entry = (s: Started) => ({ replica: s.id.replica, identityKey: s.id.publicKey, address: s.transport.manager.address })

const mesh = async (n: number): Promise<Array<Started>> => {
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => start(makeIdentity(i))))
  const entries = nodes.map(entry)
  for (const s of nodes) expect(s.transport.manager.setPeers(entries)).toBeUndefined()
  // Settled: every pair keeps the connection dialed by its lower id (both may have dialed at first).
  const settled = () =>
    nodes.every((s) =>
      nodes.every((t) => t === s || s.transport.manager.connectionRole(t.id.replica) === (s.id.replica < t.id.replica ? "initiator" : "responder"))
    )
  await waitFor(settled, "the full mesh")
  await sleep(50)
  return nodes
}

const send = (s: Started, to: number, payload: Payload) => Effect.runSync(s.transport.transport.send(to, payload))

describe("payload encoding", () => {
  it("round-trips every payload kind, deterministically, with the documented tag byte first", () => {
    const payloads: Array<Payload> = [
      { _tag: "Consensus", message: write(3n) },
      { _tag: "Request", tx: tx(1) },
      { _tag: "StateRequest", fromCid: 42n },
      { _tag: "StateReply", decided: [{ batch: [tx(1), tx(2)], proof: proof(1n) }, { batch: [], proof: proof(2n) }] }
    ]
    for (const p of payloads) {
      const bytes = encodePayload(p)
      expect(bytes[0]).toBe(payloadTags[p._tag])
      expect(encodePayload(p)).toEqual(bytes)
      const back = decodePayload(bytes)
      expect(Either.isRight(back)).toBe(true)
      expect(encodePayload(Either.getOrThrow(back))).toEqual(bytes)
    }
    // The consensus body is the chain encoding of the message, unchanged.
    expect(encodePayload({ _tag: "Consensus", message: write(3n) }).subarray(1)).toEqual(encodeMessage(write(3n)))
    expect(encodePayload({ _tag: "Request", tx: tx(5) }).subarray(1)).toEqual(encodeTransaction(tx(5)))
  })

  it("returns a typed DecodeError for an unknown tag, truncation and trailing bytes", () => {
    const good = encodePayload({ _tag: "StateRequest", fromCid: 1n })
    const cases = [new Uint8Array([9]), good.subarray(0, good.length - 1), new Uint8Array([...good, 0]), new Uint8Array(0)]
    for (const bad of cases) {
      const r = decodePayload(bad)
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) expect(r.left._tag).toBe("DecodeError")
    }
    const inner = decodePayload(new Uint8Array([payloadTags.Consensus, 99]))
    expect(Either.isLeft(inner) && inner.left.path).toContain("Consensus")
  })

  it("splits a state reply over the frame limit into in-order replies that each fit", () => {
    const decided = Array.from({ length: 9 }, (_, i) => ({ batch: [tx(i, 1000)], proof: proof(BigInt(i + 1)) }))
    const whole = encodePayload({ _tag: "StateReply", decided })
    const frames = encodePayloadFrames({ _tag: "StateReply", decided }, 2600)
    expect(whole.length).toBeGreaterThan(2600)
    expect(frames.length).toBeGreaterThan(1)
    const cids: Array<bigint> = []
    for (const f of frames) {
      expect(f.length).toBeLessThanOrEqual(2600)
      const p = Either.getOrThrow(decodePayload(f))
      if (p._tag !== "StateReply") throw new Error("expected a state reply")
      cids.push(...p.decided.map((d) => d.proof.cid))
    }
    expect(cids).toEqual(decided.map((d) => d.proof.cid))
    expect(encodePayloadFrames({ _tag: "StateRequest", fromCid: 1n }, 10)).toHaveLength(1)
  })
})

describe("TCP transport over loopback", () => {
  it("delivers every payload kind between four replicas, from the authenticated sender, in order", async () => {
    const nodes = await mesh(4)
    const perPair = 200
    for (const s of nodes)
      for (const t of nodes)
        if (s !== t) for (let i = 0; i < perPair; i++) send(s, t.id.replica, { _tag: "Consensus", message: write(BigInt(i + 1)) })
    send(nodes[0]!, 1, { _tag: "Request", tx: tx(77) })
    send(nodes[2]!, 3, { _tag: "StateRequest", fromCid: 5n })
    send(nodes[3]!, 2, { _tag: "StateReply", decided: [{ batch: [tx(1)], proof: proof(5n) }] })
    await waitFor(() => nodes.every((t) => t.received.length >= 3 * perPair + (t.id.replica === 0 ? 0 : 1)), "every message")
    for (const t of nodes) {
      for (const s of nodes) {
        if (s === t) continue
        const cids = t.received.filter((e) => e.from === s.id.replica && e.payload._tag === "Consensus").map((e) => (e.payload as { message: { cid: bigint } }).message.cid)
        expect(cids).toEqual(Array.from({ length: perPair }, (_, i) => BigInt(i + 1)))
      }
    }
    const request = nodes[1]!.received.find((e) => e.payload._tag === "Request")
    expect(request?.from).toBe(0)
    expect(request?.payload).toEqual({ _tag: "Request", tx: tx(77) })
    expect(nodes[3]!.received.find((e) => e.payload._tag === "StateRequest")).toEqual({ from: 2, payload: { _tag: "StateRequest", fromCid: 5n } })
    const reply = nodes[2]!.received.find((e) => e.payload._tag === "StateReply")
    expect(reply?.from).toBe(3)
    for (const s of nodes) expect(s.transport.manager.metrics.framesSent).toBeGreaterThanOrEqual(3 * perPair)
    for (const s of nodes) expect(s.transport.manager.metrics.violations).toBe(0)
  })

  it("splits a state reply larger than a frame and delivers all of its instances in order", async () => {
    const limits = { ...quickLimits, frameBytesMax: 8 * 1024, sendQueueBytesMax: 1 << 20 }
    const [a, b] = await Promise.all([start(makeIdentity(0), { limits }), start(makeIdentity(1), { limits })])
    a!.transport.manager.setPeers([entry(b!)])
    b!.transport.manager.setPeers([entry(a!)])
    await waitFor(() => a!.transport.manager.isConnected(1) && b!.transport.manager.isConnected(0), "the channel")
    const decided = Array.from({ length: 20 }, (_, i) => ({ batch: [tx(i, 1500)], proof: proof(BigInt(i + 1)) }))
    send(a!, 1, { _tag: "StateReply", decided })
    await waitFor(() => b!.received.flatMap((e) => (e.payload._tag === "StateReply" ? e.payload.decided : [])).length === 20, "all instances")
    const cids = b!.received.flatMap((e) => (e.payload._tag === "StateReply" ? e.payload.decided.map((d) => d.proof.cid) : []))
    expect(cids).toEqual(decided.map((d) => d.proof.cid))
    expect(b!.received.length).toBeGreaterThan(1)
    expect(a!.transport.metrics.stateRepliesSplit).toBe(1)
    expect(a!.transport.manager.metrics.sendsRefused.FrameTooLarge).toBe(0)
  })

  it("closes a member whose authenticated payload does not decode, counts it, and keeps serving the others", async () => {
    const nodes = await mesh(3)
    const [server, healthy] = [nodes[0]!, nodes[1]!]
    const hostileId = makeIdentity(5)
    server.transport.manager.setPeers([...nodes.map(entry), { replica: 5, identityKey: hostileId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const raw = await rawHandshake(server.transport.manager.port, hostileId, server.id)
    await waitFor(() => server.transport.manager.isConnected(5), "the hostile peer's handshake")
    // A well-formed, correctly MAC'd frame whose payload is garbage.
    raw.socket.write(encodeFrame(raw.sealer.seal(new Uint8Array([payloadTags.Consensus, 0xee, 1, 2, 3]))))
    await raw.closed
    expect(server.transport.metrics.payloadsMalformed).toBe(1)
    expect(server.transport.manager.metrics.closes.Malformed).toBe(1)
    expect(server.received.some((e) => e.from === 5)).toBe(false)
    // The others are still served, both ways.
    send(healthy, 0, { _tag: "Consensus", message: write(9n) })
    send(server, 1, { _tag: "Consensus", message: write(10n) })
    await waitFor(() => server.received.some((e) => e.from === 1), "the server to hear the healthy peer")
    await waitFor(() => healthy.received.some((e) => e.from === 0), "the healthy peer to hear the server")
  })

  it("closes with BadMac, FrameTooLarge and UnknownPeer, counted by reason, and keeps running", async () => {
    const nodes = await mesh(2)
    const [server, healthy] = [nodes[0]!, nodes[1]!]
    const hostileId = makeIdentity(6)
    server.transport.manager.setPeers([...nodes.map(entry), { replica: 6, identityKey: hostileId.publicKey, address: `${loopback}:${await deadPort()}` }])
    const port = server.transport.manager.port
    // A frame with a flipped MAC byte.
    const r1 = await rawHandshake(port, hostileId, server.id)
    const sealed = r1.sealer.seal(encodePayload({ _tag: "StateRequest", fromCid: 1n }))
    sealed[sealed.length - 1]! ^= 1
    r1.socket.write(encodeFrame(sealed))
    await r1.closed
    // A length prefix above frameBytesMax.
    const r2 = await rawHandshake(port, hostileId, server.id)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, server.transport.manager.limits.frameBytesMax + 1)
    r2.socket.write(header)
    await r2.closed
    // An identity that is not a member.
    const stranger = await start(makeIdentity(7), { peers: [entry(server)] })
    await waitFor(() => server.transport.manager.metrics.closes.UnknownPeer >= 1, "the stranger to be refused")
    expect(stranger.transport.manager.isConnected(0)).toBe(false)
    // Raw garbage on the listening port.
    await sendGarbage(port, new Uint8Array([0, 0, 0, 3, 1, 2, 3]))
    const closes = server.transport.manager.metrics.closes
    expect(closes.BadMac).toBe(1)
    expect(closes.FrameTooLarge).toBe(1)
    expect(closes.UnknownPeer).toBeGreaterThanOrEqual(1)
    expect(closes.Malformed).toBe(1)
    expect(server.received.some((e) => e.from === 6)).toBe(false)
    send(healthy, 0, { _tag: "Consensus", message: write(1n) })
    await waitFor(() => server.received.some((e) => e.from === 1), "the server to keep serving")
  })

  it("redials a peer that went away and delivers again once it is back on the same port", async () => {
    const a = await start(makeIdentity(0))
    const bId = makeIdentity(1)
    let b = await start(bId)
    const port = b.transport.manager.port
    a.transport.manager.setPeers([entry(a), entry(b)])
    b.transport.manager.setPeers([entry(a), entry(b)])
    await waitFor(() => a.transport.manager.isConnected(1), "the first channel")
    await Effect.runPromise(Scope.close(b.scope, Exit.void))
    await waitFor(() => !a.transport.manager.isConnected(1), "the loss to be seen")
    await sleep(100)
    b = await start(bId, { listen: { host: loopback, port } })
    b.transport.manager.setPeers([entry(a), { replica: 1, identityKey: bId.publicKey, address: `${loopback}:${port}` }])
    await waitFor(() => a.transport.manager.isConnected(1), "the redial")
    send(a, 1, { _tag: "Consensus", message: write(4n) })
    await waitFor(() => b.received.some((e) => e.from === 0), "delivery after the redial")
    expect(a.transport.manager.metrics.connectionsDialed).toBeGreaterThanOrEqual(2)
  })

  it("puts submitted client transactions in the replica's own inbox and counts sends to absent peers", async () => {
    const a = await start(makeIdentity(0))
    expect(a.transport.submit(tx(3))).toBe(true)
    await waitFor(() => a.received.length === 1, "the submitted transaction")
    expect(a.received[0]).toEqual({ from: 0, payload: { _tag: "Request", tx: tx(3) } })
    send(a, 2, { _tag: "Consensus", message: write(1n) })
    expect(a.transport.manager.metrics.sendsRefused.NotConnected).toBe(1)
  })
})
