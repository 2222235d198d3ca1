/**
 * fast-check arbitraries for every chain type. Values are structurally valid (the Schemas of
 * src/chain/types.ts accept them, view records are n/f consistent) but carry random bytes, so
 * signatures and hashes inside them are not meaningful.
 */
import { Option } from "effect"
import * as fc from "fast-check"
import type * as T from "../../src/chain/types.ts"
import { faultsTolerated } from "../../src/core/quorum.ts"

export const bytesN = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
export const hash = bytesN(32)
export const publicKey = bytesN(32)
export const signature = bytesN(64)
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
export const u64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, 1n, (1n << 64n) - 1n, 1n << 63n))
export const varBytes = fc.uint8Array({ maxLength: 48 })
/** Well-formed Unicode strings (no lone surrogates: they have no UTF-8 encoding). */
export const text = (maxLength = 24): fc.Arbitrary<string> => fc.string({ unit: "binary", maxLength })

export const optionOf = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<Option.Option<A>> =>
  fc.option(arb, { nil: undefined }).map((a) => (a === undefined ? Option.none() : Option.some(a)))

export const transaction: fc.Arbitrary<T.Transaction> = fc.record({ client: publicKey, seq: u64, op: varBytes, signature })

export const member: fc.Arbitrary<T.Member> = fc.record({ replica: u32, identityKey: publicKey, viewKey: publicKey, address: text() })

export const viewRecord: fc.Arbitrary<T.ViewRecord> = fc
  .record({ id: u64, members: fc.array(member, { minLength: 1, maxLength: 7 }) })
  .map(({ id, members }) => ({ id, members, n: members.length, f: faultsTolerated(members.length) }))

export const replicaSignature: fc.Arbitrary<T.ReplicaSignature> = fc.record({ replica: u32, signature })

export const decisionProof: fc.Arbitrary<T.DecisionProof> = fc.record({
  viewId: u64,
  cid: u64,
  regency: u64,
  batchHash: hash,
  accepts: fc.array(replicaSignature, { maxLength: 5 })
})

export const certificate: fc.Arbitrary<T.Certificate> = fc.record({
  viewId: u64,
  height: u64,
  headerHash: hash,
  commits: fc.array(replicaSignature, { maxLength: 5 })
})

export const blockHeader: fc.Arbitrary<T.BlockHeader> = fc.record({
  height: u64,
  viewId: u64,
  prevHash: hash,
  txRoot: hash,
  resultsRoot: hash,
  decisionHash: hash,
  lastCheckpointHeight: u64,
  lastReconfigHeight: u64,
  viewHash: hash,
  stateHash: hash
})

export const block: fc.Arbitrary<T.Block> = fc.record({
  header: blockHeader,
  transactions: fc.array(transaction, { maxLength: 6 }),
  results: fc.array(varBytes, { maxLength: 6 }),
  decision: decisionProof,
  prevCertificate: optionOf(certificate),
  newView: optionOf(viewRecord)
})

export const limits: fc.Arbitrary<T.Limits> = fc.record({
  batchTxMax: u32,
  batchBytesMax: u32,
  txBytesMax: u32,
  frameBytesMax: u32,
  checkpointInterval: u32,
  rotationWindow: u32,
  requestTimeoutMs: u32
})

export const persistenceMode: fc.Arbitrary<T.PersistenceMode> = fc.constantFrom("memory", "weak", "strong")

export const genesis: fc.Arbitrary<T.Genesis> = fc.record({
  chainId: fc.string({ unit: "binary", minLength: 1, maxLength: 32 }).filter((s) => s.length >= 1 && s.length <= 64),
  view: viewRecord,
  persistence: persistenceMode,
  minters: fc.array(publicKey, { maxLength: 3 }),
  admission: fc.array(publicKey, { maxLength: 3 }),
  limits
})

export const reply: fc.Arbitrary<T.Reply> = fc.record({
  _tag: fc.constant("Reply" as const),
  viewId: u64,
  client: publicKey,
  seq: u64,
  height: u64,
  result: varBytes
})

const batch = fc.array(transaction, { maxLength: 4 })

export const propose: fc.Arbitrary<T.Propose> = fc.record({ _tag: fc.constant("Propose" as const), viewId: u64, cid: u64, regency: u64, batch })
export const write: fc.Arbitrary<T.Write> = fc.record({ _tag: fc.constant("Write" as const), viewId: u64, cid: u64, regency: u64, batchHash: hash })
export const accept: fc.Arbitrary<T.Accept> = fc.record({
  _tag: fc.constant("Accept" as const),
  viewId: u64,
  cid: u64,
  regency: u64,
  batchHash: hash,
  signature
})
export const stop: fc.Arbitrary<T.Stop> = fc.record({ _tag: fc.constant("Stop" as const), viewId: u64, regency: u64 })
export const stopData: fc.Arbitrary<T.StopData> = fc.record({
  _tag: fc.constant("StopData" as const),
  viewId: u64,
  regency: u64,
  lastDecided: optionOf(decisionProof),
  lastDecidedBatch: batch,
  openCid: u64,
  written: fc.array(fc.record({ regency: u64, batchHash: hash }), { maxLength: 3 }),
  accepted: optionOf(fc.record({ regency: u64, batchHash: hash, batch })),
  signature
})
export const sync: fc.Arbitrary<T.Sync> = fc.record({
  _tag: fc.constant("Sync" as const),
  viewId: u64,
  regency: u64,
  cid: u64,
  proofs: fc.array(fc.record({ replica: u32, stopData }), { maxLength: 3 }),
  batch
})
export const commit: fc.Arbitrary<T.Commit> = fc.record({
  _tag: fc.constant("Commit" as const),
  viewId: u64,
  height: u64,
  headerHash: hash,
  signature
})

export const consensusMessage: fc.Arbitrary<T.ConsensusMessage> = fc.oneof(propose, write, accept, stop, stopData, sync, commit)
