// Establishes: the key-value store agrees with a plain-map model on random mixes of PUT, DELETE,
// CAS and malformed or oversized operations; failed operations leave the state unchanged;
// batching does not change outcomes; snapshots round-trip, are canonical and refuse corruption
// with a typed AppError; op encoders and decoders round-trip and reject non-canonical bytes.
import { Either, Option } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { KvOp, KvReason, KvState } from "../../src/app/kv.ts"
import {
  casOp,
  decodeKvOp,
  decodeKvResult,
  deleteOp,
  describeKvResult,
  emptyKvState,
  encodeKvOp,
  executeKvBatch,
  kvApp,
  kvEntries,
  kvGet,
  kvLimits,
  kvSize,
  kvSnapshot,
  kvStateHash,
  putOp,
  restoreKvState
} from "../../src/app/kv.ts"
import { bytesEqual, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import type { Transaction } from "../../src/chain/types.ts"
import { SeqCounter, clients, crypto, ctxAt, tx } from "./support.ts"

const outcome = (bytes: Uint8Array): KvReason | "ok" => {
  const r = decodeKvResult(bytes)
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right._tag === "Ok" ? "ok" : r.right.reason
}

/** The rules of conformance/APPS.md section 4.2 on a plain Map. */
const modelApply = (m: Map<string, Uint8Array>, op: Uint8Array): KvReason | "ok" => {
  const d = decodeKvOp(op)
  if (Either.isLeft(d)) return d.left.reason
  const o = d.right
  const k = toHex(o.key)
  const current = m.get(k)
  switch (o._tag) {
    case "Put":
      m.set(k, o.value)
      return "ok"
    case "Delete":
      return m.delete(k) ? "ok" : "NotFound"
    case "Cas":
      if (Option.isNone(o.expected)) {
        if (current !== undefined) return "Conflict"
      } else if (current === undefined) return "NotFound"
      else if (!bytesEqual(current, o.expected.value)) return "Conflict"
      if (Option.isNone(o.value)) m.delete(k)
      else m.set(k, o.value.value)
      return "ok"
  }
}

const keyArb = fc.constantFrom(Uint8Array.of(1), Uint8Array.of(1, 0), Uint8Array.of(2), Uint8Array.of(0xff, 3), Uint8Array.of(0))
const valueArb = fc.oneof(fc.uint8Array({ maxLength: 6 }), fc.constant(new Uint8Array(0)))

/** An op description; "current" picks the key's present value so CAS can succeed. */
const action = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), key: keyArb, value: valueArb }),
  fc.record({ kind: fc.constant("delete" as const), key: keyArb }),
  fc.record({
    kind: fc.constant("cas" as const),
    key: keyArb,
    expected: fc.constantFrom("current", "current", "absent", "other"),
    value: fc.option(valueArb, { nil: undefined })
  }),
  fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant("huge" as const), what: fc.constantFrom("key", "value", "empty-key") })
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never

const buildOp = (a: Action, state: KvState): Uint8Array => {
  switch (a.kind) {
    case "put":
      return putOp(a.key, a.value)
    case "delete":
      return deleteOp(a.key)
    case "cas": {
      const current = kvGet(state, a.key)
      const expected = a.expected === "current" ? current : a.expected === "absent" ? undefined : Uint8Array.of(0xee, 0xee)
      return casOp(a.key, expected, a.value)
    }
    case "garbage":
      return a.bytes
    case "huge":
      if (a.what === "key") return putOp(new Uint8Array(kvLimits.keyBytesMax + 1), new Uint8Array(1))
      if (a.what === "value") return putOp(Uint8Array.of(1), new Uint8Array(kvLimits.valueBytesMax + 1))
      return putOp(new Uint8Array(0), new Uint8Array(1))
  }
}

const batches = fc.array(fc.array(action, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 })

