/**
 * Reconfiguration in the replica process (PROTOCOL.md section 6, conformance/RECONFIG.md section
 * 4): the node's view keys on disk, the Verifier that checks each input against the view it
 * belongs to, and what the node does with the core's reconfiguration outputs.
 *
 * - View keys: one file per view, `<key dir>/view-<id>.key` (src/services/view-keys.ts; `init`
 *   writes view-0.key). `NodeViewKeys` loads every one present and hands the core a Signer per
 *   held view (`ReconfigSetup.viewSigner`). A fresh key is generated, written (0600, synced) and
 *   only then announced; EraseKeys erases the files (the shell, before anything else happens)
 *   and the node forgets the keys.
 * - RotateKey: a membership change is decided and the replica continues into the next view: the
 *   node makes the key for that view and submits ROTATE (signed by the identity key, the current
 *   view key and the new one) to itself and to every peer. The seq is a function of the view, so
 *   a ROTATE submitted again after a restart is the same transaction.
 * - ViewInstalled: the node's peers become the members of every view its chain installed (a
 *   member that left still fetches the new view's first decision from them before it erases
 *   its keys, and a joiner is dialed once its view is installed).
 * - Metrics (`ViewMetrics`, read by ./metrics.ts): views installed, ROTATEs submitted, key files
 *   erased, and the membership requests of every block this replica writes, by kind and outcome
 *   (`ok` or the refusal's reason), counted once per height.
 * - The Verifier: a consensus message is checked against the view it names, if the chain
 *   installed that view and it is not older than the configured one (older ones are dropped as
 *   WrongView); a decided instance fetched by state transfer against the view of its decision
 *   proof; everything else against the configured view. Runs of inputs of one view are checked
 *   together, in order.
 */
import { Effect, Either, Layer } from "effect"
import { toHex } from "../chain/bytes.ts"
import type { Block, Genesis, Member, Transaction, ViewRecord } from "../chain/types.ts"
import type { Signer } from "../core/config.ts"
import type { EraseViewKeysOutput, Input, RotateKeyOutput, ViewInstalledOutput } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"
import type { BlockStoreApi } from "../services/blockstore-core.ts"
import { byzantineQuorum } from "../core/quorum.ts"
import type { PeerEntry } from "../net/peer-manager.ts"
import type { ReconfigSetup } from "../reconfiguration/core-views.ts"
import type { Signer as KeySigner } from "../reconfiguration/requests.ts"
import { decodeReconfigOp, isReconfigOp, joinRequest, leaveRequest, removeRequest, requestTransaction } from "../reconfiguration/requests.ts"
import { rotate } from "../reconfiguration/rotate.ts"
import { reconfigContext, reconfigReasons } from "../reconfiguration/view-state.ts"
import { decodeResult } from "../app/application.ts"
import type { CryptoImpl } from "../services/crypto.ts"
import type { KeyFile } from "../services/keystore.ts"
import type { KeyFileError } from "../services/keystore.ts"
import type { SignatureMemory, VerifierContext, VerifyResult } from "../services/verifier.ts"
import { InputVerifier, Verifier } from "../services/verifier.ts"
import { listViewKeys, readViewKey, storeViewKey } from "../services/view-keys.ts"

/** The seq of a membership request: one per kind, view and target, so a request made again is the same transaction. */
export const requestSeq = (kind: "join" | "leave" | "remove" | "rotate", viewId: bigint, target = 0): bigint =>
  viewId * 1_000_000n + BigInt({ join: 1, leave: 2, remove: 3, rotate: 4 }[kind]) * 100_000n + BigInt(target)

export const keySigner = (crypto: CryptoImpl, key: KeyFile): KeySigner => ({ publicKey: key.publicKey, sign: (m) => crypto.sign(key.secretKey, m) })

/** A replica's view keys: the files of its key directory, and the keys loaded from them. */
export class NodeViewKeys {
  private readonly signers = new Map<bigint, Signer>()

  private constructor(
    readonly dir: string,
    private readonly crypto: CryptoImpl,
    private readonly replica: number | undefined,
    private readonly keys: Map<bigint, KeyFile>
  ) {}

  /** Loads every `view-<id>.key` of `dir`. */
  static load(dir: string, crypto: CryptoImpl, replica: number | undefined): Effect.Effect<NodeViewKeys, KeyFileError> {
    return Effect.gen(function* () {
      const views = yield* listViewKeys(dir)
      const keys = new Map<bigint, KeyFile>()
      for (const v of views) keys.set(v, yield* readViewKey(dir, v))
      return new NodeViewKeys(dir, crypto, replica, keys)
    })
  }

