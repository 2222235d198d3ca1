/**
 * The Crypto service: Ed25519 (RFC 8032, secret keys are the 32-byte seeds) and SHA-256.
 *
 * Two implementations with the same observable behaviour:
 *  - `nodeCrypto` on node:crypto (OpenSSL), about ten times faster; the live layer `CryptoNode`.
 *  - `nobleCrypto` on @noble/ed25519 and @noble/hashes, pure JavaScript; the layer `CryptoNoble`,
 *    for environments without OpenSSL and as a cross-check in tests.
 *
 * Both satisfy ChainCrypto (src/chain/crypto.ts), so pure code can be handed either one.
 *
 * Verification is one rule set in both, so replicas on different layers never disagree about a
 * signature: S < L; the public key decodes strictly (y < p) and is not of small order; R is
 * compared byte for byte with the encoding of [S]B - [k]A (no cofactor). This is OpenSSL's
 * equation with its lenient key decoding tightened, and @noble's strict key rules without its
 * cofactored equation. Keys or signatures of the wrong length, or that do not decode, give false;
 * verify never throws.
 */
import * as ed from "@noble/ed25519"
import { sha256 as nobleSha256, sha512 } from "@noble/hashes/sha2.js"
import { Context, Layer } from "effect"
import * as nodeCryptoModule from "node:crypto"
import type { ChainCrypto } from "../chain/crypto.ts"
import { BoundedCache, isStrictKeyEncoding, strictVerify } from "../chain/ed25519-strict.ts"

export interface SignedItem {
  readonly publicKey: Uint8Array
  readonly message: Uint8Array
  readonly signature: Uint8Array
}

export interface CryptoImpl extends ChainCrypto {
  readonly name: "node" | "noble"
  /** The Ed25519 public key of a 32-byte secret seed. */
  readonly publicKeyFromSecret: (secret32: Uint8Array) => Uint8Array
  /** The deterministic Ed25519 signature of `message` by the 32-byte secret seed. */
  readonly sign: (secret32: Uint8Array, message: Uint8Array) => Uint8Array
  /**
   * `sign` bound to one secret seed, for a holder that signs many messages with the same key (a
   * client, a replica's view key): the key is prepared once, whatever else is signed meanwhile.
   */
  readonly signer: (secret32: Uint8Array) => (message: Uint8Array) => Uint8Array
  /** `verify` of each item, in order. */
  readonly verifyBatch: (items: ReadonlyArray<SignedItem>) => Array<boolean>
  /** A fresh secret seed from the system's cryptographic random source. */
  readonly generateSecretKey: () => Uint8Array
}

export class Crypto extends Context.Tag("smartchain/Crypto")<Crypto, CryptoImpl>() {}

const SECRET_LENGTH = 32
const PUBLIC_KEY_LENGTH = 32
const SIGNATURE_LENGTH = 64

/** Thrown for a secret of the wrong length: a programmer error, as keys come from key files. */
const requireSecret = (secret: Uint8Array): void => {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_LENGTH)
    throw new RangeError(`an Ed25519 secret key is ${SECRET_LENGTH} bytes`)
}

// @noble/ed25519 v3 leaves its synchronous SHA-512 unset; the synchronous API needs it.
ed.hashes.sha512 = sha512

/** The bytes as a one-character-per-byte string: a cheap exact map key. */
const cacheKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")

// ---------------------------------------------------------------------------------------------
// node:crypto
// ---------------------------------------------------------------------------------------------

// DER prefixes that wrap a raw Ed25519 key: PKCS#8 for the 32-byte seed, SubjectPublicKeyInfo for
// the 32-byte public key (RFC 8410). Appending the raw bytes gives a complete DER structure.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** Largest number of public-key objects kept; a view has at most a few hundred members. */
const PUBLIC_KEY_CACHE_MAX = 4096
/** Largest number of secret-key objects kept: a replica signs with its identity and view keys. */
const SECRET_KEY_CACHE_MAX = 64

/** A plain Uint8Array over a Buffer's bytes, so callers never see Buffer's aliasing `slice`. */
const plain = (b: Buffer): Uint8Array =>
  b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? new Uint8Array(b.buffer, 0, b.byteLength) : new Uint8Array(b)

