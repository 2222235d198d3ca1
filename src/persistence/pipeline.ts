/**
 * The durable-commit pipeline inside `step`: what happens to a decision after Decide, and which
 * persistence action fires when. `step` calls `afterDecision` for every decided instance (decided
 * here or taken by state transfer) and `settlePersistence` once its ordering actions are done.
 *
 *   decided -> execute, build block h            (chain grows: spec Decide / StateTransfer)
 *           -> PersistBlock                       (WriteBlock output)
 *           -> SyncRequest ... Synced -> SyncBlocks
 *           -> strong: Commit, q COMMITs, Certify (WriteCertificate, synced)
 *           -> ReleaseReply                        (Reply outputs, by the mode's rule)
 *
 * Weak and strong modes also keep the consensus record durable (./consensus-record.ts): when the
 * regency, the vote, the write set or the leader's proposal of the open instance, or the
 * decided-but-unwritten instances change, a new record is written, and every PROPOSE, WRITE,
 * ACCEPT, STOPDATA and SYNC produced meanwhile is held until a sync covers that record.
 */
import { Option } from "effect"
import { toHex } from "../chain/bytes.ts"
import { acceptSigningBytes } from "../chain/encoding.ts"
import type { Accept, DecisionProof, ReplicaId, Transaction } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import type { Output } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"
import { regencyKey } from "../core/state.ts"
import { executeBatch } from "./block.ts"
import { canCertify, certify } from "./certify.ts"
import { canCommit, commitMessage, commit, commitWindow } from "./commit.ts"
import { encodeConsensusRecord, recordDecidedMax, recordWritten } from "./consensus-record.ts"
import { fullProof, shareDecided } from "./converge.ts"
import { canPersistBlock, persistBlock } from "./persist-block.ts"
import { blockReplies, canReleaseReply, releaseReply } from "./release-reply.ts"
import type { PersistenceState } from "./state.ts"
import { canRequestSync, requestSync } from "./sync-blocks.ts"
import { executeBlockViews, ownsHeight, resetOrdering, takeKeptCertificates } from "../reconfiguration/core-views.ts"

/**
 * Executes decided instance `proof.cid`; its block waits in `unwritten`, its replies for
 * ReleaseReply. Called while the decided instance is still the open one, so its ACCEPTs for the
 * decided value seed the signatures the canonical proof is chosen from.
 */
export const afterDecision = (state: ReplicaState, batch: ReadonlyArray<Transaction>, proof: DecisionProof): void => {
  const p = state.persistence
  if (p === undefined) return
  assert(proof.cid === p.height + 1n, "blocks are executed in cid order")
  const signatures = new Map<ReplicaId, Uint8Array>()
  const hashHex = toHex(proof.batchHash)
  if (state.instance.cid === proof.cid)
    for (const [replica, a] of state.instance.accepts.get(regencyKey(proof.regency)) ?? [])
      if (a.hashHex === hashHex) signatures.set(replica, a.signature)
  const executed = executeBatch(p.machine, state.config.limits.checkpointInterval, batch, proof, signatures, state.nowMs)
  // Reconfiguration requests run next to the application; a block that installs a view ends
  // the regency of the view that decided it (src/reconfiguration/core-views.ts).
  const decided = executeBlockViews(state, executed.decided)
  if (decided.view?.newView !== undefined) resetOrdering(state)
  const h = decided.height
  p.machine = executed.machine
  p.height = h
  p.unwritten.push(decided)
  p.replies.push({ height: h, replies: blockReplies(decided.view?.viewId ?? state.config.view.id, h, batch, decided.results) })
}

/** A verified ACCEPT for an instance this replica decided and has not written: one more signature to choose from. */
export const recordLateAccept = (state: ReplicaState, from: ReplicaId, message: Accept): void => {
  const p = state.persistence
  if (p === undefined) return
  const decided = p.unwritten.find((d) => d.height === message.cid)
  if (decided === undefined || decided.proof.regency !== message.regency || toHex(decided.proof.batchHash) !== toHex(message.batchHash)) return
  if (!decided.signatures.has(from)) decided.signatures.set(from, message.signature)
}

/**
 * Retransmission: this replica's ACCEPT for each decided instance it has not written yet, and
 * its signatures for the instances not settled (./converge.ts), so that peers hold the same
 * signatures when they choose the canonical proof. Signing ACCEPT for a value already decided in
 * that regency cannot make any other value decided.
 */
export const retransmitDecidedAccepts = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  if (p === undefined || p.mode === "memory") return
  for (const d of p.unwritten.slice(0, 4)) {
    if (!ownsHeight(state, d.height)) continue
    const fields = { viewId: state.config.view.id, cid: d.height, regency: d.proof.regency, batchHash: d.proof.batchHash }
    fx.rebroadcast({ _tag: "Accept", ...fields, signature: state.config.signer.sign(acceptSigningBytes(state.config.chainId, fields)) })
  }
  shareDecided(state, fx)
}

