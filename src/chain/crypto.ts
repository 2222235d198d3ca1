/**
 * The two primitives chain code needs: SHA-256 and Ed25519 verification. Pure code receives a
 * ChainCrypto as a parameter; the Crypto service (src/services/crypto.ts) satisfies it with
 * node:crypto, and `portableCrypto` here satisfies it in pure JavaScript.
 */
import * as ed from "@noble/ed25519"
import { sha256 as nobleSha256, sha512 } from "@noble/hashes/sha2.js"

export interface ChainCrypto {
  readonly sha256: (data: Uint8Array) => Uint8Array
  /** True when `signature` is a valid Ed25519 signature by `publicKey` over `message`; never throws. */
  readonly verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
}

// @noble/ed25519 v3 leaves its synchronous SHA-512 unset; the sync API needs it.
ed.hashes.sha512 = sha512

/**
 * ChainCrypto on @noble/hashes and @noble/ed25519. Verification follows RFC 8032's strict rules
 * (zip215: false): non-canonical encodings of R, A or S are rejected, as OpenSSL does, so both
 * implementations accept the same signatures.
 */
export const portableCrypto: ChainCrypto = {
  sha256: (data) => nobleSha256(data),
  verify: (publicKey, message, signature) => {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  }
}
