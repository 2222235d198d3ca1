/**
 * The genesis file: JSON a person can read and diff. Keys are lowercase hex (64 digits), 64-bit
 * integers are decimal strings (JSON numbers lose precision above 2^53), 32-bit integers are
 * numbers. The file maps to Genesis through an Effect Schema transformation, so the same
 * declaration parses, validates and writes it. Unknown keys are rejected, so a misspelt field
 * is an error rather than a silently ignored default.
 *
 * {
 *   "chainId": "demo",
 *   "view": { "id": "0", "n": 4, "f": 1,
 *             "members": [{ "replica": 0, "identityKey": "<hex>", "viewKey": "<hex>", "address": "127.0.0.1:7000" }, ...] },
 *   "persistence": "strong",
 *   "minters": ["<hex>", ...],
 *   "admission": ["<hex>", ...],
 *   "limits": { "batchTxMax": 512, "batchBytesMax": 1048576, "txBytesMax": 16384, "frameBytesMax": 4194304,
 *               "checkpointInterval": 100, "rotationWindow": 16, "requestTimeoutMs": 2000 }
 * }
 */
import { Either, ParseResult, Schema } from "effect"
import { fromHex, toHex } from "./bytes.ts"
import * as T from "./types.ts"
import { viewRecordProblem } from "./verify.ts"

/** A 32-byte key as 64 lowercase hexadecimal digits. */
export const HexKey = Schema.transformOrFail(
  Schema.String.pipe(
    Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "expected a key of 64 lowercase hexadecimal digits" })
  ),
  T.PublicKey,
  {
    strict: true,
    decode: (s, _options, ast) => {
      const b = fromHex(s)
      return b === undefined ? ParseResult.fail(new ParseResult.Type(ast, s, "expected hexadecimal")) : ParseResult.succeed(b)
    },
    encode: (b) => ParseResult.succeed(toHex(b))
  }
).annotations({ identifier: "HexKey" })

/** A u64 as a decimal string without sign, spaces or leading zeros. */
export const U64FromDecimal = Schema.transform(
  Schema.String.pipe(
    Schema.pattern(/^(0|[1-9][0-9]{0,19})$/, { message: () => "expected an unsigned decimal integer string, e.g. \"0\"" })
  ),
  T.U64,
  { strict: true, decode: (s) => BigInt(s), encode: (n) => n.toString(10) }
).annotations({ identifier: "U64FromDecimal" })

export const MemberJson = Schema.Struct({
  replica: T.ReplicaId,
  identityKey: HexKey,
  viewKey: HexKey,
  address: Schema.String.pipe(Schema.minLength(1))
})

export const ViewRecordJson = Schema.Struct({
  id: U64FromDecimal,
  n: T.U32,
  f: T.U32,
  members: Schema.Array(MemberJson)
}).pipe(
  Schema.filter((v) => {
    const problem = viewRecordProblem(v)
    return problem === undefined ? true : problem
  })
)

/** The genesis file's Schema: its Encoded side is the JSON, its Type side is Genesis. */
export const GenesisJson = Schema.Struct({
  chainId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  view: ViewRecordJson.pipe(Schema.filter((v) => v.id === 0n || `expected the genesis view to have id "0", got "${v.id}"`)),
  persistence: T.PersistenceMode.annotations({
    message: (issue) => ({ message: `expected "memory", "weak" or "strong", got ${JSON.stringify(issue.actual)}`, override: true })
  }),
  minters: Schema.Array(HexKey),
  admission: Schema.Array(HexKey),
  limits: T.Limits
})
/** The JSON shape of a genesis file. */
export type GenesisFile = typeof GenesisJson.Encoded

/** A genesis file that does not parse; `issues` name each failing field path. */
export class GenesisFileError extends Schema.TaggedError<GenesisFileError>()("GenesisFileError", {
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return `invalid genesis file: ${this.issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")}`
  }
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let s = ""
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? String(p) : `.${String(p)}`
  return s
}

const decodeUnknown = Schema.decodeUnknownEither(GenesisJson, { errors: "all", onExcessProperty: "error" })

/** Parses a genesis file's JSON value (already JSON.parse'd). */
export const decodeGenesisJson = (json: unknown): Either.Either<T.Genesis, GenesisFileError> =>
  Either.mapLeft(
    decodeUnknown(json),
    (e) =>
      new GenesisFileError({
        issues: ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => ({ path: formatPath(i.path), message: i.message }))
      })
  )

/** Parses a genesis file's text: JSON syntax errors and schema errors are both GenesisFileError. */
export const decodeGenesisJsonText = (text: string): Either.Either<T.Genesis, GenesisFileError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(new GenesisFileError({ issues: [{ path: "", message: `not JSON: ${e instanceof Error ? e.message : String(e)}` }] }))
  }
  return decodeGenesisJson(json)
}

const encode = Schema.encodeSync(GenesisJson)

/**
 * The JSON value of a genesis file (pass it to JSON.stringify). The genesis must satisfy the
 * Schema (consistent view with id 0); a Genesis that does not is a programmer error and throws.
 */
export const encodeGenesisJson = (genesis: T.Genesis): GenesisFile => encode(genesis)
