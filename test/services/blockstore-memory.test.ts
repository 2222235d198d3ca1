// Establishes: the in-memory BlockStore meets the shared contract, and its crash model holds:
// a crash drops every unsynced write (an in-flight sync included), a torn last write is detected,
// failed syncs write nothing and can be retried, appends proceed while a sync is in flight, and
// group commit writes several appends in one durable batch.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { BlockStore, makeMemoryBlockStore, type MemoryBlockStore } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { appendBlocks, blockAt, blockStoreContract, sameBlock } from "./blockstore.contract.ts"
import type { StoreHandle } from "./blockstore.contract.ts"

const handleOf = (mem: MemoryBlockStore): StoreHandle => ({
  store: () => mem,
  restart: () => mem.crash(),
  flipByte: (kind, height) =>
    Effect.gen(function* () {
      expect(yield* mem.corrupt(height, kind)).toBe(true)
      yield* mem.crash()
    }),
  copyRecord: (kind, from, to) =>
    Effect.gen(function* () {
      const value = yield* mem.rawRecord(kind, from)
      expect(value).toBeDefined()
      yield* mem.setRawRecord(kind, to, value)
      yield* mem.crash()
    }),
  tornRestart: () =>
    Effect.gen(function* () {
      yield* mem.setTornLastWrite(true)
      yield* mem.crash()
      yield* mem.setTornLastWrite(false)
    })
})

blockStoreContract({
  name: "memory",
  crypto: nodeCrypto,
  open: () => Effect.map(makeMemoryBlockStore({ crypto: nodeCrypto }), handleOf)
})

const headHeight = (mem: MemoryBlockStore) => Effect.map(mem.head(), Option.match({ onNone: () => 0n, onSome: (h) => h.height }))

describe("memory BlockStore crash model", () => {
  it.effect("several appends share one durable batch; a sync with nothing staged writes nothing", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore()
      yield* appendBlocks(mem, 1, 8, true)
      expect(yield* mem.syncCount()).toBe(0)
      yield* mem.sync()
      expect(yield* mem.syncCount()).toBe(1)
      yield* mem.sync()
      expect(yield* mem.syncCount()).toBe(1)
      // 8 blocks: block, index and certificate records each.
      expect(yield* mem.durableRecords()).toBe(24)
    })
  )

  it.effect("a crash without the torn option leaves nothing of the unsynced writes on the disk", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore()
      yield* appendBlocks(mem, 1, 2)
      yield* mem.sync()
      const before = yield* mem.durableRecords()
      yield* appendBlocks(mem, 3, 5, true)
      yield* mem.crash()
      expect(yield* mem.durableRecords()).toBe(before)
      expect(yield* headHeight(mem)).toBe(2n)
    })
  )

  it.effect("a torn crash damages exactly the last unsynced record, the index entry of the last block", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore({ tornLastWrite: true })
      yield* appendBlocks(mem, 1, 2)
      yield* mem.sync()
      yield* appendBlocks(mem, 3, 4)
      yield* mem.crash()
      expect(yield* mem.rawRecord("block", 3n)).toBeUndefined()
      expect(yield* mem.rawRecord("index", 3n)).toBeUndefined()
      expect(yield* mem.rawRecord("block", 4n)).toBeUndefined()
      expect(yield* mem.rawRecord("index", 4n)).toBeDefined()
      expect(Option.getOrThrow((yield* mem.checkTail(1)).firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 4n })
      // Block 3 never reached the disk, so below the torn entry the index has a hole: the startup
      // check reports the lowest corrupt height, where the store must be cut.
      expect(Option.getOrThrow((yield* mem.startupCheck()).firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 3n })
      yield* mem.truncateFrom(3n)
      expect(yield* headHeight(mem)).toBe(2n)
      expect(Option.isNone((yield* mem.checkTail(10)).firstCorrupt)).toBe(true)
    })
  )

  it.effect("a failed sync writes nothing and keeps the writes staged; a later sync makes them durable", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore()
      yield* appendBlocks(mem, 1, 3)
      yield* mem.failSyncs(1)
      const error = yield* Effect.flip(mem.sync())
      expect(error).toMatchObject({ _tag: "DiskError", op: "sync" })
      expect(yield* mem.durableRecords()).toBe(0)
      sameBlock(yield* mem.readBlock(3n), blockAt(3))
      yield* mem.appendBlock(blockAt(4))
      yield* mem.sync()
      yield* mem.crash()
      expect(yield* headHeight(mem)).toBe(4n)
    })
  )

  it.effect("a failed sync followed by a crash loses the writes", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore()
      yield* appendBlocks(mem, 1, 3)
      yield* mem.failSyncs(1)
      yield* Effect.flip(mem.sync())
      yield* mem.crash()
      expect(Option.isNone(yield* mem.head())).toBe(true)
    })
  )

  it.effect("appends continue while a slow sync is in flight and are made durable by the next sync", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore({ syncDelay: "10 millis" })
      yield* appendBlocks(mem, 1, 2)
      const first = yield* Effect.fork(mem.sync())
      yield* Effect.yieldNow()
      yield* appendBlocks(mem, 3, 4)
      sameBlock(yield* mem.readBlock(2n), blockAt(2))
      sameBlock(yield* mem.readBlock(4n), blockAt(4))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(first)
      expect(yield* mem.syncCount()).toBe(1)
      const second = yield* Effect.fork(mem.sync())
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(second)
      yield* mem.crash()
      expect(yield* headHeight(mem)).toBe(4n)
    })
  )

  it.effect("a crash during an in-flight sync loses its writes, and that sync fails with DiskError", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore({ syncDelay: "1 second" })
      yield* appendBlocks(mem, 1, 2)
      const inFlight = yield* Effect.fork(mem.sync())
      yield* Effect.yieldNow()
      yield* mem.crash()
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(inFlight))
      expect(error).toMatchObject({ _tag: "DiskError", op: "sync" })
      expect(yield* mem.durableRecords()).toBe(0)
      expect(Option.isNone(yield* mem.head())).toBe(true)
    })
  )

  it.effect("the layer provides this same store, controls included", () =>
    Effect.gen(function* () {
      const mem = yield* makeMemoryBlockStore({ crypto: portableCrypto })
      yield* Effect.gen(function* () {
        const store = yield* BlockStore
        yield* store.appendBlock(blockAt(1))
      }).pipe(Effect.provide(mem.layer))
      expect(yield* headHeight(mem)).toBe(1n)
      yield* mem.crash()
      expect(yield* headHeight(mem)).toBe(0n)
    })
  )
})
