/**
 * The deterministic simulator: N replicas driven synchronously through the Verifier and `step`,
 * clients, and an event-driven network with delay, loss, duplication, reordering and partitions
 * that heal, plus Byzantine replicas. One seeded PRNG draws every choice; time is logical.
 *
 * After every step it checks Agreement (no two correct replicas decide different batches for one
 * cid) and Validity (only submitted, validly signed transactions are decided, none twice). In
 * liveness mode it checks that once the faults heal every submitted transaction is decided by
 * every correct replica, and accepted by its client, within a bound.
 *
 * Persistence (PROTOCOL.md section 4): each replica builds blocks of the coin application and
 * keeps them in the in-memory BlockStore with crash semantics, driven synchronously. Storage
 * faults: one replica or every correct one crashing at once (unsynced writes lost, the last one
 * possibly torn), a replica restarted with an empty disk or a corrupt block, slow and failing
 * syncs; and, on request, a crash at a named point of the commit pipeline (`CrashPointPlan`).
 * Every 4th block is a checkpoint (`simChainLimits`): its snapshot is stored with it, a restarted
 * replica restores its latest snapshot and replays only the blocks after it, and a replica with a
 * wiped disk recovers by snapshot-based state transfer from its peers' stores (./transfer.ts)
 * before it restarts. Clients accept replies by the mode's rule. Checkers: DurableReplies right
 * after every full crash (each accepted result is still in the synced storage of some correct
 * replica) and at the end (in every correct replica's chain at its height); the coin invariants
 * (supply equals the minted total, no output spent twice); equal states and header hashes at
 * equal heights; `verifyChain` over every correct replica's stored chain; and that state transfer
 * never takes a correct member for Byzantine.
 */
