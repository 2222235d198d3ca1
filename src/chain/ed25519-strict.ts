/**
 * One rule for which Ed25519 signatures are valid, shared by every implementation here.
 *
 * OpenSSL and @noble/ed25519 disagree on crafted inputs: OpenSSL accepts small-order public keys
 * and some non-canonical key encodings; @noble's own `verify` multiplies through by the cofactor,
 * so it accepts signatures whose R has a small-order component that OpenSSL rejects. Replicas on
 * different layers, and a third-party verifier, must never disagree about a signature, so all of
 * them apply the rule below (RFC 8032 section 5.1.7, cofactorless, with strict key encodings):
 *
 *  - the public key's y (low 255 bits) is below p = 2^255 - 19 and the key is not one of the
 *    small-order points (checked on its bytes, see `isStrictKeyEncoding`);
 *  - S < L;
 *  - with k = SHA-512(R || A || M) mod L, the encoding of [S]B - [k]A equals R byte for byte.
 *
 * The node:crypto layer checks the key rule here and lets OpenSSL do the equation (which it
 * checks cofactorless); `strictVerify` does all of it on @noble.
 */
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"

// @noble/ed25519 v3 leaves its synchronous SHA-512 unset; the synchronous API needs it.
ed.hashes.sha512 = sha512

const PUBLIC_KEY_LENGTH = 32
const SIGNATURE_LENGTH = 64

/** The order L of the Ed25519 base point. */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n

const littleEndianToBigint = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

/** The bytes as a one-character-per-byte string: a cheap exact map key. */
export const bytesKey = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!)
  return s
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)))

/**
 * The encodings of the eight points of small order (orders 1, 2, 4 and 8), plus the two encodings
 * of x = 0 points with the sign bit set (which strict decoding refuses). With a small-order key,
 * one signature can verify for many messages.
 */
const SMALL_ORDER_ENCODINGS: ReadonlySet<string> = new Set(
  [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
  ].map((h) => bytesKey(fromHex(h)))
)

/**
 * Whether strict verification may accept signatures by this 32-byte key, judged on its bytes
 * alone: y must be below p, so each point has one encoding, and the key must not be a small-order
 * point. A key that passes but is not on the curve fails later, in either implementation, when
 * it is decoded.
 */
export const isStrictKeyEncoding = (publicKey: Uint8Array): boolean => {
  if (SMALL_ORDER_ENCODINGS.has(bytesKey(publicKey))) return false
  // y >= p exactly when the bytes (little-endian, sign bit cleared) are ed ff .. ff 7f or above.
  if ((publicKey[31]! & 0x7f) !== 0x7f) return true
  for (let i = 30; i >= 1; i--) if (publicKey[i] !== 0xff) return true
  return publicKey[0]! < 0xed
}

/** A map that forgets its oldest entry when full. */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>()
  constructor(private readonly max: number) {}

  getOrCreate(key: string, create: () => V): V {
    const hit = this.entries.get(key)
    if (hit !== undefined) return hit
    const value = create()
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, value)
    return value
  }
}

/** Largest number of decoded public keys kept; a view has at most a few hundred members. */
const POINT_CACHE_MAX = 4096
const points = new BoundedCache<ed.Point | null>(POINT_CACHE_MAX)

/** The key as a curve point, or null when strict verification refuses it. */
const decodeStrictPublicKey = (publicKey: Uint8Array): ed.Point | null => {
  if (!isStrictKeyEncoding(publicKey)) return null
  try {
    return ed.Point.fromBytes(publicKey, false)
  } catch {
    return null
  }
}

/** Strict, cofactorless Ed25519 verification on @noble (see the module comment). Never throws. */
export const strictVerify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  const a = points.getOrCreate(bytesKey(publicKey), () => decodeStrictPublicKey(publicKey))
  if (a === null) return false
  const s = littleEndianToBigint(signature.subarray(32, 64))
  if (s >= GROUP_ORDER) return false
  const r = signature.subarray(0, 32)
  const digest = sha512.create().update(r).update(publicKey).update(message).digest()
  const k = littleEndianToBigint(digest) % GROUP_ORDER
  const expectedR = ed.Point.BASE.multiply(s, false).subtract(a.multiply(k, false)).toBytes()
  let difference = 0
  for (let i = 0; i < 32; i++) difference |= expectedR[i]! ^ r[i]!
  return difference === 0
}
