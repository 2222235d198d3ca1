/**
 * The replica core: `step(state, input) -> { state, outputs }`. It routes each verified input to
 * the spec action it enables (one file per action in src/ordering and src/synchronization), then
 * lets every action that became enabled fire, until none is. Time enters only as Tick inputs.
 */
import { toHex } from "../chain/bytes.ts"
import type { Accept, ConsensusMessage, Propose, ReplicaId, Write } from "../chain/types.ts"
import { accept, acceptMessage, canAccept } from "../ordering/accept.ts"
import { hashBatch } from "../ordering/batch.ts"
import { canDecide, decidable, decide } from "../ordering/decide.ts"
import { canPropose, propose } from "../ordering/propose.ts"
import { submit } from "../ordering/submit.ts"
import { canRecoverWritten, canWrite, isLeaderProposal, recoverWritten, write } from "../ordering/write.ts"
import { canWriteSyncedValue, checkSync, resume, wantsSync, writeSyncedValue } from "../synchronization/resume.ts"
import { canInstall, installRegency } from "../synchronization/stop-data.ts"
import {
  canJoin,
  canStopOnTimeout,
  join,
  recordStop,
  requestTimeoutMs,
  stopOnTimeout,
  timedOut
} from "../synchronization/stop.ts"
import { noteCertificate } from "../persistence/certify.ts"
import { recordCommit } from "../persistence/commit.ts"
import { mergeDecided } from "../persistence/converge.ts"
import { recordLateAccept, retransmitCommits, retransmitDecidedAccepts, settlePersistence } from "../persistence/pipeline.ts"
import { syncBlocks } from "../persistence/sync-blocks.ts"
import { syncPlan, sync } from "../synchronization/sync.ts"
import {
  askRotation,
  canAskRotation,
  canInstallNextView,
  countsWhilePaused,
  hasLeft,
  installNextView,
  keepCertificate,
  keepEarly,
  orderingPaused,
  requestWhilePaused
} from "../reconfiguration/core-views.ts"
import { assert } from "./assert.ts"
import { adopt, adoptFromStopData, canAdopt, canAdoptFromCollected, membersAhead, requestState } from "./catch-up.ts"
import { leaderOf } from "./config.ts"
import { Emitter } from "./emitter.ts"
import type { Input, Output } from "./io.ts"
import { coreLimits } from "./limits.ts"
import type { ReceivedAccept, ReplicaState } from "./state.ts"
import { isActive, regencyKey } from "./state.ts"

export interface StepResult {
  readonly state: ReplicaState
  readonly outputs: ReadonlyArray<Output>
}

export const step = (state: ReplicaState, input: Input): StepResult => {
  // A replica that left the membership (src/reconfiguration/core-views.ts) does nothing more.
  if (hasLeft(state)) return { state, outputs: [] }
  const fx = new Emitter(state.config)
  switch (input._tag) {
    case "Message":
      if (input.message.viewId === state.config.view.id) {
        if (!orderingPaused(state) || countsWhilePaused(state, input.message)) onMessage(state, fx, input.from, input.message)
      } else keepEarly(state, input.from, input.message)
      break
    case "Transaction":
      submit(state, fx, input.tx)
      break
    case "Tick":
      onTick(state, fx, input.nowMs)
      break
    case "Decided":
      if (canAdopt(state, input.proof)) adopt(state, fx, input.batch, input.proof, "peer")
      else if (input.proof.cid < state.instance.cid) mergeDecided(state, fx, input.batch, input.proof, input.certificate)
      if (input.certificate !== undefined) {
        noteCertificate(state, input.certificate)
        keepCertificate(state, input.certificate)
      }
      break
    case "Synced":
      syncBlocks(state, fx, input.seq)
      break
  }
  settle(state, fx)
  checkInvariants(state)
  return { state, outputs: fx.outputs }
}

/**
 * Handles messages the replica sent itself or replays, and fires enabled actions, to a fixpoint;
 * then the persistence actions (src/persistence/pipeline.ts); then InstallView when enabled,
 * after which the new view's actions may fire.
 */
export const settle = (state: ReplicaState, fx: Emitter): void => {
  for (;;) {
    settleOrdering(state, fx)
    settlePersistence(state, fx)
    // Reconfiguration: switch to the next view once its installing block is durable (the
    // ordering of the new view may then start at once), and ask for a fresh key when due.
    if (canAskRotation(state)) askRotation(state, fx)
    if (hasLeft(state) || !canInstallNextView(state)) break
    installNextView(state, fx, false)
    if (hasLeft(state)) break
  }
}

