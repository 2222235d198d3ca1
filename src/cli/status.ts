/**
 * `smartchain status`: asks each replica's HTTP API for its status and prints one line per
 * replica (height, durable height, regency, leader, connected peers), or why it did not answer.
 * The replicas are those of a cluster directory (--dir, as `smartchain cluster` lays it out), or
 * the API URLs given with --url.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { loadNodeConfig } from "../node/config.ts"
import { nodeConfigPath } from "./cluster.ts"
import { failWith } from "./report.ts"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"

export class StatusError extends Schema.TaggedError<StatusError>()("StatusError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

const StatusJson = Schema.Struct({
  chainId: Schema.String,
  replica: Schema.Number,
  mode: Schema.String,
  height: Schema.String,
  durableHeight: Schema.String,
  regency: Schema.String,
  view: Schema.String,
  leader: Schema.Number,
  pendingTransactions: Schema.Number,
  connectedPeers: Schema.Array(Schema.Number)
})
type StatusJson = typeof StatusJson.Type

/** The API URLs of the replicas of the cluster in `dir`. */
export const clusterUrls = (dir: string): Effect.Effect<ReadonlyArray<string>, StatusError> =>
  Effect.gen(function* () {
    const genesisPath = path.join(dir, "genesis.json")
    const text = yield* Effect.tryPromise({
      try: () => fs.readFile(genesisPath, "utf8"),
      catch: () => new StatusError({ reason: `no network in ${dir} (no genesis.json); start one with smartchain cluster, or pass --url` })
    })
    const genesis = yield* Either.mapLeft(decodeGenesisJsonText(text), (e) => new StatusError({ reason: `${genesisPath}: ${e.message}` }))
    return yield* Effect.forEach(genesis.view.members, (m) =>
      Effect.map(
        Effect.mapError(loadNodeConfig(nodeConfigPath(dir, m.replica)), (e) => new StatusError({ reason: e.message })),
        (c) => `http://${c.http.host.includes(":") ? `[${c.http.host}]` : c.http.host}:${c.http.port}`
      )
    )
  })

/** One replica's status, or why it could not be read. */
export const fetchStatus = (url: string): Effect.Effect<StatusJson, StatusError> =>
  Effect.tryPromise({
    try: async () => {
      const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(3_000) })
      return (await r.json()) as unknown
    },
    catch: (e) => new StatusError({ reason: e instanceof Error ? e.message : String(e) })
  }).pipe(
    Effect.flatMap((json) => Schema.decodeUnknown(StatusJson)(json)),
    Effect.mapError((e) => (e instanceof StatusError ? e : new StatusError({ reason: `unexpected answer: ${e.message}` })))
  )

export const formatStatus = (url: string, s: StatusJson): string =>
  `replica ${s.replica}  ${url}  height ${s.height} (durable ${s.durableHeight})  regency ${s.regency}  leader ${s.leader}  view ${s.view}  pending ${s.pendingTransactions}  peers [${s.connectedPeers.join(",")}]  ${s.mode}`

export const statusCommand = Command.make(
  "status",
  {
    dir: Options.directory("dir").pipe(Options.withDescription("a cluster directory (as smartchain cluster writes it)"), Options.withDefault("data")),
    url: Options.text("url").pipe(Options.withDescription("a replica's API URL, e.g. http://127.0.0.1:7104 (repeatable; overrides --dir)"), Options.repeated),
    args: Args.none
  },
  ({ dir, url }) =>
    Effect.gen(function* () {
      const urls = url.length > 0 ? url : yield* clusterUrls(dir)
      let answered = 0
      for (const u of urls) {
        const s = yield* Effect.either(fetchStatus(u))
        if (Either.isRight(s)) {
          answered++
          yield* Console.log(formatStatus(u, s.right))
        } else yield* Console.log(`${u}  not answering: ${s.left.message}`)
      }
      if (answered === 0) return yield* new StatusError({ reason: "no replica answered" })
    }).pipe(failWith)
).pipe(Command.withDescription("Show each replica's height, regency, leader and peers, from its HTTP API."))
