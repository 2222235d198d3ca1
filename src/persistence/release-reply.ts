/**
 * ReleaseReply (spec/Persistence.tla): the replica releases every reply whose mode condition now
 * holds, all at once: memory mode once the block is executed, weak mode once it is synced,
 * strong mode once its certificate is synced (Releasable in the spec; `releasableHeight`). No
 * reply ever leaves before the sync it depends on.
 *
 * After a restart, `requeueReplies` puts back the replies of the replayed blocks that were not yet
 * releasable (strong mode: blocks synced before the crash whose certificate was not), so that they
 * leave once their certificates are synced, as they would have without the crash.
 */
import type { Block, Transaction } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplyOutput } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"
import type { PersistenceState } from "./state.ts"
import { releasableHeight } from "./state.ts"

export const releaseReplyEvent = "ReleaseReply" as const

export const canReleaseReply = (p: PersistenceState): boolean => {
  const first = p.replies[0]
  return first !== undefined && first.height <= releasableHeight(p)
}

export const releaseReply = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  assert(p !== undefined && canReleaseReply(p), "ReleaseReply is enabled")
  const upTo = releasableHeight(p)
  const from = p.replies[0]!.height
  let count = 0
  while (p.replies[0] !== undefined && p.replies[0].height <= upTo) {
    const due = p.replies.shift()!
    for (const reply of due.replies) fx.emit(reply)
    count += due.replies.length
    p.releasedH = due.height
  }
  fx.trace(releaseReplyEvent, { from: Number(from), height: Number(p.releasedH), replies: count, mode: p.mode })
  assert(p.releasedH <= upTo, "no reply before its mode's condition")
}

/** The replies of the block at `height`: one per transaction, with its result. */
export const blockReplies = (
  viewId: bigint,
  height: bigint,
  transactions: ReadonlyArray<Transaction>,
  results: ReadonlyArray<Uint8Array>
): Array<ReplyOutput> => {
  assert(results.length === transactions.length, "a block has one result per transaction")
  return transactions.map((tx, index) => ({ _tag: "Reply", viewId, client: tx.client, seq: tx.seq, height, index, result: results[index]! }))
}

/** The replies of a stored block, as the pipeline queued them when it executed the block. */
export const storedReplies = (block: Block): ReadonlyArray<ReplyOutput> =>
  blockReplies(block.header.viewId, block.header.height, block.transactions, block.results)

/**
 * Restart: queues the replies of the replayed blocks above `releasedH` (up to the executed height,
 * in height order) for ReleaseReply. Called once the replay set `releasedH` to the releasable
 * height and before any later instance queued its replies.
 */
export const requeueReplies = (p: PersistenceState, replayedBlocks: ReadonlyArray<Block>): void => {
  assert(p.replies.length === 0, "no reply is queued before the replayed blocks'")
  for (const block of replayedBlocks) {
    const h = block.header.height
    if (h <= p.releasedH || h > p.height) continue
    p.replies.push({ height: h, replies: storedReplies(block) })
  }
}
