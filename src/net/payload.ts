/**
 * The binary encoding of Transport payloads: what one authenticated channel frame carries between
 * replicas. Deterministic, built from the chain codecs of src/chain/encoding.ts (FORMAT.md):
 *
 *   Payload = u8 tag || body
 *     tag 1  Consensus     body = ConsensusMessage (its own u8 message tag, then its fields)
 *     tag 2  Request       body = Transaction
 *     tag 3  StateRequest  body = u64 fromCid
 *     tag 4  StateReply    body = u32 count || count x (array<Transaction> batch || DecisionProof proof
 *                                                  || option<Certificate> certificate of its block)
 *     tag 5  Transfer      body = StateTransferMessage (FORMAT.md section 12: its own u8 tag, then
 *                                 its fields): snapshot-based state transfer
 *
 * Decoding never throws: bytes that are not exactly one payload give a DecodeError naming the
 * offset and field. A state reply whose encoding would exceed a frame is split by
 * `encodePayloadFrames` into several replies of consecutive instances, each one a valid payload.
 */
import type { Either } from "effect"
import { Option, Schema } from "effect"
import type { Codec } from "../chain/codec.ts"
import { array, decodeWith, option, taggedStruct, taggedUnion, Writer } from "../chain/codec.ts"
import { certificateCodec, consensusMessageCodec, decisionProofCodec, transactionCodec, u64Codec } from "../chain/encoding.ts"
import type { DecodeError } from "../chain/errors.ts"
import { Certificate, ConsensusMessage, DecisionProof, Transaction, U64 } from "../chain/types.ts"
import type { DecidedInstance, Payload } from "../services/transport.ts"
import { StateTransferMessage, stateTransferMessageCodec } from "../persistence/state-transfer.ts"

const ConsensusPayload = Schema.TaggedStruct("Consensus", { message: ConsensusMessage })
const RequestPayload = Schema.TaggedStruct("Request", { tx: Transaction })
const StateRequestPayload = Schema.TaggedStruct("StateRequest", { fromCid: U64 })
const DecidedInstanceSchema = Schema.Struct({
  batch: Schema.Array(Transaction),
  proof: DecisionProof,
  certificate: Schema.optionalWith(Certificate, { exact: true })
})
const StateReplyPayload = Schema.TaggedStruct("StateReply", { decided: Schema.Array(DecidedInstanceSchema) })
const TransferPayload = Schema.TaggedStruct("Transfer", { message: StateTransferMessage })
/** The Schema of a payload; every decoded payload satisfies it. */
export const PayloadSchema = Schema.Union(ConsensusPayload, RequestPayload, StateRequestPayload, StateReplyPayload, TransferPayload)

/** Tag bytes of the payload kinds. */
export const payloadTags = { Consensus: 1, Request: 2, StateRequest: 3, StateReply: 4, Transfer: 5 } as const

const batchCodec = array(transactionCodec)
const certificateOptionCodec = option(certificateCodec)

/** A decided instance: batch, proof, then the certificate of its block as an option (0, or 1 and the certificate). */
const decidedInstanceCodec: Codec<DecidedInstance> = {
  name: "DecidedInstance",
  schema: DecidedInstanceSchema as unknown as Schema.Schema<DecidedInstance>,
  minSize: batchCodec.minSize + decisionProofCodec.minSize + 1,
  write: (w, d) => {
    batchCodec.write(w, d.batch)
    decisionProofCodec.write(w, d.proof)
    certificateOptionCodec.write(w, Option.fromNullable(d.certificate))
  },
  read: (r) => {
    const batch = batchCodec.read(r)
    const proof = decisionProofCodec.read(r)
    const certificate = certificateOptionCodec.read(r)
    return Option.isSome(certificate) ? { batch, proof, certificate: certificate.value } : { batch, proof }
  }
}

const member = <A extends Payload>(tag: number, c: Codec<A>) => [tag, c as unknown as Codec<Payload>] as const

export const payloadCodec: Codec<Payload> = taggedUnion("Payload", PayloadSchema as unknown as Schema.Schema<Payload>, [
  member(payloadTags.Consensus, taggedStruct(ConsensusPayload, "Consensus", { message: consensusMessageCodec })),
  member(payloadTags.Request, taggedStruct(RequestPayload, "Request", { tx: transactionCodec })),
  member(payloadTags.StateRequest, taggedStruct(StateRequestPayload, "StateRequest", { fromCid: u64Codec })),
  member(payloadTags.StateReply, taggedStruct(StateReplyPayload, "StateReply", { decided: array(decidedInstanceCodec) })),
  member(payloadTags.Transfer, taggedStruct(TransferPayload, "Transfer", { message: stateTransferMessageCodec }))
])

const writer = new Writer(4096)

/** The encoding of one payload, as a new array. */
export const encodePayload = (payload: Payload): Uint8Array => {
  writer.reset()
  payloadCodec.write(writer, payload)
  return writer.finish()
}

/** Exactly one payload spanning all of `bytes`, or why not. */
export const decodePayload = (bytes: Uint8Array): Either.Either<Payload, DecodeError> => decodeWith(payloadCodec, bytes)

/**
 * The encodings that carry `payload` in frames of at most `payloadBytesMax` bytes each: one
 * encoding, except for a state reply too large for one frame, which is split into replies of
 * consecutive instances (in order). A single instance too large for a frame stays as it is (the
 * channel then refuses it with FrameTooLarge).
 */
export const encodePayloadFrames = (payload: Payload, payloadBytesMax: number): ReadonlyArray<Uint8Array> => {
  const whole = encodePayload(payload)
  if (whole.length <= payloadBytesMax || payload._tag !== "StateReply" || payload.decided.length <= 1) return [whole]
  const half = Math.ceil(payload.decided.length / 2)
  return [
    ...encodePayloadFrames({ _tag: "StateReply", decided: payload.decided.slice(0, half) }, payloadBytesMax),
    ...encodePayloadFrames({ _tag: "StateReply", decided: payload.decided.slice(half) }, payloadBytesMax)
  ]
}
