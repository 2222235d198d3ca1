/**
 * The Mod-SMaRt rule for the value of the open instance after a leader change: which value the
 * collected STOPDATA force, if any. The leader applies it to choose; every replica applies it again
 * to the STOPDATA forwarded in SYNC to check the leader's choice.
 *
 * Each STOPDATA describes, for its sender's open instance, the value it last accepted (regency,
 * hash, batch) and its write set. For the instance after the highest decided cid among them
 * (the target), an entry whose open instance is another one counts as having written and accepted
 * nothing there: a correct replica works on one instance at a time and freezes its state in the
 * old regencies when it sends STOPDATA.
 *
 * With S the collected entries (at least q of them):
 *  - (r, h) is highest-in-a-quorum when some entry accepted (r, h) and at least q entries accepted
 *    nothing, or accepted in a regency below r, or accepted exactly (r, h);
 *  - (r, h) is certified when at least f + 1 entries wrote h in a regency at or above r (so at least
 *    one correct member wrote it);
 *  - (r, h) binds when both hold; the value is free when at least q entries accepted nothing.
 * If a value was decided in the target instance, every binding pair carries it and the value is
 * not free (q ACCEPTs intersect any q entries in more than f members, and correct members accept
 * one value per regency). The leader takes the binding pair with the highest regency (ties: the
 * smallest hash), or when none binds and the value is free, its own batch. Otherwise S
 * determines nothing yet and the leader waits for more STOPDATA; with the STOPDATA of every
 * correct member, S always determines a value.
 */
import { toHex } from "../chain/bytes.ts"
import type { ReplicaId, StopData, StopDataFrom } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import type { HashedBatch } from "../core/state.ts"

export interface CollectedEntry {
  readonly replica: ReplicaId
  readonly accepted: { readonly regency: bigint; readonly hashHex: string; readonly value: HashedBatch } | undefined
  readonly written: ReadonlyArray<{ readonly regency: bigint; readonly hashHex: string }>
}

export type Choice =
  | { readonly _tag: "Bound"; readonly regency: bigint; readonly value: HashedBatch }
  | { readonly _tag: "Free" }
  | { readonly _tag: "Undetermined" }

export interface Collected {
  /** The instance the new regency continues: one past the highest decided cid reported. */
  readonly target: bigint
  readonly entries: ReadonlyArray<CollectedEntry>
}

const lastDecidedCid = (s: StopData): bigint => (s.lastDecided._tag === "Some" ? s.lastDecided.value.cid : 0n)

/** The entries' states for the target instance. */
export const collect = (stopData: ReadonlyArray<StopDataFrom>): Collected => {
  let highest = 0n
  for (const { stopData: s } of stopData) if (lastDecidedCid(s) > highest) highest = lastDecidedCid(s)
  const target = highest + 1n
  const entries = stopData.map(({ replica, stopData: s }): CollectedEntry => {
    if (s.openCid !== target) return { replica, accepted: undefined, written: [] }
    const accepted =
      s.accepted._tag === "Some"
        ? {
            regency: s.accepted.value.regency,
            hashHex: toHex(s.accepted.value.batchHash),
            value: { batch: s.accepted.value.batch, hash: s.accepted.value.batchHash, hashHex: toHex(s.accepted.value.batchHash) }
          }
        : undefined
    return { replica, accepted, written: s.written.map((w) => ({ regency: w.regency, hashHex: toHex(w.batchHash) })) }
  })
  return { target, entries }
}

const highestInQuorum = (config: ReplicaConfig, entries: ReadonlyArray<CollectedEntry>, regency: bigint, hashHex: string): boolean => {
  let count = 0
  for (const e of entries) {
    if (e.accepted === undefined || e.accepted.regency < regency || (e.accepted.regency === regency && e.accepted.hashHex === hashHex))
      count++
  }
  return count >= config.quorum
}

const certified = (config: ReplicaConfig, entries: ReadonlyArray<CollectedEntry>, regency: bigint, hashHex: string): boolean => {
  let count = 0
  for (const e of entries) if (e.written.some((w) => w.regency >= regency && w.hashHex === hashHex)) count++
  return count >= config.weakQuorum
}

/** What the entries force for the target instance. */
export const choose = (config: ReplicaConfig, entries: ReadonlyArray<CollectedEntry>): Choice => {
  if (entries.length < config.quorum) return { _tag: "Undetermined" }
  let best: { regency: bigint; value: HashedBatch } | undefined
  for (const e of entries) {
    const a = e.accepted
    if (a === undefined) continue
    if (!highestInQuorum(config, entries, a.regency, a.hashHex) || !certified(config, entries, a.regency, a.hashHex)) continue
    if (best === undefined || a.regency > best.regency || (a.regency === best.regency && a.hashHex < best.value.hashHex))
      best = { regency: a.regency, value: a.value }
  }
  if (best !== undefined) return { _tag: "Bound", regency: best.regency, value: best.value }
  const acceptedNothing = entries.filter((e) => e.accepted === undefined).length
  if (acceptedNothing >= config.quorum) return { _tag: "Free" }
  return { _tag: "Undetermined" }
}

/**
 * Why the STOPDATA of a SYNC do not support it, or undefined when they do: q entries from
 * distinct members of the view, all for the SYNC's regency, and the SYNC's cid is the target.
 * (Signatures and proofs inside were checked by the Verifier.)
 */
export const proofsProblem = (
  config: ReplicaConfig,
  regency: bigint,
  cid: bigint,
  proofs: ReadonlyArray<StopDataFrom>
): string | undefined => {
  const seen = new Set<ReplicaId>()
  for (const p of proofs) {
    if (seen.has(p.replica)) return "two STOPDATA from one member"
    seen.add(p.replica)
    if (!config.view.members.some((m) => m.replica === p.replica)) return "STOPDATA from a non-member"
    if (p.stopData.regency !== regency || p.stopData.viewId !== config.view.id) return "STOPDATA for another regency or view"
  }
  if (proofs.length < config.quorum) return "fewer than q STOPDATA"
  if (collect(proofs).target !== cid) return "the cid is not the one after the highest decided"
  return undefined
}
