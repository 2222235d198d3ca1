import { Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { resultHash, viewHash } from "../../src/chain/hash.ts"
import { merkleProof } from "../../src/chain/merkle.ts"
import type { Block, Certificate } from "../../src/chain/types.ts"
import type { CertifiedReply, CertifiedViewChange } from "../../src/reconfiguration/view-tracker.ts"
import { ViewTracker } from "../../src/reconfiguration/view-tracker.ts"
import { joinTx, leaveTx, Network, rotateTx } from "./support.ts"

/** view 0 {0..3} -> view 1 {0,1,2,4} installed at height 2 -> view 2 {0,1,4,5} installed at height 5; head at 6. */
const history = () => {
  const net = new Network({ seed: "tracker", persistence: "strong", admit: [4, 5] })
  const view0 = net.builder.currentView
  net.block([leaveTx(net, 3), joinTx(net, 4)])
  net.block([0, 1, 2].map((r) => rotateTx(net, r)))
  net.block()
  net.block([leaveTx(net, 2), joinTx(net, 5)])
  net.block([0, 1, 4].map((r) => rotateTx(net, r)))
  net.block()
  return { net, view0 }
}

const leavesOf = (b: Block) => [
  ...b.results.map((r) => resultHash(portableCrypto, r)),
  ...(Option.isSome(b.newView) ? [viewHash(portableCrypto, b.newView.value)] : [])
]

const change = (net: Network, height: number): CertifiedViewChange => {
  const b = net.builder.blocks[height - 1]!
  const leaves = leavesOf(b)
  return {
    header: b.header,
    certificate: net.builder.certificates[height - 1]!,
    newView: Option.getOrThrow(b.newView),
    proof: { index: leaves.length - 1, leafCount: leaves.length, siblings: merkleProof(portableCrypto, leaves, leaves.length - 1) }
  }
}

const reply = (b: Block, certificate: Certificate, index = 0): CertifiedReply => {
  const leaves = leavesOf(b)
  return { header: b.header, certificate, result: b.results[index]!, proof: { index, leafCount: leaves.length, siblings: merkleProof(portableCrypto, leaves, index) } }
}

const reason = (e: Either.Either<unknown, { readonly reason: string; readonly detail: string }>) =>
  Either.isLeft(e) ? `${e.left.reason}: ${e.left.detail}` : "ok"

describe("a client's view tracker: certified replies across view changes", () => {
  it("follows the certified view records from genesis and accepts each block's reply under the view current at its height", () => {
    const { net } = history()
    const t = Either.getOrThrow(ViewTracker.start(portableCrypto, net.builder.genesis))
    const blocks = net.builder.blocks
    const cert = (h: number) => net.builder.certificates[h - 1]!
    expect(reason(t.checkReply(reply(blocks[0]!, cert(1))))).toBe("ok")
    // A reply from view 1 before the client learned view 1.
    expect(reason(t.checkReply(reply(blocks[2]!, cert(3))))).toMatch(/^WrongView: view 1 is not known yet/)
    expect(Either.getOrThrow(t.learnView(change(net, 2))).id).toBe(1n)
    expect(Either.getOrThrow(t.learnView(change(net, 5))).id).toBe(2n)
    expect(t.views).toEqual([
      { id: 0n, installedAt: 0n },
      { id: 1n, installedAt: 2n },
      { id: 2n, installedAt: 5n }
    ])
    for (const h of [1, 2, 3, 4, 5, 6]) expect(reason(t.checkReply(reply(blocks[h - 1]!, cert(h))))).toBe("ok")
  })

  it("refuses a reply certified by the superseded view's keys after the change, and one whose result is not in the block", () => {
    const { net, view0 } = history()
    const t = Either.getOrThrow(ViewTracker.start(portableCrypto, net.builder.genesis))
    t.learnView(change(net, 2))
    t.learnView(change(net, 5))
    // Whoever holds q view-0 keys certifies a block after height 6: the client refuses it.
    net.builder.next({ signingView: view0 })
    const forged = net.builder.blocks[6]!
    expect(reason(t.checkReply(reply(forged, net.builder.certificates[6]!)))).toMatch(/^WrongView: certified by view 0, superseded by view 1 at height 2/)
    expect(reason(t.viewCertifying(forged.header))).toMatch(/^WrongView: certified by view 0, superseded/)
    expect(Either.getOrThrow(t.viewCertifying(net.builder.blocks[5]!.header)).id).toBe(2n)
    const good = net.builder.blocks[5]!
    const wrongResult = { ...reply(good, net.builder.certificates[5]!), result: new TextEncoder().encode("pay me") }
    expect(reason(t.checkReply(wrongResult))).toMatch(/^BadResultsRoot/)
    const fewCommits = { ...net.builder.certificates[5]!, commits: net.builder.certificates[5]!.commits.slice(0, 2) }
    expect(reason(t.checkReply(reply(good, fewCommits)))).toMatch(/^MissingSignatures/)
    const otherBlock = net.builder.certificates[4]!
    expect(reason(t.checkReply(reply(good, otherBlock)))).toMatch(/^BadCertificate/)
  })

  it("learnView refuses a view record the block did not commit to, a skipped view, and an uncertified installing block", () => {
    const { net } = history()
    const t = Either.getOrThrow(ViewTracker.start(portableCrypto, net.builder.genesis))
    const c = change(net, 2)
    const swapped = { ...c, newView: { ...c.newView, members: c.newView.members.map((m, i) => (i === 0 ? { ...m, address: "evil:1" } : m)) } }
    expect(reason(t.learnView(swapped))).toMatch(/^BadResultsRoot/)
    expect(reason(t.learnView(change(net, 5)))).toMatch(/^WrongView: the installing block must be certified by the newest known view 0/)
    const uncertified = { ...c, certificate: { ...c.certificate, commits: c.certificate.commits.slice(1) } }
    expect(reason(t.learnView(uncertified))).toMatch(/^MissingSignatures/)
    expect(t.current.id).toBe(0n)
    expect(reason(t.learnView(c))).toBe("ok")
    expect(reason(t.learnView(c))).toMatch(/^WrongView/)
  })
})
