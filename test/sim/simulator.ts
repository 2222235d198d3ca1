/**
 * The deterministic simulator: N replicas driven synchronously through the Verifier and `step`,
 * clients, and an event-driven network with delay, loss, duplication, reordering and partitions
 * that heal, plus Byzantine replicas. One seeded PRNG draws every choice; time is logical.
 *
 * After every step it checks Agreement (no two correct replicas decide different batches for one
 * cid) and Validity (only submitted, validly signed transactions are decided, none twice). In
 * liveness mode it checks that once the faults heal every submitted transaction is decided by
 * every correct replica within a bound.
 */
import { toHex } from "../../src/chain/bytes.ts"
import { batchHash, txHash } from "../../src/chain/hash.ts"
import type { ConsensusMessage, DecisionProof, ReplicaId, Transaction } from "../../src/chain/types.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Input, Output, TraceEvent } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState, txKey } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { TraceRecord } from "../../src/services/trace.ts"
import type { RejectCounts } from "../../src/services/verifier.ts"
import { countRejected, InputVerifier } from "../../src/services/verifier.ts"
import { coreLimits } from "../../src/core/limits.ts"
import type { Behaviour } from "./byzantine.ts"
import { Byzantine } from "./byzantine.ts"
import { EventHeap } from "./heap.ts"
import { Prng } from "./prng.ts"
import type { Payload, World } from "./world.ts"
import { chainId, makeWorld, signTx, simLimits } from "./world.ts"

export interface Partition {
  readonly fromMs: number
  readonly toMs: number
  /** Replicas on one side; the rest are on the other. */
  readonly side: ReadonlyArray<ReplicaId>
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
}

export interface Violation {
  readonly property: "Agreement" | "Validity" | "Liveness" | "Assertion"
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
}

type SimEvent =
  | { readonly atMs: number; readonly order: number; readonly kind: "deliver"; readonly to: ReplicaId; readonly from: ReplicaId; readonly payload: Payload }
  | { readonly atMs: number; readonly order: number; readonly kind: "tick"; readonly replica: ReplicaId }
  | { readonly atMs: number; readonly order: number; readonly kind: "submit"; readonly tx: Transaction; readonly to: ReadonlyArray<ReplicaId> }

const tickMs = 10

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
  return {
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
  return (
    `byzantine=${byz} loss=${plan.lossRate.toFixed(2)} dup=${plan.duplicateRate.toFixed(2)} ` +
    `delay<=${plan.faultyDelayMs}ms then <=${plan.stableDelayMs}ms partitions=${parts} ` +
    `isolated=${plan.isolated.join(",") || "none"} heal=${plan.healMs}ms`
  )
}

interface Node {
  readonly id: ReplicaId
  state: ReplicaState
  readonly verifier: InputVerifier
  /** Decided instances in cid order (index = cid - 1): what it serves to state transfer. */
  readonly log: Array<{ readonly batch: ReadonlyArray<Transaction>; readonly proof: DecisionProof; readonly hashHex: string }>
  readonly byzantine: Byzantine | undefined
  /** Every (client, seq) this replica decided, as the simulator saw its decisions. */
  readonly decidedKeys: Set<string>
}

