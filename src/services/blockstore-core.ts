/**
 * The BlockStore service: the interface, its typed errors, the on-disk record format, and the
 * store logic shared by the classic-level layer (./blockstore-level.ts) and the in-memory layer
 * with crash semantics (./blockstore-memory.ts). Both layers differ only in the key-value backend
 * underneath (`KvBackend`).
 *
 * Records. Every key is one byte naming the record kind followed by the height as 8 big-endian
 * bytes, so each kind sorts by height. Every value is the 32-byte SHA-256 of its payload followed
 * by the payload:
 *
 *   kind          key          payload
 *   block         'b' height   encodeBlock(block)
 *   index         'i' height   headerHash(block.header), 32 bytes
 *   certificate   'c' height   encodeCertificate(certificate)
 *   snapshot      's' height   stateHash (32 bytes) then the snapshot bytes
 *   record        'v' slot     a replica's consensus record (slots 0 and 1; src/persistence/consensus-record.ts)
 *
 * The index is what the store expects at each height: every read recomputes the checksum, decodes,
 * and checks that the block's header hash (or the certificate's headerHash) is the one indexed
 * for that height. Any mismatch is a typed Corrupt* error naming the height; corrupt data is
 * reported, never returned. The head is the highest indexed height.
 *
 * Durability. Appends, certificates and snapshots are staged in memory (and readable at once);
 * `sync` writes everything staged in one atomic, durable batch: the durability point. Several
 * appends share one sync (group commit), and appends may continue while a sync is in flight.
 * What was not synced is lost by a crash or by `close`. `truncateFrom` is itself a durability
 * point: it syncs whatever is staged together with the removal.
 */
import { Context, Effect, Option, Schema } from "effect"
import { bytesEqual } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { decodeBlock, decodeCertificate, encodeBlock, encodeCertificate } from "../chain/encoding.ts"
import { headerHash } from "../chain/hash.ts"
import type { Block, Certificate } from "../chain/types.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

const Height = Schema.BigIntFromSelf

/** The storage underneath failed, or the store is closed. */
export class DiskError extends Schema.TaggedError<DiskError>()("DiskError", { op: Schema.String, reason: Schema.String }) {
  override get message(): string {
    return `block store ${this.op} failed: ${this.reason}`
  }
}

/** A block appended at a height other than head + 1. */
export class OutOfOrder extends Schema.TaggedError<OutOfOrder>()("OutOfOrder", { expected: Height, got: Height }) {
  override get message(): string {
    return `block ${this.got} appended out of order: the next height is ${this.expected}`
  }
}

export class BlockNotFound extends Schema.TaggedError<BlockNotFound>()("BlockNotFound", { height: Height }) {
  override get message(): string {
    return `no block at height ${this.height}`
  }
}

export class CertificateNotFound extends Schema.TaggedError<CertificateNotFound>()("CertificateNotFound", { height: Height }) {
  override get message(): string {
    return `no certificate for height ${this.height}`
  }
}

export class SnapshotNotFound extends Schema.TaggedError<SnapshotNotFound>()("SnapshotNotFound", { height: Height }) {
  override get message(): string {
    return `no snapshot at height ${this.height}`
  }
}

/** A certificate whose height or header hash is not that of the stored block. */
export class CertificateMismatch extends Schema.TaggedError<CertificateMismatch>()("CertificateMismatch", {
  height: Height,
  reason: Schema.String
}) {
  override get message(): string {
    return `certificate for height ${this.height} does not match the stored block: ${this.reason}`
  }
}

/** A request the store refuses on its face: a bad range, a bad argument, a write to a read-only store. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", { reason: Schema.String }) {
  override get message(): string {
    return `invalid block store request: ${this.reason}`
  }
}

/** The stored block (or its index entry) at `height` fails its checksum, decoding or hash check. */
export class CorruptBlock extends Schema.TaggedError<CorruptBlock>()("CorruptBlock", { height: Height, reason: Schema.String }) {
  override get message(): string {
    return `block ${this.height} is corrupt: ${this.reason}`
  }
}

