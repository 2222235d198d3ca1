/**
 * Private key files. One file per key: a replica's identity key, and each of its view keys, so a
 * view key can be erased on its own once the view that used it is superseded (PROTOCOL.md
 * section 6). Files are created with mode 0600 and synced (file and directory) before the write
 * counts as done; erasure overwrites the bytes, syncs, unlinks and syncs the directory.
 */
import { Effect, Either, Schema } from "effect"
import { ParseResult } from "effect"
import * as fs from "node:fs/promises"
import { constants as fsConstants } from "node:fs"
import * as path from "node:path"

const HexKey = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/),
  Schema.annotations({ message: () => "expected 64 lowercase hex characters (32 bytes)" })
)

export const KeyKind = Schema.Literal("identity", "view", "client")
export type KeyKind = typeof KeyKind.Type

/** The JSON form of a key file. `view` is set for view keys. */
export const KeyFileJson = Schema.Struct({
  format: Schema.Literal("smartchain-key/1"),
  kind: KeyKind,
  replica: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative())),
  view: Schema.optional(Schema.String.pipe(Schema.pattern(/^[0-9]+$/))),
  publicKey: HexKey,
  secretKey: HexKey
})
export type KeyFileJson = typeof KeyFileJson.Type

export interface KeyFile {
  readonly kind: KeyKind
  readonly replica: number | undefined
  readonly view: bigint | undefined
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

export class KeyFileError extends Schema.TaggedError<KeyFileError>()("KeyFileError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `key file ${this.path}: ${this.reason}`
  }
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
export const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"))

const syncDirectory = (dir: string) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(dir, fsConstants.O_RDONLY)
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new KeyFileError({ path: dir, reason: `cannot sync directory: ${String(e)}` })
  })

/** Writes bytes to a new file with mode 0600 and syncs file and directory. Refuses to overwrite. */
export const writePrivateFile = (filePath: string, contents: string | Uint8Array) =>
  Effect.gen(function* () {
    yield* Effect.tryPromise({
      try: async () => {
        await fs.mkdir(path.dirname(filePath), { recursive: true, mode: 0o700 })
        const handle = await fs.open(filePath, "wx", 0o600)
        try {
          await handle.writeFile(contents)
          await handle.sync()
        } finally {
          await handle.close()
        }
      },
      catch: (e) =>
        new KeyFileError({
          path: filePath,
          reason: (e as NodeJS.ErrnoException).code === "EEXIST" ? "already exists (refusing to overwrite a key)" : String(e)
        })
    })
    yield* syncDirectory(path.dirname(filePath))
  })

/** Writes a key file (0600, synced). */
export const writeKeyFile = (filePath: string, key: KeyFile) => {
  const json: KeyFileJson = {
    format: "smartchain-key/1",
    kind: key.kind,
    ...(key.replica === undefined ? {} : { replica: key.replica }),
    ...(key.view === undefined ? {} : { view: key.view.toString() }),
    publicKey: toHex(key.publicKey),
    secretKey: toHex(key.secretKey)
  }
  return writePrivateFile(filePath, JSON.stringify(json, null, 2) + "\n")
}

/** Parses the text of a key file; the error names the failing field. */
export const parseKeyFile = (filePath: string, text: string): Either.Either<KeyFile, KeyFileError> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    return Either.left(new KeyFileError({ path: filePath, reason: `not JSON: ${(e as Error).message}` }))
  }
  return Schema.decodeUnknownEither(KeyFileJson, { errors: "all" })(raw).pipe(
    Either.mapLeft(
      (error) =>
        new KeyFileError({
          path: filePath,
          reason: ParseResult.ArrayFormatter.formatErrorSync(error)
            .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
            .join("; ")
        })
    ),
    Either.map((json) => ({
      kind: json.kind,
      replica: json.replica,
      view: json.view === undefined ? undefined : BigInt(json.view),
      publicKey: fromHex(json.publicKey),
      secretKey: fromHex(json.secretKey)
    }))
  )
}

/**
 * Reads and validates a key file. Like ssh, it refuses a key file that other users may read or
 * write (mode bits beyond 0600), naming the chmod that fixes it.
 */
export const readKeyFile = (filePath: string) =>
  Effect.gen(function* () {
    const mode = yield* Effect.tryPromise({
      try: async () => (await fs.stat(filePath)).mode & 0o777,
      catch: (e) => new KeyFileError({ path: filePath, reason: `cannot read: ${String(e)}` })
    })
    if ((mode & 0o077) !== 0) {
      return yield* new KeyFileError({
        path: filePath,
        reason: `mode ${mode.toString(8)} lets other users reach this private key; run chmod 600 ${filePath}`
      })
    }
    const text = yield* Effect.tryPromise({
      try: () => fs.readFile(filePath, "utf8"),
      catch: (e) => new KeyFileError({ path: filePath, reason: `cannot read: ${String(e)}` })
    })
    return yield* parseKeyFile(filePath, text)
  })

/**
 * Erases a key file: overwrites its bytes with zeros, syncs, unlinks and syncs the directory, so
 * the key is gone from the file system's view after a crash too. Erasing a file that does not
 * exist succeeds (erasure is idempotent).
 */
export const eraseKeyFile = (filePath: string) =>
  Effect.gen(function* () {
    const existed = yield* Effect.tryPromise({
      try: async () => {
        let handle: fs.FileHandle
        try {
          handle = await fs.open(filePath, "r+")
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return false
          throw e
        }
        try {
          const { size } = await handle.stat()
          await handle.write(new Uint8Array(size), 0, size, 0)
          await handle.sync()
        } finally {
          await handle.close()
        }
        await fs.unlink(filePath)
        return true
      },
      catch: (e) => new KeyFileError({ path: filePath, reason: `cannot erase: ${String(e)}` })
    })
    if (existed) yield* syncDirectory(path.dirname(filePath))
    return existed
  })
