// Establishes: restart with a stored checkpoint snapshot rebuilds the same replica state as a
// replay from genesis (state, head, durable and certified heights, decided transactions) while
// executing only the blocks after the checkpoint; it uses the snapshot only when it fits (a
// snapshot whose bytes are damaged, whose recorded hash is wrong, or that holds another state is
// ignored and every block is executed); a damaged block below the checkpoint is found and cut; and
// storage passes the snapshot a checkpoint block was written with on to restart.
import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { coinApp } from "../../src/app/coin.ts"
import { toHex } from "../../src/chain/bytes.ts"
import type { Block } from "../../src/chain/types.ts"
import type { ReplicaConfig } from "../../src/core/config.ts"
import type { Checkpoint } from "../../src/persistence/checkpoint.ts"
import type { Machine } from "../../src/persistence/machine.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import type { DurableContent, RestartResult } from "../../src/persistence/restart.ts"
import { restart } from "../../src/persistence/restart.ts"
import { applyWrite, loadDurable } from "../../src/replica/storage.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { SimResult, StoredChain } from "../sim/simulator.ts"
import { runSimulation, simChainLimits } from "../sim/simulator.ts"
import { optionsForSeed } from "../sim/campaign.ts"
import { restartConfig } from "../support/restart-config.ts"

const interval = BigInt(simChainLimits.checkpointInterval)

/** A strong-mode run of the campaign with a chain of several checkpoints. */
const sim: SimResult = runSimulation({ ...optionsForSeed(4), keepChains: true })
const chain: StoredChain = [...sim.chains].sort((a, b) => b.blocks.length - a.blocks.length)[0]!
const blocks = chain.blocks
const genesis = sim.genesis

/** A machine that counts the blocks it executes (restores count as none). */
const counting = (inner: Machine, counter: { executed: number }): Machine => ({
  ...inner,
  execute: (transactions, txHashes) => {
    counter.executed++
    const out = inner.execute(transactions, txHashes)
    return { machine: counting(out.machine, counter), results: out.results }
  },
  restore: (height, snapshot) => {
    const restored = inner.restore(height, snapshot)
    return restored === undefined ? undefined : counting(restored, counter)
  }
})

const configWith = (counter: { executed: number }): ReplicaConfig =>
  restartConfig(genesis, 0, counting(genesisMachine(coinApp, nodeCrypto, genesis), counter))

const restartWith = (content: Partial<DurableContent>): { readonly result: RestartResult; readonly executed: number } => {
  const counter = { executed: 0 }
  const result = restart(configWith(counter), { blocks, certificates: chain.certificates, record: undefined, ...content }, 1_000)
  return { result, executed: counter.executed }
}

/** The checkpoint of block `c` as the replica would have stored it: the state after c replayed from genesis. */
const checkpointAt = (c: bigint): Checkpoint => {
  const { result } = restartWith({ blocks: blocks.slice(0, Number(c)), certificates: [] })
  const machine = result.state.persistence!.machine
  expect(machine.height).toBe(c)
  return { height: c, stateHash: machine.stateHash(), snapshot: machine.snapshot() }
}

/** What a restarted replica is, for comparison. */
const summary = (r: RestartResult) => {
  const p = r.state.persistence!
  return {
    height: p.height,
    dur: p.dur,
    certH: p.certH,
    head: toHex(p.headHash),
    lastCheckpointHeight: p.lastCheckpointHeight,
    state: toHex(p.machine.stateHash()),
    decided: [...r.state.decidedTx.entries()].sort(),
    truncateFrom: r.truncateFrom
  }
}

const flipOp = (b: Block): Block => ({ ...b, transactions: [{ ...b.transactions[0]!, op: Uint8Array.from(b.transactions[0]!.op, (x, i) => (i === 0 ? x ^ 1 : x)) }, ...b.transactions.slice(1)] })

