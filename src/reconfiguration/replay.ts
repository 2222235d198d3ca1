/**
 * Re-executes the reconfiguration requests of a chain from genesis and checks that the chain's
 * view records are exactly what its requests install: every block's `newView` equals the view
 * `applyBlock` computes (present exactly on the blocks that install one), and every request's
 * result in the block equals the computed result. Chain verification (src/chain/verify.ts)
 * checks that each view record is certified by the view before; this checks that it also
 * follows from the ordered requests, for an auditor holding the chain and the admission policy.
 */
import { Either, Option, Schema } from "effect"
import { bytesEqual } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { encodeViewRecord } from "../chain/encoding.ts"
import type { Block, Genesis, PublicKey, ViewRecord } from "../chain/types.ts"
import { applyBlock } from "./apply-block.ts"
import type { ViewState } from "./view-state.ts"
import { initialViewState, reconfigContext } from "./view-state.ts"

/** A block whose view record or request results do not follow from the chain's requests. */
export class ReconfigReplayError extends Schema.TaggedError<ReconfigReplayError>()("ReconfigReplayError", {
  height: Schema.BigIntFromSelf,
  detail: Schema.String
}) {
  override get message(): string {
    return `block ${this.height}: ${this.detail}`
  }
}

export interface ReplayedViews {
  /** The view state after the last block. */
  readonly state: ViewState
  /** Every view of the chain, genesis's first. */
  readonly views: ReadonlyArray<ViewRecord>
}

/**
 * Replays `blocks` (heights 1, 2, ... in order) under `admit` (default: genesis's allow-list).
 * Stops at the first block that disagrees.
 */
export const replayViews = (
  crypto: ChainCrypto,
  genesis: Genesis,
  blocks: Iterable<Block>,
  admit?: (identityKey: PublicKey) => boolean
): Either.Either<ReplayedViews, ReconfigReplayError> => {
  const ctx = admit === undefined ? reconfigContext(crypto, genesis) : reconfigContext(crypto, genesis, admit)
  let state = initialViewState(genesis)
  const views: Array<ViewRecord> = [genesis.view]
  let height = 0n
  for (const block of blocks) {
    height += 1n
    const out = applyBlock(state, ctx, height, block.transactions)
    for (let i = 0; i < out.results.length; i++) {
      const expected = out.results[i]
      const recorded = block.results[i]
      if (expected !== undefined && (recorded === undefined || !bytesEqual(expected, recorded)))
        return Either.left(new ReconfigReplayError({ height, detail: `the result of request ${i} differs from executing it` }))
    }
    const recordedView = Option.getOrUndefined(block.newView)
    if (out.installed === undefined && recordedView !== undefined)
      return Either.left(new ReconfigReplayError({ height, detail: `installs view ${recordedView.id}, but its requests install no view` }))
    if (out.installed !== undefined && recordedView === undefined)
      return Either.left(new ReconfigReplayError({ height, detail: `its requests install view ${out.installed.id}, but the block carries no view record` }))
    if (out.installed !== undefined && recordedView !== undefined) {
      if (!bytesEqual(encodeViewRecord(out.installed), encodeViewRecord(recordedView)))
        return Either.left(new ReconfigReplayError({ height, detail: `the view record differs from the view ${out.installed.id} its requests install` }))
      views.push(out.installed)
    }
    state = out.state
  }
  return Either.right({ state, views })
}
