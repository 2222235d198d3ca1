/**
 * The Verifier: checks every signature, proof and batch hash in a batch of inputs before they
 * reach `step`, with one `verifyBatch` call for the whole batch. The core only ever sees inputs
 * that passed; the rest are dropped with a reason, which the shell counts.
 *
 * Checked: client transaction signatures (alone, in PROPOSE and in SYNC), ACCEPT signatures by
 * the sender's view key, STOPDATA signatures and their contents (decision proof, openCid
 * consistent with it, the last decided batch and the accepted batch hash to their hashes,
 * regencies below the STOPDATA's), every
 * STOPDATA inside SYNC, and decided instances fetched by state transfer (q valid ACCEPTs of
 * distinct members, batch hashes to the proof's hash, and the block certificate that may come
 * with them: q valid COMMIT signatures of distinct members), and COMMIT signatures by the
 * sender's view key. Sizes are checked against the limits.
 */
import { Context, Effect, Layer } from "effect"
import { bytesEqual } from "../chain/bytes.ts"
import { acceptSigningBytes, commitSigningBytes, stopDataSigningBytes, transactionEncodedSize, txSigningBytes } from "../chain/encoding.ts"
import { batchHash } from "../chain/hash.ts"
import type { Certificate, DecisionProof, Limits, ReplicaId, StopData, Transaction, ViewRecord } from "../chain/types.ts"
import { viewKeyOf } from "../core/config.ts"
import type { Input } from "../core/io.ts"
import { coreLimits } from "../core/limits.ts"
import { byzantineQuorum } from "../core/quorum.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { CryptoImpl, SignedItem } from "./crypto.ts"

export type RejectReason =
  | "NotAMember"
  | "WrongView"
  | "TooLarge"
  | "BadTxSignature"
  | "BadAcceptSignature"
  | "BadStopDataSignature"
  | "BadStopData"
  | "BadDecisionProof"
  | "BadSyncProofs"
  | "BadBatchHash"
  | "BadCommitSignature"
  | "BadCertificate"

export interface Rejected {
  readonly input: Input
  readonly reason: RejectReason
}

export interface VerifyResult {
  readonly accepted: ReadonlyArray<Input>
  readonly rejected: ReadonlyArray<Rejected>
}

export interface VerifierContext {
  readonly chainId: string
  readonly view: ViewRecord
  /**
   * With reconfiguration: the view before `view`. The first instance of a view follows a block
   * that view decided, so a STOPDATA of that instance carries a decision proof of the view before
   * (checked with that view's keys and quorum).
   */
  readonly previousView?: ViewRecord
  readonly quorum: number
  readonly limits: Limits
  readonly crypto: CryptoImpl
  /** Signatures already found valid, shared with other checkers of this replica; a fresh one by default. */
  readonly memory?: SignatureMemory
}

/** Signature checks an input needs, each with the reason it is rejected for if it fails. */
interface Plan {
  problem: RejectReason | undefined
  readonly signatures: Array<{ readonly item: SignedItem; readonly reason: RejectReason; readonly tx?: Transaction }>
}

/** Most signatures remembered as valid, so a transaction seen alone and again in PROPOSE is checked once. */
const signatureCacheMax = 1 << 16

/**
 * Signatures known valid, keyed by the signature's bytes, each with the key and message it was
 * checked with: a hit needs all three to match (comparing bytes costs far less than building a
 * key of the whole message, or verifying again). The oldest is forgotten when it is full. One
 * memory may serve several checkers of one replica (the Verifier and the HTTP API), so a client
 * transaction checked on arrival is not checked again before `step`.
 */
export class SignatureMemory {
  private readonly valid = new Map<string, SignedItem>()
  /**
   * Transaction objects whose signature was found valid, with the chain it was checked for: the
   * same object checked again (the API hands the replica the object it checked) needs neither its
   * signing bytes nor a comparison. Entries go with the objects.
   */
  private readonly transactions = new WeakMap<Transaction, string>()

