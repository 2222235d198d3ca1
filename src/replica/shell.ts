/**
 * The shell: the one place where the pure core meets the world. It gathers inputs (messages and
 * requests from the Transport, ticks from the Clock, decided instances fetched by state transfer),
 * verifies them in batches with the Verifier, feeds the verified ones to `step` one at a time, and
 * interprets the outputs in order: sends, decisions (kept in its decided log and handed to
 * `onDecide`), storage writes and syncs, released replies, state-transfer requests and trace
 * events. Peers' state-transfer requests are served from the store (when there is one) and the
 * decided log. Dropped inputs are counted by reason.
 */
import { Effect, Queue } from "effect"
import type { Transaction } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import type { EraseViewKeysOutput, Input, Output, ReplyOutput, RotateKeyOutput, ViewInstalledOutput } from "../core/io.ts"
import { coreLimits } from "../core/limits.ts"
import type { ReplicaState } from "../core/state.ts"
import { initialState, txKey } from "../core/state.ts"
import { step } from "../core/step.ts"
import { orderingPaused } from "../reconfiguration/core-views.ts"
import type { BlockStoreApi } from "../services/blockstore-core.ts"
import { ReplicaClock } from "../services/clock.ts"
import { applyRewrite, applyWrite, serveDecided } from "./storage.ts"
import { TraceSink } from "../services/trace.ts"
import { eraseViewKeys } from "../services/view-keys.ts"
import type { DecidedInstance, Envelope } from "../services/transport.ts"
import { Transport } from "../services/transport.ts"
import type { RejectCounts } from "../services/verifier.ts"
import { countRejected, Verifier } from "../services/verifier.ts"

/** Most inputs verified together in one batch. */
const verifyBatchMax = 256

export interface ShellMetrics {
  /** Inputs the Verifier dropped, by reason. */
  readonly rejected: RejectCounts
  steps: number
  repliesAgain: number
  /**
   * Transactions dropped before verification because the same (client, seq) was already
   * pending: `step` would ignore them (a client's copy and the copies its other members forward).
   */
  duplicates: number
  /** Forwards to the leader not sent because the client sent the transaction to every member. */
  forwardsSkipped: number
}

export interface Shell {
  /** Runs the replica until interrupted. */
  readonly run: Effect.Effect<never, never, Transport | ReplicaClock | TraceSink | Verifier>
  /** The decided instances so far, in cid order. */
  readonly decided: () => ReadonlyArray<DecidedInstance>
  readonly state: () => ReplicaState
  readonly metrics: ShellMetrics
}

type Item = { readonly _tag: "Input"; readonly input: Input } | { readonly _tag: "Serve"; readonly envelope: Envelope }

export interface ShellOptions {
  readonly onDecide?: (cid: bigint, batch: ReadonlyArray<Transaction>) => void
  /**
   * Where blocks, certificates and consensus records go (configurations with persistence). Without
   * it a sync completes at once and nothing is kept: only for tests of ordering.
   */
  readonly store?: BlockStoreApi
  /** Replies released by the persistence mode's rule, for the client side to deliver. */
  readonly onReply?: (reply: ReplyOutput) => void
  /** The state to start from (a restart, see src/persistence/restart.ts); default the initial state. */
  readonly initial?: ReplicaState
  /** Outputs of the restart step, interpreted before anything else. */
  readonly initialOutputs?: ReadonlyArray<Output>
  /** The replica's view key directory (src/services/view-keys.ts): EraseViewKeys erases its files. */
  readonly viewKeyDir?: string
  /**
   * Reconfiguration outputs (configurations with `reconfig`): making a fresh key and submitting
   * ROTATE, and following the installed view (peers, Verifier). Without it they are ignored.
   */
  readonly onReconfig?: (output: RotateKeyOutput | EraseViewKeysOutput | ViewInstalledOutput) => Effect.Effect<void>
  /**
   * Whether the client sent this transaction to every member itself (the API's POST /txs?all=1):
   * the Forward to the leader that Submit asks for is then not sent (the leader has its own copy;
   * the forwards to every member on a request timeout still go out).
   */
  readonly sentToAll?: (tx: Transaction) => boolean
}

/** A failed sync is tried again after this long. */
const syncRetryMs = 20

/** A quiet replica (see `isQuiet`) is ticked once per this many tick intervals. */
const quietTickIntervals = 10

/**
 * Whether no timer of the core is running: nothing pending, every block it decided written,
 * certified (strong mode) and replied to, its regency installed and synced, no view change under
 * way. Such a replica has nothing to time out or retransmit until an input arrives (and the loop
 * gives the core the time before it handles any input).
 */
const isQuiet = (s: ReplicaState): boolean => {
  const p = s.persistence
  return (
    s.pending.size === 0 &&
    s.synced &&
    s.nextRegency === s.regency &&
    s.syncedValue === undefined &&
    !s.missingBatch &&
    s.instance.proposals.size === 0 &&
    !orderingPaused(s) &&
    (p === undefined || (p.unwritten.length === 0 && p.releasedH >= p.height && (p.mode !== "strong" || p.certH >= p.height)))
  )
}