export class CorruptCertificate extends Schema.TaggedError<CorruptCertificate>()("CorruptCertificate", {
  height: Height,
  reason: Schema.String
}) {
  override get message(): string {
    return `certificate ${this.height} is corrupt: ${this.reason}`
  }
}

export class CorruptSnapshot extends Schema.TaggedError<CorruptSnapshot>()("CorruptSnapshot", { height: Height, reason: Schema.String }) {
  override get message(): string {
    return `snapshot ${this.height} is corrupt: ${this.reason}`
  }
}

export type Corruption = CorruptBlock | CorruptCertificate | CorruptSnapshot

// ---------------------------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------------------------

export interface Head {
  readonly height: bigint
  readonly headerHash: Uint8Array
}

export interface Snapshot {
  readonly height: bigint
  readonly stateHash: Uint8Array
  readonly bytes: Uint8Array
}

/** The result of walking back from the head over the last `depth` blocks and their certificates. */
export interface TailCheck {
  /** The head height when the check ran (0 for an empty store). */
  readonly head: bigint
  /** Heights examined. */
  readonly checked: number
  /** The lowest corrupt height among those examined: the store should be cut from there. */
  readonly firstCorrupt: Option.Option<CorruptBlock | CorruptCertificate>
}

export interface BlockStoreApi {
  /** Stages `block`, which must be at head + 1; readable at once, durable after the next sync. */
  readonly appendBlock: (block: Block) => Effect.Effect<void, OutOfOrder | InvalidRequest | DiskError>
  /** Stages the certificate of a stored block (replacing an earlier one for that height). */
  readonly appendCertificate: (
    certificate: Certificate
  ) => Effect.Effect<void, BlockNotFound | CertificateMismatch | CorruptBlock | InvalidRequest | DiskError>
  /** Makes everything staged before it durable, in one batch. */
  readonly sync: () => Effect.Effect<void, DiskError>
  readonly readBlock: (height: bigint) => Effect.Effect<Block, BlockNotFound | CorruptBlock | DiskError>
  /** Blocks from..to inclusive; at most `readRangeBlocksMax` of them. */
  readonly readRange: (
    from: bigint,
    to: bigint
  ) => Effect.Effect<ReadonlyArray<Block>, InvalidRequest | BlockNotFound | CorruptBlock | DiskError>
  readonly readCertificate: (
    height: bigint
  ) => Effect.Effect<Certificate, CertificateNotFound | CorruptCertificate | CorruptBlock | DiskError>
  /** The highest stored height and its header hash (staged blocks included); none when empty. */
  readonly head: () => Effect.Effect<Option.Option<Head>, CorruptBlock | DiskError>
  readonly putSnapshot: (height: bigint, stateHash: Uint8Array, bytes: Uint8Array) => Effect.Effect<void, InvalidRequest | DiskError>
  readonly readSnapshot: (height: bigint) => Effect.Effect<Snapshot, SnapshotNotFound | CorruptSnapshot | DiskError>
  readonly latestSnapshot: () => Effect.Effect<Option.Option<Snapshot>, CorruptSnapshot | DiskError>
  /**
   * Stages the bytes of consensus-record slot `slot` (0 or 1), durable after the next sync. The
   * two slots let a replica alternate, so a torn write never destroys the last durable record.
   */
  readonly putRecord: (slot: 0 | 1, bytes: Uint8Array) => Effect.Effect<void, InvalidRequest | DiskError>
  /** The bytes of a record slot; undefined when the slot is empty or its checksum fails. */
  readonly readRecord: (slot: 0 | 1) => Effect.Effect<Uint8Array | undefined, DiskError>
  /** Removes every block, certificate and snapshot at `height` and above, durably (it syncs). */
  readonly truncateFrom: (height: bigint) => Effect.Effect<void, InvalidRequest | DiskError>
  /** Walks back from the head over `depth` blocks and reports the lowest corrupt height. */
  readonly checkTail: (depth: number) => Effect.Effect<TailCheck, DiskError>
  /** The tail check run when the store was opened. */
  readonly startupCheck: () => Effect.Effect<TailCheck>
  /** Closes the store; what was not synced is dropped, as a crash would. Later calls fail with DiskError. */
  readonly close: () => Effect.Effect<void, DiskError>
}

