/**
 * A replicated key-value store: the second application behind the generic interface
 * (PROTOCOL.md section 8). Keys and values are byte strings of bounded size.
 *
 * Operations (conformance/APPS.md section 4), each a tag byte and its fields:
 *   PUT    { key, value }             sets the key;
 *   DELETE { key }                    removes it (NotFound when absent);
 *   CAS    { key, expected, value }   compare-and-set: applies only when the current value is
 *                                     `expected` (absent expected = the key must be absent);
 *                                     an absent `value` deletes the key.
 * Reads are queries on the state (`kvGet`), not transactions. Any client may write any key.
 */
import { Either, Option, Schema } from "effect"
import { bytesEqual, tagPrefix, toHex } from "../chain/bytes.ts"
import type { Reader } from "../chain/codec.ts"
import { Writer } from "../chain/codec.ts"
import { Bytes } from "../chain/types.ts"
import type { Genesis, Transaction } from "../chain/types.ts"
import type { AppContext, AppError, Application, BatchOutcome } from "./application.ts"
import {
  OpDecodeError,
  decodeOpWith,
  decodeResult,
  defaultAdmitJoin,
  expectMagic,
  reasonTable,
  failTooLarge,
  okResult,
  restoreWith,
  snapshotFunctions
} from "./application.ts"
import { VersionedMap } from "./versioned-map.ts"
import type { MapEditor } from "./versioned-map.ts"

/** The store's named limits. */
export const kvLimits = {
  /** Longest key, in bytes (keys have at least one byte). */
  keyBytesMax: 256,
  /** Longest value, in bytes. */
  valueBytesMax: 4096,
  /** Most keys the store holds; a write of a new key beyond this fails with Full. */
  entriesMax: 1 << 20
} as const

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

export const Put = Schema.TaggedStruct("Put", { key: Bytes, value: Bytes })
export type Put = typeof Put.Type
export const Delete = Schema.TaggedStruct("Delete", { key: Bytes })
export type Delete = typeof Delete.Type
export const Cas = Schema.TaggedStruct("Cas", {
  key: Bytes,
  expected: Schema.OptionFromSelf(Bytes),
  value: Schema.OptionFromSelf(Bytes)
})
export type Cas = typeof Cas.Type
export const KvOp = Schema.Union(Put, Delete, Cas)
export type KvOp = typeof KvOp.Type

/** The tag byte that starts each operation (and each ok result body). */
export const kvOpTags = { Put: 1, Delete: 2, Cas: 3 } as const

const writeOption = (w: Writer, o: Option.Option<Uint8Array>): void => {
  if (Option.isNone(o)) w.u8(0)
  else {
    w.u8(1)
    w.bytes(o.value)
  }
}

/** The bytes of a key-value operation. Encodes any well-typed value, including ones the store refuses. */
export const encodeKvOp = (op: KvOp): Uint8Array => {
  const w = new Writer(64 + op.key.length + (op._tag === "Put" ? op.value.length : 0))
  w.u8(kvOpTags[op._tag])
  w.bytes(op.key)
  if (op._tag === "Put") w.bytes(op.value)
  else if (op._tag === "Cas") {
    writeOption(w, op.expected)
    writeOption(w, op.value)
  }
  return w.finish()
}

export const putOp = (key: Uint8Array, value: Uint8Array): Uint8Array => encodeKvOp({ _tag: "Put", key, value })
export const deleteOp = (key: Uint8Array): Uint8Array => encodeKvOp({ _tag: "Delete", key })
/** CAS: `expected` undefined means "the key must be absent"; `value` undefined deletes. */
export const casOp = (key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array | undefined): Uint8Array =>
  encodeKvOp({ _tag: "Cas", key, expected: Option.fromNullable(expected), value: Option.fromNullable(value) })

/** A u32 length in min..max (TooLarge above max), then that many bytes. */
const readSized = (r: Reader, what: string, min: number, max: number): Uint8Array => {
  const at = r.pos
  const n = r.u32()
  if (n > max) failTooLarge(`a ${what} of at most ${max} bytes, got ${n}`, at)
  if (n < min) r.fail(`a ${what} of at least ${min} byte`, at)
  return r.fixed(n)
}

const readKey = (r: Reader): Uint8Array => readSized(r, "key", 1, kvLimits.keyBytesMax)
const readValue = (r: Reader): Uint8Array => readSized(r, "value", 0, kvLimits.valueBytesMax)

