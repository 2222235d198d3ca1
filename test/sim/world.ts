/**
 * The simulated world: a genesis view with deterministic keys, signed client transactions, and
 * the network payloads the simulator moves between replicas.
 */
import { acceptSigningBytes, stopDataSigningBytes, txSigningBytes } from "../../src/chain/encoding.ts"
import type { Limits, Transaction, ViewRecord } from "../../src/chain/types.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { faultsTolerated } from "../../src/core/quorum.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Prng } from "./prng.ts"

export const chainId = "sim-chain"

export interface Keys {
  readonly secret: Uint8Array
  readonly publicKey: Uint8Array
}

export const keysFrom = (prng: Prng): Keys => {
  const secret = prng.bytes(32)
  return { secret, publicKey: nodeCrypto.publicKeyFromSecret(secret) }
}

export interface World {
  readonly view: ViewRecord
  readonly viewKeys: ReadonlyArray<Keys>
  readonly clients: ReadonlyArray<Keys>
  readonly limits: Limits
}

export const simLimits: Limits = { ...defaultLimits, batchTxMax: 8, requestTimeoutMs: 500 }

export const makeWorld = (prng: Prng, n: number, clientCount: number, limits: Limits = simLimits): World => {
  const viewKeys = Array.from({ length: n }, () => keysFrom(prng))
  const identity = Array.from({ length: n }, () => keysFrom(prng))
  const view: ViewRecord = {
    id: 0n,
    n,
    f: faultsTolerated(n),
    members: viewKeys.map((k, i) => ({
      replica: i,
      identityKey: (identity[i] as Keys).publicKey,
      viewKey: k.publicKey,
      address: `sim:${i}`
    }))
  }
  return { view, viewKeys, clients: Array.from({ length: clientCount }, () => keysFrom(prng)), limits }
}

export const signTx = (client: Keys, seq: bigint, op: Uint8Array): Transaction => ({
  client: client.publicKey,
  seq,
  op,
  signature: nodeCrypto.sign(client.secret, txSigningBytes(chainId, { client: client.publicKey, seq, op }))
})

export const signAccept = (keys: Keys, fields: { viewId: bigint; cid: bigint; regency: bigint; batchHash: Uint8Array }): Uint8Array =>
  nodeCrypto.sign(keys.secret, acceptSigningBytes(chainId, fields))

export const signStopData = (keys: Keys, fields: Parameters<typeof stopDataSigningBytes>[1]): Uint8Array =>
  nodeCrypto.sign(keys.secret, stopDataSigningBytes(chainId, fields))

export type { Payload } from "../../src/services/transport.ts"
