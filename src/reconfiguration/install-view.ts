/**
 * InstallView. Two halves, as in the spec:
 *
 * - Which block installs view v + 1 (spec/Base.tla `ApplyMembership`, `install`): after a change
 *   was decided at height ha, block hb > ha installs the next view as soon as every continuing
 *   member has rotated, or at ha + B (B = genesis `rotationWindow`) without those that did not.
 *   The new view record holds the continuing members that rotated (with their new view keys)
 *   and the admitted joiners (with fresh replica ids, in admission order), sorted by replica id,
 *   with n and f recomputed. Block hb carries the record and is certified by view v; blocks from
 *   hb + 1 on are ordered and certified by view v + 1.
 *
 * - A replica switching to that view (spec/Reconfiguration.tla `InstallView`): once hb is
 *   durable, it takes the new members, keys and quorums, regency 0. A joiner becomes a member
 *   here; a member that is not in the new view has left, once the new view has taken over, and
 *   erases all its view keys.
 */
import { toHex } from "../chain/bytes.ts"
import type { Member, ViewRecord } from "../chain/types.ts"
import type { TraceEvent } from "../core/io.ts"
import { faultsTolerated } from "../core/quorum.ts"
import type { ReplicaReconfigState } from "./replica-state.ts"
import { withHeldKey } from "./replica-state.ts"
import type { ViewState } from "./view-state.ts"
import { continuing } from "./view-state.ts"

export const installViewEvent = "InstallView" as const

/** The view record view v + 1 would have if it were installed now. */
export const nextViewRecord = (s: ViewState): { readonly record: ViewRecord; readonly nextReplicaId: number } => {
  const rotated = new Map(s.rotations.map((r) => [r.replica, r.viewKey]))
  const members: Array<Member> = []
  for (const m of s.view.members) {
    const viewKey = rotated.get(m.replica)
    if (viewKey !== undefined && continuing(s).includes(m.replica)) members.push({ ...m, viewKey })
  }
  let nextReplicaId = s.nextReplicaId
  for (const j of s.joins) members.push({ replica: nextReplicaId++, identityKey: j.identityKey, viewKey: j.viewKey, address: j.address })
  members.sort((a, b) => a.replica - b.replica)
  const n = members.length
  return { record: { id: s.view.id + 1n, members, n, f: faultsTolerated(n) }, nextReplicaId }
}

/**
 * True when block `height`, just executed into `s`, installs the next view: a change is in
 * progress, decided before this block, the next view is not empty, and every continuing member
 * rotated or the rotation window has passed.
 */
export const installsView = (s: ViewState, height: bigint, rotationWindow: bigint): boolean => {
  if (s.ha === 0n || height <= s.ha) return false
  const cont = continuing(s)
  const rotated = new Set(s.rotations.map((r) => r.replica))
  const allRotated = cont.every((r) => rotated.has(r))
  if (nextViewRecord(s).record.n === 0) return false
  return allRotated || height >= s.ha + rotationWindow
}

/** The view state after block `height` installs the next view: no change in progress. */
export const installNextView = (s: ViewState, height: bigint): { readonly state: ViewState; readonly record: ViewRecord } => {
  const { record, nextReplicaId } = nextViewRecord(s)
  const usedViewKeys = new Set(s.usedViewKeys)
  for (const m of record.members) usedViewKeys.add(toHex(m.viewKey))
  return {
    record,
    state: { view: record, ha: 0n, joins: [], leaves: [], removes: [], rotations: [], usedViewKeys, nextReplicaId, lastReconfigHeight: height }
  }
}

// ---------------------------------------------------------------------------------------------
// The replica's InstallView
// ---------------------------------------------------------------------------------------------

/**
 * Enabled when the replica's durable blocks installed a view newer than its own, and it has not
 * left; a replica that was never a member only installs a view that includes it. A member that
 * is not in the new view waits until the new view has taken over (`takenOver`: the new view has
 * decided block hb + 1, with q ACCEPTs by its keys, spec `TakenOver`): until then it keeps
 * serving its blocks by state transfer, so leaving never takes away the last correct copy of a
 * block whose result a client accepted.
 */
export const canInstallView = (local: ReplicaReconfigState, durableView: ViewRecord, takenOver: boolean): boolean => {
  if (local.left || durableView.id <= local.view) return false
  const inView = durableView.members.some((m) => toHex(m.identityKey) === toHex(local.identityKey))
  return (local.view >= 0n || inView) && (inView || takenOver)
}

export interface ViewInstalled {
  readonly local: ReplicaReconfigState
  /** View keys to erase now (all of them for a replica that left and erases). */
  readonly erase: ReadonlyArray<bigint>
  /** The replica's id in the new view; undefined when it left. */
  readonly memberId: number | undefined
  readonly event: TraceEvent
}

/**
 * Installs `durableView` (installed by a block the caller has synced). With `erasure` off (a
 * test-only setting that reproduces the fork of plain BFT-SMaRt) a leaving replica keeps its keys.
 */
export const installView = (local: ReplicaReconfigState, durableView: ViewRecord, erasure: boolean): ViewInstalled => {
  const self = durableView.members.find((m) => toHex(m.identityKey) === toHex(local.identityKey))
  const fields = { view: Number(durableView.id), members: durableView.members.map((m) => m.replica) }
  if (self !== undefined) {
    return {
      local: withHeldKey({ ...local, replica: self.replica, view: durableView.id }, durableView.id),
      erase: [],
      memberId: self.replica,
      event: { action: installViewEvent, replica: self.replica, ...fields, left: false }
    }
  }
  return {
    local: { ...local, view: durableView.id, left: true, heldViewKeys: erasure ? [] : local.heldViewKeys },
    erase: erasure ? local.heldViewKeys : [],
    memberId: undefined,
    event: { action: installViewEvent, replica: local.replica, ...fields, left: true }
  }
}
