/**
 * The acceptance rules of PROTOCOL.md section 4, as a pure collector of the replies to one
 * transaction:
 *
 *   mode            a client accepts a result after
 *   memory, weak    q matching replies from distinct members
 *   strong          f + 1 matching replies from distinct members, or one certified reply that
 *                   checks locally (src/chain/reply.ts) against the view the client trusts
 *
 * Replies match when they name the same view, height and result. Each member's first reply is
 * its vote: later copies are duplicates, later different answers are conflicts; both are
 * ignored and counted, as are replies from non-members, replies for another transaction and
 * certified replies that fail their check. A valid certified reply proves itself, so it counts
 * whoever relays it. No I/O: the client (./client.ts) feeds replies in as they arrive.
 */
import { Either } from "effect"
import { bytesEqual, toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { checkCertifiedReply, plainReply } from "../chain/reply.ts"
import type { CertifiedReply, CertifiedReplyError, CertifiedReplyErrorReason, ClientReply, ExpectedTransaction, TrustedView } from "../chain/reply.ts"
import type { PersistenceMode, Reply, ReplicaId } from "../chain/types.ts"
import { byzantineQuorum, weakQuorum } from "../core/quorum.ts"

/** How many matching plain replies a mode needs, and whether certified replies are accepted. */
export interface AcceptanceRule {
  readonly mode: PersistenceMode
  readonly matchingReplies: number
  readonly certifiedReplies: boolean
}

export const acceptanceRule = (mode: PersistenceMode, view: { readonly n: number; readonly f: number }): AcceptanceRule =>
  mode === "strong"
    ? { mode, matchingReplies: weakQuorum(view.f), certifiedReplies: true }
    : { mode, matchingReplies: byzantineQuorum(view.n, view.f), certifiedReplies: false }

/** Replies that were ignored, by kind. */
export interface ReplyCounters {
  /** The same member sent the same answer again. */
  duplicates: number
  /** A member sent an answer different from its first one. */
  conflicting: number
  /** A plain reply from a replica that is not a member of the trusted view. */
  nonMembers: number
  /** A reply for another client or seq. */
  unsolicited: number
  /** A certified reply that failed its check, by reason. */
  badCertificates: number
  /** Members whose vote differed from the accepted answer (known once one is accepted). */
  mismatching: number
}

export const emptyCounters = (): ReplyCounters => ({
  duplicates: 0,
  conflicting: 0,
  nonMembers: 0,
  unsolicited: 0,
  badCertificates: 0,
  mismatching: 0
})

/** An accepted answer: the reply, how it was established, and by whom. */
export interface Accepted {
  readonly reply: Reply
  readonly via: "matching" | "certificate"
  /** The members whose matching replies established it (empty for a certificate). */
  readonly voters: ReadonlyArray<ReplicaId>
  /** The certified reply, when one established it. */
  readonly certified?: CertifiedReply
}

/** What offering one reply did. */
export type Offered =
  | { readonly _tag: "Accepted"; readonly accepted: Accepted }
  | { readonly _tag: "Counted"; readonly matching: number }
  | {
      readonly _tag: "Ignored"
      readonly reason: "Duplicate" | "Conflicting" | "NonMember" | "Unsolicited" | "BadCertificate" | "AlreadyAccepted"
      readonly certificateError?: CertifiedReplyErrorReason
    }

const answerKey = (r: Reply): string => `${r.viewId}/${r.height}/${toHex(r.result)}`

/** Collects the replies to one transaction until the mode's rule accepts an answer. */
export class ReplyCollector {
  readonly counters: ReplyCounters = emptyCounters()
  private readonly votes = new Map<ReplicaId, string>()
  private readonly tallies = new Map<string, { readonly reply: Reply; readonly voters: Array<ReplicaId> }>()
  private accepted: Accepted | undefined

  /**
   * `check` replaces the check of certified replies against `view` alone: a client that follows
   * views (./views.ts) checks each against the view that certifies its height.
   */
  constructor(
    private readonly crypto: ChainCrypto,
    private view: TrustedView,
    private rule: AcceptanceRule,
    readonly expected: ExpectedTransaction,
    private readonly check?: (reply: CertifiedReply, expected: ExpectedTransaction) => Either.Either<Reply, CertifiedReplyError>
  ) {}

  /** The accepted answer, once there is one. */
  get result(): Accepted | undefined {
    return this.accepted
  }

  /** Members that have voted so far. */
  get voters(): number {
    return this.votes.size
  }

  /** The largest number of matching votes for one answer so far. */
  get bestMatching(): number {
    let best = 0
    for (const t of this.tallies.values()) best = Math.max(best, t.voters.length)
    return best
  }

  /**
   * Replaces the trusted view (after a reconfiguration) and, when given, the rule (n and f change
   * with the view); votes already cast are kept.
   */
  setView(view: TrustedView, rule?: AcceptanceRule): void {
    this.view = view
    if (rule !== undefined) this.rule = rule
  }

  offer(from: ReplicaId, reply: ClientReply): Offered {
    if (this.accepted !== undefined) return { _tag: "Ignored", reason: "AlreadyAccepted" }
    const plain = reply._tag === "Reply" ? reply : plainReply(reply)
    if (!bytesEqual(plain.client, this.expected.client) || plain.seq !== this.expected.seq) {
      this.counters.unsolicited++
      return { _tag: "Ignored", reason: "Unsolicited" }
    }
    if (reply._tag === "CertifiedReply" && this.rule.certifiedReplies) {
      const checked = this.check !== undefined ? this.check(reply, this.expected) : checkCertifiedReply(this.crypto, this.view, reply, this.expected)
      if (Either.isLeft(checked)) {
        this.counters.badCertificates++
        return { _tag: "Ignored", reason: "BadCertificate", certificateError: checked.left.reason }
      }
      return this.accept({ reply: checked.right, via: "certificate", voters: [], certified: reply })
    }
    if (!this.view.keys.has(from)) {
      this.counters.nonMembers++
      return { _tag: "Ignored", reason: "NonMember" }
    }
    const key = answerKey(plain)
    const previous = this.votes.get(from)
    if (previous !== undefined) {
      if (previous === key) this.counters.duplicates++
      else this.counters.conflicting++
      return { _tag: "Ignored", reason: previous === key ? "Duplicate" : "Conflicting" }
    }
    this.votes.set(from, key)
    let tally = this.tallies.get(key)
    if (tally === undefined) {
      tally = { reply: plain, voters: [] }
      this.tallies.set(key, tally)
    }
    tally.voters.push(from)
    if (tally.voters.length >= this.rule.matchingReplies)
      return this.accept({ reply: tally.reply, via: "matching", voters: [...tally.voters] })
    return { _tag: "Counted", matching: tally.voters.length }
  }

  private accept(accepted: Accepted): Offered {
    this.accepted = accepted
    const key = answerKey(accepted.reply)
    for (const vote of this.votes.values()) if (vote !== key) this.counters.mismatching++
    return { _tag: "Accepted", accepted }
  }
}
