// Establishes: the implementation reproduces, byte for byte, the test vector of
// conformance/CHANNEL.md section 8 (messages, transcript hash, keys, first frame), and the
// vector itself is consistent with the documented formulas recomputed here with @noble and the
// RFC 7748 shared secret (no X25519 or HMAC code of the implementation involved).
import { describe, expect, it } from "@effect/vitest"
import { hkdf } from "@noble/hashes/hkdf.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { FrameSealer } from "../../src/net/channel.ts"
import { initiatorOnReply, initiatorStart, responderOnFinish, responderOnHello } from "../../src/net/handshake.ts"
import { nobleCrypto } from "../../src/services/crypto.ts"

const doc = readFileSync(fileURLToPath(new URL("../../conformance/CHANNEL.md", import.meta.url)), "utf8")
const block = /## 8\. Test vector[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1] ?? ""
const vector = new Map(
  block
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()] as const)
)
const get = (k: string): string => {
  const v = vector.get(k)
  if (v === undefined) throw new Error(`the vector has no line ${k}`)
  return v
}
const bytes = (k: string): Uint8Array => new Uint8Array(Buffer.from(get(k), "hex"))
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const cat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => new Uint8Array(Buffer.concat(parts))
const enc = new TextEncoder()
const tag = (s: string): Uint8Array => cat(enc.encode(s), new Uint8Array([0]))
const str = (s: string): Uint8Array => {
  const b = enc.encode(s)
  const n = new Uint8Array(4)
  new DataView(n.buffer).setUint32(0, b.length)
  return cat(n, b)
}

describe("CHANNEL.md test vector", () => {
  it("is reproduced by the implementation", () => {
    const chainId = get("chainId")
    const I = { secretKey: bytes("I secret seed"), publicKey: bytes("I") }
    const R = { secretKey: bytes("R secret seed"), publicKey: bytes("R") }
    expect(hex(nobleCrypto.publicKeyFromSecret(I.secretKey))).toBe(get("I"))
    expect(hex(nobleCrypto.publicKeyFromSecret(R.secretKey))).toBe(get("R"))
    const s = initiatorStart(chainId, I, { replica: 1, identityKey: R.publicKey }, { ephemeralSecret: bytes("ei"), nonce: bytes("NI") })
    expect(hex(s.hello)).toBe(get("HELLO"))
    const r = responderOnHello(chainId, R, () => ({ replica: 0, identityKey: I.publicKey }), s.hello, { ephemeralSecret: bytes("er"), nonce: bytes("NR") })
    if (Either.isLeft(r)) throw new Error(r.left._tag)
    expect(hex(r.right.reply)).toBe(get("REPLY"))
    const f = initiatorOnReply(s.state, r.right.reply)
    if (Either.isLeft(f)) throw new Error(f.left._tag)
    expect(hex(f.right.finish)).toBe(get("FINISH"))
    const session = responderOnFinish(r.right.state, f.right.finish)
    if (Either.isLeft(session)) throw new Error(session.left._tag)
    expect(hex(f.right.session.transcriptHash)).toBe(get("TH"))
    expect(hex(f.right.session.sendKey)).toBe(get("K_i2r"))
    expect(hex(f.right.session.receiveKey)).toBe(get("K_r2i"))
    expect(hex(session.right.receiveKey)).toBe(get("K_i2r"))
    expect(hex(new FrameSealer(f.right.session.sendKey).seal(bytes("payload")))).toBe(get("frame body 0"))
  })

  it("follows the documented formulas", () => {
    const chainId = get("chainId")
    expect(hex(bytes("HELLO"))).toBe("0101" + get("I") + get("EI") + get("NI"))
    const reply = bytes("REPLY")
    expect(hex(reply.subarray(0, 98))).toBe("0201" + get("R") + get("ER") + get("NR"))
    const th = sha256(cat(tag("smartchain/channel/transcript/v1"), str(chainId), new Uint8Array([1]), bytes("I"), bytes("R"), bytes("EI"), bytes("ER"), bytes("NI"), bytes("NR")))
    expect(hex(th)).toBe(get("TH"))
    const signed = (role: number) => cat(tag("smartchain/sign/channel/v1"), str(chainId), new Uint8Array([role]), th)
    expect(nobleCrypto.verify(bytes("R"), signed(2), reply.subarray(98))).toBe(true)
    expect(nobleCrypto.verify(bytes("I"), signed(1), bytes("FINISH").subarray(1))).toBe(true)
    expect(hex(hkdf(sha256, bytes("Z"), th, enc.encode("smartchain/channel/mac/initiator-to-responder/v1"), 32))).toBe(get("K_i2r"))
    expect(hex(hkdf(sha256, bytes("Z"), th, enc.encode("smartchain/channel/mac/responder-to-initiator/v1"), 32))).toBe(get("K_r2i"))
    const body = bytes("frame body 0")
    const seqAndPayload = cat(new Uint8Array(8), bytes("payload"))
    expect(hex(body)).toBe(hex(seqAndPayload) + hex(hmac(sha256, bytes("K_i2r"), seqAndPayload).subarray(0, 16)))
  })
})
