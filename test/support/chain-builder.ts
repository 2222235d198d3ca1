/**
 * Builds valid, signed chains for tests: a genesis with deterministic keys (derived from a seed
 * label, so every run produces the same bytes), then blocks decided and (in strong mode)
 * certified by quorums of the right view, optionally with view changes.
 *
 *   const chain = buildChain({ persistence: "strong", blocks: 6, txPerBlock: 3, viewChangeAt: 3 })
 *   verifyChain(portableCrypto, chain.genesis, chain.blocks, { headCertificate: chain.headCertificate })
 *
 * For a block with a specific defect use ChainBuilder directly: `next()` takes hooks that change
 * the decision proof, header or block before or after hashing, and can certify with any view's
 * keys, so a test can isolate one broken check.
 */
import * as ed from "@noble/ed25519"
import { sha256, sha512 } from "@noble/hashes/sha2.js"
import { Option } from "effect"
import { acceptSigningBytes, commitSigningBytes, txSigningBytes } from "../../src/chain/encoding.ts"
import type { ChainCrypto } from "../../src/chain/crypto.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { batchHash, decisionHash, genesisHash, headerHash, resultsRoot, viewHash } from "../../src/chain/hash.ts"
import type {
  Block,
  BlockHeader,
  Certificate,
  DecisionProof,
  Genesis,
  Limits,
  Member,
  PersistenceMode,
  ReplicaSignature,
  Transaction,
  ViewRecord
} from "../../src/chain/types.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { byzantineQuorum, faultsTolerated } from "../../src/core/quorum.ts"

ed.hashes.sha512 = sha512

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

export interface KeyPair {
  readonly secret: Uint8Array
  readonly publicKey: Uint8Array
}

/** The Ed25519 key pair derived from a label: secret = SHA-256("smartchain-test-key" 0x00 label). */
export const keyPairFromLabel = (label: string): KeyPair => {
  const secret = sha256(utf8(`smartchain-test-key\u0000${label}`))
  return { secret, publicKey: ed.getPublicKey(secret) }
}

/** Deterministic Ed25519 signature (RFC 8032). */
export const signBytes = (secret: Uint8Array, message: Uint8Array): Uint8Array => ed.sign(message, secret)

export const signTransaction = (chainId: string, client: KeyPair, seq: bigint, op: Uint8Array): Transaction => ({
  client: client.publicKey,
  seq,
  op,
  signature: signBytes(client.secret, txSigningBytes(chainId, { client: client.publicKey, seq, op }))
})

/** A view record with the private view keys of its members. */
export interface ViewKeys {
  readonly record: ViewRecord
  /** replica id -> view-key secret */
  readonly secrets: ReadonlyMap<number, Uint8Array>
  /** replica id -> identity key pair */
  readonly identities: ReadonlyMap<number, KeyPair>
}

/** View `id` with members `replicas` (ids); keys derived from `seed`. */
export const makeView = (seed: string, id: bigint, replicas: ReadonlyArray<number>): ViewKeys => {
  const members: Array<Member> = []
  const secrets = new Map<number, Uint8Array>()
  const identities = new Map<number, KeyPair>()
  for (const replica of replicas) {
    const identity = keyPairFromLabel(`${seed}/replica-${replica}/identity`)
    const viewKey = keyPairFromLabel(`${seed}/replica-${replica}/view-${id}`)
    members.push({ replica, identityKey: identity.publicKey, viewKey: viewKey.publicKey, address: `127.0.0.1:${7000 + 2 * replica}` })
    secrets.set(replica, viewKey.secret)
    identities.set(replica, identity)
  }
  const n = members.length
  return { record: { id, members, n, f: faultsTolerated(n) }, secrets, identities }
}

export const quorumOf = (view: ViewRecord): number => byzantineQuorum(view.n, view.f)

/** Signatures of the given replicas (default: the first q members) over `message`. */
export const signAs = (
  view: ViewKeys,
  message: Uint8Array,
  replicas: ReadonlyArray<number> = view.record.members.slice(0, quorumOf(view.record)).map((m) => m.replica)
): Array<ReplicaSignature> =>
  replicas.map((replica) => {
    const secret = view.secrets.get(replica)
    if (secret === undefined) throw new Error(`replica ${replica} holds no key of view ${view.record.id}`)
    return { replica, signature: signBytes(secret, message) }
  })

/** A decision proof for `batchHash` signed by a quorum (or `replicas`) of `view`. */
export const makeDecisionProof = (
  chainId: string,
  view: ViewKeys,
  fields: { readonly cid: bigint; readonly regency: bigint; readonly batchHash: Uint8Array },
  replicas?: ReadonlyArray<number>
): DecisionProof => {
  const base = { viewId: view.record.id, cid: fields.cid, regency: fields.regency, batchHash: fields.batchHash }
  return { ...base, accepts: signAs(view, acceptSigningBytes(chainId, base), replicas) }
}

