/**
 * Generates conformance/vectors/apps.json: byte-exact examples of the coin and key-value
 * applications (conformance/APPS.md section 6). Everything derives from fixed labels (keys are
 * SHA-256 of a label, Ed25519 signing is deterministic), so generation is reproducible;
 * test/app/vectors.test.ts checks the committed file against a fresh generation.
 *
 *   npx tsx test/app/app-vectors.ts            writes the file
 *   npx tsx test/app/app-vectors.ts --check    exits 1 if the committed file differs
 */
import { Either, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Application, AppContext } from "../../src/app/application.ts"
import { appContext } from "../../src/app/application.ts"
import type { CoinOutput, Outpoint } from "../../src/app/coin.ts"
import { coinApp, coinLimits, decodeCoinOp, mintOp, spendOp } from "../../src/app/coin.ts"
import { casOp, decodeKvOp, deleteOp, kvApp, kvLimits, putOp } from "../../src/app/kv.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import { encodeTransaction } from "../../src/chain/encoding.ts"
import { txHash } from "../../src/chain/hash.ts"
import type { Genesis, Transaction } from "../../src/chain/types.ts"
import { keyPairFromLabel, signTransaction } from "../support/chain-builder.ts"
import type { KeyPair } from "../support/chain-builder.ts"

export const vectorsFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../conformance/vectors/apps.json")

const CHAIN_ID = "conformance-apps"

const json = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return toHex(v)
  if (typeof v === "bigint") return v.toString(10)
  if (Option.isOption(v)) return Option.isNone(v) ? null : json(v.value)
  if (Array.isArray(v)) return v.map(json)
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, json(x)]))
  return v
}

const keys = {
  minter: keyPairFromLabel("apps/minter"),
  alice: keyPairFromLabel("apps/alice"),
  bob: keyPairFromLabel("apps/bob")
}

/** A stand-in genesis: the applications read only chainId, minters and admission. */
const genesis = { chainId: CHAIN_ID, minters: [keys.minter.publicKey], admission: [] } as unknown as Genesis

/** Runs batches of (signer, op) through an application, recording every byte. */
const scenario = <S>(app: Application<S>, batches: ReadonlyArray<ReadonlyArray<readonly [KeyPair, Uint8Array, string]>>) => {
  let state = app.initial(genesis)
  let seq = 0n
  const out = []
  let height = 0n
  for (const batch of batches) {
    height++
    const txs: Array<Transaction> = batch.map(([k, op]) => signTransaction(CHAIN_ID, k, ++seq, op))
    const ctx: AppContext = appContext(crypto, genesis, height)
    const o = app.executeBatch(state, ctx, txs)
    state = o.state
    out.push({
      height: height.toString(10),
      transactions: txs.map((t, i) => ({
        note: batch[i]![2],
        hex: toHex(encodeTransaction(t)),
        txHash: toHex(txHash(crypto, t)),
        result: toHex(o.results[i]!),
        described: app.describeResult(o.results[i]!)
      })),
      snapshot: toHex(app.snapshot(state)),
      stateHash: toHex(app.stateHash(crypto, state))
    })
  }
  return out
}

const o = (k: KeyPair, amount: bigint): CoinOutput => ({ owner: k.publicKey, amount })
const signed = (k: KeyPair, seq: bigint, op: Uint8Array): Transaction => signTransaction(CHAIN_ID, k, seq, op)

