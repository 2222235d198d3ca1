/**
 * Catching up: a replica behind its peers (f + 1 members seen working on later cids, or q ACCEPTs
 * for a batch it never received, or a SYNC for a later cid) asks for state transfer; the shell
 * fetches decided instances from peers and the Verifier checks each decision proof before the
 * instance reaches the core. No single peer is trusted: only q valid ACCEPT signatures count.
 */
import { toHex } from "../chain/bytes.ts"
import type { DecisionProof, StopData, Transaction } from "../chain/types.ts"
import { completeInstance } from "../ordering/decide.ts"
import { viewIdForCid } from "../reconfiguration/core-views.ts"
import { assert } from "./assert.ts"
import type { Emitter } from "./emitter.ts"
import type { ReplicaState } from "./state.ts"

export const stateTransferEvent = "StateTransfer" as const

/** Asks for decided instances from the open one on, at most once per retransmission interval. */
export const requestState = (state: ReplicaState, fx: Emitter): void => {
  if (state.stateRequestedAtMs !== undefined && state.nowMs - state.stateRequestedAtMs < state.config.retransmitMs) return
  state.stateRequestedAtMs = state.nowMs
  fx.emit({ _tag: "RequestState", fromCid: state.instance.cid })
}

/** How many members were seen working on a cid beyond the open instance. */
export const membersAhead = (state: ReplicaState): number => {
  let ahead = 0
  for (const cid of state.seenCid.values()) if (cid > state.instance.cid) ahead++
  return ahead
}

/** The fetched instance is the open one, decided by the view that orders it (src/reconfiguration/core-views.ts). */
export const canAdopt = (state: ReplicaState, proof: DecisionProof): boolean =>
  proof.cid === state.instance.cid && proof.viewId === viewIdForCid(state, proof.cid)

/**
 * Where a decided instance taken without its ACCEPTs came from: a peer, a STOPDATA (held or in a
 * SYNC), or this replica's own consensus record on restart (decided before a crash, its block
 * not yet written).
 */
export type AdoptedVia = "peer" | "stopData" | "sync" | "record"

/**
 * Takes a decided instance whose proof the Verifier checked (fetched from a peer, or carried as
 * the last decided instance of a STOPDATA) as this replica's decision.
 */
export const adopt = (
  state: ReplicaState,
  fx: Emitter,
  batch: ReadonlyArray<Transaction>,
  proof: DecisionProof,
  via: AdoptedVia
): void => {
  assert(canAdopt(state, proof), "the fetched instance is the open one")
  fx.trace(stateTransferEvent, {
    cid: Number(proof.cid),
    regency: Number(proof.regency),
    batchHash: toHex(proof.batchHash),
    txs: batch.length,
    via
  })
  completeInstance(state, fx, batch, proof)
}

/**
 * Takes every decision carried in verified STOPDATA that extends this replica's log, in cid order.
 * A decision known only to a Byzantine member (it gathered the q ACCEPTs, the others lost some)
 * thus reaches the new leader and, through SYNC, everyone.
 */
export const adoptFromStopData = (state: ReplicaState, fx: Emitter, stopData: ReadonlyArray<StopData>, via: AdoptedVia): void => {
  const decided = stopData
    .flatMap((s) => (s.lastDecided._tag === "Some" ? [{ proof: s.lastDecided.value, batch: s.lastDecidedBatch }] : []))
    .sort((a, b) => (a.proof.cid < b.proof.cid ? -1 : a.proof.cid > b.proof.cid ? 1 : 0))
  for (const d of decided) if (canAdopt(state, d.proof)) adopt(state, fx, d.batch, d.proof, via)
}

/** Whether a STOPDATA the leader holds carries the decision of its open instance. */
export const canAdoptFromCollected = (state: ReplicaState): boolean => {
  for (const s of state.stopData.values()) if (s.lastDecided._tag === "Some" && canAdopt(state, s.lastDecided.value)) return true
  return false
}
