/**
 * Restart (spec/Persistence.tla): a replica comes back from what its storage kept. It rebuilds
 * every synced block from its stored batch, results and decision proof and checks it against the
 * stored header (same header hash), and stops at the first that does not match: the host cuts its
 * storage there and the blocks come back from peers by state transfer, verified by their decision
 * proofs. Checksums in the store catch torn and corrupt records before that
 * (src/services/blockstore-core.ts).
 *
 * The application state comes from the newest stored checkpoint snapshot at or below the head
 * (./checkpoint.ts, `restartPlan`): blocks up to the checkpoint are taken as stored, the snapshot is
 * restored and must hash to the checkpoint header's stateHash, and only the blocks after it are
 * executed again. Without a usable snapshot (none, undecodable, a wrong hash, or a damaged block
 * below it) every block is executed from genesis.
 *
 * In weak and strong mode the consensus record brings back the regency (a replica restarted in a
 * regency above 0 waits for that regency's SYNC again, as `active` in the spec), the vote of the
 * open instance, and the decided instances whose blocks were not written yet. Then the replica
 * asks its peers for what it missed (RequestState) before anything else.
 *
 * Pure: `restart(config, durable, nowMs)` returns the state and the outputs of that first step.
 */
import { bytesEqual, toHex } from "../chain/bytes.ts"
import { headerHash } from "../chain/hash.ts"
import type { Block, Certificate, WrittenEntry } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { adopt, canAdopt } from "../core/catch-up.ts"
import type { ReplicaConfig } from "../core/config.ts"
import { leaderOf } from "../core/config.ts"
import { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { initialState, newInstance, regencyKey, txKey } from "../core/state.ts"
import type { StepResult } from "../core/step.ts"
import { settle } from "../core/step.ts"
import { executeBatch, finalizeBlock, isCheckpointHeight, zeroHash } from "./block.ts"
import type { Checkpoint } from "./checkpoint.ts"
import { restartPlan } from "./checkpoint.ts"
import type { ConsensusRecord } from "./consensus-record.ts"
import type { DecidedBlock, PersistenceState } from "./state.ts"
import { executeBlockViews, installDurableViews } from "../reconfiguration/core-views.ts"
import { heightKey, releasableHeight } from "./state.ts"
import { requeueReplies } from "./release-reply.ts"

export const restartEvent = "Restart" as const

/** What storage kept. */
export interface DurableContent {
  /** Blocks from height 1 up, as read from storage. */
  readonly blocks: ReadonlyArray<Block>
  /** Certificate records that could be read. */
  readonly certificates: ReadonlyArray<Certificate>
  /** The newest readable consensus record (weak and strong mode). */
  readonly record: ConsensusRecord | undefined
  /** Where the storage's tail was cut as torn or corrupt before restarting, if it was. */
  readonly cutFrom?: bigint
  /** The newest stored checkpoint snapshot at or below the head, if any. */
  readonly snapshot?: Checkpoint
}

export interface RestartResult extends StepResult {
  /** The first stored block that does not match the block rebuilt from its contents: cut storage from here. */
  readonly truncateFrom: bigint | undefined
  /** The checkpoint whose snapshot gave the state (0: every block was executed from genesis). */
  readonly restoredFrom: bigint
}

/** Rebuilds the replica from its durable content; `nowMs` is the time it comes back. */
export const restart = (config: ReplicaConfig, durable: DurableContent, nowMs: number): RestartResult => {
  const snapshot = durable.snapshot
  const plan = restartPlan(snapshot === undefined ? [] : [snapshot.height], BigInt(durable.blocks.length))
  if (snapshot === undefined || plan.restoreHeight === 0n) return rebuild(config, durable, undefined, nowMs)
  // A snapshot that does not fit its checkpoint block, or a damaged block below it: execute from genesis.
  return rebuild(config, durable, snapshot, nowMs) ?? rebuild(config, durable, undefined, nowMs)
}

function rebuild(config: ReplicaConfig, durable: DurableContent, checkpoint: undefined, nowMs: number): RestartResult
function rebuild(config: ReplicaConfig, durable: DurableContent, checkpoint: Checkpoint, nowMs: number): RestartResult | undefined
function rebuild(config: ReplicaConfig, durable: DurableContent, checkpoint: Checkpoint | undefined, nowMs: number): RestartResult | undefined {
  const state = initialState(config)
  state.nowMs = nowMs
  state.lastRetransmitMs = nowMs
  const p = state.persistence
  const pc = config.persistence
  assert(p !== undefined && pc !== undefined, "restart needs a persistence configuration")
  const fx = new Emitter(config)

  let truncateFrom: bigint | undefined
  let last: { readonly decided: DecidedBlock; readonly prevHash: Uint8Array; readonly lastCheckpointHeight: bigint } | undefined
  for (const stored of durable.blocks) {
    const h = p.height + 1n
    const taken = checkpoint !== undefined && h <= checkpoint.height
    if (stored.header.height !== h || stored.decision.cid !== h) {
      // Below the checkpoint the state at h - 1 is unknown: only a replay from genesis can go on.
      if (taken) return undefined
      truncateFrom = h
      break
    }
    const executed = taken
      ? { decided: storedDecided(stored, config.limits.checkpointInterval, checkpoint, nowMs), machine: p.machine }
      : executeBatch(p.machine, config.limits.checkpointInterval, stored.transactions, stored.decision, new Map(), nowMs)
    // Reconfiguration requests are executed again even below a checkpoint (they are cheap, and
    // the snapshot holds only the application): the views and each block's view fields.
    const { machine } = executed
    const decided = executeBlockViews(state, executed.decided)
    const built = finalizeBlock(decided, {
      crypto: config.crypto,
      viewId: config.view.id,
      viewHash: pc.viewHash,
      prevHash: p.headHash,
      lastCheckpointHeight: p.lastCheckpointHeight,
      lastReconfigHeight: 0n,
      proof: stored.decision
    })
    if (built.hashHex !== toHex(headerHash(config.crypto, stored.header))) {
      // Below the checkpoint the state at h - 1 is unknown: only a replay from genesis can go on.
      if (taken) return undefined
      truncateFrom = h
      break
    }
    let next = machine
    if (taken && h === checkpoint.height) {
      const restored = p.machine.restore(h, checkpoint.snapshot)
      if (restored === undefined || !bytesEqual(restored.stateHash(), stored.header.stateHash) || !bytesEqual(checkpoint.stateHash, stored.header.stateHash))
        return undefined
      next = restored
    }
    last = { decided, prevHash: p.headHash, lastCheckpointHeight: p.lastCheckpointHeight }
    replayed(state, p, stored, built.hash, built.hashHex, next)
    if (stored.prevCertificate._tag === "Some") p.certificates.set(heightKey(h - 1n), stored.prevCertificate.value)
  }
  for (const c of durable.certificates) if (c.height <= p.height) p.certificates.set(heightKey(c.height), c)
  if (p.mode === "strong") {
    while (p.certificates.has(heightKey(p.certH + 1n))) p.certH++
    p.certWrote = p.certH
    p.commitH = p.certH
    if (last !== undefined && p.certH < p.wrote)
      p.head = { ...last, signers: last.decided.proof.accepts.map((a) => a.replica).join(",") }
  }
  p.releasedH = releasableHeight(p)
  // Strong mode: blocks synced but not certified before the crash release their replies once certified.
  requeueReplies(p, durable.blocks)

  const record = p.mode === "memory" ? undefined : durable.record
  let recovered = 0
  if (record !== undefined) {
    p.recordVersion = Number(record.version)
    p.recordDurable = p.recordVersion
    if (record.regency > 0n) {
      state.regency = record.regency
      state.nextRegency = record.regency
      state.synced = false
      state.regencySinceMs = nowMs
    }
    for (const d of record.decided) {
      if (!canAdopt(state, d.proof)) continue
      adopt(state, fx, d.batch, d.proof, "record")
      recovered++
    }
    if (record.openCid === state.instance.cid) {
      if (record.accepted._tag === "Some") restoreVote(state, record.accepted.value)
      restoreWriteSet(state, record.written)
      if (record.proposed._tag === "Some" && record.proposed.value === state.regency) state.instance.proposedIn.add(regencyKey(state.regency))
    }
  }
  // The views the durable blocks installed before the crash are installed again, silently.
  installDurableViews(state, fx, true)
  fx.trace(restartEvent, {
    height: Number(p.dur),
    regency: Number(state.regency),
    certHeight: Number(p.certH),
    accepted: state.instance.accepted === undefined ? -1 : Number(state.instance.accepted.regency),
    recovered,
    cutFrom: Number(durable.cutFrom ?? truncateFrom ?? 0n)
  })
  fx.emit({ _tag: "RequestState", fromCid: state.instance.cid })
  state.stateRequestedAtMs = nowMs
  settle(state, fx)
  return { state, outputs: fx.outputs, truncateFrom, restoredFrom: checkpoint?.height ?? 0n }
}

/** A stored block at or below the restored checkpoint, as decided: its contents as stored, not executed. */
const storedDecided = (block: Block, checkpointInterval: number, checkpoint: Checkpoint, nowMs: number): DecidedBlock => {
  const h = block.header.height
  const isCheckpoint = isCheckpointHeight(h, checkpointInterval)
  return {
    height: h,
    batch: block.transactions,
    results: block.results,
    checkpoint: isCheckpoint,
    stateHash: isCheckpoint ? block.header.stateHash : zeroHash,
    snapshot: h === checkpoint.height ? checkpoint.snapshot : undefined,
    proof: block.decision,
    decidedAtMs: nowMs,
    signatures: new Map()
  }
}

/** Takes a stored block as decided, built, written and synced. */
const replayed = (
  state: ReplicaState,
  p: PersistenceState,
  block: Block,
  hash: Uint8Array,
  hashHex: string,
  machine: PersistenceState["machine"]
): void => {
  const h = block.header.height
  for (const tx of block.transactions) state.decidedTx.set(txKey(tx), h)
  state.lastDecidedCid = h
  state.lastDecidedProof = block.decision
  state.lastDecidedBatch = block.transactions
  state.instance = newInstance(h + 1n)
  p.machine = machine
  p.height = h
  p.wrote = h
  p.dur = h
  p.headHash = hash
  p.lastCheckpointHeight = block.header.lastCheckpointHeight
  p.headers.set(heightKey(h), { header: block.header, hash, hashHex })
}

/**
 * Restores the write set of the open instance, reported in STOPDATA: without it a value one
 * replica accepted before a full crash could be neither bound nor free at the next leader change.
 * It also restores which value was written in each regency the set names, so that the replica
 * never writes a second value in a regency it wrote in before the crash (the spec's WroteAt).
 * The batch itself comes back with the leader's PROPOSE or the SYNC (`recoverWritten`).
 */
const restoreWriteSet = (state: ReplicaState, written: ReadonlyArray<WrittenEntry>): void => {
  const instance = state.instance
  for (const w of written) {
    const hashHex = toHex(w.batchHash)
    const r = regencyKey(w.regency)
    if (!instance.wroteIn.has(r)) instance.wroteIn.set(r, hashHex)
    const same = instance.writeSet.findIndex((x) => toHex(x.batchHash) === hashHex)
    if (same < 0) instance.writeSet.push({ regency: w.regency, batchHash: w.batchHash })
    else if (instance.writeSet[same]!.regency < w.regency) instance.writeSet[same] = { regency: w.regency, batchHash: w.batchHash }
  }
}

/** Restores the vote of the open instance: the value accepted, as written and (for its leader) proposed. */
const restoreVote = (state: ReplicaState, accepted: NonNullable<ReplicaState["instance"]["accepted"]>): void => {
  if (accepted.regency > state.regency) return
  const r = regencyKey(accepted.regency)
  const hashHex = toHex(accepted.batchHash)
  const instance = state.instance
  instance.proposals.set(r, { batch: accepted.batch, hash: accepted.batchHash, hashHex })
  instance.wroteIn.set(r, hashHex)
  instance.writeSet = [{ regency: accepted.regency, batchHash: accepted.batchHash }]
  instance.acceptedIn.add(r)
  instance.accepted = accepted
  if (accepted.regency === state.regency && leaderOf(state.config, accepted.regency) === state.config.self) instance.proposedIn.add(r)
}
