/**
 * Offline verification of a chain against its genesis: anyone holding the genesis file can check
 * that every block links to the one before, that its roots match its body, that it was decided
 * by a quorum of the view it claims, that views change only through certified reconfiguration
 * blocks, and (strong mode) that every block is certified by COMMITs of its view.
 *
 * `ChainVerifier` checks one block at a time (for progress reporting and for streams that do not
 * fit in memory); `verifyChain` runs it over an array. Both stop at the first failing block and
 * report its height and a reason tag (src/chain/errors.ts). conformance/FORMAT.md section
 * "Verifying a chain" lists the checks in the order they run.
 */
import { Either, Option } from "effect"
import { match, P } from "ts-pattern"
import { byzantineQuorum } from "../core/quorum.ts"
import { hardLimits } from "../core/limits.ts"
import { bytesEqual, fromHex, toHex } from "./bytes.ts"
import type { ChainCrypto } from "./crypto.ts"
import { acceptSigningBytes, commitSigningBytes, txSigningBytes, viewRecordConsistency } from "./encoding.ts"
import { ChainError } from "./errors.ts"
import type { ChainErrorReason } from "./errors.ts"
import { batchHash, blockResultsRoot, decisionHash, genesisHash, headerHash, viewHash } from "./hash.ts"
import type { Block, Certificate, Genesis, ReplicaSignature, ViewRecord } from "./types.ts"

/** What a verified chain amounts to. */
export interface ChainSummary {
  /** Blocks verified (genesis, height 0, is not counted). */
  readonly blocks: number
  /** Transactions in those blocks. */
  readonly transactions: number
  /** Ids of the views the chain went through, in order: genesis's view, then each installed one. */
  readonly views: ReadonlyArray<bigint>
  /** Height of the last block (0 when there are none). */
  readonly headHeight: bigint
  /** Header hash of the last block (the genesis hash when there are none). */
  readonly headHash: Uint8Array
  /** The view that certifies the next block. */
  readonly currentViewId: bigint
  /** Height of the last block that installed a view (0: genesis). */
  readonly lastReconfigHeight: bigint
  /** True when a head certificate was given and verified. */
  readonly headCertified: boolean
}

/** A point in a chain from which verification can continue (see `ChainVerifier.resume`). */
export interface ChainPosition {
  /** Height of the last block already trusted (0: genesis). */
  readonly height: bigint
  /** Its header hash (the genesis hash at height 0). */
  readonly headHash: Uint8Array
  /** The view that certifies the next block. */
  readonly view: ViewRecord
  /** The view that certified the block at `height`, when that block installed `view`. */
  readonly headView?: ViewRecord
  /** lastReconfigHeight and lastCheckpointHeight of the block at `height`. */
  readonly lastReconfigHeight: bigint
  readonly lastCheckpointHeight: bigint
  /** View keys of views before these two, when known, for the view-key freshness check. */
  readonly earlierViewKeys?: ReadonlyArray<Uint8Array>
}

/** What one verified block contributed. */
export interface BlockVerified {
  readonly height: bigint
  readonly hash: Uint8Array
  readonly transactions: number
  /** The id of the view this block installed, if it is a reconfiguration block. */
  readonly installedViewId: Option.Option<bigint>
}

export interface VerifyOptions {
  /** Check every client's transaction signature (default true). */
  readonly checkTransactionSignatures?: boolean
}

interface ViewState {
  readonly record: ViewRecord
  readonly hash: Uint8Array
  readonly quorum: number
  readonly keys: ReadonlyMap<number, Uint8Array>
}

const viewState = (crypto: ChainCrypto, record: ViewRecord): ViewState => ({
  record,
  hash: viewHash(crypto, record),
  quorum: byzantineQuorum(record.n, record.f),
  keys: new Map(record.members.map((m) => [m.replica, m.viewKey]))
})

const fail = (height: bigint, reason: ChainErrorReason, detail: string): ChainError => new ChainError({ height, reason, detail })