/** The ordering and leader-change actions, to a fixpoint (none while ordering is paused for a view change). */
const settleOrdering = (state: ReplicaState, fx: Emitter): void => {
  for (;;) {
    const next = fx.inbox.shift()
    if (next !== undefined) {
      if (!orderingPaused(state) || countsWhilePaused(state, next.message)) onMessage(state, fx, next.from, next.message)
      continue
    }
    if (orderingPaused(state)) return
    if (state.syncedValue !== undefined && (state.syncedValue.cid < state.instance.cid || state.syncedValue.regency !== state.regency))
      state.syncedValue = undefined
    if (canWriteSyncedValue(state)) writeSyncedValue(state, fx)
    else if (canDecide(state)) decide(state, fx)
    else if (canAdoptFromCollected(state)) adoptFromStopData(state, fx, [...state.stopData.values()], "stopData")
    else if (canJoin(state)) join(state, fx)
    else if (canInstall(state)) installRegency(state, fx)
    else if (canPropose(state)) propose(state, fx)
    else if (canAccept(state)) accept(state, fx)
    else if (syncPlan(state)._tag === "Send") sync(state, fx)
    else break
  }
  if (syncPlan(state)._tag === "Behind") requestState(state, fx)
  const d = decidable(state)
  if (d !== undefined && d.value === undefined) {
    state.missingBatch = true
    requestState(state, fx)
  }
}

/** A PROPOSE from the regency's leader that may bring back the batch of a value written before a crash. */
const mayRecoverWritten = (state: ReplicaState, from: ReplicaId, message: Propose): boolean => {
  const r = regencyKey(message.regency)
  return isLeaderProposal(state, from, message) && state.instance.wroteIn.has(r) && !state.instance.proposals.has(r)
}

const noteCid = (state: ReplicaState, from: ReplicaId, cid: bigint): void => {
  if (cid > (state.seenCid.get(from) ?? 0n)) state.seenCid.set(from, cid)
}

/** Keeps an ordering message for a cid just beyond the open instance; true if it was for a later cid. */
const deferred = (state: ReplicaState, from: ReplicaId, message: ConsensusMessage & { readonly cid: bigint }): boolean => {
  noteCid(state, from, message.cid)
  if (message.cid <= state.instance.cid) return message.cid < state.instance.cid
  if (message.cid <= state.instance.cid + BigInt(coreLimits.futureCidWindow) && state.future.length < coreLimits.futureMessagesMax)
    state.future.push({ from, message })
  return true
}

const regencyInWindow = (state: ReplicaState, regency: bigint): boolean =>
  regency <= state.regency + BigInt(coreLimits.regencyWindow)

const onMessage = (state: ReplicaState, fx: Emitter, from: ReplicaId, message: ConsensusMessage): void => {
  switch (message._tag) {
    case "Propose": {
      if (deferred(state, from, message)) return
      if (canWrite(state, from, message)) write(state, fx, from, message, hashBatch(state.config, message.batch))
      else if (mayRecoverWritten(state, from, message)) {
        const value = hashBatch(state.config, message.batch)
        if (canRecoverWritten(state, message.regency, value)) recoverWritten(state, message.regency, value)
      }
      return
    }
    case "Write":
      if (deferred(state, from, message) || !regencyInWindow(state, message.regency)) return
      recordWrite(state, from, message)
      return
    case "Accept":
      if (message.cid < state.instance.cid) recordLateAccept(state, from, message)
      if (deferred(state, from, message) || !regencyInWindow(state, message.regency)) return
      recordAccept(state, from, message)
      return
    case "Stop":
      recordStop(state, from, message)
      return
    case "StopData":
      noteCid(state, from, message.openCid)
      if (
        message.regency === state.regency &&
        !state.synced &&
        leaderOf(state.config, state.regency) === state.config.self &&
        !state.stopData.has(from)
      )
        state.stopData.set(from, message)
      return
    case "Sync": {
      adoptFromStopData(state, fx, message.proofs.map((p) => p.stopData), "sync")
      if (!wantsSync(state, message)) return
      const check = checkSync(state, from, message)
      if (check._tag === "Valid") resume(state, fx, from, message, check.value)
      return
    }
    case "Commit":
      recordCommit(state, fx, from, message)
      return
  }
}

const recordWrite = (state: ReplicaState, from: ReplicaId, message: Write): void => {
  const r = regencyKey(message.regency)
  const writes = state.instance.writes.get(r) ?? new Map<ReplicaId, string>()
  if (!writes.has(from)) writes.set(from, toHex(message.batchHash))
  state.instance.writes.set(r, writes)
}

