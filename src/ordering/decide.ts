/**
 * Decide: q members sent ACCEPT for the same (cid, regency, batchHash), each signed by its view
 * key (the Verifier checked the signatures). The batch is decided and those q ACCEPTs are its
 * decision proof. Deciding needs no participation in the regency: a decision is a fact that q
 * signatures prove, so a replica decides whatever its state. If it lacks the batch for the
 * decided hash (it saw a different PROPOSE, or none), it asks for state transfer.
 */
import type { DecisionProof, Transaction } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import type { HashedBatch, ReplicaState } from "../core/state.ts"
import { newInstance, regencyKey, txKey } from "../core/state.ts"
import { afterDecision } from "../persistence/pipeline.ts"

export const decideEvent = "Decide" as const

export interface DecidableValue {
  readonly regency: bigint
  readonly hashHex: string
  readonly batchHash: Uint8Array
  /** The batch, if this replica holds a value with that hash. */
  readonly value: HashedBatch | undefined
}

/** A (regency, hash) with q matching ACCEPTs in the open instance, if any. */
export const decidable = (state: ReplicaState): DecidableValue | undefined => {
  for (const [r, accepts] of state.instance.accepts) {
    if (accepts.size < state.config.quorum) continue
    const counts = new Map<string, number>()
    for (const a of accepts.values()) {
      const c = (counts.get(a.hashHex) ?? 0) + 1
      counts.set(a.hashHex, c)
      if (c >= state.config.quorum) {
        let value: HashedBatch | undefined
        for (const v of state.instance.proposals.values()) if (v.hashHex === a.hashHex) value = v
        return { regency: BigInt(r), hashHex: a.hashHex, batchHash: a.batchHash, value }
      }
    }
  }
  return undefined
}

export const canDecide = (state: ReplicaState): boolean => decidable(state)?.value !== undefined

/** The decision proof: the q lowest-numbered members' matching ACCEPTs, in member order. */
const proofOf = (state: ReplicaState, d: DecidableValue): DecisionProof => {
  const accepts = state.instance.accepts.get(regencyKey(d.regency))
  assert(accepts !== undefined, "a decidable regency has ACCEPTs")
  const signers = [...accepts.entries()]
    .filter(([, a]) => a.hashHex === d.hashHex)
    .sort(([x], [y]) => x - y)
    .slice(0, state.config.quorum)
  assert(signers.length === state.config.quorum, "a decision proof holds q ACCEPTs")
  return {
    viewId: state.config.view.id,
    cid: state.instance.cid,
    regency: d.regency,
    batchHash: d.batchHash,
    accepts: signers.map(([replica, a]) => ({ replica, signature: a.signature }))
  }
}

export const decide = (state: ReplicaState, fx: Emitter): void => {
  const d = decidable(state)
  assert(d !== undefined && d.value !== undefined, "Decide is enabled")
  const proof = proofOf(state, d)
  fx.trace(decideEvent, {
    cid: Number(proof.cid),
    regency: Number(proof.regency),
    batchHash: d.hashHex,
    txs: d.value.batch.length,
    signers: proof.accepts.map((a) => a.replica)
  })
  completeInstance(state, fx, d.value.batch, proof)
}

/**
 * Closes the open instance with `batch` decided by `proof` (from Decide, or from state transfer)
 * and opens the next one: records the decided transactions, replays messages buffered for the
 * next cid, and takes a SYNC value waiting for it. With persistence configured, the batch is
 * executed and its block built (src/persistence/pipeline.ts).
 */
export const completeInstance = (
  state: ReplicaState,
  fx: Emitter,
  batch: ReadonlyArray<Transaction>,
  proof: DecisionProof
): void => {
  const cid = state.instance.cid
  assert(proof.cid === cid && cid === state.lastDecidedCid + 1n, "instances are decided in cid order")
  fx.emit({ _tag: "Decide", cid, batch, proof })
  for (const tx of batch) {
    const key = txKey(tx)
    assert(!state.decidedTx.has(key), "no transaction is decided twice")
    state.decidedTx.set(key, cid)
    state.pending.delete(key)
  }
  afterDecision(state, batch, proof)
  state.lastDecidedCid = cid
  state.lastDecidedProof = proof
  state.lastDecidedBatch = batch
  state.instance = newInstance(cid + 1n)
  state.changesWithoutDecision = 0
  state.missingBatch = false
  state.behindSinceMs = undefined
  const buffered = state.future
  state.future = []
  for (const m of buffered) {
    if (messageCid(m.message) === state.instance.cid) fx.replay(m.from, m.message)
    else if ((messageCid(m.message) ?? 0n) > state.instance.cid) state.future.push(m)
  }
  assert(state.lastDecidedCid + 1n === state.instance.cid, "the open instance follows the last decided one")
}

/** The cid an ordering message is about. */
export const messageCid = (message: { readonly _tag: string; readonly cid?: bigint }): bigint | undefined => message.cid
