/**
 * Shared helpers for the application tests: deterministic client keys, transactions (the
 * applications see verified transactions, so signatures here are fixed bytes unless a test
 * signs), and the execution context.
 */
import type { AppContext } from "../../src/app/application.ts"
import { appContext } from "../../src/app/application.ts"
import type { ChainCrypto } from "../../src/chain/crypto.ts"
import type { Transaction } from "../../src/chain/types.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

export const crypto: ChainCrypto = nodeCrypto

/** A 32-byte "public key" for client `i` (the applications only compare keys as bytes). */
export const clientKey = (i: number): Uint8Array => {
  const k = new Uint8Array(32)
  k[0] = 0xc0
  k[31] = i
  return k
}

export const clients = [0, 1, 2, 3].map(clientKey)
/** Client 0 is the only minter. */
export const minters = [clients[0]!]

const signature = new Uint8Array(64).fill(7)

/** A transaction of `client` with `seq` and `op`; the signature is fixed filler. */
export const tx = (client: Uint8Array, seq: bigint, op: Uint8Array): Transaction => ({ client, seq, op, signature })

export const ctxAt = (height: bigint, c: ChainCrypto = crypto, txHashes?: ReadonlyArray<Uint8Array>): AppContext =>
  appContext(c, { chainId: "app-test", minters }, height, txHashes)

export const U64_MAX = 0xffff_ffff_ffff_ffffn

/** Numbers the transactions of a test run, so every (client, seq) and every txHash is unique. */
export class SeqCounter {
  private next = 1n
  take(): bigint {
    return this.next++
  }
}
