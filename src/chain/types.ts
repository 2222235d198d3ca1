/**
 * The data of the chain: transactions, view records, blocks, genesis and consensus messages.
 *
 * Every type here is an Effect Schema over plain values (Uint8Array for bytes, bigint for 64-bit
 * integers). The binary encoding of each type lives in ./encoding.ts and is documented byte by
 * byte in conformance/FORMAT.md. Nothing in this folder does I/O.
 */
import { Schema } from "effect"

const bytesOfLength = (n: number, name: string) =>
  Schema.Uint8ArrayFromSelf.pipe(
    Schema.filter((b) => b.length === n || `expected ${n} bytes, got ${b.length}`),
    Schema.annotations({ identifier: name })
  )

/** A SHA-256 digest. */
export const Hash = bytesOfLength(32, "Hash")
export type Hash = typeof Hash.Type
/** An Ed25519 public key (RFC 8032 encoding). */
export const PublicKey = bytesOfLength(32, "PublicKey")
export type PublicKey = typeof PublicKey.Type
/** An Ed25519 signature (RFC 8032 encoding). */
export const Signature = bytesOfLength(64, "Signature")
export type Signature = typeof Signature.Type

/** Unsigned 32-bit integer held as a number. */
export const U32 = Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffff_ffff), Schema.annotations({ identifier: "U32" }))
export type U32 = typeof U32.Type
/** Unsigned 64-bit integer held as a bigint. */
export const U64 = Schema.BigIntFromSelf.pipe(
  Schema.betweenBigInt(0n, 0xffff_ffff_ffff_ffffn),
  Schema.annotations({ identifier: "U64" })
)
export type U64 = typeof U64.Type
/** Variable-length bytes. */
export const Bytes = Schema.Uint8ArrayFromSelf
export type Bytes = typeof Bytes.Type

/** Replica index inside a view record: the position used for leader rotation is members[r mod n]. */
export const ReplicaId = U32
export type ReplicaId = U32

/** The persistence modes of PROTOCOL.md section 4. */
export const PersistenceMode = Schema.Literal("memory", "weak", "strong")
export type PersistenceMode = typeof PersistenceMode.Type

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

/**
 * A client transaction. (client, seq) makes it unique. The signature is by the client's identity
 * key over the transaction signing bytes (see encoding.ts `txSigningBytes`), which bind the chain id.
 */
export const Transaction = Schema.Struct({
  client: PublicKey,
  seq: U64,
  op: Bytes,
  signature: Signature
})
export type Transaction = typeof Transaction.Type

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

export const Member = Schema.Struct({
  replica: ReplicaId,
  identityKey: PublicKey,
  viewKey: PublicKey,
  address: Schema.String
})
export type Member = typeof Member.Type

/** A view: its members, n and f. Quorums follow from n and f (see src/core/quorum.ts). */
export const ViewRecord = Schema.Struct({
  id: U64,
  members: Schema.Array(Member),
  n: U32,
  f: U32
})
export type ViewRecord = typeof ViewRecord.Type

// ---------------------------------------------------------------------------------------------
// Proofs
// ---------------------------------------------------------------------------------------------

/** One member's signature inside a proof or certificate, by that member's view key. */
export const ReplicaSignature = Schema.Struct({
  replica: ReplicaId,
  signature: Signature
})
export type ReplicaSignature = typeof ReplicaSignature.Type

/**
 * The decision proof of a consensus instance: q ACCEPT signatures on (viewId, cid, regency, batchHash).
 */
export const DecisionProof = Schema.Struct({
  viewId: U64,
  cid: U64,
  regency: U64,
  batchHash: Hash,
  accepts: Schema.Array(ReplicaSignature)
})
export type DecisionProof = typeof DecisionProof.Type

/** A block certificate (strong mode): q COMMIT signatures on (viewId, height, headerHash). */
export const Certificate = Schema.Struct({
  viewId: U64,
  height: U64,
  headerHash: Hash,
  commits: Schema.Array(ReplicaSignature)
})
export type Certificate = typeof Certificate.Type

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/** The block header, field order fixed by PROTOCOL.md section 3. */
export const BlockHeader = Schema.Struct({
  height: U64,
  viewId: U64,
  prevHash: Hash,
  txRoot: Hash,
  resultsRoot: Hash,
  decisionHash: Hash,
  lastCheckpointHeight: U64,
  lastReconfigHeight: U64,
  viewHash: Hash,
  stateHash: Hash
})
export type BlockHeader = typeof BlockHeader.Type

/**
 * A block: header and body. `results[i]` is the result of `transactions[i]`. `prevCertificate` is
 * block h-1's certificate (strong mode; absent otherwise and for block 1). `newView` is present
 * only on the reconfiguration block that installs the next view.
 */
export const Block = Schema.Struct({
  header: BlockHeader,
  transactions: Schema.Array(Transaction),
  results: Schema.Array(Bytes),
  decision: DecisionProof,
  prevCertificate: Schema.OptionFromSelf(Certificate),
  newView: Schema.OptionFromSelf(ViewRecord)
})
export type Block = typeof Block.Type

