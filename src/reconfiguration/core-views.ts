/**
 * Reconfiguration inside the replica core (PROTOCOL.md section 6, spec/Reconfiguration.tla): how
 * `step` follows the views that executed blocks install.
 *
 * - Execution: every executed block runs its reconfiguration requests (apply-block.ts) next to
 *   the application; the requests' results replace what the application answered for them, and
 *   the block learns its view fields (`DecidedBlock.view`): the view that decided it, its
 *   lastReconfigHeight and, on a reconfiguration block hb, the record of view v + 1, which the
 *   block carries and is certified by view v (its decision proof, and in strong mode its COMMIT
 *   certificate, are view v's).
 * - Pause: from the decision of hb until the replica installs view v + 1 it takes no part in
 *   ordering (the next cids belong to view v + 1): its regency is reset to 0, view-v messages
 *   about later cids are ignored, and messages of view v + 1 are kept (`early`) and replayed
 *   at the switch. COMMITs and late ACCEPTs still count: they finish block hb.
 * - InstallView: once hb is durable by the mode's rule (memory: written; weak: synced; strong:
 *   its certificate synced, so that every COMMIT this replica will ever sign with its view-v key
 *   is signed), a member of view v + 1 switches its configuration (id, members, n, f, quorums,
 *   the signer of the key it rotated to, the view hash of its headers), then EraseKeys: its
 *   view-v key goes (an EraseViewKeys output, which the shell performs on the key files,
 *   src/services/view-keys.ts). A member that is not in view v + 1 waits until view v + 1 has
 *   taken over (it holds the decision of block hb + 1), then leaves and erases all its keys.
 * - Rotate: once a membership change is decided (ha set) a continuing member asks the shell
 *   (RotateKey output) to make a fresh key for view v + 1 and submit ROTATE.
 *
 * A joiner is never a core without a view: it fetches and verifies the chain by state transfer
 * until a block installs a view that includes it, and starts its core in that view from the
 * fetched blocks, as a restart does (src/persistence/restart.ts).
 *
 * Pure: keys come in as Signers through `ReconfigSetup.viewSigner`; no I/O, no clock.
 */
import { bytesEqual } from "../chain/bytes.ts"
import { viewHash } from "../chain/hash.ts"
import type { Certificate, ConsensusMessage, PublicKey, ReplicaId, ViewRecord } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { ReplicaConfig, Signer } from "../core/config.ts"
import { configForView, leaderOf } from "../core/config.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { noteCertificate } from "../persistence/certify.ts"
import type { DecidedBlock, PersistenceState } from "../persistence/state.ts"
import { heightKey } from "../persistence/state.ts"
import { applyBlock } from "./apply-block.ts"
import { canEraseKeys, eraseKeys } from "./erase-keys.ts"
import { installView } from "./install-view.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { memberState, requestKey, withHeldKey, withSubmitted } from "./replica-state.ts"
import { canRotate } from "./rotate.ts"
import type { ReconfigContext, ViewState } from "./view-state.ts"
import { initialViewState } from "./view-state.ts"

/** What a replica needs to follow membership changes: fixed for its lifetime. */
export interface ReconfigSetup {
  /** The admission policy and the rotation window, the same at every replica. */
  readonly context: ReconfigContext
  /** The replica's identity key: how views name it across ids. */
  readonly identityKey: PublicKey
  /** The signer of the replica's private key for a view, while the shell holds it. */
  readonly viewSigner: (viewId: bigint) => Signer | undefined
  /** Test-only when false: keep old view keys (reproduces the fork of plain BFT-SMaRt). */
  readonly erasure: boolean
}

/** A view the chain installed: its record, its hash, and the block that installed it (0: genesis). */
export interface ViewEntry {
  readonly record: ViewRecord
  readonly hash: Uint8Array
  readonly installedAt: bigint
}

export interface CoreViews {
  /** The view state after the last executed block. */
  chain: ViewState
  /** Height of the last block whose requests were executed. */
  executed: bigint
  /** Every view the executed blocks installed, genesis's first. */
  readonly history: Array<ViewEntry>
  /** The replica's own view, held keys, leaving and submitted requests (spec variables). */
  local: ReplicaReconfigState
  /** Messages of a view newer than the configured one, replayed when it is installed. */
  early: Array<{ readonly from: ReplicaId; readonly message: ConsensusMessage }>
  /**
   * Verified certificates that came by state transfer for blocks not written yet, by height. A
   * replica behind a view change cannot collect COMMITs of a view whose members erased its keys:
   * the certificates its peers hold are its only way to certify those blocks (strong mode).
   */
  readonly certificates: Map<string, Certificate>
}

