// Establishes: the `smartchain` command has node, cluster and status subcommands, each with --help;
// `smartchain node` with a bad configuration exits 1 with one line naming the file and field;
// `smartchain status` reports replicas that do not answer and exits 1 when none does; a
// `smartchain node` process orders a transaction submitted over HTTP, and on SIGTERM shuts down
// cleanly (exit 0).
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { freePorts, get, makeNetwork, mintTx, post, txBody, waitUntil } from "./support.ts"
import { runSmartchain as smartchain } from "../support/smartchain-cli.ts"

const root = path.resolve(import.meta.dirname, "../..")


describe("smartchain node, cluster and status", () => {
  it("print help, refuse a bad configuration naming its field, and report replicas that do not answer", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "smartchain-cli-node-"))
    const config = path.join(dir, "node.json")
    await fs.writeFile(config, JSON.stringify({ genesis: "g.json", identityKey: "i.key", viewKey: "v.key", dataDir: "d", http: { port: 99999 } }))
    const [dead] = await freePorts(1)
    const nodeHelp = await smartchain("node", "--help")
    expect(nodeHelp.status).toBe(0)
    expect(nodeHelp.stdout).toContain("--config")
    expect(nodeHelp.stdout).toContain("Run one replica")
    const clusterHelp = await smartchain("cluster", "--help")
    expect(clusterHelp.status).toBe(0)
    for (const option of ["--replicas", "--mode", "--dir", "--base-port", "--fresh"]) expect(clusterHelp.stdout).toContain(option)
    const statusHelp = await smartchain("status", "--help")
    expect(statusHelp.status).toBe(0)
    expect(statusHelp.stdout).toContain("--url")
    const badConfig = await smartchain("node", "--config", config)
    expect(badConfig.status).toBe(1)
    expect(badConfig.stderr.trim()).toBe(`error: ${config}: http.port: expected a port from 0 to 65535`)
    const status = await smartchain("status", "--url", `http://127.0.0.1:${dead}`)
    expect(status.status).toBe(1)
    expect(status.stdout).toContain(`http://127.0.0.1:${dead}  not answering`)
    expect(status.stderr).toContain("no replica answered")
  })

  it("runs one replica process that orders a transaction over HTTP and stops cleanly on SIGTERM", async () => {
    const network = await makeNetwork(1, "memory")
    const [httpPort] = await freePorts(1)
    const config = network.configs[0]!
    const json = JSON.parse(await fs.readFile(config, "utf8")) as Record<string, unknown>
    await fs.writeFile(config, JSON.stringify({ ...json, http: { host: "127.0.0.1", port: httpPort } }))
    const child = spawn(process.execPath, [path.join(root, "bin/smartchain.js"), "node", "--config", config], { cwd: root })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      await waitUntil(() => stdout.includes(`API http://127.0.0.1:${httpPort}`), "the replica to start", 100_000)
      const tx = mintTx(network, 1n, 5n)
      expect((await post(`http://127.0.0.1:${httpPort}/tx`, JSON.stringify(txBody(tx)))).status).toBe(202)
      const url = `http://127.0.0.1:${httpPort}/tx/${txBody(tx).client}/1`
      await waitUntil(async () => (await get(url)).status === 200, "the transaction to be decided")
      expect((await get(url)).json["height"]).toBe("1")
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
    expect(stdout).toContain("replica stopped")
    expect(stderr).toBe("")
  }, 150_000)
})
