/**
 * Certify (spec/Persistence.tla, strong mode): the replica holds q COMMITs, each signed by a
 * member after it synced, for its next synced block's header hash: the certificate. It writes
 * the certificate to storage; the event is emitted when the sync that covers it completes, which
 * is when certH advances (replies of strong mode wait for that). A certificate received with a
 * decided instance by state transfer (the Verifier checked its signatures) counts as well, once
 * its header hash is that of the block this replica built.
 */
import type { Certificate } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import { hex } from "../core/emitter.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { heightKey } from "./state.ts"

export const certifyEvent = "Certify" as const

/** The certificate of block `height`: one already known, or q matching COMMITs in member order. */
export const certificateFor = (state: ReplicaState, height: bigint): Certificate | undefined => {
  const p = state.persistence
  if (p === undefined) return undefined
  const known = p.certificates.get(heightKey(height))
  if (known !== undefined) return known
  const header = p.headers.get(heightKey(height))
  const commits = header === undefined ? undefined : p.commits.get(heightKey(height))?.get(header.hashHex)
  if (header === undefined || commits === undefined || commits.size < state.config.quorum) return undefined
  const matching = [...commits.entries()].sort(([a], [b]) => a - b).slice(0, state.config.quorum)
  return {
    viewId: state.config.view.id,
    height,
    headerHash: header.hash,
    commits: matching.map(([replica, signature]) => ({ replica, signature }))
  }
}

export const canCertify = (state: ReplicaState): boolean => {
  const p = state.persistence
  if (p === undefined || p.mode !== "strong" || p.inFlight !== undefined) return false
  const h = p.certWrote + 1n
  return h <= p.dur && certificateFor(state, h) !== undefined
}

/** Writes the certificate of the next synced block. */
export const certify = (state: ReplicaState, fx: Emitter): void => {
  const p = state.persistence
  assert(p !== undefined && canCertify(state), "Certify is enabled")
  const h = p.certWrote + 1n
  const certificate = certificateFor(state, h)
  assert(certificate !== undefined, "a certificate exists")
  p.certificates.set(heightKey(h), certificate)
  p.commits.delete(heightKey(h))
  fx.emit({ _tag: "WriteCertificate", certificate })
  p.certWrote = h
  if (p.head !== undefined && p.head.decided.height <= h) p.head = undefined
}

/** The sync covering certificates up to `upTo` completed: certH advances, one event per height. */
export const certified = (state: ReplicaState, fx: Emitter, upTo: bigint): void => {
  const p = state.persistence
  assert(p !== undefined && upTo <= p.dur, "a certificate is synced with or after its block")
  while (p.certH < upTo) {
    const h = p.certH + 1n
    const c = p.certificates.get(heightKey(h))
    assert(c !== undefined, "a written certificate is known")
    p.certH = h
    fx.trace(certifyEvent, { height: Number(h), headerHash: hex(c.headerHash), signers: c.commits.map((s) => s.replica) })
  }
}

/** Takes a verified certificate that came with a decided instance, if it certifies this replica's block. */
export const noteCertificate = (state: ReplicaState, certificate: Certificate): void => {
  const p = state.persistence
  if (p === undefined || p.mode !== "strong" || certificate.viewId !== state.config.view.id) return
  const key = heightKey(certificate.height)
  const header = p.headers.get(key)
  if (header === undefined || certificate.height <= p.certWrote || p.certificates.has(key)) return
  if (hex(certificate.headerHash) === header.hashHex) p.certificates.set(key, certificate)
}
