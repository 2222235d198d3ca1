// Establishes: the node's reconfiguration parts on their own. View keys are files of their own
// (0600), made once per view, reloaded after a restart and forgotten once erased; membership
// requests are canonical reconfiguration transactions with a seq fixed by kind and view; results
// read as words; the per-view Verifier drops messages of views the replica's chain did not
// install (WrongView) and checks the others against their view's keys; `smartchain view` has help
// for each subcommand and fails with one line when no replica answers.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { failedResult, okResult } from "../../src/app/application.ts"
import { acceptSigningBytes, txSigningBytes } from "../../src/chain/encoding.ts"
import type { Accept } from "../../src/chain/types.ts"
import { makeConfig } from "../../src/core/config.ts"
import type { Input } from "../../src/core/io.ts"
import { initialState } from "../../src/core/state.ts"
import { genesisMachine } from "../../src/persistence/machine.ts"
import { genesisHash, viewHash } from "../../src/chain/hash.ts"
import { coinApp } from "../../src/app/coin.ts"
import { decodeReconfigOp, reconfigReasonCodes } from "../../src/reconfiguration/index.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { KeyFile } from "../../src/services/keystore.ts"
import { SignatureMemory } from "../../src/services/verifier.ts"
import { describeReconfigResult, membershipTransaction, NodeViewKeys, nodeReconfigSetup, requestSeq, ViewsVerifier } from "../../src/node/views.ts"
import { ChainBuilder } from "../support/chain-builder.ts"
import { runSmartchain } from "../support/smartchain-cli.ts"

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-node-views-"))

const identity = (): KeyFile => {
  const secretKey = nodeCrypto.generateSecretKey()
  return { kind: "identity", replica: undefined, view: undefined, publicKey: nodeCrypto.publicKeyFromSecret(secretKey), secretKey }
}

describe("node view keys", () => {
  it.effect("makes a view's key once, in a 0600 file, finds it again after a restart, and forgets it once erased", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(tempDir)
      const keys = yield* NodeViewKeys.load(dir, nodeCrypto, 2)
      expect(keys.held()).toEqual([])
      const k1 = yield* keys.make(1n)
      expect((yield* keys.make(1n)).publicKey).toEqual(k1.publicKey)
      const stat = yield* Effect.promise(() => fs.stat(path.join(dir, "view-1.key")))
      expect(stat.mode & 0o777).toBe(0o600)
      const message = new TextEncoder().encode("m")
      expect(nodeCrypto.verify(k1.publicKey, message, keys.signer(1n)!.sign(message))).toBe(true)
      const again = yield* NodeViewKeys.load(dir, nodeCrypto, 2)
      expect(again.held()).toEqual([1n])
      expect(again.key(1n)?.publicKey).toEqual(k1.publicKey)
      again.forget([1n])
      expect(again.signer(1n)).toBeUndefined()
      expect(() => again.lazySigner(1n).sign(message)).toThrow(/not held/)
    })
  )
})

