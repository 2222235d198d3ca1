/**
 * The node's ledger: the blocks built from the decided instances, in order, and what the HTTP API
 * reads (a block by height, where a transaction landed and its result, with Merkle paths).
 *
 * The replica shell hands over each decided instance (its batch and decision proof). The ledger
 * executes the batch with the application, builds block h (h = the instance's cid) with the
 * header of PROTOCOL.md section 3 (prevHash links to genesis or block h - 1; txRoot, resultsRoot
 * and decisionHash from the body; stateHash on checkpoint blocks, every checkpointInterval
 * blocks, zero elsewhere), and keeps the most recent blocks in memory. In weak and strong mode a
 * writer appends the blocks to the BlockStore and syncs them, several blocks per sync (group
 * commit); `durableHeight` says how far that has gone.
 *
 * This is the read side the API needs, fed by what the shell offers today (decided instances).
 * The durable commit pipeline of the core (blocks written, synced and certified by COMMITs before
 * replies are released) provides the same reads from its BlockStore; `ChainView` is the
 * interface the API depends on, so either source can serve it.
 */
import { Effect, Option, Queue } from "effect"
import type { Application } from "../app/application.ts"
import { appContext } from "../app/application.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { decisionHash, genesisHash, headerHash, resultHash, resultsRoot, txHash, viewHash } from "../chain/hash.ts"
import { merkleProof } from "../chain/merkle.ts"
import type { Block, BlockHeader, Certificate, Genesis, Transaction } from "../chain/types.ts"
import { txKey } from "../core/state.ts"
import type { BlockStoreApi, DiskError, InvalidRequest, OutOfOrder } from "../services/blockstore.ts"
import type { DecidedInstance } from "../services/transport.ts"

/** Blocks kept in memory for the API; older ones are read from the BlockStore, when there is one. */
export const recentBlocksMax = 1024

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
  /** The block's certificate (q COMMITs), once the node has one. */
  readonly certificate: Certificate | undefined
}

/** What the API reads. */
export interface ChainView {
  /** Height of the last block executed. */
  readonly height: () => bigint
  /** Height of the last block known to be synced to disk (0 in memory mode). */
  readonly durableHeight: () => bigint
  readonly block: (height: bigint) => Effect.Effect<Block | undefined>
  readonly certificate: (height: bigint) => Certificate | undefined
  readonly locate: (client: Uint8Array, seq: bigint) => TxLocation | undefined
  /** Where the transaction is, waiting up to `ms` for it to be decided; undefined if it is not by then. */
  readonly waitFor: (client: Uint8Array, seq: bigint, ms: number) => Effect.Effect<TxLocation | undefined>
  readonly evidence: (client: Uint8Array, seq: bigint) => Effect.Effect<TxEvidence | undefined>
  /** A one-line description of a result, from the application. */
  readonly describeResult: (result: Uint8Array) => string
}

const zeroHash = new Uint8Array(32)

export interface LedgerOptions {
  /** Called after each sync with the synced height and the sync's duration in milliseconds. */
  readonly onSynced?: (height: bigint, durationMs: number, blocks: number) => void
}

export class Ledger<S> implements ChainView {
  private state: S
  private prevHash: Uint8Array
  private lastCheckpointHeight = 0n
  private readonly viewHash: Uint8Array
  private readonly recent: Array<Block> = []
  private readonly index = new Map<string, TxLocation>()
  private executed = 0n
  private synced = 0n
  private readonly waiters = new Map<string, Array<() => void>>()
  private waiting = 0

  constructor(
    private readonly crypto: ChainCrypto,
    private readonly genesis: Genesis,
    private readonly app: Application<S>,
    private readonly store: BlockStoreApi | undefined = undefined
  ) {
    this.state = app.initial(genesis)
    this.prevHash = genesisHash(crypto, genesis)
    this.viewHash = viewHash(crypto, genesis.view)
  }

  /** The application state after the last block. */
  get appState(): S {
    return this.state
  }

  height(): bigint {
    return this.executed
  }

  durableHeight(): bigint {
    return this.synced
  }

  describeResult(result: Uint8Array): string {
    return this.app.describeResult(result)
  }

