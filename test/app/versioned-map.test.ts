// Establishes: VersionedMap behaves as an immutable map per version. Every version, old or new,
// reads exactly the contents it was committed with, whatever order versions are derived and read
// in; aborted edits leave no trace; misuse (reading a sibling while an editor is open) throws.
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { VersionedMap } from "../../src/app/versioned-map.ts"

type Edit = { readonly kind: "set"; readonly key: number; readonly value: number } | { readonly kind: "delete"; readonly key: number }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 12 }), value: fc.integer({ min: 0, max: 99 }) }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 12 }) })
)

/** One step: derive from version `from` (an index into the versions so far), or read one. */
const step = fc.oneof(
  fc.record({ kind: fc.constant("derive" as const), from: fc.nat(), edits: fc.array(edit, { maxLength: 6 }), abort: fc.boolean() }),
  fc.record({ kind: fc.constant("read" as const), which: fc.nat() })
)

const contents = (v: VersionedMap<number, number>): Array<[number, number]> =>
  v
    .keys()
    .sort((a, b) => a - b)
    .map((k) => [k, v.get(k) as number])

const modelContents = (m: ReadonlyMap<number, number>): Array<[number, number]> => [...m.entries()].sort((a, b) => a[0] - b[0])

describe("VersionedMap", () => {
  it("every version keeps its own contents under any order of derivations and reads (model check)", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const versions: Array<VersionedMap<number, number>> = [VersionedMap.empty()]
        const models: Array<Map<number, number>> = [new Map()]
        for (const s of steps) {
          if (s.kind === "read") {
            const i = s.which % versions.length
            const v = versions[i]!
            expect(contents(v)).toEqual(modelContents(models[i]!))
            expect(v.size).toBe(models[i]!.size)
            continue
          }
          const i = s.from % versions.length
          const model = new Map(models[i]!)
          const editor = versions[i]!.edit()
          for (const e of s.edits) {
            if (e.kind === "set") {
              editor.set(e.key, e.value)
              model.set(e.key, e.value)
            } else expect(editor.delete(e.key)).toBe(model.delete(e.key))
            // reads through the editor see the writes made so far
            expect(editor.get(e.key)).toBe(model.get(e.key))
            expect(editor.size).toBe(model.size)
          }
          if (s.abort) {
            editor.abort()
            expect(contents(versions[i]!)).toEqual(modelContents(models[i]!))
          } else {
            const next = editor.commit()
            if (s.edits.length === 0) expect(next).toBe(versions[i])
            versions.push(next)
            models.push(model)
          }
        }
        // finally, every version in reverse and forward order
        for (let i = versions.length - 1; i >= 0; i--) expect(contents(versions[i]!)).toEqual(modelContents(models[i]!))
        for (let i = 0; i < versions.length; i++) {
          expect(contents(versions[i]!)).toEqual(modelContents(models[i]!))
          for (const [k, v] of models[i]!) expect(versions[i]!.has(k) && versions[i]!.get(k) === v).toBe(true)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("adopt takes a map's entries as the first version", () => {
    const v = VersionedMap.adopt(new Map([[1, "a"], [2, "b"]]))
    expect(v.size).toBe(2)
    expect(v.get(2)).toBe("b")
  })

  it("reading another version while an editor is open throws, and the family stays usable after abort", () => {
    const v0 = VersionedMap.empty<string, number>()
    const e0 = v0.edit()
    e0.set("a", 1)
    const v1 = e0.commit()
    const e1 = v1.edit()
    e1.set("b", 2)
    expect(() => v0.get("a")).toThrow(/editor/)
    expect(() => v1.edit()).toThrow(/editor/)
    e1.abort()
    expect(v0.get("a")).toBeUndefined()
    expect(v1.get("a")).toBe(1)
    expect(v1.has("b")).toBe(false)
    expect(() => e1.set("c", 3)).toThrow(/after commit or abort/)
  })

  it("forEach visits every entry once and forbids reads inside the callback", () => {
    const e = VersionedMap.empty<number, number>().edit()
    for (let i = 0; i < 50; i++) e.set(i, i * i)
    const v = e.commit()
    let sum = 0
    v.forEach((value) => (sum += value))
    expect(sum).toBe(Array.from({ length: 50 }, (_, i) => i * i).reduce((a, b) => a + b, 0))
    expect(() => v.forEach(() => v.get(1))).toThrow(/editor/)
    expect(v.get(7)).toBe(49)
  })
})