/**
 * Checks a view record on its own: n and f consistent with the members, at most
 * hardLimits.membersMax members, 32-byte keys, distinct replica ids, identity keys and view keys.
 * Returns what is wrong, or undefined.
 */
export const viewRecordProblem = (view: ViewRecord): string | undefined => {
  const consistent = viewRecordConsistency(view)
  if (consistent !== true) return `expected ${consistent}`
  if (view.members.length > hardLimits.membersMax) return `more than ${hardLimits.membersMax} members`
  const replicas = new Set<number>()
  const keys = new Set<string>()
  for (const m of view.members) {
    if (m.identityKey.length !== 32 || m.viewKey.length !== 32) return `replica ${m.replica} has a key that is not 32 bytes`
    if (replicas.has(m.replica)) return `replica ${m.replica} appears twice`
    replicas.add(m.replica)
    const identity = "i" + toHex(m.identityKey)
    const viewKey = "v" + toHex(m.viewKey)
    if (keys.has(identity)) return `replica ${m.replica} repeats another member's identity key`
    if (keys.has(viewKey)) return `replica ${m.replica} repeats another member's view key`
    keys.add(identity)
    keys.add(viewKey)
  }
  return undefined
}

/** Verifies a chain block by block. Create with `ChainVerifier.start`. */
export class ChainVerifier {
  private failure: ChainError | undefined
  private readonly chainId: string
  private readonly strong: boolean
  private readonly checkTxSignatures: boolean
  /** The view that certifies the next block. */
  private view: ViewState
  /** The view that certified the head block (for its certificate). */
  private headView: ViewState
  private readonly usedViewKeys = new Set<string>()
  private readonly viewIds: Array<bigint> = []
  private height = 0n
  private headHash: Uint8Array
  private lastReconfigHeight = 0n
  private lastCheckpointHeight = 0n
  private blocks = 0
  private transactions = 0

  private constructor(
    private readonly crypto: ChainCrypto,
    genesis: Genesis,
    options: VerifyOptions
  ) {
    this.chainId = genesis.chainId
    this.strong = genesis.persistence === "strong"
    this.checkTxSignatures = options.checkTransactionSignatures ?? true
    this.headHash = genesisHash(crypto, genesis)
    this.view = viewState(crypto, genesis.view)
    this.headView = this.view
    this.viewIds.push(genesis.view.id)
    const problem = genesis.view.id !== 0n ? `genesis view id must be 0, got ${genesis.view.id}` : viewRecordProblem(genesis.view)
    if (problem !== undefined) this.failure = fail(0n, "BadViewRecord", `genesis view: ${problem}`)
    for (const m of genesis.view.members) this.usedViewKeys.add(toHex(m.viewKey))
  }

  /** A verifier positioned after genesis (height 0). An invalid genesis view fails the first call. */
  static start(crypto: ChainCrypto, genesis: Genesis, options: VerifyOptions = {}): ChainVerifier {
    return new ChainVerifier(crypto, genesis, options)
  }

  /**
   * A verifier positioned after block `position.height` of the chain started by `genesis`, whose
   * header hash and views the caller has established otherwise (state transfer confirms them by
   * f + 1 matching answers or a certificate; a restarted replica reads them from its own store).
   * Checks that need blocks before the position see only what the position says: the view-key
   * freshness check (FORMAT.md section 8, check 16) knows the keys of `position.view` and
   * `position.headView` and those of `position.earlierViewKeys`.
   */
  static resume(crypto: ChainCrypto, genesis: Genesis, position: ChainPosition, options: VerifyOptions = {}): ChainVerifier {
    const v = new ChainVerifier(crypto, genesis, options)
    if (v.failure !== undefined) return v
    v.height = position.height
    v.headHash = position.headHash
    v.view = viewState(crypto, position.view)
    v.headView = position.headView === undefined ? v.view : viewState(crypto, position.headView)
    v.lastReconfigHeight = position.lastReconfigHeight
    v.lastCheckpointHeight = position.lastCheckpointHeight
    v.viewIds.length = 0
    v.viewIds.push(position.view.id)
    for (const m of position.view.members) v.usedViewKeys.add(toHex(m.viewKey))
    for (const m of position.headView?.members ?? []) v.usedViewKeys.add(toHex(m.viewKey))
    for (const k of position.earlierViewKeys ?? []) v.usedViewKeys.add(toHex(k))
    const problem = viewRecordProblem(position.view)
    if (problem !== undefined) v.failure = fail(position.height, "BadViewRecord", `view ${position.view.id}: ${problem}`)
    return v
  }

