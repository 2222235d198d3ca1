// Establishes: the handshake authenticates both identities and gives both sides the same two
// directional MAC keys; its messages, transcript hash, signatures and key schedule are exactly
// those documented (recomputed here with @noble from the message bytes); an unknown initiator,
// an unexpected responder, a forged signature, another chain, a low-order ephemeral key, a wrong
// version or a single flipped byte anywhere makes it fail with a typed error; and the frame
// sealer/opener accept each frame once, in order, and refuse tampered, replayed, reordered,
// truncated or wrong-direction frames.
import { describe, expect, it } from "@effect/vitest"
import { hkdf } from "@noble/hashes/hkdf.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Either } from "effect"
import * as fc from "fast-check"
import * as nodeCryptoModule from "node:crypto"
import { FrameOpener, FrameSealer, macBytes, seqBytes } from "../../src/net/channel.ts"
import type { HandshakeSecrets, KnownPeer, Session } from "../../src/net/handshake.ts"
import {
  finishBytes,
  helloBytes,
  initiatorOnReply,
  initiatorStart,
  initiatorToResponderInfo,
  replyBytes,
  responderOnFinish,
  responderOnHello,
  responderToInitiatorInfo
} from "../../src/net/handshake.ts"
import { nobleCrypto } from "../../src/services/crypto.ts"
import type { TestIdentity } from "./support.ts"
import { chainId, knownPeer, makeIdentity } from "./support.ts"

const alice = makeIdentity(0)
const bob = makeIdentity(1)
const carol = makeIdentity(2)

const lookupOf =
  (...peers: ReadonlyArray<TestIdentity>) =>
  (key: Uint8Array): KnownPeer | undefined => {
    const p = peers.find((x) => Buffer.from(x.publicKey).equals(key))
    return p === undefined ? undefined : knownPeer(p)
  }

const fixedSecrets = (seed: number): HandshakeSecrets => ({
  ephemeralSecret: new Uint8Array(32).fill(seed),
  nonce: new Uint8Array(32).fill(seed + 100)
})

interface Transcript {
  readonly hello: Uint8Array
  readonly reply?: Uint8Array
  readonly finish?: Uint8Array
  readonly initiator?: Session
  readonly responder?: Session
  readonly error?: string
}

/** Runs a whole handshake in memory; `tamper` may alter each message in flight. */
const run = (options: {
  readonly initiator?: TestIdentity
  readonly signingSecret?: Uint8Array
  readonly responder?: TestIdentity
  readonly expected?: TestIdentity
  readonly responderKnows?: ReadonlyArray<TestIdentity>
  readonly initiatorChain?: string
  readonly responderChain?: string
  readonly tamper?: (message: "hello" | "reply" | "finish", bytes: Uint8Array) => Uint8Array
  readonly secrets?: readonly [HandshakeSecrets, HandshakeSecrets]
}): Transcript => {
  const i = options.initiator ?? alice
  const r = options.responder ?? bob
  const tamper = options.tamper ?? ((_m, b) => b)
  const start = initiatorStart(
    options.initiatorChain ?? chainId,
    { secretKey: options.signingSecret ?? i.secretKey, publicKey: i.publicKey },
    knownPeer(options.expected ?? r),
    options.secrets?.[0]
  )
  const hello = tamper("hello", start.hello)
  const h = responderOnHello(
    options.responderChain ?? chainId,
    r,
    lookupOf(...(options.responderKnows ?? [i])),
    hello,
    options.secrets?.[1]
  )
  if (Either.isLeft(h)) return { hello, error: `responder: ${h.left._tag}: ${"reason" in h.left ? h.left.reason : ""}` }
  const reply = tamper("reply", h.right.reply)
  const rep = initiatorOnReply(start.state, reply)
  if (Either.isLeft(rep)) return { hello, reply, error: `initiator: ${rep.left._tag}: ${"reason" in rep.left ? rep.left.reason : ""}` }
  const finish = tamper("finish", rep.right.finish)
  const fin = responderOnFinish(h.right.state, finish)
  if (Either.isLeft(fin)) return { hello, reply, finish, initiator: rep.right.session, error: `responder: ${fin.left._tag}: ${"reason" in fin.left ? fin.left.reason : ""}` }
  return { hello, reply, finish, initiator: rep.right.session, responder: fin.right }
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? "" : Buffer.from(b).toString("hex"))

const u32 = (n: number): Uint8Array => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])
const cat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => new Uint8Array(Buffer.concat(parts))
const ascii0 = (s: string): Uint8Array => cat(new TextEncoder().encode(s), new Uint8Array([0]))
const str = (s: string): Uint8Array => {
  const b = new TextEncoder().encode(s)
  return cat(u32(b.length), b)
}

