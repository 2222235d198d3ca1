/**
 * The application interface (PROTOCOL.md sections 6 to 8): what every replicated application
 * implements, and the result format they all share.
 *
 * An application is a deterministic state machine over ordered, signature-verified
 * transactions. Everything here is pure: no I/O, no clock, no randomness. Given the same state,
 * context and batch, every replica computes byte-identical results and an identical next state,
 * so results can go into the block's resultsRoot and stateHash into checkpoint headers.
 *
 * States are immutable values: `executeBatch` returns a new state and leaves the old one readable
 * and unchanged. (The applications here share storage between versions, see ./versioned-map.ts,
 * so deriving each state from the newest one costs no copying; reading an old state is allowed
 * but costs the changes since.)
 *
 * The byte formats are specified in conformance/APPS.md.
 */
import { Either, Schema } from "effect"
import { bytesEqual } from "../chain/bytes.ts"
import { DecodeFailure, Reader, Writer } from "../chain/codec.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { Genesis, PublicKey, Transaction } from "../chain/types.ts"

// ---------------------------------------------------------------------------------------------
// Context, outcome, interface
// ---------------------------------------------------------------------------------------------

/** What an application may know about the block it executes, besides the transactions. */
export interface AppContext {
  readonly crypto: ChainCrypto
  readonly chainId: string
  /** Height of the block being executed (block 1 is the first after genesis). */
  readonly height: bigint
  /** The keys genesis allows to mint. */
  readonly minters: ReadonlyArray<PublicKey>
  /**
   * The transactions' hashes, `txHash(crypto, tx)` in batch order, when the caller already has
   * them (ordering computes them for the batch hash). Applications compute them when absent.
   * The state may keep these arrays, so the caller must not write into them afterwards.
   */
  readonly txHashes?: ReadonlyArray<Uint8Array>
}

/** The context for executing block `height` of the chain started by `genesis`. */
export const appContext = (
  crypto: ChainCrypto,
  genesis: Pick<Genesis, "chainId" | "minters">,
  height: bigint,
  txHashes?: ReadonlyArray<Uint8Array>
): AppContext =>
  txHashes === undefined
    ? { crypto, chainId: genesis.chainId, height, minters: genesis.minters }
    : { crypto, chainId: genesis.chainId, height, minters: genesis.minters, txHashes }

/** The result of executing one batch: the next state and one result per transaction, in order. */
export interface BatchOutcome<S> {
  readonly state: S
  readonly results: ReadonlyArray<Uint8Array>
}

export interface Application<S> {
  /** Short name, e.g. "coin"; used in errors and on the command line. */
  readonly name: string
  /** The state at height 0. */
  readonly initial: (genesis: Genesis) => S
  /**
   * Executes the transactions in order. Each has already been checked (signature, size,
   * uniqueness of (client, seq)); its `op` bytes are this application's to interpret. A
   * transaction that fails has no effect on the state; its result says why.
   */
  readonly executeBatch: (state: S, ctx: AppContext, transactions: ReadonlyArray<Transaction>) => BatchOutcome<S>
  /** The canonical encoding of the state: equal states, and only equal states, give equal bytes. */
  readonly snapshot: (state: S) => Uint8Array
  /** Inverse of `snapshot`; any other bytes give an AppError. */
  readonly restore: (bytes: Uint8Array) => Either.Either<S, AppError>
  /** Domain-separated SHA-256 identifying the state (the header's stateHash). */
  readonly stateHash: (crypto: ChainCrypto, state: S) => Uint8Array
  /** The admission policy for JOIN requests, run while executing the block that orders them. */
  readonly admitJoin: (state: S, genesis: Genesis, identityKey: PublicKey) => boolean
  /** One line describing a result of this application, for people. */
  readonly describeResult: (result: Uint8Array) => string
}

