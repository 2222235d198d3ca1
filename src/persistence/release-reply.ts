/**
 * ReleaseReply (spec/Persistence.tla): the replica releases every reply whose mode condition now
 * holds, all at once: memory mode once the block is executed, weak mode once it is synced,
 * strong mode once its certificate is synced (Releasable in the spec; `releasableHeight`). No
 * reply ever leaves before the sync it depends on.
 */
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
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