export class BlockStore extends Context.Tag("smartchain/BlockStore")<BlockStore, BlockStoreApi>() {}

/** Most blocks one readRange returns (a range of 512-transaction blocks stays in the tens of MiB). */
export const readRangeBlocksMax = 256
/** Blocks the startup check walks back over unless told otherwise. */
export const defaultCheckDepth = 64

// ---------------------------------------------------------------------------------------------
// Record format
// ---------------------------------------------------------------------------------------------

export const recordKinds = { block: 0x62, certificate: 0x63, index: 0x69, snapshot: 0x73, record: 0x76 } as const
export type RecordKind = keyof typeof recordKinds
const allKinds: ReadonlyArray<RecordKind> = ["block", "certificate", "index", "snapshot"]

const HEIGHT_MAX = 0xffff_ffff_ffff_ffffn
const CHECKSUM_LENGTH = 32

/** The key of a record: its kind byte, then the height as 8 big-endian bytes. */
export const recordKey = (kind: RecordKind, height: bigint): Uint8Array => {
  const key = new Uint8Array(9)
  key[0] = recordKinds[kind]
  new DataView(key.buffer).setBigUint64(1, height)
  return key
}

/** The height in a block record's key, or undefined for a key of another kind. */
export const blockKeyHeight = (key: Uint8Array): bigint | undefined =>
  key.length === 9 && key[0] === recordKinds.block ? keyHeight(key) : undefined

/** The height in a record key. */
export const keyHeight = (key: Uint8Array): bigint => new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1)

/** The first key of `kind` at `height` or above, and the first key past every record of `kind`. */
const kindRange = (kind: RecordKind, fromHeight: bigint): { gte: Uint8Array; lt: Uint8Array } => ({
  gte: recordKey(kind, fromHeight),
  lt: new Uint8Array([recordKinds[kind] + 1])
})

/** A stored value: SHA-256 of the payload, then the payload. */
export const frameValue = (crypto: ChainCrypto, payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(CHECKSUM_LENGTH + payload.length)
  out.set(crypto.sha256(payload), 0)
  out.set(payload, CHECKSUM_LENGTH)
  return out
}

/** The payload of a stored value, or why the value is damaged. */
export const unframeValue = (crypto: ChainCrypto, value: Uint8Array): Uint8Array | string => {
  if (value.length < CHECKSUM_LENGTH) return `record of ${value.length} bytes is shorter than its checksum`
  const payload = value.subarray(CHECKSUM_LENGTH)
  return bytesEqual(crypto.sha256(payload), value.subarray(0, CHECKSUM_LENGTH)) ? payload : "checksum mismatch"
}

// ---------------------------------------------------------------------------------------------
// Backend
// ---------------------------------------------------------------------------------------------

export type KvOp =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "del"; readonly key: Uint8Array }

/** What the store needs from the storage underneath. */
export interface KvBackend {
  readonly get: (key: Uint8Array) => Effect.Effect<Uint8Array | undefined, DiskError>
  /** Keys in [gte, lt), ascending (descending with `reverse`), at most `limit`. */
  readonly keys: (range: {
    readonly gte: Uint8Array
    readonly lt: Uint8Array
    readonly reverse?: boolean
    readonly limit?: number
  }) => Effect.Effect<ReadonlyArray<Uint8Array>, DiskError>
  /** Applies `ops` atomically and durably: after success they survive a crash, after failure none is visible. */
  readonly write: (ops: ReadonlyArray<KvOp>) => Effect.Effect<void, DiskError>
  readonly close: () => Effect.Effect<void, DiskError>
}

