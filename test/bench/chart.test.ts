// Establishes: the hand-written SVG chart is well-formed XML (every tag closed and nested, every
// attribute quoted, text escaped), draws one polyline per series with its points in x order at
// the right relative positions, draws reference lines, and has a legend entry per series.
import { describe, expect, it } from "@effect/vitest"
import { escapeXml, niceStep, renderChart } from "../../bench/chart.ts"
import { chartOf } from "../../bench/cluster.ts"
import type { LevelResult } from "../../bench/cluster.ts"

/** Checks XML well-formedness for the subset the chart uses; returns the element names in order. */
const checkWellFormed = (xml: string): Array<string> => {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "")
  const stack: Array<string> = []
  const names: Array<string> = []
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y
  let at = 0
  let roots = 0
  while (at < body.length) {
    const lt = body.indexOf("<", at)
    const text = body.slice(at, lt === -1 ? body.length : lt)
    // Text may hold only escaped entities, never a bare ampersand.
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`unescaped & in text "${text}"`)
    if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside the root: "${text}"`)
    if (lt === -1) break
    tag.lastIndex = lt
    const m = tag.exec(body)
    if (m === null) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`)
    const [, close, name, , selfClose] = m
    if (close === "/") {
      if (stack.pop() !== name) throw new Error(`</${name}> closes another element`)
    } else {
      if (stack.length === 0) roots++
      names.push(name!)
      if (selfClose !== "/") stack.push(name!)
    }
    at = tag.lastIndex
  }
  if (stack.length !== 0) throw new Error(`unclosed elements: ${stack.join(", ")}`)
  if (roots !== 1) throw new Error(`${roots} root elements`)
  return names
}

const level = (mode: LevelResult["mode"], load: number, throughput: number): LevelResult => ({
  mode,
  load,
  seconds: 10,
  transactions: throughput * 10,
  throughput,
  p50Ms: 1,
  p99Ms: 2,
  meanMs: 1,
  replicaCpuMsPerTx: 1,
  replicaCpuAboveIdleMsPerTx: 1,
  clientCpuMsPerTx: 1,
  ofCeiling: throughput / 5000,
  failed: 0,
  timeouts: 0,
  blocks: 10
})

describe("the SVG chart", () => {
  it("is well-formed with one polyline per mode, points in load order, and the ceiling line", () => {
    const levels = [level("strong", 16, 900), level("memory", 4, 400), level("memory", 16, 1200), level("strong", 4, 300), level("weak", 4, 350)]
    const svg = chartOf(levels, 5000, "bench <test> & more")
    const names = checkWellFormed(svg)
    expect(names[0]).toBe("svg")
    expect(names.filter((n) => n === "polyline")).toHaveLength(3)
    const series = [...svg.matchAll(/<g class="series" data-series="(\w+)">\n<polyline[^>]*points="([^"]*)"/g)].map((m) => ({ name: m[1], points: m[2]!.split(" ").map((p) => p.split(",").map(Number)) }))
    expect(series.map((s) => s.name)).toEqual(["memory", "weak", "strong"])
    const memory = series[0]!.points
    expect(memory).toHaveLength(2)
    // Load 4 left of load 16; 1200 tx/s higher on the page (smaller y) than 400.
    expect(memory[0]![0]!).toBeLessThan(memory[1]![0]!)
    expect(memory[0]![1]!).toBeGreaterThan(memory[1]![1]!)
    // Same load, same x across series; the strong line at load 4 is lower than memory's.
    expect(series[2]!.points[0]![0]).toBe(memory[0]![0])
    expect(series[2]!.points[0]![1]!).toBeGreaterThan(memory[0]![1]!)
    expect(svg).toContain('data-reference="verification ceiling 5000 tx/s"')
    expect(svg).toContain("bench &lt;test&gt; &amp; more")
    expect(svg.match(/class="legend"/g)).toHaveLength(3)
  })

  it("the checker rejects broken XML, so the test above can fail", () => {
    expect(() => checkWellFormed("<svg><g></svg>")).toThrow()
    expect(() => checkWellFormed('<svg><text a="1">a & b</text></svg>')).toThrow()
    expect(() => checkWellFormed("<svg><line x=1/></svg>")).toThrow()
    expect(() => checkWellFormed("<svg/><svg/>")).toThrow()
  })

  it("escapes markup, picks 1-2-5 tick steps, and survives an empty series", () => {
    expect(escapeXml(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;")
    expect(niceStep(1000, 5)).toBe(200)
    expect(niceStep(7300, 6)).toBe(2000)
    expect(niceStep(0, 6)).toBe(1)
    const svg = renderChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "none", points: [] }] })
    expect(checkWellFormed(svg).filter((n) => n === "polyline")).toHaveLength(1)
  })
})
