/**
 * The canonical encoding of a view state, for checkpoints and state transfer: a replica that
 * starts from a checkpoint needs the view state at that height as much as the application state.
 *
 *   TAG("smartchain/viewstate/v1")
 *   || ViewRecord view                       (FORMAT.md section 3)
 *   || u64 ha
 *   || array<key identityKey, key viewKey, string address> joins
 *   || array<u32> leaves
 *   || array<u32 by, u32 target> removes
 *   || array<u32 replica, key viewKey> rotations
 *   || array<key> usedViewKeys               (strictly ascending bytes)
 *   || u32 nextReplicaId
 *   || u64 lastReconfigHeight
 *
 * Lists keep execution order except usedViewKeys, a set, which is sorted so that equal states
 * give equal bytes. The decoder accepts exactly what the encoder produces.
 */
import { Either } from "effect"
import { compareBytes, fromHex, tagPrefix, toHex } from "../chain/bytes.ts"
import { DecodeFailure, Reader, Writer } from "../chain/codec.ts"
import { publicKeyCodec, viewRecordCodec } from "../chain/encoding.ts"
import { DecodeError } from "../chain/errors.ts"
import { hardLimits } from "../core/limits.ts"
import type { ViewState } from "./view-state.ts"

export const viewStateTag = "smartchain/viewstate/v1"
const prefix = tagPrefix(viewStateTag)

/** Most entries in each list of a view state (every list is bounded by members of two views). */
const listMax = 4 * hardLimits.membersMax
/** Most view keys recorded (every view so far); bounded only by the input length. */
const usedKeysMax = hardLimits.arrayLengthMax

export const encodeViewState = (s: ViewState): Uint8Array => {
  const w = new Writer(1024)
  w.raw(prefix)
  viewRecordCodec.write(w, s.view)
  w.u64(s.ha)
  w.u32(s.joins.length)
  for (const j of s.joins) {
    publicKeyCodec.write(w, j.identityKey)
    publicKeyCodec.write(w, j.viewKey)
    w.string(j.address)
  }
  w.u32(s.leaves.length)
  for (const l of s.leaves) w.u32(l)
  w.u32(s.removes.length)
  for (const r of s.removes) {
    w.u32(r.by)
    w.u32(r.target)
  }
  w.u32(s.rotations.length)
  for (const r of s.rotations) {
    w.u32(r.replica)
    publicKeyCodec.write(w, r.viewKey)
  }
  const used = [...s.usedViewKeys].map((h) => fromHex(h) as Uint8Array).sort(compareBytes)
  w.u32(used.length)
  for (const k of used) w.raw(k)
  w.u32(s.nextReplicaId)
  w.u64(s.lastReconfigHeight)
  return w.finish()
}

const read = (r: Reader): ViewState => {
  const at = r.pos
  const tag = r.fixed(prefix.length)
  if (compareBytes(tag, prefix) !== 0) r.fail(`the tag ${viewStateTag}`, at)
  const view = viewRecordCodec.read(r)
  const ha = r.u64()
  const joins = Array.from({ length: r.count(listMax, 68) }, () => ({
    identityKey: r.fixed(32),
    viewKey: r.fixed(32),
    address: r.string(1024)
  }))
  const leaves = Array.from({ length: r.count(listMax, 4) }, () => r.u32())
  const removes = Array.from({ length: r.count(listMax, 8) }, () => ({ by: r.u32(), target: r.u32() }))
  const rotations = Array.from({ length: r.count(listMax, 36) }, () => ({ replica: r.u32(), viewKey: r.fixed(32) }))
  const usedCount = r.count(usedKeysMax, 32)
  const usedViewKeys = new Set<string>()
  let last: Uint8Array | undefined
  for (let i = 0; i < usedCount; i++) {
    const keyAt = r.pos
    const k = r.fixed(32)
    if (last !== undefined && compareBytes(last, k) >= 0) r.fail("view keys in strictly ascending order", keyAt)
    usedViewKeys.add(toHex(k))
    last = k
  }
  const nextReplicaId = r.u32()
  const lastReconfigHeight = r.u64()
  return { view, ha, joins, leaves, removes, rotations, usedViewKeys, nextReplicaId, lastReconfigHeight }
}

/** Decodes a view state; never throws. */
export const decodeViewState = (bytes: Uint8Array): Either.Either<ViewState, DecodeError> => {
  const r = new Reader(bytes)
  try {
    const s = read(r)
    if (r.remaining !== 0)
      return Either.left(new DecodeError({ type: "ViewState", offset: r.pos, path: "", expected: `end of input, found ${r.remaining} more bytes` }))
    return Either.right(s)
  } catch (e) {
    if (e instanceof DecodeFailure) return Either.left(new DecodeError({ type: "ViewState", offset: e.offset, path: e.path.join("."), expected: e.expected }))
    return Either.left(new DecodeError({ type: "ViewState", offset: r.pos, path: "", expected: `decodable input (${String(e)})` }))
  }
}
