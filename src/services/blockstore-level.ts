/**
 * The live BlockStore layer on classic-level (LevelDB). The record format and store logic are in
 * ./blockstore-core.ts; this file supplies the backend: reads with `get`, key scans with the key
 * iterator, and every sync as one `batch` written with `sync: true` (LevelDB appends the batch to
 * its log and fsyncs it before the call returns, so a synced batch survives a crash whole, and an
 * unsynced one is never partly visible).
 */
import { ClassicLevel } from "classic-level"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { BlockStoreApi, KvBackend } from "./blockstore-core.ts"
import { BlockStore, DiskError, openStoreCore } from "./blockstore-core.ts"
import { Crypto } from "./crypto.ts"

export interface LevelStoreOptions {
  /** Open an existing store only, and refuse every write. */
  readonly readOnly?: boolean
  /** Blocks the startup check walks back over (default `defaultCheckDepth`). */
  readonly checkDepth?: number
}

const describeError = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : ""
    return `${e.message}${cause}`
  }
  return String(e)
}

const levelBackend = (db: ClassicLevel<Uint8Array, Uint8Array>, location: string): KvBackend => {
  const attempt = <A>(op: string, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (e) => new DiskError({ op: `${op} (${location})`, reason: describeError(e) }) })
  return {
    get: (key) => attempt("get", () => db.get(key)),
    keys: (range) =>
      attempt("scan", () =>
        db.keys({ gte: range.gte, lt: range.lt, reverse: range.reverse ?? false, limit: range.limit ?? -1 }).all()
      ),
    write: (ops) => attempt("sync", () => db.batch(ops.map((op) => ({ ...op })), { sync: true })),
    close: () => attempt("close", () => db.close())
  }
}

/** Opens the store in directory `location` (created unless read-only); closed when the scope ends. */
export const openLevelBlockStore = (
  location: string,
  crypto: ChainCrypto,
  options: LevelStoreOptions = {}
): Effect.Effect<BlockStoreApi, DiskError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const readOnly = options.readOnly === true
      const db = new ClassicLevel<Uint8Array, Uint8Array>(location, {
        keyEncoding: "view",
        valueEncoding: "view",
        createIfMissing: !readOnly
      })
      yield* Effect.tryPromise({
        try: () => db.open(),
        catch: (e) => new DiskError({ op: `open (${location})`, reason: describeError(e) })
      })
      return yield* openStoreCore(levelBackend(db, location), {
        crypto,
        readOnly,
        ...(options.checkDepth === undefined ? {} : { checkDepth: options.checkDepth })
      }).pipe(Effect.tapError(() => Effect.promise(() => db.close().catch(() => undefined))))
    }),
    (store) => store.close().pipe(Effect.ignoreLogged)
  )

/** The BlockStore on classic-level in directory `location`, hashing with `crypto`. */
export const BlockStoreLevel = (location: string, crypto: ChainCrypto, options: LevelStoreOptions = {}): Layer.Layer<BlockStore, DiskError> =>
  Layer.scoped(BlockStore, openLevelBlockStore(location, crypto, options))

/** The BlockStore on classic-level, hashing with the Crypto service in context. */
export const BlockStoreLevelWithCrypto = (location: string, options: LevelStoreOptions = {}): Layer.Layer<BlockStore, DiskError, Crypto> =>
  Layer.scoped(
    BlockStore,
    Effect.flatMap(Crypto, (crypto) => openLevelBlockStore(location, crypto, options))
  )
