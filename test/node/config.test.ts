// Establishes: a node configuration is validated by its Schema and every error names the field
// at fault (missing, mistyped, out of range, unknown, not JSON); paths resolve against the
// file's directory; and starting a node checks the configuration against genesis and the key
// files (identity key not a member, view key of another replica, persistence mode differing,
// unreadable genesis), each a typed NodeConfigError naming the field.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { NodeConfigError } from "../../src/node/config.ts"
import { loadNodeConfig, parseNodeConfig, parseNodeConfigText } from "../../src/node/config.ts"
import { startNode } from "../../src/node/node.ts"
import { makeNetwork } from "./support.ts"

const valid = {
  genesis: "../genesis.json",
  identityKey: "identity.key",
  viewKey: "view-0.key",
  dataDir: "blocks",
  http: { port: 7104 }
}

const fieldOf = (json: unknown): string => {
  const r = parseNodeConfig("/etc/smartchain/replica-0/node.json", json)
  if (Either.isRight(r)) throw new Error("expected a validation error")
  expect(r.left._tag).toBe("NodeConfigError")
  expect(r.left.message).toContain(r.left.field)
  return r.left.field
}

describe("node configuration", () => {
  it("accepts a valid file, fills defaults and resolves paths against its directory", () => {
    const r = parseNodeConfig("/etc/smartchain/replica-0/node.json", valid)
    expect(Either.isRight(r)).toBe(true)
    if (Either.isLeft(r)) return
    expect(r.right.genesis).toBe("/etc/smartchain/genesis.json")
    expect(r.right.identityKey).toBe("/etc/smartchain/replica-0/identity.key")
    expect(r.right.http).toEqual({ host: "127.0.0.1", port: 7104 })
    expect(r.right.tickMs).toBe(10)
    expect(r.right.listen).toBeUndefined()
    expect(r.right.persistence).toBeUndefined()
  })

  it("names the field of each error", () => {
    const { genesis: _g, ...noGenesis } = valid
    expect(fieldOf(noGenesis)).toBe("genesis")
    expect(fieldOf({ ...valid, http: { port: 70000 } })).toBe("http.port")
    expect(fieldOf({ ...valid, http: { port: "80" } })).toBe("http.port")
    expect(fieldOf({ ...valid, http: { port: 80, host: "" } })).toBe("http.host")
    expect(fieldOf({ ...valid, listen: "localhost" })).toBe("listen")
    expect(fieldOf({ ...valid, listen: "127.0.0.1:0" })).toBe("listen")
    expect(fieldOf({ ...valid, persistence: "durable" })).toBe("persistence")
    expect(fieldOf({ ...valid, tickMs: 0 })).toBe("tickMs")
    expect(fieldOf({ ...valid, dataDir: "" })).toBe("dataDir")
    expect(fieldOf({ ...valid, lisen: "127.0.0.1:7100" })).toBe("lisen")
    expect(fieldOf([])).toBe("")
  })

  it("reports text that is not JSON, and a file that cannot be read", async () => {
    const r = parseNodeConfigText("node.json", "{ genesis: ")
    expect(Either.isLeft(r) && r.left.reason).toMatch(/^not JSON/)
    const missing = await Effect.runPromiseExit(loadNodeConfig("/nonexistent/node.json"))
    expect(Exit.isFailure(missing)).toBe(true)
    if (Exit.isFailure(missing)) expect(JSON.stringify(missing.cause)).toContain("cannot read")
  })

  it("checks keys, mode and genesis against each other when a node starts", async () => {
    const network = await makeNetwork(4, "memory")
    const file0 = network.configs[0]!
    const dir0 = path.dirname(file0)
    const write = async (patch: Record<string, unknown>) => {
      const json = { ...(JSON.parse(await fs.readFile(file0, "utf8")) as Record<string, unknown>), ...patch }
      const file = path.join(dir0, `variant-${Object.keys(patch).join("-")}.json`)
      await fs.writeFile(file, JSON.stringify(json))
      return file
    }
    const startError = async (file: string): Promise<NodeConfigError> => {
      const exit = await Effect.runPromiseExit(Effect.scoped(Effect.flatMap(loadNodeConfig(file), (c) => startNode(c, { netLog: () => {} }))))
      if (Exit.isSuccess(exit)) throw new Error("expected the node not to start")
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      if (failure === undefined || failure._tag !== "NodeConfigError") throw new Error(`unexpected: ${JSON.stringify(exit.cause)}`)
      return failure
    }
    // Replica 1's view key with replica 0's identity.
    expect((await startError(await write({ viewKey: "../replica-1/view-0.key" }))).field).toBe("viewKey")
    // A view key where the identity key belongs: wrong kind of key.
    expect((await startError(await write({ identityKey: "view-0.key" }))).field).toBe("identityKey")
    // A client key is not a member's identity.
    expect((await startError(await write({ identityKey: "../clients/minter-0.key" }))).field).toBe("identityKey")
    const mode = await startError(await write({ persistence: "strong" }))
    expect(mode.field).toBe("persistence")
    expect(mode.message).toContain("genesis mode is memory")
    expect((await startError(await write({ genesis: "../nowhere.json" }))).field).toBe("genesis")
    await fs.writeFile(path.join(network.dir, "broken-genesis.json"), JSON.stringify({ chainId: "x" }))
    expect((await startError(await write({ genesis: "../broken-genesis.json" }))).message).toContain("broken-genesis.json")
  })
})