  /** The views whose keys are held, ascending. */
  held(): ReadonlyArray<bigint> {
    return [...this.keys.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  key(view: bigint): KeyFile | undefined {
    return this.keys.get(view)
  }

  /** The core's signer of view `view`'s key, while it is held. */
  signer(view: bigint): Signer | undefined {
    const key = this.keys.get(view)
    if (key === undefined) return undefined
    let signer = this.signers.get(view)
    if (signer === undefined) {
      signer = { sign: this.crypto.signer?.(key.secretKey) ?? ((m: Uint8Array) => this.crypto.sign(key.secretKey, m)) }
      this.signers.set(view, signer)
    }
    return signer
  }

  /**
   * A signer of view `view` for a configuration built before the key may be erased: it signs
   * with the key while it is held. The core signs only for the view it runs in, whose key it
   * holds (it erases a key only after installing a later view).
   */
  lazySigner(view: bigint): Signer {
    return {
      sign: (m) => {
        const s = this.signer(view)
        if (s === undefined) throw new Error(`the key of view ${view} is not held`)
        return s.sign(m)
      }
    }
  }

  /** Holds `key` as the key of view `view` (a key file named otherwise, e.g. by a configuration). */
  adopt(view: bigint, key: KeyFile): void {
    this.keys.set(view, key)
  }

  /** The key of view `view`: the one held, or a fresh one, stored (synced) before it is returned. */
  make(view: bigint): Effect.Effect<KeyFile, KeyFileError> {
    const held = this.keys.get(view)
    if (held !== undefined) return Effect.succeed(held)
    const secretKey = this.crypto.generateSecretKey()
    const key: KeyFile = { kind: "view", replica: this.replica, view, publicKey: this.crypto.publicKeyFromSecret(secretKey), secretKey }
    return Effect.as(
      Effect.tap(storeViewKey(this.dir, this.replica ?? 0, view, key.publicKey, secretKey), () => Effect.sync(() => this.keys.set(view, key))),
      key
    )
  }

  /** Forgets keys whose files were erased. */
  forget(views: ReadonlyArray<bigint>): void {
    for (const v of views) {
      this.keys.delete(v)
      this.signers.delete(v)
    }
  }
}

/** The core's reconfiguration setup of a node: genesis's admission policy, its identity, its held view keys, erasure on. */
export const nodeReconfigSetup = (crypto: CryptoImpl, genesis: Genesis, identityKey: Uint8Array, keys: NodeViewKeys): ReconfigSetup => ({
  context: reconfigContext(crypto, genesis),
  identityKey,
  viewSigner: (viewId) => keys.signer(viewId),
  erasure: true
})

/** The views a replica's chain installed, genesis's first (its own view when it has no reconfiguration state). */
export const installedViews = (state: ReplicaState): ReadonlyArray<{ readonly record: ViewRecord; readonly installedAt: bigint }> =>
  state.reconfig?.history ?? [{ record: state.config.view, installedAt: 0n }]

/** The record of view `id`, if the replica's chain installed it. */
export const installedViewRecord = (state: ReplicaState, id: bigint): ViewRecord | undefined => installedViews(state).find((v) => v.record.id === id)?.record

/** The peers of a node: every member of every view its chain installed (the last address of each replica wins). */
export const peersOfViews = (views: ReadonlyArray<{ readonly record: ViewRecord }>): ReadonlyArray<PeerEntry> => {
  const byReplica = new Map<number, Member>()
  for (const v of views) for (const m of v.record.members) byReplica.set(m.replica, m)
  return [...byReplica.values()].map((m) => ({ replica: m.replica, identityKey: m.identityKey, address: m.address }))
}

/** A Verifier over the views the replica's chain installed (see the header comment). */
export class ViewsVerifier {
  private readonly verifiers = new Map<bigint, InputVerifier>()

  constructor(
    private readonly context: Omit<VerifierContext, "view" | "previousView" | "quorum">,
    private readonly state: () => ReplicaState
  ) {}

  private verifierFor(view: ViewRecord, previous: ViewRecord | undefined, quorum: number): InputVerifier {
    let v = this.verifiers.get(view.id)
    if (v === undefined) {
      v = new InputVerifier({ ...this.context, view, quorum, ...(previous === undefined ? {} : { previousView: previous }) })
      this.verifiers.set(view.id, v)
    }
    return v
  }

  /** The view an input is checked against, or undefined when it names a view this replica cannot check. */
  private viewFor(state: ReplicaState, input: Input): bigint | undefined {
    switch (input._tag) {
      case "Message":
        return input.message.viewId >= state.config.view.id ? input.message.viewId : undefined
      case "Decided":
        return input.proof.viewId
      default:
        return state.config.view.id
    }
  }

  verify(inputs: ReadonlyArray<Input>): VerifyResult {
    const state = this.state()
    const history = installedViews(state)
    const accepted: Array<Input> = []
    const rejected: Array<{ readonly input: Input; readonly reason: "WrongView" }> = []
    const all: Array<VerifyResult["rejected"][number]> = []
    let i = 0
    while (i < inputs.length) {
      const viewId = this.viewFor(state, inputs[i]!)
      let j = i + 1
      while (j < inputs.length && this.viewFor(state, inputs[j]!) === viewId) j++
      const run = inputs.slice(i, j)
      i = j
      const index = viewId === undefined ? -1 : history.findIndex((e) => e.record.id === viewId)
      if (index < 0) {
        for (const input of run) rejected.push({ input, reason: "WrongView" })
        continue
      }
      const record = history[index]!.record
      const quorum = record.id === state.config.view.id ? state.config.quorum : byzantineQuorumOf(record)
      const result = this.verifierFor(record, history[index - 1]?.record, quorum).verify(run)
      accepted.push(...result.accepted)
      all.push(...result.rejected)
    }
    return { accepted, rejected: [...all, ...rejected] }
  }
}

const byzantineQuorumOf = (view: ViewRecord): number => byzantineQuorum(view.n, view.f)

/** The Verifier service of a node that follows reconfigurations. */
export const viewsVerifierLayer = (
  context: { readonly chainId: string; readonly limits: Genesis["limits"]; readonly crypto: CryptoImpl; readonly memory: SignatureMemory },
  state: () => ReplicaState
): Layer.Layer<Verifier> =>
  Layer.sync(Verifier, () => {
    const verifier = new ViewsVerifier(context, state)
    return { verify: (inputs) => Effect.sync(() => verifier.verify(inputs)) }
  })

/** Counters of the node's reconfiguration work. */
export interface ViewMetrics {
  /** ROTATE transactions submitted (one per view this replica continued into). */
  rotations: number
  /** View key files erased. */
  keysErased: number
  /** Views installed since the node started (a restart counts the views its replay installs again). */
  viewsInstalled: number
  left: boolean
  /**
   * Membership requests in the blocks this replica wrote, by `<kind>/<outcome>`: kind join,
   * leave, remove or rotate (malformed when the op does not decode); outcome `ok` or the reason
   * of the refusal (conformance/RECONFIG.md section 3).
   */
  readonly requests: Record<string, number>
  /** The highest height whose requests were counted. */
  countedTo: bigint
}

/** The outcome of a reconfiguration result: `ok`, or the refusal's reason name. */
export const reconfigOutcome = (result: Uint8Array | undefined): string => {
  if (result === undefined) return "NoResult"
  const view = decodeResult(result)
  if (Either.isLeft(view)) return "Undecodable"
  if (view.right._tag === "Ok") return "ok"
  const failed = reconfigReasons.decodeFailed(view.right)
  return Either.isRight(failed) ? failed.right.reason : `code-${view.right.reason}`
}

/** The membership requests of `block` with their outcomes, as `<kind>/<outcome>` keys. */
export const membershipOutcomes = (block: Block): Array<string> => {
  const keys: Array<string> = []
  block.transactions.forEach((tx, i) => {
    if (!isReconfigOp(tx.op)) return
    const decoded = decodeReconfigOp(tx.op)
    const kind = Either.isLeft(decoded) ? "malformed" : decoded.right._tag.toLowerCase()
    keys.push(`${kind}/${reconfigOutcome(block.results[i])}`)
  })
  return keys
}

/** Counts the membership requests of `block` once (a block written again at a counted height is not counted again). */
export const countMembershipRequests = (metrics: ViewMetrics, block: Block): void => {
  if (block.header.height <= metrics.countedTo) return
  metrics.countedTo = block.header.height
  for (const key of membershipOutcomes(block)) metrics.requests[key] = (metrics.requests[key] ?? 0) + 1
}

export interface ViewFollowerDeps {
  readonly chainId: string
  readonly crypto: CryptoImpl
  readonly identity: KeyFile
  readonly keys: NodeViewKeys
  readonly state: () => ReplicaState
  /** Hands a transaction to this replica (as POST /tx does). */
  readonly submit: (tx: Transaction) => boolean
  /** Sends a transaction to every peer (so the leader of any regency has it). */
  readonly broadcast: (tx: Transaction) => Effect.Effect<void>
  /** Replaces the node's peers. */
  readonly setPeers: (peers: ReadonlyArray<PeerEntry>) => void
  /** One line per event worth telling an operator. */
  readonly log: (line: string) => Effect.Effect<void>
}

/** The node's side of RotateKey, EraseViewKeys and ViewInstalled (the shell's `onReconfig`). */
export const viewFollower = (deps: ViewFollowerDeps) => {
  const metrics: ViewMetrics = { rotations: 0, keysErased: 0, viewsInstalled: 0, left: false, requests: {}, countedTo: 0n }
  const onReconfig = (out: RotateKeyOutput | EraseViewKeysOutput | ViewInstalledOutput): Effect.Effect<void> => {
    switch (out._tag) {
      case "RotateKey":
        return Effect.gen(function* () {
          const state = deps.state()
          const cv = state.reconfig
          if (cv === undefined) return
          const current = deps.keys.key(cv.chain.view.id)
          if (current === undefined) return yield* deps.log(`cannot rotate into view ${out.nextViewId}: the key of view ${cv.chain.view.id} is not held`)
          const fresh = yield* deps.keys.make(out.nextViewId)
          const made = rotate(
            cv.local,
            cv.chain,
            deps.chainId,
            keySigner(deps.crypto, deps.identity),
            keySigner(deps.crypto, current),
            keySigner(deps.crypto, fresh),
            requestSeq("rotate", out.nextViewId)
          )
          metrics.rotations++
          deps.submit(made.transaction)
          yield* deps.broadcast(made.transaction)
          yield* deps.log(`rotating into view ${out.nextViewId}: new view key ${toHex(fresh.publicKey).slice(0, 16)}... stored in ${deps.keys.dir}`)
        }).pipe(Effect.catchAll((e: KeyFileError) => deps.log(`cannot rotate into view ${out.nextViewId}: ${e.message}`)))
      case "EraseViewKeys":
        return Effect.suspend(() => {
          // The shell erased the files; a restart asks again for keys already gone.
          const held = out.views.filter((v) => deps.keys.key(v) !== undefined)
          deps.keys.forget(out.views)
          metrics.keysErased += held.length
          return held.length === 0 ? Effect.void : deps.log(`erased the keys of view${held.length === 1 ? "" : "s"} ${held.join(", ")}`)
        })
      case "ViewInstalled":
        return Effect.suspend(() => {
          metrics.viewsInstalled++
          if (out.left) metrics.left = true
          deps.setPeers(peersOfViews(installedViews(deps.state())))
          return deps.log(
            out.left
              ? `left: view ${out.view.id} is installed without this replica`
              : `installed view ${out.view.id} (${out.view.n} members, f = ${out.view.f}) as replica ${out.self}`
          )
        })
    }
  }
  /** `store` with every appended block's membership requests counted in `metrics`. */
  const observing = (store: BlockStoreApi): BlockStoreApi => ({
    ...store,
    appendBlock: (block) => Effect.tap(store.appendBlock(block), () => Effect.sync(() => countMembershipRequests(metrics, block)))
  })
  return { onReconfig, metrics, observing }
}

/** A membership request by the holder of `identity` (`smartchain view join|leave|remove`). */
export type MembershipRequest =
  | { readonly kind: "join"; readonly address: string; readonly viewKey: KeyFile }
  | { readonly kind: "leave" }
  | { readonly kind: "remove"; readonly target: number }

/** The signed transaction of a membership request for the chain's current view `viewId`. */
export const membershipTransaction = (crypto: CryptoImpl, chainId: string, identity: KeyFile, viewId: bigint, request: MembershipRequest): Transaction => {
  const signer = keySigner(crypto, identity)
  switch (request.kind) {
    case "join":
      return requestTransaction(chainId, signer, requestSeq("join", viewId), joinRequest(chainId, signer, { viewId, address: request.address }, keySigner(crypto, request.viewKey)))
    case "leave":
      return requestTransaction(chainId, signer, requestSeq("leave", viewId), leaveRequest(viewId))
    case "remove":
      return requestTransaction(chainId, signer, requestSeq("remove", viewId, request.target), removeRequest(viewId, request.target))
  }
}

/** A reconfiguration result in words: `ok`, or `refused: <reason>: <text>` (conformance/RECONFIG.md section 3). */
export const describeReconfigResult = (result: Uint8Array): string => {
  const view = decodeResult(result)
  if (Either.isLeft(view)) return `undecodable result ${toHex(result)}`
  if (view.right._tag === "Ok") return "ok"
  const failed = reconfigReasons.decodeFailed(view.right)
  return Either.isRight(failed) ? `refused: ${failed.right.reason}: ${failed.right.text}` : `refused: code ${view.right.reason}: ${view.right.text}`
}
