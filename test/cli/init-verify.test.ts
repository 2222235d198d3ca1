/**
 * The command line end to end: `smartchain init` creates a network; blocks signed with the view
 * keys it wrote are appended through the BlockStore; `smartchain verify` accepts that chain, and
 * rejects a copy with one byte flipped on disk, naming the height.
 */
import { describe, expect, it } from "vitest"
import { Effect, Either } from "effect"
import { ClassicLevel } from "classic-level"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { decodeGenesisJsonText } from "../../src/chain/genesis-json.ts"
import { BlockStore, BlockStoreLevel, blockKeyHeight } from "../../src/services/blockstore.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { readKeyFile } from "../../src/services/keystore.ts"
import { ChainBuilder } from "../support/chain-builder.ts"

const root = path.resolve(import.meta.dirname, "../..")
const smartchain = (...args: Array<string>) => {
  const r = spawnSync(process.execPath, [path.join(root, "bin/smartchain.js"), ...args], { encoding: "utf8", cwd: root })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const BLOCKS = 6

describe("smartchain init and verify", () => {
  it("init writes a valid genesis and private key files; verify accepts the chain and names the height of a flipped byte", async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-cli-"))
    const net = path.join(out, "net")
    const init = smartchain("init", "--replicas", "4", "--out", net, "--mode", "strong", "--chain-id", "cli-test")
    expect(init.stderr).toBe("")
    expect(init.status).toBe(0)
    expect(init.stdout).toContain("4 replicas (f = 1, quorum 3)")

    const genesisText = await fs.readFile(path.join(net, "genesis.json"), "utf8")
    const genesis = decodeGenesisJsonText(genesisText)
    if (Either.isLeft(genesis)) throw new Error(genesis.left.message)
    expect(genesis.right.view.n).toBe(4)
    expect(genesis.right.persistence).toBe("strong")

    // Every private key file is 0600 and matches the public key genesis lists.
    const viewSecrets = new Map<number, Uint8Array>()
    for (const member of genesis.right.view.members) {
      const dir = path.join(net, `replica-${member.replica}`)
      for (const [file, expected] of [
        ["identity.key", member.identityKey],
        ["view-0.key", member.viewKey]
      ] as const) {
        const stat = await fs.stat(path.join(dir, file))
        expect(stat.mode & 0o777).toBe(0o600)
        const key = await Effect.runPromise(readKeyFile(path.join(dir, file)))
        expect(key.publicKey).toEqual(expected)
        expect(nodeCrypto.publicKeyFromSecret(key.secretKey)).toEqual(expected)
        if (file === "view-0.key") viewSecrets.set(member.replica, key.secretKey)
      }
    }

    // init never overwrites a network.
    const again = smartchain("init", "--out", net)
    expect(again.status).toBe(1)
    expect(again.stderr).toContain("already exists")

    // Blocks signed with init's view keys, written through the BlockStore.
    const builder = new ChainBuilder({ from: { genesis: genesis.right, viewSecrets } }, nodeCrypto)
    for (let h = 1; h <= BLOCKS; h++) builder.next({ txCount: 3 })
    const dataDir = path.join(out, "data")
    await Effect.runPromise(
      Effect.gen(function* () {
        const store = yield* BlockStore
        for (const [i, block] of builder.blocks.entries()) {
          yield* store.appendBlock(block)
          yield* store.appendCertificate(builder.certificates[i]!)
        }
        yield* store.sync()
      }).pipe(Effect.scoped, Effect.provide(BlockStoreLevel(dataDir, nodeCrypto)))
    )

    const good = smartchain("verify", dataDir, "--genesis", path.join(net, "genesis.json"))
    expect(good.stderr.replace(/^verifying.*\n/gm, "")).toBe("")
    expect(good.status).toBe(0)
    expect(good.stdout).toContain(`chain verifies from genesis: ${BLOCKS} blocks, ${3 * BLOCKS} transactions, 1 view`)
    expect(good.stdout).toContain("certified")

    // A copy of the store with one byte of block 4 flipped.
    const copy = path.join(out, "copy")
    await fs.cp(dataDir, copy, { recursive: true })
    const db = new ClassicLevel<Uint8Array, Uint8Array>(copy, { keyEncoding: "view", valueEncoding: "view" })
    let flipped = false
    for await (const [key, value] of db.iterator()) {
      if (blockKeyHeight(key) === 4n) {
        const damaged = Uint8Array.from(value)
        damaged[Math.floor(damaged.length / 2)]! ^= 0x01
        await db.put(key, damaged)
        flipped = true
        break
      }
    }
    await db.close()
    expect(flipped).toBe(true)
    const bad = smartchain("verify", copy, "--genesis", path.join(net, "genesis.json"))
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/block 4\b/)
    await fs.rm(out, { recursive: true, force: true })
  })

  it("verify names the field of a malformed genesis file", async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-cli-"))
    const net = path.join(out, "net")
    expect(smartchain("init", "--replicas", "4", "--out", net).status).toBe(0)
    const genesis = JSON.parse(await fs.readFile(path.join(net, "genesis.json"), "utf8"))
    genesis.view.members[2].viewKey = "abc"
    await fs.writeFile(path.join(out, "bad.json"), JSON.stringify(genesis))
    await fs.mkdir(path.join(out, "empty"))
    const r = smartchain("verify", path.join(out, "empty"), "--genesis", path.join(out, "bad.json"))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("view.members[2].viewKey")
    await fs.rm(out, { recursive: true, force: true })
  })

  it("init rejects a bad replica count with a clear message", () => {
    const r = smartchain("init", "--replicas", "0", "--out", path.join(os.tmpdir(), "never-created"))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("--replicas must be an integer from 1 to 64")
  })
})

