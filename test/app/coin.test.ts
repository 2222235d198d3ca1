// Establishes: the coin keeps its invariants (supply = minted, no output spent twice, states
// equal at equal heights) under random mixes of valid and invalid transactions; its results
// agree with an independent model of the rules; failed transactions leave the state unchanged;
// execution is deterministic; snapshots round-trip, are canonical, and corrupt ones give a typed
// AppError; op encoders and decoders round-trip and reject non-canonical bytes.
import { Either, Option } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { CoinOp, CoinOutput, CoinReason, CoinResult, CoinState, Outpoint } from "../../src/app/coin.ts"
import {
  CoinHistoryChecker,
  balanceOf,
  coinApp,
  coinInvariants,
  coinLimits,
  coinSnapshot,
  coinStateHash,
  createdOutpoints,
  decodeCoinOp,
  decodeCoinResult,
  describeCoinResult,
  emptyCoinState,
  encodeCoinOp,
  executeCoinBatch,
  mintOp,
  outputAt,
  restoreCoinState,
  spendOp,
  totalSupply,
  unspentOf
} from "../../src/app/coin.ts"
import { VersionedMap } from "../../src/app/versioned-map.ts"
import { bytesEqual, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { txHash } from "../../src/chain/hash.ts"
import type { Transaction } from "../../src/chain/types.ts"
import { SeqCounter, U64_MAX, clientKey, clients, crypto, ctxAt, minters, tx } from "./support.ts"

const result = (bytes: Uint8Array): CoinResult => {
  const r = decodeCoinResult(bytes)
  if (Either.isLeft(r)) throw new Error(`undecodable result: ${r.left.message}`)
  return r.right
}
const reasonOf = (bytes: Uint8Array): CoinReason | "ok" => {
  const r = result(bytes)
  return r._tag === "Failed" ? r.reason : "ok"
}
const out = (owner: Uint8Array, amount: bigint): CoinOutput => ({ owner, amount })
const opKey = (o: Outpoint): string => `${toHex(o.txHash)}:${o.index}`

/** Executes one batch and returns the state and decoded results. */
const run = (state: CoinState, txs: ReadonlyArray<Transaction>, height = 1n) => {
  const o = executeCoinBatch(state, ctxAt(height), txs)
  return { state: o.state, results: o.results, reasons: o.results.map(reasonOf) }
}

// ---------------------------------------------------------------------------------------------
// An independent model of the coin rules (conformance/APPS.md section 3.2), on a flat UTXO map
// ---------------------------------------------------------------------------------------------

type Expected = CoinReason | "ok" | "Missing"

class CoinModel {
  readonly utxo = new Map<string, { owner: string; amount: bigint }>()
  minted = 0n

  balance(owner: Uint8Array): bigint {
    let b = 0n
    for (const u of this.utxo.values()) if (u.owner === toHex(owner)) b += u.amount
    return b
  }

  private checkOutputs(outputs: ReadonlyArray<CoinOutput>): Expected | bigint {
    let total = 0n
    for (const o of outputs) {
      if (o.amount === 0n) return "ZeroAmount"
      total += o.amount
      if (total > U64_MAX) return "Overflow"
    }
    return total
  }

  private create(hash: Uint8Array, outputs: ReadonlyArray<CoinOutput>): void {
    outputs.forEach((o, index) => this.utxo.set(opKey({ txHash: hash, index }), { owner: toHex(o.owner), amount: o.amount }))
  }

  apply(t: Transaction, hash: Uint8Array): Expected {
    const decoded = decodeCoinOp(t.op)
    if (Either.isLeft(decoded)) return decoded.left.reason
    const op = decoded.right
    if (op._tag === "Mint") {
      if (!minters.some((m) => bytesEqual(m, t.client))) return "NotMinter"
      const total = this.checkOutputs(op.outputs)
      if (typeof total !== "bigint") return total
      if (this.minted + total > U64_MAX) return "Overflow"
      this.minted += total
      this.create(hash, op.outputs)
      return "ok"
    }
    const total = this.checkOutputs(op.outputs)
    if (typeof total !== "bigint") return total
    const keys = op.inputs.map(opKey)
    if (new Set(keys).size !== keys.length) return "DuplicateInput"
    let inTotal = 0n
    for (const k of keys) {
      const u = this.utxo.get(k)
      if (u === undefined) return "Missing"
      if (u.owner !== toHex(t.client)) return "NotOwner"
      inTotal += u.amount
    }
    if (inTotal !== total) return "ValueNotConserved"
    for (const k of keys) this.utxo.delete(k)
    this.create(hash, op.outputs)
    return "ok"
  }
}

const matches = (expected: Expected, got: CoinReason | "ok"): boolean =>
  expected === "Missing" ? got === "UnknownInput" || got === "AlreadySpent" : expected === got

// ---------------------------------------------------------------------------------------------
// Random actions, turned into transactions against the state at the start of their batch
// ---------------------------------------------------------------------------------------------

const amount = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 1000n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, U64_MAX, 1n << 63n, U64_MAX - 1n) }
)
const twist = fc.oneof(
  { weight: 12, arbitrary: fc.constant("exact" as const) },
  { weight: 1, arbitrary: fc.constantFrom("more" as const, "less" as const, "zero" as const, "overflow" as const, "dup" as const) }
)
/** Mostly the minter, so most mints succeed. */
const minterOrNot = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) })

