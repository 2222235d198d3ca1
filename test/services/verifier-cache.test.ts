// Establishes: the Verifier's memory of valid signatures saves work without ever changing an
// answer. A signature is checked once however often it comes (alone, again, twice in one batch,
// in a PROPOSE), a valid signature reused with another message or another key is checked again
// and refused, a failed signature is never remembered, and inputs refused for a cheap reason
// cost no signature check.
import { describe, expect, it } from "vitest"
import type { Transaction } from "../../src/chain/types.ts"
import type { Input } from "../../src/core/io.ts"
import type { CryptoImpl, SignedItem } from "../../src/services/crypto.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import { InputVerifier, SignatureMemory } from "../../src/services/verifier.ts"
import { Prng } from "../sim/prng.ts"
import { chainId, makeWorld, signTx, simLimits } from "../sim/world.ts"

/** nodeCrypto, counting the signatures handed to verifyBatch. */
const counting = (): { readonly crypto: CryptoImpl; checked: number } => {
  const box = {
    checked: 0,
    crypto: {
      ...nodeCrypto,
      verifyBatch: (items: ReadonlyArray<SignedItem>) => {
        box.checked += items.length
        return nodeCrypto.verifyBatch(items)
      }
    }
  }
  return box
}

const setup = () => {
  const world = makeWorld(new Prng(7), 4, 3, simLimits)
  const box = counting()
  const verifier = new InputVerifier({ chainId, view: world.view, quorum: 3, limits: world.limits, crypto: box.crypto })
  return { world, box, verifier }
}

const request = (tx: Transaction): Input => ({ _tag: "Transaction", tx })
const propose = (batch: ReadonlyArray<Transaction>): Input => ({
  _tag: "Message",
  from: 0,
  message: { _tag: "Propose", viewId: 0n, cid: 1n, regency: 0n, batch }
})

