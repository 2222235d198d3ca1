/**
 * The reconfiguration requests (PROTOCOL.md section 6) and their canonical binary encoding.
 *
 * A request travels as an ordinary client transaction: `client` is the requester's identity key,
 * the transaction signature (by that identity key, over txSigningBytes) is checked by ordering
 * like every other, and `op` holds the request:
 *
 *   op = TAG("smartchain/reconfig/v1") || u8 kind || fields
 *
 * The leading tag is how a replica tells a reconfiguration request from an application operation
 * (no application operation starts with it: conformance/APPS.md operations start with a small
 * tag byte). Requests that need more than the identity key carry further signatures:
 *
 *   JOIN    the fresh view key signs joinSigningBytes (proof that the joiner holds it)
 *   ROTATE  the current view key and the fresh view key both sign rotateSigningBytes
 *
 * conformance/RECONFIG.md documents every byte. Nothing here does I/O: signing goes through the
 * `Signer` the caller hands in.
 */
import type { Either } from "effect"
import { Schema } from "effect"
import { tagPrefix } from "../chain/bytes.ts"
import type { Codec } from "../chain/codec.ts"
import { decodeWith, encodeWith, refine, string, taggedStruct, taggedUnion, Writer } from "../chain/codec.ts"
import { publicKeyCodec, signatureCodec, txSigningBytes, u32Codec, u64Codec } from "../chain/encoding.ts"
import type { DecodeError } from "../chain/errors.ts"
import * as T from "../chain/types.ts"

/** The tag every reconfiguration op starts with. */
export const reconfigTag = "smartchain/reconfig/v1"
const reconfigPrefix = tagPrefix(reconfigTag)

/** Most characters (UTF-16 code units) of a joiner's address; its UTF-8 form stays within 1024 bytes. */
export const addressBytesMax = 256

/** A network address as members publish it: 1 to 256 characters. */
export const Address = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(addressBytesMax))

/**
 * JOIN: the requester (identity key = transaction client) asks to become a member of view
 * `viewId + 1`, reachable at `address`, with the fresh view key `viewKey`. `possession` is the
 * signature of `viewKey` over joinSigningBytes.
 */
export const JoinRequest = Schema.TaggedStruct("Join", {
  viewId: T.U64,
  address: Address,
  viewKey: T.PublicKey,
  possession: T.Signature
})
export type JoinRequest = typeof JoinRequest.Type

/** LEAVE: the requester, a member of view `viewId`, leaves with the next view. */
export const LeaveRequest = Schema.TaggedStruct("Leave", { viewId: T.U64 })
export type LeaveRequest = typeof LeaveRequest.Type

/** REMOVE: the requester, a member of view `viewId`, asks to evict member `target`. */
export const RemoveRequest = Schema.TaggedStruct("Remove", { viewId: T.U64, target: T.ReplicaId })
export type RemoveRequest = typeof RemoveRequest.Type

/**
 * ROTATE(v + 1, new view key): the requester, a member of view v, will use `viewKey` in view
 * `nextViewId` = v + 1. `current` is the signature of its view-v key and `possession` the
 * signature of `viewKey`, both over rotateSigningBytes.
 */
export const RotateRequest = Schema.TaggedStruct("Rotate", {
  nextViewId: T.U64,
  viewKey: T.PublicKey,
  current: T.Signature,
  possession: T.Signature
})
export type RotateRequest = typeof RotateRequest.Type

export const ReconfigRequest = Schema.Union(JoinRequest, LeaveRequest, RemoveRequest, RotateRequest)
export type ReconfigRequest = typeof ReconfigRequest.Type

/** The kind byte of each request. */
export const requestKinds = { Join: 1, Leave: 2, Remove: 3, Rotate: 4 } as const

const joinCodec: Codec<JoinRequest> = taggedStruct(JoinRequest, "Join", {
  viewId: u64Codec,
  address: refine(string(Address, 4 * addressBytesMax), "Address", (a) =>
    a.length >= 1 && a.length <= addressBytesMax ? true : `an address of 1 to ${addressBytesMax} characters, got ${a.length}`
  ),
  viewKey: publicKeyCodec,
  possession: signatureCodec
})
const leaveCodec: Codec<LeaveRequest> = taggedStruct(LeaveRequest, "Leave", { viewId: u64Codec })
const removeCodec: Codec<RemoveRequest> = taggedStruct(RemoveRequest, "Remove", { viewId: u64Codec, target: u32Codec })
const rotateCodec: Codec<RotateRequest> = taggedStruct(RotateRequest, "Rotate", {
  nextViewId: u64Codec,
  viewKey: publicKeyCodec,
  current: signatureCodec,
  possession: signatureCodec
})

const member = <A extends ReconfigRequest>(kind: number, c: Codec<A>) => [kind, c as unknown as Codec<ReconfigRequest>] as const

const requestUnionCodec: Codec<ReconfigRequest> = taggedUnion("ReconfigRequest", ReconfigRequest, [
  member(requestKinds.Join, joinCodec),
  member(requestKinds.Leave, leaveCodec),
  member(requestKinds.Remove, removeCodec),
  member(requestKinds.Rotate, rotateCodec)
])

