/**
 * Checkpoints (PROTOCOL.md section 5): every K blocks (K = genesis `limits.checkpointInterval`,
 * 0 disables them) the replica snapshots the application state after the block, and that block's
 * header carries the state's hash.
 *
 * Header rule (as src/persistence/block.ts builds headers). Block h's lastCheckpointHeight is the
 * last multiple of K at or below h; its stateHash is the hash of the application state after h
 * when h is a checkpoint block, and 32 zero bytes otherwise. So a checkpoint block's header names
 * the state a replica must have after it, and only checkpoint blocks cost a state hash.
 *
 * Durability. The snapshot of checkpoint c is staged together with block c or after it, so the
 * sync that makes it durable also makes block c durable: a stored snapshot always has its block
 * (or lies above a cut tail, and `BlockStore.truncateFrom` removes both).
 *
 * Restart and pruning. A restarted replica restores the highest snapshot at or below its head,
 * checks it against that checkpoint block's header, and replays the blocks after it
 * (`restartPlan`). Blocks below the oldest retained checkpoint are needed by nobody: replicas
 * that are further behind take a snapshot by state transfer (`prunePlan`).
 *
 * Pure: the application's snapshot and hash functions do the work; no I/O.
 */
import { Either, Schema } from "effect"
import { bytesEqual, toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { BlockHeader } from "../chain/types.ts"
import type { AppError, Application } from "../app/application.ts"

/** Whether block `height` is a checkpoint block (a positive multiple of `interval`). */
export const isCheckpointHeight = (height: bigint, interval: number): boolean =>
  interval > 0 && height > 0n && height % BigInt(interval) === 0n

/** The last checkpoint height at or below `height` (0, genesis, when there is none). */
export const checkpointHeightAt = (height: bigint, interval: number): bigint =>
  interval > 0 ? height - (height % BigInt(interval)) : 0n

/** The stateHash a header carries on non-checkpoint blocks. */
export const noStateHash: Uint8Array = new Uint8Array(32)

/** The header's stateHash for block `height`, whose execution gave `stateAfter`. */
export const headerStateHash = <S>(app: Application<S>, crypto: ChainCrypto, height: bigint, interval: number, stateAfter: S): Uint8Array =>
  isCheckpointHeight(height, interval) ? app.stateHash(crypto, stateAfter) : noStateHash

/** A checkpoint as stored (`BlockStore.putSnapshot(height, stateHash, snapshot)`) and served. */
export interface Checkpoint {
  readonly height: bigint
  readonly stateHash: Uint8Array
  readonly snapshot: Uint8Array
}

/** The checkpoint of `state`, the state after block `height`. */
export const takeCheckpoint = <S>(app: Application<S>, crypto: ChainCrypto, height: bigint, state: S): Checkpoint => ({
  height,
  stateHash: app.stateHash(crypto, state),
  snapshot: app.snapshot(state)
})

/** A snapshot whose restored state does not hash to the expected stateHash. */
export class SnapshotMismatch extends Schema.TaggedError<SnapshotMismatch>()("SnapshotMismatch", {
  height: Schema.BigIntFromSelf,
  expected: Schema.String,
  got: Schema.String
}) {
  override get message(): string {
    return `snapshot at height ${this.height} hashes to ${this.got.slice(0, 16)}..., expected ${this.expected.slice(0, 16)}...`
  }
}

/**
 * Restores `snapshot` and checks that the state hashes to `expectedStateHash` (the checkpoint
 * block's header stateHash, confirmed by the chain or by peers). Bytes that are no snapshot give
 * the application's AppError; a different state gives SnapshotMismatch.
 */
export const restoreCheckpoint = <S>(
  app: Application<S>,
  crypto: ChainCrypto,
  height: bigint,
  snapshot: Uint8Array,
  expectedStateHash: Uint8Array
): Either.Either<S, AppError | SnapshotMismatch> =>
  Either.flatMap(app.restore(snapshot), (state) => {
    const hash = app.stateHash(crypto, state)
    return bytesEqual(hash, expectedStateHash)
      ? Either.right(state)
      : Either.left(new SnapshotMismatch({ height, expected: toHex(expectedStateHash), got: toHex(hash) }))
  })

/** Whether `header` is the block of checkpoint `height` with state hash `stateHash`. */
export const headerConfirmsCheckpoint = (header: BlockHeader, height: bigint, stateHash: Uint8Array): boolean =>
  header.height === height && header.lastCheckpointHeight === height && bytesEqual(header.stateHash, stateHash)

/** How a replica rebuilds its state after a restart. */
export interface RestartPlan {
  /** The snapshot to restore (0: start from the application's initial state). */
  readonly restoreHeight: bigint
  /** Blocks to execute again, in order: restoreHeight + 1 .. replayTo (none when equal). */
  readonly replayFrom: bigint
  readonly replayTo: bigint
}

/**
 * The restart plan for a store whose head (after its tail check) is `headHeight` and which holds
 * snapshots at `snapshotHeights`: restore the highest snapshot at or below the head, replay the
 * rest. A snapshot above the head (its block was cut as corrupt) is not used.
 */
export const restartPlan = (snapshotHeights: ReadonlyArray<bigint>, headHeight: bigint): RestartPlan => {
  let restoreHeight = 0n
  for (const h of snapshotHeights) if (h <= headHeight && h > restoreHeight) restoreHeight = h
  return { restoreHeight, replayFrom: restoreHeight + 1n, replayTo: headHeight }
}

/** What may be deleted once newer checkpoints exist. */
export interface PrunePlan {
  /** Snapshots below this height may go. */
  readonly snapshotsBelow: bigint
  /** Blocks (and certificates) below this height may go; the checkpoint block itself stays. */
  readonly blocksBelow: bigint
}

/**
 * Keeps the newest `keep` snapshots at or below the head (at least 1) and every block from the
 * oldest kept checkpoint on: a replica can still restart from, and serve, each kept checkpoint
 * (its block's header proves its stateHash) and every block after it. With fewer than `keep`
 * snapshots nothing is pruned.
 */
export const prunePlan = (snapshotHeights: ReadonlyArray<bigint>, headHeight: bigint, keep = 2): PrunePlan => {
  const usable = [...new Set(snapshotHeights)].filter((h) => h <= headHeight).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))
  const k = Math.max(1, Math.floor(keep))
  if (usable.length < k) return { snapshotsBelow: 0n, blocksBelow: 0n }
  const oldestKept = usable[k - 1]!
  return { snapshotsBelow: oldestKept, blocksBelow: oldestKept }
}