const readOptionalValue = (r: Reader): Option.Option<Uint8Array> => {
  const at = r.pos
  const tag = r.u8()
  if (tag === 0) return Option.none()
  if (tag !== 1) return r.fail(`option tag 0 or 1, got ${tag}`, at)
  return Option.some(readValue(r))
}

const readKvOp = (r: Reader): KvOp => {
  const at = r.pos
  const tag = r.u8()
  switch (tag) {
    case kvOpTags.Put: {
      const key = readKey(r)
      return { _tag: "Put", key, value: readValue(r) }
    }
    case kvOpTags.Delete:
      return { _tag: "Delete", key: readKey(r) }
    case kvOpTags.Cas: {
      const key = readKey(r)
      const expected = readOptionalValue(r)
      return { _tag: "Cas", key, expected, value: readOptionalValue(r) }
    }
    default:
      return r.fail(`key-value operation tag 1 (PUT), 2 (DELETE) or 3 (CAS), got ${tag}`, at)
  }
}

/** Decodes op bytes: only the canonical encoding, keys of 1..keyBytesMax bytes, values up to valueBytesMax. */
export const decodeKvOp = (bytes: Uint8Array): Either.Either<KvOp, OpDecodeError> => decodeOpWith("kv", bytes, readKvOp)

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export const KvReason = Schema.Literal("Malformed", "TooLarge", "NotFound", "Conflict", "Full")
export type KvReason = typeof KvReason.Type

export const kvReasonCodes: { readonly [R in KvReason]: number } = {
  Malformed: 1,
  TooLarge: 2,
  NotFound: 3,
  Conflict: 4,
  Full: 5
}
const kvReasons = reasonTable("kv", kvReasonCodes)

export type KvResult =
  | { readonly _tag: "Ok"; readonly op: KvOp["_tag"] }
  | { readonly _tag: "Failed"; readonly reason: KvReason; readonly text: string }

const okResults: { readonly [T in KvOp["_tag"]]: Uint8Array } = {
  Put: okResult(Uint8Array.of(kvOpTags.Put)),
  Delete: okResult(Uint8Array.of(kvOpTags.Delete)),
  Cas: okResult(Uint8Array.of(kvOpTags.Cas))
}
const opByTag = new Map<number, KvOp["_tag"]>([
  [kvOpTags.Put, "Put"],
  [kvOpTags.Delete, "Delete"],
  [kvOpTags.Cas, "Cas"]
])

const fail = kvReasons.fail

export const decodeKvResult = (bytes: Uint8Array): Either.Either<KvResult, OpDecodeError> =>
  Either.flatMap(decodeResult(bytes), (view): Either.Either<KvResult, OpDecodeError> => {
    if (view._tag === "Failed") return kvReasons.decodeFailed(view)
    const op = view.body.length === 1 ? opByTag.get(view.body[0] as number) : undefined
    return op === undefined
      ? Either.left(new OpDecodeError({ app: "kv result", reason: "Malformed", offset: 1, expected: "one operation tag byte" }))
      : Either.right({ _tag: "Ok", op })
  })

export const describeKvResult = (bytes: Uint8Array): string => {
  const r = decodeKvResult(bytes)
  if (Either.isLeft(r)) return `undecodable result: ${r.left.message}`
  const v = r.right
  return v._tag === "Ok" ? `ok: ${v.op.toUpperCase()}` : `failed: ${v.reason}: ${v.text}`
}

// ---------------------------------------------------------------------------------------------
// State and execution
// ---------------------------------------------------------------------------------------------

export interface KvEntry {
  readonly key: Uint8Array
  readonly value: Uint8Array
}

export interface KvState {
  /** Keyed by the lowercase hex of the key (hex order is the keys' byte order). */
  readonly entries: VersionedMap<string, KvEntry>
}

export const emptyKvState = (): KvState => ({ entries: VersionedMap.empty() })

const setValue = (
  entries: MapEditor<string, KvEntry>,
  entriesMax: number,
  hexKey: string,
  key: Uint8Array,
  value: Uint8Array
): Uint8Array | undefined => {
  if (!entries.has(hexKey) && entries.size >= entriesMax) return fail("Full", `the store holds ${entriesMax} keys`)
  entries.set(hexKey, { key, value })
  return undefined
}

