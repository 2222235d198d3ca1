/**
 * The deterministic simulator's command line.
 *
 *   SEED=<n> npm run sim            one run: prints the seed, the faults drawn and the outcome
 *   npm run sim -- --seed <n>       the same
 *   npm run sim -- --seeds 1000     a campaign over seeds 1..1000 (--from <s> to start elsewhere),
 *                                   in one worker process per core (--workers <k>), with a progress
 *                                   line and a summary listing the seeds that failed
 *   --trace-dir <dir>               writes each run's trace to <dir>/seed-<n>.ndjson
 *
 * Exits 1 if any run violated a property.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { fork } from "node:child_process"
import { traceLine } from "../src/services/trace.ts"
import { optionsForSeed, outcomeLine, runOk } from "../test/sim/campaign.ts"
import { runSimulation } from "../test/sim/simulator.ts"

interface Job {
  readonly seeds: ReadonlyArray<number>
  readonly traceDir: string | undefined
}

interface Report {
  readonly seed: number
  readonly ok: boolean
  readonly mode: string
  readonly lostReplies: number
  readonly crashAlls: number
  readonly line: string
  readonly faults: string
  readonly ms: number
}

const runSeed = (seed: number, traceDir: string | undefined): Report => {
  const start = performance.now()
  const result = runSimulation(optionsForSeed(seed, traceDir !== undefined))
  if (traceDir !== undefined) {
    fs.mkdirSync(traceDir, { recursive: true })
    fs.writeFileSync(path.join(traceDir, `seed-${seed}.ndjson`), result.trace.map((r) => traceLine(r) + "\n").join(""))
  }
  return {
    seed,
    ok: runOk(result),
    mode: result.mode,
    lostReplies: result.lostReplies,
    crashAlls: result.crashAlls,
    line: outcomeLine(result),
    faults: result.faults,
    ms: performance.now() - start
  }
}

const argValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

const main = async (): Promise<number> => {
  const args = process.argv.slice(2)
  const traceDir = argValue(args, "--trace-dir")
  const count = argValue(args, "--seeds")
  if (count === undefined) {
    const seed = Number(argValue(args, "--seed") ?? process.env.SEED ?? 1)
    const r = runSeed(seed, traceDir)
    console.log(`seed ${seed}`)
    console.log(`faults: ${r.faults}`)
    console.log(`outcome: ${r.line}`)
    return r.ok ? 0 : 1
  }
  const from = Number(argValue(args, "--from") ?? 1)
  const seeds = Array.from({ length: Number(count) }, (_, i) => from + i)
  const workers = Math.max(1, Math.min(Number(argValue(args, "--workers") ?? os.availableParallelism()), seeds.length))
  const started = performance.now()
  const failed: Array<Report> = []
  const byMode = new Map<string, { runs: number; crashAlls: number; lost: number; losing: number }>()
  let done = 0
  let shownAt = 0
  const progress = () => {
    const elapsed = (performance.now() - started) / 1000
    // On a terminal the line is redrawn every second; in a log, one line every ten seconds.
    const tty = process.stderr.isTTY === true
    if (done < seeds.length && elapsed - shownAt < (tty ? 1 : 10)) return
    shownAt = elapsed
    const line = `${done}/${seeds.length} seeds, ${failed.length} failed, ${elapsed.toFixed(1)}s`
    process.stderr.write(tty ? `\r${line}` : `${line}\n`)
  }
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const job: Job = { seeds: seeds.filter((_, i) => i % workers === w), traceDir }
      return new Promise<void>((resolve, reject) => {
        const worker = fork(fileURLToPath(import.meta.url), ["--worker"], { execArgv: ["--import", "tsx"] })
        worker.on("message", (r: Report | { readonly finished: true }) => {
          if ("finished" in r) return
          done++
          if (!r.ok) failed.push(r)
          const m = byMode.get(r.mode) ?? { runs: 0, crashAlls: 0, lost: 0, losing: 0 }
          m.runs++
          m.crashAlls += r.crashAlls
          m.lost += r.lostReplies
          if (r.lostReplies > 0) m.losing++
          byMode.set(r.mode, m)
          progress()
        })
        worker.on("error", reject)
        worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w} exited with ${code}`))))
        worker.send(job)
      })
    })
  )
  const seconds = (performance.now() - started) / 1000
  process.stderr.write("\n")
  console.log(`${seeds.length} seeds (${seeds[0]}..${seeds[seeds.length - 1]}) in ${seconds.toFixed(1)}s on ${workers} workers: ${failed.length} failed`)
  for (const [mode, m] of [...byMode].sort()) {
    const note = mode === "memory" ? " (negative control: losses expected)" : ""
    console.log(`  ${mode}: ${m.runs} runs, ${m.crashAlls} full crashes, ${m.lost} accepted results lost in ${m.losing} runs${note}`)
  }
  for (const r of failed.sort((a, b) => a.seed - b.seed)) console.log(`  seed ${r.seed}: ${r.faults}\n    ${r.line}`)
  return failed.length === 0 ? 0 : 1
}

if (process.argv.includes("--worker")) {
  process.once("message", (job: Job) => {
    for (const seed of job.seeds) process.send?.(runSeed(seed, job.traceDir))
    process.send?.({ finished: true }, () => process.disconnect())
  })
} else {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e)
      process.exit(2)
    }
  )
}
