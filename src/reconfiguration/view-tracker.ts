/**
 * Views for clients that do not hold the chain: a light client follows the certified view
 * records from genesis, one reconfiguration block at a time, and checks certified replies
 * against the view that certifies the reply's height.
 *
 * The client learns view v + 1 from the header of the block hb that installed it, the
 * certificate of that header (q COMMITs of view v), the new view record and its Merkle proof as
 * the last leaf of the header's resultsRoot (src/chain/hash.ts `resultsRoot`). From then on, a
 * header at a height after hb must be certified by view v + 1 or a later view: one certified by
 * view v's keys is refused (WrongView, "superseded"), whoever holds those keys. A header of a
 * view the client has not learned yet is refused too, until the client fetches the
 * reconfiguration blocks that lead to it.
 *
 * The rules match chain verification (src/chain/verify.ts, conformance/FORMAT.md section 8):
 * fresh view keys in every view, lastReconfigHeight naming the installing block, quorums of
 * distinct members with valid signatures. Every check returns a typed ChainError; nothing throws.
 */
import { Either } from "effect"
import { bytesEqual, toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { commitSigningBytes } from "../chain/encoding.ts"
import { ChainError } from "../chain/errors.ts"
import type { ChainErrorReason } from "../chain/errors.ts"
import { headerHash, resultHash, viewHash } from "../chain/hash.ts"
import { verifyMerkleProof } from "../chain/merkle.ts"
import type { BlockHeader, Certificate, Genesis, ViewRecord } from "../chain/types.ts"
import { viewRecordProblem } from "../chain/verify.ts"
import { byzantineQuorum } from "../core/quorum.ts"

/** A Merkle inclusion proof of one leaf of a header's resultsRoot. */
export interface ResultsProof {
  readonly index: number
  readonly leafCount: number
  readonly siblings: ReadonlyArray<Uint8Array>
}

/** What a client receives to learn the view a reconfiguration block installed. */
export interface CertifiedViewChange {
  readonly header: BlockHeader
  readonly certificate: Certificate
  readonly newView: ViewRecord
  /** newView's hash as the last leaf of header.resultsRoot. */
  readonly proof: ResultsProof
}

/** A reply with what makes it checkable: its block's certified header and the result's inclusion proof. */
export interface CertifiedReply {
  readonly header: BlockHeader
  readonly certificate: Certificate
  readonly result: Uint8Array
  readonly proof: ResultsProof
}

interface KnownView {
  readonly record: ViewRecord
  readonly hash: Uint8Array
  readonly quorum: number
  readonly keys: ReadonlyMap<number, Uint8Array>
  /** Height of the block that installed it (0n for genesis's view); it certifies the blocks after. */
  readonly installedAt: bigint
}

const known = (crypto: ChainCrypto, record: ViewRecord, installedAt: bigint): KnownView => ({
  record,
  hash: viewHash(crypto, record),
  quorum: byzantineQuorum(record.n, record.f),
  keys: new Map(record.members.map((m) => [m.replica, m.viewKey])),
  installedAt
})

const fail = (height: bigint, reason: ChainErrorReason, detail: string) => Either.left(new ChainError({ height, reason, detail }))

export class ViewTracker {
  private readonly known: Array<KnownView> = []
  private readonly usedViewKeys = new Set<string>()

  private constructor(
    private readonly crypto: ChainCrypto,
    private readonly chainId: string
  ) {}

  /** A tracker that knows genesis's view. Fails (BadViewRecord) on an invalid genesis view. */
  static start(crypto: ChainCrypto, genesis: Genesis): Either.Either<ViewTracker, ChainError> {
    const problem = genesis.view.id !== 0n ? `genesis view id must be 0, got ${genesis.view.id}` : viewRecordProblem(genesis.view)
    if (problem !== undefined) return fail(0n, "BadViewRecord", `genesis view: ${problem}`)
    const t = new ViewTracker(crypto, genesis.chainId)
    t.add(known(crypto, genesis.view, 0n))
    return Either.right(t)
  }

  /**
   * A tracker that trusts `view` as installed by the block at `installedAt` (0n: genesis's view),
   * for a client that learned it earlier (or out of band) instead of following it from genesis.
   * Fails (BadViewRecord) on an invalid record.
   */
  static trusting(crypto: ChainCrypto, chainId: string, view: ViewRecord, installedAt: bigint): Either.Either<ViewTracker, ChainError> {
    const problem = viewRecordProblem(view)
    if (problem !== undefined) return fail(installedAt, "BadViewRecord", `trusted view: ${problem}`)
    const t = new ViewTracker(crypto, chainId)
    t.add(known(crypto, view, installedAt))
    return Either.right(t)
  }

  private add(v: KnownView): void {
    this.known.push(v)
    for (const m of v.record.members) this.usedViewKeys.add(toHex(m.viewKey))
  }

  /** The newest view the tracker knows. */
  get current(): ViewRecord {
    return this.known[this.known.length - 1]!.record
  }

  /** Ids and installing heights of the known views, oldest first. */
  get views(): ReadonlyArray<{ readonly id: bigint; readonly installedAt: bigint }> {
    return this.known.map((v) => ({ id: v.record.id, installedAt: v.installedAt }))
  }

  /**
   * The known view that certifies `header`: the one it names, if that view is still current at
   * its height (no later known view was installed before it) and its viewHash and
   * lastReconfigHeight agree. A superseded or unknown view is WrongView.
   */
  private viewFor(header: BlockHeader): Either.Either<KnownView, ChainError> {
    const h = header.height
    const i = this.known.findIndex((v) => v.record.id === header.viewId)
    if (i < 0)
      return fail(h, "WrongView", `view ${header.viewId} is not known yet (known up to view ${this.current.id}): learn the views installed before`)
    const v = this.known[i]!
    if (h <= v.installedAt) return fail(h, "WrongView", `view ${header.viewId} certifies blocks after height ${v.installedAt} only`)
    const next = this.known[i + 1]
    if (next !== undefined && h > next.installedAt)
      return fail(h, "WrongView", `certified by view ${header.viewId}, superseded by view ${next.record.id} at height ${next.installedAt}`)
    if (!bytesEqual(header.viewHash, v.hash)) return fail(h, "WrongView", `viewHash is not the hash of view ${header.viewId}`)
    const expectedReconfig = [v.installedAt, h]
    if (!expectedReconfig.includes(header.lastReconfigHeight))
      return fail(h, "BadReconfigHeight", `lastReconfigHeight ${header.lastReconfigHeight}, view ${header.viewId} was installed at ${v.installedAt}`)
    return Either.right(v)
  }

  /**
   * The view that must certify `header`, for checks done elsewhere (e.g. src/chain/reply.ts
   * `checkCertifiedReply` against this view): WrongView when the header names a view superseded
   * at its height or one not learned yet.
   */
  viewCertifying(header: BlockHeader): Either.Either<ViewRecord, ChainError> {
    return Either.map(this.viewFor(header), (v) => v.record)
  }

  /** q valid COMMITs of the header's view on its hash: returns the view that certified it. */
  checkHeader(header: BlockHeader, certificate: Certificate): Either.Either<ViewRecord, ChainError> {
    const h = header.height
    const view = this.viewFor(header)
    if (Either.isLeft(view)) return Either.left(view.left)
    const v = view.right
    if (certificate.height !== h || certificate.viewId !== header.viewId)
      return fail(h, "BadCertificate", `the certificate names height ${certificate.height} and view ${certificate.viewId}`)
    if (!bytesEqual(certificate.headerHash, headerHash(this.crypto, header))) return fail(h, "BadCertificate", "the certificate is for another header")
    const seen = new Set<number>()
    for (const c of certificate.commits) {
      if (!v.keys.has(c.replica)) return fail(h, "BadCertificate", `replica ${c.replica} is not a member of view ${v.record.id}`)
      if (seen.has(c.replica)) return fail(h, "BadCertificate", `replica ${c.replica} signs twice`)
      seen.add(c.replica)
    }
    if (seen.size < v.quorum) return fail(h, "MissingSignatures", `${seen.size} COMMITs, view ${v.record.id} needs ${v.quorum}`)
    const message = commitSigningBytes(this.chainId, certificate)
    for (const c of certificate.commits)
      if (!this.crypto.verify(v.keys.get(c.replica)!, message, c.signature))
        return fail(h, "BadSignature", `COMMIT of replica ${c.replica} does not verify`)
    return Either.right(v.record)
  }

  /** Learns the next view from the certified block that installed it. */
  learnView(change: CertifiedViewChange): Either.Either<ViewRecord, ChainError> {
    const { header, newView, proof } = change
    const h = header.height
    const cur = this.known[this.known.length - 1]!
    if (header.viewId !== cur.record.id)
      return fail(h, "WrongView", `the installing block must be certified by the newest known view ${cur.record.id}, got view ${header.viewId}`)
    if (header.lastReconfigHeight !== h) return fail(h, "BadReconfigHeight", "the block does not install a view (lastReconfigHeight is not its height)")
    const certified = this.checkHeader(header, change.certificate)
    if (Either.isLeft(certified)) return certified
    if (newView.id !== cur.record.id + 1n) return fail(h, "BadViewRecord", `installs view ${newView.id}, expected ${cur.record.id + 1n}`)
    const problem = viewRecordProblem(newView)
    if (problem !== undefined) return fail(h, "BadViewRecord", `view ${newView.id}: ${problem}`)
    for (const m of newView.members)
      if (this.usedViewKeys.has(toHex(m.viewKey))) return fail(h, "BadViewRecord", `view ${newView.id}: replica ${m.replica} reuses a view key`)
    if (
      proof.index !== proof.leafCount - 1 ||
      !verifyMerkleProof(this.crypto, header.resultsRoot, viewHash(this.crypto, newView), proof.index, proof.leafCount, proof.siblings)
    )
      return fail(h, "BadResultsRoot", "the view record is not the last leaf of the block's resultsRoot")
    this.add(known(this.crypto, newView, h))
    return Either.right(newView)
  }

  /** Checks a certified reply: its header certified by the view current at its height, and its result in the header's resultsRoot. */
  checkReply(reply: CertifiedReply): Either.Either<ViewRecord, ChainError> {
    const certified = this.checkHeader(reply.header, reply.certificate)
    if (Either.isLeft(certified)) return certified
    const { index, leafCount, siblings } = reply.proof
    if (!verifyMerkleProof(this.crypto, reply.header.resultsRoot, resultHash(this.crypto, reply.result), index, leafCount, siblings))
      return fail(reply.header.height, "BadResultsRoot", `the result is not leaf ${index} of the block's resultsRoot`)
    return certified
  }
}