describe("membership requests", () => {
  it("are signed reconfiguration transactions for the current view, with a seq fixed by kind, view and target", () => {
    const id = identity()
    const viewKey: KeyFile = { ...identity(), kind: "view", view: 4n }
    const join = membershipTransaction(nodeCrypto, "c", id, 3n, { kind: "join", address: "127.0.0.1:7000", viewKey })
    const leave = membershipTransaction(nodeCrypto, "c", id, 3n, { kind: "leave" })
    const remove = membershipTransaction(nodeCrypto, "c", id, 3n, { kind: "remove", target: 2 })
    expect(Either.getOrThrow(decodeReconfigOp(join.op))).toMatchObject({ _tag: "Join", viewId: 3n, address: "127.0.0.1:7000", viewKey: viewKey.publicKey })
    expect(Either.getOrThrow(decodeReconfigOp(leave.op))).toEqual({ _tag: "Leave", viewId: 3n })
    expect(Either.getOrThrow(decodeReconfigOp(remove.op))).toEqual({ _tag: "Remove", viewId: 3n, target: 2 })
    for (const tx of [join, leave, remove]) expect(nodeCrypto.verify(id.publicKey, txSigningBytes("c", tx), tx.signature)).toBe(true)
    expect([join.seq, leave.seq, remove.seq]).toEqual([requestSeq("join", 3n), requestSeq("leave", 3n), requestSeq("remove", 3n, 2)])
    expect(new Set([requestSeq("rotate", 3n), requestSeq("rotate", 4n), requestSeq("join", 3n)]).size).toBe(3)
  })

  it("results read as words", () => {
    expect(describeReconfigResult(okResult(new Uint8Array()))).toBe("ok")
    expect(describeReconfigResult(failedResult(reconfigReasonCodes.NotAdmitted, "the admission policy refuses this key"))).toBe(
      "refused: NotAdmitted: the admission policy refuses this key"
    )
    expect(describeReconfigResult(new Uint8Array([7]))).toMatch(/^undecodable result 07/)
  })
})

describe("the per-view Verifier", () => {
  it("checks a message against the view it names, and drops one of a view the chain did not install", async () => {
    const builder = new ChainBuilder({ persistence: "strong", seed: "views-verifier" })
    const genesis = builder.genesis
    const view = builder.currentView
    const dir = await tempDir()
    const keys = await Effect.runPromise(NodeViewKeys.load(dir, nodeCrypto, 0))
    const config = makeConfig({
      self: 0,
      chainId: genesis.chainId,
      view: genesis.view,
      limits: genesis.limits,
      crypto: nodeCrypto,
      signer: keys.lazySigner(0n),
      persistence: { mode: "strong", genesis, genesisHash: genesisHash(nodeCrypto, genesis), viewHash: viewHash(nodeCrypto, genesis.view), machine: genesisMachine(coinApp, nodeCrypto, genesis) },
      reconfig: nodeReconfigSetup(nodeCrypto, genesis, genesis.view.members[0]!.identityKey, keys)
    })
    const state = initialState(config)
    const verifier = new ViewsVerifier({ chainId: genesis.chainId, limits: genesis.limits, crypto: nodeCrypto, memory: new SignatureMemory() }, () => state)
    const accept = (viewId: bigint, by: number, from = by): Input => {
      const unsigned = { _tag: "Accept" as const, viewId, cid: 1n, regency: 0n, batchHash: new Uint8Array(32) }
      const signature = nodeCrypto.sign(view.secrets.get(by)!, acceptSigningBytes(genesis.chainId, unsigned))
      return { _tag: "Message", from, message: { ...unsigned, signature } satisfies Accept }
    }
    const good = accept(0n, 1)
    const unknownView = accept(1n, 1)
    // Replica 1's signature, claimed by replica 2.
    const forged = accept(0n, 1, 2)
    const tick: Input = { _tag: "Tick", nowMs: 1 }
    const result = verifier.verify([good, unknownView, tick, forged])
    expect(result.accepted).toEqual([good, tick])
    expect(result.rejected.map((r) => [r.input, r.reason])).toEqual(
      expect.arrayContaining([
        [unknownView, "WrongView"],
        [forged, expect.stringMatching(/Signature|NotAMember/)]
      ])
    )
  })
})

describe("smartchain view", () => {
  const run = runSmartchain

  it("has help for each subcommand, and fails with one line when no replica answers", async () => {
    for (const [sub, option] of [
      ["show", "--url"],
      ["join", "--key-dir"],
      ["leave", "--identity"],
      ["remove", "--target"]
    ] as const) {
      const help = await run("view", sub, "--help")
      expect(help.status).toBe(0)
      expect(help.stdout).toContain(option)
    }
    const none = await run("view", "show", "--url", "http://127.0.0.1:1")
    expect(none.status).toBe(1)
    expect(none.stderr).toMatch(/^error: no replica answered GET \/view/)
  })
})
