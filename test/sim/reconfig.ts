/**
 * The reconfiguration simulator: replicas join, leave and are evicted during a run
 * (PROTOCOL.md section 6), with client load, message loss and delay, crashes of single replicas
 * and of every replica at once, and Byzantine members. Like test/sim/simulator.ts it drives the
 * real core (`step`) through per-view Verifiers, on in-memory block stores with crash semantics,
 * from one seeded PRNG; unlike it, the set of replicas and their views change during the run.
 *
 * The shell part it plays for each replica: routing by the replica's configured view, one
 * Verifier per view the replica knows, view key files as an in-memory map (RotateKey makes a
 * fresh key and submits ROTATE; EraseViewKeys deletes keys; a replica that left stops), and the
 * joiner's state transfer: it fetches blocks and certificates from members, verifies them with
 * `ChainVerifier` from genesis, stores them, and once a verified block installed a view with it,
 * starts its core in that view from its store (as a restart does).
 *
 * Checkers: Agreement and Validity on every decision; view consistency (every replica's views
 * are the chain's views, and each InstallView switches to the next one); key erasure (after
 * InstallView a replica holds no key of an older view, a replica that left holds none); no fork
 * (equal header hashes at equal heights in strong mode, equal states everywhere, every stored
 * chain passes `verifyChain` and the replay of its reconfiguration requests); DurableReplies
 * after full crashes and at the end; the coin invariants; and liveness (every request decided and
 * accepted, every running member in the last view, the expected final membership).
 */