/** Most messages of a newer view kept while the replica finishes its current one. */
export const earlyMessagesMax = 4096

/** Most certificates kept for blocks not written yet (a state-transfer answer carries at most 64 instances). */
export const keptCertificatesMax = 256

/** The reconfiguration part of a new core, when the configuration has one. */
export const initialCoreViews = (config: ReplicaConfig): CoreViews | undefined => {
  const setup = config.reconfig
  if (setup === undefined) return undefined
  const pc = config.persistence
  assert(pc !== undefined, "reconfiguration needs persistence: views change by executed blocks")
  const self = config.view.members.find((m) => bytesEqual(m.identityKey, setup.identityKey))
  assert(self !== undefined && self.replica === config.self, "a replica starts in a view that holds its identity key under its id")
  return {
    chain: initialViewState(pc.genesis),
    executed: 0n,
    history: [{ record: pc.genesis.view, hash: viewHash(config.crypto, pc.genesis.view), installedAt: 0n }],
    local: memberState(config.self, setup.identityKey, config.view.id),
    early: [],
    certificates: new Map()
  }
}

/** The view that orders and certifies block (and instance) `height`: the last one installed below it. */
export const viewAt = (cv: CoreViews, height: bigint): ViewEntry => {
  let entry = cv.history[0]
  for (const e of cv.history) if (e.installedAt < height) entry = e
  assert(entry !== undefined, "the history starts with genesis's view")
  return entry
}

/** The id of the view whose members decide instance `cid`. */
export const viewIdForCid = (state: ReplicaState, cid: bigint): bigint =>
  state.reconfig === undefined ? state.config.view.id : viewAt(state.reconfig, cid).record.id

/**
 * Whether this replica, in its configured view, may sign for block `height` (write it, COMMIT
 * it, repeat its ACCEPT): the block is its configured view's and the replica has not left.
 */
export const ownsHeight = (state: ReplicaState, height: bigint): boolean => {
  const cv = state.reconfig
  return cv === undefined || (!cv.local.left && viewAt(cv, height).record.id === state.config.view.id)
}

/** True while the open instance belongs to a view this replica has not installed (or it left). */
export const orderingPaused = (state: ReplicaState): boolean => !ownsHeight(state, state.instance.cid)

/** The messages of the configured view that still count while ordering is paused: they finish its last blocks. */
export const countsWhilePaused = (state: ReplicaState, message: ConsensusMessage): boolean =>
  message._tag === "Commit" || (message._tag === "Accept" && message.cid < state.instance.cid)

/** Keeps a verified message of a view newer than the configured one until that view is installed. */
export const keepEarly = (state: ReplicaState, from: ReplicaId, message: ConsensusMessage): void => {
  const cv = state.reconfig
  if (cv === undefined || cv.local.left || message.viewId <= state.config.view.id || cv.early.length >= earlyMessagesMax) return
  cv.early.push({ from, message })
}

/**
 * Executes block `decided.height`'s reconfiguration requests (after the application executed the
 * block): the requests' results replace the application's, and the block gets its view fields.
 * Called once per executed block, in height order (Decide, state transfer, restart).
 */
export const executeBlockViews = (state: ReplicaState, decided: DecidedBlock): DecidedBlock => {
  const cv = state.reconfig
  const setup = state.config.reconfig
  if (cv === undefined || setup === undefined) return decided
  const h = decided.height
  assert(h === cv.executed + 1n, "reconfiguration requests are executed in height order")
  const before = viewAt(cv, h)
  const out = applyBlock(cv.chain, setup.context, h, decided.batch)
  cv.chain = out.state
  cv.executed = h
  const results = out.results.some((r) => r !== undefined) ? decided.results.map((r, i) => out.results[i] ?? r) : decided.results
  let lastReconfigHeight = before.installedAt
  if (out.installed !== undefined) {
    cv.history.push({ record: out.installed, hash: viewHash(state.config.crypto, out.installed), installedAt: h })
    lastReconfigHeight = h
  }
  return { ...decided, results, view: { viewId: before.record.id, viewHash: before.hash, lastReconfigHeight, newView: out.installed } }
}

