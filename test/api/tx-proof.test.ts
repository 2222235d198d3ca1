// Establishes: `checkTxProof` accepts a GET /tx answer whose Merkle paths lead to the header's
// roots and whose certificate (q COMMITs of the trusted view) certifies the header, and rejects,
// naming the problem, an answer whose result, index or path was altered, whose certificate has a
// bad signature or certifies another header, one for another transaction, and in strong mode one
// without a certificate; a weak-mode answer needs no certificate.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { certificateJson, headerJson } from "../../src/api/json.ts"
import { checkTxProof } from "../../src/api/tx-proof.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { resultHash, txHash } from "../../src/chain/hash.ts"
import { merklePaths, trustedView } from "../../src/chain/reply.ts"
import type { Block, Certificate } from "../../src/chain/types.ts"
import { buildChain } from "../support/chain-builder.ts"

const chain = buildChain({ persistence: "strong", blocks: 3, txPerBlock: 5 })
const view = trustedView(portableCrypto, chain.genesis.chainId, chain.genesis.view)
const block = chain.blocks[1]!
// Block 2's certificate travels in block 3's body.
const certificate: Certificate = chain.blocks[2]!.prevCertificate._tag === "Some" ? chain.blocks[2]!.prevCertificate.value : chain.certificates[1]!

/** The answer a replica serves for transaction `index` of `b`, as src/api/server.ts writes it. */
const answerFor = (b: Block, index: number, cert: Certificate | undefined): Record<string, unknown> => {
  const txPaths = merklePaths(portableCrypto, b.transactions.map((t) => txHash(portableCrypto, t)))
  const resultPaths = merklePaths(portableCrypto, b.results.map((r) => resultHash(portableCrypto, r)))
  return {
    height: b.header.height.toString(),
    index,
    result: toHex(b.results[index]!),
    leafCount: b.transactions.length,
    resultLeafCount: b.results.length,
    header: headerJson(b.header),
    txPath: txPaths[index]!.map(toHex),
    resultPath: resultPaths[index]!.map(toHex),
    certificate: cert === undefined ? null : certificateJson(cert)
  }
}

const check = (json: unknown, index = 3, mode: "strong" | "weak" = "strong") => checkTxProof(portableCrypto, view, mode, block.transactions[index]!, json)

const flipHex = (hex: string): string => (hex[0] === "0" ? "1" : "0") + hex.slice(1)

describe("checkTxProof", () => {
  it("accepts a served proof with its certificate", () => {
    expect(certificate.height).toBe(block.header.height)
    const ok = check(answerFor(block, 3, certificate))
    expect(Either.isRight(ok) && ok.right).toMatchObject({ height: block.header.height, index: 3, certified: true })
    expect(Either.isRight(ok) && toHex(ok.right.result)).toBe(toHex(block.results[3]!))
  })

  it("rejects altered answers, naming what does not hold", () => {
    const good = answerFor(block, 3, certificate)
    const cert = good["certificate"] as ReturnType<typeof certificateJson>
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["result", { ...good, result: flipHex(good["result"] as string) }, /result is not leaf 3/],
      ["index", { ...good, index: 2 }, /not leaf 2 of the block's txRoot/],
      ["tx path", { ...good, txPath: (good["txPath"] as Array<string>).map((h, i) => (i === 0 ? flipHex(h) : h)) }, /transaction is not leaf 3/],
      ["result path", { ...good, resultPath: [] }, /result is not leaf 3/],
      [
        "certificate signature",
        { ...good, certificate: { ...cert, commits: cert.commits.map((c, i) => (i === 0 ? { ...c, signature: flipHex(c.signature) } : c)) } },
        /BadSignature/
      ],
      ["certificate of another block", { ...good, certificate: certificateJson(chain.certificates[0] ?? certificate) }, /WrongBlock/],
      ["missing certificate", { ...good, certificate: null }, /without its certificate/],
      ["malformed", { ...good, header: "x" }, /malformed answer/]
    ]
    for (const [what, json, reason] of cases) {
      const r = check(json)
      expect(Either.isLeft(r), what).toBe(true)
      if (Either.isLeft(r)) expect(r.left, what).toMatch(reason)
    }
    // The proof of transaction 3 is no proof for transaction 1.
    const other = check(good, 1)
    expect(Either.isLeft(other) && other.left).toMatch(/not leaf 3 of the block's txRoot/)
  })

  it("accepts a weak-mode answer without a certificate", () => {
    const r = check(answerFor(block, 0, undefined), 0, "weak")
    expect(Either.isRight(r) && r.right.certified).toBe(false)
  })
})