export const runSimulation = (options: SimOptions): SimResult => {
  const prng = new Prng(options.seed)
  const n = options.n ?? 4
  const world: World = makeWorld(prng, n, options.clients ?? 3, simLimits)
  const plan = options.faults ?? drawFaults(prng, n)
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

  const nodes: Array<Node> = world.view.members.map((m) => {
    const keys = world.viewKeys[m.replica]!
    const config = makeConfig({
      self: m.replica,
      chainId,
      view: world.view,
      limits: world.limits,
      crypto: nodeCrypto,
      signer: { sign: (msg) => nodeCrypto.sign(keys.secret, msg) },
      ...(options.quorumOverrideForTests === undefined ? {} : { quorumOverrideForTests: options.quorumOverrideForTests })
    })
    const behaviour = plan.byzantine.get(m.replica)
    return {
      id: m.replica,
      state: initialState(config),
      verifier: new InputVerifier({ chainId, view: world.view, quorum: config.quorum, limits: world.limits, crypto: nodeCrypto }),
      log: [],
      decidedKeys: new Set<string>(),
      byzantine: behaviour === undefined ? undefined : new Byzantine(behaviour, m.replica, world, prng)
    }
  })
  const correct = nodes.filter((x) => x.byzantine === undefined)

  // Client transactions: submitted at random times to all replicas or to one.
  const submitted = new Map<string, string>()
  for (let i = 0; i < txCount; i++) {
    const c = prng.int(0, world.clients.length - 1)
    const tx = signTx(world.clients[c]!, BigInt(i), prng.bytes(prng.int(1, 48)))
    submitted.set(txKey(tx), toHex(txHash(nodeCrypto, tx)))
    const to = prng.chance(0.3) ? [prng.int(0, n - 1)] : [...Array(n).keys()]
    heap.push({ atMs: prng.int(0, submitUntilMs), order: order++, kind: "submit", tx, to })
    // A client that has no answer by the time the faults heal sends again to every replica.
    heap.push({ atMs: plan.healMs + prng.int(0, 200), order: order++, kind: "submit", tx, to: [...Array(n).keys()] })
  }
  for (const node of nodes) heap.push({ atMs: prng.int(0, tickMs - 1), order: order++, kind: "tick", replica: node.id })

  // Agreement reference: the first batch hash decided for each cid by a correct replica.
  const decidedHash = new Map<bigint, string>()

  const partitioned = (a: ReplicaId, b: ReplicaId, atMs: number): boolean =>
    plan.partitions.some((p) => atMs >= p.fromMs && atMs < p.toMs && p.side.includes(a) !== p.side.includes(b))

  const isolated = (r: ReplicaId, atMs: number): boolean => atMs < plan.healMs && plan.isolated.includes(r)

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

  const interpret = (node: Node, outputs: ReadonlyArray<Output>): void => {
    const members = world.view.members
    const sendOut = (to: ReplicaId, payload: Payload) => {
      if (node.byzantine === undefined) send(node.id, to, payload)
      else for (const p of node.byzantine.transform(to, payload, node.state)) send(node.id, to, p)
    }
    for (const out of outputs) {
      switch (out._tag) {
        case "Send":
          sendOut(out.to, { _tag: "Consensus", message: out.message })
          break
        case "Broadcast":
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
          if (options.trace === true) trace.push({ seq: trace.length, timeMs: now, event: out.event as TraceEvent })
          break
        case "ReplyAgain":
          break
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
    const { accepted, rejected: dropped } = node.verifier.verify(inputs)
    countRejected(rejected, dropped)
    for (const input of accepted) {
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

  const allDecided = (): boolean => correct.every((node) => [...submitted.keys()].every((k) => node.state.decidedTx.has(k)))

  let ended = false
  try {
    while (heap.size > 0 && violations.length === 0) {
      const ev = heap.pop()!
      if (ev.atMs > endMs) break
      now = ev.atMs
      if (ev.kind === "tick") {
        const node = nodes[ev.replica]!
        if (node.byzantine?.behaviour !== "silent" && !isolated(node.id, now)) {
          feed(node, [{ _tag: "Tick", nowMs: now }])
          if (node.byzantine !== undefined) for (const [to, p] of node.byzantine.onTick(node.state)) send(node.id, to, p)
        }
        heap.push({ atMs: now + tickMs, order: order++, kind: "tick", replica: ev.replica })
        if (now >= plan.healMs && ev.replica === 0 && now % 200 < tickMs && allDecided()) {
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
      } else {
        const node = nodes[ev.to]!
        if (node.byzantine?.behaviour === "silent") continue
        node.byzantine?.observe(ev.from, ev.payload)
        deliver(node, ev.from, ev.payload)
      }
    }
  } catch {
    // The assertion is recorded as a violation; the run stops there.
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
        const decided = node.log.slice(start, start + coreLimits.stateTransferCidsMax).map((d) => ({ batch: d.batch, proof: d.proof }))
        const reply: Payload = { _tag: "StateReply", decided }
        if (node.byzantine === undefined) send(node.id, from, reply)
        else for (const p of node.byzantine.transform(from, reply, node.state)) send(node.id, from, p)
        return
      }
      case "StateReply":
        feed(
          node,
          payload.decided.map((d): Input => ({ _tag: "Decided", batch: d.batch, proof: d.proof }))
        )
        return
    }
  }

  if (violations.length === 0 && checkLiveness && !ended && !allDecided()) {
    const missing = correct.map((node) => `${node.id}:${[...submitted.keys()].filter((k) => !node.state.decidedTx.has(k)).length}`).join(" ")
    violations.push({
      property: "Liveness",
      detail: `not every transaction decided ${livenessBoundMs}ms after the faults healed (missing per replica ${missing}; regencies ${correct.map((x) => `${x.id}:${x.state.regency}/${x.state.nextRegency}${x.state.synced ? "" : "u"}@${x.state.instance.cid}`).join(" ")})`,
      atMs: now
    })
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
    trace
  }
}

export { simLimits }
