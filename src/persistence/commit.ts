/**
 * Commit (spec/Persistence.tla, strong mode): the replica signs COMMIT(h, headerHash) with its
 * view key for its lowest synced block it has not committed. A COMMIT says "I have synced this
 * block", so it is signed only for heights up to `dur`. COMMITs received are kept per height
 * until that height is certified; a COMMIT for a height this replica certified long ago is
 * answered with its own COMMIT, so a peer that lost messages (or restarted) can still certify.
 */
import { commitSigningBytes } from "../chain/encoding.ts"
import type { Commit, ReplicaId } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { hex } from "../core/emitter.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { heightKey } from "./state.ts"

export const commitEvent = "Commit" as const

/** Heights beyond the chain's length for which COMMITs are kept (a peer may be a little ahead). */
export const commitWindow = 64n

/** A peer's COMMIT for a height certified here is answered at most once per this interval. */
export const answerIntervalMs = 1_000

export const canCommit = (state: ReplicaState): boolean => {
  const p = state.persistence
  return p !== undefined && p.mode === "strong" && p.commitH < p.dur && p.headers.has(heightKey(p.commitH + 1n))
}

/** This replica's COMMIT for block `height`, whose header it keeps. */
export const commitMessage = (state: ReplicaState, height: bigint): Commit | undefined => {
  const header = state.persistence?.headers.get(heightKey(height))
  if (header === undefined) return undefined
  const fields = { viewId: state.config.view.id, height, headerHash: header.hash }
  return { _tag: "Commit", ...fields, signature: state.config.signer.sign(commitSigningBytes(state.config.chainId, fields)) }
}

export const commit = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  assert(p !== undefined && canCommit(state), "Commit is enabled")
  const h = p.commitH + 1n
  const message = commitMessage(state, h)
  assert(message !== undefined && h <= p.dur, "COMMIT only for a synced block")
  p.commitH = h
  fx.trace(commitEvent, { height: Number(h), headerHash: hex(message.headerHash) })
  // To the others; its own COMMIT counts at once (persistence actions run after the inbox is empty).
  fx.rebroadcast(message)
  recordCommit(state, fx, state.config.self, message)
}

/** A verified COMMIT from `from` arrived (its own included). */
export const recordCommit = (state: ReplicaState, fx: Emitter, from: ReplicaId, message: Commit): void => {
  const p = state.persistence
  if (p === undefined || p.mode !== "strong" || message.viewId !== state.config.view.id) return
  const h = message.height
  if (h <= p.certWrote) {
    // Already certified here: help a peer that still collects COMMITs for it.
    if (from !== state.config.self && h <= p.commitH) {
      const key = `${from}:${h}`
      const last = p.answered.get(key)
      if (last !== undefined && state.nowMs - last < answerIntervalMs) return
      const mine = commitMessage(state, h)
      if (mine === undefined) return
      p.answered.set(key, state.nowMs)
      fx.send(from, mine)
    }
    return
  }
  if (h > p.height + commitWindow) return
  const key = heightKey(h)
  const byHeight = p.commits.get(key) ?? new Map<string, Map<ReplicaId, Uint8Array>>()
  const hashHex = hex(message.headerHash)
  const byHash = byHeight.get(hashHex) ?? new Map<ReplicaId, Uint8Array>()
  // A Byzantine member could send COMMITs for ever new hashes: a height keeps at most n of them.
  if (!byHeight.has(hashHex) && byHeight.size >= state.config.n) return
  if (!byHash.has(from)) byHash.set(from, message.signature)
  byHeight.set(hashHex, byHash)
  p.commits.set(key, byHeight)
}
