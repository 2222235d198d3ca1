import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { eraseKeyFile, parseKeyFile, readKeyFile, writeKeyFile } from "../../src/services/keystore.ts"

const tempDir = () => Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-keys-")))

const key = {
  kind: "view" as const,
  replica: 2,
  view: 7n,
  publicKey: new Uint8Array(32).fill(0xab),
  secretKey: new Uint8Array(32).fill(0x5c)
}

describe("key files: written private and synced, validated on read, erased for good", () => {
  it.effect("a written key reads back equal and the file has mode 0600", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir(), "keys", "replica-2.view-7.json")
      yield* writeKeyFile(file, key)
      const stat = yield* Effect.promise(() => fs.stat(file))
      expect(stat.mode & 0o777).toBe(0o600)
      const back = yield* readKeyFile(file)
      expect(back).toEqual(key)
    })
  )

  it.effect("writing over an existing key file is refused, and the old key survives", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir(), "k.json")
      yield* writeKeyFile(file, key)
      const error = yield* Effect.flip(writeKeyFile(file, { ...key, secretKey: new Uint8Array(32) }))
      expect(error.reason).toContain("already exists")
      expect((yield* readKeyFile(file)).secretKey).toEqual(key.secretKey)
    })
  )

  it.effect("a key file other users can read is refused with the chmod that fixes it", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir(), "k.json")
      yield* writeKeyFile(file, key)
      yield* Effect.promise(() => fs.chmod(file, 0o644))
      const error = yield* Effect.flip(readKeyFile(file))
      expect(error.reason).toContain("chmod 600")
    })
  )

  it("a malformed key file is rejected naming the field", () => {
    const bad = parseKeyFile("x.json", JSON.stringify({ format: "smartchain-key/1", kind: "view", publicKey: "zz", secretKey: "00".repeat(32) }))
    expect(Either.isLeft(bad)).toBe(true)
    if (Either.isLeft(bad)) expect(bad.left.reason).toContain("publicKey")
    const notJson = parseKeyFile("x.json", "{")
    expect(Either.isLeft(notJson) && notJson.left.reason.startsWith("not JSON")).toBe(true)
  })

  it.effect("erasure overwrites the key bytes before unlinking (a hard link sees only zeros)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      const file = path.join(dir, "view.json")
      const witness = path.join(dir, "witness")
      yield* writeKeyFile(file, key)
      yield* Effect.promise(() => fs.link(file, witness))
      const before = yield* Effect.promise(() => fs.readFile(witness))
      expect(before.toString("utf8")).toContain("5c5c5c")
      expect(yield* eraseKeyFile(file)).toBe(true)
      yield* Effect.promise(() => expect(fs.access(file)).rejects.toThrow())
      const after = yield* Effect.promise(() => fs.readFile(witness))
      expect(after.length).toBe(before.length)
      expect(after.every((b) => b === 0)).toBe(true)
      expect(yield* eraseKeyFile(file)).toBe(false)
    })
  )
})