/** The op codec: the reconfiguration tag, then the kind byte and the request's fields. */
export const reconfigOpCodec: Codec<ReconfigRequest> = {
  name: "ReconfigOp",
  schema: ReconfigRequest,
  minSize: reconfigPrefix.length + requestUnionCodec.minSize,
  write: (w, a) => {
    w.raw(reconfigPrefix)
    requestUnionCodec.write(w, a)
  },
  read: (r) => {
    const at = r.pos
    const tag = r.fixed(reconfigPrefix.length)
    for (let i = 0; i < tag.length; i++) if (tag[i] !== reconfigPrefix[i]) return r.fail(`the tag ${reconfigTag}`, at)
    return requestUnionCodec.read(r)
  }
}

/** True when `op` starts with the reconfiguration tag: the transaction is a reconfiguration request. */
export const isReconfigOp = (op: Uint8Array): boolean => {
  if (op.length < reconfigPrefix.length) return false
  for (let i = 0; i < reconfigPrefix.length; i++) if (op[i] !== reconfigPrefix[i]) return false
  return true
}

export const encodeReconfigOp = (request: ReconfigRequest): Uint8Array => encodeWith(reconfigOpCodec, request, 192)
/** Decodes an op that must be exactly one canonical reconfiguration request; never throws. */
export const decodeReconfigOp = (op: Uint8Array): Either.Either<ReconfigRequest, DecodeError> => decodeWith(reconfigOpCodec, op)

// ---------------------------------------------------------------------------------------------
// Signing payloads
// ---------------------------------------------------------------------------------------------

export const reconfigSigningTags = {
  join: "smartchain/sign/join/v1",
  rotate: "smartchain/sign/rotate/v1"
} as const

const joinTag = tagPrefix(reconfigSigningTags.join)
const rotateTag = tagPrefix(reconfigSigningTags.rotate)

/** What a joiner's fresh view key signs: tag, chain id, identity key, viewId, address, view key. */
export const joinSigningBytes = (
  chainId: string,
  identityKey: Uint8Array,
  j: { readonly viewId: bigint; readonly address: string; readonly viewKey: Uint8Array }
): Uint8Array => {
  const w = new Writer(joinTag.length + 128 + 3 * chainId.length + 3 * j.address.length)
  w.raw(joinTag)
  w.string(chainId)
  publicKeyCodec.write(w, identityKey)
  w.u64(j.viewId)
  w.string(j.address)
  publicKeyCodec.write(w, j.viewKey)
  return w.finish()
}

/** What the current and the fresh view key sign in ROTATE: tag, chain id, identity key, nextViewId, new view key. */
export const rotateSigningBytes = (
  chainId: string,
  identityKey: Uint8Array,
  r: { readonly nextViewId: bigint; readonly viewKey: Uint8Array }
): Uint8Array => {
  const w = new Writer(rotateTag.length + 128 + 3 * chainId.length)
  w.raw(rotateTag)
  w.string(chainId)
  publicKeyCodec.write(w, identityKey)
  w.u64(r.nextViewId)
  publicKeyCodec.write(w, r.viewKey)
  return w.finish()
}

// ---------------------------------------------------------------------------------------------
// Building signed requests
// ---------------------------------------------------------------------------------------------

/** A private key as pure code sees it: its public key and a signing function. */
export interface Signer {
  readonly publicKey: Uint8Array
  readonly sign: (message: Uint8Array) => Uint8Array
}

/** The transaction carrying `request`, signed by the requester's identity key. */
export const requestTransaction = (chainId: string, identity: Signer, seq: bigint, request: ReconfigRequest): T.Transaction => {
  const op = encodeReconfigOp(request)
  return { client: identity.publicKey, seq, op, signature: identity.sign(txSigningBytes(chainId, { client: identity.publicKey, seq, op })) }
}

export const joinRequest = (
  chainId: string,
  identity: Signer,
  fields: { readonly viewId: bigint; readonly address: string },
  viewKey: Signer
): JoinRequest => {
  const body = { viewId: fields.viewId, address: fields.address, viewKey: viewKey.publicKey }
  return { _tag: "Join", ...body, possession: viewKey.sign(joinSigningBytes(chainId, identity.publicKey, body)) }
}

export const leaveRequest = (viewId: bigint): LeaveRequest => ({ _tag: "Leave", viewId })

export const removeRequest = (viewId: bigint, target: number): RemoveRequest => ({ _tag: "Remove", viewId, target })

export const rotateRequest = (
  chainId: string,
  identity: Signer,
  nextViewId: bigint,
  currentViewKey: Signer,
  newViewKey: Signer
): RotateRequest => {
  const message = rotateSigningBytes(chainId, identity.publicKey, { nextViewId, viewKey: newViewKey.publicKey })
  return { _tag: "Rotate", nextViewId, viewKey: newViewKey.publicKey, current: currentViewKey.sign(message), possession: newViewKey.sign(message) }
}
