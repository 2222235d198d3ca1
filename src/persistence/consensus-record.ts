/**
 * The consensus record: what a replica in weak or strong mode makes durable about its part in
 * ordering, besides blocks (spec/Persistence.tla: the vote log and the regency survive a crash
 * in those modes). It is written, and synced, before any WRITE, ACCEPT, STOPDATA or SYNC that
 * depends on it leaves the replica, and before a PROPOSE of its own leaves (the spec's leader
 * proposes once per (cid, regency), also across a crash). The write set is kept for liveness: a correct replica that
 * accepted a value did so on q WRITEs, and a new leader can bind that value only if f + 1 write
 * sets still report it after every replica crashed at once:
 *
 *   version     u64, grows with every record written (the newer of the two slots wins)
 *   regency     u64, the installed regency
 *   openCid     u64, the open instance
 *   accepted    option AcceptedValue: the value last accepted in the open instance, with its batch
 *   proposed    option u64: the regency in which this replica, as its leader, proposed for the open
 *               instance (only the installed regency's counts)
 *   written     array of WrittenEntry: the open instance's write set (value hash, highest regency
 *               written), at most `recordWrittenMax` entries, the highest regencies kept
 *   decided     array of { batch, proof }: instances decided whose blocks are not yet written
 *               (strong mode writes block h only once block h - 1 is certified)
 *
 * Encoded with the chain's canonical codec (conformance/FORMAT.md section 2). Two storage slots
 * alternate (version mod 2), so a write torn by a crash leaves the previous record intact.
 */
import { Either, Schema } from "effect"
import { array, decodeWith, encodeWith, option, struct } from "../chain/codec.ts"
import type { Codec } from "../chain/codec.ts"
import { acceptedValueCodec, decisionProofCodec, transactionCodec, u64Codec, writtenEntryCodec } from "../chain/encoding.ts"
import type { DecodeError } from "../chain/errors.ts"
import { AcceptedValue, DecisionProof, Transaction, U64, WrittenEntry } from "../chain/types.ts"
import { hardLimits } from "../core/limits.ts"

export const DecidedEntry = Schema.Struct({ batch: Schema.Array(Transaction), proof: DecisionProof })
export type DecidedEntry = typeof DecidedEntry.Type

export const ConsensusRecord = Schema.Struct({
  version: U64,
  regency: U64,
  openCid: U64,
  accepted: Schema.OptionFromSelf(AcceptedValue),
  proposed: Schema.OptionFromSelf(U64),
  written: Schema.Array(WrittenEntry),
  decided: Schema.Array(DecidedEntry)
})
export type ConsensusRecord = typeof ConsensusRecord.Type

/** Most decided-but-unwritten instances one record carries (the leader stops proposing beyond it). */
export const recordDecidedMax = 64

/** Most write-set entries one record carries; dropping the lowest regencies only makes binding harder. */
export const recordWrittenMax = 64

/** The write set as a record keeps it: the entries with the highest regencies. */
export const recordWritten = (writeSet: ReadonlyArray<WrittenEntry>): ReadonlyArray<WrittenEntry> =>
  writeSet.length <= recordWrittenMax
    ? writeSet
    : [...writeSet].sort((a, b) => (a.regency < b.regency ? 1 : a.regency > b.regency ? -1 : 0)).slice(0, recordWrittenMax)

const decidedEntryCodec: Codec<DecidedEntry> = struct("DecidedEntry", DecidedEntry, {
  batch: array(transactionCodec, hardLimits.arrayLengthMax),
  proof: decisionProofCodec
})

export const consensusRecordCodec: Codec<ConsensusRecord> = struct("ConsensusRecord", ConsensusRecord, {
  version: u64Codec,
  regency: u64Codec,
  openCid: u64Codec,
  accepted: option(acceptedValueCodec),
  proposed: option(u64Codec),
  written: array(writtenEntryCodec, recordWrittenMax),
  decided: array(decidedEntryCodec, recordDecidedMax)
})

export const encodeConsensusRecord = (record: ConsensusRecord): Uint8Array => encodeWith(consensusRecordCodec, record, 512)

export const decodeConsensusRecord = (bytes: Uint8Array): Either.Either<ConsensusRecord, DecodeError> =>
  decodeWith(consensusRecordCodec, bytes)

/** The newer of the records found in the two slots (either may be missing or unreadable). */
export const newestRecord = (slots: ReadonlyArray<Uint8Array | undefined>): ConsensusRecord | undefined => {
  let best: ConsensusRecord | undefined
  for (const bytes of slots) {
    if (bytes === undefined) continue
    const decoded = decodeConsensusRecord(bytes)
    if (Either.isRight(decoded) && (best === undefined || decoded.right.version > best.version)) best = decoded.right
  }
  return best
}
