/**
 * What the HTTP API reads of a replica's chain: blocks by height, where a transaction landed and
 * its result, with Merkle paths and the block's certificate.
 *
 * The blocks are the ones the core's durable commit pipeline wrote (src/persistence): the node
 * hands the shell a BlockStore wrapped by `NodeChain.wrapStore`, which keeps the most recent
 * written blocks in memory and indexes their transactions as they are appended. Nothing here
 * builds or executes a block.
 *
 * A transaction is reported (`locate`, `evidence`, the long poll `waitFor`) only once the core
 * released its reply by the persistence mode's rule (ReleaseReply: memory mode once executed,
 * weak mode once synced, strong mode once its certificate is synced), so a client polling the API
 * never hears of a result the replica could still lose. `noteReply` is the shell's `onReply`; it
 * wakes the polls waiting on that block's transactions.
 *
 * After a restart the node passes the blocks it replayed from storage to `restore`, so the
 * transactions of earlier runs are found again.
 */
import { Effect, Option } from "effect"
import type { ChainCrypto } from "../chain/crypto.ts"
import { txHash } from "../chain/hash.ts"
import { merklePaths, resultLeaves } from "../chain/reply.ts"
import type { Block, Certificate, Transaction } from "../chain/types.ts"
import type { ReplyOutput } from "../core/io.ts"
import { txKey } from "../core/state.ts"
import type { BlockStoreApi } from "../services/blockstore-core.ts"

/** Blocks kept in memory for the API; older ones are read from the block store. */
export const recentBlocksMax = 256

/** Most transactions waited for at once (by API long polls); beyond it, a wait returns at once. */
export const waitersMax = 1 << 16

/** Where a transaction is in the chain. */
export interface TxLocation {
  readonly height: bigint
  readonly index: number
}

/** A transaction's result with the evidence that the block commits to it. */
export interface TxEvidence {
  readonly block: Block
  readonly index: number
  readonly tx: Transaction
  readonly result: Uint8Array
  readonly txHash: Uint8Array
  /** Sibling hashes from the transaction's leaf up to header.txRoot. */
  readonly txPath: ReadonlyArray<Uint8Array>
  /** Sibling hashes from the result's leaf up to header.resultsRoot. */
  readonly resultPath: ReadonlyArray<Uint8Array>
  /** Leaves under resultsRoot: the transactions, plus one when the block installs a view. */
  readonly resultLeafCount: number
  /** The block's certificate (q COMMITs, strong mode), once the replica has it. */
  readonly certificate: Certificate | undefined
}

/** What the API reads. */
export interface ChainView {
  /** Height of the last block executed. */
  readonly height: () => bigint
  /** Height of the last block synced to disk (0 in memory mode). */
  readonly durableHeight: () => bigint
  /** Height of the last block whose certificate is synced (strong mode; 0 otherwise). */
  readonly certifiedHeight: () => bigint
  /** Height up to which replies were released. */
  readonly releasedHeight: () => bigint
  /** A stored block (at most the durable height in weak and strong mode). */
  readonly block: (height: bigint) => Effect.Effect<Block | undefined>
  readonly certificate: (height: bigint) => Effect.Effect<Certificate | undefined>
  /** Where a transaction whose reply was released is. */
  readonly locate: (client: Uint8Array, seq: bigint) => TxLocation | undefined
  /** Where the transaction is, waiting up to `ms` for its reply to be released; undefined if it is not by then. */
  readonly waitFor: (client: Uint8Array, seq: bigint, ms: number) => Effect.Effect<TxLocation | undefined>
  readonly evidence: (client: Uint8Array, seq: bigint) => Effect.Effect<TxEvidence | undefined>
  /** A one-line description of a result, from the application. */
  readonly describeResult: (result: Uint8Array) => string
  /** `locate` by the transaction's key (`txKey` of src/core/state.ts), for callers that look one up often. */
  readonly locateKey: (key: string) => TxLocation | undefined
  /** Calls `listener` whenever replies of more blocks were released, until the returned function is called. */
  readonly onRelease: (listener: () => void) => () => void
}