export const makeShell = (config: ReplicaConfig, options: ShellOptions = {}): Shell => {
  let state = options.initial ?? initialState(config)
  const log: Array<DecidedInstance> = []
  const store = options.store
  const metrics: ShellMetrics = { rejected: {}, steps: 0, repliesAgain: 0, duplicates: 0, forwardsSkipped: 0 }
  const others = config.view.members.map((m) => m.replica).filter((r) => r !== config.self)

  const toItems = (envelope: Envelope): ReadonlyArray<Item> => {
    const p = envelope.payload
    switch (p._tag) {
      case "Consensus":
        return [{ _tag: "Input", input: { _tag: "Message", from: envelope.from, message: p.message } }]
      case "Request":
        return [{ _tag: "Input", input: { _tag: "Transaction", tx: p.tx } }]
      case "StateReply":
        return p.decided.map((d) => ({
          _tag: "Input",
          input:
            d.certificate === undefined
              ? { _tag: "Decided", batch: d.batch, proof: d.proof }
              : { _tag: "Decided", batch: d.batch, proof: d.proof, certificate: d.certificate }
        }))
      case "StateRequest":
        return [{ _tag: "Serve", envelope }]
      case "Transfer":
        // Snapshot-based state transfer is the host's (src/node/transfer.ts), not the core's.
        return []
    }
  }

  const run = Effect.gen(function* () {
    const transport = yield* Transport
    const clock = yield* ReplicaClock
    const traceSink = yield* TraceSink
    const verifier = yield* Verifier
    const queue = yield* Queue.unbounded<Item>()
    const sendNow = transport.sendNow
    const nowMsNow = clock.nowMsNow
    const writeNow = traceSink.writeNow

    /**
     * The outputs that need no effect, performed at once (most of a busy replica's): sends when
     * the transport sends synchronously, decisions, replies, trace events when the sink writes
     * synchronously. False for the others, which go through `interpretOne`.
     */
    const interpretNow = (out: Output): boolean => {
      switch (out._tag) {
        case "Send":
          if (sendNow === undefined) return false
          sendNow(out.to, { _tag: "Consensus", message: out.message })
          return true
        case "Broadcast":
          if (sendNow === undefined) return false
          for (const to of others) sendNow(to, { _tag: "Consensus", message: out.message })
          return true
        case "Forward":
          if (sendNow === undefined) return false
          sendNow(out.to, { _tag: "Request", tx: out.tx })
          return true
        case "Decide":
          log.push({ batch: out.batch, proof: out.proof })
          options.onDecide?.(out.cid, out.batch)
          return true
        case "Reply":
          options.onReply?.(out)
          return true
        case "ReplyAgain":
          metrics.repliesAgain++
          return true
        case "Trace":
          if (writeNow === undefined || nowMsNow === undefined) return false
          writeNow(nowMsNow(), out.event)
          return true
        default:
          return false
      }
    }

    const interpretOne = (out: Output): Effect.Effect<void> => {
      switch (out._tag) {
        case "Send":
          return transport.send(out.to, { _tag: "Consensus", message: out.message })
        case "Broadcast":
          return Effect.forEach(others, (to) => transport.send(to, { _tag: "Consensus", message: out.message }), { discard: true })
        case "Forward":
          return transport.send(out.to, { _tag: "Request", tx: out.tx })
        case "RequestState":
          return Effect.forEach(others, (to) => transport.send(to, { _tag: "StateRequest", fromCid: out.fromCid }), { discard: true })
        case "Decide":
        case "Reply":
        case "ReplyAgain":
          // Always synchronous: `interpretNow` performs them.
          return Effect.sync(() => void interpretNow(out))
        case "Trace":
          return Effect.flatMap(clock.nowMs, (t) => traceSink.write(t, out.event))
        case "WriteBlock":
        case "WriteCertificate":
        case "WriteRecord":
          return store === undefined ? Effect.void : Effect.orDie(applyWrite(store, out))
        case "RewriteBlock":
          return store === undefined
            ? Effect.void
            : Effect.orDie(applyRewrite(store, out))
        case "SyncRequest": {
          const synced = Queue.offer(queue, { _tag: "Input", input: { _tag: "Synced", seq: out.seq } })
          if (store === undefined) return Effect.asVoid(synced)
          // The sync runs beside the loop (group commit: writes go on meanwhile); a failed
          // sync is retried, and the core hears of it only once it succeeded.
          const attempt: Effect.Effect<void> = store.sync().pipe(
            Effect.catchAll(() => Effect.zipRight(Effect.sleep(`${syncRetryMs} millis`), Effect.suspend(() => attempt)))
          )
          return Effect.asVoid(Effect.fork(Effect.zipRight(attempt, synced)))
        }
        case "ShareDecided": {
          const d = out.certificate === undefined ? { batch: out.batch, proof: out.proof } : { batch: out.batch, proof: out.proof, certificate: out.certificate }
          return Effect.forEach(others, (to) => transport.send(to, { _tag: "StateReply", decided: [d] }), { discard: true })
        }
        case "EraseViewKeys":
          // EraseKeys: the old view keys go from disk before anything else happens.
          return Effect.zipRight(
            options.viewKeyDir === undefined ? Effect.void : Effect.orDie(eraseViewKeys(options.viewKeyDir, out.views)),
            options.onReconfig?.(out) ?? Effect.void
          )
        case "RotateKey":
          return options.onReconfig?.(out) ?? Effect.void
        case "ViewInstalled":
          // Broadcasts go to the other members of the view the replica now runs in.
          if (!out.left) others.splice(0, others.length, ...out.view.members.map((m) => m.replica).filter((r) => r !== out.self))
          return options.onReconfig?.(out) ?? Effect.void
      }
    }
    // In order, one after another; a plain loop (most steps have a few outputs or none, and
    // Effect.forEach costs more than several of them).
    const interpret = (outputs: ReadonlyArray<Output>) =>
      Effect.gen(function* () {
        for (const out of outputs) if (!interpretNow(out)) yield* interpretOne(out)
      })

    /** Decided instances from `fromCid` on in the log of this run (which starts after what a restart replayed). */
    const fromLog = (fromCid: bigint): ReadonlyArray<DecidedInstance> => {
      const first = log[0]?.proof.cid
      if (first === undefined || fromCid < first) return []
      const start = Number(fromCid - first)
      return log.slice(start, start + coreLimits.stateTransferCidsMax)
    }

    // State transfer: from the store when there is one (it holds the blocks of earlier runs, with
    // their certificates), then from the decided log for instances not written yet.
    const serve = (envelope: Envelope) =>
      Effect.gen(function* () {
        if (envelope.payload._tag !== "StateRequest") return
        const fromCid = envelope.payload.fromCid
        let decided = store === undefined ? [] : yield* serveDecided(store, fromCid, coreLimits.stateTransferCidsMax)
        if (decided.length === 0) decided = fromLog(fromCid)
        if (decided.length > 0) yield* transport.send(envelope.from, { _tag: "StateReply", decided })
      })

    const receiver = Effect.forever(
      Effect.flatMap(transport.receive(verifyBatchMax), (envelopes) => Queue.offerAll(queue, envelopes.flatMap(toItems)))
    )
    // Ticks: the time of the last one handed to `step`. A busy loop gives the core the time itself
    // (below) once a tick interval has passed, before the inputs it takes, so its timers do not
    // wait behind queued work; the ticker covers a replica with no inputs, every interval while it
    // has a timer running and every `quietTickIntervals` intervals while it is quiet. A tick not
    // later than one already handed over is dropped, so the core's time never goes back.
    let lastTickMs = Number.NEGATIVE_INFINITY
    const tickDue = (nowMs: number): boolean =>
      nowMs - lastTickMs >= clock.tickMs * (isQuiet(state) ? quietTickIntervals : 1)
    const ticker = Effect.forever(
      Effect.zipRight(
        clock.sleepTick,
        Effect.flatMap(clock.nowMs, (nowMs) => (tickDue(nowMs) ? Queue.offer(queue, { _tag: "Input", input: { _tag: "Tick", nowMs } }) : Effect.void))
      )
    )
    const loop = Effect.forever(
      Effect.gen(function* () {
        const items = yield* Queue.takeBetween(queue, 1, verifyBatchMax)
        const inputs: Array<Input> = []
        if (nowMsNow !== undefined) {
          const nowMs = nowMsNow()
          if (nowMs - lastTickMs >= clock.tickMs) {
            lastTickMs = nowMs
            inputs.push({ _tag: "Tick", nowMs })
          }
        }
        for (const item of items) {
          if (item._tag === "Serve") yield* serve(item.envelope)
          else if (item.input._tag === "Transaction" && state.pending.has(txKey(item.input.tx))) metrics.duplicates++
          else if (item.input._tag === "Tick") {
            if (item.input.nowMs > lastTickMs) {
              lastTickMs = item.input.nowMs
              inputs.push(item.input)
            }
          } else inputs.push(item.input)
        }
        const { accepted, rejected } = yield* verifier.verify(inputs)
        countRejected(metrics.rejected, rejected)
        for (const input of accepted) {
          const result = step(state, input)
          state = result.state
          metrics.steps++
          const unforwarded = input._tag === "Transaction" && options.sentToAll?.(input.tx) === true ? input.tx : undefined
          for (const out of result.outputs) {
            if (out._tag === "Forward" && out.tx === unforwarded) metrics.forwardsSkipped++
            else if (!interpretNow(out)) yield* interpretOne(out)
          }
        }
      })
    )
    if (options.initialOutputs !== undefined) yield* interpret(options.initialOutputs)
    yield* Effect.fork(receiver)
    yield* Effect.fork(ticker)
    return yield* loop
  })

  return { run, decided: () => log, state: () => state, metrics }
}
