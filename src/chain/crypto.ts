/**
 * The two primitives chain code needs: SHA-256 and Ed25519 verification. Pure code receives a
 * ChainCrypto as a parameter; the Crypto service (src/services/crypto.ts) satisfies it with
 * node:crypto, and `portableCrypto` here satisfies it in pure JavaScript.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js"
import { strictVerify } from "./ed25519-strict.ts"

export interface ChainCrypto {
  readonly sha256: (data: Uint8Array) => Uint8Array
  /** True when `signature` is a valid Ed25519 signature by `publicKey` over `message`; never throws. */
  readonly verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
}

/**
 * ChainCrypto on @noble/hashes and @noble/ed25519, in pure JavaScript. Verification is the strict
 * rule of ./ed25519-strict.ts, the same one the replicas' node:crypto layer applies, so a
 * third-party verifier and every replica accept exactly the same signatures.
 */
export const portableCrypto: ChainCrypto = {
  sha256: (data) => nobleSha256(data),
  verify: strictVerify
}