// ---------------------------------------------------------------------------------------------
// Genesis
// ---------------------------------------------------------------------------------------------

/** The named limits every replica enforces. All sizes in bytes. */
export const Limits = Schema.Struct({
  /** Most transactions in one batch (and so one block). */
  batchTxMax: U32,
  /** Most bytes of transactions in one batch. */
  batchBytesMax: U32,
  /** Most bytes in one encoded transaction. */
  txBytesMax: U32,
  /** Largest frame a transport accepts. */
  frameBytesMax: U32,
  /** Blocks between checkpoints (K). */
  checkpointInterval: U32,
  /** Blocks after a reconfiguration decision before the new view is installed regardless (B). */
  rotationWindow: U32,
  /** Request timeout before a replica asks for a leader change, in milliseconds. */
  requestTimeoutMs: U32
})
export type Limits = typeof Limits.Type

/** Genesis: everything block 1 needs to be verified. Its hash is the prevHash of block 1. */
export const Genesis = Schema.Struct({
  chainId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  view: ViewRecord,
  persistence: PersistenceMode,
  minters: Schema.Array(PublicKey),
  /** Identity keys allowed to JOIN (the default admission policy). */
  admission: Schema.Array(PublicKey),
  limits: Limits
})
export type Genesis = typeof Genesis.Type

// ---------------------------------------------------------------------------------------------
// Consensus messages (Mod-SMaRt ordering, synchronization phase, durable commit)
// ---------------------------------------------------------------------------------------------

export const Propose = Schema.TaggedStruct("Propose", {
  viewId: U64,
  cid: U64,
  regency: U64,
  batch: Schema.Array(Transaction)
})
export type Propose = typeof Propose.Type

export const Write = Schema.TaggedStruct("Write", {
  viewId: U64,
  cid: U64,
  regency: U64,
  batchHash: Hash
})
export type Write = typeof Write.Type

/** ACCEPT carries the sender's view-key signature over (viewId, cid, regency, batchHash). */
export const Accept = Schema.TaggedStruct("Accept", {
  viewId: U64,
  cid: U64,
  regency: U64,
  batchHash: Hash,
  signature: Signature
})
export type Accept = typeof Accept.Type

export const Stop = Schema.TaggedStruct("Stop", {
  viewId: U64,
  regency: U64
})
export type Stop = typeof Stop.Type

/** One entry of a write set: the sender sent WRITE(openCid, regency, batchHash). */
export const WrittenEntry = Schema.Struct({ regency: U64, batchHash: Hash })
export type WrittenEntry = typeof WrittenEntry.Type

/** The value a replica last accepted (sent ACCEPT for) in its open instance, with the batch itself. */
export const AcceptedValue = Schema.Struct({ regency: U64, batchHash: Hash, batch: Schema.Array(Transaction) })
export type AcceptedValue = typeof AcceptedValue.Type

/**
 * STOPDATA: the sender's last decided instance (with its proof) and its state in the open
 * instance: the write set (one entry per value it wrote, at the highest regency it wrote that
 * value) and the last value it accepted. Signed by the sender's view key so the new leader can
 * forward it in SYNC, where every replica re-checks the leader's choice (see
 * src/synchronization/sound.ts).
 */
export const StopData = Schema.TaggedStruct("StopData", {
  viewId: U64,
  regency: U64,
  lastDecided: Schema.OptionFromSelf(DecisionProof),
  /**
   * The batch lastDecided decided (empty when nothing is decided), so that a new leader or a
   * replica one instance behind can take that decision from the STOPDATA alone.
   */
  lastDecidedBatch: Schema.Array(Transaction),
  /** The open instance's cid: lastDecided's cid + 1, or 1 when nothing is decided. */
  openCid: U64,
  written: Schema.Array(WrittenEntry),
  accepted: Schema.OptionFromSelf(AcceptedValue),
  signature: Signature
})
export type StopData = typeof StopData.Type

export const StopDataFrom = Schema.Struct({ replica: ReplicaId, stopData: StopData })
export type StopDataFrom = typeof StopDataFrom.Type

export const Sync = Schema.TaggedStruct("Sync", {
  viewId: U64,
  regency: U64,
  cid: U64,
  proofs: Schema.Array(StopDataFrom),
  batch: Schema.Array(Transaction)
})
export type Sync = typeof Sync.Type

/** COMMIT: "I have synced block `height` with this header hash", signed by the sender's view key. */
export const Commit = Schema.TaggedStruct("Commit", {
  viewId: U64,
  height: U64,
  headerHash: Hash,
  signature: Signature
})
export type Commit = typeof Commit.Type

/** A reply to a client: the block height and the result of its transaction. */
export const Reply = Schema.TaggedStruct("Reply", {
  viewId: U64,
  client: PublicKey,
  seq: U64,
  height: U64,
  result: Bytes
})
export type Reply = typeof Reply.Type

export const ConsensusMessage = Schema.Union(Propose, Write, Accept, Stop, StopData, Sync, Commit)
export type ConsensusMessage = typeof ConsensusMessage.Type
