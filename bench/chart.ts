/**
 * A line chart as SVG text, written by hand (no charting dependency): one line per series of
 * (x, y) points, linear axes from zero with rounded tick steps, a legend, and optional horizontal
 * reference lines (dashed). The benchmark uses it for throughput against offered load, one line
 * per persistence mode, with the signature-verification ceiling as a reference line.
 */

export interface ChartPoint {
  readonly x: number
  readonly y: number
}

export interface ChartSeries {
  readonly name: string
  readonly points: ReadonlyArray<ChartPoint>
}

export interface ChartReference {
  readonly name: string
  readonly y: number
}

export interface ChartSpec {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<ChartSeries>
  readonly references?: ReadonlyArray<ChartReference>
  readonly width?: number
  readonly height?: number
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

/** Text safe inside an XML element or a double-quoted attribute. */
export const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;")

/** A tick step of 1, 2 or 5 times a power of ten giving about `count` steps up to `max`. */
export const niceStep = (max: number, count: number): number => {
  if (!(max > 0) || !Number.isFinite(max)) return 1
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1))
const coord = (v: number): string => (Math.round(v * 10) / 10).toString()

export const renderChart = (spec: ChartSpec): string => {
  const width = spec.width ?? 720
  const height = spec.height ?? 440
  const margin = { left: 72, right: 170, top: 44, bottom: 56 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const points = spec.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
  const references = spec.references ?? []
  const xMaxData = Math.max(0, ...points.map((p) => p.x))
  const yMaxData = Math.max(0, ...points.map((p) => p.y), ...references.map((r) => r.y))
  const xStep = niceStep(xMaxData, 6)
  const yStep = niceStep(yMaxData, 6)
  const xMax = Math.max(xStep, Math.ceil(xMaxData / xStep) * xStep)
  const yMax = Math.max(yStep, Math.ceil((yMaxData * 1.05) / yStep) * yStep)
  const sx = (x: number) => margin.left + (x / xMax) * plotW
  const sy = (y: number) => margin.top + plotH - (y / yMax) * plotH

  const out: Array<string> = []
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`)
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`)
  out.push(`<title>${escapeXml(spec.title)}</title>`)
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(spec.title)}</text>`)
  out.push(`<g class="grid" stroke="#e0e0e0" stroke-width="1">`)
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) out.push(`<line x1="${margin.left}" y1="${coord(sy(y))}" x2="${margin.left + plotW}" y2="${coord(sy(y))}"/>`)
  out.push(`</g>`)
  out.push(`<g class="axes" stroke="#000000" stroke-width="1">`)
  out.push(`<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}"/>`)
  out.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}"/>`)
  out.push(`</g>`)
  out.push(`<g class="ticks" fill="#000000">`)
  for (let x = 0; x <= xMax + xStep / 2; x += xStep)
    out.push(`<text x="${coord(sx(x))}" y="${margin.top + plotH + 18}" text-anchor="middle">${fmt(x)}</text>`)
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) out.push(`<text x="${margin.left - 8}" y="${coord(sy(y) + 4)}" text-anchor="end">${fmt(y)}</text>`)
  out.push(`</g>`)
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`)
  out.push(
    `<text x="18" y="${margin.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${margin.top + plotH / 2})">${escapeXml(spec.yLabel)}</text>`
  )
  for (const r of references) {
    out.push(
      `<g class="reference" data-reference="${escapeXml(r.name)}"><line x1="${margin.left}" y1="${coord(sy(r.y))}" x2="${margin.left + plotW}" y2="${coord(sy(r.y))}" stroke="#777777" stroke-dasharray="6 4"/>` +
        `<text x="${margin.left + plotW - 4}" y="${coord(sy(r.y) - 5)}" text-anchor="end" fill="#555555">${escapeXml(r.name)}</text></g>`
    )
  }
  spec.series.forEach((s, i) => {
    const color = palette[i % palette.length] as string
    const pts = [...s.points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x)
    const path = pts.map((p) => `${coord(sx(p.x))},${coord(sy(p.y))}`).join(" ")
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${path}"/>`)
    for (const p of pts) out.push(`<circle cx="${coord(sx(p.x))}" cy="${coord(sy(p.y))}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: ${fmt(p.x)}, ${fmt(p.y)}`)}</title></circle>`)
    out.push(`</g>`)
    const ly = margin.top + 10 + i * 20
    const lx = margin.left + plotW + 16
    out.push(
      `<g class="legend"><line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.name)}</text></g>`
    )
  })
  out.push(`</svg>`)
  return out.join("\n") + "\n"
}