const publicKeyObjects = new BoundedCache<nodeCryptoModule.KeyObject | null>(PUBLIC_KEY_CACHE_MAX)
const secretKeyObjects = new BoundedCache<nodeCryptoModule.KeyObject>(SECRET_KEY_CACHE_MAX)

/**
 * The OpenSSL key object of a public key, or null for a key strict verification refuses. OpenSSL
 * decodes public keys leniently (it takes y >= p and small-order points, and with a small-order
 * key some signatures verify for every message); the RFC 8032 strict rules used by both
 * implementations here refuse those keys. The check runs once per key, when it enters the cache.
 */
const publicKeyObject = (publicKey: Uint8Array): nodeCryptoModule.KeyObject | null =>
  publicKeyObjects.getOrCreate(cacheKey(publicKey), () => {
    if (!isStrictKeyEncoding(publicKey)) return null
    try {
      return nodeCryptoModule.createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" })
    } catch {
      return null
    }
  })

const secretKeyObject = (secret: Uint8Array): nodeCryptoModule.KeyObject => {
  requireSecret(secret)
  return secretKeyObjects.getOrCreate(cacheKey(secret), () =>
    nodeCryptoModule.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]), format: "der", type: "pkcs8" })
  )
}

// `crypto.hash` (one call, no Hash object) is faster for small inputs; older Node lines lack it.
const oneShotHash = (nodeCryptoModule as { hash?: (algorithm: string, data: Uint8Array, encoding: "buffer") => Buffer }).hash

const nodeSha256: (data: Uint8Array) => Uint8Array =
  oneShotHash !== undefined
    ? (data) => plain(oneShotHash("sha256", data, "buffer"))
    : (data) => plain(nodeCryptoModule.createHash("sha256").update(data).digest())

const nodeVerify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  const key = publicKeyObject(publicKey)
  if (key === null) return false
  try {
    return nodeCryptoModule.verify(null, message, key, signature)
  } catch {
    return false
  }
}

export const nodeCrypto: CryptoImpl = {
  name: "node",
  sha256: nodeSha256,
  verify: nodeVerify,
  publicKeyFromSecret: (secret) => {
    const spki = nodeCryptoModule.createPublicKey(secretKeyObject(secret)).export({ format: "der", type: "spki" })
    return new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_LENGTH))
  },
  sign: (secret, message) => plain(nodeCryptoModule.sign(null, message, secretKeyObject(secret))),
  signer: (secret) => {
    requireSecret(secret)
    const key = nodeCryptoModule.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]), format: "der", type: "pkcs8" })
    return (message) => plain(nodeCryptoModule.sign(null, message, key))
  },
  // OpenSSL offers no Ed25519 batch verification; each item is checked on its own.
  verifyBatch: (items) => items.map((i) => nodeVerify(i.publicKey, i.message, i.signature)),
  generateSecretKey: () => plain(nodeCryptoModule.randomBytes(SECRET_LENGTH))
}

// ---------------------------------------------------------------------------------------------
// @noble
// ---------------------------------------------------------------------------------------------

/** Strict verification (src/chain/ed25519-strict.ts), the same rule the node layer applies. */
const nobleVerify = strictVerify

export const nobleCrypto: CryptoImpl = {
  name: "noble",
  sha256: (data) => nobleSha256(data),
  verify: nobleVerify,
  publicKeyFromSecret: (secret) => {
    requireSecret(secret)
    return ed.getPublicKey(secret)
  },
  sign: (secret, message) => {
    requireSecret(secret)
    return ed.sign(message, secret)
  },
  signer: (secret) => {
    requireSecret(secret)
    const copy = Uint8Array.from(secret)
    return (message) => ed.sign(message, copy)
  },
  // @noble/ed25519 has no batch verification; each item is checked on its own.
  verifyBatch: (items) => items.map((i) => nobleVerify(i.publicKey, i.message, i.signature)),
  generateSecretKey: () => ed.utils.randomSecretKey()
}

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

export const CryptoNode: Layer.Layer<Crypto> = Layer.succeed(Crypto, nodeCrypto)
export const CryptoNoble: Layer.Layer<Crypto> = Layer.succeed(Crypto, nobleCrypto)
