/**
 * A campaign of the reconfiguration simulator: `npx tsx test/sim/reconfig-campaign.ts --seeds 1000
 * [--from 1]` runs one run per seed, each mixing membership changes, crashes, message loss and
 * Byzantine members as the seed draws them (./reconfig-scenarios.ts `campaignOptions`), prints one
 * line per failing seed and a summary, and exits 1 if any seed failed. `--seed n` runs one seed
 * and prints its line whatever the outcome.
 */
import { campaignOptions } from "./reconfig-scenarios.ts"
import { runReconfig } from "./reconfig.ts"

const arg = (name: string): number | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i < 0 ? undefined : Number(process.argv[i + 1])
  if (v !== undefined && !Number.isSafeInteger(v)) throw new Error(`--${name} needs an integer`)
  return v
}

const describe = (seed: number): string => {
  const o = campaignOptions(seed)
  const byz = [...(o.byzantine ?? new Map()).entries()].map(([l, b]) => `${l}:${b}`).join(",") || "none"
  const acts = o.actions.map((a) => (a.kind === "crashAllAfterView" ? `crashAll@view${a.view}` : a.kind === "crash" ? `crash(${a.labels === "all" ? "all" : a.labels.join(",")})@${a.atMs}` : a.kind === "remove" ? `remove(${a.target} by ${a.by.join(",")})@${a.atMs}` : `${a.kind}(${a.label})@${a.atMs}`))
  return `n=${o.n} ${o.mode} loss=${(o.lossRate ?? 0).toFixed(2)} byzantine=${byz} ${acts.join(" ")}`
}

const one = arg("seed")
const seeds = one !== undefined ? [one] : Array.from({ length: arg("seeds") ?? 100 }, (_, i) => i + (arg("from") ?? 1))
let failed = 0
let views = 0
let crashes = 0
const started = Date.now()
for (const seed of seeds) {
  let line: string
  try {
    const r = runReconfig(campaignOptions(seed))
    views += r.views.length - 1
    crashes += r.fullCrashes
    line =
      r.violations.length === 0
        ? `ok: views ${r.views.map((v) => `${v.id}@${v.installedAt}[${v.labels.join(",")}]`).join(" ")}, height ${r.chainHeight}, ${r.accepted}/${r.transactions} accepted, ${r.fullCrashes} full crashes`
        : `FAILED: ${r.violations.map((v) => `${v.property} at ${v.atMs}ms: ${v.detail}`).join("; ")}`
    if (r.violations.length > 0) failed++
  } catch (e) {
    failed++
    line = `FAILED: ${(e as Error).message}`
  }
  if (one !== undefined || line.startsWith("FAILED")) console.log(`seed ${seed} (${describe(seed)}): ${line}`)
}
console.log(`${seeds.length} seeds, ${failed} failed, ${views} view changes, ${crashes} full crashes, ${((Date.now() - started) / 1000).toFixed(0)}s`)
process.exit(failed > 0 ? 1 : 0)