  /** Executes the next decided instance and builds its block. */
  apply(instance: DecidedInstance): Block {
    const { crypto, genesis } = this
    const height = this.executed + 1n
    const batch = instance.batch
    const txHashes = batch.map((tx) => txHash(crypto, tx))
    const outcome = this.app.executeBatch(this.state, appContext(crypto, genesis, height, txHashes), batch)
    this.state = outcome.state
    const checkpoint = genesis.limits.checkpointInterval > 0 && height % BigInt(genesis.limits.checkpointInterval) === 0n
    if (checkpoint) this.lastCheckpointHeight = height
    const header: BlockHeader = {
      height,
      viewId: genesis.view.id,
      prevHash: this.prevHash,
      txRoot: instance.proof.batchHash,
      resultsRoot: resultsRoot(crypto, outcome.results),
      decisionHash: decisionHash(crypto, instance.proof),
      lastCheckpointHeight: this.lastCheckpointHeight,
      lastReconfigHeight: 0n,
      viewHash: this.viewHash,
      stateHash: checkpoint ? this.app.stateHash(crypto, this.state) : zeroHash
    }
    const block: Block = {
      header,
      transactions: batch,
      results: outcome.results,
      decision: instance.proof,
      prevCertificate: Option.none(),
      newView: Option.none()
    }
    this.prevHash = headerHash(crypto, header)
    this.executed = height
    for (let i = 0; i < batch.length; i++) {
      const key = txKey(batch[i]!)
      this.index.set(key, { height, index: i })
      const wake = this.waiters.get(key)
      if (wake !== undefined) {
        this.waiters.delete(key)
        for (const w of wake) w()
      }
    }
    this.recent.push(block)
    if (this.recent.length > recentBlocksMax) this.recent.shift()
    return block
  }

  /** Marks blocks up to `height` as synced. */
  markSynced(height: bigint): void {
    if (height > this.synced) this.synced = height
  }

  block(height: bigint): Effect.Effect<Block | undefined> {
    const oldest = this.executed - BigInt(this.recent.length) + 1n
    if (height < 1n || height > this.executed) return Effect.succeed(undefined)
    if (height >= oldest) return Effect.succeed(this.recent[Number(height - oldest)])
    const store = this.store
    if (store === undefined || height > this.synced) return Effect.succeed(undefined)
    return store.readBlock(height).pipe(Effect.orElseSucceed(() => undefined))
  }

  certificate(_height: bigint): Certificate | undefined {
    return undefined
  }

  locate(client: Uint8Array, seq: bigint): TxLocation | undefined {
    return this.index.get(txKey({ client, seq }))
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
        resume(Effect.succeed(this.index.get(key)))
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

  evidence(client: Uint8Array, seq: bigint): Effect.Effect<TxEvidence | undefined> {
    const at = this.locate(client, seq)
    if (at === undefined) return Effect.succeed(undefined)
    const crypto = this.crypto
    return Effect.map(this.block(at.height), (block) => {
      if (block === undefined) return undefined
      const tx = block.transactions[at.index]
      const result = block.results[at.index]
      if (tx === undefined || result === undefined) return undefined
      const txLeaves = block.transactions.map((t) => txHash(crypto, t))
      const resultLeaves = block.results.map((r) => resultHash(crypto, r))
      return {
        block,
        index: at.index,
        tx,
        result,
        txHash: txLeaves[at.index]!,
        txPath: merkleProof(crypto, txLeaves, at.index),
        resultPath: merkleProof(crypto, resultLeaves, at.index),
        certificate: this.certificate(at.height)
      }
    })
  }
}

/**
 * The block writer of weak and strong mode: appends every block offered to the queue to the
 * store and syncs, taking all blocks waiting at once so that they share one sync.
 */
export const blockWriter = <S>(
  ledger: Ledger<S>,
  store: BlockStoreApi,
  queue: Queue.Dequeue<Block>,
  options: LedgerOptions = {}
): Effect.Effect<never, DiskError | OutOfOrder | InvalidRequest> =>
  Effect.forever(
    Effect.gen(function* () {
      const blocks = yield* Queue.takeAll(queue).pipe(
        Effect.flatMap((c) => (c.length === 0 ? Effect.map(Queue.take(queue), (b) => [b]) : Effect.succeed([...c])))
      )
      const started = performance.now()
      for (const b of blocks) yield* store.appendBlock(b)
      yield* store.sync()
      const last = blocks[blocks.length - 1]!.header.height
      ledger.markSynced(last)
      options.onSynced?.(last, performance.now() - started, blocks.length)
    })
  )