const coinVectors = () => {
  const { minter, alice, bob } = keys
  // The outpoints the scenario refers to: transaction hashes are known before execution.
  const mint1 = signed(minter, 1n, mintOp([o(alice, 100n), o(bob, 50n)]))
  const m = (index: number): Outpoint => ({ txHash: txHash(crypto, mint1), index })
  const pay = spendOp([m(0)], [o(bob, 30n), o(alice, 70n)])
  const payTx = signed(alice, 3n, pay)
  const p = (index: number): Outpoint => ({ txHash: txHash(crypto, payTx), index })
  const batches: ReadonlyArray<ReadonlyArray<readonly [KeyPair, Uint8Array, string]>> = [
    [
      [minter, mintOp([o(alice, 100n), o(bob, 50n)]), "minter mints 100 to alice and 50 to bob"],
      [alice, mintOp([o(alice, 1n)]), "alice is not a minter"]
    ],
    [
      [alice, pay, "alice pays 30 to bob from the 100, 70 back to herself"],
      [bob, spendOp([p(1)], [o(bob, 70n)]), "bob spends alice's change"],
      [alice, spendOp([m(0)], [o(alice, 100n)]), "alice spends the 100 again"],
      [alice, spendOp([p(1)], [o(alice, 69n)]), "outputs total less than inputs"],
      [alice, spendOp([p(1), p(1)], [o(alice, 140n)]), "the same input twice"],
      [alice, spendOp([p(1)], [o(alice, 70n), o(bob, 0n)]), "an output of 0"],
      [alice, spendOp([p(1)], [o(alice, 0xffff_ffff_ffff_ffffn), o(bob, 71n)]), "outputs overflow a u64"],
      [alice, Uint8Array.of(2, 0, 0, 0, 1), "truncated SPEND"],
      [alice, mintOp(Array.from({ length: coinLimits.outputsMax + 1 }, () => o(alice, 1n))).subarray(0, 5), "MINT announcing 257 outputs"]
    ],
    [
      [bob, spendOp([m(1), p(0)], [o(alice, 80n)]), "bob sends everything he has (the mint's last output) to alice"],
      [alice, spendOp([m(1)], [o(alice, 50n)]), "the mint is fully spent and forgotten: unknown input"],
      [alice, spendOp([{ txHash: new Uint8Array(32), index: 0 }], [o(alice, 1n)]), "an outpoint that never existed"]
    ]
  ]
  return {
    ops: [
      { name: "MINT", value: json(Either.getOrThrow(decodeCoinOp(mintOp([o(alice, 100n), o(bob, 50n)])))), hex: toHex(mintOp([o(alice, 100n), o(bob, 50n)])) },
      { name: "SPEND", value: json(Either.getOrThrow(decodeCoinOp(pay))), hex: toHex(pay) }
    ],
    batches: scenario(coinApp, batches)
  }
}

const kvVectors = () => {
  const { alice, bob } = keys
  const k = (s: string) => new TextEncoder().encode(s)
  const batches: ReadonlyArray<ReadonlyArray<readonly [KeyPair, Uint8Array, string]>> = [
    [
      [alice, putOp(k("colour"), k("blue")), "PUT a new key"],
      [bob, putOp(k("size"), k("")), "PUT an empty value"],
      [alice, casOp(k("colour"), k("blue"), k("green")), "CAS against the current value"],
      [bob, casOp(k("colour"), k("blue"), k("red")), "CAS against a stale value"],
      [bob, casOp(k("shape"), undefined, k("round")), "CAS creating an absent key"],
      [bob, casOp(k("missing"), k("x"), k("y")), "CAS on an absent key"],
      [alice, deleteOp(k("size")), "DELETE"],
      [alice, deleteOp(k("size")), "DELETE again"],
      [alice, putOp(new Uint8Array(kvLimits.keyBytesMax + 1), k("v")), "a key over the limit"],
      [alice, Uint8Array.of(7), "an unknown tag"]
    ],
    [[bob, casOp(k("shape"), k("round"), undefined), "CAS deleting"]]
  ]
  const sample = casOp(k("colour"), k("blue"), k("green"))
  return {
    ops: [{ name: "CAS", value: json(Either.getOrThrow(decodeKvOp(sample))), hex: toHex(sample) }],
    batches: scenario(kvApp, batches)
  }
}

export const generateAppVectors = () => ({
  description:
    "Application vectors (conformance/APPS.md): transactions executed batch by batch from the empty state; each result, snapshot and stateHash is what an implementation must produce.",
  chainId: CHAIN_ID,
  keys: Object.fromEntries(Object.entries(keys).map(([label, kp]) => [label, { label: `apps/${label}`, publicKey: toHex(kp.publicKey) }])),
  minters: [toHex(keys.minter.publicKey)],
  coin: coinVectors(),
  kv: kvVectors()
})

export const appVectorsText = (): string => JSON.stringify(generateAppVectors(), null, 2) + "\n"

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const text = appVectorsText()
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(vectorsFile) ? fs.readFileSync(vectorsFile, "utf8") : ""
    if (current !== text) {
      console.error(`${vectorsFile} is stale: run npx tsx test/app/app-vectors.ts`)
      process.exit(1)
    }
    console.log(`${vectorsFile} is up to date`)
  } else {
    fs.writeFileSync(vectorsFile, text)
    console.log(`wrote ${vectorsFile}`)
  }
}