export interface CoreOptions {
  readonly crypto: ChainCrypto
  /** Refuse every write with InvalidRequest. */
  readonly readOnly?: boolean
  /** Blocks the startup check walks back over. */
  readonly checkDepth?: number
}

/** The store, plus what the in-memory layer needs to model a torn write. */
export interface StoreCore extends BlockStoreApi {
  /** Staged writes not yet durable, oldest first (those of an in-flight sync included). */
  readonly unsynced: () => ReadonlyArray<KvOp>
}

/** A one-character-per-byte string of a key: an exact map key. */
const mapKey = (key: Uint8Array): string => String.fromCharCode(...key)

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/** Opens a store over `backend`: finds the head and the latest snapshot, then runs the tail check. */
export const openStoreCore = (backend: KvBackend, options: CoreOptions): Effect.Effect<StoreCore, DiskError> =>
  Effect.gen(function* () {
    const { crypto } = options
    const writeLock = yield* Effect.makeSemaphore(1)
    const syncLock = yield* Effect.makeSemaphore(1)

    /** Writes staged and not yet handed to a sync, in staging order. */
    let pending = new Map<string, KvOp>()
    /** Writes handed to the sync in flight. */
    let inflight: Map<string, KvOp> | undefined
    let closed = false
    let headHeight = 0n
    /** The header hash at the head, or why it cannot be read. */
    let headHash: Uint8Array | CorruptBlock | undefined
    let latestSnapshotHeight: bigint | undefined
    let openCheck: TailCheck = { head: 0n, checked: 0, firstCorrupt: Option.none() }

    const ensureOpen = (op: string) => (closed ? Effect.fail(new DiskError({ op, reason: "the store is closed" })) : Effect.void)
    const ensureWritable = (op: string) =>
      Effect.zipRight(
        ensureOpen(op),
        options.readOnly === true ? Effect.fail(new InvalidRequest({ reason: `${op} on a read-only store` })) : Effect.void
      )

    const stage = (op: KvOp): void => {
      const k = mapKey(op.key)
      // Re-inserting moves the key to the end, so the map's order stays the order of staging.
      pending.delete(k)
      pending.set(k, op)
    }

    /** The current value at `key`: staged, in flight, or durable. */
    const get = (key: Uint8Array): Effect.Effect<Uint8Array | undefined, DiskError> => {
      const k = mapKey(key)
      const op = pending.get(k) ?? inflight?.get(k)
      if (op !== undefined) return Effect.succeed(op.type === "put" ? op.value : undefined)
      return backend.get(key)
    }

    /** The highest height holding a record of `kind`, counting staged writes. */
    const topHeight = (kind: RecordKind): Effect.Effect<bigint | undefined, DiskError> =>
      Effect.gen(function* () {
        const durable = yield* backend.keys({ ...kindRange(kind, 0n), reverse: true, limit: 1 })
        let top = durable[0] === undefined ? undefined : keyHeight(durable[0])
        for (const layer of [inflight, pending])
          if (layer !== undefined)
            for (const op of layer.values())
              if (op.key[0] === recordKinds[kind]) {
                const h = keyHeight(op.key)
                if (op.type === "put" && (top === undefined || h > top)) top = h
              }
        return top
      })

    /** The header hash indexed at `height`, which must be at most the head. */
    const indexedHash = (height: bigint): Effect.Effect<Uint8Array, CorruptBlock | DiskError> =>
      Effect.gen(function* () {
        const value = yield* get(recordKey("index", height))
        if (value === undefined) return yield* new CorruptBlock({ height, reason: "its index record is missing" })
        const payload = unframeValue(crypto, value)
        if (typeof payload === "string") return yield* new CorruptBlock({ height, reason: `index record: ${payload}` })
        if (payload.length !== 32) return yield* new CorruptBlock({ height, reason: `index record holds ${payload.length} bytes, not a hash` })
        return payload
      })

    const loadHead = (height: bigint): Effect.Effect<void, DiskError> =>
      Effect.gen(function* () {
        headHeight = height
        headHash =
          height === 0n
            ? undefined
            : yield* indexedHash(height).pipe(Effect.catchTag("CorruptBlock", (e) => Effect.succeed(e)))
      })

    const readBlockUnchecked = (height: bigint): Effect.Effect<Block, BlockNotFound | CorruptBlock | DiskError> =>
      Effect.gen(function* () {
        if (height < 1n || height > headHeight) return yield* new BlockNotFound({ height })
        const expected = yield* indexedHash(height)
        const value = yield* get(recordKey("block", height))
        if (value === undefined) return yield* new CorruptBlock({ height, reason: "its block record is missing" })
        const payload = unframeValue(crypto, value)
        if (typeof payload === "string") return yield* new CorruptBlock({ height, reason: payload })
        const decoded = decodeBlock(payload)
        if (decoded._tag === "Left") return yield* new CorruptBlock({ height, reason: decoded.left.message })
        const block = decoded.right
        if (block.header.height !== height)
          return yield* new CorruptBlock({ height, reason: `the record holds block ${block.header.height}` })
        if (!bytesEqual(headerHash(crypto, block.header), expected))
          return yield* new CorruptBlock({ height, reason: "its header hash differs from the index" })
        return block
      })

    const readCertificateUnchecked = (
      height: bigint
    ): Effect.Effect<Certificate, CertificateNotFound | CorruptCertificate | CorruptBlock | DiskError> =>
      Effect.gen(function* () {
        if (height < 1n || height > headHeight) return yield* new CertificateNotFound({ height })
        const value = yield* get(recordKey("certificate", height))
        if (value === undefined) return yield* new CertificateNotFound({ height })
        const payload = unframeValue(crypto, value)
        if (typeof payload === "string") return yield* new CorruptCertificate({ height, reason: payload })
        const decoded = decodeCertificate(payload)
        if (decoded._tag === "Left") return yield* new CorruptCertificate({ height, reason: decoded.left.message })
        const certificate = decoded.right
        if (certificate.height !== height)
          return yield* new CorruptCertificate({ height, reason: `the record holds the certificate of ${certificate.height}` })
        const expected = yield* indexedHash(height)
        if (!bytesEqual(certificate.headerHash, expected))
          return yield* new CorruptCertificate({ height, reason: "its header hash differs from the index" })
        return certificate
      })

    const readSnapshotUnchecked = (height: bigint): Effect.Effect<Snapshot, SnapshotNotFound | CorruptSnapshot | DiskError> =>
      Effect.gen(function* () {
        const value = yield* get(recordKey("snapshot", height))
        if (value === undefined) return yield* new SnapshotNotFound({ height })
        const payload = unframeValue(crypto, value)
        if (typeof payload === "string") return yield* new CorruptSnapshot({ height, reason: payload })
        if (payload.length < 32) return yield* new CorruptSnapshot({ height, reason: "shorter than its state hash" })
        return { height, stateHash: payload.slice(0, 32), bytes: payload.slice(32) }
      })

    const checkTailUnchecked = (depth: number): Effect.Effect<TailCheck, DiskError> =>
      Effect.gen(function* () {
        const head = headHeight
        const lowest = head - BigInt(Math.max(0, Math.floor(depth))) + 1n
        let firstCorrupt: Option.Option<CorruptBlock | CorruptCertificate> = Option.none()
        let checked = 0
        for (let h = head; h >= 1n && h >= lowest; h--) {
          checked++
          const problem = yield* readBlockUnchecked(h).pipe(
            Effect.zipRight(readCertificateUnchecked(h)),
            Effect.as(Option.none<CorruptBlock | CorruptCertificate>()),
            Effect.catchTags({
              CorruptBlock: (e) => Effect.succeed(Option.some<CorruptBlock | CorruptCertificate>(e)),
              CorruptCertificate: (e) => Effect.succeed(Option.some<CorruptBlock | CorruptCertificate>(e)),
              BlockNotFound: (e) => Effect.succeed(Option.some(new CorruptBlock({ height: e.height, reason: "missing below the head" }))),
              CertificateNotFound: () => Effect.succeed(Option.none())
            })
          )
          if (Option.isSome(problem)) firstCorrupt = problem
        }
        return { head, checked, firstCorrupt }
      })

    /** Writes every staged op in one durable batch; the caller holds the sync lock. */
    const flushLocked = Effect.gen(function* () {
      if (pending.size === 0) return
      const batch = pending
      pending = new Map()
      inflight = batch
      yield* backend.write([...batch.values()]).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            inflight = undefined
            if (exit._tag === "Failure") {
              // Not durable: stage the batch again, under anything staged since.
              const merged = new Map(batch)
              for (const [k, op] of pending) {
                merged.delete(k)
                merged.set(k, op)
              }
              pending = merged
            }
          })
        )
      )
    })

    const api: StoreCore = {
      appendBlock: (block) =>
        writeLock.withPermits(1)(
          Effect.gen(function* () {
            yield* ensureWritable("appendBlock")
            const height = block.header.height
            if (height !== headHeight + 1n) return yield* new OutOfOrder({ expected: headHeight + 1n, got: height })
            if (height > HEIGHT_MAX) return yield* new InvalidRequest({ reason: `height ${height} is past the largest` })
            const encoded = yield* Effect.try({
              try: () => ({ bytes: encodeBlock(block), hash: headerHash(crypto, block.header) }),
              catch: (e) => new InvalidRequest({ reason: `block ${height} does not encode: ${String(e)}` })
            })
            // A certificate left above the head by an earlier crash must not attach to the new block.
            stage({ type: "del", key: recordKey("certificate", height) })
            stage({ type: "put", key: recordKey("block", height), value: frameValue(crypto, encoded.bytes) })
            // The index record goes last: a block counts as stored once its index entry is.
            stage({ type: "put", key: recordKey("index", height), value: frameValue(crypto, encoded.hash) })
            headHeight = height
            headHash = encoded.hash
          })
        ),

      appendCertificate: (certificate) =>
        writeLock.withPermits(1)(
          Effect.gen(function* () {
            yield* ensureWritable("appendCertificate")
            const height = certificate.height
            if (height < 1n || height > headHeight) return yield* new BlockNotFound({ height })
            const expected = yield* indexedHash(height)
            if (!bytesEqual(expected, certificate.headerHash))
              return yield* new CertificateMismatch({ height, reason: "its headerHash is not the stored block's header hash" })
            const bytes = yield* Effect.try({
              try: () => encodeCertificate(certificate),
              catch: (e) => new InvalidRequest({ reason: `certificate ${height} does not encode: ${String(e)}` })
            })
            stage({ type: "put", key: recordKey("certificate", height), value: frameValue(crypto, bytes) })
          })
        ),

      sync: () => Effect.zipRight(ensureOpen("sync"), syncLock.withPermits(1)(flushLocked)),

      readBlock: (height) => Effect.zipRight(ensureOpen("readBlock"), readBlockUnchecked(height)),

      readRange: (from, to) =>
        Effect.gen(function* () {
          yield* ensureOpen("readRange")
          if (from < 1n || to < from) return yield* new InvalidRequest({ reason: `range ${from}..${to} is empty or starts below 1` })
          if (to - from + 1n > BigInt(readRangeBlocksMax))
            return yield* new InvalidRequest({ reason: `range ${from}..${to} is more than ${readRangeBlocksMax} blocks` })
          if (to > headHeight) return yield* new BlockNotFound({ height: to })
          const blocks: Array<Block> = []
          for (let h = from; h <= to; h++) blocks.push(yield* readBlockUnchecked(h))
          return blocks
        }),

      readCertificate: (height) => Effect.zipRight(ensureOpen("readCertificate"), readCertificateUnchecked(height)),

      head: () =>
        Effect.gen(function* () {
          yield* ensureOpen("head")
          if (headHeight === 0n || headHash === undefined) return Option.none()
          if (headHash instanceof CorruptBlock) return yield* headHash
          return Option.some({ height: headHeight, headerHash: headHash })
        }),

      putSnapshot: (height, stateHash, bytes) =>
        writeLock.withPermits(1)(
          Effect.gen(function* () {
            yield* ensureWritable("putSnapshot")
            if (height < 1n || height > HEIGHT_MAX) return yield* new InvalidRequest({ reason: `snapshot height ${height} is out of range` })
            if (stateHash.length !== 32) return yield* new InvalidRequest({ reason: `a state hash is 32 bytes, got ${stateHash.length}` })
            const payload = new Uint8Array(32 + bytes.length)
            payload.set(stateHash, 0)
            payload.set(bytes, 32)
            stage({ type: "put", key: recordKey("snapshot", height), value: frameValue(crypto, payload) })
            if (latestSnapshotHeight === undefined || height > latestSnapshotHeight) latestSnapshotHeight = height
          })
        ),

      readSnapshot: (height) => Effect.zipRight(ensureOpen("readSnapshot"), readSnapshotUnchecked(height)),

      putRecord: (slot, bytes) =>
        writeLock.withPermits(1)(
          Effect.gen(function* () {
            yield* ensureWritable("putRecord")
            stage({ type: "put", key: recordKey("record", BigInt(slot)), value: frameValue(crypto, bytes) })
          })
        ),

      readRecord: (slot) =>
        Effect.gen(function* () {
          yield* ensureOpen("readRecord")
          const value = yield* get(recordKey("record", BigInt(slot)))
          if (value === undefined) return undefined
          const payload = unframeValue(crypto, value)
          return typeof payload === "string" ? undefined : payload.slice()
        }),

      latestSnapshot: () =>
        Effect.gen(function* () {
          yield* ensureOpen("latestSnapshot")
          if (latestSnapshotHeight === undefined) return Option.none()
          return Option.some(
            yield* readSnapshotUnchecked(latestSnapshotHeight).pipe(
              Effect.catchTag("SnapshotNotFound", (e) =>
                Effect.fail(new CorruptSnapshot({ height: e.height, reason: "its record is missing" }))
              )
            )
          )
        }),

      truncateFrom: (height) =>
        writeLock.withPermits(1)(
          syncLock.withPermits(1)(
            Effect.gen(function* () {
              yield* ensureWritable("truncateFrom")
              if (height < 1n || height > HEIGHT_MAX) return yield* new InvalidRequest({ reason: `cannot truncate from height ${height}` })
              const durable: Array<Uint8Array> = []
              for (const kind of allKinds) durable.push(...(yield* backend.keys(kindRange(kind, height))))
              for (const [k, op] of pending) if (keyHeight(op.key) >= height) pending.delete(k)
              for (const key of durable) stage({ type: "del", key })
              yield* flushLocked
              if (headHeight >= height) yield* loadHead(height - 1n)
              latestSnapshotHeight = yield* topHeight("snapshot")
            })
          )
        ),

      checkTail: (depth) => Effect.zipRight(ensureOpen("checkTail"), checkTailUnchecked(depth)),

      startupCheck: () => Effect.succeed(openCheck),

      close: () =>
        syncLock.withPermits(1)(
          Effect.gen(function* () {
            if (closed) return
            closed = true
            pending = new Map()
            yield* backend.close()
          })
        ),

      unsynced: () => [...(inflight?.values() ?? []), ...pending.values()]
    }

    yield* loadHead((yield* topHeight("index")) ?? 0n)
    latestSnapshotHeight = yield* topHeight("snapshot")
    openCheck = yield* checkTailUnchecked(options.checkDepth ?? defaultCheckDepth)
    return api
  })
