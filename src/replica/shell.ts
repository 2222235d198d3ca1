/**
 * The shell: the one place where the pure core meets the world. It gathers inputs (messages and
 * requests from the Transport, ticks from the Clock, decided instances fetched by state transfer),
 * verifies them in batches with the Verifier, feeds the verified ones to `step` one at a time, and
 * interprets the outputs in order: sends, decisions (kept in its decided log and handed to
 * `onDecide`), state-transfer requests and trace events. Dropped inputs are counted by reason.
 */
import { Effect, Queue } from "effect"
import type { Transaction } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import type { Input, Output, ReplyOutput } from "../core/io.ts"
import { coreLimits } from "../core/limits.ts"
import type { ReplicaState } from "../core/state.ts"
import { initialState } from "../core/state.ts"
import { step } from "../core/step.ts"
import type { BlockStoreApi } from "../services/blockstore-core.ts"
import { ReplicaClock } from "../services/clock.ts"
import { applyWrite } from "./storage.ts"
import { TraceSink } from "../services/trace.ts"
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
}

/** A failed sync is tried again after this long. */
const syncRetryMs = 20

export const makeShell = (config: ReplicaConfig, options: ShellOptions = {}): Shell => {
  let state = options.initial ?? initialState(config)
  const log: Array<DecidedInstance> = []
  const store = options.store
  const metrics: ShellMetrics = { rejected: {}, steps: 0, repliesAgain: 0 }
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
    }
  }

  const run = Effect.gen(function* () {
    const transport = yield* Transport
    const clock = yield* ReplicaClock
    const traceSink = yield* TraceSink
    const verifier = yield* Verifier
    const queue = yield* Queue.unbounded<Item>()

    const interpret = (outputs: ReadonlyArray<Output>) =>
      Effect.forEach(
        outputs,
        (out) => {
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
              return Effect.sync(() => {
                log.push({ batch: out.batch, proof: out.proof })
                options.onDecide?.(out.cid, out.batch)
              })
            case "Trace":
              return Effect.flatMap(clock.nowMs, (t) => traceSink.write(t, out.event))
            case "ReplyAgain":
              return Effect.sync(() => void metrics.repliesAgain++)
            case "WriteBlock":
            case "WriteCertificate":
            case "WriteRecord":
              return store === undefined ? Effect.void : Effect.orDie(applyWrite(store, out))
            case "RewriteBlock":
              return store === undefined
                ? Effect.void
                : Effect.orDie(Effect.zipRight(store.truncateFrom(out.block.header.height), store.appendBlock(out.block)))
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
            case "Reply":
              return Effect.sync(() => options.onReply?.(out))
            case "ShareDecided": {
              const d = out.certificate === undefined ? { batch: out.batch, proof: out.proof } : { batch: out.batch, proof: out.proof, certificate: out.certificate }
              return Effect.forEach(others, (to) => transport.send(to, { _tag: "StateReply", decided: [d] }), { discard: true })
            }
          }
        },
        { discard: true }
      )

    const serve = (envelope: Envelope) => {
      if (envelope.payload._tag !== "StateRequest") return Effect.void
      const start = Number(envelope.payload.fromCid) - 1
      if (start < 0 || start >= log.length) return Effect.void
      return transport.send(envelope.from, { _tag: "StateReply", decided: log.slice(start, start + coreLimits.stateTransferCidsMax) })
    }

    const receiver = Effect.forever(
      Effect.flatMap(transport.receive(verifyBatchMax), (envelopes) => Queue.offerAll(queue, envelopes.flatMap(toItems)))
    )
    const ticker = Effect.forever(
      Effect.zipRight(clock.sleepTick, Effect.flatMap(clock.nowMs, (nowMs) => Queue.offer(queue, { _tag: "Input", input: { _tag: "Tick", nowMs } })))
    )
    const loop = Effect.forever(
      Effect.gen(function* () {
        const items = yield* Queue.takeBetween(queue, 1, verifyBatchMax)
        const inputs: Array<Input> = []
        for (const item of items) {
          if (item._tag === "Serve") yield* serve(item.envelope)
          else inputs.push(item.input)
        }
        const { accepted, rejected } = yield* verifier.verify(inputs)
        countRejected(metrics.rejected, rejected)
        for (const input of accepted) {
          const result = step(state, input)
          state = result.state
          metrics.steps++
          yield* interpret(result.outputs)
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