describe("kv: random operation mixes", () => {
  it("agrees with the model, failed operations change nothing, batching changes nothing", () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(batches, (actionBatches) => {
        let state = emptyKvState()
        let single = emptyKvState()
        const model = new Map<string, Uint8Array>()
        const seq = new SeqCounter()
        const history: Array<{ state: KvState; entries: Array<[string, Uint8Array]> }> = []
        for (const actions of actionBatches) {
          const txs = actions.map((a) => tx(clients[1]!, seq.take(), buildOp(a, state)))
          const o = executeKvBatch(state, ctxAt(1n), txs)
          txs.forEach((t, i) => {
            const expected = modelApply(model, t.op)
            const got = outcome(o.results[i]!)
            expect([i, got]).toEqual([i, expected])
            seen.add(got)
            const before = kvSnapshot(single)
            const s = executeKvBatch(single, ctxAt(1n), [t])
            expect(s.results[0]).toEqual(o.results[i])
            if (got !== "ok") {
              expect(s.state).toBe(single)
              expect(kvSnapshot(s.state)).toEqual(before)
            }
            single = s.state
          })
          expect(kvEntries(o.state).map((e) => [toHex(e.key), e.value])).toEqual([...model.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
          expect(kvSnapshot(single)).toEqual(kvSnapshot(o.state))
          expect(kvStateHash(crypto, single)).toEqual(kvStateHash(portableCrypto, o.state))
          history.push({ state: o.state, entries: [...model.entries()] })
          state = o.state
        }
        // earlier states still read as they were
        for (const h of history) {
          expect(kvSize(h.state)).toBe(h.entries.length)
          for (const [k, v] of h.entries) expect(kvGet(h.state, Uint8Array.from(Buffer.from(k, "hex")))).toEqual(v)
        }
      }),
      { numRuns: 200 }
    )
    expect([...seen].sort()).toEqual(["Conflict", "Malformed", "NotFound", "TooLarge", "ok"])
  })

  it("restore(snapshot(s)) is s; truncated, extended or flipped snapshots are refused or canonical", () => {
    fc.assert(
      fc.property(batches, fc.nat(), fc.integer({ min: 1, max: 255 }), (actionBatches, where, flip) => {
        let state = emptyKvState()
        const seq = new SeqCounter()
        for (const actions of actionBatches)
          state = executeKvBatch(state, ctxAt(1n), actions.map((a) => tx(clients[1]!, seq.take(), buildOp(a, state)))).state
        const bytes = kvSnapshot(state)
        const r = restoreKvState(bytes)
        if (Either.isLeft(r)) throw new Error(r.left.message)
        expect(kvSnapshot(r.right)).toEqual(bytes)
        expect(kvEntries(r.right)).toEqual(kvEntries(state))
        const cut = restoreKvState(bytes.subarray(0, where % bytes.length))
        expect(Either.isLeft(cut) && cut.left._tag === "AppError").toBe(true)
        expect(Either.isLeft(restoreKvState(Uint8Array.of(...bytes, 0)))).toBe(true)
        const flipped = bytes.slice()
        flipped[where % bytes.length] = flipped[where % bytes.length]! ^ flip
        const f = restoreKvState(flipped)
        if (Either.isRight(f)) expect(kvSnapshot(f.right)).toEqual(flipped)
        else expect(f.left._tag).toBe("AppError")
      }),
      { numRuns: 200 }
    )
  })
})

