/**
 * Default values of the named limits (see Limits in src/chain/types.ts). Genesis may override
 * every one of them; these are what `smartchain init` writes.
 */
import type { Limits } from "../chain/types.ts"

export const defaultLimits: Limits = {
  batchTxMax: 512,
  batchBytesMax: 1 << 20,
  txBytesMax: 16 * 1024,
  frameBytesMax: 4 << 20,
  checkpointInterval: 100,
  rotationWindow: 16,
  requestTimeoutMs: 2_000
}

/** Hard ceilings no genesis can raise: they bound every decoder's allocations. */
export const hardLimits = {
  /** Largest array length a decoder accepts before it checks the bytes remain. */
  arrayLengthMax: 1 << 20,
  /** Largest byte string a decoder accepts. */
  bytesLengthMax: 64 << 20,
  /** Most members in one view. */
  membersMax: 1024
} as const