  constructor(private readonly max: number = signatureCacheMax) {}

  /** Whether exactly this key, message and signature were found valid (`key`: its `signatureKey`). */
  knows(item: SignedItem, key: string = signatureKey(item.signature)): boolean {
    return sameItem(this.valid.get(key), item)
  }

  /** Records a signature found valid. */
  remember(item: SignedItem, key: string = signatureKey(item.signature)): void {
    if (this.valid.size >= this.max && !this.valid.has(key)) {
      const oldest = this.valid.keys().next()
      if (oldest.done !== true) this.valid.delete(oldest.value)
    }
    this.valid.set(key, item)
  }

  /** `crypto.verify`, answered from memory when it can be, remembering a valid signature. */
  verify(crypto: ChainCrypto, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const item = { publicKey, message, signature }
    const key = signatureKey(signature)
    if (this.knows(item, key)) return true
    const ok = crypto.verify(publicKey, message, signature)
    if (ok) this.remember(item, key)
    return ok
  }

  /** Whether this transaction object's signature was found valid for `chainId`. */
  knowsTransaction(tx: Transaction, chainId: string): boolean {
    return this.transactions.get(tx) === chainId
  }

  /** Records a transaction object whose signature was found valid for `chainId`. */
  rememberTransaction(tx: Transaction, chainId: string): void {
    this.transactions.set(tx, chainId)
  }

  /** Checks a client transaction's signature on `chainId`, through this memory. */
  verifyTransaction(crypto: ChainCrypto, chainId: string, tx: Transaction): boolean {
    if (this.knowsTransaction(tx, chainId)) return true
    const ok = this.verify(crypto, tx.client, txSigningBytes(chainId, tx), tx.signature)
    if (ok) this.rememberTransaction(tx, chainId)
    return ok
  }

  /** A ChainCrypto whose `verify` goes through this memory. */
  crypto(crypto: ChainCrypto): ChainCrypto {
    return { sha256: crypto.sha256, verify: (publicKey, message, signature) => this.verify(crypto, publicKey, message, signature) }
  }
}

export class InputVerifier {
  private readonly valid: SignatureMemory

  constructor(readonly context: VerifierContext) {
    this.valid = context.memory ?? new SignatureMemory()
  }

  verify(inputs: ReadonlyArray<Input>): VerifyResult {
    const plans = inputs.map((input) => this.plan(input))
    // Signatures not known valid, each once (a transaction can come alone and in a PROPOSE of the same batch).
    const pending: Array<SignedItem> = []
    const pendingKeys: Array<string> = []
    const pendingByKey = new Map<string, Array<number>>()
    // For each plan's signatures: -1 when known valid, else the index of its check in `pending`.
    const slots = plans.map((plan) =>
      plan.problem !== undefined
        ? []
        : plan.signatures.map((s) => {
            const key = signatureKey(s.item.signature)
            if (this.valid.knows(s.item, key)) return -1
            const candidates = pendingByKey.get(key)
            const found = candidates?.find((at) => sameItem(pending[at], s.item))
            if (found !== undefined) return found
            pending.push(s.item)
            pendingKeys.push(key)
            if (candidates === undefined) pendingByKey.set(key, [pending.length - 1])
            else candidates.push(pending.length - 1)
            return pending.length - 1
          })
    )
    const results = pending.length === 0 ? [] : this.context.crypto.verifyBatch(pending)
    const accepted: Array<Input> = []
    const rejected: Array<Rejected> = []
    plans.forEach((plan, i) => {
      const input = inputs[i] as Input
      let reason = plan.problem
      if (reason === undefined) {
        const slot = slots[i] as Array<number>
        const failed = slot.findIndex((at) => at >= 0 && results[at] !== true)
        if (failed >= 0) reason = (plan.signatures[failed] as { reason: RejectReason }).reason
      }
      if (reason === undefined) accepted.push(input)
      else rejected.push({ input, reason })
    })
    results.forEach((ok, i) => {
      if (ok) this.valid.remember(pending[i] as SignedItem, pendingKeys[i] as string)
    })
    plans.forEach((plan, i) => {
      if (plan.problem !== undefined) return
      const slot = slots[i] as Array<number>
      plan.signatures.forEach((s, j) => {
        const at = slot[j] as number
        if (s.tx !== undefined && (at < 0 || results[at] === true)) this.valid.rememberTransaction(s.tx, this.context.chainId)
      })
    })
    return { accepted, rejected }
  }

