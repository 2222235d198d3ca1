/**
 * Accept: once q members sent WRITE with the hash of the value this replica wrote in the
 * installed regency, it sends ACCEPT(cid, regency, batchHash), signed by its view key over
 * acceptSigningBytes, to every member. The value becomes the one it reports as accepted.
 */
import { acceptSigningBytes } from "../chain/encoding.ts"
import type { Accept } from "../chain/types.ts"
import { assert } from "../core/assert.ts"
import type { Emitter } from "../core/emitter.ts"
import type { ReplicaState } from "../core/state.ts"
import { isActive, regencyKey } from "../core/state.ts"

export const acceptEvent = "Accept" as const

/** Members whose WRITE in `regency` carries `hashHex`. */
export const matchingWrites = (state: ReplicaState, regency: bigint, hashHex: string): number => {
  const writes = state.instance.writes.get(regencyKey(regency))
  if (writes === undefined) return 0
  let count = 0
  for (const h of writes.values()) if (h === hashHex) count++
  return count
}

export const canAccept = (state: ReplicaState): boolean => {
  const r = regencyKey(state.regency)
  const value = state.instance.proposals.get(r)
  return (
    isActive(state) &&
    value !== undefined &&
    state.instance.wroteIn.get(r) === value.hashHex &&
    !state.instance.acceptedIn.has(r) &&
    matchingWrites(state, state.regency, value.hashHex) >= state.config.quorum
  )
}

/** The ACCEPT message for the value written in the installed regency (also used to retransmit). */
export const acceptMessage = (state: ReplicaState, batchHash: Uint8Array): Accept => {
  const fields = { viewId: state.config.view.id, cid: state.instance.cid, regency: state.regency, batchHash }
  return { _tag: "Accept", ...fields, signature: state.config.signer.sign(acceptSigningBytes(state.config.chainId, fields)) }
}

export const accept = (state: ReplicaState, fx: Emitter): void => {
  assert(canAccept(state), "Accept is enabled")
  const r = regencyKey(state.regency)
  const value = state.instance.proposals.get(r)
  assert(value !== undefined, "an accepted value was written")
  assert(
    state.instance.accepted === undefined || state.instance.accepted.regency < state.regency,
    "accepted regencies only grow"
  )
  state.instance.acceptedIn.add(r)
  state.instance.accepted = { regency: state.regency, batchHash: value.hash, batch: value.batch }
  const writers = [...(state.instance.writes.get(r) ?? new Map<number, string>())]
    .filter(([, h]) => h === value.hashHex)
    .map(([replica]) => replica)
    .sort((a, b) => a - b)
  fx.trace(acceptEvent, { cid: Number(state.instance.cid), regency: Number(state.regency), batchHash: value.hashHex, writers })
  fx.broadcast(acceptMessage(state, value.hash))
  assert(state.instance.accepted.regency === state.regency && !canAccept(state), "one ACCEPT per (cid, regency)")
}