/** How far the core's pipeline has gone (read from the replica state when asked). */
export interface PipelineHeights {
  /** Blocks executed. */
  readonly executed: () => bigint
  /** Blocks written to the store (staged or synced). */
  readonly written: () => bigint
  readonly durable: () => bigint
  readonly certified: () => bigint
  readonly released: () => bigint
  /** A certificate the core holds in memory, if any. */
  readonly knownCertificate: (height: bigint) => Certificate | undefined
}

/** A cached block with the Merkle paths of its leaves, computed on first use. */
interface Cached {
  readonly block: Block
  paths?: { readonly tx: ReadonlyArray<ReadonlyArray<Uint8Array>>; readonly result: ReadonlyArray<ReadonlyArray<Uint8Array>>; readonly txHashes: ReadonlyArray<Uint8Array> }
}

/** Called after each sync with its duration in milliseconds and the blocks it made durable. */
export type SyncObserver = (durationMs: number, blocks: number) => void

export class NodeChain implements ChainView {
  private readonly index = new Map<string, TxLocation>()
  private readonly recent = new Map<bigint, Cached>()
  private readonly waiters = new Map<string, Array<() => void>>()
  private readonly listeners = new Set<() => void>()
  private waiting = 0
  /** Highest height for which waiting polls were looked at. */
  private wokenAt = 0n

  constructor(
    private readonly crypto: ChainCrypto,
    private readonly store: BlockStoreApi,
    private readonly heights: PipelineHeights,
    readonly describeResult: (result: Uint8Array) => string,
    /** Memory mode serves blocks as soon as written (nothing is ever synced first). */
    private readonly servesUnsynced: boolean
  ) {}

  height(): bigint {
    return this.heights.executed()
  }

  durableHeight(): bigint {
    return this.servesUnsynced ? 0n : this.heights.durable()
  }

  certifiedHeight(): bigint {
    return this.heights.certified()
  }

  releasedHeight(): bigint {
    return this.heights.released()
  }

  /** Highest height served by `block`. */
  private servedHeight(): bigint {
    return this.servesUnsynced ? this.heights.written() : this.heights.durable()
  }

  /** Indexes the blocks a restarted replica replayed from storage. */
  restore(blocks: ReadonlyArray<Block>): void {
    for (const b of blocks) this.indexBlock(b)
    const last = blocks[blocks.length - 1]
    if (last !== undefined) this.remember(last)
  }

  /** The shell's `onReply`: a released reply; wakes the polls its block's transactions wait for. */
  noteReply(reply: ReplyOutput): void {
    if (reply.height > this.wokenAt) this.wake()
  }

  /**
   * The store the shell writes through: appended blocks are cached and indexed, rewritten or cut
   * blocks leave the cache, and each sync is timed for `onSync`.
   */
  wrapStore(onSync: SyncObserver): BlockStoreApi {
    const store = this.store
    let appended = 0
    return {
      ...store,
      appendBlock: (block) =>
        Effect.tap(store.appendBlock(block), () =>
          Effect.sync(() => {
            appended++
            this.indexBlock(block)
            this.remember(block)
            this.wake()
          })
        ),
      truncateFrom: (height) =>
        Effect.tap(store.truncateFrom(height), () =>
          Effect.sync(() => {
            for (const h of [...this.recent.keys()]) if (h >= height) this.recent.delete(h)
          })
        ),
      sync: () =>
        Effect.suspend(() => {
          const started = performance.now()
          const blocks = appended
          appended = 0
          return Effect.tap(
            Effect.tapError(store.sync(), () => Effect.sync(() => void (appended += blocks))),
            () => Effect.sync(() => onSync(performance.now() - started, blocks))
          )
        })
    }
  }

  private indexBlock(block: Block): void {
    const height = block.header.height
    block.transactions.forEach((tx, index) => this.index.set(txKey(tx), { height, index }))
  }

  private remember(block: Block): void {
    const height = block.header.height
    this.recent.delete(height)
    this.recent.set(height, { block })
    while (this.recent.size > recentBlocksMax) {
      const oldest = this.recent.keys().next()
      if (oldest.done === true) break
      this.recent.delete(oldest.value)
    }
  }