const action = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("mint" as const), by: minterOrNot, amounts: fc.array(amount, { minLength: 1, maxLength: 3 }) }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("spend" as const),
      by: fc.integer({ min: 0, max: 3 }),
      picks: fc.array(fc.record({ own: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), index: fc.nat() }), {
        minLength: 1,
        maxLength: 3
      }),
      outs: fc.array(fc.record({ to: fc.integer({ min: 0, max: 3 }), weight: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 3 }),
      twist
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut" as const), keep: fc.nat() }) }
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never

const fakeOutpoints: ReadonlyArray<Outpoint> = [
  { txHash: new Uint8Array(32).fill(0xee), index: 0 },
  { txHash: new Uint8Array(32).fill(0x11), index: 3 }
]

const buildOp = (a: Action, state: CoinState, model: CoinModel, pool: ReadonlyArray<Outpoint>): Uint8Array => {
  switch (a.kind) {
    case "mint":
      return mintOp(a.amounts.map((x, i) => out(clients[(a.by + i) % 4]!, x)))
    case "garbage":
      return a.bytes
    case "cut": {
      const full = mintOp([out(clients[1]!, 5n)])
      return full.subarray(0, a.keep % full.length)
    }
    case "spend": {
      const own = unspentOf(state, clients[a.by]!).map((u) => u.outpoint)
      const all = [...pool, ...fakeOutpoints]
      // own picks take consecutive own outputs, so they repeat only when there are too few
      const picks = a.picks.slice(0, Math.max(1, own.length))
      const inputs = picks.map((p, j) => (p.own && own.length > 0 ? own[(picks[0]!.index + j) % own.length]! : all[p.index % all.length]!))
      if (a.twist === "dup") inputs.push(inputs[0]!)
      let total = 0n
      for (const i of new Set(inputs.map(opKey))) total += model.utxo.get(i)?.amount ?? 0n
      // nothing to move: ask for 1 anyway, so the failure is about the inputs, not a zero amount
      if (total === 0n) total = 1n
      // split by weight, every share at least 1 (fewer outputs when the total is tiny)
      const outs = a.outs.slice(0, Number(total < 3n ? total : 3n))
      const weights = outs.reduce((s, o) => s + o.weight, 0)
      let rest = total
      const amounts = outs.map((o, i) => {
        if (i === outs.length - 1) return rest
        const x = 1n + ((total - BigInt(outs.length)) * BigInt(o.weight)) / BigInt(weights)
        rest -= x
        return x
      })
      const last = amounts.length - 1
      if (a.twist === "more") amounts[last] = amounts[last]! + 1n
      if (a.twist === "less") amounts[last] = amounts[last]! > 0n ? amounts[last]! - 1n : 0n
      if (a.twist === "zero") amounts[0] = 0n
      if (a.twist === "overflow") amounts.splice(0, amounts.length, U64_MAX, U64_MAX)
      return spendOp(
        inputs,
        amounts.map((x, i) => out(clients[outs[i % outs.length]!.to]!, x > U64_MAX ? U64_MAX : x))
      )
    }
  }
}

const batches = fc.array(fc.array(action, { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 8 })

describe("coin: random transaction mixes", () => {
  it("keeps its invariants, agrees with the model, and failed transactions change nothing", () => {
    const seen = new Map<string, number>()
    fc.assert(
      fc.property(batches, (actionBatches) => {
        let state = emptyCoinState()
        let single = emptyCoinState()
        const model = new CoinModel()
        const history = new CoinHistoryChecker()
        const pool: Array<Outpoint> = []
        const seq = new SeqCounter()
        const old: Array<{ state: CoinState; supply: bigint; balances: Array<bigint> }> = []
        let height = 0n
        for (const actions of actionBatches) {
          height++
          const txs = actions.map((a) => tx(clients[a.kind === "spend" || a.kind === "mint" ? a.by : 2]!, seq.take(), buildOp(a, state, model, pool)))
          const o = executeCoinBatch(state, ctxAt(height), txs)
          expect(o.results.length).toBe(txs.length)
          txs.forEach((t, i) => {
            const expected = model.apply(t, txHash(crypto, t))
            const got = reasonOf(o.results[i]!)
            if (!matches(expected, got)) throw new Error(`tx ${i}: model says ${expected}, coin says ${got}: ${describeCoinResult(o.results[i]!)}`)
            const kind = got === "ok" ? `ok ${result(o.results[i]!)._tag}` : got
            seen.set(kind, (seen.get(kind) ?? 0) + 1)
          })
          expect(coinInvariants(o.state, model.minted)).toEqual([])
          expect(history.observe(txs, o.results)).toEqual([])
          expect(history.minted).toBe(model.minted)
          for (const c of clients) expect(balanceOf(o.state, c)).toBe(model.balance(c))
          expect(o.state.unspent).toBe(model.utxo.size)

          // The same transactions one batch each: failed ones leave the state (and its bytes) alone.
          txs.forEach((t, i) => {
            const before = coinSnapshot(single)
            const s = executeCoinBatch(single, ctxAt(height), [t])
            expect(bytesEqual(s.results[0]!, o.results[i]!)).toBe(true)
            if (reasonOf(s.results[0]!) !== "ok") {
              expect(s.state).toBe(single)
              expect(coinSnapshot(s.state)).toEqual(before)
            } else expect(coinSnapshot(s.state)).not.toEqual(before)
            single = s.state
          })
          expect(coinSnapshot(single)).toEqual(coinSnapshot(o.state))

          for (const r of o.results) pool.push(...createdOutpoints(result(r)))
          old.push({ state: o.state, supply: model.minted, balances: clients.map((c) => model.balance(c)) })
          state = o.state
        }
        // Earlier states are still intact (execution derived new states without changing them).
        for (const { state: s, supply, balances } of old) {
          expect(totalSupply(s)).toBe(supply)
          expect(clients.map((c) => balanceOf(s, c))).toEqual(balances)
        }
      }),
      { numRuns: 100 }
    )
    // The mixes reached every outcome (so the agreement above covers every rule).
    const outcomes = ["ok Minted", "ok Spent", "NotMinter", "ZeroAmount", "Overflow", "DuplicateInput", "UnknownInput", "AlreadySpent", "NotOwner", "ValueNotConserved", "Malformed"]
    for (const o of outcomes) expect([o, (seen.get(o) ?? 0) > 0]).toEqual([o, true])
    expect(seen.get("ok Spent")!).toBeGreaterThan(100)
  })

  it("is deterministic: the same batches give byte-identical results, snapshots and state hashes", () => {
    fc.assert(
      fc.property(batches, (actionBatches) => {
        // Build the transactions once, against a first execution.
        let state = emptyCoinState()
        const model = new CoinModel()
        const pool: Array<Outpoint> = []
        const seq = new SeqCounter()
        const recorded: Array<ReadonlyArray<Transaction>> = []
        const hashes: Array<Uint8Array> = []
        const snapshots: Array<Uint8Array> = []
        for (const actions of actionBatches) {
          const txs = actions.map((a) => tx(clients[a.kind === "spend" || a.kind === "mint" ? a.by : 2]!, seq.take(), buildOp(a, state, model, pool)))
          const o = executeCoinBatch(state, ctxAt(BigInt(recorded.length + 1)), txs)
          txs.forEach((t) => model.apply(t, txHash(crypto, t)))
          for (const r of o.results) pool.push(...createdOutpoints(result(r)))
          recorded.push(txs)
          hashes.push(coinStateHash(crypto, o.state))
          snapshots.push(coinSnapshot(o.state))
          state = o.state
        }
        // Replay with the other SHA-256 implementation and with precomputed transaction hashes.
        let a = emptyCoinState()
        let b = emptyCoinState()
        recorded.forEach((txs, i) => {
          const h = BigInt(i + 1)
          const ra = executeCoinBatch(a, ctxAt(h, portableCrypto), txs)
          const rb = executeCoinBatch(b, ctxAt(h, crypto, txs.map((t) => txHash(crypto, t))), txs)
          expect(ra.results).toEqual(rb.results)
          a = ra.state
          b = rb.state
          expect(coinSnapshot(a)).toEqual(snapshots[i])
          expect(coinSnapshot(b)).toEqual(snapshots[i])
          expect(coinStateHash(portableCrypto, a)).toEqual(hashes[i])
          expect(coinStateHash(crypto, b)).toEqual(hashes[i])
        })
      }),
      { numRuns: 60 }
    )
  })

  it("restore(snapshot(s)) is s, and any corruption of a snapshot is refused or re-encodes to itself", () => {
    fc.assert(
      fc.property(
        batches,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (actionBatches, where, flip) => {
          let state = emptyCoinState()
          const model = new CoinModel()
          const pool: Array<Outpoint> = []
          const seq = new SeqCounter()
          for (const actions of actionBatches) {
            const txs = actions.map((a) => tx(clients[a.kind === "spend" || a.kind === "mint" ? a.by : 2]!, seq.take(), buildOp(a, state, model, pool)))
            const o = executeCoinBatch(state, ctxAt(1n), txs)
            txs.forEach((t) => model.apply(t, txHash(crypto, t)))
            for (const r of o.results) pool.push(...createdOutpoints(result(r)))
            state = o.state
          }
          const bytes = coinSnapshot(state)
          const restored = restoreCoinState(bytes)
          if (Either.isLeft(restored)) throw new Error(restored.left.message)
          expect(coinSnapshot(restored.right)).toEqual(bytes)
          expect(coinInvariants(restored.right, model.minted)).toEqual([])
          for (const c of clients) expect(unspentOf(restored.right, c)).toEqual(unspentOf(state, c))

          // Truncation is always refused; so are trailing bytes.
          const cut = bytes.subarray(0, where % bytes.length)
          const truncated = restoreCoinState(cut)
          expect(Either.isLeft(truncated) && truncated.left._tag === "AppError").toBe(true)
          const longer = new Uint8Array(bytes.length + 1)
          longer.set(bytes)
          expect(Either.isLeft(restoreCoinState(longer))).toBe(true)
          // A flipped byte is refused, or what it decodes to re-encodes to exactly those bytes.
          const flipped = bytes.slice()
          const at = where % bytes.length
          flipped[at] = flipped[at]! ^ flip
          const r = restoreCoinState(flipped)
          if (Either.isRight(r)) expect(coinSnapshot(r.right)).toEqual(flipped)
          else expect(r.left._tag).toBe("AppError")
        }
      ),
      { numRuns: 150 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// The rules one by one
// ---------------------------------------------------------------------------------------------

describe("coin: rules", () => {
  const [minter, alice, bob] = [clients[0]!, clients[1]!, clients[2]!]

  /** A state where alice owns outputs of 10 and 5 (one mint, outpoints 0 and 1). */
  const funded = () => {
    const seq = new SeqCounter()
    const m = tx(minter, seq.take(), mintOp([out(alice, 10n), out(alice, 5n), out(bob, 1n)]))
    const r = run(emptyCoinState(), [m])
    expect(r.reasons).toEqual(["ok"])
    const h = txHash(crypto, m)
    return { state: r.state, seq, a0: { txHash: h, index: 0 }, a1: { txHash: h, index: 1 }, b2: { txHash: h, index: 2 } }
  }

  it("only genesis minters may mint", () => {
    const r = run(emptyCoinState(), [tx(alice, 1n, mintOp([out(alice, 1n)]))])
    expect(r.reasons).toEqual(["NotMinter"])
    expect(r.state.minted).toBe(0n)
  })

  it("a valid spend moves value and names its outputs (txHash, index)", () => {
    const f = funded()
    const s = tx(alice, f.seq.take(), spendOp([f.a0, f.a1], [out(bob, 12n), out(alice, 3n)]))
    const r = run(f.state, [s])
    expect(r.reasons).toEqual(["ok"])
    const res = result(r.results[0]!)
    expect(res).toEqual({ _tag: "Spent", txHash: txHash(crypto, s), outputs: 2 })
    expect(outputAt(r.state, { txHash: txHash(crypto, s), index: 0 })).toEqual(out(bob, 12n))
    expect(balanceOf(r.state, bob)).toBe(13n)
    expect(balanceOf(r.state, alice)).toBe(3n)
    expect(unspentOf(r.state, alice).map((u) => u.amount)).toEqual([3n])
    expect(totalSupply(r.state)).toBe(16n)
  })

  it("double spends fail within a batch and across batches, and value is conserved", () => {
    const f = funded()
    const s1 = tx(alice, f.seq.take(), spendOp([f.a0], [out(bob, 10n)]))
    const s2 = tx(alice, f.seq.take(), spendOp([f.a0], [out(alice, 10n)]))
    const r = run(f.state, [s1, s2])
    expect(r.reasons).toEqual(["ok", "AlreadySpent"])
    const again = run(r.state, [tx(alice, f.seq.take(), spendOp([f.a0], [out(alice, 10n)]))])
    expect(again.reasons).toEqual(["AlreadySpent"])
    // once every output of the mint is spent, the mint is forgotten: UnknownInput
    const rest = run(again.state, [
      tx(alice, f.seq.take(), spendOp([f.a1], [out(alice, 5n)])),
      tx(bob, f.seq.take(), spendOp([f.b2], [out(bob, 1n)])),
      tx(alice, f.seq.take(), spendOp([f.a1], [out(alice, 5n)]))
    ])
    expect(rest.reasons).toEqual(["ok", "ok", "UnknownInput"])
    expect(totalSupply(rest.state)).toBe(16n)
    expect(coinInvariants(rest.state, 16n)).toEqual([])
  })

  it("an output created earlier in the same batch can be spent later in it", () => {
    const f = funded()
    const s1 = tx(alice, f.seq.take(), spendOp([f.a0], [out(bob, 10n)]))
    const s2 = tx(bob, f.seq.take(), spendOp([{ txHash: txHash(crypto, s1), index: 0 }], [out(alice, 4n), out(bob, 6n)]))
    expect(run(f.state, [s1, s2]).reasons).toEqual(["ok", "ok"])
  })

  it("names each broken rule", () => {
    const f = funded()
    const cases: Array<[Uint8Array, Uint8Array, CoinReason]> = [
      [bob, spendOp([f.a0], [out(bob, 10n)]), "NotOwner"],
      [alice, spendOp([f.a0], [out(bob, 9n)]), "ValueNotConserved"],
      [alice, spendOp([f.a0], [out(bob, 11n)]), "ValueNotConserved"],
      [alice, spendOp([f.a0], [out(bob, 10n), out(bob, 0n)]), "ZeroAmount"],
      [alice, spendOp([f.a0, f.a0], [out(bob, 20n)]), "DuplicateInput"],
      [alice, spendOp([{ txHash: f.a0.txHash, index: 3 }], [out(bob, 1n)]), "UnknownInput"],
      [alice, spendOp([{ txHash: new Uint8Array(32), index: 0 }], [out(bob, 1n)]), "UnknownInput"],
      [alice, spendOp([f.a0], [out(bob, U64_MAX), out(bob, 11n)]), "Overflow"],
      [minter, mintOp([out(bob, U64_MAX), out(bob, 1n)]), "Overflow"],
      [minter, mintOp([out(bob, 0n)]), "ZeroAmount"],
      [alice, Uint8Array.of(9, 0, 0, 0, 1), "Malformed"],
      [alice, new Uint8Array(0), "Malformed"],
      [alice, mintOp([]), "Malformed"],
      [alice, mintOp(Array.from({ length: coinLimits.outputsMax + 1 }, () => out(bob, 1n))), "TooLarge"]
    ]
    const seq = new SeqCounter()
    const before = coinSnapshot(f.state)
    for (const [client, op, reason] of cases) {
      const r = run(f.state, [tx(client, 1000n + seq.take(), op)])
      expect([describeCoinResult(r.results[0]!), r.reasons[0]]).toEqual([expect.stringContaining(reason), reason])
      expect(r.state).toBe(f.state)
    }
    expect(coinSnapshot(f.state)).toEqual(before)
  })

  it("the total supply never passes 2^64-1", () => {
    const r = run(emptyCoinState(), [tx(minter, 1n, mintOp([out(alice, U64_MAX)])), tx(minter, 2n, mintOp([out(alice, 1n)]))])
    expect(r.reasons).toEqual(["ok", "Overflow"])
    expect(coinInvariants(r.state, U64_MAX)).toEqual([])
  })

  it("a transaction whose outputs already exist (a replay) is refused", () => {
    const m = tx(minter, 1n, mintOp([out(alice, 3n)]))
    const r = run(emptyCoinState(), [m, m])
    expect(r.reasons).toEqual(["ok", "Replayed"])
    expect(r.state.minted).toBe(3n)
  })

  it("the invariant checkers catch a broken state and a double spend in a history", () => {
    const f = funded()
    // a state claiming more minted than its outputs hold
    const forged: CoinState = { ...f.state, minted: f.state.minted + 1n }
    expect(coinInvariants(forged, 16n).map((v) => v.invariant)).toEqual(["MintedCounter"])
    expect(coinInvariants(f.state, 17n).map((v) => v.invariant)).toEqual(["SupplyEqualsMinted", "MintedCounter"])
    const e = f.state.txs.edit()
    const entry = e.get(toHex(f.a0.txHash))!
    e.set(toHex(f.a0.txHash), { ...entry, live: 1 })
    const broken: CoinState = { ...f.state, txs: e.commit() }
    expect(coinInvariants(broken, 16n).map((v) => v.invariant)).toEqual(["LiveCount"])
    // a history where the same output is spent twice
    const h = new CoinHistoryChecker()
    const m = tx(minter, 1n, mintOp([out(alice, 2n)]))
    const mHash = txHash(crypto, m)
    const okMint = run(emptyCoinState(), [m]).results
    expect(h.observe([m], okMint)).toEqual([])
    const s1 = tx(alice, 2n, spendOp([{ txHash: mHash, index: 0 }], [out(bob, 2n)]))
    const s2 = tx(alice, 3n, spendOp([{ txHash: mHash, index: 0 }], [out(alice, 2n)]))
    const faked = [s1, s2].map((s) => run(run(emptyCoinState(), [m]).state, [s]).results[0]!)
    expect(h.observe([s1, s2], faked).map((v) => v.invariant)).toEqual(["NoDoubleSpend"])
  })

  it("admits JOIN by the genesis allow-list", () => {
    const genesisLike = { admission: [clientKey(9)] } as unknown as Parameters<typeof coinApp.admitJoin>[1]
    expect(coinApp.admitJoin(emptyCoinState(), genesisLike, clientKey(9))).toBe(true)
    expect(coinApp.admitJoin(emptyCoinState(), genesisLike, clientKey(8))).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------
// Operation encoding
// ---------------------------------------------------------------------------------------------

describe("coin: operation encoding", () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 })
  const u64 = fc.bigInt({ min: 0n, max: U64_MAX })
  const output = fc.record({ owner: key, amount: u64 })
  const outpoint = fc.record({ txHash: key, index: fc.integer({ min: 0, max: 0xffff_ffff }) })
  const op: fc.Arbitrary<CoinOp> = fc.oneof(
    fc.record({ _tag: fc.constant("Mint" as const), outputs: fc.array(output, { minLength: 1, maxLength: 5 }) }),
    fc.record({
      _tag: fc.constant("Spend" as const),
      inputs: fc.array(outpoint, { minLength: 1, maxLength: 5 }),
      outputs: fc.array(output, { minLength: 1, maxLength: 5 })
    })
  )

  it("decode(encode(op)) = op", () => {
    fc.assert(
      fc.property(op, (o) => {
        expect(decodeCoinOp(encodeCoinOp(o))).toEqual(Either.right(o))
      })
    )
  })

  it("whatever decodes re-encodes to the same bytes (random and mutated encodings)", () => {
    const mutated = fc.tuple(op, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom("flip", "cut", "append")).map(([o, at, x, how]) => {
      const b = encodeCoinOp(o)
      if (how === "cut") return b.subarray(0, at % b.length)
      if (how === "append") return Uint8Array.of(...b, x)
      const c = b.slice()
      c[at % c.length] = c[at % c.length]! ^ x
      return c
    })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated), (bytes) => {
        const d = decodeCoinOp(bytes)
        if (Either.isRight(d)) expect(encodeCoinOp(d.right)).toEqual(bytes)
        else expect(d.left._tag).toBe("OpDecodeError")
      }),
      { numRuns: 500 }
    )
  })

  it("refuses empty lists, oversized lists, unknown tags, truncation and trailing bytes", () => {
    const reason = (b: Uint8Array) => Either.match(decodeCoinOp(b), { onLeft: (e) => e.reason, onRight: () => "decoded" })
    const o = out(clients[1]!, 1n)
    const p = { txHash: new Uint8Array(32), index: 0 }
    expect(reason(mintOp([]))).toBe("Malformed")
    expect(reason(spendOp([], [o]))).toBe("Malformed")
    expect(reason(spendOp([p], []))).toBe("Malformed")
    expect(reason(mintOp(Array.from({ length: coinLimits.outputsMax + 1 }, () => o)))).toBe("TooLarge")
    expect(reason(spendOp(Array.from({ length: coinLimits.inputsMax + 1 }, () => p), [o]))).toBe("TooLarge")
    expect(reason(mintOp(Array.from({ length: coinLimits.outputsMax }, () => o)))).toBe("decoded")
    expect(reason(Uint8Array.of(3, ...mintOp([o]).subarray(1)))).toBe("Malformed")
    expect(reason(mintOp([o]).subarray(0, 44))).toBe("Malformed")
    expect(reason(Uint8Array.of(...mintOp([o]), 0))).toBe("Malformed")
    // a huge count with few bytes is refused before allocating
    expect(reason(Uint8Array.of(1, 0, 0, 0, 200))).toBe("Malformed")
  })

  it("results decode to what the coin meant and reject unknown reason codes", () => {
    const r = run(emptyCoinState(), [tx(clients[1]!, 1n, mintOp([out(clients[1]!, 1n)]))])
    expect(result(r.results[0]!)).toEqual({ _tag: "Failed", reason: "NotMinter", text: "the signer is not a minter in genesis" })
    expect(Either.isLeft(decodeCoinResult(Uint8Array.of(1, 99, 0, 0, 0, 0)))).toBe(true)
    expect(Either.isLeft(decodeCoinResult(Uint8Array.of(0, 1, 2)))).toBe(true)
    expect(Either.isLeft(decodeCoinResult(Uint8Array.of(2)))).toBe(true)
  })
})

describe("coin: snapshots", () => {
  const restoreFails = (b: Uint8Array): string => Either.match(restoreCoinState(b), { onLeft: (e) => e.expected, onRight: () => "restored" })

  /** Builds snapshot bytes by hand, so inconsistent ones can be written. */
  const snapshotOf = (minted: bigint, entries: ReadonlyArray<[Uint8Array, ReadonlyArray<[Uint8Array, bigint] | null>]>): Uint8Array => {
    const parts: Array<number> = [...new TextEncoder().encode("smartchain/app/coin/v1"), 0]
    const u32 = (n: number) => parts.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255)
    const u64 = (n: bigint) => {
      for (let i = 7; i >= 0; i--) parts.push(Number((n >> BigInt(8 * i)) & 255n))
    }
    u64(minted)
    u32(entries.length)
    for (const [hash, slots] of entries) {
      parts.push(...hash)
      u32(slots.length)
      for (const s of slots) {
        if (s === null) parts.push(0)
        else {
          parts.push(1, ...s[0])
          u64(s[1])
        }
      }
    }
    return Uint8Array.from(parts)
  }
  const h1 = new Uint8Array(32).fill(1)
  const h2 = new Uint8Array(32).fill(2)
  const k = clients[1]!

  it("the empty state's snapshot is the tag and two zero counts", () => {
    expect(coinSnapshot(emptyCoinState())).toEqual(snapshotOf(0n, []))
    expect(Either.isRight(restoreCoinState(snapshotOf(0n, [])))).toBe(true)
  })

  it("a hand-built consistent snapshot restores; inconsistent ones give AppError", () => {
    expect(restoreFails(snapshotOf(7n, [[h1, [[k, 3n], null]], [h2, [[k, 4n]]]]))).toBe("restored")
    expect(restoreFails(snapshotOf(7n, [[h2, [[k, 4n]]], [h1, [[k, 3n]]]]))).toMatch(/increasing/)
    expect(restoreFails(snapshotOf(6n, [[h1, [[k, 3n]]], [h1, [[k, 3n]]]]))).toMatch(/increasing/)
    expect(restoreFails(snapshotOf(3n, [[h1, [[k, 3n]]], [h2, [null]]]))).toMatch(/2 elements of at least 77 bytes/)
    expect(restoreFails(snapshotOf(3n, [[h1, [[k, 3n]]], [h2, Array.from({ length: 50 }, () => null)]]))).toMatch(/at least one unspent/)
    expect(restoreFails(snapshotOf(3n, [[h1, [[k, 3n], [k, 0n]]]]))).toMatch(/above 0/)
    expect(restoreFails(snapshotOf(8n, [[h1, [[k, 3n]]]]))).toMatch(/minted/)
    expect(restoreFails(Uint8Array.of(...snapshotOf(0n, [[h1, []]]), ...new Uint8Array(41)))).toMatch(/1 to 256 output slots, got 0/)
    expect(restoreFails(snapshotOf(257n, [[h1, Array.from({ length: 257 }, () => [k, 1n] as [Uint8Array, bigint])]]))).toMatch(/got 257/)
    const bad = snapshotOf(3n, [[h1, [[k, 3n]]]])
    bad[0] = 0x53
    expect(restoreFails(bad)).toMatch(/tag/)
    expect(restoreFails(snapshotOf(3n, [[h1, [[k, 3n]]]]).subarray(0, 30))).not.toBe("restored")
  })

  it("two states with the same outputs reached by different histories have the same snapshot and hash", () => {
    const [minter, alice, bob] = [clients[0]!, clients[1]!, clients[2]!]
    const m = tx(minter, 1n, mintOp([out(alice, 5n), out(bob, 5n)]))
    const a = run(emptyCoinState(), [m]).state
    // same transaction in a batch with failing ones around it
    const b = run(emptyCoinState(), [tx(alice, 9n, mintOp([out(alice, 1n)])), m, tx(bob, 8n, new Uint8Array(3))]).state
    expect(a).not.toBe(b)
    expect(coinSnapshot(a)).toEqual(coinSnapshot(b))
    expect(coinStateHash(crypto, a)).toEqual(coinStateHash(crypto, b))
    expect(coinStateHash(crypto, a)).toEqual(crypto.sha256(coinSnapshot(a)))
    // returned arrays are copies: writing into one does not change the next answer
    coinSnapshot(a).fill(0)
    coinStateHash(crypto, a).fill(0)
    expect(coinSnapshot(a)).toEqual(coinSnapshot(b))
    expect(coinStateHash(crypto, a)).toEqual(coinStateHash(crypto, b))
  })

  it("the application object wires the same functions", () => {
    const g = { chainId: "x" } as unknown as Parameters<typeof coinApp.initial>[0]
    const s0 = coinApp.initial(g)
    expect(coinApp.snapshot(s0)).toEqual(coinSnapshot(emptyCoinState()))
    expect(Option.some(coinApp.name)).toEqual(Option.some("coin"))
    expect(Either.isRight(coinApp.restore(coinApp.snapshot(s0)))).toBe(true)
    expect(VersionedMap.empty().size).toBe(0)
  })
})