/** A certificate of (height, headerHash) signed by a quorum (or `replicas`) of `view`. */
export const makeCertificate = (
  chainId: string,
  view: ViewKeys,
  height: bigint,
  hash: Uint8Array,
  replicas?: ReadonlyArray<number>
): Certificate => {
  const base = { viewId: view.record.id, height, headerHash: hash }
  return { ...base, commits: signAs(view, commitSigningBytes(chainId, base), replicas) }
}

export interface ChainBuilderOptions {
  readonly chainId?: string
  readonly persistence?: PersistenceMode
  /** Members of view 0 (replica ids 0..replicas-1). Default 4. */
  readonly replicas?: number
  /** Client key pairs that sign the transactions, used in turn. Default 2. */
  readonly clients?: number
  /** Label all keys derive from. */
  readonly seed?: string
  readonly limits?: Limits
  readonly minters?: number
  /**
   * Continue from an existing genesis (e.g. one written by `smartchain init`) whose view-0 key
   * secrets are given by replica id, instead of deriving keys from `seed`.
   */
  readonly from?: { readonly genesis: Genesis; readonly viewSecrets: ReadonlyMap<number, Uint8Array> }
  /** Pad each fresh transaction's op to this many bytes (default: just its label). */
  readonly opBytes?: number
  /** Identity keys genesis allows to JOIN (default none). */
  readonly admission?: ReadonlyArray<Uint8Array>
}

export interface NextBlockOptions {
  /** Transactions to order (default: `txCount` fresh signed ones). */
  readonly transactions?: ReadonlyArray<Transaction>
  /** Number of fresh transactions when `transactions` is not given. Default 2. */
  readonly txCount?: number
  /** Results (default: one per transaction). */
  readonly results?: ReadonlyArray<Uint8Array>
  /**
   * Install the next view in this block; `replicas` lists its members (default: the current
   * ones); `record` may change the record before it is committed to (for invalid-view tests).
   */
  readonly installView?: {
    readonly replicas?: ReadonlyArray<number>
    readonly record?: (v: ViewRecord) => ViewRecord
    /** Install exactly this view (record and private keys), e.g. one computed from ROTATE and JOIN requests. */
    readonly keys?: ViewKeys
  }
  /** Members whose keys sign the decision proof and certificate (default: the first q of the signing view). */
  readonly signers?: ReadonlyArray<number>
  /** Decide and certify with this view instead of the current one (its id and hash go in the header). */
  readonly signingView?: ViewKeys
  /** Changes the decision proof before its hash enters the header. */
  readonly decision?: (proof: DecisionProof) => DecisionProof
  /** Changes the header before it is hashed (later blocks link to the changed header). */
  readonly header?: (header: BlockHeader) => BlockHeader
  /** Changes the finished block (later blocks still link to the header as built). */
  readonly block?: (block: Block) => Block
}

/** Builds a chain one block at a time; every block is valid unless a hook makes it otherwise. */
export class ChainBuilder {
  readonly chainId: string
  readonly genesis: Genesis
  readonly genesisHash: Uint8Array
  readonly blocks: Array<Block> = []
  /** certificates[i] certifies blocks[i] (computed in every mode; carried in blocks only in strong mode). */
  readonly certificates: Array<Certificate> = []
  readonly views: Array<ViewKeys> = []
  readonly clients: ReadonlyArray<KeyPair>
  readonly minters: ReadonlyArray<KeyPair>
  private readonly seed: string
  private view: ViewKeys
  private prevHash: Uint8Array
  private lastReconfigHeight = 0n
  private nextSeq = 0n
  private txCounter = 0
  private readonly opBytes: number

  constructor(
    options: ChainBuilderOptions = {},
    readonly crypto: ChainCrypto = portableCrypto
  ) {
    this.chainId = options.chainId ?? "test-chain"
    this.opBytes = options.opBytes ?? 0
    this.seed = options.seed ?? "seed"
    const replicas = options.replicas ?? 4
    this.view =
      options.from === undefined
        ? makeView(this.seed, 0n, Array.from({ length: replicas }, (_, i) => i))
        : { record: options.from.genesis.view, secrets: options.from.viewSecrets, identities: new Map() }
    this.views.push(this.view)
    this.clients = Array.from({ length: options.clients ?? 2 }, (_, j) => keyPairFromLabel(`${this.seed}/client-${j}`))
    this.minters = Array.from({ length: options.minters ?? 1 }, (_, j) => keyPairFromLabel(`${this.seed}/minter-${j}`))
    if (options.from !== undefined) this.chainId = options.from.genesis.chainId
    this.genesis = options.from?.genesis ?? {
      chainId: this.chainId,
      view: this.view.record,
      persistence: options.persistence ?? "weak",
      minters: this.minters.map((k) => k.publicKey),
      admission: options.admission ?? [],
      limits: options.limits ?? defaultLimits
    }
    this.genesisHash = genesisHash(crypto, this.genesis)
    this.prevHash = this.genesisHash
  }