describe("handshake", () => {
  it("authenticates both sides and agrees on two distinct directional keys", () => {
    const t = run({})
    expect(t.error).toBeUndefined()
    expect(t.hello.length).toBe(helloBytes)
    expect(t.reply?.length).toBe(replyBytes)
    expect(t.finish?.length).toBe(finishBytes)
    expect(t.initiator?.peer.replica).toBe(bob.replica)
    expect(t.responder?.peer.replica).toBe(alice.replica)
    expect(hex(t.initiator?.sendKey)).toBe(hex(t.responder?.receiveKey))
    expect(hex(t.initiator?.receiveKey)).toBe(hex(t.responder?.sendKey))
    expect(hex(t.initiator?.sendKey)).not.toBe(hex(t.initiator?.receiveKey))
    expect(hex(t.initiator?.transcriptHash)).toBe(hex(t.responder?.transcriptHash))
    // Fresh ephemeral keys and nonces: a second handshake between the same two gets new keys.
    expect(hex(run({}).initiator?.sendKey)).not.toBe(hex(t.initiator?.sendKey))
  })

  it("matches the documented layout, transcript hash, signatures and key schedule", () => {
    const secrets = [fixedSecrets(1), fixedSecrets(2)] as const
    const t = run({ secrets })
    expect(t.error).toBeUndefined()
    const hello = t.hello
    const reply = t.reply!
    const finish = t.finish!
    expect([hello[0], hello[1], reply[0], reply[1], finish[0]]).toEqual([1, 1, 2, 1, 3])
    expect(hex(hello.subarray(2, 34))).toBe(hex(alice.publicKey))
    expect(hex(hello.subarray(66, 98))).toBe(hex(secrets[0].nonce))
    expect(hex(reply.subarray(2, 34))).toBe(hex(bob.publicKey))
    expect(hex(reply.subarray(66, 98))).toBe(hex(secrets[1].nonce))
    const ei = hello.subarray(34, 66)
    const er = reply.subarray(34, 66)
    const th = sha256(
      cat(ascii0("smartchain/channel/transcript/v1"), str(chainId), new Uint8Array([1]), alice.publicKey, bob.publicKey, ei, er, secrets[0].nonce, secrets[1].nonce)
    )
    expect(hex(t.initiator?.transcriptHash)).toBe(hex(th))
    const signed = (role: number) => cat(ascii0("smartchain/sign/channel/v1"), str(chainId), new Uint8Array([role]), th)
    expect(nobleCrypto.verify(bob.publicKey, signed(2), reply.subarray(98, 162))).toBe(true)
    expect(nobleCrypto.verify(alice.publicKey, signed(1), finish.subarray(1, 65))).toBe(true)
    // Z from the initiator's fixed ephemeral secret and the responder's ephemeral public key.
    const priv = nodeCryptoModule.createPrivateKey({
      key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), secrets[0].ephemeralSecret]),
      format: "der",
      type: "pkcs8"
    })
    const pub = nodeCryptoModule.createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), er]), format: "der", type: "spki" })
    const z = nodeCryptoModule.diffieHellman({ privateKey: priv, publicKey: pub })
    const enc = new TextEncoder()
    expect(hex(t.initiator?.sendKey)).toBe(hex(hkdf(sha256, z, th, enc.encode(initiatorToResponderInfo), 32)))
    expect(hex(t.initiator?.receiveKey)).toBe(hex(hkdf(sha256, z, th, enc.encode(responderToInitiatorInfo), 32)))
  })

  it("refuses an initiator that is not a known peer, before signing anything", () => {
    const t = run({ initiator: carol, responderKnows: [alice] })
    expect(t.error).toMatch(/^responder: UnknownPeer/)
    expect(t.reply).toBeUndefined()
  })

  it("refuses an initiator presenting the responder's own identity", () => {
    expect(run({ initiator: { ...alice, publicKey: bob.publicKey }, responderKnows: [alice, bob] }).error).toMatch(/^responder: UnknownPeer/)
  })

  it("refuses a responder other than the peer dialed", () => {
    expect(run({ responder: carol, expected: bob }).error).toMatch(/^initiator: UnknownPeer/)
  })

  it("refuses an initiator that claims a known identity without its secret key", () => {
    expect(run({ signingSecret: carol.secretKey }).error).toBe("responder: HandshakeFailed: bad initiator signature")
  })

  it("refuses a responder on another chain", () => {
    expect(run({ responderChain: "another-chain" }).error).toBe("initiator: HandshakeFailed: bad responder signature")
  })

  it("refuses a low-order (all-zero) ephemeral key on either side", () => {
    const zeroKey = (m: string, b: Uint8Array) => {
      if (m !== "hello") return b
      const c = new Uint8Array(b)
      c.fill(0, 34, 66)
      return c
    }
    expect(run({ tamper: zeroKey }).error).toBe("responder: HandshakeFailed: bad initiator ephemeral key")
  })

  it("refuses a wrong version and wrong lengths", () => {
    const version = (m: string, b: Uint8Array) => (m === "hello" ? cat(new Uint8Array([1, 2]), b.subarray(2)) : b)
    expect(run({ tamper: version }).error).toBe("responder: HandshakeFailed: unsupported handshake version 2")
    expect(run({ tamper: (m, b) => (m === "reply" ? b.subarray(0, 161) : b) }).error).toMatch(/^initiator: Malformed/)
    expect(run({ tamper: (m, b) => (m === "finish" ? cat(b, new Uint8Array([0])) : b) }).error).toMatch(/^responder: Malformed/)
  })

  it("fails, on one side or the other, when any single byte of any message is altered", () => {
    fc.assert(
      fc.property(fc.constantFrom("hello" as const, "reply" as const, "finish" as const), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, at, mask) => {
        const t = run({
          tamper: (m, b) => {
            if (m !== which) return b
            const c = new Uint8Array(b)
            c[at % c.length]! ^= mask
            return c
          }
        })
        expect(t.error).toBeDefined()
      }),
      { numRuns: 200 }
    )
  })

  it("refuses a FINISH recorded from an earlier handshake", () => {
    const first = run({})
    expect(run({ tamper: (m, b) => (m === "finish" ? first.finish! : b) }).error).toBe("responder: HandshakeFailed: bad initiator signature")
  })
})

