/**
 * Replay of spec behaviours through the real replica core (spec -> implementation).
 *
 * Four replicas run `step` (src/core/step.ts) behind the Verifier, with blocks and durable commit
 * in the behaviour's persistence mode (a key-value application, each replica's storage the
 * in-memory BlockStore with crash semantics). Each spec step becomes inputs for the replica that
 * takes it:
 *
 *   Submit(i)       transaction i to every running replica
 *   Propose(r)      none: the leader proposes as soon as it holds a pending transaction
 *   Write(r)        the leader's PROPOSE (the message the leader's core actually sent)
 *   Accept(r)       WRITEs that are in the spec's msgs, one at a time, until it accepts
 *   Decide(r)       ACCEPTs that are in the spec's msgs, one at a time, until it decides
 *   Stop(r)         STOPs in the spec's msgs, one at a time (f + 1 make it join); else ticks
 *                   past the request timeout
 *   StopData(r)     STOPs in the spec's msgs, one at a time, until it installs the regency
 *   Sync(r)         the STOPDATA sent to it that are in the spec's msgs, one at a time (for a
 *                   bound value those reporting an accepted value first, for a free one the others)
 *   Resume(r)       the new leader's SYNC
 *   PersistBlock(r) the ACCEPTs of the block's cid in the spec's msgs, one at a time, until the
 *                   replica holds the canonical proof and writes the block
 *   SyncBlocks(r)   completes the sync the replica asked for (its storage syncs)
 *   Commit(r)       none: a replica commits as soon as its block is synced
 *   Certify(r)      the COMMITs in the spec's msgs, one at a time, then completes the sync of
 *                   the certificate
 *   ReleaseReply(r) none: replies go out as soon as the mode allows
 *   Checkpoint(r)   none: the sync that makes a checkpoint block durable makes its snapshot
 *                   durable, and the core emits Checkpoint when that sync completes
 *   Crash(r)        its storage loses what was not synced and it stops; CrashAll: every running
 *                   replica at once
 *   Restart(r)      the replica restarts from its storage (src/persistence/restart.ts); its
 *                   clients send it their transactions again (the spec's submitted requests
 *                   survive a crash: clients resend until they have a reply)
 *
 * Reconfiguration behaviours (`members` set; conformance/GenReconfigBehaviours.tla): replicas
 * 0 .. members - 1 form genesis's view, the others are joiners on the admission list; every
 * replica has an identity key and its shell's view keys, and inputs are checked by the Verifier
 * of the view they belong to.
 *
 *   RequestJoin(j)   the joiner's shell makes a fresh key for the next view and submits JOIN
 *                    to every running member
 *   RequestLeave(r)  the member submits LEAVE to every running member
 *   Rotate(r)        the core asked for a fresh key (RotateKey) when it executed the change; the
 *                    shell makes it and submits ROTATE to every running member
 *   StateTransfer(j) a joiner takes the batch a member decided at its next cid; its
 *   PersistBlock(j)  stores the block a member wrote, and
 *   SyncBlocks(j)    syncs its store (a joiner runs no core before its first view)
 *   InstallView(r)   a member: the core's InstallView event (a member that leaves gets the new
 *                    view's first decision from a peer's state-transfer answer first); a joiner:
 *                    its core starts in the view from the blocks it stored, as a restart does
 *   EraseKeys(r)     the core's EraseKeys event
 *
 * The spec's REPLY answers client transactions only: the core's ReleaseReply events for blocks of
 * membership requests alone are no spec step (counted as `ReleaseReply(requests)`). Post-states
 * add the installed view, the ids of the view keys the shell holds and `left`; a replica that
 * left is compared on those only (it takes no further spec step), and a joiner before its first
 * view on what it fetched, stored and synced.
 *
 * A sync that covers only the consensus record (the vote and the regency) completes at once: the
 * spec's Accept, StopData and Sync log their state durably and send in one step, and the core
 * holds those messages until that sync. Block and certificate syncs wait for the spec's
 * SyncBlocks and Certify.
 *
 * The step is matched when the replica emits the trace event of the same action with the same
 * parameters (cid, regency, batch, leader, bound, height). The core fires every enabled action at
 * once (a leader writes its own proposal in the step it proposes), so an event may come before the
 * spec takes its step: it waits in the replica's queue of emitted events until the spec step
 * consumes it. After every step, each running replica whose queue is empty (not ahead of the
 * spec) must be in the spec's post-state: decided batches per cid, regency, active, the value
 * accepted and the values written in the open cid, blocks written, synced and certified, and
 * the last durable checkpoint. The implementation runs with the behaviour's checkpoint interval.
 */
