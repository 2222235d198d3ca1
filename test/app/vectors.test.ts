// Establishes: conformance/vectors/apps.json is exactly what test/app/app-vectors.ts generates, and
// replaying its transactions (decoded from their hex) through the coin and key-value applications,
// with either SHA-256 implementation, reproduces every result, snapshot and stateHash it lists.
import { Either } from "effect"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import type { Application } from "../../src/app/application.ts"
import { appContext } from "../../src/app/application.ts"
import { coinApp } from "../../src/app/coin.ts"
import { kvApp } from "../../src/app/kv.ts"
import { fromHex, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { decodeTransaction } from "../../src/chain/encoding.ts"
import type { Genesis } from "../../src/chain/types.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { appVectorsText, vectorsFile } from "./app-vectors.ts"

interface TxVector { readonly hex: string; readonly txHash: string; readonly result: string }
interface BatchVector { readonly height: string; readonly transactions: ReadonlyArray<TxVector>; readonly snapshot: string; readonly stateHash: string }
interface Vectors {
  readonly chainId: string
  readonly minters: ReadonlyArray<string>
  readonly coin: { readonly batches: ReadonlyArray<BatchVector> }
  readonly kv: { readonly batches: ReadonlyArray<BatchVector> }
}

const bytes = (hex: string): Uint8Array => {
  const b = fromHex(hex)
  if (b === undefined) throw new Error("bad hex in apps.json")
  return b
}
const text = fs.readFileSync(vectorsFile, "utf8")
const vectors = JSON.parse(text) as Vectors

const replay = <S>(app: Application<S>, batches: ReadonlyArray<BatchVector>, crypto: typeof portableCrypto) => {
  const genesis = { chainId: vectors.chainId, minters: vectors.minters.map(bytes), admission: [] } as unknown as Genesis
  let state = app.initial(genesis)
  for (const b of batches) {
    const txs = b.transactions.map((t) => Either.getOrThrow(decodeTransaction(bytes(t.hex))))
    const o = app.executeBatch(state, appContext(crypto, genesis, BigInt(b.height)), txs)
    expect(o.results.map(toHex)).toEqual(b.transactions.map((t) => t.result))
    expect(toHex(app.snapshot(o.state))).toBe(b.snapshot)
    expect(toHex(app.stateHash(crypto, o.state))).toBe(b.stateHash)
    const restored = app.restore(bytes(b.snapshot))
    expect(Either.isRight(restored) && toHex(app.snapshot(restored.right)) === b.snapshot).toBe(true)
    state = o.state
  }
}

describe("application vectors", () => {
  it("the committed file is up to date", () => {
    expect(text).toBe(appVectorsText())
  })
  for (const [name, crypto] of [["portable", portableCrypto], ["node", nodeCrypto]] as const) {
    it(`coin batches replay to the listed bytes (${name} SHA-256)`, () => replay(coinApp, vectors.coin.batches, crypto))
    it(`kv batches replay to the listed bytes (${name} SHA-256)`, () => replay(kvApp, vectors.kv.batches, crypto))
  }
})
