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

/**
 * Limits of the replica core that genesis does not carry: they bound every queue and map the
 * core keeps, so a Byzantine peer cannot make a replica's memory grow without bound.
 */
export const coreLimits = {
  /** Most client transactions a replica holds waiting to be ordered. */
  pendingTxMax: 1 << 16,
  /** Messages for cids up to this far beyond the open instance are kept for later. */
  futureCidWindow: 2,
  /** Most messages kept for future instances. */
  futureMessagesMax: 4096,
  /** WRITE/ACCEPT/STOP messages are kept for regencies at most this far beyond the current one. */
  regencyWindow: 8,
  /** Most entries in a STOPDATA write set (equal to the decoder's bound, see encoding.ts). */
  writeSetMax: 64,
  /** The request timeout doubles with each leader change without a decision, up to 2^this. */
  timeoutBackoffMax: 3,
  /** Most decided instances one state-transfer answer carries. */
  stateTransferCidsMax: 64,
  /**
   * How long a leader holds a batch that is not full while an earlier block of its own still
   * waits for its replies (src/ordering/batch.ts, `batchReady`), in ms of the core's clock. 0, the
   * default, proposes at once: the core's clock moves by ticks, so any hold lasts up to a tick
   * interval, which on the 4-process benchmark cost strong mode more than the larger batches saved.
   */
  batchDelayMs: 0
} as const