import { Effect, Either } from "effect"
import { kvApp, putOp } from "../../src/app/kv.ts"
import { bytesEqual, toHex } from "../../src/chain/bytes.ts"
import { batchHash, genesisHash, viewHash } from "../../src/chain/hash.ts"
import type { ConsensusMessage, Genesis, ReplicaId, Transaction } from "../../src/chain/types.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Input, Output, TraceEvent } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { crashAllTrace, crashTrace } from "../../src/persistence/crash.ts"
import { durableCheckpoint } from "../../src/persistence/sync-blocks.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { restart } from "../../src/persistence/restart.ts"
import type { PersistenceConfig } from "../../src/persistence/state.ts"
import { applyRewrite, applyWrite, loadDurable } from "../../src/replica/storage.ts"
import type { MemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { InputVerifier } from "../../src/services/verifier.ts"
import { Prng } from "../sim/prng.ts"
import type { Keys, World } from "../sim/world.ts"
import { chainId, keysFrom, makeWorld, signTx, simLimits } from "../sim/world.ts"
import type { ViewRecord } from "../../src/chain/types.ts"
import type { ReconfigSetup } from "../../src/reconfiguration/core-views.ts"
import { faultsTolerated, byzantineQuorum } from "../../src/core/quorum.ts"
import { installViewEvent } from "../../src/reconfiguration/install-view.ts"
import { joinerState } from "../../src/reconfiguration/replica-state.ts"
import { requestJoin } from "../../src/reconfiguration/request-join.ts"
import { requestLeave } from "../../src/reconfiguration/request-leave.ts"
import type { Signer as KeySigner } from "../../src/reconfiguration/requests.ts"
import { rotate } from "../../src/reconfiguration/rotate.ts"
import { initialViewState, reconfigContext } from "../../src/reconfiguration/view-state.ts"
import type { Behaviour, ReplicaView, SentMessage, Step } from "./behaviour.ts"

export interface ReplayResult {
  readonly ok: boolean
  /** Why the replay stopped, with the step number (1-based), if it did. */
  readonly failure: string | undefined
  readonly stepsMatched: number
  /** Trace events consumed by spec steps, by action. */
  readonly events: Record<string, number>
  /** Replica post-states compared with the spec's. */
  readonly statesCompared: number
}

interface Replica {
  state: ReplicaState
  readonly verifier: InputVerifier
  /** Events emitted and not yet consumed by a spec step, in order. */
  readonly ahead: Array<TraceEvent>
  /** The batches it decided, by cid (index cid - 1), as sorted tx ids. */
  readonly decided: Array<ReadonlyArray<Item>>
  readonly store: MemoryBlockStore
  up: boolean
  /** The sync it asked for and that has not completed (the core keeps one in flight). */
  syncSeq: number | undefined
  /**
   * Reconfiguration behaviours. A joiner runs no core until it installs its first view (its
   * `state` is unused until then, `started` false); `keys` are the view keys its shell holds,
   * `identity` its identity key, `rotateTo` the view its core asked a fresh key for (RotateKey),
   * and `verifiers` one Verifier per view. `fetched`/`synced` count the blocks a joiner stored
   * and synced by state transfer.
   */
  started: boolean
  readonly keys: Map<bigint, Keys>
  readonly identity: Keys | undefined
  rotateTo: bigint | undefined
  readonly verifiers: Map<bigint, InputVerifier>
  fetched: number
  synced: number
}

interface Sent {
  readonly from: ReplicaId
  /** undefined: broadcast to every other member. */
  readonly to: ReplicaId | undefined
  readonly message: ConsensusMessage
}

class Mismatch {
  constructor(readonly reason: string) {}
}

/** A tx id, or a membership request's label (test/conformance/behaviour.ts). */
type Item = number | string

const sameBatch = (a: ReadonlyArray<Item>, b: ReadonlyArray<Item>): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])

const show = (b: ReadonlyArray<Item>): string => `{${b.join(",")}}`

/** Numbers first, ascending, then labels, sorted: the order of the behaviour files. */
const sortItems = (items: Array<Item>): Array<Item> => [
  ...items.filter((x): x is number => typeof x === "number").sort((a, b) => a - b),
  ...items.filter((x): x is string => typeof x === "string").sort()
]

const keySigner = (k: Keys): KeySigner => ({ publicKey: k.publicKey, sign: (m) => nodeCrypto.sign(k.secret, m) })

/** The seq of a membership request: one per (kind, view), as the reconfiguration simulator numbers them. */
const requestSeq = (kind: "join" | "leave" | "rotate", viewId: bigint): bigint =>
  viewId * 1_000_000n + BigInt({ join: 1, leave: 2, rotate: 4 }[kind]) * 100_000n

