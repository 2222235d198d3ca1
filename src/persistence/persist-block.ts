/**
 * PersistBlock (spec/Persistence.tla): the replica fixes its next executed block's header and
 * writes the block to storage, not yet durable. Blocks are written in height order, and none
 * while a sync is in flight (the sync makes durable exactly what was written when it was asked
 * for, as SyncBlocks does in the spec; blocks decided meanwhile go to the next sync, together).
 *
 * In weak and strong mode the block waits until its decision proof is canonical (the ACCEPTs of
 * the q lowest-numbered members are held) or `proofWaitMs` passed since the decision, so that
 * correct replicas write the same block. In strong mode block h also waits for block h - 1's
 * certificate, which its body repeats.
 */
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { canonicalProof, finalizeBlock, withPrevCertificate } from "./block.ts"
import type { DecisionProof } from "../chain/types.ts"
import type { DecidedBlock, PersistenceState } from "./state.ts"
import { heightKey } from "./state.ts"

export const persistBlockEvent = "PersistBlock" as const

/** Whether the q lowest-numbered members' ACCEPTs are all held for this block. */
export const proofIsCanonical = (state: ReplicaState, decided: DecidedBlock): boolean => {
  const members = state.config.view.members.map((m) => m.replica).sort((a, b) => a - b)
  return members.slice(0, state.config.quorum).every((m) => decided.signatures.has(m))
}

/** How long a block waits for a canonical proof after its decision. */
export const proofWaitMs = (state: ReplicaState): number => state.config.retransmitMs

export const canPersistBlock = (state: ReplicaState, p: PersistenceState): boolean => {
  const next = p.unwritten[0]
  if (next === undefined || p.inFlight !== undefined) return false
  const h = next.height
  if (p.mode === "strong" && h > 1n && !p.certificates.has(heightKey(h - 1n))) return false
  return p.mode === "memory" || proofIsCanonical(state, next) || state.nowMs - next.decidedAtMs >= proofWaitMs(state)
}

export const persistBlock = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  const pc = state.config.persistence
  assert(p !== undefined && pc !== undefined && canPersistBlock(state, p), "PersistBlock is enabled")
  const next = p.unwritten.shift()
  assert(next !== undefined, "an executed block waits to be written")
  const h = next.height
  assert(h === p.wrote + 1n, "blocks are written in height order")
  const built = finalizeBlock(next, {
    crypto: state.config.crypto,
    viewId: state.config.view.id,
    viewHash: pc.viewHash,
    prevHash: p.headHash,
    lastCheckpointHeight: p.lastCheckpointHeight,
    lastReconfigHeight: 0n,
    proof: canonicalProof(next, state.config.quorum)
  })
  const certificate = p.mode === "strong" && h > 1n ? p.certificates.get(heightKey(h - 1n)) : undefined
  const block = withPrevCertificate(built.block, certificate)
  fx.emit(next.snapshot === undefined ? { _tag: "WriteBlock", block } : { _tag: "WriteBlock", block, snapshot: { stateHash: next.stateHash, bytes: next.snapshot } })
  if (p.mode === "strong")
    p.head = { decided: next, prevHash: p.headHash, lastCheckpointHeight: p.lastCheckpointHeight, signers: signersOf(built.block.decision) }
  p.wrote = h
  p.headHash = built.hash
  p.lastCheckpointHeight = built.block.header.lastCheckpointHeight
  p.headers.set(heightKey(h), { header: built.block.header, hash: built.hash, hashHex: built.hashHex })
  fx.trace(persistBlockEvent, {
    height: Number(h),
    headerHash: built.hashHex,
    txs: built.block.transactions.length,
    signers: built.block.decision.accepts.map((a) => a.replica)
  })
  assert(p.wrote <= p.height && p.dur <= p.wrote, "dur <= wrote <= height")
}

/** The signer list of a proof, as a comparable string. */
export const signersOf = (proof: DecisionProof): string => proof.accepts.map((a) => a.replica).join(",")
