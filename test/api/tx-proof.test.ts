// Establishes: `checkTxProof` accepts a GET /tx answer whose Merkle paths lead to the header's
// roots and whose certificate (q COMMITs of the view current at the block's height) certifies the
// header, and rejects, with a typed reason, an answer whose result, index or path was altered,
// whose certificate has a bad signature or certifies another header, one for another
// transaction, and in strong mode one without a certificate; a weak-mode answer needs no
// certificate. Across a view change (a join): a caller that trusted view 0 checks the proof of a
// block certified by view 1 once it learned view 1 from the certified reconfiguration block
// (`fetchTxProof` asks GET /views by itself), refuses it with WrongView before, refuses a forged
// certificate by the superseded view 0 with WrongView, and learns nothing from a forged change.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { certificateJson, headerJson, viewJson } from "../../src/api/json.ts"
import { checkTxProof, fetchTxProof, TxProofViews } from "../../src/api/tx-proof.ts"
import { toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { resultHash, txHash, viewHash } from "../../src/chain/hash.ts"
import { merkleProof } from "../../src/chain/merkle.ts"
import { merklePaths } from "../../src/chain/reply.ts"
import type { Block, Certificate, ViewRecord } from "../../src/chain/types.ts"
import { buildChain } from "../support/chain-builder.ts"
import { joinTx, leaveTx, Network, rotateTx } from "../reconfiguration/support.ts"

const chain = buildChain({ persistence: "strong", blocks: 3, txPerBlock: 5 })
const view = Either.getOrThrow(TxProofViews.trusting(portableCrypto, chain.genesis.chainId, chain.genesis.view))
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
    expect(Either.isRight(ok) && ok.right).toMatchObject({ height: block.header.height, index: 3, certified: true, viewId: 0n })
    expect(Either.isRight(ok) && toHex(ok.right.result)).toBe(toHex(block.results[3]!))
  })

  it("rejects altered answers, naming what does not hold", () => {
    const good = answerFor(block, 3, certificate)
    const cert = good["certificate"] as ReturnType<typeof certificateJson>
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["result", { ...good, result: flipHex(good["result"] as string) }, /^BadResult: the result is not leaf 3/],
      ["index", { ...good, index: 2 }, /^NotInBlock: .*not leaf 2 of the block's txRoot/],
      ["tx path", { ...good, txPath: (good["txPath"] as Array<string>).map((h, i) => (i === 0 ? flipHex(h) : h)) }, /^NotInBlock: the transaction is not leaf 3/],
      ["result path", { ...good, resultPath: [] }, /^BadResult: the result is not leaf 3/],
      [
        "certificate signature",
        { ...good, certificate: { ...cert, commits: cert.commits.map((c, i) => (i === 0 ? { ...c, signature: flipHex(c.signature) } : c)) } },
        /^BadSignature: /
      ],
      ["certificate of another block", { ...good, certificate: certificateJson(chain.certificates[0] ?? certificate) }, /^WrongBlock: /],
      ["missing certificate", { ...good, certificate: null }, /^MissingCertificate: .*without its certificate/],
      ["malformed", { ...good, header: "x" }, /^Malformed: malformed answer/]
    ]
    for (const [what, json, reason] of cases) {
      const r = check(json)
      expect(Either.isLeft(r), what).toBe(true)
      if (Either.isLeft(r)) expect(`${r.left.reason}: ${r.left.detail}`, what).toMatch(reason)
    }
    // The proof of transaction 3 is no proof for transaction 1.
    const other = check(good, 1)
    expect(Either.isLeft(other) && other.left).toMatchObject({ reason: "NotInBlock", detail: expect.stringMatching(/not leaf 3 of the block's txRoot/) })
  })

  it("accepts a weak-mode answer without a certificate", () => {
    const r = check(answerFor(block, 0, undefined), 0, "weak")
    expect(Either.isRight(r) && r.right.certified).toBe(false)
  })
})

/**
 * view 0 {0,1,2,3}; block 1: replica 3 leaves and label 4 joins; block 2: 0, 1 and 2 rotate and it
 * installs view 1 {0,1,2,4}; block 3: a client transaction certified by view 1. The view-0 keys
 * stay known to the test: they are what the fork adversary holds.
 */
const joined = () => {
  const net = new Network({ seed: "tx-proof-views", persistence: "strong", admit: [4] })
  const view0 = net.builder.currentView
  net.block([leaveTx(net, 3), joinTx(net, 4)])
  net.block([0, 1, 2].map((r) => rotateTx(net, r)))
  expect(net.state.view.id).toBe(1n)
  const block = net.block([], 1)
  expect(block.header.viewId).toBe(1n)
  return { net, view0, block, certificate: net.builder.certificates[2]! }
}

/** Block `height` of `net` as GET /views lists the view change it made. */
const changeJson = (net: Network, height: number, newView?: ViewRecord) => {
  const b = net.builder.blocks[height - 1]!
  const installed = Option.getOrThrow(b.newView)
  const leaves = [...b.results.map((r) => resultHash(portableCrypto, r)), viewHash(portableCrypto, installed)]
  return {
    header: headerJson(b.header),
    certificate: certificateJson(net.builder.certificates[height - 1]!),
    newView: viewJson(newView ?? installed),
    proof: { index: leaves.length - 1, leafCount: leaves.length, siblings: merkleProof(portableCrypto, leaves, leaves.length - 1).map(toHex) }
  }
}

const viewsAnswer = (net: Network, changes: ReadonlyArray<unknown>, height = net.builder.height) => ({
  current: viewJson(net.state.view),
  installedAt: "2",
  height: height.toString(),
  changes
})

describe("checkTxProof across a view change", () => {
  it("a caller that trusted view 0 checks a proof certified by view 1 after learning it, and refuses a forged view-0 certificate", () => {
    const { net, view0, block, certificate } = joined()
    const views = Either.getOrThrow(TxProofViews.trusting(portableCrypto, net.chainId, net.builder.genesis.view))
    const tx = block.transactions[0]!
    const answer = answerFor(block, 0, certificate)
    // Before it learned view 1: a view it does not know yet.
    const early = checkTxProof(portableCrypto, views, "strong", tx, answer)
    expect(Either.isLeft(early) && early.left).toMatchObject({ reason: "WrongView", detail: expect.stringMatching(/view 1 is not known yet/) })
    // A forged change (view 1 with another key, not the record in the block's resultsRoot) teaches nothing.
    const real = Option.getOrThrow(net.builder.blocks[1]!.newView)
    const other = { ...real, members: real.members.map((m, i) => (i === 0 ? { ...m, viewKey: view0.record.members[3]!.viewKey } : m)) }
    const forgedChange = views.learnFrom("http://replica", viewsAnswer(net, [changeJson(net, 2, other)]))
    expect(Either.isRight(forgedChange) && forgedChange.right).toMatchObject({ learned: 0, rejected: 1 })
    expect(views.current.id).toBe(0n)
    // The certified reconfiguration block teaches view 1; the proof then checks.
    const learned = views.learnFrom("http://replica", viewsAnswer(net, [changeJson(net, 2)]))
    expect(Either.isRight(learned) && learned.right).toMatchObject({ learned: 1, rejected: 0, more: false })
    expect(views.known).toEqual([
      { id: 0n, installedAt: 0n },
      { id: 1n, installedAt: 2n }
    ])
    expect(views.listedBy("http://replica")).toBe(3n)
    const ok = checkTxProof(portableCrypto, views, "strong", tx, answer)
    expect(Either.isRight(ok) && ok.right).toMatchObject({ height: 3n, certified: true, viewId: 1n })
    // The fork adversary: a block at height 4 certified by view 0's keys, superseded at height 2.
    const forged = net.builder.next({ signingView: view0, txCount: 1 })
    const forgedAnswer = answerFor(forged, 0, net.builder.certificates[3]!)
    const refused = checkTxProof(portableCrypto, views, "strong", forged.transactions[0]!, forgedAnswer)
    expect(Either.isLeft(refused) && refused.left).toMatchObject({ reason: "WrongView", detail: expect.stringMatching(/superseded by view 1 at height 2/) })
    // A block of view 0 before the change still checks against view 0.
    const first = net.builder.blocks[0]!
    const before = checkTxProof(portableCrypto, views, "strong", first.transactions[0]!, answerFor(first, 0, net.builder.certificates[0]!))
    expect(Either.isRight(before) && before.right).toMatchObject({ height: 1n, viewId: 0n })
  })

  it.scopedLive("fetchTxProof learns view 1 through GET /views by itself, and refuses the forged view-0 certificate a replica serves", () =>
    Effect.gen(function* () {
      const { net, view0, block, certificate } = joined()
      const forged = net.builder.next({ signingView: view0, txCount: 1 })
      const forgedCertificate = net.builder.certificates[3]!
      const answers = new Map<string, unknown>([
        [`/tx/${toHex(block.transactions[0]!.client)}/${block.transactions[0]!.seq}`, answerFor(block, 0, certificate)],
        [`/tx/${toHex(forged.transactions[0]!.client)}/${forged.transactions[0]!.seq}`, answerFor(forged, 0, forgedCertificate)],
        // The replica lists its changes up to height 3 first, up to 4 when asked again.
        ["/views?after=0", viewsAnswer(net, [changeJson(net, 2)], 3n)],
        ["/views?after=1", viewsAnswer(net, [], 4n)]
      ])
      const asked: Array<string> = []
      const server = http.createServer((req, res) => {
        const url = req.url ?? ""
        asked.push(url)
        const body = answers.get(url)
        res.writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" })
        res.end(body === undefined ? "{}" : JSON.stringify(body))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const views = Either.getOrThrow(TxProofViews.trusting(portableCrypto, net.chainId, net.builder.genesis.view))
      const proven = yield* fetchTxProof(portableCrypto, views, "strong", base, block.transactions[0]!, 0)
      expect(proven).toMatchObject({ height: 3n, certified: true, viewId: 1n })
      expect(asked.filter((u) => u.startsWith("/views"))).toEqual(["/views?after=0"])
      expect(views.current.id).toBe(1n)
      const refused = yield* Effect.flip(fetchTxProof(portableCrypto, views, "strong", base, forged.transactions[0]!, 0))
      expect(refused).toMatchObject({ _tag: "TxProofError", reason: "WrongView" })
      expect(refused.message).toMatch(/superseded by view 1 at height 2/)
      // The forged block is above what the replica listed changes up to: it was asked again.
      expect(asked.filter((u) => u.startsWith("/views"))).toEqual(["/views?after=0", "/views?after=1"])
      // A replica that cannot be reached is a typed error too.
      const gone = yield* Effect.flip(fetchTxProof(portableCrypto, views, "strong", "http://127.0.0.1:1", block.transactions[0]!, 0))
      expect(gone.reason).toBe("Unreachable")
    })
  )
})
