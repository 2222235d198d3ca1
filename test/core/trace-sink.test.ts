// Establishes that the TraceSink layers keep the total order: the in-memory layer numbers records
// from 0, and the ndjson layer writes one JSON object per line with seq, timeMs and the event.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { TraceMemory, TraceNdjson, TraceSink } from "../../src/services/trace.ts"

describe("TraceSink", () => {
  it.effect("in memory: records are numbered in order", () =>
    Effect.gen(function* () {
      const sink = yield* TraceSink
      yield* sink.write(5, { action: "Propose", replica: 0, cid: 1 })
      yield* sink.write(7, { action: "Write", replica: 1, cid: 1 })
      const records = yield* sink.records
      expect(records.map((r) => [r.seq, r.timeMs, r.event.action])).toEqual([
        [0, 5, "Propose"],
        [1, 7, "Write"]
      ])
    }).pipe(Effect.provide(TraceMemory))
  )

  it.effect("ndjson: one object per line, closed with the scope", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "trace-")), "run.ndjson")
    return Effect.gen(function* () {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* TraceSink
          yield* sink.write(1, { action: "Stop", replica: 2, regency: 1, reason: "timeout" })
          yield* sink.write(2, { action: "StopData", replica: 2, regency: 1 })
        }).pipe(Effect.provide(TraceNdjson(file)))
      )
      const lines = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines).toEqual([
        { seq: 0, timeMs: 1, action: "Stop", replica: 2, regency: 1, reason: "timeout" },
        { seq: 1, timeMs: 2, action: "StopData", replica: 2, regency: 1 }
      ])
    })
  })
})