const recordAccept = (state: ReplicaState, from: ReplicaId, message: Accept): void => {
  const r = regencyKey(message.regency)
  const accepts = state.instance.accepts.get(r) ?? new Map<ReplicaId, ReceivedAccept>()
  if (!accepts.has(from)) accepts.set(from, { hashHex: toHex(message.batchHash), batchHash: message.batchHash, signature: message.signature })
  state.instance.accepts.set(r, accepts)
}

const onTick = (state: ReplicaState, fx: Emitter, nowMs: number): void => {
  assert(nowMs >= state.nowMs, "time does not go back")
  state.nowMs = nowMs
  if (orderingPaused(state)) {
    // Between a view's last block and the switch to the next view: no request timers run; the
    // replica finishes its blocks and asks peers for the new view's decisions (a leaving member
    // waits for the first one: the new view has taken over).
    if (nowMs - state.lastRetransmitMs >= state.config.retransmitMs) {
      state.lastRetransmitMs = nowMs
      retransmitCommits(state, fx)
      retransmitDecidedAccepts(state, fx)
    }
    requestWhilePaused(state, fx)
    return
  }
  // First timeout of a request: send it to every member (the leader may never have seen it).
  const timeout = requestTimeoutMs(state)
  for (const p of state.pending.values()) {
    if (!p.forwardedToAll && nowMs - p.sinceMs >= timeout) {
      p.forwardedToAll = true
      p.sinceMs = nowMs
      for (const m of state.config.view.members) fx.forward(m.replica, p.tx)
    }
  }
  if (canStopOnTimeout(state)) stopOnTimeout(state, fx)
  if (nowMs - state.lastRetransmitMs >= state.config.retransmitMs) {
    state.lastRetransmitMs = nowMs
    retransmit(state, fx)
  }
  if (membersAhead(state) >= state.config.weakQuorum) {
    if (state.behindSinceMs === undefined) state.behindSinceMs = nowMs
    if (nowMs - state.behindSinceMs >= state.config.behindGraceMs) requestState(state, fx)
  } else state.behindSinceMs = undefined
  // A replica whose requests time out may simply be behind peers that went quiet after deciding
  // (its copies of their last ACCEPTs lost): it asks; peers with nothing newer send nothing.
  if (state.syncedValue !== undefined || state.missingBatch || timedOut(state)) requestState(state, fx)
}

/**
 * Messages can be lost while the network misbehaves; every retransmission interval a replica
 * with work outstanding sends its latest protocol messages again. All of them are idempotent.
 */
const retransmit = (state: ReplicaState, fx: Emitter): void => {
  retransmitCommits(state, fx)
  retransmitDecidedAccepts(state, fx)
  const busy = state.pending.size > 0 || !state.synced || state.nextRegency > state.regency || state.instance.proposals.size > 0
  if (!busy) return
  const viewId = state.config.view.id
  if (state.nextRegency > state.regency) fx.rebroadcast({ _tag: "Stop", viewId, regency: state.nextRegency })
  if (state.regency > 0n) fx.rebroadcast({ _tag: "Stop", viewId, regency: state.regency })
  const leader = leaderOf(state.config, state.regency)
  if (!state.synced && state.stopDataSent !== undefined && leader !== state.config.self) fx.send(leader, state.stopDataSent)
  if (state.syncSent !== undefined) fx.rebroadcast(state.syncSent)
  if (!isActive(state)) return
  const r = regencyKey(state.regency)
  const value = state.instance.proposals.get(r)
  if (value === undefined) return
  const cid = state.instance.cid
  if (state.instance.proposedIn.has(r)) fx.rebroadcast({ _tag: "Propose", viewId, cid, regency: state.regency, batch: value.batch })
  if (state.instance.wroteIn.has(r)) fx.rebroadcast({ _tag: "Write", viewId, cid, regency: state.regency, batchHash: value.hash })
  if (state.instance.acceptedIn.has(r)) fx.rebroadcast(acceptMessage(state, value.hash))
}

/** What must hold after every step. */
const checkInvariants = (state: ReplicaState): void => {
  assert(state.nextRegency >= state.regency, "a replica never asks for a regency below its own")
  assert(state.instance.cid === state.lastDecidedCid + 1n, "the open instance follows the last decided one")
  assert(
    state.lastDecidedProof === undefined ? state.lastDecidedCid === 0n : state.lastDecidedProof.cid === state.lastDecidedCid,
    "the last decision proof is for the last decided cid"
  )
  assert(
    state.instance.accepted === undefined || state.instance.accepted.regency <= state.regency,
    "nothing is accepted in a regency not yet installed"
  )
  assert(
    state.instance.wroteIn.size === 0 || state.instance.writeSet.length > 0,
    "every value written in the open instance is in the write set"
  )
}
