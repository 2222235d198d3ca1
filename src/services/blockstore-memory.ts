/**
 * The in-memory BlockStore with crash semantics, for tests and the deterministic simulator. It
 * runs the same store logic as the classic-level layer (./blockstore-core.ts) over a map that
 * stands for the disk, and adds controls a test drives:
 *
 *  - crash(): every write not yet synced is lost (a sync in flight included), and the store is
 *    opened again from the "disk", running the startup check as after a real restart;
 *  - tornLastWrite: a crash leaves the last unsynced record on the disk, damaged (its second half
 *    zeroed), as a write cut short by power loss would;
 *  - corrupt(height, kind): flips one byte of a stored record;
 *  - failSyncs(n) and setSyncDelay(d): the next n syncs fail with DiskError (nothing written);
 *    each sync takes d on the Effect clock (so TestClock controls it).
 */
import { Duration, Effect, Layer } from "effect"
import type { ChainCrypto } from "../chain/crypto.ts"
import { portableCrypto } from "../chain/crypto.ts"
import type { BlockStoreApi, KvBackend, KvOp, RecordKind, StoreCore } from "./blockstore-core.ts"
import { BlockStore, DiskError, openStoreCore, recordKey } from "./blockstore-core.ts"

export interface MemoryStoreOptions {
  /** The hash for checksums and header hashes (default: the portable implementation). */
  readonly crypto?: ChainCrypto
  /** A crash leaves the last unsynced record on the disk with damaged bytes. */
  readonly tornLastWrite?: boolean
  /** How long each sync takes (default: no time). */
  readonly syncDelay?: Duration.DurationInput
  /** Blocks the startup check walks back over. */
  readonly checkDepth?: number
}

export interface MemoryBlockStore extends BlockStoreApi {
  /** Loses every unsynced write (tearing the last one if so configured) and opens the store again. */
  readonly crash: () => Effect.Effect<void, DiskError>
  /** Flips one byte in the middle of the stored record; false when there is no such record. */
  readonly corrupt: (height: bigint, kind?: RecordKind) => Effect.Effect<boolean>
  readonly setTornLastWrite: (torn: boolean) => Effect.Effect<void>
  /** The next `count` syncs fail with DiskError and write nothing. */
  readonly failSyncs: (count: number) => Effect.Effect<void>
  readonly setSyncDelay: (delay: Duration.DurationInput) => Effect.Effect<void>
  /** The bytes of a record on the disk. */
  readonly rawRecord: (kind: RecordKind, height: bigint) => Effect.Effect<Uint8Array | undefined>
  /** Puts (or, with undefined, removes) a record on the disk directly, bypassing the store. */
  readonly setRawRecord: (kind: RecordKind, height: bigint, value: Uint8Array | undefined) => Effect.Effect<void>
  /** Durable batches written so far. */
  readonly syncCount: () => Effect.Effect<number>
  /** Records on the disk. */
  readonly durableRecords: () => Effect.Effect<number>
  /** This store as the BlockStore service (the same instance, so controls still apply). */
  readonly layer: Layer.Layer<BlockStore>
}

const mapKey = (key: Uint8Array): string => String.fromCharCode(...key)
const keyBytes = (k: string): Uint8Array => Uint8Array.from(k, (c) => c.charCodeAt(0))

/** A write cut short: the first half of the bytes landed, the rest reads as zeros. */
const torn = (value: Uint8Array): Uint8Array => {
  const out = new Uint8Array(value.length)
  out.set(value.subarray(0, Math.floor(value.length / 2)))
  if (value.length > 0 && out.every((b, i) => b === value[i])) out[value.length - 1]! ^= 0xff
  return out
}