/** Fires every enabled persistence action, writes the consensus record if it changed, and asks for a sync. */
export const settlePersistence = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  if (p === undefined) return
  for (;;) {
    // With reconfiguration a replica writes and COMMITs only its configured view's blocks: the
    // blocks after a reconfiguration block wait until it installed the view they belong to.
    takeKeptCertificates(state)
    if (canPersistBlock(state, p) && ownsHeight(state, p.unwritten[0]!.height)) persistBlock(state, fx)
    else if (canCertify(state)) certify(state, fx)
    else if (canCommit(state) && ownsHeight(state, p.commitH + 1n)) commit(state, fx)
    else if (canReleaseReply(p)) releaseReply(state, fx)
    else break
  }
  if (p.mode !== "memory") guardRecord(state, p, fx)
  if (canRequestSync(p, state.config.limits.checkpointInterval)) requestSync(p, fx)
  prune(p)
}

/** Messages whose meaning depends on the consensus record being durable. */
const dependsOnRecord = (output: Output): boolean =>
  (output._tag === "Send" || output._tag === "Broadcast") &&
  (output.message._tag === "Propose" ||
    output.message._tag === "Write" ||
    output.message._tag === "Accept" ||
    output.message._tag === "StopData" ||
    output.message._tag === "Sync")

const guardRecord = (state: ReplicaState, p: PersistenceState, fx: Emitter): void => {
  const accepted = state.instance.accepted
  const firstUnwritten = p.unwritten[0]?.height ?? 0n
  const proposed = state.instance.proposedIn.has(regencyKey(state.regency))
  const key = [
    state.regency,
    state.instance.cid,
    accepted === undefined ? "-" : `${accepted.regency}:${toHex(accepted.batchHash)}`,
    proposed ? "p" : "-",
    state.instance.writeSet.map((w) => `${w.regency}:${toHex(w.batchHash)}`).join(","),
    firstUnwritten,
    p.unwritten.length
  ].join("|")
  if (key !== p.recordKey) {
    p.recordKey = key
    p.recordVersion++
    const bytes = encodeConsensusRecord({
      version: BigInt(p.recordVersion),
      regency: state.regency,
      openCid: state.instance.cid,
      accepted: accepted === undefined ? Option.none() : Option.some(accepted),
      proposed: proposed ? Option.some(state.regency) : Option.none(),
      written: recordWritten(state.instance.writeSet),
      decided: p.unwritten.slice(0, recordDecidedMax).map((d) => ({ batch: d.batch, proof: fullProof(d) }))
    })
    fx.emit({ _tag: "WriteRecord", slot: (p.recordVersion % 2) as 0 | 1, bytes })
  }
  if (p.recordVersion <= p.recordDurable) return
  const outputs = fx.outputs
  let kept = 0
  for (const output of outputs) {
    if (dependsOnRecord(output)) p.held.push({ version: p.recordVersion, output })
    else outputs[kept++] = output
  }
  outputs.length = kept
}

/**
 * A test of "this height is below `bound`" for heights written as map keys (`heightKey`: decimal,
 * no leading zeros), made without parsing each key: it runs on every key at every step.
 */
export const heightsBelow = (bound: bigint): ((key: string) => boolean) => {
  if (bound <= 0n) return () => false
  const b = bound.toString()
  return (key) => (key.length === b.length ? key < b : key.length < b.length)
}

/** Forgets headers, COMMITs and certificates no longer needed. */
const prune = (p: PersistenceState): void => {
  const floor = (p.mode === "strong" ? p.certH : p.dur) - commitWindow
  const belowFloor = heightsBelow(floor)
  for (const key of p.headers.keys()) if (belowFloor(key)) p.headers.delete(key)
  const certified = heightsBelow(p.certWrote + 1n)
  for (const key of p.commits.keys()) if (certified(key)) p.commits.delete(key)
  const settled = heightsBelow(p.certH + 1n < p.wrote - 1n ? p.certH + 1n : p.wrote - 1n)
  for (const key of p.certificates.keys()) if (settled(key)) p.certificates.delete(key)
  for (const key of p.answered.keys()) if (belowFloor(key.slice(key.indexOf(":") + 1))) p.answered.delete(key)
}

/** Retransmission (strong mode): this replica's COMMITs for its synced blocks not yet certified here. */
export const retransmitCommits = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  if (p === undefined || p.mode !== "strong") return
  for (let h = p.certWrote + 1n; h <= p.commitH && h <= p.certWrote + 8n; h++) {
    const message = commitMessage(state, h)
    if (message !== undefined) fx.rebroadcast(message)
  }
}

/** Whether the leader may propose another instance: its unwritten blocks stay within the record's bound. */
export const hasRoomForBlocks = (state: ReplicaState): boolean =>
  state.persistence === undefined || state.persistence.unwritten.length < recordDecidedMax / 2