/**
 * Leaves the regency of a view whose last block was just decided: the next instance is the new
 * view's, which starts at regency 0 (spec InstallView: reg' = 0, active' = TRUE). Request timers
 * restart, so no timeout of the old view's leader fires in the new view.
 */
export const resetOrdering = (state: ReplicaState): void => {
  state.regency = 0n
  state.nextRegency = 0n
  state.synced = true
  state.regencySinceMs = state.nowMs
  state.stops.clear()
  state.stopData.clear()
  state.stopDataSent = undefined
  state.syncSent = undefined
  state.syncedValue = undefined
  state.changesWithoutDecision = 0
  state.seenCid.clear()
  state.behindSinceMs = undefined
  state.future = []
  for (const p of state.pending.values()) {
    p.sinceMs = state.nowMs
    p.forwardedToAll = false
  }
}

/** Keeps a verified certificate of a block this replica has not written yet (strong mode). */
export const keepCertificate = (state: ReplicaState, certificate: Certificate): void => {
  const cv = state.reconfig
  const p = state.persistence
  if (cv === undefined || p === undefined || p.mode !== "strong" || certificate.height <= p.wrote) return
  if (cv.certificates.size < keptCertificatesMax) cv.certificates.set(heightKey(certificate.height), certificate)
}

/** Takes the kept certificates of blocks written since (each counts if it certifies the block written). */
export const takeKeptCertificates = (state: ReplicaState): void => {
  const cv = state.reconfig
  const p = state.persistence
  if (cv === undefined || p === undefined || cv.certificates.size === 0) return
  for (const [key, certificate] of cv.certificates) {
    if (certificate.height > p.wrote) continue
    cv.certificates.delete(key)
    noteCertificate(state, certificate)
  }
}

/**
 * While ordering is paused the replica asks peers for decided instances: from its first block
 * without a certificate in strong mode (after a crash, the certificate of the view's last block
 * may be lost, and the view's members may have erased the keys that could sign it again: peers
 * send it with the instance), else from its open instance (a leaving member waits for the new
 * view's first decision). At most once per retransmission interval.
 */
export const requestWhilePaused = (state: ReplicaState, fx: Emitter): void => {
  if (state.stateRequestedAtMs !== undefined && state.nowMs - state.stateRequestedAtMs < state.config.retransmitMs) return
  state.stateRequestedAtMs = state.nowMs
  const p = state.persistence
  const fromCid = p !== undefined && p.mode === "strong" && p.certH < p.wrote ? p.certH + 1n : state.instance.cid
  fx.emit({ _tag: "RequestState", fromCid })
}

/** Whether the block at `height` is durable by the persistence mode's rule (see the header comment). */
const installDurable = (p: PersistenceState, height: bigint): boolean =>
  p.mode === "memory" ? p.wrote >= height : p.mode === "weak" ? p.dur >= height : p.certH >= height

const memberOf = (view: ViewRecord, identityKey: Uint8Array) => view.members.find((m) => bytesEqual(m.identityKey, identityKey))

/**
 * The view InstallView switches to (spec: the view after the durable blocks, `ViewAfter(Prefix(
 * chain, dur))`): the newest view newer than the configured one whose installing block is
 * durable. When the replica is in it, it needs its key for it; if the shell no longer holds that
 * key (erased after a later view, before a crash), the newest older durable view it holds a key
 * for is taken: blocks are written only by their view's members, so a replica that must still
 * write blocks goes through the views in turn. A replica that is not in the newest durable view
 * leaves, once that view has taken over (it holds the decision of the block after its installing
 * block, with q ACCEPTs of that view's keys, spec `TakenOver`).
 */
const installTarget = (state: ReplicaState): ViewEntry | undefined => {
  const cv = state.reconfig
  const setup = state.config.reconfig
  const p = state.persistence
  if (cv === undefined || setup === undefined || p === undefined || cv.local.left) return undefined
  const durable = cv.history.filter((e) => e.record.id > state.config.view.id && installDurable(p, e.installedAt))
  const newest = durable[durable.length - 1]
  if (newest === undefined) return undefined
  if (memberOf(newest.record, setup.identityKey) === undefined) return state.lastDecidedCid > newest.installedAt ? newest : undefined
  for (let i = durable.length - 1; i >= 0; i--) {
    const e = durable[i]!
    if (memberOf(e.record, setup.identityKey) !== undefined && setup.viewSigner(e.record.id) !== undefined) return e
  }
  return undefined
}