/** The default admission policy: the identity key is on genesis's allow-list. */
export const defaultAdmitJoin = (_state: unknown, genesis: Genesis, identityKey: PublicKey): boolean =>
  genesis.admission.some((k) => bytesEqual(k, identityKey))

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Bytes that are not a snapshot of the application: truncated, malformed or inconsistent. */
export class AppError extends Schema.TaggedError<AppError>()("AppError", {
  /** The application, e.g. "coin". */
  app: Schema.String,
  /** Byte offset where restoring stopped. */
  offset: Schema.Number,
  /** What was expected there. */
  expected: Schema.String
}) {
  override get message(): string {
    return `corrupt ${this.app} snapshot: at byte ${this.offset}: expected ${this.expected}`
  }
}

/** Op bytes that are not a canonical operation of the application. */
export class OpDecodeError extends Schema.TaggedError<OpDecodeError>()("OpDecodeError", {
  app: Schema.String,
  /** TooLarge when a count or length exceeds the application's limit, Malformed otherwise. */
  reason: Schema.Literal("Malformed", "TooLarge"),
  offset: Schema.Number,
  expected: Schema.String
}) {
  override get message(): string {
    return `${this.reason === "TooLarge" ? "oversized" : "malformed"} ${this.app} operation: at byte ${this.offset}: expected ${this.expected}`
  }
}

/** Thrown inside a reader when a count or length is over an application limit. */
class TooLargeFailure extends DecodeFailure {}

/** Stops reading because a count or length at `at` exceeds a limit. */
export const failTooLarge = (expected: string, at: number): never => {
  throw new TooLargeFailure(at, expected)
}

/** Reads an operation with `read`, which must consume all of `bytes`; never throws. */
export const decodeOpWith = <A>(app: string, bytes: Uint8Array, read: (r: Reader) => A): Either.Either<A, OpDecodeError> => {
  const r = new Reader(bytes)
  try {
    const a = read(r)
    if (r.remaining !== 0)
      return Either.left(new OpDecodeError({ app, reason: "Malformed", offset: r.pos, expected: `end of operation, found ${r.remaining} more bytes` }))
    return Either.right(a)
  } catch (e) {
    if (e instanceof DecodeFailure)
      return Either.left(new OpDecodeError({ app, reason: e instanceof TooLargeFailure ? "TooLarge" : "Malformed", offset: e.offset, expected: e.expected }))
    return Either.left(new OpDecodeError({ app, reason: "Malformed", offset: r.pos, expected: `decodable bytes (${String(e)})` }))
  }
}

/** Reads a snapshot with `read`, which must consume all of `bytes`; never throws. */
export const restoreWith = <S>(app: string, bytes: Uint8Array, read: (r: Reader) => S): Either.Either<S, AppError> => {
  if (!(bytes instanceof Uint8Array)) return Either.left(new AppError({ app, offset: 0, expected: "a Uint8Array" }))
  const r = new Reader(bytes)
  try {
    const s = read(r)
    if (r.remaining !== 0) return Either.left(new AppError({ app, offset: r.pos, expected: `end of snapshot, found ${r.remaining} more bytes` }))
    return Either.right(s)
  } catch (e) {
    if (e instanceof DecodeFailure) return Either.left(new AppError({ app, offset: e.offset, expected: e.expected }))
    return Either.left(new AppError({ app, offset: r.pos, expected: `decodable bytes (${String(e)})` }))
  }
}

/** Checks that the next bytes are `magic` (a snapshot's leading tag). */
export const expectMagic = (r: Reader, magic: Uint8Array, what: string): void => {
  const at = r.pos
  if (r.remaining < magic.length) r.fail(`the ${what} tag`, at)
  for (let i = 0; i < magic.length; i++) if (r.bytes[at + i] !== magic[i]) r.fail(`the ${what} tag`, at)
  r.pos += magic.length
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/** The first byte of every result. */
export const ResultStatus = { ok: 0, failed: 1 } as const

/** Longest reason text a result carries, in bytes. */
export const reasonTextBytesMax = 200

/** An ok result: status 0, then the application's body. */
export const okResult = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(1 + body.length)
  out[0] = ResultStatus.ok
  out.set(body, 1)
  return out
}