  /**
   * Where verification stands, for `ChainVerifier.resume` (for instance to continue with blocks
   * from another source after a block failed). Undefined after a failure.
   */
  position(): ChainPosition | undefined {
    if (this.failure !== undefined) return undefined
    const installed = this.headView !== this.view
    return {
      height: this.height,
      headHash: this.headHash,
      view: this.view.record,
      ...(installed ? { headView: this.headView.record } : {}),
      lastReconfigHeight: this.lastReconfigHeight,
      lastCheckpointHeight: this.lastCheckpointHeight,
      earlierViewKeys: [...this.usedViewKeys].map((k) => fromHex(k) as Uint8Array)
    }
  }

  /** Height of the last verified block (0 before any). */
  get headHeight(): bigint {
    return this.height
  }

  /** Verifies the next block. After a failure every later call returns the same error. */
  next(block: Block): Either.Either<BlockVerified, ChainError> {
    if (this.failure !== undefined) return Either.left(this.failure)
    const result = this.check(block)
    if (result instanceof ChainError) {
      this.failure = result
      return Either.left(result)
    }
    return Either.right(result)
  }

  /**
   * Ends verification. With `headCertificate`, also checks that it certifies the head block:
   * q valid COMMIT signatures of the head block's view on its header hash.
   */
  finish(headCertificate?: Certificate): Either.Either<ChainSummary, ChainError> {
    if (this.failure !== undefined) return Either.left(this.failure)
    let headCertified = false
    if (headCertificate !== undefined) {
      if (this.blocks === 0) {
        this.failure = fail(0n, "BadCertificate", "a head certificate for a chain with no blocks")
        return Either.left(this.failure)
      }
      const problem = this.checkCertificate(this.height, headCertificate, this.height, this.headHash, this.headView)
      if (problem !== undefined) {
        this.failure = problem
        return Either.left(problem)
      }
      headCertified = true
    }
    return Either.right({
      blocks: this.blocks,
      transactions: this.transactions,
      views: [...this.viewIds],
      headHeight: this.height,
      headHash: this.headHash,
      currentViewId: this.view.record.id,
      lastReconfigHeight: this.lastReconfigHeight,
      headCertified
    })
  }

  /** Signatures of `view` members on `message`: members only, no repeats, at least q, all valid. */
  private checkSignatures(
    height: bigint,
    what: string,
    structural: ChainErrorReason,
    view: ViewState,
    sigs: ReadonlyArray<ReplicaSignature>,
    message: Uint8Array
  ): ChainError | undefined {
    const seen = new Set<number>()
    for (const s of sigs) {
      if (!view.keys.has(s.replica)) return fail(height, structural, `${what}: replica ${s.replica} is not a member of view ${view.record.id}`)
      if (seen.has(s.replica)) return fail(height, structural, `${what}: replica ${s.replica} signs twice`)
      seen.add(s.replica)
    }
    if (sigs.length < view.quorum)
      return fail(height, "MissingSignatures", `${what}: ${sigs.length} signatures, view ${view.record.id} needs ${view.quorum}`)
    for (const s of sigs) {
      if (!this.crypto.verify(view.keys.get(s.replica) as Uint8Array, message, s.signature))
        return fail(height, "BadSignature", `${what}: signature of replica ${s.replica} does not verify`)
    }
    return undefined
  }