  /** Resumes every waiting poll whose transaction is now released. */
  private wake(): void {
    const released = this.heights.released()
    this.wokenAt = released
    for (const listener of [...this.listeners]) listener()
    if (this.waiters.size === 0) return
    for (const [key, list] of [...this.waiters]) {
      const at = this.index.get(key)
      if (at === undefined || at.height > released || at.height > this.servedHeight()) continue
      this.waiters.delete(key)
      for (const w of list) w()
    }
  }

  private cached(height: bigint): Effect.Effect<Cached | undefined> {
    if (height < 1n || height > this.servedHeight()) return Effect.succeed(undefined)
    const hit = this.recent.get(height)
    if (hit !== undefined) return Effect.succeed(hit)
    return this.store.readBlock(height).pipe(
      Effect.map((block): Cached => ({ block })),
      Effect.orElseSucceed(() => undefined)
    )
  }

  block(height: bigint): Effect.Effect<Block | undefined> {
    return Effect.map(this.cached(height), (c) => c?.block)
  }

  certificate(height: bigint): Effect.Effect<Certificate | undefined> {
    if (height < 1n || height > this.heights.certified()) return Effect.succeed(undefined)
    const known = this.heights.knownCertificate(height)
    if (known !== undefined) return Effect.succeed(known)
    return this.store.readCertificate(height).pipe(Effect.option, Effect.map(Option.getOrUndefined))
  }

  locate(client: Uint8Array, seq: bigint): TxLocation | undefined {
    return this.locateKey(txKey({ client, seq }))
  }

  locateKey(key: string): TxLocation | undefined {
    const at = this.index.get(key)
    return at !== undefined && at.height <= this.heights.released() && at.height <= this.servedHeight() ? at : undefined
  }

  waitFor(client: Uint8Array, seq: bigint, ms: number): Effect.Effect<TxLocation | undefined> {
    const found = this.locate(client, seq)
    if (found !== undefined || ms <= 0 || this.waiting >= waitersMax) return Effect.succeed(found)
    const key = txKey({ client, seq })
    return Effect.async<TxLocation | undefined>((resume) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        this.waiting--
        clearTimeout(timer)
        resume(Effect.sync(() => this.locate(client, seq)))
      }
      const timer = setTimeout(() => {
        const list = this.waiters.get(key)
        if (list !== undefined) {
          const rest = list.filter((w) => w !== finish)
          if (rest.length === 0) this.waiters.delete(key)
          else this.waiters.set(key, rest)
        }
        finish()
      }, ms)
      this.waiting++
      const list = this.waiters.get(key)
      if (list === undefined) this.waiters.set(key, [finish])
      else list.push(finish)
      return Effect.sync(() => {
        if (!done) {
          done = true
          this.waiting--
          clearTimeout(timer)
        }
      })
    })
  }

  onRelease(listener: () => void): () => void {
    const own = () => listener()
    this.listeners.add(own)
    return () => void this.listeners.delete(own)
  }

  evidence(client: Uint8Array, seq: bigint): Effect.Effect<TxEvidence | undefined> {
    const at = this.locate(client, seq)
    if (at === undefined) return Effect.succeed(undefined)
    const crypto = this.crypto
    return Effect.flatMap(this.cached(at.height), (cached) => {
      if (cached === undefined) return Effect.succeed(undefined)
      const block = cached.block
      const tx = block.transactions[at.index]
      const result = block.results[at.index]
      if (tx === undefined || result === undefined) return Effect.succeed(undefined)
      if (cached.paths === undefined) {
        const txHashes = block.transactions.map((t) => txHash(crypto, t))
        cached.paths = { tx: merklePaths(crypto, txHashes), result: merklePaths(crypto, resultLeaves(crypto, block)), txHashes }
      }
      const paths = cached.paths
      return Effect.map(this.certificate(at.height), (certificate) => ({
        block,
        index: at.index,
        tx,
        result,
        txHash: paths.txHashes[at.index]!,
        txPath: paths.tx[at.index]!,
        resultPath: paths.result[at.index]!,
        resultLeafCount: paths.result.length,
        certificate
      }))
    })
  }
}
