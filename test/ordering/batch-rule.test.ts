// Establishes the leader's batching rule (src/ordering/batch.ts, batchReady): with nothing in
// flight a leader proposes at once; while a block of its own still waits for its replies it holds
// a batch that is not full until the oldest pending transaction has waited batchDelayMs, and
// proposes a full batch at once.
import { describe, expect, it } from "vitest"
import { transactionEncodedSize } from "../../src/chain/encoding.ts"
import type { Transaction } from "../../src/chain/types.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Output } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { initialState, txKey } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { batchReady } from "../../src/ordering/batch.ts"
import { canPropose } from "../../src/ordering/propose.ts"
import type { PersistenceConfig, PersistenceState } from "../../src/persistence/state.ts"
import { initialPersistence } from "../../src/persistence/state.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { Prng } from "../sim/prng.ts"
import { makeWorld, signTx } from "../sim/world.ts"

const world = makeWorld(new Prng(7), 4, 3)
const leaderKeys = world.viewKeys[0]!

const leaderState = (batchTxMax: number, batchDelayMs?: number): ReplicaState =>
  initialState(
    makeConfig({
      self: 0,
      chainId: "batch-rule",
      view: world.view,
      limits: { ...world.limits, batchTxMax },
      crypto: nodeCrypto,
      signer: { sign: (m) => nodeCrypto.sign(leaderKeys.secret, m) },
      ...(batchDelayMs === undefined ? {} : { batchDelayMs })
    })
  )

/**
 * The same state with a persistence pipeline at `height` whose replies are released up to
 * `releasedH`: the rule reads only these two heights (the state machine is never consulted).
 */
const withBlocks = (state: ReplicaState, height: bigint, releasedH: bigint): ReplicaState => {
  const p: PersistenceState = {
    ...initialPersistence({ mode: "strong", genesisHash: new Uint8Array(32) } as unknown as PersistenceConfig),
    height,
    releasedH
  }
  return { ...state, persistence: p }
}

const txs = (count: number): Array<Transaction> => Array.from({ length: count }, (_, i) => signTx(world.clients[i % 3]!, BigInt(i + 1), new Uint8Array([i])))

/** Puts transactions in the pending set as Submit does, arriving now. */
const submitAll = (state: ReplicaState, batch: ReadonlyArray<Transaction>): ReplicaState =>
  batch.reduce((s, tx) => {
    const key = txKey(tx)
    s.pending.set(key, { tx, key, bytes: transactionEncodedSize(tx), sinceMs: s.nowMs, forwardedToAll: false })
    return s
  }, state)

describe("the leader's batching rule", () => {
  it("without persistence, or with every block's replies released, a leader proposes at once", () => {
    const plain = submitAll(leaderState(8), txs(1))
    expect(batchReady(plain)).toBe(true)
    expect(canPropose(plain)).toBe(true)
    const settled = submitAll(withBlocks(leaderState(8), 3n, 3n), txs(1))
    expect(batchReady(settled)).toBe(true)
  })

  it("with a block in flight it holds a batch that is not full until the oldest waited batchDelayMs", () => {
    const state = submitAll(withBlocks(leaderState(8, 20), 3n, 2n), txs(3))
    expect(batchReady(state)).toBe(false)
    expect(canPropose(state)).toBe(false)
    state.nowMs = 19
    expect(batchReady(state)).toBe(false)
    state.nowMs = 20
    expect(batchReady(state)).toBe(true)
  })

  it("with a block in flight a full batch goes out at once", () => {
    const state = submitAll(withBlocks(leaderState(4, 20), 3n, 2n), txs(3))
    expect(batchReady(state)).toBe(false)
    submitAll(state, txs(4).slice(3))
    expect(state.pending.size).toBe(4)
    expect(batchReady(state)).toBe(true)
  })

  it("a held batch goes out on the tick that makes it old enough", () => {
    let state = submitAll(withBlocks(leaderState(8, 20), 3n, 2n), txs(2))
    // The Propose action (its PROPOSE then waits for the consensus record's sync, as in strong mode).
    const proposed = (outputs: ReadonlyArray<Output>) => outputs.flatMap((o) => (o._tag === "Trace" && o.event.action === "Propose" ? [o.event["txs"]] : []))
    const early = step(state, { _tag: "Tick", nowMs: 10 })
    state = early.state
    expect(proposed(early.outputs)).toEqual([])
    const late = step(state, { _tag: "Tick", nowMs: 20 })
    expect(proposed(late.outputs)).toEqual([2])
    expect(late.state.instance.proposedIn.has("0")).toBe(true)
  })

  it("batchDelayMs 0 never holds a batch", () => {
    const state = submitAll(withBlocks(leaderState(8, 0), 3n, 2n), txs(1))
    expect(batchReady(state)).toBe(true)
  })
})
