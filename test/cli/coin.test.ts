// Establishes: `smartchain coin mint|spend|balance` against a running four-replica strong-mode
// network (in this process, over TCP and HTTP, blocks in classic-level stores) mint coins, move them with change, and report balances rebuilt
// from the chain; they fail with one clear line and exit 1 for insufficient funds, a bad key file,
// a bad amount, and no reachable replica; each subcommand has --help; input selection and the
// unspent-output rebuild follow the coin's rules.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { mintOp, spendOp } from "../../src/app/coin.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { applyBlockToUtxos, parseAmount, selectInputs, utxosOf } from "../../src/cli/coin.ts"
import type { Utxo } from "../../src/cli/coin.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { freePorts, makeNetwork, startCluster, waitUntil } from "../node/support.ts"
import { runSmartchain as smartchain } from "../support/smartchain-cli.ts"


const key = () => {
  const secret = nodeCrypto.generateSecretKey()
  return nodeCrypto.publicKeyFromSecret(secret)
}

describe("coin helpers", () => {
  it("selectInputs takes the largest outputs until the amount is reached, and says when it cannot be", () => {
    const owner = key()
    const u = (amount: bigint, index: number): Utxo => ({ outpoint: { txHash: new Uint8Array(32).fill(index), index }, owner, amount })
    const owned = [u(5n, 1), u(50n, 2), u(20n, 3)]
    const s = selectInputs(owned, 60n)
    expect(s?.inputs.map((x) => x.amount)).toEqual([50n, 20n])
    expect(s?.total).toBe(70n)
    expect(selectInputs(owned, 76n)).toBeUndefined()
    expect(selectInputs(owned, 75n)?.inputs.length).toBe(3)
  })

  it("applyBlockToUtxos adds successful outputs, removes spent inputs and ignores failed transactions", () => {
    const a = key()
    const b = key()
    const hashMint = new Uint8Array(32).fill(7)
    const hashSpend = new Uint8Array(32).fill(9)
    const okResult = (tag: number, hash: Uint8Array, outputs: number) => Uint8Array.from([0, tag, ...hash, 0, 0, 0, outputs])
    const utxos = new Map<string, Utxo>()
    applyBlockToUtxos(utxos, [mintOp([{ owner: a, amount: 100n }])], [okResult(1, hashMint, 1)])
    expect(utxosOf(utxos, a).map((x) => x.amount)).toEqual([100n])
    const spend = spendOp([{ txHash: hashMint, index: 0 }], [{ owner: b, amount: 30n }, { owner: a, amount: 70n }])
    // A failed result (status byte 1) changes nothing.
    applyBlockToUtxos(utxos, [spend], [Uint8Array.from([1, 8, 0, 0])])
    expect(utxosOf(utxos, a).map((x) => x.amount)).toEqual([100n])
    applyBlockToUtxos(utxos, [spend], [okResult(2, hashSpend, 2)])
    expect(utxosOf(utxos, a).map((x) => x.amount)).toEqual([70n])
    expect(utxosOf(utxos, b).map((x) => [x.amount, x.outpoint.index])).toEqual([[30n, 0]])
  })

  it("parseAmount accepts 1 to 2^64-1 and refuses the rest", () => {
    expect(parseAmount("18446744073709551615")).toEqual(Either.right(18446744073709551615n))
    for (const bad of ["0", "-1", "1.5", "abc", "18446744073709551616", ""]) expect(Either.isLeft(parseAmount(bad))).toBe(true)
  })
})

