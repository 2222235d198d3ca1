// Establishes: in strong mode, a replica that restarts with blocks it synced but whose
// certificates it had not synced before the crash queues those blocks' replies again, and releases
// them (with the stored results) once the certificates are synced after the restart; blocks
// certified before the crash count as released and are not replied to again. Without the requeue a
// client waiting for such a transaction would never hear from this replica.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import { bytesEqual } from "../../src/chain/bytes.ts"
import type { Block, Certificate } from "../../src/chain/types.ts"
import type { Output, ReplyOutput } from "../../src/core/io.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { step } from "../../src/core/step.ts"
import { restart } from "../../src/persistence/restart.ts"
import type { SimResult, StoredChain } from "../sim/simulator.ts"
import { runSimulation } from "../sim/simulator.ts"
import { optionsForSeed } from "../sim/campaign.ts"
import { restartConfig } from "../support/restart-config.ts"

/** A strong-mode run with a chain of many blocks. */
const sim: SimResult = runSimulation({ ...optionsForSeed(4), keepChains: true })
const chain: StoredChain = [...sim.chains].sort((a, b) => b.blocks.length - a.blocks.length)[0]!
const genesis = sim.genesis

const config = restartConfig(genesis, chain.replica)

/** Block h's certificate, from the chain's certificate records or the copy block h + 1 carries. */
const certificateOf = (h: bigint): Certificate | undefined =>
  chain.certificates.find((c) => c.height === h) ?? Option.getOrUndefined(chain.blocks[Number(h)]?.prevCertificate ?? Option.none())

const replies = (outputs: ReadonlyArray<Output>): Array<ReplyOutput> => outputs.filter((o): o is ReplyOutput => o._tag === "Reply")

/** Feeds one input and answers every sync the core asks for at once; returns every output. */
const feed = (state: ReplicaState, input: Parameters<typeof step>[1]): { state: ReplicaState; outputs: Array<Output> } => {
  const all: Array<Output> = []
  let r = step(state, input)
  all.push(...r.outputs)
  for (let guard = 0; guard < 16; guard++) {
    const sync = r.outputs.find((o) => o._tag === "SyncRequest")
    if (sync === undefined || sync._tag !== "SyncRequest") break
    r = step(r.state, { _tag: "Synced", seq: sync.seq })
    all.push(...r.outputs)
  }
  return { state: r.state, outputs: all }
}

describe("strong mode: replies of blocks synced but not certified before a crash", () => {
  // The stored chain up to the highest two non-empty blocks; their certificates were not synced.
  const nonEmpty = chain.blocks.filter((b) => b.transactions.length > 0 && certificateOf(b.header.height) !== undefined)
  const last = nonEmpty[nonEmpty.length - 1]!
  const previous = nonEmpty[nonEmpty.length - 2]!
  const top = last.header.height
  const uncertifiedFrom = previous.header.height
  const stored: ReadonlyArray<Block> = chain.blocks.slice(0, Number(top)).map((b) =>
    // Block h + 1 carries h's certificate: a store whose certificate of h was never synced has no copy either.
    b.header.height > uncertifiedFrom ? { ...b, prevCertificate: Option.none() } : b
  )
  const certificates = chain.certificates.filter((c) => c.height < uncertifiedFrom)

  it("the run gives blocks with transactions and certificates to play with", () => {
    expect(genesis.persistence).toBe("strong")
    expect(uncertifiedFrom).toBeLessThan(top)
    expect(uncertifiedFrom).toBeGreaterThan(1n)
  })

  it("are queued at restart and released once their certificates are synced, with the stored results", () => {
    const result = restart(config, { blocks: stored, certificates, record: undefined }, 1_000)
    const p = result.state.persistence!
    expect(p.dur).toBe(top)
    expect(p.certH).toBe(uncertifiedFrom - 1n)
    expect(p.releasedH).toBe(uncertifiedFrom - 1n)
    // Nothing is replied at restart: the uncertified blocks' replies wait in the queue.
    expect(replies(result.outputs)).toEqual([])
    expect(p.replies.map((r) => r.height)).toEqual(stored.filter((b) => b.header.height >= uncertifiedFrom).map((b) => b.header.height))

    // The sync the restart asked for completes; then the certificates arrive (as with decided
    // instances from a peer) and are written and synced.
    let state = result.state
    const released: Array<ReplyOutput> = []
    const restartSync = result.outputs.find((o) => o._tag === "SyncRequest")
    if (restartSync !== undefined && restartSync._tag === "SyncRequest") {
      const r = feed(state, { _tag: "Synced", seq: restartSync.seq })
      state = r.state
      released.push(...replies(r.outputs))
    }
    expect(released).toEqual([])
    for (let h = uncertifiedFrom; h <= top; h++) {
      const block = stored[Number(h) - 1]!
      const certificate = certificateOf(h)!
      const r = feed(state, { _tag: "Decided", batch: block.transactions, proof: block.decision, certificate })
      state = r.state
      released.push(...replies(r.outputs))
    }
    expect(state.persistence!.certH).toBe(top)
    expect(state.persistence!.releasedH).toBe(top)
    expect(state.persistence!.replies).toEqual([])

    // Exactly the transactions of the blocks that were uncertified, each with its stored result.
    const expected = stored.filter((b) => b.header.height >= uncertifiedFrom).flatMap((b) => b.transactions.map((tx, index) => ({ b, tx, index })))
    expect(released).toHaveLength(expected.length)
    for (const [i, e] of expected.entries()) {
      const r = released[i]!
      expect(r.height).toBe(e.b.header.height)
      expect(r.index).toBe(e.index)
      expect(bytesEqual(r.client, e.tx.client)).toBe(true)
      expect(r.seq).toBe(e.tx.seq)
      expect(bytesEqual(r.result, e.b.results[e.index]!)).toBe(true)
      expect(r.viewId).toBe(e.b.header.viewId)
    }
  })

  it("blocks certified before the crash are not replied to again", () => {
    const all = chain.certificates.filter((c) => c.height <= top)
    const full = chain.blocks.slice(0, Number(top))
    const result = restart(config, { blocks: full, certificates: [...all, ...(all.some((c) => c.height === top) ? [] : [certificateOf(top)!])], record: undefined }, 1_000)
    const p = result.state.persistence!
    expect(p.certH).toBe(top)
    expect(p.releasedH).toBe(top)
    expect(p.replies).toEqual([])
    expect(replies(result.outputs)).toEqual([])
  })
})