  private plan(input: Input): Plan {
    const plan: Plan = { problem: undefined, signatures: [] }
    const ctx = this.context
    switch (input._tag) {
      case "Tick":
      case "Synced":
        return plan
      case "Transaction":
        this.planTransactions(plan, [input.tx])
        return plan
      case "Decided":
        if (!bytesEqual(batchHash(ctx.crypto, input.batch), input.proof.batchHash)) plan.problem = "BadBatchHash"
        else this.planTransactions(plan, input.batch)
        this.planProof(plan, input.proof)
        if (input.certificate !== undefined) this.planCertificate(plan, input.certificate)
        return plan
      case "Message": {
        const key = viewKeyOf(ctx.view, input.from)
        const m = input.message
        if (key === undefined) plan.problem = "NotAMember"
        else if (m.viewId !== ctx.view.id) plan.problem = "WrongView"
        else if (m._tag === "Propose") {
          if (m.batch.length > ctx.limits.batchTxMax) plan.problem = "TooLarge"
          else this.planTransactions(plan, m.batch)
        } else if (m._tag === "Accept") {
          plan.signatures.push({
            item: { publicKey: key, message: acceptSigningBytes(ctx.chainId, m), signature: m.signature },
            reason: "BadAcceptSignature"
          })
        } else if (m._tag === "Commit") {
          plan.signatures.push({
            item: { publicKey: key, message: commitSigningBytes(ctx.chainId, m), signature: m.signature },
            reason: "BadCommitSignature"
          })
        } else if (m._tag === "StopData") this.planStopData(plan, input.from, m)
        else if (m._tag === "Sync") {
          if (m.batch.length > ctx.limits.batchTxMax || m.proofs.length > ctx.view.members.length) plan.problem = "TooLarge"
          else {
            this.planTransactions(plan, m.batch)
            for (const p of m.proofs) this.planStopData(plan, p.replica, p.stopData, "BadSyncProofs")
          }
        }
        return plan
      }
    }
  }

  private planTransactions(plan: Plan, txs: ReadonlyArray<Transaction>): void {
    for (const tx of txs) {
      if (transactionEncodedSize(tx) > this.context.limits.txBytesMax) plan.problem ??= "TooLarge"
      if (this.valid.knowsTransaction(tx, this.context.chainId)) continue
      plan.signatures.push({
        item: { publicKey: tx.client, message: txSigningBytes(this.context.chainId, tx), signature: tx.signature },
        reason: "BadTxSignature",
        tx
      })
    }
  }

  private planProof(plan: Plan, proof: DecisionProof, reason: RejectReason = "BadDecisionProof", previousAllowed = false): void {
    const ctx = this.context
    const previous = ctx.previousView
    const view = proof.viewId === ctx.view.id ? ctx.view : previousAllowed && previous !== undefined && proof.viewId === previous.id ? previous : undefined
    if (view === undefined) {
      plan.problem ??= reason
      return
    }
    const quorum = view === ctx.view ? ctx.quorum : byzantineQuorum(view.n, view.f)
    const signers = new Set<ReplicaId>()
    for (const a of proof.accepts) {
      const key = viewKeyOf(view, a.replica)
      if (key === undefined || signers.has(a.replica)) {
        plan.problem ??= reason
        return
      }
      signers.add(a.replica)
      plan.signatures.push({ item: { publicKey: key, message: acceptSigningBytes(ctx.chainId, proof), signature: a.signature }, reason })
    }
    if (signers.size < quorum) plan.problem ??= reason
  }

