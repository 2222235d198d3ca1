// Establishes: the classic-level BlockStore meets the shared contract (durability across close and
// reopen, bytes flipped on disk detected through the store, torn tails cut), opens and closes with
// its scope, refuses a second opener of the same directory, and honours read-only mode.
import { describe, expect, it } from "@effect/vitest"
import { ClassicLevel } from "classic-level"
import { Effect, Exit, Option, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { headerHash } from "../../src/chain/hash.ts"
import type { BlockStoreApi, RecordKind } from "../../src/services/blockstore.ts"
import { BlockStore, BlockStoreLevel, BlockStoreLevelWithCrypto, frameValue, openLevelBlockStore, recordKey } from "../../src/services/blockstore.ts"
import { CryptoNode, nodeCrypto } from "../../src/services/crypto.ts"
import { appendBlocks, blockAt, blockStoreContract, sameBlock } from "./blockstore.contract.ts"
import type { StoreHandle } from "./blockstore.contract.ts"

const crypto = nodeCrypto

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-store-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** Opens the directory with classic-level directly, bypassing the store. */
const withRawDb = <A>(dir: string, f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<A>) =>
  Effect.promise(async () => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view", createIfMissing: false })
    await db.open()
    try {
      return await f(db)
    } finally {
      await db.close()
    }
  })

const levelHandle = Effect.gen(function* () {
  const dir = yield* tempDir
  let scope = yield* Scope.make()
  let current: BlockStoreApi = yield* Scope.extend(openLevelBlockStore(dir, crypto), scope)
  yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))

  const closeStore = Effect.suspend(() => Scope.close(scope, Exit.void))
  const reopen = Effect.gen(function* () {
    scope = yield* Scope.make()
    current = yield* Scope.extend(openLevelBlockStore(dir, crypto), scope)
  })
  /** Closes the store, changes the disk with classic-level directly, and opens the store again. */
  const offline = (f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>) =>
    Effect.gen(function* () {
      yield* closeStore
      yield* withRawDb(dir, f)
      yield* reopen
    })

  const handle: StoreHandle = {
    store: () => current,
    restart: () => Effect.zipRight(closeStore, reopen),
    flipByte: (kind: RecordKind, height: bigint) =>
      offline(async (db) => {
        const key = recordKey(kind, height)
        const value = await db.get(key)
        if (value === undefined) throw new Error(`no ${kind} record at ${height}`)
        const damaged = Uint8Array.from(value)
        damaged[Math.floor(damaged.length / 2)]! ^= 0x01
        await db.put(key, damaged)
      }),
    copyRecord: (kind, from, to) =>
      offline(async (db) => {
        const value = await db.get(recordKey(kind, from))
        if (value === undefined) throw new Error(`no ${kind} record at ${from}`)
        await db.put(recordKey(kind, to), value)
      }),
    tornRestart: (block) =>
      // LevelDB's own log drops a torn batch; what can still reach a record torn is a damaged
      // sector under it. Write the block's index record as a torn write leaves it: its first
      // half, then zeros.
      offline(async (db) => {
        const whole = frameValue(crypto, headerHash(crypto, block.header))
        const torn = new Uint8Array(whole.length)
        torn.set(whole.subarray(0, whole.length / 2))
        await db.put(recordKey("index", block.header.height), torn)
      })
  }
  return handle
})

blockStoreContract({ name: "classic-level", crypto, open: () => levelHandle })

describe("classic-level BlockStore layer", () => {
  it.scoped("the layer opens the directory for its scope and releases it when the scope ends", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const write = Effect.gen(function* () {
        const store = yield* BlockStore
        yield* appendBlocks(store, 1, 3, true)
        yield* store.sync()
      })
      yield* write.pipe(Effect.provide(BlockStoreLevel(dir, crypto)))
      // The lock was released, so the directory opens again, this time through the Crypto service.
      const head = yield* Effect.flatMap(BlockStore, (s) => s.head()).pipe(
        Effect.provide(BlockStoreLevelWithCrypto(dir)),
        Effect.provide(CryptoNode)
      )
      expect(Option.getOrThrow(head).height).toBe(3n)
    })
  )

  it.scoped("a second store on a directory already open fails with a typed DiskError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* openLevelBlockStore(dir, crypto)
      const error = yield* Effect.flip(Effect.scoped(openLevelBlockStore(dir, crypto)))
      expect(error._tag).toBe("DiskError")
      expect(error.message).toContain("lock")
    })
  )

  it.scoped("read-only mode reads a store, refuses writes, and refuses a directory with no store", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* openLevelBlockStore(dir, crypto)
          yield* appendBlocks(store, 1, 2)
          yield* store.sync()
        })
      )
      const store = yield* openLevelBlockStore(dir, crypto, { readOnly: true })
      sameBlock(yield* store.readBlock(2n), blockAt(2))
      expect((yield* Effect.flip(store.appendBlock(blockAt(3))))._tag).toBe("InvalidRequest")
      expect((yield* Effect.flip(store.truncateFrom(1n)))._tag).toBe("InvalidRequest")
      const missing = yield* Effect.flip(Effect.scoped(openLevelBlockStore(path.join(dir, "absent"), crypto, { readOnly: true })))
      expect(missing._tag).toBe("DiskError")
    })
  )

  it.scoped("the startup check on open finds a byte flipped on disk below the head", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* openLevelBlockStore(dir, crypto)
          yield* appendBlocks(store, 1, 6, true)
          yield* store.sync()
        })
      )
      yield* withRawDb(dir, async (db) => {
        const key = recordKey("block", 4n)
        const value = Uint8Array.from((await db.get(key))!)
        value[100]! ^= 0x80
        await db.put(key, value)
      })
      const store = yield* openLevelBlockStore(dir, crypto)
      const check = yield* store.startupCheck()
      expect(check.checked).toBe(6)
      expect(Option.getOrThrow(check.firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 4n })
      const shallow = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* store.close()
          const again = yield* openLevelBlockStore(dir, crypto, { checkDepth: 2 })
          return yield* again.startupCheck()
        })
      )
      expect(shallow.checked).toBe(2)
      expect(Option.isNone(shallow.firstCorrupt)).toBe(true)
    })
  )
})