describe("the Verifier's signature memory", () => {
  it("checks a transaction's signature once: twice in one batch, again alone, again in a PROPOSE", () => {
    const { world, box, verifier } = setup()
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const b = signTx(world.clients[1]!, 1n, new Uint8Array([2]))
    const first = verifier.verify([request(a), request(a), request(b)])
    expect(first.accepted.length).toBe(3)
    expect(box.checked).toBe(2)
    expect(verifier.verify([request({ ...a, op: Uint8Array.from(a.op) })]).accepted.length).toBe(1)
    expect(verifier.verify([propose([b, a])]).accepted.length).toBe(1)
    expect(box.checked).toBe(2)
  })

  it("refuses a remembered signature carried with another message or by another key, each time", () => {
    const { world, box, verifier } = setup()
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    expect(verifier.verify([request(a)]).accepted.length).toBe(1)
    const otherOp = { ...a, op: new Uint8Array([9]) }
    const otherSeq = { ...a, seq: 2n }
    const otherKey = { ...a, client: world.clients[1]!.publicKey }
    for (let round = 0; round < 2; round++) {
      const result = verifier.verify([request(otherOp), request(otherSeq), request(otherKey), request(a)])
      expect(result.rejected.map((r) => r.reason)).toEqual(["BadTxSignature", "BadTxSignature", "BadTxSignature"])
      expect(result.accepted).toEqual([request(a)])
    }
    // Each forgery was checked in both rounds (never remembered); the genuine one only at first.
    expect(box.checked).toBe(1 + 3 * 2)
  })

  it("a forgery in the same batch as the genuine transaction does not ride on its check", () => {
    const { world, verifier } = setup()
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const forged = { ...a, op: new Uint8Array([2]) }
    const result = verifier.verify([request(forged), request(a), propose([a, forged])])
    expect(result.accepted).toEqual([request(a)])
    expect(result.rejected.map((r) => r.reason)).toEqual(["BadTxSignature", "BadTxSignature"])
  })

  it("an input refused for a cheap reason costs no signature check", () => {
    const { world, box, verifier } = setup()
    const txs = Array.from({ length: world.limits.batchTxMax + 1 }, (_, i) => signTx(world.clients[0]!, BigInt(i + 1), new Uint8Array([i])))
    const result = verifier.verify([propose(txs), { _tag: "Message", from: 99, message: { _tag: "Propose", viewId: 0n, cid: 1n, regency: 0n, batch: [txs[0]!] } }])
    expect(result.rejected.map((r) => r.reason)).toEqual(["TooLarge", "NotAMember"])
    expect(box.checked).toBe(0)
  })

  it("a memory shared with another checker (the HTTP API) spares the Verifier its check, and only for the same bytes", () => {
    const world = makeWorld(new Prng(9), 4, 2, simLimits)
    const box = counting()
    const memory = new SignatureMemory()
    const verifier = new InputVerifier({ chainId, view: world.view, quorum: 3, limits: world.limits, crypto: box.crypto, memory })
    const api = memory.crypto(box.crypto)
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    const b = signTx(world.clients[1]!, 1n, new Uint8Array([2]))
    let direct = 0
    const apiCrypto = memory.crypto({ ...nodeCrypto, verify: (k, m, s) => (direct++, nodeCrypto.verify(k, m, s)) })
    expect(apiCrypto.verify(a.client, txSigningBytes(chainId, a), a.signature)).toBe(true)
    expect(apiCrypto.verify(a.client, txSigningBytes(chainId, a), a.signature)).toBe(true)
    expect(direct).toBe(1)
    // Checked on the "API" side: the Verifier checks only b.
    expect(verifier.verify([request(a), request(b)]).accepted.length).toBe(2)
    expect(box.checked).toBe(1)
    // And what the Verifier found valid, the API knows; a forgery is refused and not remembered.
    expect(api.verify(b.client, txSigningBytes(chainId, b), b.signature)).toBe(true)
    const forged = txSigningBytes(chainId, { ...b, op: new Uint8Array([3]) })
    expect(apiCrypto.verify(b.client, forged, b.signature)).toBe(false)
    expect(apiCrypto.verify(b.client, forged, b.signature)).toBe(false)
    expect(direct).toBe(3)
  })

  it("a full memory forgets its oldest signature first", () => {
    const world = makeWorld(new Prng(11), 4, 1, simLimits)
    const memory = new SignatureMemory(2)
    const txs = [1, 2, 3].map((i) => signTx(world.clients[0]!, BigInt(i), new Uint8Array([i])))
    const items = txs.map((tx) => ({ publicKey: tx.client, message: txSigningBytes(chainId, tx), signature: tx.signature }))
    for (const item of items) memory.remember(item)
    expect(items.map((item) => memory.knows(item))).toEqual([false, true, true])
  })

  it("a transaction object checked once is known by object, and only for the chain it was checked on", () => {
    const world = makeWorld(new Prng(13), 4, 1, simLimits)
    const box = counting()
    const memory = new SignatureMemory()
    const verifier = new InputVerifier({ chainId, view: world.view, quorum: 3, limits: world.limits, crypto: box.crypto, memory })
    const a = signTx(world.clients[0]!, 1n, new Uint8Array([1]))
    let direct = 0
    const crypto = { ...nodeCrypto, verify: (k: Uint8Array, m: Uint8Array, sig: Uint8Array) => (direct++, nodeCrypto.verify(k, m, sig)) }
    expect(memory.verifyTransaction(crypto, chainId, a)).toBe(true)
    expect(memory.knowsTransaction(a, chainId)).toBe(true)
    expect(memory.verifyTransaction(crypto, chainId, a)).toBe(true)
    expect(direct).toBe(1)
    // Another chain: checked again, and the signature (made for this chain) fails there.
    expect(memory.knowsTransaction(a, "another-chain")).toBe(false)
    expect(memory.verifyTransaction(crypto, "another-chain", a)).toBe(false)
    expect(direct).toBe(2)
    // The Verifier takes the object as checked; an equal copy through the signature memory; neither is verified again.
    expect(verifier.verify([request(a), request({ ...a })]).accepted.length).toBe(2)
    expect(box.checked).toBe(0)
    // A forged copy is a new object: checked, refused, and not remembered.
    const forged = { ...a, op: new Uint8Array([2]) }
    expect(verifier.verify([request(forged)]).rejected.map((r) => r.reason)).toEqual(["BadTxSignature"])
    expect(memory.knowsTransaction(forged, chainId)).toBe(false)
    expect(box.checked).toBe(1)
    // What the Verifier checked it remembers by object too.
    const b = signTx(world.clients[0]!, 2n, new Uint8Array([3]))
    expect(verifier.verify([propose([b])]).accepted.length).toBe(1)
    expect(memory.knowsTransaction(b, chainId)).toBe(true)
  })
})