describe("kv: rules and formats", () => {
  const run = (state: KvState, ops: ReadonlyArray<Uint8Array>) => {
    const seq = new SeqCounter()
    const txs: Array<Transaction> = ops.map((op) => tx(clients[2]!, seq.take(), op))
    const o = executeKvBatch(state, ctxAt(1n), txs)
    return { state: o.state, outcomes: o.results.map(outcome), results: o.results }
  }
  const k = Uint8Array.of(7)

  it("CAS succeeds only against the current value, and can create and delete", () => {
    const r = run(emptyKvState(), [
      casOp(k, Uint8Array.of(1), Uint8Array.of(2)),
      casOp(k, undefined, Uint8Array.of(1)),
      casOp(k, undefined, Uint8Array.of(5)),
      casOp(k, Uint8Array.of(9), Uint8Array.of(2)),
      casOp(k, Uint8Array.of(1), Uint8Array.of(2)),
      casOp(k, Uint8Array.of(2), undefined),
      deleteOp(k)
    ])
    expect(r.outcomes).toEqual(["NotFound", "ok", "Conflict", "Conflict", "ok", "ok", "NotFound"])
    expect(kvSize(r.state)).toBe(0)
    expect(describeKvResult(r.results[3]!)).toBe("failed: Conflict: the value differs from the expected one")
    expect(describeKvResult(r.results[1]!)).toBe("ok: CAS")
  })

  it("a new key beyond entriesMax fails with Full; replacing an existing key still works", () => {
    const seq = new SeqCounter()
    const txs = [1, 2, 3, 4, 2].map((i) => tx(clients[2]!, seq.take(), putOp(Uint8Array.of(i), Uint8Array.of(i))))
    const o = executeKvBatch(emptyKvState(), ctxAt(1n), txs, 3)
    expect(o.results.map(outcome)).toEqual(["ok", "ok", "ok", "Full", "ok"])
    expect(kvSize(o.state)).toBe(3)
    expect(describeKvResult(o.results[3]!)).toBe("failed: Full: the store holds 3 keys")
  })

  it("op codec: decode(encode(op)) = op, and whatever decodes re-encodes to the same bytes", () => {
    const key = fc.uint8Array({ minLength: 1, maxLength: 40 })
    const op: fc.Arbitrary<KvOp> = fc.oneof(
      fc.record({ _tag: fc.constant("Put" as const), key, value: valueArb }),
      fc.record({ _tag: fc.constant("Delete" as const), key }),
      fc.record({
        _tag: fc.constant("Cas" as const),
        key,
        expected: fc.option(valueArb, { nil: undefined }).map(Option.fromNullable),
        value: fc.option(valueArb, { nil: undefined }).map(Option.fromNullable)
      })
    )
    fc.assert(
      fc.property(op, (o) => {
        expect(decodeKvOp(encodeKvOp(o))).toEqual(Either.right(o))
      })
    )
    const mutated = fc.tuple(op, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean()).map(([o, at, x, cut]) => {
      const b = encodeKvOp(o)
      if (cut) return b.subarray(0, at % b.length)
      const c = b.slice()
      c[at % c.length] = c[at % c.length]! ^ x
      return c
    })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), mutated), (bytes) => {
        const d = decodeKvOp(bytes)
        if (Either.isRight(d)) expect(encodeKvOp(d.right)).toEqual(bytes)
        else expect(d.left._tag).toBe("OpDecodeError")
      }),
      { numRuns: 500 }
    )
  })

  it("op codec: sizes at the limits decode, beyond them are TooLarge, an empty key is Malformed", () => {
    const reason = (b: Uint8Array) => Either.match(decodeKvOp(b), { onLeft: (e) => e.reason, onRight: () => "decoded" })
    expect(reason(putOp(new Uint8Array(kvLimits.keyBytesMax), new Uint8Array(kvLimits.valueBytesMax)))).toBe("decoded")
    expect(reason(putOp(new Uint8Array(kvLimits.keyBytesMax + 1), new Uint8Array(0)))).toBe("TooLarge")
    expect(reason(casOp(k, new Uint8Array(kvLimits.valueBytesMax + 1), undefined))).toBe("TooLarge")
    expect(reason(deleteOp(new Uint8Array(0)))).toBe("Malformed")
    expect(reason(Uint8Array.of(4, 0, 0, 0, 1, 1))).toBe("Malformed")
    expect(reason(Uint8Array.of(3, 0, 0, 0, 1, 1, 2))).toBe("Malformed")
  })

  it("snapshots: canonical order, and hand-made disorder or oversize is an AppError", () => {
    const r = run(emptyKvState(), [putOp(Uint8Array.of(2), Uint8Array.of(1)), putOp(Uint8Array.of(1, 5), new Uint8Array(0)), putOp(Uint8Array.of(1), Uint8Array.of(9))])
    const snap = kvSnapshot(r.state)
    const tag = [...new TextEncoder().encode("smartchain/app/kv/v1"), 0]
    const expected = Uint8Array.of(...tag, 0, 0, 0, 3, 0, 0, 0, 1, 1, 0, 0, 0, 1, 9, 0, 0, 0, 2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1)
    expect(snap).toEqual(expected)
    expect(kvStateHash(crypto, r.state)).toEqual(crypto.sha256(expected))
    const swapped = Uint8Array.of(...tag, 0, 0, 0, 2, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 9)
    expect(Either.match(restoreKvState(swapped), { onLeft: (e) => e.expected, onRight: () => "restored" })).toMatch(/increasing/)
    const big = Uint8Array.of(...tag, 0, 0, 0, 1, 0, 0, 1, 1, ...new Uint8Array(257), 0, 0, 0, 0)
    expect(Either.match(restoreKvState(big), { onLeft: (e) => e.expected, onRight: () => "restored" })).toMatch(/at most 256/)
    expect(Either.isRight(kvApp.restore(kvApp.snapshot(kvApp.initial({} as never))))).toBe(true)
  })
})
