/**
 * The views a client follows (PROTOCOL.md section 6, conformance/RECONFIG.md section 5): it starts
 * from a view it trusts (genesis's, or a later one it learned) and learns each later view from the
 * certified block that installed it (ViewTracker, src/reconfiguration/view-tracker.ts): the
 * block's header, the q COMMITs of the view before on it, and the new record's Merkle proof as
 * the last leaf of the header's resultsRoot. Nothing else makes a client trust a view.
 *
 * A certified reply (src/chain/reply.ts) is checked against the view that certifies its height,
 * as far as the client knows the views: its header must name that view and its certificate
 * carry q valid COMMITs of that view's keys (FORMAT.md section 11, with that view as V). A reply
 * certified by a view superseded at its height is refused (WrongView), whoever holds that view's
 * keys: the fork adversary with the keys of departed members cannot get a result past a client
 * that learned the change. A reply that names a view newer than every view the client knows is
 * "ahead": the client learns the views before it (./client.ts asks the replicas for the
 * reconfiguration blocks) and checks it then.
 *
 * What the client cannot see by itself is a change it was never told of: a certificate by a view
 * superseded at a height the client does not know to be after the change. `horizon` is the height
 * up to which members vouched (f + 1 of the newest view, so at least one correct) that the client
 * knows every change; a client in strict mode (./client.ts `strictViews`) accepts certified
 * replies only up to it, asking the members again for higher ones.
 *
 * Pure: no I/O. Every rejection is a typed error.
 */
import { Either, Schema } from "effect"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { ChainError } from "../chain/errors.ts"
import { checkCertifiedReply, CertifiedReplyError, trustedView } from "../chain/reply.ts"
import type { CertifiedReply, ExpectedTransaction, TrustedView } from "../chain/reply.ts"
import type { BlockHeader, Reply, ViewRecord } from "../chain/types.ts"
import type { CertifiedViewChange } from "../reconfiguration/view-tracker.ts"
import { ViewTracker } from "../reconfiguration/view-tracker.ts"

/** A view the client could not learn: the certified view change failed its check. */
export class ClientViewError extends Schema.TaggedError<ClientViewError>()("ClientViewError", {
  /** The height of the block that failed (or the trusted view's installing height). */
  height: Schema.BigIntFromSelf,
  /** The chain check that failed (ChainErrorReason), or NoAnswer when no member answered. */
  reason: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot learn the view at height ${this.height}: ${this.reason}: ${this.detail}`
  }
}

const viewError = (e: ChainError) => new ClientViewError({ height: e.height, reason: e.reason, detail: e.detail })

/** What learning a batch of view changes did. */
export interface Learned {
  /** Views learned, oldest first. */
  readonly views: ReadonlyArray<ViewRecord>
  /** Changes that failed their check (each a candidate for a view id the client did not know). */
  readonly rejected: ReadonlyArray<ClientViewError>
}

export class ClientViews {
  private trustedCurrent: TrustedView
  /** The height up to which some correct member listed every view change (see `noteHeads`). */
  private vouched: bigint

  private constructor(
    private readonly crypto: ChainCrypto,
    private readonly chainId: string,
    private readonly tracker: ViewTracker
  ) {
    this.trustedCurrent = trustedView(crypto, chainId, tracker.current)
    this.vouched = tracker.views[0]?.installedAt ?? 0n
  }

  /** Trusts `view`, installed by the block at `installedAt` (0n for genesis's view). */
  static start(crypto: ChainCrypto, chainId: string, view: ViewRecord, installedAt: bigint): Either.Either<ClientViews, ClientViewError> {
    return Either.map(Either.mapLeft(ViewTracker.trusting(crypto, chainId, view, installedAt), viewError), (t) => new ClientViews(crypto, chainId, t))
  }

  /** The newest view the client knows: its members receive the client's transactions. */
  get current(): ViewRecord {
    return this.tracker.current
  }

  /** The newest view prepared for checks (hash, quorum, keys). */
  get trusted(): TrustedView {
    return this.trustedCurrent
  }

  /** Ids and installing heights of the known views, the trusted one first. */
  get known(): ReadonlyArray<{ readonly id: bigint; readonly installedAt: bigint }> {
    return this.tracker.views
  }

  /**
   * Heights up to which the client knows every view change: the views it knows are all the views
   * of the chain up to this height (the trusted view's installing height until members vouch).
   */
  get horizon(): bigint {
    return this.vouched
  }

  /**
   * Takes the heights members said they listed every view change up to (after learning what
   * they sent). Among distinct members of the newest known view, the (f + 1)-th highest height
   * was reported by at least one correct member, whose list the client learned from: no view
   * change up to it is hidden from the client. The horizon only grows.
   */
  noteHeads(heads: ReadonlyArray<{ readonly from: number; readonly height: bigint }>): void {
    const view = this.tracker.current
    const byMember = new Map<number, bigint>()
    for (const h of heads) {
      if (!view.members.some((m) => m.replica === h.from)) continue
      const known = byMember.get(h.from)
      if (known === undefined || h.height > known) byMember.set(h.from, h.height)
    }
    const sorted = [...byMember.values()].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))
    const vouched = sorted[view.f]
    if (vouched !== undefined && vouched > this.vouched) this.vouched = vouched
  }

  /** True when `viewId` is newer than every view the client knows. */
  isAhead(viewId: bigint): boolean {
    return viewId > this.tracker.current.id
  }

  /**
   * Learns what it can from `changes` (any order, duplicates and changes already known allowed):
   * for each next view id in turn, the first candidate that passes the tracker's checks. Stops at
   * the first view id no candidate establishes.
   */
  learn(changes: ReadonlyArray<CertifiedViewChange>): Learned {
    const views: Array<ViewRecord> = []
    const rejected: Array<ClientViewError> = []
    for (;;) {
      const next = this.tracker.current.id + 1n
      const candidates = changes.filter((c) => c.newView.id === next)
      let learned: ViewRecord | undefined
      for (const c of candidates) {
        const r = this.tracker.learnView(c)
        if (Either.isRight(r)) {
          learned = r.right
          break
        }
        rejected.push(viewError(r.left))
      }
      if (learned === undefined) break
      views.push(learned)
    }
    if (views.length > 0) this.trustedCurrent = trustedView(this.crypto, this.chainId, this.tracker.current)
    return { views, rejected }
  }

  /** The known view that certifies blocks at `header`'s height and names it, or WrongView. */
  viewFor(header: BlockHeader): Either.Either<TrustedView, CertifiedReplyError> {
    const v = this.tracker.viewCertifying(header)
    if (Either.isLeft(v)) return Either.left(new CertifiedReplyError({ reason: "WrongView", detail: v.left.detail }))
    return Either.right(v.right.id === this.trustedCurrent.record.id ? this.trustedCurrent : trustedView(this.crypto, this.chainId, v.right))
  }

  /**
   * Checks a certified reply (FORMAT.md section 11) against the view that certifies its height:
   * WrongView when its header names a view superseded at that height, one not learned yet, or a
   * view hash or lastReconfigHeight that does not fit the view; otherwise the checks of
   * `checkCertifiedReply` with that view.
   */
  check(reply: CertifiedReply, expected: ExpectedTransaction): Either.Either<Reply, CertifiedReplyError> {
    const view = this.viewFor(reply.header)
    if (Either.isLeft(view)) return Either.left(view.left)
    return checkCertifiedReply(this.crypto, view.right, reply, expected)
  }
}