import { Effect, Either, Option } from "effect"
import type { CoinState } from "../../src/app/coin.ts"
import { coinApp, coinInvariants, CoinHistoryChecker } from "../../src/app/coin.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { batchHash, genesisHash, txHash, viewHash } from "../../src/chain/hash.ts"
import type { Block, Certificate, ConsensusMessage, DecisionProof, Genesis, Limits, PersistenceMode, ReplicaId, Transaction } from "../../src/chain/types.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import type { ReplicaConfig } from "../../src/core/config.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Input, Output, ReplyOutput, TraceEvent } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState, txKey } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { crashAllTrace, crashTrace } from "../../src/persistence/crash.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { restart } from "../../src/persistence/restart.ts"
import type { StateTransferCounters, StateTransferMessage } from "../../src/persistence/state-transfer.ts"
import { decodeStateTransferMessage, encodeStateTransferMessage } from "../../src/persistence/state-transfer.ts"
import { heightKey } from "../../src/persistence/state.ts"
import { applyRewrite, applyWrite, loadDurable } from "../../src/replica/storage.ts"
import type { MemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { readRangeBlocksMax } from "../../src/services/blockstore-core.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { TraceRecord } from "../../src/services/trace.ts"
import type { RejectCounts } from "../../src/services/verifier.ts"
import { countRejected, InputVerifier } from "../../src/services/verifier.ts"
import { coreLimits } from "../../src/core/limits.ts"
import type { Behaviour } from "./byzantine.ts"
import { Byzantine } from "./byzantine.ts"
import { EventHeap } from "./heap.ts"
import { Prng } from "./prng.ts"
import { answerFromStore, Recovery } from "./transfer.ts"
import type { Payload, World } from "./world.ts"
import { chainId, makeWorld, simLimits } from "./world.ts"
import { coinWorkload, minterIndex } from "./workload.ts"

export interface Partition {
  readonly fromMs: number
  readonly toMs: number
  /** Replicas on one side; the rest are on the other. */
  readonly side: ReadonlyArray<ReplicaId>
}

/** Replicas crashing: one, several, or every correct running one at once ("all"). */
export interface CrashPlan {
  readonly atMs: number
  /** How long they stay down before restarting from their storage. */
  readonly downMs: number
  readonly replicas: ReadonlyArray<ReplicaId> | "all"
  /** The replica comes back with an empty disk. */
  readonly wipe?: boolean
  /** A synced block of the replica's storage is damaged while it is down. */
  readonly corrupt?: boolean
}

export interface DiskPlan {
  /** Replicas whose syncs take up to this many ms. */
  readonly slowMs: ReadonlyMap<ReplicaId, number>
  /** From `atMs`, the next `count` syncs of `replica` fail (the shell retries them). */
  readonly failing: ReadonlyArray<{ readonly replica: ReplicaId; readonly atMs: number; readonly count: number }>
  /** A crash leaves each replica's last unsynced record on the disk, torn. */
  readonly torn: boolean
}

export interface FaultPlan {
  readonly byzantine: ReadonlyMap<ReplicaId, Behaviour>
  /** Until `healMs`: probability that a message is lost, or delivered twice. */
  readonly lossRate: number
  readonly duplicateRate: number
  /** Until `healMs` delays are drawn up to this; afterwards up to `stableDelayMs`. */
  readonly faultyDelayMs: number
  readonly stableDelayMs: number
  readonly partitions: ReadonlyArray<Partition>
  /** From here on the network is reliable and timely (Byzantine replicas stay Byzantine). */
  readonly healMs: number
  /** Correct replicas that see nothing at all until `healMs` (far behind when they come back). */
  readonly isolated: ReadonlyArray<ReplicaId>
  /** Crashes of correct replicas (all before `healMs`). */
  readonly crashes?: ReadonlyArray<CrashPlan>
  readonly disks?: DiskPlan
}

/**
 * The points of the durable-commit pipeline where a crash can interrupt block `height`
 * (PROTOCOL.md section 4), in pipeline order:
 *
 *   executed            block executed, its WriteBlock not performed
 *   written             WriteBlock performed, the sync not done
 *   synced              the sync covering the block done, the core not told (no COMMIT, no reply)
 *   committed           strong: its COMMIT sent to the others, before q COMMITs were collected
 *   certificateWritten  strong: WriteCertificate performed, the sync not done
 *   certificateSynced   strong: the certificate synced, the core not told (no reply released)
 *   replied             the replies of the block released
 */
export const crashPoints = ["executed", "written", "synced", "committed", "certificateWritten", "certificateSynced", "replied"] as const
export type CrashPoint = (typeof crashPoints)[number]

/** A crash at a pipeline point: when `replica` reaches `point` for block `height`. */
export interface CrashPointPlan {
  readonly point: CrashPoint
  readonly height: bigint
  readonly replica: ReplicaId
  /** Every correct running replica crashes at that moment (a full crash), not only `replica`. */
  readonly all: boolean
  readonly downMs: number
}

/** What happened when the crash point was reached. */
export interface CrashPointOutcome {
  readonly atMs: number
  readonly crashed: ReadonlyArray<ReplicaId>
  /** Whether the triggering replica's storage kept block `height`, and its certificate, through the crash. */
  readonly blockDurable: boolean
  readonly certificateDurable: boolean
  /** Replies for block `height` the triggering replica had released before it crashed. */
  readonly repliesReleased: number
  /** Transactions whose client had accepted a result when the crash happened. */
  readonly acceptedBefore: number
}

/** How a correct replica ended a run. */
export interface FinalReplica {
  readonly replica: ReplicaId
  readonly up: boolean
  readonly height: bigint
  readonly wrote: bigint
  readonly dur: bigint
  readonly certH: bigint
  /** The header hash of its last written block, and its application state hash. */
  readonly headHash: string
  readonly stateHash: string
}

/** One restart of a replica from its storage. */
export interface RestartRecord {
  readonly replica: ReplicaId
  readonly atMs: number
  /** The synced height it came back with, and the checkpoint whose snapshot gave its state (0: none). */
  readonly height: bigint
  readonly restoredFrom: bigint
  readonly wiped: boolean
}

/** A wiped replica's recovery by state transfer (./transfer.ts). */
export interface TransferRecord {
  readonly replica: ReplicaId
  readonly startMs: number
  readonly endMs: number
  readonly ok: boolean
  /** The checkpoint whose snapshot it installed (0: none), who served it, and the height reached. */
  readonly checkpoint: bigint
  readonly snapshotFrom: ReplicaId | undefined
  readonly height: bigint
  /** Sessions run (a failed one is followed by another, up to 3), and why those that failed did. */
  readonly attempts: number
  readonly failures: ReadonlyArray<string>
  /** The last session's counters, and the members it proved Byzantine. */
  readonly counters: StateTransferCounters
  readonly faulty: ReadonlyArray<ReplicaId>
}

/** A correct replica's stored chain at the end of a run. */
export interface StoredChain {
  readonly replica: ReplicaId
  readonly blocks: ReadonlyArray<Block>
  readonly certificates: ReadonlyArray<Certificate>
}

export interface SimOptions {
  readonly seed: number
  readonly n?: number
  readonly clients?: number
  readonly transactions?: number
  /** Submissions happen in [0, submitUntilMs]. */
  readonly submitUntilMs?: number
  readonly faults?: FaultPlan
  /** After the faults heal, every transaction must be decided within this. */
  readonly livenessBoundMs?: number
  readonly checkLiveness?: boolean
  /** Test-only: a broken quorum size for every replica. */
  readonly quorumOverrideForTests?: number
  /** Keep the trace records (one per spec action performed). */
  readonly trace?: boolean
  /** The persistence mode (default weak); "off" runs ordering only, without blocks. */
  readonly mode?: PersistenceMode | "off"
  /** Crash at a point of the durable-commit pipeline (in addition to the fault plan's crashes). */
  readonly crashPoint?: CrashPointPlan
  /** Return every correct replica's stored chain. */
  readonly keepChains?: boolean
  /** The genesis limits the replicas run with (default `simChainLimits`). */
  readonly limits?: Limits
}

export interface Violation {
  readonly property:
    | "Agreement"
    | "Validity"
    | "Liveness"
    | "Assertion"
    | "DurableReplies"
    | "CoinInvariant"
    | "StateAgreement"
    | "ChainVerify"
    | "Storage"
    | "StateTransfer"
    | "OneValuePerRegency"
  readonly detail: string
  readonly atMs: number
}

export interface SimResult {
  readonly seed: number
  readonly faults: string
  readonly violations: ReadonlyArray<Violation>
  readonly decidedCids: number
  readonly transactions: number
  readonly endMs: number
  readonly steps: number
  readonly regencyMax: number
  readonly rejected: RejectCounts
  readonly trace: ReadonlyArray<TraceRecord>
  readonly mode: PersistenceMode | "off"
  /** Transactions whose client accepted a result. */
  readonly accepted: number
  /** Accepted results missing from every correct replica's storage after a full crash. */
  readonly lostReplies: number
  /** Blocks in the longest correct replica's chain, and full crashes that happened. */
  readonly chainHeight: number
  readonly crashAlls: number
  /** The crash point, when one was planned and reached. */
  readonly crashPoint: CrashPointOutcome | undefined
  readonly finals: ReadonlyArray<FinalReplica>
  /** Every correct replica's stored chain (with `keepChains`). */
  readonly chains: ReadonlyArray<StoredChain>
  readonly restarts: ReadonlyArray<RestartRecord>
  readonly transfers: ReadonlyArray<TransferRecord>
  /** The genesis the run's chains start from. */
  readonly genesis: Genesis
}

type SimEvent =
  | { readonly atMs: number; readonly order: number; readonly kind: "deliver"; readonly to: ReplicaId; readonly from: ReplicaId; readonly payload: Payload }
  | { readonly atMs: number; readonly order: number; readonly kind: "tick"; readonly replica: ReplicaId }
  | { readonly atMs: number; readonly order: number; readonly kind: "submit"; readonly tx: Transaction; readonly to: ReadonlyArray<ReplicaId> }
  | { readonly atMs: number; readonly order: number; readonly kind: "retry"; readonly tx: Transaction }
  | { readonly atMs: number; readonly order: number; readonly kind: "reply"; readonly from: ReplicaId; readonly reply: ReplyOutput }
  | { readonly atMs: number; readonly order: number; readonly kind: "syncDone"; readonly replica: ReplicaId; readonly seq: number; readonly epoch: number }
  | { readonly atMs: number; readonly order: number; readonly kind: "crash"; readonly plan: CrashPlan }
  | { readonly atMs: number; readonly order: number; readonly kind: "restart"; readonly replica: ReplicaId; readonly wipe: boolean; readonly corrupt: boolean }
  | { readonly atMs: number; readonly order: number; readonly kind: "diskFail"; readonly replica: ReplicaId; readonly count: number }
  | { readonly atMs: number; readonly order: number; readonly kind: "transfer"; readonly to: ReplicaId; readonly from: ReplicaId; readonly bytes: Uint8Array }
  | { readonly atMs: number; readonly order: number; readonly kind: "transferTick"; readonly replica: ReplicaId }

/**
 * The limits the simulated replicas run with by default: the simulation's limits (small batches,
 * short timeouts) with a checkpoint every 4 blocks, so that runs of a few dozen blocks take
 * snapshots, restart from them and transfer them to a wiped replica.
 */
export const simChainLimits: Limits = { ...simLimits, checkpointInterval: 4 }

const tickMs = 10
/** State-transfer sessions a wiped replica runs before it comes back empty instead. */
const recoveryAttemptsMax = 3
/** A client that has no accepted result resends its transaction to every replica this often. */
const clientRetryMs = 1_500
/** A failed sync is tried again after this long. */
const syncRetryMs = 20

/** Draws a fault plan from the PRNG. */
export const drawFaults = (prng: Prng, n: number): FaultPlan => {
  const f = Math.floor((n - 1) / 3)
  const byzantine = new Map<ReplicaId, Behaviour>()
  const behaviours: ReadonlyArray<Behaviour> = ["silent", "equivocate", "forge", "replay", "stopDataLie", "mixed"]
  const byzCount = prng.int(0, f)
  for (const r of prng.shuffle([...Array(n).keys()]).slice(0, byzCount)) byzantine.set(r, prng.pick(behaviours))
  const healMs = prng.int(1_000, 6_000)
  const partitions: Array<Partition> = []
  const partitionCount = prng.int(0, 2)
  for (let i = 0; i < partitionCount; i++) {
    const fromMs = prng.int(0, healMs - 500)
    const toMs = prng.int(fromMs + 100, healMs)
    partitions.push({ fromMs, toMs, side: prng.shuffle([...Array(n).keys()]).slice(0, prng.int(1, Math.floor(n / 2))) })
  }
  // Sometimes one correct replica hears nothing until the faults heal, and comes back far behind.
  const correct = [...Array(n).keys()].filter((r) => !byzantine.has(r))
  const isolated = prng.chance(0.2) ? [prng.pick(correct)] : []
  // Storage faults: full crashes, single crashes, and (only without Byzantine replicas, since a
  // lost or damaged synced disk is a fault beyond the crash model) a wiped or corrupted disk.
  const crashes: Array<CrashPlan> = []
  const lastCrashMs = healMs - 200
  const crashAt = () => prng.int(200, Math.max(200, lastCrashMs))
  const downFor = (atMs: number) => Math.max(20, Math.min(prng.int(20, 400), healMs - atMs - 50))
  if (prng.chance(0.6)) {
    const atMs = crashAt()
    crashes.push({ atMs, downMs: downFor(atMs), replicas: "all" })
  }
  for (let i = prng.int(0, 2); i > 0; i--) {
    const atMs = crashAt()
    crashes.push({ atMs, downMs: downFor(atMs), replicas: [prng.pick(correct)] })
  }
  if (byzCount === 0 && prng.chance(0.3)) {
    const atMs = crashAt()
    const wipe = prng.chance(0.5)
    crashes.push({ atMs, downMs: downFor(atMs), replicas: [prng.pick(correct)], wipe, corrupt: !wipe })
  }
  const slowMs = new Map<ReplicaId, number>()
  for (const r of correct) if (prng.chance(0.3)) slowMs.set(r, prng.int(2, 60))
  const failing = prng.chance(0.3) ? [{ replica: prng.pick(correct), atMs: prng.int(0, healMs), count: prng.int(1, 4) }] : []
  return {
    crashes: crashes.sort((a, b) => a.atMs - b.atMs),
    disks: { slowMs, failing, torn: prng.chance(0.5) },
    byzantine,
    lossRate: prng.chance(0.5) ? prng.float() * 0.3 : 0,
    duplicateRate: prng.chance(0.5) ? prng.float() * 0.2 : 0,
    faultyDelayMs: prng.int(5, 300),
    stableDelayMs: prng.int(1, 20),
    partitions,
    healMs,
    isolated
  }
}

export const describeFaults = (plan: FaultPlan): string => {
  const byz = [...plan.byzantine].map(([r, b]) => `${r}:${b}`).join(",") || "none"
  const parts = plan.partitions.map((p) => `[${p.side.join(",")}]@${p.fromMs}-${p.toMs}ms`).join(" ") || "none"
  const crashes =
    (plan.crashes ?? [])
      .map((c) => `${c.replicas === "all" ? "all" : c.replicas.join(",")}@${c.atMs}ms+${c.downMs}ms${c.wipe === true ? "(wiped)" : ""}${c.corrupt === true ? "(corrupt)" : ""}`)
      .join(" ") || "none"
  const disks = plan.disks
  const slow = disks === undefined ? "" : [...disks.slowMs].map(([r, ms]) => `${r}:${ms}ms`).join(",") || "none"
  const failing = disks === undefined ? "" : disks.failing.map((f) => `${f.replica}x${f.count}@${f.atMs}ms`).join(",") || "none"
  return (
    `byzantine=${byz} loss=${plan.lossRate.toFixed(2)} dup=${plan.duplicateRate.toFixed(2)} ` +
    `delay<=${plan.faultyDelayMs}ms then <=${plan.stableDelayMs}ms partitions=${parts} ` +
    `isolated=${plan.isolated.join(",") || "none"} heal=${plan.healMs}ms crashes=${crashes}` +
    (disks === undefined ? "" : ` slowDisks=${slow} failingSyncs=${failing} torn=${disks.torn}`)
  )
}

interface Node {
  readonly id: ReplicaId
  readonly config: ReplicaConfig
  state: ReplicaState
  readonly verifier: InputVerifier
  /** Decided instances in cid order (index = cid - 1): what it serves to state transfer. */
  log: Array<{ readonly batch: ReadonlyArray<Transaction>; readonly proof: DecisionProof; readonly hashHex: string }>
  readonly byzantine: Byzantine | undefined
  /** Every (client, seq) this replica decided, as the simulator saw its decisions. */
  decidedKeys: Set<string>
  /** Its storage (persistence on). */
  store: MemoryBlockStore | undefined
  up: boolean
  /** Bumped by each crash: a sync that completes after a crash belongs to the old run. */
  epoch: number
}

/** What a client holds about one transaction. */
interface ClientTx {
  readonly tx: Transaction
  /** Reply value ("height:result") per replica that answered. */
  readonly replies: Map<ReplicaId, string>
  accepted: { readonly height: bigint; readonly resultHex: string } | undefined
}

const run = <A, E>(effect: Effect.Effect<A, E>): Either.Either<A, E> => Effect.runSync(Effect.either(effect))

export const runSimulation = (options: SimOptions): SimResult => {
  const prng = new Prng(options.seed)
  const n = options.n ?? 4
  const world: World = makeWorld(prng, n, options.clients ?? 3, options.limits ?? simChainLimits)
  const plan = options.faults ?? drawFaults(prng, n)
  const mode = options.mode ?? "weak"
  const txCount = options.transactions ?? 40
  const submitUntilMs = options.submitUntilMs ?? Math.max(500, plan.healMs - 200)
  const livenessBoundMs = options.livenessBoundMs ?? 30_000
  const checkLiveness = options.checkLiveness ?? true
  const endMs = plan.healMs + livenessBoundMs

  const violations: Array<Violation> = []
  const trace: Array<TraceRecord> = []
  const rejected: RejectCounts = {}
  const heap = new EventHeap<SimEvent>()
  let order = 0
  let now = 0
  let steps = 0
  let lostReplies = 0
  let crashAlls = 0
  const restarts: Array<RestartRecord> = []
  const transfers: Array<TransferRecord> = []
  const recoveries = new Map<ReplicaId, { readonly recovery: Recovery; readonly startMs: number; readonly attempt: number; readonly failures: ReadonlyArray<string> }>()

  const genesis: Genesis = {
    chainId,
    view: world.view,
    persistence: mode === "off" ? "memory" : mode,
    minters: [world.clients[minterIndex]!.publicKey],
    admission: [],
    limits: world.limits
  }
  const persistence =
    mode === "off"
      ? undefined
      : {
          mode,
          genesis,
          genesisHash: genesisHash(nodeCrypto, genesis),
          viewHash: viewHash(nodeCrypto, world.view),
          machine: genesisMachine(coinApp, nodeCrypto, genesis)
        }
  const newStore = (): MemoryBlockStore | undefined =>
    persistence === undefined ? undefined : Effect.runSync(makeMemoryBlockStore({ crypto: nodeCrypto, tornLastWrite: plan.disks?.torn === true }))

  const nodes: Array<Node> = world.view.members.map((m) => {
    const keys = world.viewKeys[m.replica]!
    const config = makeConfig({
      self: m.replica,
      chainId,
      view: world.view,
      limits: world.limits,
      crypto: nodeCrypto,
      signer: { sign: (msg) => nodeCrypto.sign(keys.secret, msg) },
      ...(options.quorumOverrideForTests === undefined ? {} : { quorumOverrideForTests: options.quorumOverrideForTests }),
      ...(persistence === undefined ? {} : { persistence })
    })
    const behaviour = plan.byzantine.get(m.replica)
    return {
      id: m.replica,
      config,
      state: initialState(config),
      verifier: new InputVerifier({ chainId, view: world.view, quorum: config.quorum, limits: world.limits, crypto: nodeCrypto }),
      log: [],
      decidedKeys: new Set<string>(),
      byzantine: behaviour === undefined ? undefined : new Byzantine(behaviour, m.replica, world, prng),
      store: newStore(),
      up: true,
      epoch: 0
    }
  })
  const correct = nodes.filter((x) => x.byzantine === undefined)
  const config0 = nodes[0]!.config
  /** Matching replies a client needs: q, or f + 1 in strong mode. */
  const repliesNeeded = mode === "strong" ? config0.weakQuorum : config0.quorum

  // Client transactions: submitted at random times to all replicas or to one; resent to every
  // replica until the client accepts a result.
  const submitted = new Map<string, string>()
  const clientTxs = new Map<string, ClientTx>()
  for (const tx of coinWorkload(prng, world, txCount)) {
    submitted.set(txKey(tx), toHex(txHash(nodeCrypto, tx)))
    clientTxs.set(txKey(tx), { tx, replies: new Map(), accepted: undefined })
    const to = prng.chance(0.3) ? [prng.int(0, n - 1)] : [...Array(n).keys()]
    const atMs = prng.int(0, submitUntilMs)
    heap.push({ atMs, order: order++, kind: "submit", tx, to })
    // A client that has no answer by the time the faults heal sends again to every replica.
    heap.push({ atMs: plan.healMs + prng.int(0, 200), order: order++, kind: "submit", tx, to: [...Array(n).keys()] })
    if (persistence !== undefined) heap.push({ atMs: atMs + clientRetryMs, order: order++, kind: "retry", tx })
  }
  for (const node of nodes) heap.push({ atMs: prng.int(0, tickMs - 1), order: order++, kind: "tick", replica: node.id })
  if (persistence !== undefined) {
    for (const c of plan.crashes ?? []) heap.push({ atMs: c.atMs, order: order++, kind: "crash", plan: c })
    for (const f of plan.disks?.failing ?? []) heap.push({ atMs: f.atMs, order: order++, kind: "diskFail", replica: f.replica, count: f.count })
  }

  // Agreement reference: the first batch hash decided for each cid by a correct replica.
  const decidedHash = new Map<bigint, string>()

  const partitioned = (a: ReplicaId, b: ReplicaId, atMs: number): boolean =>
    plan.partitions.some((p) => atMs >= p.fromMs && atMs < p.toMs && p.side.includes(a) !== p.side.includes(b))

  const isolated = (r: ReplicaId, atMs: number): boolean => atMs < plan.healMs && plan.isolated.includes(r)

  const emitTrace = (event: TraceEvent): void => {
    if (options.trace === true) trace.push({ seq: trace.length, timeMs: now, event })
  }

  const send = (from: ReplicaId, to: ReplicaId, payload: Payload): void => {
    if (from === to) return
    const faulty = now < plan.healMs
    if (partitioned(from, to, now) || isolated(from, now) || isolated(to, now)) return
    if (faulty && prng.chance(plan.lossRate)) return
    const copies = faulty && prng.chance(plan.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = prng.int(1, faulty ? plan.faultyDelayMs : plan.stableDelayMs)
      heap.push({ atMs: now + delay, order: order++, kind: "deliver", to, from, payload })
    }
  }

  const sendReply = (node: Node, reply: ReplyOutput): void => {
    const faulty = now < plan.healMs
    if (isolated(node.id, now) || (faulty && prng.chance(plan.lossRate))) return
    let r = reply
    // A forging Byzantine replica answers with a result of its own.
    if (node.byzantine !== undefined && (node.byzantine.behaviour === "forge" || node.byzantine.behaviour === "mixed"))
      r = { ...reply, result: prng.bytes(reply.result.length + 1) }
    heap.push({ atMs: now + prng.int(1, faulty ? plan.faultyDelayMs : plan.stableDelayMs), order: order++, kind: "reply", from: node.id, reply: r })
  }

  /** The transactions and results of block `height` in a replica's chain: stored, or executed and waiting to be written. */
  const blockAt = (node: Node, height: bigint): { readonly transactions: ReadonlyArray<Transaction>; readonly results: ReadonlyArray<Uint8Array> } | undefined => {
    const p = node.state.persistence
    const waiting = p?.unwritten.find((d) => d.height === height)
    if (waiting !== undefined) return { transactions: waiting.batch, results: waiting.results }
    if (node.store === undefined) return undefined
    const read = run(node.store.readBlock(height))
    return Either.isRight(read) ? read.right : undefined
  }

  const storage = (node: Node, out: Parameters<typeof applyWrite>[1]): void => {
    const store = node.store
    if (store === undefined) return
    const r = run(applyWrite(store, out))
    if (Either.isLeft(r)) violations.push({ property: "Storage", detail: `replica ${node.id}: ${r.left.message}`, atMs: now })
  }

  // OneValuePerRegency: a correct replica sends at most one PROPOSE value and one WRITE value per
  // (view, cid, regency), across its crashes and restarts (the quorum-intersection argument counts
  // on it). Checked on what actually leaves the replica, not on the trace events. Not checked in
  // memory mode, nor for a replica once its disk was wiped or corrupted: both forget what they
  // sent, a fault beyond the crash model (trace validation counts such a replica as adversary).
  const sentValues = new Map<string, string>()
  const amnesic = new Set<ReplicaId>()
  const noteSentValue = (node: Node, message: ConsensusMessage): void => {
    if (mode === "memory" || amnesic.has(node.id) || node.byzantine !== undefined) return
    if (message._tag !== "Propose" && message._tag !== "Write") return
    const key = `${node.id}:${message._tag}:${message.viewId}:${message.cid}:${message.regency}`
    const value = message._tag === "Write" ? toHex(message.batchHash) : message.batch.map(txKey).join(",")
    const before = sentValues.get(key)
    if (before === undefined) sentValues.set(key, value)
    else if (before !== value)
      violations.push({
        property: "OneValuePerRegency",
        detail: `replica ${node.id} sent a second ${message._tag} value for cid ${message.cid} in regency ${message.regency}`,
        atMs: now
      })
  }

  const interpret = (node: Node, outputs: ReadonlyArray<Output>): void => {
    const members = world.view.members
    const sendOut = (to: ReplicaId, payload: Payload) => {
      if (node.byzantine === undefined) send(node.id, to, payload)
      else for (const p of node.byzantine.transform(to, payload, node.state)) send(node.id, to, p)
    }
    for (const out of outputs) {
      if (!node.up) return
      if (crashPointBefore(node, out)) {
        reachCrashPoint(node)
        return
      }
      perform(out)
      if (crashPointAfter(node, out)) {
        reachCrashPoint(node)
        return
      }
    }

    function perform(out: Output): void {
      switch (out._tag) {
        case "Send":
          noteSentValue(node, out.message)
          sendOut(out.to, { _tag: "Consensus", message: out.message })
          break
        case "Broadcast":
          noteSentValue(node, out.message)
          for (const m of members) if (m.replica !== node.id) sendOut(m.replica, { _tag: "Consensus", message: out.message })
          break
        case "Forward":
          sendOut(out.to, { _tag: "Request", tx: out.tx })
          break
        case "RequestState":
          for (const m of members) if (m.replica !== node.id) sendOut(m.replica, { _tag: "StateRequest", fromCid: out.fromCid })
          break
        case "Decide":
          onDecide(node, out.cid, out.batch, out.proof)
          break
        case "Trace":
          emitTrace(out.event as TraceEvent)
          break
        case "ReplyAgain": {
          const block = blockAt(node, out.cid)
          const index = block?.transactions.findIndex((tx) => txKey(tx) === txKey(out))
          if (block !== undefined && index !== undefined && index >= 0)
            sendReply(node, {
              _tag: "Reply",
              viewId: world.view.id,
              client: out.client,
              seq: out.seq,
              height: out.cid,
              index,
              result: block.results[index]!
            })
          break
        }
        case "WriteBlock":
        case "WriteCertificate":
        case "WriteRecord":
          storage(node, out)
          break
        case "SyncRequest": {
          const slow = plan.disks?.slowMs.get(node.id)
          const delay = slow === undefined ? 1 : prng.int(1, slow)
          heap.push({ atMs: now + delay, order: order++, kind: "syncDone", replica: node.id, seq: out.seq, epoch: node.epoch })
          break
        }
        case "Reply":
          sendReply(node, out)
          break
        case "ShareDecided": {
          const shared = out.certificate === undefined ? { batch: out.batch, proof: out.proof } : { batch: out.batch, proof: out.proof, certificate: out.certificate }
          for (const m of members) if (m.replica !== node.id) sendOut(m.replica, { _tag: "StateReply", decided: [shared] })
          break
        }
        case "RewriteBlock": {
          const store = node.store
          if (store === undefined) break
          const r = run(applyRewrite(store, out))
          if (Either.isLeft(r)) violations.push({ property: "Storage", detail: `replica ${node.id}: ${r.left.message}`, atMs: now })
          break
        }
      }
    }
  }

  const onDecide = (node: Node, cid: bigint, batch: ReadonlyArray<Transaction>, proof: DecisionProof): void => {
    const hashHex = toHex(batchHash(nodeCrypto, batch))
    node.log.push({ batch, proof, hashHex })
    if (node.byzantine !== undefined) return
    if (BigInt(node.log.length) !== cid) violations.push({ property: "Validity", detail: `replica ${node.id} decided cid ${cid} out of order`, atMs: now })
    const first = decidedHash.get(cid)
    if (first === undefined) decidedHash.set(cid, hashHex)
    else if (first !== hashHex)
      violations.push({ property: "Agreement", detail: `cid ${cid}: replica ${node.id} decided ${hashHex.slice(0, 12)}, another ${first.slice(0, 12)}`, atMs: now })
    if (toHex(proof.batchHash) !== hashHex) violations.push({ property: "Validity", detail: `cid ${cid}: proof does not match the batch`, atMs: now })
    for (const tx of batch) {
      const key = txKey(tx)
      const expected = submitted.get(key)
      if (expected === undefined || expected !== toHex(txHash(nodeCrypto, tx)))
        violations.push({ property: "Validity", detail: `cid ${cid}: replica ${node.id} decided a transaction never submitted (${key.slice(0, 16)})`, atMs: now })
      if (node.decidedKeys.has(key)) violations.push({ property: "Validity", detail: `replica ${node.id} decided ${key.slice(0, 16)} twice`, atMs: now })
      node.decidedKeys.add(key)
    }
  }

  const feed = (node: Node, inputs: ReadonlyArray<Input>): void => {
    if (!node.up) return
    const { accepted, rejected: dropped } = node.verifier.verify(inputs)
    countRejected(rejected, dropped)
    for (const input of accepted) {
      // A crash point reached while interpreting the last step stops the replica mid-batch.
      if (!node.up) return
      steps++
      try {
        const result = step(node.state, input)
        node.state = result.state
        interpret(node, result.outputs)
      } catch (e) {
        violations.push({ property: "Assertion", detail: `replica ${node.id}: ${(e as Error).message}`, atMs: now })
        throw e
      }
    }
  }

  // ---- Clients -------------------------------------------------------------------------------

  const onReply = (from: ReplicaId, reply: ReplyOutput): void => {
    const c = clientTxs.get(txKey(reply))
    if (c === undefined || c.accepted !== undefined) return
    const value = `${reply.height}:${toHex(reply.result)}`
    c.replies.set(from, value)
    let matching = 0
    for (const v of c.replies.values()) if (v === value) matching++
    if (matching < repliesNeeded) return
    c.accepted = { height: reply.height, resultHex: toHex(reply.result) }
    emitTrace({ action: "AcceptReply", replica: from, client: toHex(reply.client), txSeq: reply.seq.toString(), height: Number(reply.height), replies: matching })
  }

  const allAccepted = (): boolean => persistence === undefined || [...clientTxs.values()].every((c) => c.accepted !== undefined)

  // ---- Crashes and restarts ------------------------------------------------------------------

  const crash = (node: Node): void => {
    node.up = false
    node.epoch++
    const store = node.store
    if (store !== undefined) {
      const r = run(store.crash())
      if (Either.isLeft(r)) violations.push({ property: "Storage", detail: `replica ${node.id}: ${r.left.message}`, atMs: now })
    }
  }

  /** Each accepted result is still in the synced storage of at least one correct replica. */
  const checkDurable = (): void => {
    for (const [key, c] of clientTxs) {
      if (c.accepted === undefined) continue
      const { height, resultHex } = c.accepted
      const kept = correct.some((node) => {
        if (node.store === undefined) return false
        const read = run(node.store.readBlock(height))
        if (Either.isLeft(read)) return false
        const i = read.right.transactions.findIndex((tx) => txKey(tx) === key)
        return i >= 0 && toHex(read.right.results[i]!) === resultHex
      })
      if (!kept) {
        lostReplies++
        violations.push({ property: "DurableReplies", detail: `the accepted result of ${key.slice(0, 16)} at height ${height} survived in no correct replica's storage`, atMs: now })
      }
    }
  }

  const onCrash = (c: CrashPlan): void => {
    const targets = (c.replicas === "all" ? correct : c.replicas.map((r) => nodes[r]!)).filter((x) => x.up && x.byzantine === undefined)
    crashNow(targets, c.replicas === "all", c.downMs, c.wipe === true, c.corrupt === true)
  }

  /** Crashes `targets` (all of the running correct replicas when `all`) and schedules their restart. */
  const crashNow = (targets: ReadonlyArray<Node>, all: boolean, downMs: number, wipe: boolean, corrupt: boolean): void => {
    if (targets.length === 0) return
    if (all) {
      crashAlls++
      emitTrace(crashAllTrace(targets.map((x) => x.state)))
    } else for (const x of targets) emitTrace(crashTrace(x.state))
    for (const x of targets) crash(x)
    if (all) {
      checkDurable()
      // Memory mode keeps nothing of ordering across a crash: decisions above what any replica
      // synced are gone for everyone and may be decided again differently (its lost transactions).
      if (mode === "memory") {
        let durable = 0n
        for (const x of targets) durable = x.state.persistence !== undefined && x.state.persistence.dur > durable ? x.state.persistence.dur : durable
        for (const cid of [...decidedHash.keys()]) if (cid > durable) decidedHash.delete(cid)
      }
    }
    for (const x of targets) heap.push({ atMs: now + downMs, order: order++, kind: "restart", replica: x.id, wipe, corrupt })
  }

  // ---- Crash points of the pipeline --------------------------------------------------------

  const pointPlan = persistence === undefined ? undefined : options.crashPoint
  let pointOutcome: CrashPointOutcome | undefined
  /** Replies for the crash point's block released by its replica so far. */
  let pointReplies = 0

  const armed = (node: Node): CrashPointPlan | undefined =>
    pointPlan !== undefined && pointOutcome === undefined && node.id === pointPlan.replica && node.byzantine === undefined ? pointPlan : undefined

  /** The output is the first step past the point: crash before performing it. */
  const crashPointBefore = (node: Node, out: Output): boolean => {
    const plan = armed(node)
    return plan !== undefined && plan.point === "executed" && out._tag === "WriteBlock" && out.block.header.height === plan.height
  }

  /** The output completes the point: crash right after performing it. */
  const crashPointAfter = (node: Node, out: Output): boolean => {
    const plan = armed(node)
    if (plan === undefined) return false
    if (out._tag === "Reply" && out.height === plan.height) pointReplies++
    switch (plan.point) {
      case "written":
        return out._tag === "WriteBlock" && out.block.header.height === plan.height
      case "committed":
        return out._tag === "Broadcast" && out.message._tag === "Commit" && out.message.height === plan.height
      case "certificateWritten":
        return out._tag === "WriteCertificate" && out.certificate.height === plan.height
      case "replied": {
        if (out._tag !== "Trace" || out.event.action !== "ReleaseReply") return false
        const from = BigInt(out.event["from"] as number)
        const to = BigInt(out.event["height"] as number)
        return from <= plan.height && plan.height <= to
      }
      default:
        return false
    }
  }

  /** After a sync completed on disk and before the core hears of it: the two "synced" points. */
  const crashPointAtSync = (node: Node): boolean => {
    const plan = armed(node)
    const p = node.state.persistence
    const store = node.store
    if (plan === undefined || p === undefined || store === undefined) return false
    if (plan.point === "synced") return p.dur < plan.height && Either.isRight(run(store.readBlock(plan.height)))
    if (plan.point === "certificateSynced") return p.certH < plan.height && Either.isRight(run(store.readCertificate(plan.height)))
    return false
  }

  const reachCrashPoint = (node: Node): void => {
    const plan = pointPlan
    if (plan === undefined) return
    const targets = plan.all ? correct.filter((x) => x.up) : [node]
    crashNow(targets, plan.all, plan.downMs, false, false)
    const store = node.store
    pointOutcome = {
      atMs: now,
      crashed: targets.map((x) => x.id),
      blockDurable: store !== undefined && Either.isRight(run(store.readBlock(plan.height))),
      certificateDurable: store !== undefined && Either.isRight(run(store.readCertificate(plan.height))),
      repliesReleased: pointReplies,
      acceptedBefore: [...clientTxs.values()].filter((c) => c.accepted !== undefined).length
    }
  }

  const onRestart = (node: Node, wipe: boolean, corrupt: boolean): void => {
    if (wipe || corrupt) amnesic.add(node.id)
    if (wipe) {
      // An empty disk: the replica first recovers by state transfer, then restarts from what it stored.
      node.store = newStore()
      if (node.store !== undefined) startRecovery(node)
      return
    }
    restartFromStore(node, corrupt, false)
  }

  const restartFromStore = (node: Node, corrupt: boolean, wiped: boolean): void => {
    const store = node.store
    if (store === undefined) return
    if (corrupt) {
      const head = run(store.head())
      if (Either.isRight(head) && Option.isSome(head.right) && head.right.value.height > 1n)
        Effect.runSync(store.corrupt(BigInt(prng.int(1, Number(head.right.value.height))), "block"))
    }
    // A failing disk fails the reads' repairs too: the replica retries, as the shell retries syncs.
    let durable = run(loadDurable(store))
    for (let attempt = 1; attempt < 8 && Either.isLeft(durable) && durable.left.message.includes("injected sync failure"); attempt++)
      durable = run(loadDurable(store))
    if (Either.isLeft(durable)) {
      violations.push({ property: "Storage", detail: `replica ${node.id} cannot read its storage: ${durable.left.message}`, atMs: now })
      return
    }
    const result = restart(node.config, durable.right, now)
    if (result.truncateFrom !== undefined) run(store.truncateFrom(result.truncateFrom))
    node.state = result.state
    restarts.push({ replica: node.id, atMs: now, height: result.state.persistence?.dur ?? 0n, restoredFrom: result.restoredFrom, wiped })
    const kept = durable.right.blocks.slice(0, Number(result.state.persistence?.dur ?? 0n))
    node.log = kept.map((b) => ({ batch: b.transactions, proof: b.decision, hashHex: toHex(b.decision.batchHash) }))
    node.decidedKeys = new Set(kept.flatMap((b) => b.transactions.map(txKey)))
    for (const b of kept) {
      const first = decidedHash.get(b.header.height)
      if (first === undefined) decidedHash.set(b.header.height, toHex(b.decision.batchHash))
      else if (first !== toHex(b.decision.batchHash))
        violations.push({ property: "Agreement", detail: `replica ${node.id} restarted with block ${b.header.height} of another batch`, atMs: now })
    }
    node.up = true
    interpret(node, result.outputs)
  }

  // ---- Recovery of a wiped replica by state transfer (./transfer.ts) --------------------------

  /** Moves a state-transfer message over the network, like any other message. */
  const sendTransfer = (from: ReplicaId, to: ReplicaId, message: StateTransferMessage): void => {
    if (from === to) return
    const faulty = now < plan.healMs
    if (partitioned(from, to, now) || isolated(from, now) || isolated(to, now)) return
    if (faulty && prng.chance(plan.lossRate)) return
    const bytes = encodeStateTransferMessage(message)
    heap.push({ atMs: now + prng.int(1, faulty ? plan.faultyDelayMs : plan.stableDelayMs), order: order++, kind: "transfer", to, from, bytes })
  }

  /** Starts a recovery session; a failed one is followed by a new one, up to `recoveryAttemptsMax`. */
  const startRecovery = (node: Node, attempt = 1, startMs = now, failures: ReadonlyArray<string> = []): void => {
    const recovery = new Recovery({
      genesis,
      view: world.view,
      self: node.id,
      requestTimeoutMs: world.limits.requestTimeoutMs,
      send: (to, message) => sendTransfer(node.id, to, message)
    })
    recoveries.set(node.id, { recovery, startMs, attempt, failures })
    recovery.start(now)
    if (attempt === 1) heap.push({ atMs: now + tickMs, order: order++, kind: "transferTick", replica: node.id })
    settleRecovery(node)
  }

  /** A message of state transfer arrives: an answer for a recovering replica, or a request a member answers from its store. */
  const onTransfer = (to: Node, from: ReplicaId, bytes: Uint8Array): void => {
    const decoded = decodeStateTransferMessage(bytes)
    if (Either.isLeft(decoded)) {
      violations.push({ property: "Storage", detail: `a state-transfer message from ${from} does not decode: ${decoded.left.message}`, atMs: now })
      return
    }
    const message = decoded.right
    const active = recoveries.get(to.id)
    if (active !== undefined) {
      active.recovery.receive(from, message)
      settleRecovery(to)
      return
    }
    if (!to.up || to.store === undefined || to.byzantine?.behaviour === "silent") return
    const answer = answerFromStore(to.store, world.view, message)
    if (answer === undefined) return
    sendTransfer(to.id, from, to.byzantine === undefined ? answer : forgeAnswer(to.byzantine.behaviour, answer))
  }

  /** What a forging Byzantine member answers instead: a snapshot or a block with one byte changed. */
  const forgeAnswer = (behaviour: Behaviour, answer: StateTransferMessage): StateTransferMessage => {
    if (behaviour !== "forge" && behaviour !== "mixed") return answer
    const flip = (bytes: Uint8Array): Uint8Array => {
      const out = Uint8Array.from(bytes)
      if (out.length > 0) out[Math.floor(out.length / 2)]! ^= 0x01
      return out
    }
    if (answer._tag === "SnapshotAnswer") return { ...answer, snapshot: flip(answer.snapshot) }
    if (answer._tag === "BlocksAnswer" && answer.blocks[0] !== undefined) {
      const [first, ...rest] = answer.blocks
      const results = first.results.length === 0 ? first.results : [flip(first.results[0]!), ...first.results.slice(1)]
      return { ...answer, blocks: [{ ...first, results }, ...rest] }
    }
    return answer
  }

  const onTransferTick = (node: Node): void => {
    const active = recoveries.get(node.id)
    if (active === undefined) return
    active.recovery.tick(now)
    settleRecovery(node)
    if (recoveries.has(node.id)) heap.push({ atMs: now + tickMs, order: order++, kind: "transferTick", replica: node.id })
  }

  /** A recovery that ended: its blocks and snapshot go to the new store, and the replica restarts from it. */
  const settleRecovery = (node: Node): void => {
    const active = recoveries.get(node.id)
    const outcome = active?.recovery.outcome
    if (active === undefined || outcome === undefined) return
    recoveries.delete(node.id)
    // The session proves a member Byzantine only on evidence: a correct member is never among them.
    for (const r of active.recovery.session.faulty)
      if (nodes[r]?.byzantine === undefined)
        violations.push({ property: "StateTransfer", detail: `replica ${node.id}'s state transfer took correct replica ${r} for Byzantine`, atMs: now })
    const store = node.store
    const failures = outcome._tag === "Failed" ? [...active.failures, outcome.reason] : active.failures
    const record = (ok: boolean, checkpoint: bigint, snapshotFrom: ReplicaId | undefined, height: bigint) =>
      transfers.push({
        replica: node.id,
        startMs: active.startMs,
        endMs: now,
        ok,
        checkpoint,
        snapshotFrom,
        height,
        attempts: active.attempt,
        failures,
        counters: { ...active.recovery.session.counters },
        faulty: [...active.recovery.session.faulty]
      })
    if (outcome._tag === "Failed" && active.attempt < recoveryAttemptsMax) {
      startRecovery(node, active.attempt + 1, active.startMs, failures)
      return
    }
    if (outcome._tag === "Failed" || store === undefined) {
      // Nothing verified to store: the replica comes back empty and catches up instance by instance.
      record(false, 0n, undefined, 0n)
      restartFromStore(node, false, true)
      return
    }
    const { blocks, checkpoint, certificate } = outcome.recovered
    const written = run(
      Effect.gen(function* () {
        for (const block of blocks) {
          yield* store.appendBlock(block)
          if (block.header.height === checkpoint.height) yield* store.putSnapshot(checkpoint.height, checkpoint.stateHash, checkpoint.snapshot)
        }
        if (certificate !== undefined) yield* store.appendCertificate(certificate)
        // A failing disk fails a bounded number of syncs (DiskPlan.failing): try again.
        yield* Effect.retry(store.sync(), { times: 16 })
      })
    )
    if (Either.isLeft(written)) violations.push({ property: "Storage", detail: `replica ${node.id} cannot store what it recovered: ${written.left.message}`, atMs: now })
    record(true, checkpoint.height, checkpoint.from, BigInt(blocks.length))
    restartFromStore(node, false, true)
  }

  const onSyncDone = (node: Node, seq: number, epoch: number): void => {
    if (!node.up || node.epoch !== epoch || node.store === undefined) return
    const r = run(node.store.sync())
    if (Either.isLeft(r)) {
      heap.push({ atMs: now + syncRetryMs, order: order++, kind: "syncDone", replica: node.id, seq, epoch })
      return
    }
    if (crashPointAtSync(node)) {
      reachCrashPoint(node)
      return
    }
    feed(node, [{ _tag: "Synced", seq }])
  }

  const allDecided = (): boolean => correct.every((node) => [...submitted.keys()].every((k) => node.state.decidedTx.has(k)))

  let ended = false
  try {
    while (heap.size > 0 && violations.length === 0) {
      const ev = heap.pop()!
      if (ev.atMs > endMs) break
      now = ev.atMs
      if (ev.kind === "tick") {
        const node = nodes[ev.replica]!
        if (node.byzantine?.behaviour !== "silent" && !isolated(node.id, now) && node.up) {
          feed(node, [{ _tag: "Tick", nowMs: now }])
          if (node.byzantine !== undefined) for (const [to, p] of node.byzantine.onTick(node.state)) send(node.id, to, p)
        }
        heap.push({ atMs: now + tickMs, order: order++, kind: "tick", replica: ev.replica })
        if (now >= plan.healMs && ev.replica === 0 && now % 200 < tickMs && allDecided() && allAccepted()) {
          ended = true
          break
        }
      } else if (ev.kind === "submit") {
        for (const r of ev.to) {
          const node = nodes[r]!
          if (node.byzantine?.behaviour === "silent" || isolated(r, now)) continue
          if (now < plan.healMs && prng.chance(plan.lossRate)) continue
          feed(node, [{ _tag: "Transaction", tx: ev.tx }])
        }
      } else if (ev.kind === "retry") {
        if (clientTxs.get(txKey(ev.tx))?.accepted === undefined) {
          heap.push({ atMs: now, order: order++, kind: "submit", tx: ev.tx, to: [...Array(n).keys()] })
          heap.push({ atMs: now + clientRetryMs, order: order++, kind: "retry", tx: ev.tx })
        }
      } else if (ev.kind === "reply") onReply(ev.from, ev.reply)
      else if (ev.kind === "syncDone") onSyncDone(nodes[ev.replica]!, ev.seq, ev.epoch)
      else if (ev.kind === "crash") onCrash(ev.plan)
      else if (ev.kind === "restart") onRestart(nodes[ev.replica]!, ev.wipe, ev.corrupt)
      else if (ev.kind === "transfer") onTransfer(nodes[ev.to]!, ev.from, ev.bytes)
      else if (ev.kind === "transferTick") onTransferTick(nodes[ev.replica]!)
      else if (ev.kind === "diskFail") {
        const store = nodes[ev.replica]!.store
        if (store !== undefined) Effect.runSync(store.failSyncs(ev.count))
      } else {
        const node = nodes[ev.to]!
        if (node.byzantine?.behaviour === "silent" || !node.up) continue
        node.byzantine?.observe(ev.from, ev.payload)
        deliver(node, ev.from, ev.payload)
      }
    }
  } catch {
    // The assertion is recorded as a violation; the run stops there.
  }

  function certificateOf(node: Node, height: bigint): Certificate | undefined {
    const known = node.state.persistence?.certificates.get(heightKey(height))
    if (known !== undefined || node.store === undefined) return known
    const read = run(node.store.readCertificate(height))
    return Either.isRight(read) ? read.right : undefined
  }

  function deliver(node: Node, from: ReplicaId, payload: Payload): void {
    switch (payload._tag) {
      case "Consensus":
        feed(node, [{ _tag: "Message", from, message: payload.message as ConsensusMessage }])
        return
      case "Request":
        feed(node, [{ _tag: "Transaction", tx: payload.tx }])
        return
      case "StateRequest": {
        const start = Number(payload.fromCid) - 1
        if (start < 0 || start >= node.log.length) return
        const decided = node.log.slice(start, start + coreLimits.stateTransferCidsMax).map((d) => {
          const certificate = mode === "strong" ? certificateOf(node, d.proof.cid) : undefined
          return certificate === undefined ? { batch: d.batch, proof: d.proof } : { batch: d.batch, proof: d.proof, certificate }
        })
        const reply: Payload = { _tag: "StateReply", decided }
        if (node.byzantine === undefined) send(node.id, from, reply)
        else for (const p of node.byzantine.transform(from, reply, node.state)) send(node.id, from, p)
        return
      }
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

  if (violations.length === 0 && checkLiveness && !ended && !(allDecided() && allAccepted())) {
    const missing = correct.map((node) => `${node.id}:${[...submitted.keys()].filter((k) => !node.state.decidedTx.has(k)).length}`).join(" ")
    const unaccepted = [...clientTxs.values()].filter((c) => c.accepted === undefined).length
    violations.push({
      property: "Liveness",
      detail: `not every transaction decided and accepted ${livenessBoundMs}ms after the faults healed (missing per replica ${missing}; ${persistence === undefined ? 0 : unaccepted} not accepted; regencies ${correct.map((x) => `${x.id}:${x.state.regency}/${x.state.nextRegency}${x.state.synced ? "" : "u"}@${x.state.instance.cid}${x.state.persistence === undefined ? "" : ` h${x.state.persistence.height}w${x.state.persistence.wrote}d${x.state.persistence.dur}c${x.state.persistence.certH}`}`).join(" ")})`,
      atMs: now
    })
  }
  if (violations.length === 0 && persistence !== undefined) checkChains()

  /** The end-of-run checks over every correct replica's chain. */
  function checkChains(): void {
    const byHeight = new Map<bigint, { readonly state: string; readonly replica: ReplicaId }>()
    const byWritten = new Map<bigint, { readonly hash: string; readonly replica: ReplicaId }>()
    for (const node of correct) {
      const p = node.state.persistence
      const store = node.store
      if (p === undefined || store === undefined) continue
      const blocks: Array<Block> = []
      const head = run(store.head())
      const top = Either.isRight(head) && Option.isSome(head.right) ? head.right.value.height : 0n
      for (let from = 1n; from <= top; from += BigInt(readRangeBlocksMax)) {
        const to = from + BigInt(readRangeBlocksMax) - 1n < top ? from + BigInt(readRangeBlocksMax) - 1n : top
        const read = run(store.readRange(from, to))
        if (Either.isLeft(read)) {
          violations.push({ property: "ChainVerify", detail: `replica ${node.id}: ${read.left.message}`, atMs: now })
          return
        }
        blocks.push(...read.right)
      }
      const verified = verifyChain(nodeCrypto, genesis, blocks)
      if (Either.isLeft(verified)) violations.push({ property: "ChainVerify", detail: `replica ${node.id}: ${verified.left.message}`, atMs: now })
      const all = [...blocks, ...p.unwritten.map((d) => ({ transactions: d.batch, results: d.results }))]
      const history = new CoinHistoryChecker()
      all.forEach((b, i) => {
        for (const v of history.observe(b.transactions, b.results))
          violations.push({ property: "CoinInvariant", detail: `replica ${node.id} block ${i + 1}: ${v.invariant}: ${v.detail}`, atMs: now })
      })
      for (const v of coinInvariants(p.machine.state as CoinState, history.minted))
        violations.push({ property: "CoinInvariant", detail: `replica ${node.id}: ${v.invariant}: ${v.detail}`, atMs: now })
      // Equal states at equal executed heights; and, in strong mode, equal header hashes at equal
      // written heights (certificates need them; a replica may still be writing the last blocks).
      const mine = { state: toHex(p.machine.stateHash()), replica: node.id }
      const other = byHeight.get(p.height)
      if (other === undefined) byHeight.set(p.height, mine)
      else if (other.state !== mine.state)
        violations.push({ property: "StateAgreement", detail: `replicas ${other.replica} and ${node.id} hold different states at height ${p.height}`, atMs: now })
      if (mode === "strong" && p.wrote > 0n) {
        const head = { hash: toHex(p.headHash), replica: node.id }
        const seen = byWritten.get(p.wrote)
        if (seen === undefined) byWritten.set(p.wrote, head)
        else if (seen.hash !== head.hash)
          violations.push({ property: "StateAgreement", detail: `replicas ${seen.replica} and ${node.id} wrote different headers at height ${p.wrote}`, atMs: now })
      }
      for (const [key, c] of clientTxs) {
        if (c.accepted === undefined || c.accepted.height > p.height) continue
        const block = all[Number(c.accepted.height) - 1]
        const i = block === undefined ? -1 : block.transactions.findIndex((tx) => txKey(tx) === key)
        if (block === undefined || i < 0 || toHex(block.results[i]!) !== c.accepted.resultHex) {
          lostReplies++
          violations.push({ property: "DurableReplies", detail: `replica ${node.id} lacks the accepted result of ${key.slice(0, 16)} at height ${c.accepted.height}`, atMs: now })
        }
      }
    }
  }

  return {
    seed: options.seed,
    faults: describeFaults(plan),
    violations,
    decidedCids: Math.max(0, ...correct.map((x) => x.log.length)),
    transactions: txCount,
    endMs: now,
    steps,
    regencyMax: Math.max(0, ...correct.map((x) => Number(x.state.regency))),
    rejected,
    trace,
    mode,
    accepted: [...clientTxs.values()].filter((c) => c.accepted !== undefined).length,
    lostReplies,
    chainHeight: Math.max(0, ...correct.map((x) => Number(x.state.persistence?.height ?? 0n))),
    crashAlls,
    crashPoint: pointOutcome,
    restarts,
    transfers,
    genesis,
    finals: correct.map((x) => {
      const p = x.state.persistence
      return {
        replica: x.id,
        up: x.up,
        height: p?.height ?? x.state.lastDecidedCid,
        wrote: p?.wrote ?? 0n,
        dur: p?.dur ?? 0n,
        certH: p?.certH ?? 0n,
        headHash: p === undefined ? "" : toHex(p.headHash),
        stateHash: p === undefined ? "" : toHex(p.machine.stateHash())
      }
    }),
    chains: options.keepChains === true ? correct.flatMap((x) => (x.store === undefined ? [] : [storedChain(x.id, x.store)])) : []
  }
}

/** Every block and certificate a store holds, from height 1 to its head. */
const storedChain = (replica: ReplicaId, store: MemoryBlockStore): StoredChain => {
  const head = run(store.head())
  const top = Either.isRight(head) && Option.isSome(head.right) ? head.right.value.height : 0n
  const blocks: Array<Block> = []
  const certificates: Array<Certificate> = []
  for (let h = 1n; h <= top; h++) {
    const block = run(store.readBlock(h))
    if (Either.isLeft(block)) break
    blocks.push(block.right)
    const certificate = run(store.readCertificate(h))
    if (Either.isRight(certificate)) certificates.push(certificate.right)
  }
  return { replica, blocks, certificates }
}

export { simLimits }
