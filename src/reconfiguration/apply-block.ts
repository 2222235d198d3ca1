/**
 * Executing a block's reconfiguration requests (spec/Base.tla `ApplyBlock` / `ApplyMembership`).
 *
 * Every replica runs this on every decided block, in block order, next to the application: the
 * requests (transactions whose op starts with the reconfiguration tag, requests.ts) are executed
 * in batch order, each producing a result; the first block that leaves a membership change
 * requested becomes ha; and the block that, after its requests, satisfies the install condition
 * (install-view.ts) installs view v + 1: its record is the block's `newView`. A block of
 * application transactions with no change in progress leaves the state as it is.
 */
import { Either } from "effect"
import type { Transaction, ViewRecord } from "../chain/types.ts"
import { viewRecordProblem } from "../chain/verify.ts"
import { assert } from "../core/assert.ts"
import { executeJoin } from "./request-join.ts"
import { executeLeave } from "./request-leave.ts"
import { executeRemove } from "./request-remove.ts"
import { decodeReconfigOp, isReconfigOp } from "./requests.ts"
import { executeRotate } from "./rotate.ts"
import { installNextView, installsView } from "./install-view.ts"
import type { ReconfigContext, ReconfigReason, RequestOutcome, ViewState } from "./view-state.ts"
import { changeRequested, rejectWith } from "./view-state.ts"

export interface BlockReconfigOutcome {
  /** The view state after the block (the next view's, if the block installed one). */
  readonly state: ViewState
  /** For each transaction of the block: its result if it is a reconfiguration request, else undefined. */
  readonly results: ReadonlyArray<Uint8Array | undefined>
  /** For each transaction: why a reconfiguration request had no effect (undefined otherwise). */
  readonly rejected: ReadonlyArray<ReconfigReason | undefined>
  /** The view record the block installs, if it does. */
  readonly installed: ViewRecord | undefined
}

/** Executes one reconfiguration request (its transaction signature already checked by ordering). */
export const executeRequest = (s: ViewState, ctx: ReconfigContext, height: bigint, tx: Transaction): RequestOutcome => {
  const decoded = decodeReconfigOp(tx.op)
  if (Either.isLeft(decoded)) return rejectWith(s, "Malformed", "not a canonical reconfiguration request")
  const req = decoded.right
  switch (req._tag) {
    case "Join":
      return executeJoin(s, ctx, tx, req)
    case "Leave":
      return executeLeave(s, tx, req)
    case "Remove":
      return executeRemove(s, tx, req)
    case "Rotate":
      return executeRotate(s, ctx, height, tx, req)
  }
}

/** Executes block `height`'s transactions on view state `s`. */
export const applyBlock = (s: ViewState, ctx: ReconfigContext, height: bigint, transactions: ReadonlyArray<Transaction>): BlockReconfigOutcome => {
  const results = new Array<Uint8Array | undefined>(transactions.length).fill(undefined)
  const rejected = new Array<ReconfigReason | undefined>(transactions.length).fill(undefined)
  let state = s
  let any = false
  for (let i = 0; i < transactions.length; i++) {
    const tx = transactions[i]!
    if (!isReconfigOp(tx.op)) continue
    any = true
    const outcome = executeRequest(state, ctx, height, tx)
    state = outcome.state
    results[i] = outcome.result
    rejected[i] = outcome.rejected
  }
  if (!any && s.ha === 0n) return { state: s, results, rejected, installed: undefined }
  if (state.ha === 0n && changeRequested(state)) state = { ...state, ha: height }
  if (installsView(state, height, ctx.rotationWindow)) {
    const next = installNextView(state, height)
    assert(next.record.id === s.view.id + 1n, "a block installs the view after the current one")
    assert(viewRecordProblem(next.record) === undefined, "an installed view record is valid (requests keep ids and keys distinct)")
    return { state: next.state, results, rejected, installed: next.record }
  }
  assert(state.view === s.view, "only an installing block changes the view")
  return { state, results, rejected, installed: undefined }
}
