/**
 * A small harness for unit tests of the core: four replicas with real keys, driven by hand
 * through the Verifier and `step`, with every output kept for inspection.
 */
import { makeConfig } from "../../src/core/config.ts"
import type { Input, Output, TraceEvent } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { InputVerifier } from "../../src/services/verifier.ts"
import { Prng } from "../sim/prng.ts"
import type { World } from "../sim/world.ts"
import { chainId, makeWorld, simLimits } from "../sim/world.ts"

export interface TestReplica {
  state: ReplicaState
  readonly verifier: InputVerifier
  outputs: Array<Output>
  /** Every trace event's action name, in order, across all steps. */
  readonly actions: Array<string>
  readonly events: Array<TraceEvent>
}

export const makeCluster = (n = 4, seed = 1): { readonly world: World; readonly replicas: Array<TestReplica> } => {
  const world = makeWorld(new Prng(seed), n, 2, simLimits)
  const replicas = world.view.members.map((m) => {
    const keys = world.viewKeys[m.replica]!
    const config = makeConfig({
      self: m.replica,
      chainId,
      view: world.view,
      limits: world.limits,
      crypto: nodeCrypto,
      signer: { sign: (msg) => nodeCrypto.sign(keys.secret, msg) }
    })
    return {
      state: initialState(config),
      verifier: new InputVerifier({ chainId, view: world.view, quorum: config.quorum, limits: world.limits, crypto: nodeCrypto }),
      outputs: [],
      actions: [],
      events: []
    }
  })
  return { world, replicas }
}

/** Verifies and steps one input; returns the outputs of this step (also appended to `outputs`). */
export const feed = (r: TestReplica, input: Input): ReadonlyArray<Output> => {
  const { accepted } = r.verifier.verify([input])
  const out: Array<Output> = []
  for (const i of accepted) {
    const result = step(r.state, i)
    r.state = result.state
    out.push(...result.outputs)
  }
  r.outputs.push(...out)
  r.actions.push(...traced(out))
  for (const o of out) if (o._tag === "Trace") r.events.push(o.event)
  return out
}

export const traced = (outputs: ReadonlyArray<Output>): Array<string> =>
  outputs.flatMap((o) => (o._tag === "Trace" ? [o.event.action] : []))

/**
 * Delivers every Send/Broadcast in the replicas' outputs to their recipients until no message is
 * left (synchronous, in order, no loss). Replicas in `down` receive nothing and their sends are lost.
 */
export const deliverAll = (replicas: ReadonlyArray<TestReplica>, down: ReadonlySet<number> = new Set()): void => {
  const queues = replicas.map((r) => {
    const q = [...r.outputs]
    r.outputs = []
    return q
  })
  let progressed = true
  while (progressed) {
    progressed = false
    for (let from = 0; from < replicas.length; from++) {
      const q = queues[from]!
      while (q.length > 0) {
        const o = q.shift()!
        if (down.has(from)) continue
        const targets =
          o._tag === "Broadcast" ? replicas.map((_, i) => i).filter((i) => i !== from) : o._tag === "Send" ? [o.to] : []
        for (const to of targets) {
          if (down.has(to) || (o._tag !== "Send" && o._tag !== "Broadcast")) continue
          const out = feed(replicas[to]!, { _tag: "Message", from, message: o.message })
          queues[to]!.push(...out)
          replicas[to]!.outputs = []
          progressed = true
        }
      }
    }
  }
}
