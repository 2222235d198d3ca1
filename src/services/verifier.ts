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
  readonly quorum: number
  readonly limits: Limits
  readonly crypto: CryptoImpl
}

/** Signature checks an input needs, each with the reason it is rejected for if it fails. */
interface Plan {
  problem: RejectReason | undefined
  readonly signatures: Array<{ readonly item: SignedItem; readonly reason: RejectReason }>
}

/** Most signatures remembered as valid, so a transaction seen alone and again in PROPOSE is checked once. */
const signatureCacheMax = 1 << 16

export class InputVerifier {
  private readonly valid = new Map<string, true>()

  constructor(readonly context: VerifierContext) {}

  verify(inputs: ReadonlyArray<Input>): VerifyResult {
    const plans = inputs.map((input) => this.plan(input))
    const pending: Array<{ readonly key: string; readonly item: SignedItem }> = []
    const keyed = plans.map((plan) =>
      plan.signatures.map((s) => {
        const key = cacheKey(s.item)
        if (!this.valid.has(key)) pending.push({ key, item: s.item })
        return key
      })
    )
    const results = this.context.crypto.verifyBatch(pending.map((p) => p.item))
    const fresh = new Map<string, boolean>()
    pending.forEach((p, i) => fresh.set(p.key, results[i] === true))
    const accepted: Array<Input> = []
    const rejected: Array<Rejected> = []
    plans.forEach((plan, i) => {
      const input = inputs[i] as Input
      let reason = plan.problem
      if (reason === undefined) {
        const keys = keyed[i] as Array<string>
        const failed = plan.signatures.findIndex((_, j) => !(this.valid.has(keys[j] as string) || fresh.get(keys[j] as string) === true))
        if (failed >= 0) reason = (plan.signatures[failed] as { reason: RejectReason }).reason
      }
      if (reason === undefined) accepted.push(input)
      else rejected.push({ input, reason })
    })
    for (const [key, ok] of fresh) if (ok) this.remember(key)
    return { accepted, rejected }
  }

  private remember(key: string): void {
    if (this.valid.size >= signatureCacheMax) {
      const oldest = this.valid.keys().next()
      if (oldest.done !== true) this.valid.delete(oldest.value)
    }
    this.valid.set(key, true)
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
      plan.signatures.push({
        item: { publicKey: tx.client, message: txSigningBytes(this.context.chainId, tx), signature: tx.signature },
        reason: "BadTxSignature"
      })
    }
  }

  private planProof(plan: Plan, proof: DecisionProof, reason: RejectReason = "BadDecisionProof"): void {
    const ctx = this.context
    if (proof.viewId !== ctx.view.id) {
      plan.problem ??= reason
      return
    }
    const signers = new Set<ReplicaId>()
    for (const a of proof.accepts) {
      const key = viewKeyOf(ctx.view, a.replica)
      if (key === undefined || signers.has(a.replica)) {
        plan.problem ??= reason
        return
      }
      signers.add(a.replica)
      plan.signatures.push({ item: { publicKey: key, message: acceptSigningBytes(ctx.chainId, proof), signature: a.signature }, reason })
    }
    if (signers.size < ctx.quorum) plan.problem ??= reason
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
      this.planProof(plan, s.lastDecided.value, reason ?? "BadStopData")
      this.planTransactions(plan, s.lastDecidedBatch)
    }
    plan.signatures.push({
      item: { publicKey: key, message: stopDataSigningBytes(ctx.chainId, s), signature: s.signature },
      reason: reason ?? "BadStopDataSignature"
    })
  }
}

const latin1 = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number)
  return s
}

/** A signature is remembered with its key and message: the whole triple must match. */
const cacheKey = (item: SignedItem): string => `${latin1(item.publicKey)}${latin1(item.signature)}${latin1(item.message)}`

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
