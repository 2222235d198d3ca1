/**
 * TraceSink: where trace events go. One event per spec action performed, one JSON object per
 * line, totally ordered by `seq` (format: conformance/TRACE.md). Layers: ndjson file, none, and
 * in-memory (tests).
 */
import { Context, Effect, Layer, Ref } from "effect"
import * as fs from "node:fs"
import type { TraceEvent } from "../core/io.ts"

/** An event as written: its place in the run's total order and the logical time it happened at. */
export interface TraceRecord {
  readonly seq: number
  readonly timeMs: number
  readonly event: TraceEvent
}

/** The ndjson line of one record (without the newline): seq, timeMs, then the event's fields. */
export const traceLine = (record: TraceRecord): string =>
  JSON.stringify({ seq: record.seq, timeMs: record.timeMs, ...record.event })

export interface TraceSinkImpl {
  readonly write: (timeMs: number, event: TraceEvent) => Effect.Effect<void>
  /** `write` performed at once, for sinks that write synchronously. */
  readonly writeNow?: (timeMs: number, event: TraceEvent) => void
  /** The records written so far (the in-memory layer only; the others keep none). */
  readonly records: Effect.Effect<ReadonlyArray<TraceRecord>>
}

export class TraceSink extends Context.Tag("smartchain/TraceSink")<TraceSink, TraceSinkImpl>() {}

export const TraceNone: Layer.Layer<TraceSink> = Layer.succeed(TraceSink, {
  write: () => Effect.void,
  writeNow: () => {},
  records: Effect.succeed([])
})

export const TraceMemory: Layer.Layer<TraceSink> = Layer.effect(
  TraceSink,
  Effect.gen(function* () {
    const ref = yield* Ref.make<Array<TraceRecord>>([])
    return {
      write: (timeMs, event) => Ref.update(ref, (rs) => (rs.push({ seq: rs.length, timeMs, event }), rs)),
      records: Ref.get(ref)
    }
  })
)

/** Appends ndjson lines to `path` (created or truncated); the file is closed with the layer's scope. */
export const TraceNdjson = (path: string): Layer.Layer<TraceSink> =>
  Layer.scoped(
    TraceSink,
    Effect.gen(function* () {
      const fd = yield* Effect.acquireRelease(
        Effect.sync(() => fs.openSync(path, "w")),
        (fd) => Effect.sync(() => fs.closeSync(fd))
      )
      let seq = 0
      const writeNow = (timeMs: number, event: TraceEvent): void => void fs.writeSync(fd, traceLine({ seq: seq++, timeMs, event }) + "\n")
      return {
        write: (timeMs, event) => Effect.sync(() => writeNow(timeMs, event)),
        writeNow,
        records: Effect.succeed([])
      }
    })
  )