const executeOne = (entries: MapEditor<string, KvEntry>, entriesMax: number, tx: Transaction): Uint8Array => {
  const decoded = decodeKvOp(tx.op)
  if (Either.isLeft(decoded))
    // Fixed texts: results are hashed into the block (decodeKvOp on the op gives the details).
    return decoded.left.reason === "TooLarge"
      ? fail("TooLarge", `a key over ${kvLimits.keyBytesMax} bytes or a value over ${kvLimits.valueBytesMax} bytes`)
      : fail("Malformed", "not a canonical key-value operation")
  const op = decoded.right
  const hexKey = toHex(op.key)
  switch (op._tag) {
    case "Put":
      return setValue(entries, entriesMax, hexKey, op.key, op.value) ?? okResults.Put.slice()
    case "Delete":
      return entries.delete(hexKey) ? okResults.Delete.slice() : fail("NotFound", "no such key")
    case "Cas": {
      const current = entries.get(hexKey)
      if (Option.isNone(op.expected)) {
        if (current !== undefined) return fail("Conflict", "the key exists")
      } else {
        if (current === undefined) return fail("NotFound", "no such key")
        if (!bytesEqual(current.value, op.expected.value)) return fail("Conflict", "the value differs from the expected one")
      }
      if (Option.isNone(op.value)) {
        entries.delete(hexKey)
        return okResults.Cas.slice()
      }
      return setValue(entries, entriesMax, hexKey, op.key, op.value.value) ?? okResults.Cas.slice()
    }
  }
}

/**
 * Executes a batch. `entriesMax` is the store's key limit; only tests pass another value (the
 * application always runs with kvLimits.entriesMax).
 */
export const executeKvBatch = (
  state: KvState,
  _ctx: AppContext,
  transactions: ReadonlyArray<Transaction>,
  entriesMax: number = kvLimits.entriesMax
): BatchOutcome<KvState> => {
  const editor = state.entries.edit()
  const results = new Array<Uint8Array>(transactions.length)
  let committed = false
  try {
    for (let i = 0; i < transactions.length; i++) results[i] = executeOne(editor, entriesMax, transactions[i] as Transaction)
    const entries = editor.commit()
    committed = true
    return { state: entries === state.entries ? state : { entries }, results }
  } finally {
    if (!committed) editor.abort()
  }
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** The value of a key, if present (a copy). */
export const kvGet = (state: KvState, key: Uint8Array): Uint8Array | undefined => state.entries.get(toHex(key))?.value.slice()

/** Number of keys. */
export const kvSize = (state: KvState): number => state.entries.size

/** All entries in key order (copies). */
export const kvEntries = (state: KvState): Array<KvEntry> =>
  state.entries
    .keys()
    .sort()
    .map((k) => {
      const e = state.entries.get(k) as KvEntry
      return { key: e.key.slice(), value: e.value.slice() }
    })

// ---------------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------------

export const kvSnapshotTag = "smartchain/app/kv/v1"
const snapshotMagic = tagPrefix(kvSnapshotTag)

const encodeKvState = (state: KvState): Uint8Array => {
  const keys = state.entries.keys().sort()
  const w = new Writer(snapshotMagic.length + 4 + keys.length * 64)
  w.raw(snapshotMagic)
  w.u32(keys.length)
  for (const k of keys) {
    const e = state.entries.get(k) as KvEntry
    w.bytes(e.key)
    w.bytes(e.value)
  }
  return w.finish()
}

const readKvState = (r: Reader): KvState => {
  expectMagic(r, snapshotMagic, kvSnapshotTag)
  const countAt = r.pos
  const count = r.count(kvLimits.entriesMax, 4 + 1 + 4)
  const map = new Map<string, KvEntry>()
  let previous = ""
  for (let i = 0; i < count; i++) {
    const at = r.pos
    const key = readKey(r)
    const hexKey = toHex(key)
    if (hexKey <= previous) r.fail("keys in strictly increasing byte order", at)
    previous = hexKey
    map.set(hexKey, { key, value: readValue(r) })
  }
  if (map.size !== count) r.fail("distinct keys", countAt)
  return { entries: VersionedMap.adopt(map) }
}

const kvSnapshots = snapshotFunctions<KvState>(encodeKvState)

export const kvSnapshot = kvSnapshots.snapshot
export const kvStateHash = kvSnapshots.stateHash
/** The state a snapshot encodes; an AppError for anything else (an oversized key or value too). */
export const restoreKvState = (bytes: Uint8Array): Either.Either<KvState, AppError> => restoreWith("kv", bytes, readKvState)

export const kvApp: Application<KvState> = {
  name: "kv",
  initial: (_genesis: Genesis) => emptyKvState(),
  executeBatch: (state, ctx, transactions) => executeKvBatch(state, ctx, transactions),
  snapshot: kvSnapshot,
  restore: restoreKvState,
  stateHash: kvStateHash,
  admitJoin: defaultAdmitJoin,
  describeResult: describeKvResult
}