export const replayBehaviour = (behaviour: Behaviour, seed = 1): ReplayResult => {
  // The spec's BatchMax is the implementation's batchTxMax, its CheckpointInterval checkpointInterval.
  const checkpointInterval = behaviour.checkpointInterval ?? simLimits.checkpointInterval
  // Reconfiguration behaviours: genesis's view holds replicas 0 .. members - 1, the others are
  // joiners on the admission list; members' identity keys sign their requests.
  const reconfig = behaviour.members !== undefined
  const members = behaviour.members ?? behaviour.replicas
  const limits = {
    ...simLimits,
    batchTxMax: behaviour.batchMax,
    checkpointInterval,
    ...(behaviour.rotationWindow === undefined ? {} : { rotationWindow: behaviour.rotationWindow })
  }
  const prng = new Prng(seed)
  const identities: ReadonlyArray<Keys> = reconfig ? Array.from({ length: behaviour.replicas }, () => keysFrom(prng)) : []
  const world: World = reconfig
    ? (() => {
      const viewKeys = Array.from({ length: members }, () => keysFrom(prng))
      const view: ViewRecord = {
        id: 0n,
        n: members,
        f: faultsTolerated(members),
        members: viewKeys.map((k, i) => ({ replica: i, identityKey: (identities[i] as Keys).publicKey, viewKey: k.publicKey, address: `sim:${i}` }))
      }
      return { view, viewKeys, clients: [keysFrom(prng)], limits }
    })()
    : makeWorld(prng, behaviour.replicas, 1, limits)
  const client = world.clients[0] as Keys
  const tx = new Map<Item, Transaction>()
  for (const i of behaviour.txs) tx.set(i, signTx(client, BigInt(i), putOp(Uint8Array.of(i & 0xff, i >> 8), Uint8Array.of(i & 0xff))))
  /** Membership requests made so far: transaction key -> label. */
  const labelOfRequest = new Map<string, string>()
  const requestKeyOf = (t: Transaction): string => `${toHex(t.client)}:${t.seq}`
  const itemOf = (t: Transaction): Item =>
    bytesEqual(t.client, client.publicKey) ? Number(t.seq) : (labelOfRequest.get(requestKeyOf(t)) ?? `unknown:${requestKeyOf(t)}`)

  /** Batches in the implementation: hash -> items, and items -> hash. */
  const idsByHash = new Map<string, ReadonlyArray<Item>>()
  const hashOf = (ids: ReadonlyArray<Item>): string => {
    const txs = ids.map((i) => {
      const t = tx.get(i)
      if (t === undefined) throw new Mismatch(`the batch ${show(ids)} holds ${String(i)}, which the replay has not submitted`)
      return t
    })
    const h = toHex(batchHash(nodeCrypto, txs))
    idsByHash.set(h, ids)
    return h
  }
  const idsOfTxs = (txs: ReadonlyArray<Transaction>): Array<Item> => sortItems(txs.map(itemOf))

  const genesis: Genesis = {
    chainId,
    view: world.view,
    persistence: behaviour.mode,
    minters: [client.publicKey],
    admission: identities.slice(members).map((k) => k.publicKey),
    limits: world.limits
  }
  const persistence: PersistenceConfig = {
    mode: behaviour.mode,
    genesis,
    genesisHash: genesisHash(nodeCrypto, genesis),
    viewHash: viewHash(nodeCrypto, world.view),
    machine: genesisMachine(kvApp, nodeCrypto, genesis)
  }
  const context = reconfig ? reconfigContext(nodeCrypto, genesis) : undefined
  const keyMaps: Array<Map<bigint, Keys>> = Array.from({ length: behaviour.replicas }, (_, r) =>
    r < members ? new Map([[0n, world.viewKeys[r] as Keys]]) : new Map())
  const signerFor = (r: number, viewId: bigint) => ({
    sign: (msg: Uint8Array) => {
      const k = keyMaps[r]?.get(viewId)
      if (k === undefined) throw new Mismatch(`replica ${r} signs with its key of view ${viewId}, which it does not hold`)
      return nodeCrypto.sign(k.secret, msg)
    }
  })
  const setupFor = (r: number): ReconfigSetup | undefined =>
    context === undefined
      ? undefined
      : {
        context,
        identityKey: (identities[r] as Keys).publicKey,
        viewSigner: (viewId) => (keyMaps[r]?.has(viewId) === true ? signerFor(r, viewId) : undefined),
        erasure: true
      }
  const configFor = (r: number, view: ViewRecord) => {
    const setup = setupFor(r)
    return makeConfig({
      self: r,
      chainId,
      view,
      limits: world.limits,
      crypto: nodeCrypto,
      signer: signerFor(r, view.id),
      persistence,
      ...(setup === undefined ? {} : { reconfig: setup })
    })
  }
  const replicas: Array<Replica> = Array.from({ length: behaviour.replicas }, (_, r) => {
    // A joiner's state is a placeholder (replica 0's initial state) until it starts in its first view.
    const config = configFor(r < members ? r : 0, world.view)
    return {
      state: initialState(config),
      verifier: new InputVerifier({ chainId, view: world.view, quorum: config.quorum, limits: world.limits, crypto: nodeCrypto }),
      ahead: [],
      decided: [],
      store: Effect.runSync(makeMemoryBlockStore({ crypto: nodeCrypto })),
      up: true,
      syncSeq: undefined,
      started: r < members,
      keys: keyMaps[r] as Map<bigint, Keys>,
      identity: identities[r],
      rotateTo: undefined,
      verifiers: new Map(),
      fetched: 0,
      synced: 0
    }
  })
  const f = replicas[0]!.state.config.f
  const network: Array<Sent> = []
  /** Messages of the spec's msgs so far (the behaviour's `sent` lists). */
  const specMsgs: Array<SentMessage> = []
  const nowMs = replicas.map(() => 0)
  const events: Record<string, number> = {}
  let statesCompared = 0

  const storage = (node: Replica, effect: Effect.Effect<void, { readonly message: string }>): void => {
    const result = Effect.runSync(Effect.either(effect))
    if (Either.isLeft(result)) throw new Mismatch(`storage of replica ${node.state.config.self} failed: ${result.left.message}`)
  }

  /** The first decision of each cid (batch and proof), as a peer's state-transfer answer carries it. */
  const decisions = new Map<number, Extract<Input, { _tag: "Decided" }>>()

  const interpret = (r: ReplicaId, outputs: ReadonlyArray<Output>): void => {
    const node = replicas[r] as Replica
    for (const out of outputs) {
      switch (out._tag) {
        case "Trace":
          node.ahead.push(out.event)
          break
        case "Send":
          network.push({ from: r, to: out.to, message: out.message })
          break
        case "Broadcast":
          network.push({ from: r, to: undefined, message: out.message })
          break
        case "Decide":
          node.decided[Number(out.cid) - 1] = idsOfTxs(out.batch)
          if (!decisions.has(Number(out.cid))) decisions.set(Number(out.cid), { _tag: "Decided", batch: out.batch, proof: out.proof })
          break
        case "WriteBlock":
        case "WriteCertificate":
        case "WriteRecord":
          storage(node, applyWrite(node.store, out))
          break
        case "RewriteBlock":
          storage(node, applyRewrite(node.store, out))
          break
        case "SyncRequest":
          node.syncSeq = out.seq
          break
        case "RotateKey":
          node.rotateTo = out.nextViewId
          break
        case "EraseViewKeys":
          for (const v of out.views) node.keys.delete(v)
          break
        default:
          // Replies, state transfer and shared proofs: no spec step here depends on them.
          break
      }
    }
  }

  /** Completes the sync in flight: storage makes everything staged durable, the core learns it. */
  const completeSync = (r: ReplicaId): boolean => {
    const node = replicas[r] as Replica
    const seq = node.syncSeq
    if (seq === undefined || !node.up) return false
    node.syncSeq = undefined
    storage(node, node.store.sync())
    feed(r, { _tag: "Synced", seq })
    return true
  }

  /** Whether the sync in flight covers only the consensus record (no block, no certificate). */
  const recordOnlySync = (node: Replica): boolean => {
    const p = node.state.persistence
    const inFlight = p?.inFlight
    return p !== undefined && inFlight !== undefined && inFlight.wrote <= p.dur && inFlight.certWrote <= p.certH
  }

  /** The Verifier of the view an input belongs to (reconfiguration: messages of a view the replica's chain installed; undefined: drop). */
  const verifierFor = (node: Replica, input: Input): InputVerifier | undefined => {
    if (!reconfig) return node.verifier
    const st = node.state
    const history = st.reconfig?.history ?? []
    const id = input._tag === "Message" ? input.message.viewId : input._tag === "Decided" ? input.proof.viewId : st.config.view.id
    if (id < st.config.view.id) return undefined
    const view = history.find((e) => e.record.id === id)?.record
    if (view === undefined) return undefined
    let v = node.verifiers.get(id)
    if (v === undefined) {
      const previousView = history.find((e) => e.record.id === id - 1n)?.record
      v = new InputVerifier({
        chainId,
        view,
        ...(previousView === undefined ? {} : { previousView }),
        quorum: byzantineQuorum(view.n, view.f),
        limits: world.limits,
        crypto: nodeCrypto
      })
      node.verifiers.set(id, v)
    }
    return v
  }

  function feed(r: ReplicaId, input: Input): void {
    const node = replicas[r] as Replica
    if (!node.up) throw new Mismatch(`replica ${r} is down and cannot take an input`)
    if (!node.started) throw new Mismatch(`replica ${r} has not started and cannot take an input`)
    const verifier = verifierFor(node, input)
    if (verifier === undefined) return
    const { accepted } = verifier.verify([input])
    for (const i of accepted) {
      const result = step(node.state, i)
      node.state = result.state
      interpret(r, result.outputs)
    }
    if (node.syncSeq !== undefined && recordOnlySync(node)) completeSync(r)
  }

  const deliver = (to: ReplicaId, sent: Sent): void => {
    if (sent.from === to || (sent.to !== undefined && sent.to !== to)) throw new Mismatch(`message from ${sent.from} not addressed to ${to}`)
    feed(to, { _tag: "Message", from: sent.from, message: sent.message })
  }

  /** The message the implementation sent for a spec message, if it sent one. */
  const concrete = (m: SentMessage, to: ReplicaId): Sent | undefined =>
    network.find((s) => {
      if (s.from !== m.from || (s.to !== undefined && s.to !== to)) return false
      const c = s.message
      switch (m.type) {
        case "PROPOSE":
          return c._tag === "Propose" && Number(c.cid) === m.cid && Number(c.regency) === m.regency && sameBatch(idsOfTxs(c.batch), m.batch)
        case "WRITE":
          return c._tag === "Write" && Number(c.cid) === m.cid && Number(c.regency) === m.regency && toHex(c.batchHash) === hashOf(m.batch)
        case "ACCEPT":
          return c._tag === "Accept" && Number(c.cid) === m.cid && Number(c.regency) === m.regency && toHex(c.batchHash) === hashOf(m.batch)
        case "STOP":
          return c._tag === "Stop" && Number(c.regency) === m.regency
        case "STOPDATA":
          return c._tag === "StopData" && Number(c.regency) === m.regency
        case "SYNC":
          return c._tag === "Sync" && Number(c.regency) === m.regency && Number(c.cid) === m.cid
        case "COMMIT":
          return c._tag === "Commit" && Number(c.height) === m.height
        case "REPLY":
          return false
      }
    })

  /** Removes and returns the first queued event of r that `matches`. */
  const take = (r: ReplicaId, matches: (e: TraceEvent) => boolean): TraceEvent | undefined => {
    const queue = (replicas[r] as Replica).ahead
    const i = queue.findIndex(matches)
    if (i < 0) return undefined
    const [e] = queue.splice(i, 1)
    return e
  }

  /** Feeds `inputs` one at a time until r emits the event, and consumes it. */
  const until = (r: ReplicaId, matches: (e: TraceEvent) => boolean, inputs: ReadonlyArray<() => void>): TraceEvent | undefined => {
    let e = take(r, matches)
    for (const give of inputs) {
      if (e !== undefined) break
      give()
      e = take(r, matches)
    }
    return e
  }

  const num = (e: TraceEvent, field: string): number => e[field] as number
  const describe = (e: TraceEvent): string => {
    const h = e["batchHash"]
    const fields = Object.entries(e)
      .filter(([k]) => k !== "action" && k !== "replica" && k !== "batchHash")
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    if (typeof h === "string") fields.push(`batch=${show(idsByHash.get(h) ?? [-1])}`)
    return `${e.action}(${fields.join(" ")})`
  }
  const msgsOf = <T extends SentMessage["type"]>(type: T): Array<Extract<SentMessage, { type: T }>> =>
    specMsgs.filter((m): m is Extract<SentMessage, { type: T }> => m.type === type)
  const deliveries = (to: ReplicaId, ms: ReadonlyArray<SentMessage>): Array<() => void> =>
    ms
      .filter((m) => m.from !== to)
      .map((m) => () => {
        const s = concrete(m, to)
        if (s === undefined) throw new Mismatch(`replica ${m.from} never sent the ${m.type} the spec has (${JSON.stringify(m)})`)
        deliver(to, s)
      })

  /** Transactions submitted so far in the behaviour (clients resend them until they have a reply). */
  const submittedTxs: Array<number> = []

  /** Crashes replicas: unsynced writes are lost; the host emits the Crash (CrashAll) event. */
  const crash = (targets: ReadonlyArray<ReplicaId>, all: boolean): TraceEvent => {
    const nodes = targets.map((r) => replicas[r] as Replica)
    const event = all ? crashAllTrace(nodes.map((x) => x.state)) : crashTrace((nodes[0] as Replica).state)
    for (const x of nodes) {
      storage(x, x.store.crash())
      x.up = false
      x.syncSeq = undefined
    }
    return event
  }

  /** Restarts replica r from its storage, as the spec's Restart; returns its Restart event. */
  const restartReplica = (r: ReplicaId, v: ReplicaView): TraceEvent | undefined => {
    const node = replicas[r] as Replica
    if (node.up) throw new Mismatch(`replica ${r} restarts but is running`)
    const durable = Effect.runSync(Effect.either(loadDurable(node.store)))
    if (Either.isLeft(durable)) throw new Mismatch(`replica ${r} cannot read its storage: ${durable.left.message}`)
    const result = restart(node.state.config, durable.right, nowMs[r] ?? 0)
    if (result.truncateFrom !== undefined) throw new Mismatch(`replica ${r} found a synced block that does not match (${result.truncateFrom})`)
    node.state = result.state
    node.up = true
    node.decided.length = Number(result.state.lastDecidedCid)
    interpret(r, result.outputs)
    if (node.syncSeq !== undefined && recordOnlySync(node)) completeSync(r)
    const e = take(r, (x) => x.action === "Restart" && num(x, "height") === v.dur && num(x, "regency") === v.regency && num(x, "accepted") === v.vote.regency)
    // Its clients send their transactions again; the Submit events are part of coming back.
    for (const i of submittedTxs) {
      if (node.state.decidedTx.has(`${toHex(client.publicKey)}:${i}`) || v.chain.some((b) => b.includes(i))) continue
      feed(r, { _tag: "Transaction", tx: tx.get(i) as Transaction })
      take(r, (x) => x.action === "Submit" && x["txSeq"] === String(i))
    }
    return e
  }

  /**
   * The spec's REPLY messages answer client transactions only: a ReleaseReply event of the core
   * for blocks that hold membership requests and no client transaction is no spec step. Such
   * events are consumed (and counted as `ReleaseReply(requests)`), so that the replica's state
   * is compared again.
   */
  const dropRequestReplies = (r: ReplicaId): void => {
    const node = replicas[r] as Replica
    for (;;) {
      const e = take(r, (x) => {
        if (x.action !== "ReleaseReply") return false
        for (let h = num(x, "from"); h <= num(x, "height"); h++) if ((node.decided[h - 1] ?? [0]).some((i) => typeof i === "number")) return false
        return true
      })
      if (e === undefined) return
      events["ReleaseReply(requests)"] = (events["ReleaseReply(requests)"] ?? 0) + 1
    }
  }

  const startedMember = (): Replica => {
    const m = replicas.find((x) => x.started && x.up)
    if (m === undefined) throw new Mismatch("no member is running")
    return m
  }

  /** A membership request enters every running member, as a client's transaction does. */
  const submitRequest = (t: Transaction, label: string): void => {
    labelOfRequest.set(requestKeyOf(t), label)
    tx.set(label, t)
    for (let r = 0; r < replicas.length; r++) {
      const x = replicas[r] as Replica
      if (!x.up || !x.started) continue
      feed(r, { _tag: "Transaction", tx: t })
      if (take(r, (ev) => ev.action === "Submit" && ev["txSeq"] === t.seq.toString()) === undefined)
        throw new Mismatch(`replica ${r} did not emit Submit for the request ${label}`)
    }
  }

  /** A joiner stores block h, fetched from a member that wrote it (its state transfer). */
  const joinerStores = (r: ReplicaId, h: number): TraceEvent | undefined => {
    const node = replicas[r] as Replica
    if (h !== node.fetched + 1) return undefined
    for (const x of replicas) {
      if (!x.started) continue
      const read = Effect.runSync(Effect.either(x.store.readBlock(BigInt(h))))
      if (Either.isLeft(read)) continue
      if (!sameBatch(idsOfTxs(read.right.transactions), node.decided[h - 1] ?? [])) throw new Mismatch(`joiner ${r} fetched block ${h} with another batch than the one it transferred`)
      storage(node, node.store.appendBlock(read.right))
      node.fetched = h
      return { action: "PersistBlock", replica: r, height: h }
    }
    throw new Mismatch(`no member holds block ${h} for joiner ${r}`)
  }

  /** A joiner starts its core in its first view from the blocks it stored, as a restart does. */
  const startJoiner = (r: ReplicaId, v: ReplicaView): TraceEvent | undefined => {
    const node = replicas[r] as Replica
    const entry = replicas
      .flatMap((x) => (x.started ? (x.state.reconfig?.history ?? []) : []))
      .find((x) => x.record.id === BigInt(v.view ?? -1))
    if (entry === undefined) throw new Mismatch(`joiner ${r} installs view ${v.view}, which no member's chain installed`)
    const self = entry.record.members.find((m) => node.identity !== undefined && bytesEqual(m.identityKey, node.identity.publicKey))
    if (self === undefined || self.replica !== r) throw new Mismatch(`joiner ${r} is not member ${r} of view ${v.view}`)
    const durable = Effect.runSync(Effect.either(loadDurable(node.store)))
    if (Either.isLeft(durable)) throw new Mismatch(`joiner ${r} cannot read its storage: ${durable.left.message}`)
    const result = restart(configFor(r, entry.record), durable.right, nowMs[r] ?? 0)
    if (result.truncateFrom !== undefined) throw new Mismatch(`joiner ${r} found a stored block that does not match (${result.truncateFrom})`)
    node.state = result.state
    node.started = true
    node.decided.length = Number(result.state.lastDecidedCid)
    // The restart step's outputs, without its Restart event: a joiner starts, it does not restart.
    interpret(r, result.outputs.filter((o) => !(o._tag === "Trace" && o.event.action === "Restart")))
    if (node.syncSeq !== undefined && recordOnlySync(node)) completeSync(r)
    return { action: installViewEvent, replica: r, view: Number(entry.record.id), members: entry.record.members.map((m) => m.replica), left: false, height: Number(entry.installedAt) }
  }

  const stepFor = (s: Extract<Step, { replica: number }>, post: ReadonlyArray<ReplicaView>): void => {
    const r = s.replica
    const node = replicas[r] as Replica
    const own = <T extends SentMessage["type"]>(type: T): Extract<SentMessage, { type: T }> => {
      const m = s.sent.find((x): x is Extract<SentMessage, { type: T }> => x.type === type)
      if (m === undefined) throw new Mismatch(`the spec's ${s.action} sent no ${type}`)
      return m
    }
    const leaderOf = (regency: number): number => regency % behaviour.replicas
    let e: TraceEvent | undefined
    switch (s.action) {
      case "Propose": {
        const m = own("PROPOSE")
        const h = hashOf(m.batch)
        e = take(r, (x) => x.action === "Propose" && num(x, "cid") === m.cid && num(x, "regency") === m.regency && x["batchHash"] === h)
        break
      }
      case "Write": {
        const m = own("WRITE")
        const h = hashOf(m.batch)
        const proposal = msgsOf("PROPOSE").filter((p) => p.cid === m.cid && p.regency === m.regency && p.from === leaderOf(m.regency))
        e = until(
          r,
          (x) => x.action === "Write" && num(x, "cid") === m.cid && num(x, "regency") === m.regency && x["batchHash"] === h && num(x, "leader") === leaderOf(m.regency),
          deliveries(r, proposal)
        )
        break
      }
      case "Accept": {
        const m = own("ACCEPT")
        const h = hashOf(m.batch)
        const writes = msgsOf("WRITE").filter((w) => w.cid === m.cid && w.regency === m.regency && sameBatch(w.batch, m.batch))
        e = until(r, (x) => x.action === "Accept" && num(x, "cid") === m.cid && num(x, "regency") === m.regency && x["batchHash"] === h, deliveries(r, writes))
        break
      }
      case "Decide": {
        const batch = post[r]!.chain[post[r]!.chain.length - 1] ?? []
        const cid = post[r]!.chain.length
        const h = hashOf(batch)
        const accepts = msgsOf("ACCEPT").filter((a) => a.cid === cid && sameBatch(a.batch, batch))
        e = until(r, (x) => x.action === "Decide" && num(x, "cid") === cid && x["batchHash"] === h, deliveries(r, accepts))
        break
      }
      case "Stop": {
        const m = own("STOP")
        const stops = msgsOf("STOP").filter((x) => x.regency === m.regency)
        const ticks = [1, 2, 3, 4].map(() => () => {
          nowMs[r] = (nowMs[r] ?? 0) + 16 * simLimits.requestTimeoutMs
          feed(r, { _tag: "Tick", nowMs: nowMs[r] ?? 0 })
        })
        // Its request timer fires if it has a pending transaction; otherwise f + 1 STOPs of others
        // make it join. Timer first: a replica that joins on f + 1 STOPs holds q with its own and
        // installs the regency at once, which the spec may take later.
        const joins = stops.filter((x) => x.from !== r).length >= f + 1 ? deliveries(r, stops).slice(0, f + 1) : []
        const timer = node.state.pending.size > 0 ? ticks : []
        e = until(r, (x) => x.action === "Stop" && num(x, "regency") === m.regency, [...timer, ...joins])
        break
      }
      case "StopData": {
        const m = own("STOPDATA")
        const stops = msgsOf("STOP").filter((x) => x.regency === m.regency)
        e = until(
          r,
          (x) =>
            x.action === "StopData" && num(x, "regency") === m.regency && num(x, "lastDecided") === m.lastDecided &&
            num(x, "accepted") === m.accepted.regency && num(x, "leader") === leaderOf(m.regency),
          deliveries(r, stops)
        )
        break
      }
      case "Sync": {
        const m = own("SYNC")
        const h = hashOf(m.batch)
        // The spec's Sync may use any q of the STOPDATA it holds; the core uses the first q it
        // receives. The network's order is the environment's choice: a bound value comes with the
        // STOPDATA that report an accepted value first, a free one with those that report none.
        const reports = (x: Extract<SentMessage, { type: "STOPDATA" }>): boolean => x.accepted.regency >= 0
        const collected = msgsOf("STOPDATA")
          .filter((x) => x.regency === m.regency)
          .sort((a, b) => Number(reports(b) === m.bound) - Number(reports(a) === m.bound))
        e = until(
          r,
          (x) => x.action === "Sync" && num(x, "regency") === m.regency && num(x, "cid") === m.cid && x["batchHash"] === h && x["bound"] === m.bound,
          deliveries(r, collected)
        )
        break
      }
      case "Resume": {
        const regency = post[r]!.regency
        const syncs = msgsOf("SYNC").filter((x) => x.regency === regency && x.from === leaderOf(regency))
        e = until(r, (x) => x.action === "Resume" && num(x, "regency") === regency && num(x, "leader") === leaderOf(regency), deliveries(r, syncs))
        if (e !== undefined) {
          const sync = syncs[0]
          if (sync === undefined || e["batchHash"] !== hashOf(sync.batch) || num(e, "cid") !== sync.cid)
            throw new Mismatch(`Resume of replica ${r} took another SYNC value than the spec's`)
          // The spec's Resume writes the SYNC value for the open cid itself; the core emits that
          // write as a Write event right after the Resume event.
          const wrote = post[r]!.written.some(([reg, b]) => reg === regency && sameBatch(b, sync.batch))
          if (wrote) {
            const h = hashOf(sync.batch)
            const w = take(r, (x) => x.action === "Write" && num(x, "cid") === sync.cid && num(x, "regency") === regency && x["batchHash"] === h)
            if (w === undefined) throw new Mismatch(`replica ${r} resumed without writing the SYNC value, as the spec's Resume does`)
          }
        }
        break
      }
      case "PersistBlock": {
        if (!node.started) {
          e = joinerStores(r, post[r]!.wrote)
          break
        }
        const h = post[r]!.wrote
        const batch = post[r]!.chain[h - 1] ?? []
        // The replica writes the block once it holds the canonical proof: late ACCEPTs for it.
        const accepts = msgsOf("ACCEPT").filter((a) => a.cid === h && sameBatch(a.batch, batch))
        e = until(r, (x) => x.action === "PersistBlock" && num(x, "height") === h && x["rewrite"] !== true, deliveries(r, accepts))
        break
      }
      case "SyncBlocks": {
        if (!node.started) {
          storage(node, node.store.sync())
          node.synced = node.fetched
          e = node.synced === post[r]!.dur ? { action: "SyncBlocks", replica: r, height: node.synced } : undefined
          break
        }
        const h = post[r]!.dur
        e = until(r, (x) => x.action === "SyncBlocks" && num(x, "height") === h, [1, 2, 3].map(() => () => void completeSync(r)))
        break
      }
      case "Commit": {
        const m = own("COMMIT")
        e = take(r, (x) => x.action === "Commit" && num(x, "height") === m.height)
        break
      }
      case "Certify": {
        const h = post[r]!.certH
        const commits = msgsOf("COMMIT").filter((c) => c.height === h)
        const sync = [1, 2].map(() => () => void completeSync(r))
        e = until(r, (x) => x.action === "Certify" && num(x, "height") === h, [...deliveries(r, commits), ...sync])
        break
      }
      case "ReleaseReply": {
        // The spec releases every due reply at once; the core may have released them in one or
        // more steps (one per sync): every released height up to the spec's must be consumed.
        const heights = new Set(s.sent.flatMap((m) => (m.type === "REPLY" ? [m.height] : [])))
        const top = Math.max(0, ...heights)
        e = take(r, (x) => x.action === "ReleaseReply" && num(x, "height") === top)
        while (e !== undefined && num(e, "from") > Math.min(...heights)) {
          const below = num(e, "from") - 1
          if (take(r, (x) => x.action === "ReleaseReply" && num(x, "height") === below) === undefined) break
        }
        break
      }
      case "Checkpoint": {
        const h = post[r]!.ckpt
        e = take(r, (x) => x.action === "Checkpoint" && num(x, "height") === h)
        break
      }
      case "RequestJoin": {
        // The joiner's shell makes a fresh key for the next view and submits JOIN to every member.
        const member = startedMember()
        const view = member.state.reconfig?.chain.view
        if (view === undefined || node.identity === undefined) throw new Mismatch("RequestJoin without reconfiguration")
        const key = keysFrom(prng)
        node.keys.set(view.id + 1n, key)
        const made = requestJoin(joinerState(r, node.identity.publicKey), { ...initialViewState(genesis), view }, chainId, keySigner(node.identity), keySigner(key), `sim:${r}`, requestSeq("join", view.id))
        submitRequest(made.transaction, `join:${r}`)
        e = made.event
        break
      }
      case "RequestLeave": {
        const cv = node.state.reconfig
        if (cv === undefined || node.identity === undefined) throw new Mismatch("RequestLeave without reconfiguration")
        const made = requestLeave(cv.local, cv.chain, chainId, keySigner(node.identity), requestSeq("leave", cv.chain.view.id))
        submitRequest(made.transaction, `leave:${r}`)
        e = made.event
        break
      }
      case "Rotate": {
        // The core asked for a fresh key (RotateKey) when it executed the change; the shell makes
        // it and submits ROTATE, signed by the identity key and the current and the fresh view key.
        const cv = node.state.reconfig
        const next = node.rotateTo
        const current = cv === undefined ? undefined : node.keys.get(cv.chain.view.id)
        if (cv === undefined || next === undefined || current === undefined || node.identity === undefined)
          throw new Mismatch(`replica ${r}'s core did not ask for a fresh key (RotateKey) before the spec's Rotate`)
        const fresh = keysFrom(prng)
        node.keys.set(next, fresh)
        node.rotateTo = undefined
        const made = rotate(cv.local, cv.chain, chainId, keySigner(node.identity), keySigner(current), keySigner(fresh), requestSeq("rotate", next))
        submitRequest(made.transaction, `rotate:${r}:${next}`)
        e = made.event
        break
      }
      case "InstallView": {
        const v = post[r]!
        if (node.started) {
          // A member that is not in the new view leaves once that view has taken over: it asks
          // for state (RequestState) and learns the decision of the view's first cid, with its
          // proof of q ACCEPTs of the new view, from a peer's answer.
          const answer = v.left === true ? decisions.get(Number(node.state.lastDecidedCid) + 1) : undefined
          const transfer = answer === undefined ? [] : [() => feed(r, answer)]
          e = until(r, (x) => x.action === "InstallView" && num(x, "view") === v.view && x["left"] === v.left, transfer)
          // That answer is the core's StateTransfer of the view's first cid: the spec's leaver
          // reads the ACCEPTs in msgs (TakenOver) and takes no step for it.
          if (answer !== undefined && e !== undefined)
            take(r, (x) => x.action === "StateTransfer" && num(x, "cid") === Number(answer.proof.cid) && x["via"] === "peer")
        } else e = startJoiner(r, v)
        break
      }
      case "EraseKeys": {
        e = take(r, (x) => x.action === "EraseKeys")
        break
      }
      case "StateTransfer": {
        // A joiner fetches the decided batch of its next cid from a member.
        if (node.started) throw new Mismatch(`replica ${r} takes the spec's StateTransfer: not generated for members`)
        const cid = post[r]!.chain.length
        const batch = post[r]!.chain[cid - 1] ?? []
        const held = replicas.some((x) => x.started && x.up && sameBatch(x.decided[cid - 1] ?? [], batch))
        if (!held) throw new Mismatch(`no member decided ${show(batch)} at cid ${cid} for joiner ${r} to fetch`)
        node.decided[cid - 1] = batch
        e = { action: "StateTransfer", replica: r, cid }
        break
      }
      case "Crash": {
        e = crash([r], false)
        break
      }
      case "Restart": {
        e = restartReplica(r, post[r]!)
        break
      }
    }
    if (e === undefined) {
      const queued = node.ahead.map(describe).join("; ") || "none"
      const expected = s.sent.map((m) => JSON.stringify(m)).join(" ")
      throw new Mismatch(`replica ${r} did not emit the ${s.action} event the spec step takes (spec sent ${expected || "nothing"}; events queued: ${queued})`)
    }
    events[s.action] = (events[s.action] ?? 0) + 1
  }

  /** Compares replica r with the spec's post-state. */
  const compare = (r: ReplicaId, v: ReplicaView): void => {
    const node = replicas[r] as Replica
    const st = node.state
    const where = `replica ${r}`
    if (v.left === true && st.reconfig?.local.left === true) {
      // A replica that left takes no further step in the spec; the implementation's left replica
      // decided the new view's first cid (how it knew the view took over) and does nothing more.
      compareMembership(r, v)
      statesCompared++
      return
    }
    if (node.decided.length !== v.chain.length) throw new Mismatch(`${where} decided ${node.decided.length} cids, the spec ${v.chain.length}`)
    v.chain.forEach((b, i) => {
      if (!sameBatch(node.decided[i] ?? [], b)) throw new Mismatch(`${where} decided ${show(node.decided[i] ?? [])} at cid ${i + 1}, the spec ${show(b)}`)
    })
    if (Number(st.regency) !== v.regency) throw new Mismatch(`${where} is in regency ${st.regency}, the spec in ${v.regency}`)
    if (st.synced !== v.active) throw new Mismatch(`${where} active=${st.synced}, the spec ${v.active}`)
    if (Number(st.instance.cid) !== v.chain.length + 1) throw new Mismatch(`${where} has open cid ${st.instance.cid}, the spec ${v.chain.length + 1}`)
    const accepted = st.instance.accepted
    const vote = accepted === undefined ? { regency: -1, batch: [] as ReadonlyArray<number> } : { regency: Number(accepted.regency), batch: idsOfTxs(accepted.batch) }
    if (vote.regency !== v.vote.regency || !sameBatch(vote.batch, v.vote.batch))
      throw new Mismatch(`${where} accepted (${vote.regency}, ${show(vote.batch)}), the spec (${v.vote.regency}, ${show(v.vote.batch)})`)
    const written = [...st.instance.wroteIn].map(([reg, h]) => `${reg}:${show(idsByHash.get(h) ?? [-1])}`).sort()
    const specWritten = v.written.map(([reg, b]) => `${reg}:${show(b)}`).sort()
    if (written.join(" ") !== specWritten.join(" ")) throw new Mismatch(`${where} wrote [${written.join(" ")}], the spec [${specWritten.join(" ")}]`)
    const p = st.persistence
    if (p === undefined) throw new Mismatch(`${where} runs without persistence`)
    if (Number(p.wrote) !== v.wrote || Number(p.dur) !== v.dur || Number(p.certH) !== v.certH)
      throw new Mismatch(`${where} wrote/synced/certified ${p.wrote}/${p.dur}/${p.certH}, the spec ${v.wrote}/${v.dur}/${v.certH}`)
    const ckpt = Number(durableCheckpoint(p, st.config.limits.checkpointInterval))
    if (v.ckpt !== undefined && ckpt !== v.ckpt) throw new Mismatch(`${where} has its last durable checkpoint at ${ckpt}, the spec at ${v.ckpt}`)
    compareMembership(r, v)
    statesCompared++
  }

  /** Reconfiguration: the installed view, the view keys held, and whether it left. */
  const compareMembership = (r: ReplicaId, v: ReplicaView): void => {
    const node = replicas[r] as Replica
    const where = `replica ${r}`
    const local = node.state.reconfig?.local
    if (v.view !== undefined && node.started && Number(local?.view ?? -1) !== v.view)
      throw new Mismatch(`${where} installed view ${local?.view ?? "none"}, the spec view ${v.view}`)
    if (v.view !== undefined && node.started && local?.left !== true && Number(node.state.config.view.id) !== v.view)
      throw new Mismatch(`${where} runs in view ${node.state.config.view.id}, the spec in view ${v.view}`)
    if (v.keys !== undefined && node.started) {
      const held = [...node.keys.keys()].map(Number).sort((a, b) => a - b)
      if (held.join(",") !== v.keys.join(",")) throw new Mismatch(`${where} holds keys of views [${held.join(",")}], the spec [${v.keys.join(",")}]`)
    }
    if (v.left !== undefined && (node.state.reconfig?.local.left === true) !== v.left) throw new Mismatch(`${where} left=${!v.left}, the spec left=${v.left}`)
  }

  /** A joiner before its first view: the batches it fetched, the blocks it stored and synced. */
  const compareJoiner = (r: ReplicaId, v: ReplicaView): void => {
    const node = replicas[r] as Replica
    const where = `joiner ${r}`
    if (v.view !== undefined && v.view !== -1) throw new Mismatch(`${where} has not started, the spec installed view ${v.view}`)
    if (node.decided.length !== v.chain.length || v.chain.some((b, i) => !sameBatch(node.decided[i] ?? [], b)))
      throw new Mismatch(`${where} fetched ${node.decided.map(show).join(" ")}, the spec ${v.chain.map(show).join(" ")}`)
    if (node.fetched !== v.wrote || node.synced !== v.dur) throw new Mismatch(`${where} stored/synced ${node.fetched}/${node.synced}, the spec ${v.wrote}/${v.dur}`)
    statesCompared++
  }

  let matched = 0
  try {
    for (const s of behaviour.steps) {
      if (s.action === "Submit") {
        const t = tx.get(s.tx)
        if (t === undefined) throw new Mismatch(`transaction ${s.tx} is not in the behaviour's txs`)
        submittedTxs.push(s.tx)
        for (let r = 0; r < replicas.length; r++) {
          if (!(replicas[r] as Replica).up || !(replicas[r] as Replica).started) continue
          feed(r, { _tag: "Transaction", tx: t })
          if (take(r, (x) => x.action === "Submit" && x["txSeq"] === String(s.tx)) === undefined)
            throw new Mismatch(`replica ${r} did not emit Submit for transaction ${s.tx}`)
        }
        events["Submit"] = (events["Submit"] ?? 0) + 1
      } else if (s.action === "CrashAll") {
        const running = replicas.flatMap((x, r) => (x.up ? [r] : []))
        const e = crash(running, true)
        const down = s.post.flatMap((v, r) => (v.up ? [] : [r]))
        if (JSON.stringify(e["replicas"]) !== JSON.stringify(down)) throw new Mismatch(`CrashAll took down [${String(e["replicas"])}], the spec [${down.join(",")}]`)
        events["CrashAll"] = (events["CrashAll"] ?? 0) + 1
      } else stepFor(s, s.post)
      specMsgs.push(...s.sent)
      if (reconfig) replicas.forEach((_, r) => dropRequestReplies(r))
      s.post.forEach((v, r) => {
        const node = replicas[r] as Replica
        if (node.up !== v.up) throw new Mismatch(`replica ${r} is ${node.up ? "running" : "down"}, in the spec ${v.up ? "running" : "down"}`)
        if (node.up && !node.started) compareJoiner(r, v)
        else if (node.up && node.ahead.length === 0) compare(r, v)
      })
      matched++
    }
  } catch (e) {
    if (!(e instanceof Mismatch)) throw e
    return { ok: false, failure: `step ${matched + 1} (${behaviour.steps[matched]?.action}): ${e.reason}`, stepsMatched: matched, events, statesCompared }
  }
  return { ok: true, failure: undefined, stepsMatched: matched, events, statesCompared }
}