  /** A certificate of block `certHeight` with header hash `hash`, by `view`; errors are reported at `at`. */
  private checkCertificate(
    at: bigint,
    cert: Certificate,
    certHeight: bigint,
    hash: Uint8Array,
    view: ViewState
  ): ChainError | undefined {
    const what = `certificate of block ${certHeight}`
    if (cert.height !== certHeight) return fail(at, "BadCertificate", `${what}: it names height ${cert.height}`)
    if (cert.viewId !== view.record.id)
      return fail(at, "BadCertificate", `${what}: it names view ${cert.viewId}, the block is in view ${view.record.id}`)
    if (!bytesEqual(cert.headerHash, hash)) return fail(at, "BadCertificate", `${what}: header hash differs`)
    const message = commitSigningBytes(this.chainId, { viewId: cert.viewId, height: cert.height, headerHash: cert.headerHash })
    return this.checkSignatures(at, what, "BadCertificate", view, cert.commits, message)
  }

  private check(block: Block): BlockVerified | ChainError {
    const { crypto } = this
    const h = this.height + 1n
    const header = block.header

    if (header.height !== h) return fail(h, "BadHeight", `expected height ${h}, got ${header.height}`)
    if (!bytesEqual(header.prevHash, this.headHash))
      return fail(h, "BadLink", `prevHash is not the hash of ${h === 1n ? "genesis" : `block ${h - 1n}`}`)

    const view = this.view
    const viewId = view.record.id
    if (header.viewId !== viewId)
      return fail(
        h,
        "WrongView",
        header.viewId < viewId
          ? `certified by view ${header.viewId}, superseded by view ${viewId}`
          : `claims view ${header.viewId}, the chain is in view ${viewId}`
      )
    if (!bytesEqual(header.viewHash, view.hash)) return fail(h, "WrongView", `viewHash is not the hash of view ${viewId}`)
    if (block.decision.viewId !== viewId)
      return fail(h, "WrongView", `decision proof of view ${block.decision.viewId}, the chain is in view ${viewId}`)

    if (block.results.length !== block.transactions.length)
      return fail(h, "BadResultCount", `${block.transactions.length} transactions but ${block.results.length} results`)
    const root = batchHash(crypto, block.transactions)
    if (!bytesEqual(header.txRoot, root)) return fail(h, "BadTxRoot", "txRoot is not the Merkle root of the transactions")
    if (!bytesEqual(header.resultsRoot, blockResultsRoot(crypto, block)))
      return fail(
        h,
        "BadResultsRoot",
        `resultsRoot is not the Merkle root of the results${Option.isSome(block.newView) ? " and the new view" : ""}`
      )
    if (!bytesEqual(header.decisionHash, decisionHash(crypto, block.decision)))
      return fail(h, "BadDecisionHash", "decisionHash is not the hash of the decision proof")

    const d = block.decision
    if (!bytesEqual(d.batchHash, root)) return fail(h, "BadDecisionProof", "the decision proof is for another batch")
    if (d.cid !== h) return fail(h, "BadDecisionProof", `the decision proof is for instance ${d.cid}, block ${h} is instance ${h}`)
    const acceptMessage = acceptSigningBytes(this.chainId, d)
    const proofProblem = this.checkSignatures(h, "decision proof", "BadDecisionProof", view, d.accepts, acceptMessage)
    if (proofProblem !== undefined) return proofProblem

    const certProblem = match({ strong: this.strong, first: h === 1n, cert: block.prevCertificate })
      .with({ strong: false, cert: { _tag: "Some" } }, () =>
        fail(h, "BadCertificate", "a previous-block certificate in a chain that is not in strong mode")
      )
      .with({ first: true, cert: { _tag: "Some" } }, () => fail(h, "BadCertificate", "block 1 has no previous block to certify"))
      .with({ strong: true, first: false, cert: { _tag: "None" } }, () =>
        fail(h, "BadCertificate", `strong mode: missing the certificate of block ${h - 1n}`)
      )
      .with({ strong: true, first: false, cert: { _tag: "Some", value: P.select() } }, (cert) =>
        this.checkCertificate(h, cert, h - 1n, this.headHash, this.headView)
      )
      .otherwise(() => undefined)
    if (certProblem !== undefined) return certProblem

    const ids = new Set<string>()
    for (let i = 0; i < block.transactions.length; i++) {
      const tx = block.transactions[i]!
      const id = `${toHex(tx.client)}/${tx.seq}`
      if (ids.has(id)) return fail(h, "DuplicateTransaction", `transaction ${i} repeats client ${toHex(tx.client)} seq ${tx.seq}`)
      ids.add(id)
    }
    if (this.checkTxSignatures) {
      for (let i = 0; i < block.transactions.length; i++) {
        const tx = block.transactions[i]!
        if (!crypto.verify(tx.client, txSigningBytes(this.chainId, tx), tx.signature))
          return fail(h, "BadSignature", `transaction ${i}: the client's signature does not verify`)
      }
    }

    if (header.lastCheckpointHeight < this.lastCheckpointHeight || header.lastCheckpointHeight > h)
      return fail(
        h,
        "BadCheckpointHeight",
        `lastCheckpointHeight ${header.lastCheckpointHeight} outside ${this.lastCheckpointHeight}..${h}`
      )

    let next: ViewState | undefined
    if (Option.isSome(block.newView)) {
      const nv = block.newView.value
      if (nv.id !== viewId + 1n) return fail(h, "BadViewRecord", `installs view ${nv.id}, expected ${viewId + 1n}`)
      const problem = viewRecordProblem(nv)
      if (problem !== undefined) return fail(h, "BadViewRecord", `view ${nv.id}: ${problem}`)
      for (const m of nv.members)
        if (this.usedViewKeys.has(toHex(m.viewKey)))
          return fail(h, "BadViewRecord", `view ${nv.id}: replica ${m.replica} reuses a view key of an earlier view`)
      if (header.lastReconfigHeight !== h)
        return fail(h, "BadReconfigHeight", `installs a view, so lastReconfigHeight must be ${h}, got ${header.lastReconfigHeight}`)
      next = viewState(crypto, nv)
    } else if (header.lastReconfigHeight !== this.lastReconfigHeight) {
      return fail(h, "BadReconfigHeight", `lastReconfigHeight must be ${this.lastReconfigHeight}, got ${header.lastReconfigHeight}`)
    }

    // Every check passed: advance.
    const hash = headerHash(crypto, header)
    this.height = h
    this.headHash = hash
    this.headView = view
    this.lastCheckpointHeight = header.lastCheckpointHeight
    this.blocks += 1
    this.transactions += block.transactions.length
    if (next !== undefined) {
      this.view = next
      this.lastReconfigHeight = h
      this.viewIds.push(next.record.id)
      for (const m of next.record.members) this.usedViewKeys.add(toHex(m.viewKey))
    }
    return {
      height: h,
      hash,
      transactions: block.transactions.length,
      installedViewId: next === undefined ? Option.none() : Option.some(next.record.id)
    }
  }
}

/**
 * Verifies `blocks` (heights 1, 2, ...) against `genesis`. With `options.headCertificate`, also
 * checks the head block's certificate.
 */
export const verifyChain = (
  crypto: ChainCrypto,
  genesis: Genesis,
  blocks: Iterable<Block>,
  options: VerifyOptions & { readonly headCertificate?: Certificate } = {}
): Either.Either<ChainSummary, ChainError> => {
  const verifier = ChainVerifier.start(crypto, genesis, options)
  for (const block of blocks) {
    const r = verifier.next(block)
    if (Either.isLeft(r)) return Either.left(r.left)
  }
  return verifier.finish(options.headCertificate)
}