export const makeMemoryBlockStore = (options: MemoryStoreOptions = {}): Effect.Effect<MemoryBlockStore> =>
  Effect.gen(function* () {
    const crypto = options.crypto ?? portableCrypto
    const disk = new Map<string, Uint8Array>()
    let tornLastWrite = options.tornLastWrite === true
    let syncDelay = Duration.decode(options.syncDelay ?? 0)
    let failuresLeft = 0
    let syncs = 0
    /** Bumped by each crash; a sync that started before a crash never reaches the disk. */
    let epoch = 0

    const backend: KvBackend = {
      get: (key) => Effect.sync(() => disk.get(mapKey(key))),
      keys: (range) =>
        Effect.sync(() => {
          const gte = mapKey(range.gte)
          const lt = mapKey(range.lt)
          const keys = [...disk.keys()].filter((k) => k >= gte && k < lt).sort()
          if (range.reverse === true) keys.reverse()
          return (range.limit === undefined ? keys : keys.slice(0, range.limit)).map(keyBytes)
        }),
      write: (ops: ReadonlyArray<KvOp>) =>
        Effect.gen(function* () {
          const started = epoch
          if (Duration.toMillis(syncDelay) > 0) yield* Effect.sleep(syncDelay)
          if (epoch !== started) return yield* new DiskError({ op: "sync", reason: "the store crashed during the sync" })
          if (failuresLeft > 0) {
            failuresLeft--
            return yield* new DiskError({ op: "sync", reason: "injected sync failure" })
          }
          for (const op of ops) {
            if (op.type === "put") disk.set(mapKey(op.key), op.value)
            else disk.delete(mapKey(op.key))
          }
          syncs++
        }),
      close: () => Effect.void
    }

    const open = openStoreCore(backend, {
      crypto,
      ...(options.checkDepth === undefined ? {} : { checkDepth: options.checkDepth })
    })
    let core: StoreCore = yield* Effect.orDie(open)

    const store: MemoryBlockStore = {
      appendBlock: (block) => Effect.suspend(() => core.appendBlock(block)),
      appendCertificate: (certificate) => Effect.suspend(() => core.appendCertificate(certificate)),
      sync: () => Effect.suspend(() => core.sync()),
      readBlock: (height) => Effect.suspend(() => core.readBlock(height)),
      readRange: (from, to) => Effect.suspend(() => core.readRange(from, to)),
      readCertificate: (height) => Effect.suspend(() => core.readCertificate(height)),
      head: () => Effect.suspend(() => core.head()),
      putSnapshot: (height, stateHash, bytes) => Effect.suspend(() => core.putSnapshot(height, stateHash, bytes)),
      readSnapshot: (height) => Effect.suspend(() => core.readSnapshot(height)),
      putRecord: (slot, bytes) => Effect.suspend(() => core.putRecord(slot, bytes)),
      readRecord: (slot) => Effect.suspend(() => core.readRecord(slot)),
      latestSnapshot: () => Effect.suspend(() => core.latestSnapshot()),
      truncateFrom: (height) => Effect.suspend(() => core.truncateFrom(height)),
      checkTail: (depth) => Effect.suspend(() => core.checkTail(depth)),
      startupCheck: () => Effect.suspend(() => core.startupCheck()),
      close: () => Effect.suspend(() => core.close()),

      crash: () =>
        Effect.gen(function* () {
          epoch++
          const lost = core.unsynced()
          const last = lost[lost.length - 1]
          if (tornLastWrite && last !== undefined && last.type === "put") disk.set(mapKey(last.key), torn(last.value))
          core = yield* open
        }),

      corrupt: (height, kind = "block") =>
        Effect.sync(() => {
          const k = mapKey(recordKey(kind, height))
          const value = disk.get(k)
          if (value === undefined || value.length === 0) return false
          const damaged = Uint8Array.from(value)
          damaged[Math.floor(damaged.length / 2)]! ^= 0x01
          disk.set(k, damaged)
          return true
        }),

      setTornLastWrite: (on) =>
        Effect.sync(() => {
          tornLastWrite = on
        }),
      failSyncs: (count) =>
        Effect.sync(() => {
          failuresLeft = count
        }),
      setSyncDelay: (delay) =>
        Effect.sync(() => {
          syncDelay = Duration.decode(delay)
        }),
      rawRecord: (kind, height) => Effect.sync(() => disk.get(mapKey(recordKey(kind, height)))),
      setRawRecord: (kind, height, value) =>
        Effect.sync(() => {
          const k = mapKey(recordKey(kind, height))
          if (value === undefined) disk.delete(k)
          else disk.set(k, value)
        }),
      syncCount: () => Effect.sync(() => syncs),
      durableRecords: () => Effect.sync(() => disk.size),
      layer: Layer.suspend(() => Layer.succeed(BlockStore, store))
    }
    return store
  })

/** A fresh in-memory BlockStore as a layer (no controls; use makeMemoryBlockStore for those). */
export const BlockStoreMemory = (options: MemoryStoreOptions = {}): Layer.Layer<BlockStore> =>
  Layer.effect(BlockStore, makeMemoryBlockStore(options))