  /** The view that certifies the next block. */
  get currentView(): ViewKeys {
    return this.view
  }

  get height(): bigint {
    return BigInt(this.blocks.length)
  }

  /** The certificate of the last block, if any. */
  get headCertificate(): Certificate | undefined {
    return this.certificates[this.certificates.length - 1]
  }

  /** `count` fresh transactions signed by the clients in turn, with increasing seq numbers. */
  freshTransactions(count: number): Array<Transaction> {
    const out: Array<Transaction> = []
    for (let i = 0; i < count; i++) {
      const client = this.clients[this.txCounter % this.clients.length]!
      const seq = this.nextSeq++
      const label = utf8(`op ${this.txCounter}`)
      const op = this.opBytes > label.length ? new Uint8Array(this.opBytes).fill(0x20) : label
      op.set(label)
      out.push(signTransaction(this.chainId, client, seq, op))
      this.txCounter++
    }
    return out
  }

  /** Builds, appends and returns the block at the next height. */
  next(o: NextBlockOptions = {}): Block {
    const { crypto } = this
    const h = this.height + 1n
    const signer = o.signingView ?? this.view
    const transactions = o.transactions ?? this.freshTransactions(o.txCount ?? 2)
    const results = o.results ?? transactions.map((_, i) => utf8(`ok ${h}.${i}`))
    const txRoot = batchHash(crypto, transactions)
    let decision = makeDecisionProof(this.chainId, signer, { cid: h, regency: 0n, batchHash: txRoot }, o.signers)
    if (o.decision !== undefined) decision = o.decision(decision)

    let newView: ViewKeys | undefined
    if (o.installView !== undefined) {
      const replicas = o.installView.replicas ?? this.view.record.members.map((m) => m.replica)
      newView = o.installView.keys ?? makeView(this.seed, this.view.record.id + 1n, replicas)
      if (o.installView.record !== undefined) newView = { ...newView, record: o.installView.record(newView.record) }
    }
    const k = BigInt(this.genesis.limits.checkpointInterval)
    const lastCheckpointHeight = k > 0n ? h - (h % k) : 0n
    let header: BlockHeader = {
      height: h,
      viewId: signer.record.id,
      prevHash: this.prevHash,
      txRoot,
      resultsRoot: resultsRoot(crypto, results, newView?.record),
      decisionHash: decisionHash(crypto, decision),
      lastCheckpointHeight,
      lastReconfigHeight: newView !== undefined ? h : this.lastReconfigHeight,
      viewHash: viewHash(crypto, signer.record),
      stateHash: sha256(utf8(`state after ${h}`))
    }
    if (o.header !== undefined) header = o.header(header)
    const hash = headerHash(crypto, header)
    const prev = this.certificates[this.certificates.length - 1]
    let block: Block = {
      header,
      transactions,
      results,
      decision,
      prevCertificate: this.genesis.persistence === "strong" && prev !== undefined ? Option.some(prev) : Option.none(),
      newView: newView === undefined ? Option.none() : Option.some(newView.record)
    }
    if (o.block !== undefined) block = o.block(block)

    this.blocks.push(block)
    this.certificates.push(makeCertificate(this.chainId, signer, h, hash, o.signers))
    this.prevHash = hash
    if (newView !== undefined) {
      this.view = newView
      this.views.push(newView)
      this.lastReconfigHeight = h
    }
    return block
  }
}

export interface BuildChainOptions extends ChainBuilderOptions {
  /** Blocks after genesis. Default 5. */
  readonly blocks?: number
  /** Transactions per block. Default 2. */
  readonly txPerBlock?: number
  /** Heights of blocks that install the next view (same members, fresh view keys). */
  readonly viewChangeAt?: number | ReadonlyArray<number>
}

export interface BuiltChain {
  readonly genesis: Genesis
  readonly blocks: ReadonlyArray<Block>
  readonly certificates: ReadonlyArray<Certificate>
  /** Certificate of the last block (undefined when there are no blocks). */
  readonly headCertificate: Certificate | undefined
  readonly views: ReadonlyArray<ViewKeys>
  readonly clients: ReadonlyArray<KeyPair>
  readonly builder: ChainBuilder
}

/** A valid chain in one call. */
export const buildChain = (options: BuildChainOptions = {}, crypto: ChainCrypto = portableCrypto): BuiltChain => {
  const builder = new ChainBuilder(options, crypto)
  const changes = new Set(
    options.viewChangeAt === undefined ? [] : typeof options.viewChangeAt === "number" ? [options.viewChangeAt] : options.viewChangeAt
  )
  const blocks = options.blocks ?? 5
  for (let h = 1; h <= blocks; h++)
    builder.next({ txCount: options.txPerBlock ?? 2, ...(changes.has(h) ? { installView: {} } : {}) })
  return {
    genesis: builder.genesis,
    blocks: builder.blocks,
    certificates: builder.certificates,
    headCertificate: builder.headCertificate,
    views: builder.views,
    clients: builder.clients,
    builder
  }
}
