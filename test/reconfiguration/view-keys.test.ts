import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { ViewRecord } from "../../src/chain/types.ts"
import { memberState } from "../../src/reconfiguration/replica-state.ts"
import { installViewKeys, listViewKeys, readViewKey, storeViewKey, viewKeyFile } from "../../src/services/view-keys.ts"
import { keyPairFromLabel } from "../support/chain-builder.ts"

const tempDir = () => Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-view-keys-")))
const identity = (r: number) => keyPairFromLabel(`vk/identity-${r}`)
const viewKey = (r: number, v: bigint) => keyPairFromLabel(`vk/replica-${r}/view-${v}`)

/** Views 0 and 1: replica 3 leaves, the others rotate. */
const members = (v: bigint, rs: ReadonlyArray<number>) =>
  rs.map((r) => ({ replica: r, identityKey: identity(r).publicKey, viewKey: viewKey(r, v).publicKey, address: `h:${r}` }))
const view1: ViewRecord = { id: 1n, members: members(1n, [0, 1, 2]), n: 3, f: 0 }

/** Stores replica r's keys for `views` in a fresh directory. */
const replicaWithKeys = (r: number, views: ReadonlyArray<bigint>) =>
  Effect.gen(function* () {
    const dir = yield* tempDir()
    for (const v of views) yield* storeViewKey(dir, r, v, viewKey(r, v).publicKey, viewKey(r, v).secret)
    return dir
  })

/** The bytes of every file left in `dir`, concatenated: what an adversary reading the disk gets. */
const everythingOnDisk = (dir: string) =>
  Effect.promise(async () => {
    const names = await fs.readdir(dir)
    const parts = await Promise.all(names.map((n) => fs.readFile(path.join(dir, n), "utf8")))
    return parts.join("\n")
  })

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("view keys on disk: erased once the installing block is durable", () => {
  it.effect("a continuing member's old view key file is gone after install; reading it back fails and no copy of the secret remains", () =>
    Effect.gen(function* () {
      const dir = yield* replicaWithKeys(1, [0n, 1n])
      const local = { ...memberState(1, identity(1).publicKey, 0n), heldViewKeys: [0n, 1n] }
      const r = yield* installViewKeys({ dir, local, view: view1, installHeight: 5n, durableHeight: 5n, takenOver: false, erasure: true })
      expect(r.erased).toEqual([0n])
      expect(r.events.map((e) => e.action)).toEqual(["InstallView", "EraseKeys"])
      expect(r.local.heldViewKeys).toEqual([1n])
      expect(yield* listViewKeys(dir)).toEqual([1n])
      const gone = yield* Effect.flip(readViewKey(dir, 0n))
      expect(gone.reason).toMatch(/cannot read/)
      const disk = yield* everythingOnDisk(dir)
      expect(disk).not.toContain(hex(viewKey(1, 0n).secret))
      expect(disk).toContain(hex(viewKey(1, 1n).secret))
      expect((yield* readViewKey(dir, 1n)).secretKey).toEqual(viewKey(1, 1n).secret)
    })
  )

  it.effect("before the installing block is durable nothing is erased (InstallNotDurable)", () =>
    Effect.gen(function* () {
      const dir = yield* replicaWithKeys(1, [0n, 1n])
      const local = { ...memberState(1, identity(1).publicKey, 0n), heldViewKeys: [0n, 1n] }
      const e = yield* Effect.flip(installViewKeys({ dir, local, view: view1, installHeight: 5n, durableHeight: 4n, takenOver: true, erasure: true }))
      expect(e._tag).toBe("InstallNotDurable")
      expect(yield* listViewKeys(dir)).toEqual([0n, 1n])
    })
  )

  it.effect("a leaving replica erases all its view keys: its directory holds no view key afterwards", () =>
    Effect.gen(function* () {
      const dir = yield* replicaWithKeys(3, [0n])
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "notes.txt"), "not a key"))
      const local = memberState(3, identity(3).publicKey, 0n)
      // Before the new view has taken over, the leaver keeps its keys (it still serves its blocks).
      const early = yield* installViewKeys({ dir, local, view: view1, installHeight: 5n, durableHeight: 5n, takenOver: false, erasure: true })
      expect([early.local, early.erased]).toEqual([local, []])
      expect(yield* listViewKeys(dir)).toEqual([0n])
      const r = yield* installViewKeys({ dir, local, view: view1, installHeight: 5n, durableHeight: 9n, takenOver: true, erasure: true })
      expect([r.local.left, r.erased]).toEqual([true, [0n]])
      expect(yield* listViewKeys(dir)).toEqual([])
      expect(yield* everythingOnDisk(dir)).not.toContain(hex(viewKey(3, 0n).secret))
      yield* Effect.promise(() => expect(fs.access(viewKeyFile(dir, 0n))).rejects.toThrow())
    })
  )

  it.effect("with erasure off (test-only) the files stay readable: what a later compromise of the replica yields", () =>
    Effect.gen(function* () {
      const dir = yield* replicaWithKeys(3, [0n])
      const r = yield* installViewKeys({ dir, local: memberState(3, identity(3).publicKey, 0n), view: view1, installHeight: 5n, durableHeight: 5n, takenOver: true, erasure: false })
      expect([r.local.left, r.erased]).toEqual([true, []])
      expect((yield* readViewKey(dir, 0n)).secretKey).toEqual(viewKey(3, 0n).secret)
    })
  )
})