/** InstallView is enabled: a newer view's installing block is durable, and the replica can switch to it or leave. */
export const canInstallNextView = (state: ReplicaState): boolean => installTarget(state) !== undefined

/**
 * InstallView, then EraseKeys. `silent` (a restart re-installing the views its durable blocks
 * installed before the crash) emits no trace events: the spec's view survives a crash.
 */
export const installNextView = (state: ReplicaState, fx: Emitter, silent: boolean): void => {
  assert(canInstallNextView(state), "InstallView is enabled")
  const cv = state.reconfig!
  const setup = state.config.reconfig!
  const next = installTarget(state)!
  // After a restart the local state knows only the keys of the views it installed again; the
  // shell may still hold a key it made before the crash (a ROTATE for a view it then left): the
  // replica counts every key the shell holds as held, so erasure leaves none behind.
  for (let v = 0n; v <= next.record.id + 1n; v++) if (setup.viewSigner(v) !== undefined) cv.local = withHeldKey(cv.local, v)
  const installed = installView(cv.local, next.record, setup.erasure)
  cv.local = installed.local
  const self = memberOf(next.record, setup.identityKey)
  if (self === undefined) {
    if (!silent) fx.emit({ _tag: "Trace", event: { ...installed.event, height: Number(next.installedAt) } })
    if (installed.erase.length > 0) fx.emit({ _tag: "EraseViewKeys", views: installed.erase })
    fx.emit({ _tag: "ViewInstalled", view: next.record, self: state.config.self, left: true })
    cv.early = []
    return
  }
  const signer = setup.viewSigner(next.record.id)
  assert(signer !== undefined, "a member installs a view it holds the key of")
  state.config = configForView(state.config, next.record, next.hash, self.replica, signer)
  fx.config = state.config
  resetOrdering(state)
  if (!silent) fx.emit({ _tag: "Trace", event: { ...installed.event, height: Number(next.installedAt) } })
  if (canEraseKeys(cv.local, setup.erasure)) {
    const erased = eraseKeys(cv.local)
    cv.local = erased.local
    if (!silent) fx.emit({ _tag: "Trace", event: erased.event })
    fx.emit({ _tag: "EraseViewKeys", views: erased.erase })
  }
  fx.emit({ _tag: "ViewInstalled", view: next.record, self: self.replica, left: false })
  const early = cv.early
  cv.early = []
  for (const m of early) {
    if (m.message.viewId === next.record.id) fx.replay(m.from, m.message)
    else if (m.message.viewId > next.record.id) cv.early.push(m)
  }
  const leader = leaderOf(state.config, state.regency)
  for (const p of state.pending.values()) fx.forward(leader, p.tx)
}

/** Installs every view whose installing block is durable (a restart re-installing them silently). */
export const installDurableViews = (state: ReplicaState, fx: Emitter, silent: boolean): boolean => {
  let any = false
  while (canInstallNextView(state)) {
    installNextView(state, fx, silent)
    any = true
  }
  return any
}

/**
 * Rotate is due: a membership change is decided in the view this replica runs, and it continues
 * into the next view. The shell makes the fresh key and submits ROTATE (RotateKey output).
 */
export const canAskRotation = (state: ReplicaState): boolean => {
  const cv = state.reconfig
  return cv !== undefined && cv.chain.view.id === state.config.view.id && canRotate(cv.local, cv.chain)
}

export const askRotation = (state: ReplicaState, fx: Emitter): void => {
  assert(canAskRotation(state), "Rotate is enabled")
  const cv = state.reconfig!
  const next = cv.chain.view.id + 1n
  cv.local = withHeldKey(withSubmitted(cv.local, requestKey.rotate(next)), next)
  fx.emit({ _tag: "RotateKey", nextViewId: next })
}

/** True once the replica left (installed a view without itself): it does nothing more. */
export const hasLeft = (state: ReplicaState): boolean => state.reconfig?.local.left === true

/** The local reconfiguration state, for shells that build requests (src/reconfiguration/rotate.ts). */
export const localOf = (state: ReplicaState): ReplicaReconfigState | undefined => state.reconfig?.local
