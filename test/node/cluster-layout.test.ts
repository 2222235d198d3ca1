// Establishes: `smartchain cluster` lays out a network under its directory (genesis, keys, one
// node.json per replica with HTTP on base + N + i), reuses it on the next run, refuses one of
// another size or mode unless --fresh, and --fresh refuses to delete a directory that holds
// something other than a network.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { httpPortOf, nodeConfigPath, prepareCluster } from "../../src/cli/cluster.ts"
import { loadNodeConfig } from "../../src/node/config.ts"

describe("cluster layout", () => {
  it("creates, reuses, refuses a mismatch, and replaces only with --fresh", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-cluster-"))
    const dir = path.join(root, "data")
    const options = { replicas: 4, mode: "weak" as const, dir, basePort: 17100, host: "127.0.0.1", fresh: false }
    const first = await Effect.runPromise(prepareCluster(options))
    expect(first.genesis.view.n).toBe(4)
    expect(first.genesis.persistence).toBe("weak")
    expect(first.genesis.view.members.map((m) => m.address)).toEqual([0, 1, 2, 3].map((i) => `127.0.0.1:${17100 + i}`))
    for (let i = 0; i < 4; i++) {
      expect(first.configs[i]).toBe(nodeConfigPath(dir, i))
      const config = await Effect.runPromise(loadNodeConfig(first.configs[i]!))
      expect(config.http.port).toBe(httpPortOf(17100, 4, i))
      expect(config.http.port).toBe(17104 + i)
      expect(config.genesis).toBe(path.join(dir, "genesis.json"))
      expect(config.dataDir).toBe(path.join(dir, `replica-${i}`, "blocks"))
    }
    const again = await Effect.runPromise(prepareCluster(options))
    expect(again.genesis.chainId).toBe(first.genesis.chainId)
    const mismatch = await Effect.runPromise(Effect.either(prepareCluster({ ...options, mode: "strong" })))
    expect(Either.isLeft(mismatch) && mismatch.left.message).toMatch(/4 replicas in weak mode, not 4 in strong mode; use --fresh/)
    const fresh = await Effect.runPromise(prepareCluster({ ...options, replicas: 7, mode: "strong", fresh: true }))
    expect(fresh.genesis.view.n).toBe(7)
    expect(fresh.genesis.chainId).not.toBe(first.genesis.chainId)
    const other = path.join(root, "other")
    await fs.mkdir(other)
    await fs.writeFile(path.join(other, "notes.txt"), "keep me")
    const refused = await Effect.runPromise(Effect.either(prepareCluster({ ...options, dir: other, fresh: true })))
    expect(Either.isLeft(refused) && refused.left.message).toMatch(/refusing to delete/)
    expect(await fs.readFile(path.join(other, "notes.txt"), "utf8")).toBe("keep me")
  })
})
