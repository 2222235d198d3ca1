import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { toHex } from "../../src/chain/bytes.ts"
import { viewRecordProblem } from "../../src/chain/verify.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { faultsTolerated } from "../../src/core/quorum.ts"
import { decodeViewState, encodeViewState } from "../../src/reconfiguration/view-state-codec.ts"
import { identityOf, joinTx, leaveTx, Network, removeTx, rotateTx } from "./support.ts"

/**
 * spec/Base.tla `ApplyMembership`, transcribed over sets of replica labels: the oracle the
 * implementation is compared with. Requests carry labels; a block is a set of requests.
 */
type SpecReq =
  | { readonly k: "join"; readonly r: number }
  | { readonly k: "leave"; readonly r: number }
  | { readonly k: "remove"; readonly by: number; readonly r: number }
  | { readonly k: "rotate"; readonly r: number; readonly v: number }

interface SpecView {
  readonly id: number
  readonly mem: ReadonlySet<number>
  readonly ha: number
  readonly pj: ReadonlySet<number>
  readonly pl: ReadonlySet<number>
  readonly prm: ReadonlySet<string>
  readonly rot: ReadonlySet<number>
}

const union = <A,>(a: ReadonlySet<A>, b: Iterable<A>) => new Set([...a, ...b])
const F = (V: SpecView) => faultsTolerated(V.mem.size)
const Evicted = (V: SpecView) =>
  [...V.mem].filter((t) => [...V.mem].filter((by) => V.prm.has(`${by},${t}`)).length >= F(V) + 1)
const Continuing = (V: SpecView) => {
  const ev = new Set(Evicted(V))
  return [...V.mem].filter((r) => !V.pl.has(r) && !ev.has(r))
}

const specApply = (s: SpecView, b: ReadonlyArray<SpecReq>, h: number, joiners: ReadonlySet<number>, B: number): SpecView => {
  if (s.ha === 0 && b.length === 0) return s
  const joins = b.flatMap((x) => (x.k === "join" && joiners.has(x.r) && !s.mem.has(x.r) ? [x.r] : []))
  const leaves = b.flatMap((x) => (x.k === "leave" && s.mem.has(x.r) ? [x.r] : []))
  const removes = b.flatMap((x) => (x.k === "remove" && s.mem.has(x.by) && s.mem.has(x.r) ? [`${x.by},${x.r}`] : []))
  const rotates = b.flatMap((x) => (x.k === "rotate" && x.v === s.id + 1 && s.mem.has(x.r) ? [x.r] : []))
  const s1: SpecView = {
    ...s,
    pj: union(s.pj, joins),
    pl: union(s.pl, leaves),
    prm: union(s.prm, removes),
    rot: s.ha !== 0 ? union(s.rot, rotates) : s.rot
  }
  const change = s1.pj.size > 0 || s1.pl.size > 0 || Evicted(s1).length > 0
  const ha = s.ha === 0 && change ? h : s.ha
  const cont = Continuing(s1)
  const newMem = new Set([...cont.filter((r) => s1.rot.has(r)), ...s1.pj])
  const install = ha !== 0 && h > ha && newMem.size > 0 && (cont.every((r) => s1.rot.has(r)) || h >= ha + B)
  return install
    ? { id: s.id + 1, mem: newMem, ha: 0, pj: new Set(), pl: new Set(), prm: new Set(), rot: new Set() }
    : { ...s1, ha }
}

const LABELS = 8
const request = fc.record({
  k: fc.constantFrom("join", "leave", "remove", "rotate"),
  actor: fc.integer({ min: 0, max: LABELS - 1 }),
  target: fc.integer({ min: 0, max: LABELS - 1 })
})

describe("the implementation's view state follows the spec's ApplyMembership", () => {
  it("random request sequences: same view ids, members, ha after every block; installed records valid; keys never reused; states round-trip", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(request, { maxLength: 4 }), { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 1, max: 4 }),
        fc.subarray([0, 1, 2, 3, 4, 5, 6, 7]),
        (blocks, B, allowed) => {
          const net = new Network({ replicas: 4, admit: allowed, limits: { ...defaultLimits, rotationWindow: B } })
          const labelOf = new Map<string, number>()
          for (let l = 0; l < LABELS; l++) labelOf.set(toHex(identityOf(net.seed, l).publicKey), l)
          let spec: SpecView = { id: 0, mem: new Set([0, 1, 2, 3]), ha: 0, pj: new Set(), pl: new Set(), prm: new Set(), rot: new Set() }
          const seenKeys = new Set(net.state.view.members.map((m) => toHex(m.viewKey)))
          let attempt = 0
          for (let i = 0; i < blocks.length; i++) {
            const h = i + 1
            const txs = []
            const specBlock: Array<SpecReq> = []
            for (const q of blocks[i]!) {
              attempt++
              if (q.k === "join") {
                txs.push(joinTx(net, q.actor, attempt))
                specBlock.push({ k: "join", r: q.actor })
              } else if (q.k === "leave") {
                txs.push(leaveTx(net, q.actor))
                specBlock.push({ k: "leave", r: q.actor })
              } else if (q.k === "remove") {
                // The spec's RequestRemove is never enabled against oneself.
                if (q.actor === q.target) continue
                const target = net.memberOf(q.target)?.replica ?? 1000 + q.target
                txs.push(removeTx(net, q.actor, target))
                specBlock.push({ k: "remove", by: q.actor, r: q.target })
              } else {
                txs.push(rotateTx(net, q.actor, attempt))
                specBlock.push({ k: "rotate", r: q.actor, v: spec.id + 1 })
              }
            }
            const before = net.state
            const out = net.execute(BigInt(h), txs)
            spec = specApply(spec, specBlock, h, new Set(allowed), B)
            const labels = new Set(net.state.view.members.map((m) => labelOf.get(toHex(m.identityKey))!))
            expect(Number(net.state.view.id)).toBe(spec.id)
            expect([...labels].sort()).toEqual([...spec.mem].sort())
            expect(Number(net.state.ha)).toBe(spec.ha)
            // The state survives its canonical encoding (checkpoints, state transfer).
            const encoded = encodeViewState(net.state)
            expect(Either.getOrThrow(decodeViewState(encoded))).toEqual(net.state)
            if (out.installed !== undefined) {
              expect(out.installed.id).toBe(before.view.id + 1n)
              expect(viewRecordProblem(out.installed)).toBeUndefined()
              expect(out.installed.n).toBe(out.installed.members.length)
              for (const m of out.installed.members) {
                expect(seenKeys.has(toHex(m.viewKey))).toBe(false)
                seenKeys.add(toHex(m.viewKey))
              }
              expect(net.state.lastReconfigHeight).toBe(BigInt(h))
            }
          }
        }
      ),
      { numRuns: 40 }
    )
  })
})
