/**
 * The configuration file of one replica process (`smartchain node --config FILE`), JSON:
 *
 * {
 *   "genesis": "../genesis.json",          the network's genesis file
 *   "identityKey": "identity.key",         this replica's identity key file
 *   "viewKey": "view-0.key",               its key file for the genesis view
 *   "dataDir": "data",                     where its blocks are stored (weak and strong modes)
 *   "listen": "127.0.0.1:7100",            replica channels; default: its address in genesis
 *   "http": { "host": "127.0.0.1", "port": 7104 },   the HTTP API and /metrics
 *   "persistence": "strong",               optional; must equal the genesis mode when given
 *   "tickMs": 10,                          optional; interval of the replica's clock ticks
 *   "batchDelayMs": 0,                     optional; longest a leader holds a batch that is not full
 *   "trace": "trace.ndjson"                optional; write spec trace events there
 *   "join": { "from": ["http://127.0.0.1:7104"] }   optional; a replica outside genesis's view:
 *                                          it submits JOIN to these members' APIs, fetches and
 *                                          verifies the chain from them, and starts once a view
 *                                          with it is installed (./joiner.ts); `listen` is then
 *                                          required, `viewKey` names its key directory's view-0.key
 * }
 *
 * Relative paths are relative to the directory of the configuration file. Unknown fields are
 * errors, so a misspelt field is reported rather than ignored; every error names its field.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { PersistenceMode } from "../chain/types.ts"
import { parseAddress } from "../net/peer-manager.ts"

const Port = Schema.Number.pipe(
  Schema.int({ message: () => "expected an integer port" }),
  Schema.between(0, 65535, { message: () => "expected a port from 0 to 65535" })
)

const NonEmptyPath = Schema.String.pipe(Schema.minLength(1, { message: () => "expected a non-empty path" }))

const Address = Schema.String.pipe(
  Schema.filter((s) => Either.isRight(parseAddress(s)) || `expected host:port with a port from 1 to 65535, got "${s}"`)
)

export const NodeConfigJson = Schema.Struct({
  genesis: NonEmptyPath,
  identityKey: NonEmptyPath,
  viewKey: NonEmptyPath,
  dataDir: NonEmptyPath,
  listen: Schema.optional(Address),
  http: Schema.Struct({
    host: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => "127.0.0.1" }),
    port: Port
  }),
  persistence: Schema.optional(PersistenceMode),
  tickMs: Schema.optionalWith(
    Schema.Number.pipe(Schema.int(), Schema.between(1, 1000, { message: () => "expected an integer from 1 to 1000 (milliseconds)" })),
    { default: () => 10 }
  ),
  batchDelayMs: Schema.optional(
    Schema.Number.pipe(Schema.int(), Schema.between(0, 10_000, { message: () => "expected an integer from 0 to 10000 (milliseconds)" }))
  ),
  trace: Schema.optional(NonEmptyPath),
  join: Schema.optional(Schema.Struct({ from: Schema.Array(Schema.String.pipe(Schema.pattern(/^https?:\/\/[^\s]+$/, { message: () => "expected an http:// URL" }))).pipe(Schema.minItems(1)) }))
})
export type NodeConfigJson = typeof NodeConfigJson.Encoded

/** A validated configuration, paths resolved against the configuration file's directory. */
export interface NodeConfig {
  readonly file: string
  readonly genesis: string
  readonly identityKey: string
  readonly viewKey: string
  readonly dataDir: string
  readonly listen: string | undefined
  readonly http: { readonly host: string; readonly port: number }
  readonly persistence: PersistenceMode | undefined
  readonly tickMs: number
  /** Longest a leader holds a batch that is not full (default `coreLimits.batchDelayMs`). */
  readonly batchDelayMs?: number | undefined
  readonly trace: string | undefined
  /** A replica outside genesis's view: the API URLs of members it joins through. */
  readonly join?: { readonly from: ReadonlyArray<string> } | undefined
}

/** A configuration that cannot be used: `field` is the dotted path of the offending field. */
export class NodeConfigError extends Schema.TaggedError<NodeConfigError>()("NodeConfigError", {
  file: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.field === "" ? "" : `${this.field}: `}${this.reason}`
  }
}

const decode = Schema.decodeUnknownEither(NodeConfigJson, { errors: "all", onExcessProperty: "error" })

/** Validates a configuration's JSON value; the first error names its field. */
export const parseNodeConfig = (file: string, json: unknown): Either.Either<NodeConfig, NodeConfigError> => {
  const decoded = decode(json)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    return Either.left(
      new NodeConfigError({
        file,
        field: issue === undefined ? "" : issue.path.map(String).join("."),
        reason: issue?.message ?? "invalid configuration"
      })
    )
  }
  const c = decoded.right
  const dir = path.dirname(path.resolve(file))
  const at = (p: string) => path.resolve(dir, p)
  return Either.right({
    file,
    genesis: at(c.genesis),
    identityKey: at(c.identityKey),
    viewKey: at(c.viewKey),
    dataDir: at(c.dataDir),
    listen: c.listen,
    http: c.http,
    persistence: c.persistence,
    tickMs: c.tickMs,
    batchDelayMs: c.batchDelayMs,
    trace: c.trace === undefined ? undefined : at(c.trace),
    join: c.join
  })
}

/** Validates a configuration file's text. */
export const parseNodeConfigText = (file: string, text: string): Either.Either<NodeConfig, NodeConfigError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(new NodeConfigError({ file, field: "", reason: `not JSON: ${e instanceof Error ? e.message : String(e)}` }))
  }
  return parseNodeConfig(file, json)
}

/** Reads and validates a configuration file. */
export const loadNodeConfig = (file: string): Effect.Effect<NodeConfig, NodeConfigError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (e) => new NodeConfigError({ file, field: "", reason: `cannot read: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.flatMap((text) => parseNodeConfigText(file, text)))

/** The JSON of a configuration file, as `smartchain cluster` writes them. */
export const nodeConfigJson = (c: NodeConfigJson): string => JSON.stringify(c, null, 2) + "\n"
