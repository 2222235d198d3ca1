// Establishes: verifyChain / ChainVerifier accept valid chains in every persistence mode (with view
// changes and strong-mode certificates) and reject each kind of tampering at the right height
// with the right reason.
import { Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import { toHex } from "../../src/chain/bytes.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import { commitSigningBytes } from "../../src/chain/encoding.ts"
import type { ChainError, ChainErrorReason } from "../../src/chain/errors.ts"
import { genesisHash, headerHash } from "../../src/chain/hash.ts"
import type { Block, Certificate, Genesis } from "../../src/chain/types.ts"
import { ChainVerifier, verifyChain } from "../../src/chain/verify.ts"
import type { ChainSummary } from "../../src/chain/verify.ts"
import { buildChain, ChainBuilder, makeDecisionProof, makeView, signAs, signTransaction } from "../support/chain-builder.ts"

const flip = (b: Uint8Array, at = 0): Uint8Array => b.map((x, i) => (i === at ? x ^ 1 : x))

const ok = (r: Either.Either<ChainSummary, ChainError>): ChainSummary => {
  if (Either.isLeft(r)) throw new Error(`expected a valid chain, got ${r.left.message}`)
  return r.right
}

const expectError = (r: Either.Either<unknown, ChainError>, height: number, reason: ChainErrorReason): ChainError => {
  expect(Either.isLeft(r)).toBe(true)
  const e = (r as Either.Left<ChainError, unknown>).left
  expect({ height: e.height, reason: e.reason }).toEqual({ height: BigInt(height), reason })
  expect(e._tag).toBe("ChainError")
  return e
}

const verifyBuilder = (b: ChainBuilder, headCertificate?: Certificate) =>
  verifyChain(crypto, b.genesis, b.blocks, headCertificate === undefined ? {} : { headCertificate })

/** Builds blocks 1..count, calling `at(h)` for the options of each block. */
const chainWith = (
  options: ConstructorParameters<typeof ChainBuilder>[0],
  count: number,
  at: (h: number, b: ChainBuilder) => Parameters<ChainBuilder["next"]>[0] = () => ({})
): ChainBuilder => {
  const b = new ChainBuilder(options)
  for (let h = 1; h <= count; h++) b.next(at(h, b))
  return b
}

describe("valid chains", () => {
  it("a weak-mode chain verifies and the summary counts its blocks, transactions and head", () => {
    const c = buildChain({ persistence: "weak", blocks: 6, txPerBlock: 3 })
    const s = ok(verifyChain(crypto, c.genesis, c.blocks))
    expect(s.blocks).toBe(6)
    expect(s.transactions).toBe(18)
    expect(s.headHeight).toBe(6n)
    expect(toHex(s.headHash)).toBe(toHex(headerHash(crypto, c.blocks[5]!.header)))
    expect(s.views).toEqual([0n])
    expect(s.headCertified).toBe(false)
  })

  it("a strong-mode chain with a view change and a head certificate verifies", () => {
    const c = buildChain({ persistence: "strong", blocks: 7, txPerBlock: 2, viewChangeAt: 3 })
    expect(c.blocks.slice(1).every((b) => Option.isSome(b.prevCertificate))).toBe(true)
    const s = ok(verifyChain(crypto, c.genesis, c.blocks, { headCertificate: c.headCertificate! }))
    expect(s.views).toEqual([0n, 1n])
    expect(s.currentViewId).toBe(1n)
    expect(s.lastReconfigHeight).toBe(3n)
    expect(s.headCertified).toBe(true)
  })

  it("memory mode, several view changes and membership changes (4 -> 5 -> 3 members) verify", () => {
    const b = chainWith({ persistence: "memory" }, 6, (h) =>
      h === 2 ? { installView: { replicas: [0, 1, 2, 3, 4] } } : h === 4 ? { installView: { replicas: [1, 3, 4] } } : {}
    )
    const s = ok(verifyBuilder(b))
    expect(s.views).toEqual([0n, 1n, 2n])
    expect(b.views[2]!.record.n).toBe(3)
    expect(s.lastReconfigHeight).toBe(4n)
  })

  it("a strong chain whose membership changes carries certificates by the right view across the change", () => {
    const b = chainWith({ persistence: "strong", replicas: 4 }, 5, (h) => (h === 2 ? { installView: { replicas: [4, 5, 6, 7, 8] } } : {}))
    // Block 3's certificate of block 2 is by view 0; block 4's certificate of block 3 by view 1.
    expect(Option.getOrThrow(b.blocks[2]!.prevCertificate).viewId).toBe(0n)
    expect(Option.getOrThrow(b.blocks[3]!.prevCertificate).viewId).toBe(1n)
    ok(verifyBuilder(b, b.headCertificate))
  })

  it("no blocks: the head is genesis", () => {
    const b = new ChainBuilder({ persistence: "strong" })
    const s = ok(verifyBuilder(b))
    expect(s.blocks).toBe(0)
    expect(toHex(s.headHash)).toBe(toHex(genesisHash(crypto, b.genesis)))
  })

  it("ChainVerifier reports each block and agrees with verifyChain; errors are sticky", () => {
    const c = buildChain({ persistence: "strong", blocks: 4, viewChangeAt: 2 })
    const v = ChainVerifier.start(crypto, c.genesis)
    const installed = c.blocks.map((blk) => Option.getOrUndefined(Either.getOrThrow(v.next(blk)).installedViewId))
    expect(installed).toEqual([undefined, 1n, undefined, undefined])
    expect(v.headHeight).toBe(4n)
    expect(ok(v.finish(c.headCertificate!))).toEqual(ok(verifyChain(crypto, c.genesis, c.blocks, { headCertificate: c.headCertificate! })))

    const v2 = ChainVerifier.start(crypto, c.genesis)
    expectError(v2.next(c.blocks[1]!), 1, "BadHeight")
    expectError(v2.next(c.blocks[0]!), 1, "BadHeight")
    expectError(v2.finish(), 1, "BadHeight")
  })
})

describe("tampering is rejected with the height and reason", () => {
  it("BadHeight: a missing block, a repeated block, a wrong height field", () => {
    const c = buildChain({ blocks: 5 })
    expectError(verifyChain(crypto, c.genesis, [c.blocks[0]!, c.blocks[1]!, c.blocks[3]!]), 3, "BadHeight")
    expectError(verifyChain(crypto, c.genesis, [c.blocks[0]!, c.blocks[0]!]), 2, "BadHeight")
    expectError(verifyBuilder(chainWith({}, 3, (h) => (h === 2 ? { header: (x) => ({ ...x, height: 7n }) } : {}))), 2, "BadHeight")
  })

  it("BadLink: prevHash not the previous header's hash (or not the genesis hash for block 1)", () => {
    expectError(verifyBuilder(chainWith({}, 4, (h) => (h === 3 ? { header: (x) => ({ ...x, prevHash: flip(x.prevHash) }) } : {}))), 3, "BadLink")
    expectError(verifyBuilder(chainWith({}, 2, (h) => (h === 1 ? { header: (x) => ({ ...x, prevHash: flip(x.prevHash) }) } : {}))), 1, "BadLink")
    // A block verified against another chain's genesis.
    const c = buildChain({ blocks: 2 })
    const other = buildChain({ blocks: 2, chainId: "other-chain" })
    expectError(verifyChain(crypto, other.genesis, c.blocks), 1, "BadLink")
  })

  it("WrongView: after a view change, a block certified by the superseded view's (leaked) keys", () => {
    const b = chainWith({ persistence: "weak" }, 3, (h) => (h === 2 ? { installView: {} } : {}))
    b.next({ signingView: b.views[0]! })
    const e = expectError(verifyBuilder(b), 4, "WrongView")
    expect(e.detail).toMatch(/superseded/)
  })

  it("old view keys claiming the new view id produce signatures that do not verify", () => {
    const b = chainWith({}, 2, (h) => (h === 2 ? { installView: {} } : {}))
    const impostor = { ...b.views[0]!, record: b.views[1]!.record }
    b.next({ signingView: impostor })
    expectError(verifyBuilder(b), 3, "BadSignature")
  })

  it("WrongView: a header viewHash or a decision viewId of another view", () => {
    expectError(verifyBuilder(chainWith({}, 2, (h) => (h === 2 ? { header: (x) => ({ ...x, viewHash: flip(x.viewHash) }) } : {}))), 2, "WrongView")
    expectError(verifyBuilder(chainWith({}, 2, (h) => (h === 2 ? { header: (x) => ({ ...x, viewId: 1n }) } : {}))), 2, "WrongView")
    expectError(verifyBuilder(chainWith({}, 2, (h) => (h === 1 ? { decision: (d) => ({ ...d, viewId: 3n }) } : {}))), 1, "WrongView")
  })

  it("BadResultCount, BadTxRoot, BadResultsRoot: the body does not match the header", () => {
    const drop = chainWith({}, 3, (h) => (h === 2 ? { block: (x: Block) => ({ ...x, results: x.results.slice(1) }) } : {}))
    expectError(verifyBuilder(drop), 2, "BadResultCount")
    const tx = chainWith({}, 3, (h) =>
      h === 2 ? { block: (x: Block) => ({ ...x, transactions: x.transactions.map((t, i) => (i === 1 ? { ...t, op: flip(t.op) } : t)) }) } : {}
    )
    expectError(verifyBuilder(tx), 2, "BadTxRoot")
    const res = chainWith({}, 3, (h) => (h === 3 ? { block: (x: Block) => ({ ...x, results: x.results.map((r, i) => (i === 0 ? flip(r) : r)) }) } : {}))
    expectError(verifyBuilder(res), 3, "BadResultsRoot")
  })

  it("BadResultsRoot: the new view record of a reconfiguration block swapped after it was decided", () => {
    const rogue = makeView("attacker", 1n, [0, 1, 2, 3]).record
    const b = chainWith({ persistence: "strong" }, 3, (h) => (h === 2 ? { installView: {}, block: (x: Block) => ({ ...x, newView: Option.some(rogue) }) } : {}))
    expectError(verifyBuilder(b), 2, "BadResultsRoot")
    const added = chainWith({}, 2, (h) => (h === 2 ? { block: (x: Block) => ({ ...x, newView: Option.some(rogue) }) } : {}))
    expectError(verifyBuilder(added), 2, "BadResultsRoot")
  })

  it("BadDecisionHash: the header's decisionHash is not the hash of the body's decision", () => {
    expectError(verifyBuilder(chainWith({}, 2, (h) => (h === 2 ? { header: (x) => ({ ...x, decisionHash: flip(x.decisionHash) }) } : {}))), 2, "BadDecisionHash")
  })

  it("another valid ACCEPT set for the same decision (other regency) leaves the header valid: replicas' headers agree", () => {
    const b = new ChainBuilder()
    b.next()
    b.next({
      block: (x) => ({
        ...x,
        decision: makeDecisionProof(b.chainId, b.views[0]!, { cid: 2n, regency: 1n, batchHash: x.header.txRoot })
      })
    })
    expect(Either.isRight(verifyBuilder(b))).toBe(true)
  })

  it("BadDecisionProof: another batch, another instance, a non-member, a repeated signer", () => {
    const other = new Uint8Array(32).fill(5)
    const cases: Array<(b: ChainBuilder) => Parameters<ChainBuilder["next"]>[0]> = [
      (b) => ({ decision: () => makeDecisionProof(b.chainId, b.currentView, { cid: 2n, regency: 0n, batchHash: other }) }),
      (b) => ({ decision: (d) => makeDecisionProof(b.chainId, b.currentView, { cid: 3n, regency: 0n, batchHash: d.batchHash }) }),
      () => ({ decision: (d) => ({ ...d, accepts: [...d.accepts, { replica: 9, signature: new Uint8Array(64) }] }) }),
      () => ({ decision: (d) => ({ ...d, accepts: [...d.accepts, d.accepts[0]!] }) })
    ]
    for (const make of cases) {
      const b = new ChainBuilder()
      b.next()
      b.next(make(b))
      expectError(verifyBuilder(b), 2, "BadDecisionProof")
    }
  })

  it("MissingSignatures: a decision proof with q - 1 ACCEPTs", () => {
    expectError(verifyBuilder(chainWith({}, 3, (h) => (h === 3 ? { decision: (d) => ({ ...d, accepts: d.accepts.slice(1) }) } : {}))), 3, "MissingSignatures")
  })

  it("BadSignature: a corrupted ACCEPT, an ACCEPT for another chain, a bad client signature", () => {
    expectError(
      verifyBuilder(chainWith({}, 2, (h) => (h === 2 ? { decision: (d) => ({ ...d, accepts: d.accepts.map((a, i) => (i === 2 ? { ...a, signature: flip(a.signature, 5) } : a)) }) } : {}))),
      2,
      "BadSignature"
    )
    expectError(
      verifyBuilder(chainWith({}, 2, (h, b) => (h === 1 ? { decision: (d) => makeDecisionProof("another-chain", b.currentView, d) } : {}))),
      1,
      "BadSignature"
    )
    const b = new ChainBuilder()
    b.next()
    const [t0, t1] = b.freshTransactions(2)
    b.next({ transactions: [t0!, { ...t1!, signature: flip(t1!.signature, 10) }] })
    const e = expectError(verifyBuilder(b), 2, "BadSignature")
    expect(e.detail).toMatch(/transaction 1/)
    ok(verifyChain(crypto, b.genesis, b.blocks, { checkTransactionSignatures: false }))
  })

  it("DuplicateTransaction: the same (client, seq) twice in one block", () => {
    const b = new ChainBuilder()
    const tx = signTransaction(b.chainId, b.clients[0]!, 1n, new Uint8Array([1]))
    const again = signTransaction(b.chainId, b.clients[0]!, 1n, new Uint8Array([2]))
    b.next({ transactions: [tx, again] })
    expectError(verifyBuilder(b), 1, "DuplicateTransaction")
  })

  it("BadCertificate: strong mode without the previous block's certificate, or with one for another block", () => {
    expectError(verifyBuilder(chainWith({ persistence: "strong" }, 4, (h) => (h === 3 ? { block: (x: Block) => ({ ...x, prevCertificate: Option.none() }) } : {}))), 3, "BadCertificate")
    const wrong = chainWith({ persistence: "strong" }, 4, (h, b) =>
      h === 4 ? { block: (x: Block) => ({ ...x, prevCertificate: Option.some(b.certificates[1]!) }) } : {}
    )
    expectError(verifyBuilder(wrong), 4, "BadCertificate")
  })

  it("BadCertificate: a certificate in block 1, or in a chain that is not in strong mode", () => {
    const strong = new ChainBuilder({ persistence: "strong" })
    const b1 = buildChain({ persistence: "strong", blocks: 1 }).certificates[0]!
    strong.next({ block: (x) => ({ ...x, prevCertificate: Option.some(b1) }) })
    expectError(verifyBuilder(strong), 1, "BadCertificate")
    const weak = chainWith({ persistence: "weak" }, 3, (h, b) => (h === 3 ? { block: (x: Block) => ({ ...x, prevCertificate: Option.some(b.certificates[1]!) }) } : {}))
    expectError(verifyBuilder(weak), 3, "BadCertificate")
  })

  it("certificate signatures: q - 1 COMMITs, a corrupted COMMIT, COMMITs by a non-member", () => {
    const withCert = (f: (c: Certificate) => Certificate) =>
      chainWith({ persistence: "strong" }, 3, (h) =>
        h === 3 ? { block: (x: Block) => ({ ...x, prevCertificate: Option.map(x.prevCertificate, f) }) } : {}
      )
    expectError(verifyBuilder(withCert((c) => ({ ...c, commits: c.commits.slice(0, 2) }))), 3, "MissingSignatures")
    expectError(verifyBuilder(withCert((c) => ({ ...c, commits: c.commits.map((s, i) => (i === 0 ? { ...s, signature: flip(s.signature) } : s)) }))), 3, "BadSignature")
    expectError(verifyBuilder(withCert((c) => ({ ...c, commits: [...c.commits, { replica: 77, signature: new Uint8Array(64) }] }))), 3, "BadCertificate")
  })

  it("the head certificate must certify the head block with the head block's view", () => {
    const b = chainWith({ persistence: "strong" }, 3, (h) => (h === 3 ? { installView: {} } : {}))
    ok(verifyBuilder(b, b.headCertificate))
    expectError(verifyBuilder(b, b.certificates[1]), 3, "BadCertificate")
    // Signed by the view block 3 installed rather than the view that decided it.
    const head = b.headCertificate!
    const byNewView = { ...head, viewId: 1n, commits: signAs(b.views[1]!, commitSigningBytes(b.chainId, { ...head, viewId: 1n })) }
    expectError(verifyBuilder(b, byNewView), 3, "BadCertificate")
    expectError(verifyBuilder(new ChainBuilder({ persistence: "strong" }), head), 0, "BadCertificate")
  })

  it("BadViewRecord: inconsistent n, a skipped view id, repeated keys, a reused view key, an invalid genesis view", () => {
    const mutations: Array<(v: Genesis["view"]) => Genesis["view"]> = [
      (v) => ({ ...v, n: v.n + 1 }),
      (v) => ({ ...v, id: v.id + 1n }),
      (v) => ({ ...v, members: v.members.map((m, i) => (i === 1 ? { ...m, viewKey: v.members[0]!.viewKey } : m)) }),
      (v) => ({ ...v, members: v.members.map((m, i) => (i === 1 ? { ...m, replica: v.members[0]!.replica } : m)) }),
      (v) => ({ ...v, members: v.members.map((m, i) => (i === 2 ? { ...m, identityKey: v.members[0]!.identityKey } : m)) })
    ]
    for (const record of mutations) {
      const b = chainWith({}, 3, (h) => (h === 2 ? { installView: { record } } : {}))
      expectError(verifyBuilder(b), 2, "BadViewRecord")
    }
    // A continuing member that did not rotate its view key.
    const b0 = new ChainBuilder()
    const reuse = chainWith({}, 2, (h) =>
      h === 2 ? { installView: { record: (v) => ({ ...v, members: v.members.map((m, i) => (i === 0 ? { ...m, viewKey: b0.genesis.view.members[0]!.viewKey } : m)) }) } } : {}
    )
    expectError(verifyBuilder(reuse), 2, "BadViewRecord")

    const g = new ChainBuilder().genesis
    expectError(verifyChain(crypto, { ...g, view: { ...g.view, f: 0 } }, []), 0, "BadViewRecord")
    expectError(verifyChain(crypto, { ...g, view: { ...g.view, id: 1n } }, []), 0, "BadViewRecord")
  })

  it("BadReconfigHeight and BadCheckpointHeight", () => {
    expectError(verifyBuilder(chainWith({}, 3, (h) => (h === 2 ? { installView: {}, header: (x) => ({ ...x, lastReconfigHeight: 0n }) } : {}))), 2, "BadReconfigHeight")
    expectError(verifyBuilder(chainWith({}, 3, (h) => (h === 3 ? { header: (x) => ({ ...x, lastReconfigHeight: 1n }) } : {}))), 3, "BadReconfigHeight")
    expectError(verifyBuilder(chainWith({}, 3, (h) => (h === 3 ? { header: (x) => ({ ...x, lastCheckpointHeight: 4n }) } : {}))), 3, "BadCheckpointHeight")
    const limits = { ...new ChainBuilder().genesis.limits, checkpointInterval: 2 }
    expectError(verifyBuilder(chainWith({ limits }, 4, (h) => (h === 3 ? { header: (x) => ({ ...x, lastCheckpointHeight: 0n }) } : {}))), 3, "BadCheckpointHeight")
    ok(verifyBuilder(chainWith({ limits }, 5)))
  })
})

describe("superseded views: keys of an earlier view certify nothing after the change", () => {
  // Establishes: after views 1 and 2 are installed, blocks, previous-block certificates and head
  // certificates made with view-0 or view-1 keys are all rejected, whatever view id they claim.
  const twoChanges = () => chainWith({ persistence: "strong" }, 5, (h) => (h === 2 || h === 4 ? { installView: {} } : {}))

  it("a block decided by any superseded view's keys, two views back or one, is WrongView naming the current view", () => {
    for (const old of [0, 1]) {
      const b = twoChanges()
      ok(verifyBuilder(b, b.headCertificate))
      b.next({ signingView: b.views[old]! })
      const e = expectError(verifyBuilder(b), 6, "WrongView")
      expect(e.detail).toBe(`certified by view ${old}, superseded by view 2`)
    }
  })

  it("a previous-block certificate by the superseded view's keys is refused, whether it names the old view or the current one", () => {
    const byOldView = (claim: bigint) => {
      const b = twoChanges()
      const hash = headerHash(crypto, b.blocks[2]!.header) // block 3, decided by view 1
      const base = { viewId: claim, height: 3n, headerHash: hash }
      const forged: Certificate = { ...base, commits: signAs(b.views[0]!, commitSigningBytes(b.chainId, base)) }
      const blocks = b.blocks.map((blk, i) => (i === 3 ? { ...blk, prevCertificate: Option.some(forged) } : blk))
      return verifyChain(crypto, b.genesis, blocks)
    }
    expect(expectError(byOldView(0n), 4, "BadCertificate").detail).toMatch(/names view 0, the block is in view 1/)
    expectError(byOldView(1n), 4, "BadSignature")
  })

  it("a head certificate by the superseded view's keys is refused", () => {
    const b = twoChanges()
    const head = b.headCertificate!
    const asView1 = { ...head, viewId: 1n }
    expectError(verifyBuilder(b, { ...asView1, commits: signAs(b.views[1]!, commitSigningBytes(b.chainId, asView1)) }), 5, "BadCertificate")
    expectError(verifyBuilder(b, { ...head, commits: signAs(b.views[0]!, commitSigningBytes(b.chainId, head)) }), 5, "BadSignature")
  })
})