describe("smartchain coin against a running network", () => {
  it("mints, spends with change, reports balances, and fails clearly on bad input", { timeout: 60_000 }, async () => {
    for (const sub of ["mint", "spend", "balance"]) {
      const help = await smartchain("coin", sub, "--help")
      expect(help.status).toBe(0)
      expect(help.stdout).toContain("--url")
    }
    expect((await smartchain("coin", "mint", "--help")).stdout).toContain("--minter")
    expect((await smartchain("coin", "spend", "--help")).stdout).toContain("--from")
    expect((await smartchain("coin", "balance", "--help")).stdout).toContain("--key-file")

    const [dead] = await freePorts(1)
    const unreachable = await smartchain("coin", "balance", "--key", "ab".repeat(32), "--url", `http://127.0.0.1:${dead}`)
    expect(unreachable.status).toBe(1)
    expect(unreachable.stderr).toContain("no replica reachable")

    // Strong mode: the replicas run the durable commit pipeline, and the client library accepts a
    // result on a certified reply (the block's certificate and the Merkle paths), or f + 1 matching ones.
    const network = await makeNetwork(4, "strong")
    const cluster = await startCluster(network)
    try {
      await waitUntil(() => cluster.nodes.every((n) => n.transport.manager.connectedPeers().length === 3), "the full mesh")
      const urls = cluster.nodes.flatMap((n) => ["--url", n.httpUrl])
      const minterFile = path.join(network.dir, "clients", "minter-0.key")
      const minterHex = toHex(network.minter.publicKey)
      const receiver = toHex(key())

      const minted = await smartchain("coin", "mint", "--amount", "1000", "--minter", minterFile, ...urls)
      expect(minted.stderr).toBe("")
      expect(minted.status).toBe(0)
      expect(minted.stdout).toContain(`minted 1000 to ${minterHex}`)
      expect(minted.stdout).toMatch(/accepted by (a certified reply|2 matching replies); the rule is 2 matching replies or a certified one \(strong mode\)/)

      const sent = await smartchain("coin", "spend", "--from", minterFile, "--to", receiver, "--amount", "300", ...urls)
      expect(sent.stderr).toBe("")
      expect(sent.stdout).toContain("(change 700)")

      const minterBalance = await smartchain("coin", "balance", "--key-file", minterFile, ...urls)
      expect(minterBalance.stdout).toContain(`balance of ${minterHex}: 700 in 1 unspent output(s)`)
      const receiverBalance = await smartchain("coin", "balance", "--key", receiver, ...urls)
      expect(receiverBalance.stdout).toContain(`balance of ${receiver}: 300 in 1 unspent output(s)`)

      const tooMuch = await smartchain("coin", "spend", "--from", minterFile, "--to", receiver, "--amount", "701", ...urls)
      expect(tooMuch.status).toBe(1)
      expect(tooMuch.stderr).toContain(`insufficient funds: ${minterHex} holds 700, cannot send 701`)

      const badKey = path.join(network.dir, "bad.key")
      await fs.writeFile(badKey, "{ not a key", { mode: 0o600 })
      const badKeyRun = await smartchain("coin", "spend", "--from", badKey, "--to", receiver, "--amount", "1", ...urls)
      expect(badKeyRun.status).toBe(1)
      expect(badKeyRun.stderr).toContain(`key file ${badKey}`)

      const badAmount = await smartchain("coin", "mint", "--amount", "0", "--minter", minterFile, ...urls)
      expect(badAmount.status).toBe(1)
      expect(badAmount.stderr).toContain("--amount must be a whole number")

      const both = await smartchain("coin", "balance", "--key", receiver, "--key-file", minterFile, ...urls)
      expect(both.status).toBe(1)
      expect(both.stderr).toContain("exactly one of --key")

      // A key that is not a minter is refused by the coin itself.
      const notMinter = path.join(network.dir, "clients", "other.key")
      const secret = nodeCrypto.generateSecretKey()
      await fs.writeFile(
        notMinter,
        JSON.stringify({ format: "smartchain-key/1", kind: "client", publicKey: toHex(nodeCrypto.publicKeyFromSecret(secret)), secretKey: toHex(secret) }),
        { mode: 0o600 }
      )
      const refused = await smartchain("coin", "mint", "--amount", "5", "--minter", notMinter, ...urls)
      expect(refused.status).toBe(1)
      expect(refused.stderr).toContain("mint refused: NotMinter")
    } finally {
      await cluster.stop()
    }
  })
})
