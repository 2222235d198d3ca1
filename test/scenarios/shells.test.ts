// Establishes that the Effect shell runs the same `step` over the simulated Transport: four shells
// decide every submitted transaction, in the same order, also when the first leader is cut off.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { toHex } from "../../src/chain/bytes.ts"
import { batchHash } from "../../src/chain/hash.ts"
import { makeConfig } from "../../src/core/config.ts"
import { txKey } from "../../src/core/state.ts"
import { makeShell } from "../../src/replica/shell.ts"
import { clockLayer } from "../../src/services/clock.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { TraceMemory } from "../../src/services/trace.ts"
import { makeSimNetwork, simTransport, submitTo } from "../../src/services/transport-sim.ts"
import { verifierLayer } from "../../src/services/verifier.ts"
import { Prng } from "../sim/prng.ts"
import { chainId, makeWorld, signTx, simLimits } from "../sim/world.ts"

const runShells = (options: { readonly cutReplica?: number; readonly txs: number; readonly sentToAll?: boolean }) =>
  Effect.gen(function* () {
    const prng = new Prng(7)
    const limits = { ...simLimits, requestTimeoutMs: 300 }
    const world = makeWorld(prng, 4, 2, limits)
    const ids = world.view.members.map((m) => m.replica)
    const network = yield* makeSimNetwork(ids)
    if (options.cutReplica !== undefined) network.drop = (from, to) => from === options.cutReplica || to === options.cutReplica
    const shells = ids.map((id) => {
      const keys = world.viewKeys[id]!
      const config = makeConfig({
        self: id,
        chainId,
        view: world.view,
        limits,
        crypto: nodeCrypto,
        signer: { sign: (m) => nodeCrypto.sign(keys.secret, m) }
      })
      const layers = Layer.mergeAll(
        simTransport(network, id),
        clockLayer(10),
        TraceMemory,
        verifierLayer({ chainId, view: world.view, quorum: config.quorum, limits, crypto: nodeCrypto })
      )
      return { id, shell: makeShell(config, options.sentToAll === true ? { sentToAll: () => true } : {}), layers }
    })
    const fibers = yield* Effect.forEach(shells, (s) => Effect.fork(Effect.provide(s.shell.run, s.layers)))
    const txs = Array.from({ length: options.txs }, (_, i) => signTx(world.clients[i % 2]!, BigInt(i), new Uint8Array([i])))
    for (const tx of txs) for (const id of ids) if (id !== options.cutReplica) yield* submitTo(network, id, tx)
    const live = shells.filter((s) => s.id !== options.cutReplica)
    const done = () => live.every((s) => s.shell.decided().reduce((k, d) => k + d.batch.length, 0) === txs.length)
    const deadline = Date.now() + 20_000
    while (!done() && Date.now() < deadline) yield* Effect.sleep("20 millis")
    yield* Effect.forEach(fibers, Fiber.interrupt)
    return { live, txs }
  })

describe("replica shells over the simulated transport", () => {
  it.live("four shells decide every transaction once, all in the same order", () =>
    Effect.gen(function* () {
      const { live, txs } = yield* runShells({ txs: 12 })
      const orders = live.map((s) => s.shell.decided().map((d) => toHex(batchHash(nodeCrypto, d.batch))))
      for (const o of orders) expect(o).toEqual(orders[0])
      const keys = live[0]!.shell.decided().flatMap((d) => d.batch.map(txKey))
      expect(new Set(keys).size).toBe(txs.length)
      expect(new Set(keys)).toEqual(new Set(txs.map(txKey)))
      for (const s of live) expect(s.shell.metrics.steps).toBeGreaterThan(0)
      for (const s of live) expect(s.shell.metrics.forwardsSkipped).toBe(0)
    })
  )

  it.live("transactions the client sent to every member are not forwarded to the leader, and are all decided", () =>
    Effect.gen(function* () {
      const { live, txs } = yield* runShells({ txs: 12, sentToAll: true })
      const orders = live.map((s) => s.shell.decided().map((d) => toHex(batchHash(nodeCrypto, d.batch))))
      for (const o of orders) expect(o).toEqual(orders[0])
      const keys = live[0]!.shell.decided().flatMap((d) => d.batch.map(txKey))
      expect(new Set(keys)).toEqual(new Set(txs.map(txKey)))
      // Replica 0 leads regency 0 and never forwards to itself; the others skip their forwards.
      expect(live[0]!.shell.metrics.forwardsSkipped).toBe(0)
      const skipped = live.slice(1).map((s) => s.shell.metrics.forwardsSkipped)
      for (const k of skipped) expect(k).toBeLessThanOrEqual(txs.length)
      expect(skipped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    })
  )

  it.live("with the first leader cut off, the other three change leader and decide everything", () =>
    Effect.gen(function* () {
      const { live, txs } = yield* runShells({ cutReplica: 0, txs: 6 })
      for (const s of live) {
        expect(s.shell.decided().reduce((k, d) => k + d.batch.length, 0)).toBe(txs.length)
        expect(s.shell.state().regency).toBeGreaterThanOrEqual(1n)
      }
    })
  )
})