describe("restart from a checkpoint", () => {
  const head = BigInt(blocks.length)
  const c = head - (head % interval) === head ? head - interval : head - (head % interval)
  const full = restartWith({})

  it("the run gives a chain with a checkpoint below its head", () => {
    expect(sim.mode).toBe("strong")
    expect(c).toBeGreaterThanOrEqual(interval)
    expect(c).toBeLessThan(head)
    expect(full.executed).toBe(blocks.length)
    expect(full.result.restoredFrom).toBe(0n)
    expect(full.result.truncateFrom).toBeUndefined()
  })

  it("restores the snapshot, executes only the blocks after it, and ends where a full replay ends", () => {
    const withSnapshot = restartWith({ snapshot: checkpointAt(c) })
    expect(withSnapshot.result.restoredFrom).toBe(c)
    expect(withSnapshot.executed).toBe(Number(head - c))
    expect(summary(withSnapshot.result)).toEqual(summary(full.result))
  })

  it("a snapshot at the head executes nothing", () => {
    const top = head - (head % interval)
    const r = restartWith({ blocks: blocks.slice(0, Number(top)), certificates: [], snapshot: checkpointAt(top) })
    expect(r.result.restoredFrom).toBe(top)
    expect(r.executed).toBe(0)
    expect(r.result.state.persistence!.height).toBe(top)
  })

  it.each([
    ["damaged bytes", (k: Checkpoint): Checkpoint => ({ ...k, snapshot: k.snapshot.subarray(0, k.snapshot.length - 3) })],
    ["a wrong recorded hash", (k: Checkpoint): Checkpoint => ({ ...k, stateHash: new Uint8Array(32).fill(9) })],
    ["the state of another checkpoint", (k: Checkpoint): Checkpoint => ({ ...checkpointAt(k.height - interval), height: k.height })]
  ])("a snapshot with %s is not used: every block is executed, with the same outcome", (_, spoil) => {
    const r = restartWith({ snapshot: spoil(checkpointAt(c)) })
    expect(r.result.restoredFrom).toBe(0n)
    expect(r.executed).toBe(blocks.length)
    expect(summary(r.result)).toEqual(summary(full.result))
  })

  it("a damaged block below the checkpoint is found and storage is cut there", () => {
    const bad = 2n
    const damaged = blocks.map((b) => (b.header.height === bad ? flipOp(b) : b))
    const r = restartWith({ blocks: damaged, snapshot: checkpointAt(c) })
    expect(r.result.restoredFrom).toBe(0n)
    expect(r.result.truncateFrom).toBe(bad)
    expect(r.result.state.persistence!.height).toBe(bad - 1n)
  })

  it("a block out of place below the checkpoint is found the same way", () => {
    const bad = 2n
    const misplaced = blocks.map((b) => (b.header.height === bad ? blocks[Number(bad)]! : b))
    const r = restartWith({ blocks: misplaced, snapshot: checkpointAt(c) })
    expect(r.result.restoredFrom).toBe(0n)
    expect(r.result.truncateFrom).toBe(bad)
    expect(r.result.state.persistence!.height).toBe(bad - 1n)
    expect(toHex(r.result.state.persistence!.machine.stateHash())).toBe(toHex(restartWith({ blocks: blocks.slice(0, Number(bad) - 1) }).result.state.persistence!.machine.stateHash()))
  })

  it("a block written with its snapshot reaches restart through storage", () => {
    const k = checkpointAt(c)
    const loaded = Effect.runSync(
      Effect.gen(function* () {
        const store = yield* makeMemoryBlockStore({ crypto: nodeCrypto })
        for (const b of blocks.slice(0, Number(c) + 1)) {
          const snapshot = b.header.height === c ? { stateHash: k.stateHash, bytes: k.snapshot } : undefined
          yield* applyWrite(store, snapshot === undefined ? { _tag: "WriteBlock", block: b } : { _tag: "WriteBlock", block: b, snapshot })
        }
        yield* store.sync()
        yield* store.crash()
        const snap = yield* store.readSnapshot(c)
        expect(toHex(snap.stateHash)).toBe(toHex(k.stateHash))
        return yield* loadDurable(store)
      })
    )
    expect(loaded.blocks).toHaveLength(Number(c) + 1)
    expect(loaded.snapshot?.height).toBe(c)
    const r = restartWith({ ...loaded, certificates: chain.certificates.filter((x) => x.height <= c + 1n) })
    expect(r.result.restoredFrom).toBe(c)
    expect(r.executed).toBe(1)
  })

  it("a snapshot above the blocks storage kept is not offered to restart", () => {
    const k = checkpointAt(c)
    const loaded = Effect.runSync(
      Effect.gen(function* () {
        const store = yield* makeMemoryBlockStore({ crypto: nodeCrypto })
        // The snapshot of checkpoint c is on disk, block c is not.
        for (const b of blocks.slice(0, Number(c) - 1)) yield* applyWrite(store, { _tag: "WriteBlock", block: b })
        yield* store.putSnapshot(c, k.stateHash, k.snapshot)
        yield* store.sync()
        expect(Option.map(yield* store.latestSnapshot(), (x) => x.height)).toEqual(Option.some(c))
        return yield* loadDurable(store)
      })
    )
    expect(loaded.blocks).toHaveLength(Number(c) - 1)
    expect(loaded.snapshot).toBeUndefined()
  })
})