describe("frame sealer and opener", () => {
  const t = run({})
  const pair = () => ({ sealer: new FrameSealer(t.initiator!.sendKey), opener: new FrameOpener(t.responder!.receiveKey) })

  it("deliver every payload once, in order, with its documented layout", () => {
    const { sealer, opener } = pair()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (payload) => {
        const seq = sealer.nextSeq
        const body = sealer.seal(payload)
        expect(body.length).toBe(seqBytes + payload.length + macBytes)
        expect(Buffer.from(body.subarray(0, 8)).readBigUInt64BE()).toBe(BigInt(seq))
        const mac = nodeCryptoModule.createHmac("sha256", t.initiator!.sendKey).update(body.subarray(0, 8 + payload.length)).digest()
        expect(hex(body.subarray(8 + payload.length))).toBe(hex(mac.subarray(0, 16)))
        const out = opener.open(body)
        expect(out instanceof Uint8Array && hex(out) === hex(payload)).toBe(true)
      }),
      { numRuns: 100 }
    )
  })

  it("refuse a frame with any byte altered (BadMac), and then still accept the genuine one", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (payload, at, mask) => {
        const { sealer, opener } = pair()
        const body = sealer.seal(payload)
        const bad = new Uint8Array(body)
        bad[at % bad.length]! ^= mask
        const r = opener.open(bad)
        expect(r instanceof Uint8Array ? "accepted" : r._tag).toBe("BadMac")
        expect(opener.open(body) instanceof Uint8Array).toBe(true)
      }),
      { numRuns: 200 }
    )
  })

  it("refuse a replayed frame and a frame that skips ahead (Replay)", () => {
    const { sealer, opener } = pair()
    const f0 = sealer.seal(new Uint8Array([0]))
    const f1 = sealer.seal(new Uint8Array([1]))
    const f2 = sealer.seal(new Uint8Array([2]))
    expect(opener.open(f0) instanceof Uint8Array).toBe(true)
    const replay = opener.open(f0)
    expect(replay instanceof Uint8Array ? null : { tag: replay._tag, ...replay }).toMatchObject({ tag: "Replay", expected: 1n, got: 0n })
    const skip = opener.open(f2)
    expect(skip instanceof Uint8Array ? null : { tag: skip._tag, ...skip }).toMatchObject({ tag: "Replay", expected: 1n, got: 2n })
    expect(opener.open(f1) instanceof Uint8Array).toBe(true)
    expect(opener.open(f2) instanceof Uint8Array).toBe(true)
  })

  it("refuse a frame sealed for the other direction, or by another connection's keys", () => {
    const reflected = new FrameSealer(t.initiator!.sendKey).seal(new Uint8Array([9]))
    const r1 = new FrameOpener(t.initiator!.receiveKey).open(reflected)
    expect(r1 instanceof Uint8Array ? "accepted" : r1._tag).toBe("BadMac")
    const other = run({})
    const r2 = new FrameOpener(other.responder!.receiveKey).open(reflected)
    expect(r2 instanceof Uint8Array ? "accepted" : r2._tag).toBe("BadMac")
  })

  it("refuse a body shorter than seq and MAC (Malformed)", () => {
    const r = pair().opener.open(new Uint8Array(23))
    expect(r instanceof Uint8Array ? "accepted" : r._tag).toBe("Malformed")
  })

  it("carry an empty payload (the heartbeat) like any other", () => {
    const { sealer, opener } = pair()
    const out = opener.open(sealer.seal(new Uint8Array(0)))
    expect(out instanceof Uint8Array && out.length === 0).toBe(true)
  })
})