  /** A block certificate: q COMMIT signatures of distinct members of the view on its header hash. */
  private planCertificate(plan: Plan, certificate: Certificate): void {
    const ctx = this.context
    if (certificate.viewId !== ctx.view.id) {
      plan.problem ??= "BadCertificate"
      return
    }
    const message = commitSigningBytes(ctx.chainId, certificate)
    const signers = new Set<ReplicaId>()
    for (const c of certificate.commits) {
      const key = viewKeyOf(ctx.view, c.replica)
      if (key === undefined || signers.has(c.replica)) {
        plan.problem ??= "BadCertificate"
        return
      }
      signers.add(c.replica)
      plan.signatures.push({ item: { publicKey: key, message, signature: c.signature }, reason: "BadCertificate" })
    }
    if (signers.size < ctx.quorum) plan.problem ??= "BadCertificate"
  }

  private planStopData(plan: Plan, from: ReplicaId, s: StopData, reason?: RejectReason): void {
    const ctx = this.context
    const key = viewKeyOf(ctx.view, from)
    const decided = s.lastDecided._tag === "Some" ? s.lastDecided.value.cid : 0n
    const accepted = s.accepted._tag === "Some" ? s.accepted.value : undefined
    const lastBatchMatches =
      s.lastDecided._tag === "Some"
        ? s.lastDecidedBatch.length <= ctx.limits.batchTxMax && bytesEqual(batchHash(ctx.crypto, s.lastDecidedBatch), s.lastDecided.value.batchHash)
        : s.lastDecidedBatch.length === 0
    const consistent =
      key !== undefined &&
      lastBatchMatches &&
      s.viewId === ctx.view.id &&
      s.openCid === decided + 1n &&
      s.written.length <= coreLimits.writeSetMax &&
      s.written.every((w) => w.regency < s.regency) &&
      (accepted === undefined ||
        (accepted.regency < s.regency &&
          accepted.batch.length <= ctx.limits.batchTxMax &&
          bytesEqual(batchHash(ctx.crypto, accepted.batch), accepted.batchHash)))
    if (!consistent || key === undefined) {
      plan.problem ??= reason ?? (key === undefined ? "NotAMember" : "BadStopData")
      return
    }
    if (s.lastDecided._tag === "Some") {
      this.planProof(plan, s.lastDecided.value, reason ?? "BadStopData", true)
      this.planTransactions(plan, s.lastDecidedBatch)
    }
    plan.signatures.push({
      item: { publicKey: key, message: stopDataSigningBytes(ctx.chainId, s), signature: s.signature },
      reason: reason ?? "BadStopDataSignature"
    })
  }
}

/** The signature's bytes as a one-character-per-byte string (built natively, flat). */
const signatureKey = (signature: Uint8Array): string => Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString("latin1")

/** Whether a remembered check is of exactly this key, message and signature. */
const sameItem = (known: SignedItem | undefined, item: SignedItem): boolean =>
  known !== undefined &&
  (known === item ||
    (bytesEqual(known.signature, item.signature) && bytesEqual(known.publicKey, item.publicKey) && bytesEqual(known.message, item.message)))

/** Counts of inputs dropped by the Verifier, by reason. */
export type RejectCounts = Partial<Record<RejectReason, number>>

export const countRejected = (counts: RejectCounts, rejected: ReadonlyArray<Rejected>): void => {
  for (const r of rejected) counts[r.reason] = (counts[r.reason] ?? 0) + 1
}

/** The Verifier service: verifies a batch of inputs at once. */
export class Verifier extends Context.Tag("smartchain/Verifier")<
  Verifier,
  { readonly verify: (inputs: ReadonlyArray<Input>) => Effect.Effect<VerifyResult> }
>() {}

export const verifierLayer = (context: VerifierContext): Layer.Layer<Verifier> =>
  Layer.sync(Verifier, () => {
    const verifier = new InputVerifier(context)
    return { verify: (inputs) => Effect.sync(() => verifier.verify(inputs)) }
  })
