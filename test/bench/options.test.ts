// Establishes: the benchmark's options are validated with errors that name the option (unknown
// or repeated modes, loads that are not whole numbers in range or repeat, durations and ports
// out of range), loads come out ascending; `smartchain bench --help` lists every option and a bad
// option makes the command exit 1 with one line, before any replica starts; the quantile and
// /proc CPU readers return sound values.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { loadMax, parseBenchOptions, processCpuMs, quantile } from "../../bench/cluster.ts"
import { runSmartchain as run } from "../support/smartchain-cli.ts"

const raw = { modes: "memory,weak,strong", loads: "4,16", duration: 10, warmup: 3, out: "bench/results", basePort: 7400, api: "batch", proofs: false }


describe("bench options", () => {
  it("accepts good options, sorting the loads", () => {
    const ok = parseBenchOptions({ ...raw, modes: " strong , memory", loads: "64,4,16" })
    expect(Either.isRight(ok) && ok.right).toMatchObject({ modes: ["strong", "memory"], loads: [4, 16, 64], durationS: 10, warmupS: 3, api: "batch", proofs: false })
    const tx = parseBenchOptions({ ...raw, api: "tx" })
    expect(Either.isRight(tx) && tx.right.api).toBe("tx")
  })

  it("refuses bad options with an error naming the option", () => {
    const cases: Array<[Partial<typeof raw>, string]> = [
      [{ modes: "memory,fast" }, `--modes: unknown mode "fast"`],
      [{ modes: "weak,weak" }, `--modes: "weak" is listed twice`],
      [{ modes: "," }, "--modes must list"],
      [{ loads: "4,0" }, `--loads: "0"`],
      [{ loads: "4,x" }, `--loads: "x"`],
      [{ loads: `${loadMax + 1}` }, `--loads: "${loadMax + 1}"`],
      [{ loads: "4,4" }, "listed twice"],
      [{ loads: "" }, "--loads must list"],
      [{ duration: 0 }, "--duration"],
      [{ warmup: -1 }, "--warmup"],
      [{ basePort: 80 }, "--base-port"],
      [{ basePort: 65530 }, "--base-port"],
      [{ out: " " }, "--out"],
      [{ api: "grpc" }, `--api: unknown "grpc"`],
      [{ api: "tx", proofs: true }, "--proofs needs --api batch"]
    ]
    for (const [change, message] of cases) {
      const r = parseBenchOptions({ ...raw, ...change })
      expect(Either.isLeft(r) && r.left.message, JSON.stringify(change)).toContain(message)
    }
  })

  it("smartchain bench has --help and exits 1 on a bad option", async () => {
    const help = await run("bench", "--help")
    expect(help.status).toBe(0)
    for (const option of ["--modes", "--loads", "--duration", "--warmup", "--out", "--base-port", "--api", "--proofs"]) expect(help.stdout).toContain(option)
    const bad = await run("bench", "--modes", "turbo")
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain(`--modes: unknown mode "turbo"`)
  })

  it("quantile is nearest-rank and the /proc reader sees this process's CPU grow", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(quantile(xs, 0.5)).toBe(50)
    expect(quantile(xs, 0.99)).toBe(99)
    expect(quantile([7], 0.99)).toBe(7)
    expect(Number.isNaN(quantile([], 0.5))).toBe(true)
    const before = processCpuMs(process.pid)
    expect(before).toBeGreaterThan(0)
    const until = performance.now() + 150
    let spin = 0
    while (performance.now() < until) spin++
    expect(spin).toBeGreaterThan(0)
    expect(processCpuMs(process.pid)!).toBeGreaterThan(before!)
    expect(processCpuMs(2 ** 22 + 12345)).toBeUndefined()
  })
})