/** A failed result: status 1, u8 reason code, then the reason text as a string (u32 length, UTF-8). */
export const failedResult = (reason: number, text: string): Uint8Array => {
  const w = new Writer(6 + text.length)
  w.u8(ResultStatus.failed)
  w.u8(reason)
  w.string(text)
  const out = w.finish()
  if (out.length > 6 + reasonTextBytesMax) throw new RangeError(`reason text longer than ${reasonTextBytesMax} bytes`)
  return out
}

/** A result split into its generic parts. */
export type ResultView =
  | { readonly _tag: "Ok"; readonly body: Uint8Array }
  | { readonly _tag: "Failed"; readonly reason: number; readonly text: string }

/** Splits a result into status and body (ok) or reason code and text (failed). */
export const decodeResult = (bytes: Uint8Array): Either.Either<ResultView, OpDecodeError> =>
  decodeOpWith<ResultView>("result", bytes, (r) => {
    const at = r.pos
    const status = r.u8()
    if (status === ResultStatus.ok) {
      const body = r.bytes.slice(r.pos)
      r.pos = r.bytes.length
      return { _tag: "Ok", body }
    }
    if (status !== ResultStatus.failed) return r.fail(`result status 0 or 1, got ${status}`, at)
    const reason = r.u8()
    const text = r.string(reasonTextBytesMax)
    return { _tag: "Failed", reason, text }
  })

/**
 * An application's failure reasons and their code bytes: `fail` builds a failed result, and
 * `decodeFailed` names the reason of a decoded failed result (an unknown code is Malformed).
 */
export const reasonTable = <R extends string>(
  app: string,
  codes: { readonly [K in R]: number }
): {
  readonly fail: (reason: R, text: string) => Uint8Array
  readonly decodeFailed: (view: { readonly reason: number; readonly text: string }) => Either.Either<{ readonly _tag: "Failed"; readonly reason: R; readonly text: string }, OpDecodeError>
} => {
  const byCode = new Map<number, R>((Object.keys(codes) as Array<R>).map((r) => [codes[r], r]))
  return {
    fail: (reason, text) => failedResult(codes[reason], text),
    decodeFailed: (view) => {
      const reason = byCode.get(view.reason)
      return reason === undefined
        ? Either.left(new OpDecodeError({ app: `${app} result`, reason: "Malformed", offset: 1, expected: `a ${app} reason code, got ${view.reason}` }))
        : Either.right({ _tag: "Failed", reason, text: view.text })
    }
  }
}

// ---------------------------------------------------------------------------------------------
// State hashes
// ---------------------------------------------------------------------------------------------

/**
 * `snapshot` and `stateHash` for an application whose states are immutable objects.
 *
 * stateHash = SHA-256(snapshot). Every snapshot begins with its application's tag
 * (TAG("smartchain/app/<name>/v1"), see conformance/APPS.md), which no other hashed encoding
 * begins with, so the hash is domain-separated without copying the snapshot behind a prefix.
 *
 * Both are memoized: the snapshot of one state object never changes, so each state is encoded
 * and hashed at most once (a checkpoint needs both). Cache entries go when the state is
 * collected. Callers get copies, so writing into a returned array cannot change the cache.
 */
export const snapshotFunctions = <S extends object>(
  encode: (state: S) => Uint8Array
): {
  readonly snapshot: (state: S) => Uint8Array
  readonly stateHash: (crypto: ChainCrypto, state: S) => Uint8Array
} => {
  const snapshots = new WeakMap<S, Uint8Array>()
  const hashes = new WeakMap<S, Uint8Array>()
  const encoded = (state: S): Uint8Array => {
    let bytes = snapshots.get(state)
    if (bytes === undefined) {
      bytes = encode(state)
      snapshots.set(state, bytes)
    }
    return bytes
  }
  return {
    snapshot: (state) => encoded(state).slice(),
    stateHash: (crypto, state) => {
      let hash = hashes.get(state)
      if (hash === undefined) {
        hash = crypto.sha256(encoded(state))
        hashes.set(state, hash)
      }
      return hash.slice()
    }
  }
}
