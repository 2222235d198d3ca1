/**
 * Converging on one block per height. Replicas decide with different sets of q ACCEPTs, and the
 * header commits to the decision proof, so each replica chooses a canonical proof (the q
 * lowest-numbered signers it holds, ./block.ts) and they share what they hold:
 *
 *  - on every retransmission until the block is certified (strong) or written
 *    (weak), a replica sends its peers the decided instance with every signature it holds
 *    (ShareDecided); a peer merges them into its own set before it writes the block;
 *  - strong mode only: the last written block is not yet certified, so it may still change. If
 *    the merged signatures give a lower canonical proof and no certificate for the written header
 *    is held, or a verified certificate arrives for the same block with another proof, the
 *    replica writes the block again with that proof (RewriteBlock) and commits to it after the
 *    sync. Block h + 1 is written only after block h is certified, so only that block can change.
 *
 * A certificate always wins: a replica never leaves a header it holds q COMMITs for.
 */
import { toHex } from "../chain/bytes.ts"
import type { Certificate, DecisionProof, ReplicaId, Transaction } from "../chain/types.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { canonicalProof, finalizeBlock, withPrevCertificate } from "./block.ts"
import { certificateFor } from "./certify.ts"
import { durableCheckpoint } from "./sync-blocks.ts"
import { persistBlockEvent, signersOf } from "./persist-block.ts"
import type { DecidedBlock, PersistenceState } from "./state.ts"
import { heightKey } from "./state.ts"

/** The decided instance with every signature held for it, as ShareDecided sends it. */
export const fullProof = (decided: DecidedBlock): DecisionProof => ({
  ...decided.proof,
  accepts: [...decided.signatures.entries()].sort(([a], [b]) => a - b).map(([replica, signature]) => ({ replica, signature }))
})

const merge = (decided: DecidedBlock, proof: DecisionProof): void => {
  if (proof.regency !== decided.proof.regency || toHex(proof.batchHash) !== toHex(decided.proof.batchHash)) return
  for (const a of proof.accepts) if (!decided.signatures.has(a.replica)) decided.signatures.set(a.replica, a.signature)
}

/** Shares this replica's signatures for the instances it has not settled. */
export const shareDecided = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  if (p === undefined || p.mode === "memory") return
  if (p.head !== undefined) fx.emit({ _tag: "ShareDecided", batch: p.head.decided.batch, proof: fullProof(p.head.decided) })
  for (const d of p.unwritten.slice(0, 4)) fx.emit({ _tag: "ShareDecided", batch: d.batch, proof: fullProof(d) })
}

/** A verified decided instance for a cid this replica already decided: merge, and maybe rewrite the head. */
export const mergeDecided = (
  state: ReplicaState,
  fx: Emitter,
  batch: ReadonlyArray<Transaction>,
  proof: DecisionProof,
  certificate: Certificate | undefined
): void => {
  const p = state.persistence
  if (p === undefined) return
  const waiting = p.unwritten.find((d) => d.height === proof.cid)
  if (waiting !== undefined) {
    merge(waiting, proof)
    return
  }
  const head = p.head
  if (head === undefined || head.decided.height !== proof.cid || p.inFlight !== undefined || p.certWrote >= proof.cid) return
  if (batch.length !== head.decided.batch.length) return
  const own = p.headers.get(heightKey(proof.cid))
  if (certificate !== undefined && own !== undefined && toHex(certificate.headerHash) !== own.hashHex) {
    if (rewrite(state, p, fx, proof, toHex(certificate.headerHash))) p.certificates.set(heightKey(proof.cid), certificate)
    return
  }
  merge(head.decided, proof)
  const canonical = canonicalProof(head.decided, state.config.quorum)
  if (signersOf(canonical) < head.signers && certificateFor(state, proof.cid) === undefined) rewrite(state, p, fx, canonical, undefined)
}

/** Writes the head block again with `proof`, if that gives `expectedHex` (when given). */
const rewrite = (state: ReplicaState, p: PersistenceState, fx: Emitter, proof: DecisionProof, expectedHex: string | undefined): boolean => {
  const head = p.head
  const pc = state.config.persistence
  if (head === undefined || pc === undefined) return false
  const h = head.decided.height
  const built = finalizeBlock(head.decided, {
    crypto: state.config.crypto,
    viewId: state.config.view.id,
    viewHash: pc.viewHash,
    prevHash: head.prevHash,
    lastCheckpointHeight: head.lastCheckpointHeight,
    lastReconfigHeight: 0n,
    proof
  })
  if (expectedHex !== undefined && built.hashHex !== expectedHex) return false
  const block = withPrevCertificate(built.block, h > 1n ? p.certificates.get(heightKey(h - 1n)) : undefined)
  const snapshot = head.decided.snapshot
  fx.emit(snapshot === undefined ? { _tag: "RewriteBlock", block } : { _tag: "RewriteBlock", block, snapshot: { stateHash: head.decided.stateHash, bytes: snapshot } })
  head.signers = signersOf(proof)
  p.headHash = built.hash
  p.headers.set(heightKey(h), { header: built.block.header, hash: built.hash, hashHex: built.hashHex })
  // The block is cut from storage and synced again. At the spec's level it is the same block, so
  // the checkpoints its earlier sync made durable stay counted (spec: ckpt never goes down).
  if (p.dur >= h) {
    p.ckpt = durableCheckpoint(p, state.config.limits.checkpointInterval)
    p.dur = h - 1n
  }
  if (p.commitH >= h) p.commitH = h - 1n
  fx.trace(persistBlockEvent, {
    height: Number(h),
    headerHash: built.hashHex,
    txs: built.block.transactions.length,
    signers: proof.accepts.map((a: { readonly replica: ReplicaId }) => a.replica),
    rewrite: true
  })
  return true
}
