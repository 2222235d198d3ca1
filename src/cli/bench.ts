/**
 * `smartchain bench`: the throughput benchmark of bench/cluster.ts (4 replica processes on
 * loopback, closed-loop coin clients, each persistence mode at several offered loads). The
 * benchmark's modules load only when it runs, so the other subcommands start as fast as before.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Either } from "effect"
import { failWith } from "./report.ts"

export const benchCommand = Command.make(
  "bench",
  {
    modes: Options.text("modes").pipe(Options.withDescription("persistence modes to measure, comma-separated"), Options.withDefault("memory,weak,strong")),
    loads: Options.text("loads").pipe(
      Options.withDescription("offered loads: numbers of concurrent closed-loop clients (outstanding requests), comma-separated"),
      Options.withDefault("4,16,64")
    ),
    duration: Options.integer("duration").pipe(Options.withDescription("seconds of each measured window"), Options.withDefault(10)),
    warmup: Options.integer("warmup").pipe(Options.withDescription("seconds of warm-up before each window"), Options.withDefault(3)),
    out: Options.text("out").pipe(Options.withDescription("directory for cluster-<timestamp>.json and .svg"), Options.withDefault("bench/results")),
    basePort: Options.integer("base-port").pipe(
      Options.withDescription("replica i listens on base + i for replicas and on base + 4 + i for HTTP"),
      Options.withDefault(7400)
    ),
    api: Options.text("api").pipe(
      Options.withDescription(
        "how clients reach the replicas: batch (one POST /txs per member and event-loop turn, replies streamed back) or tx (POST /tx and a long-polling GET /tx per transaction and member)"
      ),
      Options.withDefault("batch")
    ),
    proofs: Options.boolean("proofs").pipe(Options.withDescription("with --api batch: ask for certified replies (header, certificate, Merkle paths) instead of plain ones"))
  },
  (raw) =>
    Effect.gen(function* () {
      const bench = yield* Effect.promise(() => import("../../bench/cluster.ts"))
      const options = yield* Either.match(bench.parseBenchOptions(raw), { onLeft: Effect.fail, onRight: Effect.succeed })
      yield* bench.runBench(options)
    }).pipe(failWith)
).pipe(
  Command.withDescription(
    "Measure throughput, latency and CPU per transaction of a 4-replica network on loopback in each persistence mode, against this machine's signature-verification ceiling; writes JSON and an SVG chart."
  )
)