import { Effect, Either, Option } from "effect"
import { coinApp, coinInvariants, CoinHistoryChecker, mintOp } from "../../src/app/coin.ts"
import { okResult } from "../../src/app/application.ts"
import type { CoinState } from "../../src/app/coin.ts"
import { bytesEqual, toHex } from "../../src/chain/bytes.ts"
import { commitSigningBytes, encodeViewRecord } from "../../src/chain/encoding.ts"
import { batchHash, genesisHash, headerHash, txHash, viewHash } from "../../src/chain/hash.ts"
import type { Block, Certificate, ConsensusMessage, DecisionProof, Genesis, PersistenceMode, ReplicaId, Transaction, ViewRecord } from "../../src/chain/types.ts"
import { ChainVerifier, verifyChain } from "../../src/chain/verify.ts"
import type { ReplicaConfig, Signer } from "../../src/core/config.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Input, Output, ReplyOutput, TraceEvent } from "../../src/core/io.ts"
import { coreLimits } from "../../src/core/limits.ts"
import { byzantineQuorum, faultsTolerated } from "../../src/core/quorum.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState, txKey } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { crashAllTrace, crashTrace } from "../../src/persistence/crash.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import type { PersistenceConfig } from "../../src/persistence/state.ts"
import { heightKey } from "../../src/persistence/state.ts"
import { restart } from "../../src/persistence/restart.ts"
import type { ViewEntry } from "../../src/reconfiguration/core-views.ts"
import { installViewEvent } from "../../src/reconfiguration/install-view.ts"
import { replayViews } from "../../src/reconfiguration/replay.ts"
import { joinerState } from "../../src/reconfiguration/replica-state.ts"
import { requestJoin } from "../../src/reconfiguration/request-join.ts"
import { requestLeave } from "../../src/reconfiguration/request-leave.ts"
import { requestRemove } from "../../src/reconfiguration/request-remove.ts"
import { isReconfigOp } from "../../src/reconfiguration/requests.ts"
import type { Signer as KeySigner } from "../../src/reconfiguration/requests.ts"
import { rotate } from "../../src/reconfiguration/rotate.ts"
import { initialViewState, reconfigContext } from "../../src/reconfiguration/view-state.ts"
import { applyWrite, loadDurable } from "../../src/replica/storage.ts"
import type { MemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { TraceRecord } from "../../src/services/trace.ts"
import type { DecidedInstance, Payload } from "../../src/services/transport.ts"
import type { RejectCounts } from "../../src/services/verifier.ts"
import { countRejected, InputVerifier } from "../../src/services/verifier.ts"
import type { Behaviour } from "./byzantine.ts"
import { Byzantine } from "./byzantine.ts"
import { EventHeap } from "./heap.ts"
import { Prng } from "./prng.ts"
import type { Keys, World } from "./world.ts"
import { chainId, keysFrom, signTx, simLimits } from "./world.ts"
import { coinWorkload, minterIndex } from "./workload.ts"

/** Something that happens to the membership or to the replicas at a given time. */
export type ReconfigAction =
  /** Replica `label` (not a member) asks to join, then catches up and takes part. */
  | { readonly kind: "join"; readonly atMs: number; readonly label: number }
  /** Member `label` asks to leave. */
  | { readonly kind: "leave"; readonly atMs: number; readonly label: number }
  /** Members `by` each ask to evict member `target`. */
  | { readonly kind: "remove"; readonly atMs: number; readonly target: number; readonly by: ReadonlyArray<number> }
  /** Replicas crash (unsynced writes lost) and restart from their storage after `downMs`. */
  | { readonly kind: "crash"; readonly atMs: number; readonly labels: ReadonlyArray<number> | "all"; readonly downMs: number }
  /** Every running replica crashes `delayMs` after the first one installed view `view`. */
  | { readonly kind: "crashAllAfterView"; readonly view: bigint; readonly delayMs: number; readonly downMs: number }

export interface ReconfigOptions {
  readonly seed: number
  /** Members of genesis's view (labels 0 .. n - 1). */
  readonly n: number
  /** Replicas outside genesis that may join (labels n .. n + joiners - 1), all on the allow-list. */
  readonly joiners?: number
  readonly mode?: PersistenceMode
  readonly byzantine?: ReadonlyMap<number, Behaviour>
  readonly actions: ReadonlyArray<ReconfigAction>
  /** Client transactions, submitted in [0, submitUntilMs]. */
  readonly transactions?: number
  readonly submitUntilMs?: number
  /** Until `healMs`: message loss and delays up to `faultyDelayMs`; afterwards up to `stableDelayMs`. */
  readonly healMs?: number
  readonly lossRate?: number
  readonly faultyDelayMs?: number
  readonly stableDelayMs?: number
  /** After the last action and `healMs`, everything must be done within this. */
  readonly livenessBoundMs?: number
  /** The labels the last view must hold (checked at the end). */
  readonly expectMembers?: ReadonlyArray<number>
  readonly trace?: boolean
  /** Blocks after a decided change before the next view is installed without the laggards. */
  readonly rotationWindow?: number
  /** Test-only: labels whose cores never erase old view keys (the KeyErasure checker's negative control). */
  readonly noErasure?: ReadonlyArray<number>
}

export type ReconfigProperty =
  | "Agreement"
  | "Validity"
  | "ViewConsistency"
  | "KeyErasure"
  | "NoFork"
  | "ChainVerify"
  | "DurableReplies"
  | "CoinInvariant"
  | "Liveness"
  | "Membership"
  | "Assertion"
  | "Storage"

export interface ReconfigViolation {
  readonly property: ReconfigProperty
  readonly detail: string
  readonly atMs: number
}

export interface ReconfigResult {
  readonly seed: number
  readonly violations: ReadonlyArray<ReconfigViolation>
  /** The chain's views, genesis's first: members as labels, and the installing height. */
  readonly views: ReadonlyArray<{ readonly id: bigint; readonly labels: ReadonlyArray<number>; readonly installedAt: bigint }>
  /** Each view's replica ids, in the order of `views[i].labels`. */
  readonly viewIds: ReadonlyArray<ReadonlyArray<number>>
  /** Every replica's identity key (hex) and label. */
  readonly identities: ReadonlyMap<string, number>
  readonly chainHeight: number
  readonly accepted: number
  readonly transactions: number
  readonly fullCrashes: number
  readonly endMs: number
  readonly trace: ReadonlyArray<TraceRecord>
  readonly rejected: RejectCounts
  /** Every correct replica's stored chain at the end (label, blocks). */
  readonly chains: ReadonlyArray<{ readonly label: number; readonly blocks: ReadonlyArray<Block> }>
  readonly mode: PersistenceMode
}

type Status = "member" | "joining" | "idle" | "left"

interface SimNode {
  readonly label: number
  readonly identity: Keys
  /** Private view keys it holds, by view id (its key files). */
  readonly keys: Map<bigint, Keys>
  status: Status
  state: ReplicaState | undefined
  /** The configuration it (re)starts from: its first view. */
  baseConfig: ReplicaConfig | undefined
  readonly verifiers: Map<bigint, InputVerifier>
  log: Array<DecidedInstance>
  store: MemoryBlockStore
  up: boolean
  epoch: number
  readonly byzantine: Byzantine | undefined
  /** A joiner's state transfer: the verifier of the fetched chain, and the JOIN in flight. */
  join: { verifier: ChainVerifier; height: bigint; pendingKey: string | undefined } | undefined
}

/** What a client (or a requester acting as client) holds about one transaction. */
interface ClientTx {
  readonly tx: Transaction
  readonly replies: Map<number, string>
  accepted: { readonly height: bigint; readonly resultHex: string } | undefined
  /** For a membership request: what to do with its result once accepted. */
  readonly onAccepted?: (result: Uint8Array) => void
}

type SimEvent =
  | { readonly atMs: number; readonly order: number; readonly kind: "deliver"; readonly to: number; readonly from: number; readonly fromId: ReplicaId; readonly payload: Payload }
  | { readonly atMs: number; readonly order: number; readonly kind: "tick"; readonly label: number; readonly epoch: number }
  | { readonly atMs: number; readonly order: number; readonly kind: "submit"; readonly key: string; readonly all: boolean }
  | { readonly atMs: number; readonly order: number; readonly kind: "retry"; readonly key: string }
  | { readonly atMs: number; readonly order: number; readonly kind: "reply"; readonly from: number; readonly reply: ReplyOutput }
  | { readonly atMs: number; readonly order: number; readonly kind: "syncDone"; readonly label: number; readonly seq: number; readonly epoch: number }
  | { readonly atMs: number; readonly order: number; readonly kind: "action"; readonly action: ReconfigAction }
  | { readonly atMs: number; readonly order: number; readonly kind: "restart"; readonly label: number }
  | { readonly atMs: number; readonly order: number; readonly kind: "joinPoll"; readonly label: number }
  | {
      readonly atMs: number
      readonly order: number
      readonly kind: "chainReply"
      readonly to: number
      readonly blocks: ReadonlyArray<Block>
      readonly certificates: ReadonlyArray<Certificate>
    }

const tickMs = 10
const clientRetryMs = 1_500
const joinPollMs = 100
/** While everything is answered but the system has not settled, a client sends a transaction this often. */
const probeMs = 300

/** The seq of a membership request by an identity key: one per (kind, view, target), never reused. */
const requestSeq = (kind: "join" | "leave" | "remove" | "rotate", viewId: bigint, target = 0): bigint =>
  viewId * 1_000_000n + BigInt({ join: 1, leave: 2, remove: 3, rotate: 4 }[kind]) * 100_000n + BigInt(target)

const run = <A, E>(effect: Effect.Effect<A, E>): Either.Either<A, E> => Effect.runSync(Effect.either(effect))

const keySigner = (k: Keys): KeySigner => ({ publicKey: k.publicKey, sign: (m) => nodeCrypto.sign(k.secret, m) })

const okBytes = toHex(okResult(new Uint8Array()))

export const runReconfig = (options: ReconfigOptions): ReconfigResult => {
  const prng = new Prng(options.seed)
  const mode = options.mode ?? "strong"
  const n = options.n
  const joinerCount = options.joiners ?? 0
  const limits = { ...simLimits, rotationWindow: options.rotationWindow ?? simLimits.rotationWindow }
  // Genesis members' view keys and identities (kept: members sign requests with them), then the
  // joiners' identities and the clients.
  const viewKeys = Array.from({ length: n }, () => keysFrom(prng))
  const identities = Array.from({ length: n + joinerCount }, () => keysFrom(prng))
  const genesisView: ViewRecord = {
    id: 0n,
    n,
    f: faultsTolerated(n),
    members: viewKeys.map((k, i) => ({ replica: i, identityKey: identities[i]!.publicKey, viewKey: k.publicKey, address: `sim:${i}` }))
  }
  const world: World = { view: genesisView, viewKeys, clients: Array.from({ length: 3 }, () => keysFrom(prng)), limits }
  const healMs = options.healMs ?? 1_500
  const lossRate = options.lossRate ?? 0
  const faultyDelayMs = options.faultyDelayMs ?? 30
  const stableDelayMs = options.stableDelayMs ?? 8
  const txCount = options.transactions ?? 40
  const lastActionMs = Math.max(0, ...options.actions.map((a) => ("atMs" in a ? a.atMs : 0)))
  const submitUntilMs = options.submitUntilMs ?? Math.max(600, lastActionMs + 400)
  const livenessBoundMs = options.livenessBoundMs ?? 20_000
  const endMs = Math.max(healMs, lastActionMs) + livenessBoundMs

  const genesis: Genesis = {
    chainId,
    view: genesisView,
    persistence: mode,
    minters: [world.clients[minterIndex]!.publicKey],
    admission: identities.slice(n).map((k) => k.publicKey),
    limits
  }
  const persistence: PersistenceConfig = {
    mode,
    genesis,
    genesisHash: genesisHash(nodeCrypto, genesis),
    viewHash: viewHash(nodeCrypto, genesisView),
    machine: genesisMachine(coinApp, nodeCrypto, genesis)
  }
  const context = reconfigContext(nodeCrypto, genesis)

  const violations: Array<ReconfigViolation> = []
  const trace: Array<TraceRecord> = []
  const rejected: RejectCounts = {}
  const heap = new EventHeap<SimEvent>()
  let order = 0
  let now = 0
  let fullCrashes = 0
  const violate = (property: ReconfigProperty, detail: string): void => {
    violations.push({ property, detail, atMs: now })
  }
  const emitTrace = (event: TraceEvent): void => {
    if (options.trace === true) trace.push({ seq: trace.length, timeMs: now, event })
  }

  // ---- Replicas --------------------------------------------------------------------------------

  const identityLabel = new Map<string, number>()
  const nodes: Array<SimNode> = []
  const newStore = (): MemoryBlockStore => Effect.runSync(makeMemoryBlockStore({ crypto: nodeCrypto }))
  for (let label = 0; label < n + joinerCount; label++) {
    const behaviour = options.byzantine?.get(label)
    const node: SimNode = {
      label,
      identity: identities[label]!,
      keys: new Map(label < n ? [[0n, viewKeys[label]!]] : []),
      status: label < n ? "member" : "idle",
      state: undefined,
      baseConfig: undefined,
      verifiers: new Map(),
      log: [],
      store: newStore(),
      up: true,
      epoch: 0,
      byzantine: behaviour === undefined ? undefined : new Byzantine(behaviour, label, world, prng),
      join: undefined
    }
    identityLabel.set(toHex(node.identity.publicKey), label)
    nodes.push(node)
  }

  const setupFor = (node: SimNode) => ({
    context,
    identityKey: node.identity.publicKey,
    viewSigner: (viewId: bigint): Signer | undefined => (node.keys.has(viewId) ? signerOf(node, viewId) : undefined),
    erasure: !(options.noErasure ?? []).includes(node.label)
  })

  /** Signs with the node's key of `viewId`; signing with an erased key is a programmer error. */
  const signerOf = (node: SimNode, viewId: bigint): Signer => ({
    sign: (message) => {
      const k = node.keys.get(viewId)
      if (k === undefined) throw new Error(`replica ${node.label} signs with its erased key of view ${viewId}`)
      return nodeCrypto.sign(k.secret, message)
    }
  })

  const configFor = (node: SimNode, view: ViewRecord): ReplicaConfig => {
    const self = view.members.find((m) => bytesEqual(m.identityKey, node.identity.publicKey))
    if (self === undefined) throw new Error(`label ${node.label} is not in view ${view.id}`)
    return makeConfig({ self: self.replica, chainId, view, limits, crypto: nodeCrypto, signer: signerOf(node, view.id), persistence, reconfig: setupFor(node) })
  }

  for (let label = 0; label < n; label++) {
    const node = nodes[label]!
    node.baseConfig = configFor(node, genesisView)
    node.state = initialState(node.baseConfig)
  }

  /** The label of member `replica` of `view`. */
  const labelOf = (view: ViewRecord, replica: ReplicaId): number | undefined => {
    const m = view.members.find((x) => x.replica === replica)
    return m === undefined ? undefined : identityLabel.get(toHex(m.identityKey))
  }
  const idIn = (view: ViewRecord, label: number): ReplicaId | undefined =>
    view.members.find((m) => bytesEqual(m.identityKey, nodes[label]!.identity.publicKey))?.replica
  const historyOf = (node: SimNode): ReadonlyArray<ViewEntry> => node.state?.reconfig?.history ?? []

  /** The chain's views as the most advanced correct replica executed them. */
  const chainViews = (): ReadonlyArray<ViewEntry> => {
    let best: ReadonlyArray<ViewEntry> = []
    for (const node of nodes) if (node.byzantine === undefined && historyOf(node).length > best.length) best = historyOf(node)
    return best.length === 0 ? [{ record: genesisView, hash: persistence.viewHash, installedAt: 0n }] : best
  }
  const latestView = (): ViewRecord => chainViews()[chainViews().length - 1]!.record
  const viewOfHeight = (height: bigint): ViewRecord => {
    let v = chainViews()[0]!.record
    for (const e of chainViews()) if (e.installedAt < height) v = e.record
    return v
  }

  const verifierFor = (node: SimNode, view: ViewRecord): InputVerifier => {
    let v = node.verifiers.get(view.id)
    if (v === undefined) {
      const previousView = historyOf(node).find((e) => e.record.id === view.id - 1n)?.record
      v = new InputVerifier({
        chainId,
        view,
        ...(previousView === undefined ? {} : { previousView }),
        quorum: byzantineQuorum(view.n, view.f),
        limits,
        crypto: nodeCrypto
      })
      node.verifiers.set(view.id, v)
    }
    return v
  }

  /** The view an input must be verified against, if the replica knows it (undefined: drop). */
  const viewForInput = (node: SimNode, input: Input): ViewRecord | undefined => {
    const state = node.state!
    const known = (id: bigint) => historyOf(node).find((e) => e.record.id === id)?.record
    switch (input._tag) {
      case "Message":
        return input.message.viewId >= state.config.view.id ? known(input.message.viewId) : undefined
      case "Decided":
        return known(input.proof.viewId)
      default:
        return state.config.view
    }
  }

  // ---- Network ---------------------------------------------------------------------------------

  const delay = (): number => prng.int(1, now < healMs ? faultyDelayMs : stableDelayMs)
  const lost = (): boolean => now < healMs && prng.chance(lossRate)

  const sendTo = (from: SimNode, toLabel: number | undefined, payload: Payload): void => {
    if (toLabel === undefined || toLabel === from.label) return
    const fromId = from.state?.config.self ?? -1
    const payloads = from.byzantine === undefined ? [payload] : from.byzantine.transform(toLabel, payload, from.state!)
    for (const p of payloads) {
      if (lost()) continue
      heap.push({ atMs: now + delay(), order: order++, kind: "deliver", to: toLabel, from: from.label, fromId, payload: p })
    }
  }

  /** Peers of a replica: the members of its configured view and of the newest view it executed. */
  const peersOf = (node: SimNode): ReadonlyArray<number> => {
    const state = node.state!
    const views = [state.config.view, historyOf(node)[historyOf(node).length - 1]?.record ?? state.config.view]
    const out = new Set<number>()
    for (const v of views) for (const m of v.members) {
      const l = identityLabel.get(toHex(m.identityKey))
      if (l !== undefined && l !== node.label) out.add(l)
    }
    return [...out]
  }

  // ---- Clients and requests --------------------------------------------------------------------

  const submitted = new Map<string, string>()
  const clientTxs = new Map<string, ClientTx>()
  /** Membership requests and ROTATEs: decided ones must be among these. */
  const register = (tx: Transaction): void => {
    submitted.set(txKey(tx), toHex(txHash(nodeCrypto, tx)))
  }
  const addClientTx = (tx: Transaction, atMs: number, all: boolean, onAccepted?: (result: Uint8Array) => void): string => {
    const key = txKey(tx)
    register(tx)
    clientTxs.set(key, onAccepted === undefined ? { tx, replies: new Map(), accepted: undefined } : { tx, replies: new Map(), accepted: undefined, onAccepted })
    heap.push({ atMs, order: order++, kind: "submit", key, all })
    heap.push({ atMs: atMs + clientRetryMs, order: order++, kind: "retry", key })
    return key
  }
  for (const tx of coinWorkload(prng, world, txCount)) addClientTx(tx, prng.int(0, submitUntilMs), !prng.chance(0.3))

  const onSubmit = (key: string, all: boolean): void => {
    const c = clientTxs.get(key)
    if (c === undefined || c.accepted !== undefined) return
    const members = latestView().members.map((m) => identityLabel.get(toHex(m.identityKey))!)
    const targets = all ? members : [prng.pick(members)]
    for (const l of targets) {
      const node = nodes[l]!
      if (lost()) continue
      heap.push({ atMs: now + delay(), order: order++, kind: "deliver", to: node.label, from: -1, fromId: -1, payload: { _tag: "Request", tx: c.tx } })
    }
  }

  const onReply = (from: number, reply: ReplyOutput): void => {
    const c = clientTxs.get(txKey(reply))
    if (c === undefined || c.accepted !== undefined) return
    // The mode's rule, in the view that decided the block or in the current view (whose members
    // hold every block before it): a result of a view whose members have since left stays
    // acceptable through the members that replaced them.
    const value = `${reply.height}:${toHex(reply.result)}`
    c.replies.set(from, value)
    const enough = (view: ViewRecord): number | undefined => {
      let matching = 0
      for (const [l, v] of c.replies) if (v === value && idIn(view, l) !== undefined) matching++
      return matching >= (mode === "strong" ? view.f + 1 : byzantineQuorum(view.n, view.f)) ? matching : undefined
    }
    const view = [viewOfHeight(reply.height), latestView()].find((v) => enough(v) !== undefined)
    if (view === undefined || idIn(view, from) === undefined) return
    const matching = enough(view)!
    c.accepted = { height: reply.height, resultHex: toHex(reply.result) }
    emitTrace({ action: "AcceptReply", replica: idIn(view, from)!, client: toHex(reply.client), txSeq: reply.seq.toString(), height: Number(reply.height), replies: matching })
    c.onAccepted?.(reply.result)
  }

  // ---- Membership requests ---------------------------------------------------------------------

  const submitJoin = (node: SimNode): void => {
    const view = latestView()
    const next = view.id + 1n
    // A refused JOIN's key is never used: it goes, and the new request carries a fresh one.
    for (const v of node.keys.keys()) if (v !== next) node.keys.delete(v)
    let key = node.keys.get(next)
    if (key === undefined) {
      key = keysFrom(prng)
      node.keys.set(next, key)
    }
    const made = requestJoin(joinerState(node.label, node.identity.publicKey), chainViewOf(view), chainId, keySigner(node.identity), keySigner(key), `sim:${node.label}`, requestSeq("join", view.id))
    emitTrace(made.event)
    const txk = addClientTx(made.transaction, now, true, (result) => {
      // Refused because the view changed meanwhile (or anything else): ask again for the current view.
      if (toHex(result) !== okBytes && node.status === "joining" && node.join !== undefined) node.join.pendingKey = undefined
    })
    node.join!.pendingKey = txk
  }

  const membershipRequest = (made: { readonly transaction: Transaction; readonly event: TraceEvent }): void => {
    emitTrace(made.event)
    addClientTx(made.transaction, now, true)
  }

  const onAction = (a: ReconfigAction): void => {
    switch (a.kind) {
      case "join": {
        const node = nodes[a.label]!
        node.status = "joining"
        node.join = { verifier: ChainVerifier.start(nodeCrypto, genesis), height: 0n, pendingKey: undefined }
        submitJoin(node)
        heap.push({ atMs: now + joinPollMs, order: order++, kind: "joinPoll", label: node.label })
        return
      }
      case "leave": {
        const node = nodes[a.label]!
        const view = latestView()
        const chain = node.state?.reconfig?.chain
        if (chain === undefined || idIn(view, a.label) === undefined) return
        const made = requestLeave(localFor(node), chainViewOf(view), chainId, keySigner(node.identity), requestSeq("leave", view.id))
        membershipRequest(made)
        return
      }
      case "remove": {
        const view = latestView()
        const target = idIn(view, a.target)
        if (target === undefined) return
        for (const by of a.by) {
          const node = nodes[by]!
          const chain = node.state?.reconfig?.chain
          if (chain === undefined) continue
          membershipRequest(requestRemove(localFor(node), chainViewOf(view), chainId, keySigner(node.identity), target, requestSeq("remove", view.id, target)))
        }
        return
      }
      case "crash":
        crashNow((a.labels === "all" ? nodes : a.labels.map((l) => nodes[l]!)).filter(crashable), a.labels === "all", a.downMs)
        return
      case "crashAllAfterView":
        crashNow(nodes.filter(crashable), true, a.downMs)
        return
    }
  }

  /** A view state whose current view is `view`: requests name the view the chain is in. */
  const chainViewOf = (view: ViewRecord) => ({ ...initialViewState(genesis), view })
  const localFor = (node: SimNode) => node.state!.reconfig!.local

  // ---- Outputs ---------------------------------------------------------------------------------

  const blockAt = (node: SimNode, height: bigint): { readonly transactions: ReadonlyArray<Transaction>; readonly results: ReadonlyArray<Uint8Array> } | undefined => {
    const waiting = node.state?.persistence?.unwritten.find((d) => d.height === height)
    if (waiting !== undefined) return { transactions: waiting.batch, results: waiting.results }
    const read = run(node.store.readBlock(height))
    return Either.isRight(read) ? read.right : undefined
  }

  const decidedHash = new Map<bigint, string>()

  const onDecide = (node: SimNode, cid: bigint, batch: ReadonlyArray<Transaction>, proof: DecisionProof): void => {
    node.log[Number(cid) - 1] = { batch, proof }
    node.log.length = Number(cid)
    if (node.byzantine !== undefined) return
    const hashHex = toHex(batchHash(nodeCrypto, batch))
    const first = decidedHash.get(cid)
    if (first === undefined) decidedHash.set(cid, hashHex)
    else if (first !== hashHex) violate("Agreement", `cid ${cid}: replica ${node.label} decided ${hashHex.slice(0, 12)}, another ${first.slice(0, 12)}`)
    for (const tx of batch) {
      const expected = submitted.get(txKey(tx))
      if (expected === undefined || expected !== toHex(txHash(nodeCrypto, tx)))
        violate("Validity", `cid ${cid}: replica ${node.label} decided a transaction never submitted`)
    }
  }

  const onRotateKey = (node: SimNode, nextViewId: bigint): void => {
    const state = node.state!
    const cv = state.reconfig!
    let fresh = node.keys.get(nextViewId)
    if (fresh === undefined) {
      fresh = keysFrom(prng)
      node.keys.set(nextViewId, fresh)
    }
    const current = node.keys.get(cv.chain.view.id)
    if (current === undefined) return
    const made = rotate(cv.local, cv.chain, chainId, keySigner(node.identity), keySigner(current), keySigner(fresh), requestSeq("rotate", nextViewId))
    emitTrace(made.event)
    register(made.transaction)
    feed(node, [{ _tag: "Transaction", tx: made.transaction }])
    for (const l of peersOf(node)) sendTo(node, l, { _tag: "Request", tx: made.transaction })
  }

  const interpret = (node: SimNode, outputs: ReadonlyArray<Output>): void => {
    for (const out of outputs) {
      if (!node.up) return
      const state = node.state!
      switch (out._tag) {
        case "Send":
          sendTo(node, labelOf(state.config.view, out.to), { _tag: "Consensus", message: out.message })
          break
        case "Broadcast":
          for (const m of state.config.view.members) if (m.replica !== state.config.self) sendTo(node, labelOf(state.config.view, m.replica), { _tag: "Consensus", message: out.message })
          break
        case "Forward":
          sendTo(node, labelOf(state.config.view, out.to), { _tag: "Request", tx: out.tx })
          break
        case "RequestState":
          for (const l of peersOf(node)) sendTo(node, l, { _tag: "StateRequest", fromCid: out.fromCid })
          break
        case "Decide":
          onDecide(node, out.cid, out.batch, out.proof)
          break
        case "Trace":
          emitTrace(out.event)
          break
        case "ReplyAgain": {
          const block = blockAt(node, out.cid)
          const index = block?.transactions.findIndex((tx) => txKey(tx) === txKey(out))
          if (block !== undefined && index !== undefined && index >= 0)
            sendReply(node, { _tag: "Reply", viewId: state.config.view.id, client: out.client, seq: out.seq, height: out.cid, index, result: block.results[index]! })
          break
        }
        case "WriteBlock":
        case "WriteCertificate":
        case "WriteRecord": {
          const r = run(applyWrite(node.store, out))
          if (Either.isLeft(r)) violate("Storage", `replica ${node.label}: ${r.left.message}`)
          break
        }
        case "RewriteBlock": {
          const r = run(Effect.zipRight(node.store.truncateFrom(out.block.header.height), node.store.appendBlock(out.block)))
          if (Either.isLeft(r)) violate("Storage", `replica ${node.label}: ${r.left.message}`)
          break
        }
        case "SyncRequest":
          heap.push({ atMs: now + prng.int(1, 4), order: order++, kind: "syncDone", label: node.label, seq: out.seq, epoch: node.epoch })
          break
        case "Reply":
          sendReply(node, out)
          break
        case "ShareDecided": {
          const shared = out.certificate === undefined ? { batch: out.batch, proof: out.proof } : { batch: out.batch, proof: out.proof, certificate: out.certificate }
          for (const m of state.config.view.members) if (m.replica !== state.config.self) sendTo(node, labelOf(state.config.view, m.replica), { _tag: "StateReply", decided: [shared] })
          break
        }
        case "RotateKey":
          onRotateKey(node, out.nextViewId)
          break
        case "EraseViewKeys":
          for (const v of out.views) node.keys.delete(v)
          break
        case "ViewInstalled":
          onViewInstalled(node, out.view, out.left)
          break
      }
    }
  }

  const sendReply = (node: SimNode, reply: ReplyOutput): void => {
    if (lost()) return
    let r = reply
    if (node.byzantine !== undefined && (node.byzantine.behaviour === "forge" || node.byzantine.behaviour === "mixed")) r = { ...reply, result: prng.bytes(reply.result.length + 1) }
    heap.push({ atMs: now + delay(), order: order++, kind: "reply", from: node.label, reply: r })
  }

  /** Crash-all trigger: the first installation of the view a `crashAllAfterView` action waits for. */
  const viewTriggers = options.actions.filter((a): a is Extract<ReconfigAction, { kind: "crashAllAfterView" }> => a.kind === "crashAllAfterView")
  const fired = new Set<ReconfigAction>()

  const onViewInstalled = (node: SimNode, view: ViewRecord, left: boolean): void => {
    const history = historyOf(node)
    const entry = history.find((e) => e.record.id === view.id)
    if (entry === undefined || !bytesEqual(encodeViewRecord(entry.record), encodeViewRecord(view)))
      violate("ViewConsistency", `replica ${node.label} installed view ${view.id}, which its blocks did not install`)
    if (left) {
      node.status = "left"
      if (node.keys.size > 0 && node.byzantine === undefined) violate("KeyErasure", `replica ${node.label} left holding keys of views ${[...node.keys.keys()].join(",")}`)
      return
    }
    if (node.state!.config.view.id !== view.id) violate("ViewConsistency", `replica ${node.label} reports view ${view.id} but runs in view ${node.state!.config.view.id}`)
    for (const v of node.keys.keys())
      if (v < view.id && node.byzantine === undefined) violate("KeyErasure", `replica ${node.label} installed view ${view.id} and still holds its key of view ${v}`)
    for (const t of viewTriggers)
      if (!fired.has(t) && view.id >= t.view) {
        fired.add(t)
        heap.push({ atMs: now + t.delayMs, order: order++, kind: "action", action: t })
      }
  }

  const feed = (node: SimNode, inputs: ReadonlyArray<Input>): void => {
    for (const input of inputs) {
      if (!node.up || node.state === undefined || node.status === "left") return
      const view = viewForInput(node, input)
      if (view === undefined) continue
      const { accepted, rejected: dropped } = verifierFor(node, view).verify([input])
      countRejected(rejected, dropped)
      for (const a of accepted) {
        try {
          const result = step(node.state, a)
          node.state = result.state
          interpret(node, result.outputs)
        } catch (e) {
          violate("Assertion", `replica ${node.label}: ${(e as Error).message}`)
          throw e
        }
      }
    }
  }

  // ---- State transfer: serving, and the joiner's ----------------------------------------------

  const certificateOf = (node: SimNode, height: bigint): Certificate | undefined => {
    const known = node.state?.persistence?.certificates.get(heightKey(height))
    if (known !== undefined) return known
    const read = run(node.store.readCertificate(height))
    return Either.isRight(read) ? read.right : undefined
  }

  const serveState = (node: SimNode, to: number, fromCid: bigint): void => {
    const start = Number(fromCid) - 1
    if (start < 0 || start >= node.log.length) return
    const decided = node.log.slice(start, start + coreLimits.stateTransferCidsMax).flatMap((d): Array<DecidedInstance> => {
      if (d === undefined) return []
      const certificate = mode === "strong" ? certificateOf(node, d.proof.cid) : undefined
      return [certificate === undefined ? d : { ...d, certificate }]
    })
    sendTo(node, to, { _tag: "StateReply", decided })
  }

  const storedBlocks = (node: SimNode, from: bigint, max: number): Array<Block> => {
    const out: Array<Block> = []
    for (let h = from; out.length < max; h++) {
      const read = run(node.store.readBlock(h))
      if (Either.isLeft(read)) break
      out.push(read.right)
    }
    return out
  }

  /** A joiner asks members for the blocks after its verified head. */
  const onJoinPoll = (node: SimNode): void => {
    if (node.status !== "joining" || !node.up || node.join === undefined) return
    const join = node.join
    if (join.pendingKey === undefined) submitJoin(node)
    const servers = new Set<number>()
    for (const e of chainViews()) for (const m of e.record.members) servers.add(identityLabel.get(toHex(m.identityKey))!)
    for (const l of servers) {
      const server = nodes[l]!
      if (l === node.label || !server.up || server.state === undefined || server.status === "left") continue
      if (server.byzantine?.behaviour === "silent") continue
      let blocks = storedBlocks(server, join.height + 1n, 32)
      if (server.byzantine !== undefined && prng.chance(0.5)) blocks = blocks.map((b) => ({ ...b, transactions: [...b.transactions].reverse() }))
      const certificates = blocks.flatMap((b) => {
        const c = certificateOf(server, b.header.height)
        return c === undefined ? [] : [c]
      })
      const head = certificateOf(server, join.height)
      if (head !== undefined) certificates.push(head)
      if (blocks.length === 0 && certificates.length === 0) continue
      if (lost()) continue
      heap.push({ atMs: now + delay(), order: order++, kind: "chainReply", to: node.label, blocks, certificates })
    }
    heap.push({ atMs: now + joinPollMs, order: order++, kind: "joinPoll", label: node.label })
  }

  /** A certificate checks against the stored header at its height: q valid COMMITs of that block's view. */
  const certificateValid = (certificate: Certificate, header: Block["header"], view: ViewRecord): boolean => {
    if (certificate.viewId !== view.id || header.viewId !== view.id || !bytesEqual(certificate.headerHash, headerHash(nodeCrypto, header))) return false
    const message = commitSigningBytes(chainId, certificate)
    const seen = new Set<number>()
    for (const c of certificate.commits) {
      const key = view.members.find((m) => m.replica === c.replica)?.viewKey
      if (key === undefined || seen.has(c.replica) || !nodeCrypto.verify(key, message, c.signature)) return false
      seen.add(c.replica)
    }
    return seen.size >= byzantineQuorum(view.n, view.f)
  }

  const onChainReply = (node: SimNode, blocks: ReadonlyArray<Block>, certificates: ReadonlyArray<Certificate>): void => {
    const join = node.join
    if (node.status !== "joining" || !node.up || join === undefined) return
    for (const block of blocks) {
      if (block.header.height !== join.height + 1n) continue
      const verified = join.verifier.next(block)
      if (Either.isLeft(verified)) {
        // A bad block from one server: start the verifier again from what is stored (keeps the good prefix).
        join.verifier = ChainVerifier.start(nodeCrypto, genesis)
        for (const b of storedBlocks(node, 1n, Number(join.height))) join.verifier.next(b)
        break
      }
      const r = run(node.store.appendBlock(block))
      if (Either.isLeft(r)) break
      join.height = block.header.height
    }
    // Certificates of stored blocks, each checked against the view that certifies it.
    const replayed = replayViews(nodeCrypto, genesis, storedBlocks(node, 1n, Number(join.height)))
    if (Either.isLeft(replayed)) return
    const viewsOfChain = replayed.right.views
    const installs = storedBlocks(node, 1n, Number(join.height)).filter((b) => Option.isSome(b.newView)).map((b) => b.header.height)
    const viewAtHeight = (h: bigint): ViewRecord => {
      let i = 0
      for (const at of installs) if (at < h) i++
      return viewsOfChain[i]!
    }
    for (const c of certificates) {
      if (c.height > join.height || Either.isRight(run(node.store.readCertificate(c.height)))) continue
      const header = run(node.store.readBlock(c.height))
      if (Either.isLeft(header) || !certificateValid(c, header.right.header, viewAtHeight(c.height))) continue
      run(node.store.appendCertificate(c))
    }
    run(node.store.sync())
    // Start once a verified block installed a view with this replica (and, in strong mode, that
    // block's certificate is held: the view took over from a certified block).
    const index = viewsOfChain.findIndex((v) => v.members.some((m) => bytesEqual(m.identityKey, node.identity.publicKey)))
    if (index <= 0) return
    const hb = installs[index - 1]!
    if (mode === "strong" && Either.isLeft(run(node.store.readCertificate(hb)))) return
    if (!node.keys.has(viewsOfChain[index]!.id)) return
    startJoiner(node, viewsOfChain[index]!, hb)
  }

  const startJoiner = (node: SimNode, view: ViewRecord, hb: bigint): void => {
    const config = configFor(node, view)
    node.baseConfig = config
    node.status = "member"
    node.join = undefined
    const durable = run(loadDurable(node.store))
    if (Either.isLeft(durable)) {
      violate("Storage", `joiner ${node.label} cannot read its storage: ${durable.left.message}`)
      return
    }
    const result = restart(config, durable.right, now)
    if (result.truncateFrom !== undefined) run(node.store.truncateFrom(result.truncateFrom))
    node.state = result.state
    const kept = durable.right.blocks.slice(0, Number(result.state.persistence?.dur ?? 0n))
    node.log = kept.map((b) => ({ batch: b.transactions, proof: b.decision }))
    emitTrace({ action: installViewEvent, replica: config.self, view: Number(view.id), members: view.members.map((m) => m.replica), left: false, height: Number(hb) })
    heap.push({ atMs: now + prng.int(0, tickMs - 1), order: order++, kind: "tick", label: node.label, epoch: node.epoch })
    // The restart step's outputs, without its Restart event: a joiner starts, it does not restart.
    interpret(node, result.outputs.filter((o) => !(o._tag === "Trace" && o.event.action === "Restart")))
  }

  // ---- Crashes ---------------------------------------------------------------------------------

  const crashable = (node: SimNode): boolean => node.up && node.state !== undefined && node.status === "member" && node.byzantine === undefined

  const checkDurable = (): void => {
    for (const [key, c] of clientTxs) {
      if (c.accepted === undefined) continue
      const { height, resultHex } = c.accepted
      const kept = nodes.some((node) => {
        if (node.byzantine !== undefined) return false
        const read = run(node.store.readBlock(height))
        if (Either.isLeft(read)) return false
        const i = read.right.transactions.findIndex((tx) => txKey(tx) === key)
        return i >= 0 && toHex(read.right.results[i]!) === resultHex
      })
      if (!kept) violate("DurableReplies", `the accepted result of ${key.slice(0, 16)} at height ${height} survived in no correct replica's storage`)
    }
  }

  const crashNow = (targets: ReadonlyArray<SimNode>, all: boolean, downMs: number): void => {
    if (targets.length === 0) return
    if (all) {
      fullCrashes++
      emitTrace(crashAllTrace(targets.map((x) => x.state!)))
    } else for (const x of targets) emitTrace(crashTrace(x.state!))
    for (const x of targets) {
      x.up = false
      x.epoch++
      const r = run(x.store.crash())
      if (Either.isLeft(r)) violate("Storage", `replica ${x.label}: ${r.left.message}`)
    }
    if (all) checkDurable()
    for (const x of targets) heap.push({ atMs: now + downMs, order: order++, kind: "restart", label: x.label })
  }

  const onRestart = (node: SimNode): void => {
    const durable = run(loadDurable(node.store))
    if (Either.isLeft(durable) || node.baseConfig === undefined) {
      violate("Storage", `replica ${node.label} cannot restart from its storage`)
      return
    }
    const result = restart(node.baseConfig, durable.right, now)
    if (result.truncateFrom !== undefined) run(node.store.truncateFrom(result.truncateFrom))
    node.state = result.state
    node.up = true
    const kept = durable.right.blocks.slice(0, Number(result.state.persistence?.dur ?? 0n))
    node.log = kept.map((b) => ({ batch: b.transactions, proof: b.decision }))
    for (const b of kept) {
      const first = decidedHash.get(b.header.height)
      if (first === undefined) decidedHash.set(b.header.height, toHex(b.decision.batchHash))
      else if (first !== toHex(b.decision.batchHash)) violate("Agreement", `replica ${node.label} restarted with block ${b.header.height} of another batch`)
    }
    heap.push({ atMs: now + prng.int(0, tickMs - 1), order: order++, kind: "tick", label: node.label, epoch: node.epoch })
    interpret(node, result.outputs)
    if (node.state.reconfig?.local.left === true) node.status = "left"
  }

  const onSyncDone = (node: SimNode, seq: number, epoch: number): void => {
    if (!node.up || node.epoch !== epoch) return
    const r = run(node.store.sync())
    if (Either.isLeft(r)) {
      heap.push({ atMs: now + 20, order: order++, kind: "syncDone", label: node.label, seq, epoch })
      return
    }
    feed(node, [{ _tag: "Synced", seq }])
  }

  // ---- The run ---------------------------------------------------------------------------------

  for (const a of options.actions) if (a.kind !== "crashAllAfterView") heap.push({ atMs: a.atMs, order: order++, kind: "action", action: a })
  for (let label = 0; label < n; label++) heap.push({ atMs: prng.int(0, tickMs - 1), order: order++, kind: "tick", label, epoch: 0 })

  const running = (): ReadonlyArray<SimNode> => nodes.filter((x) => x.byzantine === undefined && x.status === "member")
  let probes = 0
  let lastProbeMs = 0
  const done = (): boolean => {
    if (now < Math.max(healMs, lastActionMs)) return false
    if ([...clientTxs.values()].some((c) => c.accepted === undefined)) return false
    const last = latestView().id
    const members = running()
    const keys = [...clientTxs.keys()]
    const top = Math.max(...members.map((x) => Number(x.state?.persistence?.height ?? 0n)))
    const finished =
      !nodes.some((x) => x.status === "joining") &&
      viewTriggers.every((t) => fired.has(t)) &&
      members.every((x) => x.up && x.state !== undefined && x.state.config.view.id === last && x.state.pending.size === 0) &&
      members.every((x) => Number(x.state!.persistence!.height) === top && keys.every((k) => x.state!.decidedTx.has(k)))
    if (finished) return true
    // Every request is answered but the system is not settled: a replica that missed the last
    // decisions of an idle system learns of them from the next instance, and a view change
    // waiting for a member that never rotates completes only after `rotationWindow` more
    // blocks. Clients keep the system busy: one more transaction, as clients do.
    if (now - lastProbeMs >= probeMs) {
      lastProbeMs = now
      const minter = world.clients[minterIndex]!
      addClientTx(signTx(minter, 1_000_000n + BigInt(probes++), mintOp([{ owner: minter.publicKey, amount: 1n }])), now, true)
    }
    return false
  }

  let ended = false
  try {
    while (heap.size > 0 && violations.length === 0) {
      const ev = heap.pop()!
      if (ev.atMs > endMs) break
      now = ev.atMs
      switch (ev.kind) {
        case "tick": {
          const node = nodes[ev.label]!
          if (!node.up || node.epoch !== ev.epoch || node.state === undefined || node.status === "left") break
          if (node.byzantine?.behaviour !== "silent") {
            feed(node, [{ _tag: "Tick", nowMs: now }])
            if (node.byzantine !== undefined && node.status === "member") for (const [to, p] of node.byzantine.onTick(node.state)) sendTo(node, labelOf(node.state.config.view, to), p)
          }
          heap.push({ atMs: now + tickMs, order: order++, kind: "tick", label: node.label, epoch: node.epoch })
          if (ev.label === 0 || nodes[0]!.status !== "member") {
            if (now % 200 < tickMs && done()) ended = true
          }
          break
        }
        case "submit":
          onSubmit(ev.key, ev.all)
          break
        case "retry":
          if (clientTxs.get(ev.key)?.accepted === undefined) {
            onSubmit(ev.key, true)
            heap.push({ atMs: now + clientRetryMs, order: order++, kind: "retry", key: ev.key })
          }
          break
        case "reply":
          onReply(ev.from, ev.reply)
          break
        case "syncDone":
          onSyncDone(nodes[ev.label]!, ev.seq, ev.epoch)
          break
        case "action":
          onAction(ev.action)
          break
        case "restart":
          onRestart(nodes[ev.label]!)
          break
        case "joinPoll":
          onJoinPoll(nodes[ev.label]!)
          break
        case "chainReply":
          onChainReply(nodes[ev.to]!, ev.blocks, ev.certificates)
          break
        case "deliver": {
          const node = nodes[ev.to]!
          if (!node.up || node.state === undefined || node.status === "left" || node.byzantine?.behaviour === "silent") break
          node.byzantine?.observe(ev.fromId, ev.payload)
          deliver(node, ev.from, ev.fromId, ev.payload)
          break
        }
      }
      if (ended) break
    }
  } catch {
    // The assertion is recorded as a violation; the run stops there.
  }

  function deliver(node: SimNode, fromLabel: number, fromId: ReplicaId, payload: Payload): void {
    switch (payload._tag) {
      case "Consensus": {
        // The sender's id in the message's view (ids never change, but a joiner's id is only known from its view).
        const view = historyOf(node).find((e) => e.record.id === (payload.message as ConsensusMessage).viewId)?.record
        const from = view === undefined ? fromId : (idIn(view, fromLabel) ?? fromId)
        feed(node, [{ _tag: "Message", from, message: payload.message as ConsensusMessage }])
        return
      }
      case "Request":
        feed(node, [{ _tag: "Transaction", tx: payload.tx }])
        return
      case "StateRequest":
        serveState(node, fromLabel, payload.fromCid)
        return
      case "StateReply":
        feed(
          node,
          payload.decided.map((d): Input =>
            d.certificate === undefined ? { _tag: "Decided", batch: d.batch, proof: d.proof } : { _tag: "Decided", batch: d.batch, proof: d.proof, certificate: d.certificate }
          )
        )
        return
    }
  }

  // ---- End-of-run checks -----------------------------------------------------------------------

  const views = chainViews()
  if (violations.length === 0 && !ended) {
    const open = [...clientTxs.values()].filter((c) => c.accepted === undefined)
    const unaccepted = `${open.length} (${open.map((c) => `${isReconfigOp(c.tx.op) ? "membership request" : "client"} ${txKey(c.tx).slice(0, 12)} with ${c.replies.size} replies`).join(", ")})`
    const states = nodes
      .map((x) => `${x.label}:${x.status}${x.up ? "" : "(down)"}${x.state === undefined ? "" : `@v${x.state.config.view.id}r${x.state.regency}c${x.state.instance.cid}h${x.state.persistence?.height}d${x.state.persistence?.dur}p${x.state.pending.size}`}`)
      .join(" ")
    violate("Liveness", `not done ${livenessBoundMs}ms after the last action: ${unaccepted} requests not accepted, last view ${views[views.length - 1]!.record.id}; ${states}`)
  }
  const chains: Array<{ readonly label: number; readonly blocks: ReadonlyArray<Block> }> = []
  if (violations.length === 0) checkChains()

  function checkChains(): void {
    const heads = new Map<bigint, { readonly hash: string; readonly state: string; readonly label: number }>()
    for (const node of nodes) {
      if (node.byzantine !== undefined || node.state === undefined) continue
      const p = node.state.persistence!
      const blocks = storedBlocks(node, 1n, Number.MAX_SAFE_INTEGER)
      chains.push({ label: node.label, blocks })
      const verified = verifyChain(nodeCrypto, genesis, blocks)
      if (Either.isLeft(verified)) violate("ChainVerify", `replica ${node.label}: ${verified.left.message}`)
      const replayed = replayViews(nodeCrypto, genesis, blocks)
      if (Either.isLeft(replayed)) violate("ChainVerify", `replica ${node.label}: ${replayed.left.message}`)
      else
        replayed.right.views.forEach((v, i) => {
          const chainView = views[i]
          if (chainView === undefined || !bytesEqual(encodeViewRecord(chainView.record), encodeViewRecord(v)))
            violate("ViewConsistency", `replica ${node.label}'s chain has another view ${v.id} than the others`)
        })
      const history = new CoinHistoryChecker()
      const all = [...blocks, ...p.unwritten.map((d) => ({ transactions: d.batch, results: d.results }))]
      all.forEach((b, i) => {
        const keep = b.transactions.map((tx) => !isReconfigOp(tx.op))
        for (const v of history.observe(b.transactions.filter((_, j) => keep[j]), b.results.filter((_, j) => keep[j])))
          violate("CoinInvariant", `replica ${node.label} block ${i + 1}: ${v.invariant}: ${v.detail}`)
      })
      if (node.status !== "left")
        for (const v of coinInvariants(p.machine.state as CoinState, history.minted)) violate("CoinInvariant", `replica ${node.label}: ${v.invariant}: ${v.detail}`)
      blocks.forEach((b) => {
        const h = b.header.height
        const mine = { hash: toHex(headerHash(nodeCrypto, b.header)), state: toHex(b.header.stateHash), label: node.label }
        const other = heads.get(h)
        if (other === undefined) heads.set(h, mine)
        else if ((mode === "strong" && other.hash !== mine.hash) || other.state !== mine.state)
          violate("NoFork", `replicas ${other.label} and ${node.label} hold different blocks at height ${h}`)
      })
      if (node.status === "left") continue
      for (const [key, c] of clientTxs) {
        if (c.accepted === undefined || c.accepted.height > p.height) continue
        const block = all[Number(c.accepted.height) - 1]
        const i = block === undefined ? -1 : block.transactions.findIndex((tx) => txKey(tx) === key)
        if (block === undefined || i < 0 || toHex(block.results[i]!) !== c.accepted.resultHex)
          violate("DurableReplies", `replica ${node.label} lacks the accepted result of ${key.slice(0, 16)} at height ${c.accepted.height}`)
      }
    }
    if (options.expectMembers !== undefined) {
      const last = views[views.length - 1]!.record
      const labels = last.members.map((m) => identityLabel.get(toHex(m.identityKey))!).sort((a, b) => a - b)
      const expected = [...options.expectMembers].sort((a, b) => a - b)
      if (labels.join(",") !== expected.join(",")) violate("Membership", `the last view ${last.id} holds labels ${labels.join(",")}, expected ${expected.join(",")}`)
    }
  }

  return {
    seed: options.seed,
    violations,
    views: views.map((e) => ({ id: e.record.id, labels: e.record.members.map((m) => identityLabel.get(toHex(m.identityKey))!), installedAt: e.installedAt })),
    viewIds: views.map((e) => e.record.members.map((m) => m.replica)),
    identities: identityLabel,
    chainHeight: Math.max(0, ...nodes.map((x) => Number(x.state?.persistence?.height ?? 0n))),
    accepted: [...clientTxs.values()].filter((c) => c.accepted !== undefined).length,
    transactions: clientTxs.size,
    fullCrashes,
    endMs: now,
    trace,
    rejected,
    chains,
    mode
  }
}
