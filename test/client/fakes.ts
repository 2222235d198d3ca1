/**
 * Fake members for client tests: an honest ledger that stands in for consensus (every honest
 * member answers a transaction with the same height and result; in strong mode it also builds a
 * real certified block per transaction), and Byzantine behaviours on top of it.
 */
import { Option } from "effect"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { certifiedReply } from "../../src/chain/reply.ts"
import type { CertifiedReply, ClientReply } from "../../src/chain/reply.ts"
import type { PersistenceMode, Reply, Transaction } from "../../src/chain/types.ts"
import type { ClientCrypto } from "../../src/client/client.ts"
import type { MemoryMember } from "../../src/client/memory-transport.ts"
import { ChainBuilder, keyPairFromLabel, signBytes } from "../support/chain-builder.ts"

export const clientCrypto: ClientCrypto = { ...portableCrypto, sign: signBytes }
export const clientKey = keyPairFromLabel("client-test/alice")

/** The outcome consensus gave one transaction, as every honest member reports it. */
interface Outcome {
  readonly reply: Reply
  readonly certified: Option.Option<CertifiedReply>
}

export class FakeLedger {
  readonly builder: ChainBuilder
  private readonly outcomes = new Map<string, Outcome>()

  constructor(readonly mode: PersistenceMode, replicas = 4) {
    this.builder = new ChainBuilder({ persistence: mode, seed: "client-test", replicas })
  }

  get view() {
    return this.builder.genesis.view
  }

  get chainId(): string {
    return this.builder.chainId
  }

  /** Decides `tx` the first time it is asked, in one block of its own; the same answer ever after. */
  outcome(tx: Transaction): Outcome {
    const key = `${Buffer.from(tx.client).toString("hex")}/${tx.seq}`
    const known = this.outcomes.get(key)
    if (known !== undefined) return known
    const result = new Uint8Array([0, ...clientCrypto.sha256(tx.op).subarray(0, 8)])
    const block = this.builder.next({ transactions: [tx], results: [result] })
    const cert = this.builder.certificates[this.builder.certificates.length - 1]!
    const outcome: Outcome = {
      reply: { _tag: "Reply", viewId: block.header.viewId, client: tx.client, seq: tx.seq, height: block.header.height, result },
      certified: this.mode === "strong" ? Option.some(certifiedReply(portableCrypto, block, cert, 0)) : Option.none()
    }
    this.outcomes.set(key, outcome)
    return outcome
  }
}

export const honest = (ledger: FakeLedger): MemoryMember => (tx) => [ledger.outcome(tx).reply]

export const honestCertified = (ledger: FakeLedger): MemoryMember => (tx) => {
  const o = ledger.outcome(tx)
  return [Option.getOrElse(o.certified as Option.Option<ClientReply>, () => o.reply)]
}

export const silent: MemoryMember = () => []

/** Answers honestly, but only from the `after`-th time it receives the same transaction. */
export const lossy = (ledger: FakeLedger, after = 2): MemoryMember => {
  const seen = new Map<bigint, number>()
  return (tx) => {
    const n = (seen.get(tx.seq) ?? 0) + 1
    seen.set(tx.seq, n)
    return n >= after ? [ledger.outcome(tx).reply] : []
  }
}

/** Sends the honest answer `times` times. */
export const repeating = (ledger: FakeLedger, times = 3): MemoryMember => (tx) =>
  Array.from({ length: times }, () => ledger.outcome(tx).reply)

/** A fixed wrong result (Byzantine members may collude on it). */
export const wrongResult = (ledger: FakeLedger, result = new Uint8Array([1, 66])): MemoryMember => (tx) => [
  { ...ledger.outcome(tx).reply, result }
]

export const wrongHeight = (ledger: FakeLedger): MemoryMember => (tx) => {
  const r = ledger.outcome(tx).reply
  return [{ ...r, height: r.height + 100n }]
}

/** First the honest answer, then a different one. */
export const equivocating = (ledger: FakeLedger): MemoryMember => (tx) => {
  const r = ledger.outcome(tx).reply
  return [r, { ...r, result: new Uint8Array([9]) }]
}

/** A reply for the next seq of the same client. */
export const otherSeq = (ledger: FakeLedger): MemoryMember => (tx) => {
  const r = ledger.outcome(tx).reply
  return [{ ...r, seq: r.seq + 1n }]
}

/** A certified reply whose result was replaced (its Merkle path no longer leads to the root). */
export const forgedCertified = (ledger: FakeLedger): MemoryMember => (tx) => {
  const c = Option.getOrThrow(ledger.outcome(tx).certified)
  return [{ ...c, result: new Uint8Array([0, 42]) }]
}

/** A certified reply with fewer COMMITs than the quorum. */
export const underSignedCertified = (ledger: FakeLedger): MemoryMember => (tx) => {
  const c = Option.getOrThrow(ledger.outcome(tx).certified)
  return [{ ...c, certificate: { ...c.certificate, commits: c.certificate.commits.slice(0, 1) } }]
}
