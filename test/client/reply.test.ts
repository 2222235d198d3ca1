// Establishes: certified replies built from a strong-mode block check out against the certifying
// view, encode canonically, and every kind of forgery (wrong transaction, view, block, index,
// Merkle path, signer, quorum, signature, any flipped byte) is rejected with its reason.
import fc from "fast-check"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import { encodeBlockHeader, encodeCertificate, encodeReply, encodeTransaction } from "../../src/chain/encoding.ts"
import { txHash } from "../../src/chain/hash.ts"
import { merkleProof } from "../../src/chain/merkle.ts"
import {
  certifiedReplies,
  certifiedReply,
  checkCertifiedReply,
  clientReplyTags,
  decodeCertifiedReply,
  decodeClientReply,
  encodeCertifiedReply,
  encodeClientReply,
  merklePaths,
  trustedView
} from "../../src/chain/reply.ts"
import type { CertifiedReply, CertifiedReplyErrorReason, ExpectedTransaction } from "../../src/chain/reply.ts"
import type { Reply } from "../../src/chain/types.ts"
import { ChainBuilder, makeCertificate } from "../support/chain-builder.ts"

const flip = (b: Uint8Array, at = 0): Uint8Array => b.map((x, i) => (i === at ? x ^ 1 : x))

const builder = new ChainBuilder({ persistence: "strong", seed: "reply-test" })
for (let h = 1; h <= 3; h++) builder.next({ txCount: 5 })
// Block 4 installs view 1, so its resultsRoot has one leaf more than it has results.
builder.next({ txCount: 3, installView: {} })
const view0 = builder.views[0]!
const view1 = builder.views[1]!
const trusted0 = trustedView(crypto, builder.chainId, view0.record)
const trusted1 = trustedView(crypto, builder.chainId, view1.record)
const block2 = builder.blocks[1]!
const cert2 = builder.certificates[1]!
const replies2 = certifiedReplies(crypto, block2, cert2)

const expectedOf = (r: CertifiedReply): ExpectedTransaction => ({ client: r.transaction.client, seq: r.transaction.seq })

const expectReason = (r: Either.Either<Reply, { readonly reason: CertifiedReplyErrorReason }>, reason: CertifiedReplyErrorReason) => {
  expect(Either.isLeft(r) ? r.left.reason : "accepted").toBe(reason)
}

describe("certified replies", () => {
  it("every transaction of a certified block gets a reply that checks and names its height and result", () => {
    expect(replies2).toHaveLength(5)
    replies2.forEach((reply, i) => {
      const tx = block2.transactions[i]!
      const r = checkCertifiedReply(crypto, trusted0, reply, { client: tx.client, seq: tx.seq, txHash: txHash(crypto, tx) })
      expect(Either.isRight(r)).toBe(true)
      const plain = Either.getOrThrow(r)
      expect(plain.height).toBe(2n)
      expect(plain.result).toEqual(block2.results[i])
      expect(plain.seq).toBe(tx.seq)
    })
    expect(certifiedReply(crypto, block2, cert2, 3)).toEqual(replies2[3])
  })

  it("a block that installs a view proves its results with one extra (view) leaf", () => {
    const block4 = builder.blocks[3]!
    const replies = certifiedReplies(crypto, block4, builder.certificates[3]!)
    expect(replies[0]!.resultLeafCount).toBe(4)
    for (const reply of replies) expect(Either.isRight(checkCertifiedReply(crypto, trusted0, reply, expectedOf(reply)))).toBe(true)
    // The same reply claiming no view leaf fails: the root commits to the leaf count.
    expectReason(checkCertifiedReply(crypto, trusted0, { ...replies[0]!, resultLeafCount: 3 }, expectedOf(replies[0]!)), "BadResultPath")
  })

  it("merklePaths gives the same path as merkleProof for every leaf of trees of 1 to 40 leaves", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        const leaves = Array.from({ length: n }, (_, i) => crypto.sha256(new Uint8Array([i, n])))
        const paths = merklePaths(crypto, leaves)
        for (let i = 0; i < n; i++) expect(paths[i]).toEqual(merkleProof(crypto, leaves, i))
      }),
      { numRuns: 40 }
    )
  })

  it("building a reply for a missing index or with another block's certificate is a programmer error", () => {
    expect(() => certifiedReply(crypto, block2, cert2, 5)).toThrow(RangeError)
    expect(() => certifiedReplies(crypto, block2, builder.certificates[0]!)).toThrow(RangeError)
  })
})

describe("certified reply encoding", () => {
  it("encodes canonically: decode(encode(x)) = x, and the union carries tag 2 (tag 1 for a plain Reply)", () => {
    const reply = replies2[1]!
    const bytes = encodeCertifiedReply(reply)
    expect(Either.getOrThrow(decodeCertifiedReply(bytes))).toEqual(reply)
    const tagged = encodeClientReply(reply)
    expect(tagged[0]).toBe(clientReplyTags.CertifiedReply)
    expect(tagged.subarray(1)).toEqual(bytes)
    expect(Either.getOrThrow(decodeClientReply(tagged))).toEqual(reply)
    const plain: Reply = { _tag: "Reply", viewId: 0n, client: reply.transaction.client, seq: 9n, height: 2n, result: new Uint8Array([0, 7]) }
    const plainBytes = encodeClientReply(plain)
    expect(plainBytes[0]).toBe(clientReplyTags.Reply)
    expect(plainBytes.subarray(1)).toEqual(encodeReply(plain))
    expect(Either.getOrThrow(decodeClientReply(plainBytes))).toEqual(plain)
  })

  it("rejects truncated input, trailing bytes, unknown tags and over-long paths with a DecodeError", () => {
    const bytes = encodeCertifiedReply(replies2[0]!)
    for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([...bytes, 0])]) {
      const r = decodeCertifiedReply(bad)
      expect(Either.isLeft(r) && r.left._tag).toBe("DecodeError")
    }
    const tagged = encodeClientReply(replies2[0]!)
    tagged[0] = 3
    expect(Either.isLeft(decodeClientReply(tagged))).toBe(true)
    const long = { ...replies2[0]!, txPath: Array.from({ length: 33 }, () => new Uint8Array(32)) }
    const r = decodeCertifiedReply(encodeCertifiedReply(long))
    expect(Either.isLeft(r) && r.left.path).toBe("txPath")
  })
})

describe("certified reply checks", () => {
  const reply = replies2[2]!
  const expected = expectedOf(reply)
  const check = (r: CertifiedReply, e: ExpectedTransaction = expected, view = trusted0) => checkCertifiedReply(crypto, view, r, e)

  it("rejects a reply for another client, another seq or other transaction bytes", () => {
    expectReason(check(reply, { ...expected, client: replies2[0]!.transaction.client.map((x) => x ^ 0xff) }), "WrongTransaction")
    expectReason(check(reply, { ...expected, seq: expected.seq + 1n }), "WrongTransaction")
    expectReason(check(reply, { ...expected, txHash: new Uint8Array(32) }), "WrongTransaction")
    // Another transaction of the same block, presented for this client: its proof is fine, the transaction is not.
    expectReason(check(replies2[3]!), "WrongTransaction")
  })

  it("rejects a reply checked against another view, or whose certificate names another view", () => {
    expectReason(check(reply, expected, trusted1), "WrongView")
    expectReason(check({ ...reply, certificate: { ...reply.certificate, viewId: 1n } }), "WrongView")
    expectReason(check({ ...reply, header: { ...reply.header, viewHash: flip(reply.header.viewHash) } }), "WrongView")
  })

  it("rejects a certificate of another block, and a header changed under its certificate", () => {
    expectReason(check({ ...reply, certificate: builder.certificates[0]! }), "WrongBlock")
    expectReason(check({ ...reply, certificate: { ...cert2, height: 1n } }), "WrongBlock")
    expectReason(check({ ...reply, header: { ...reply.header, stateHash: flip(reply.header.stateHash) } }), "WrongBlock")
  })

  it("rejects indexes and leaf counts that do not fit, and paths that do not lead to the roots", () => {
    expectReason(check({ ...reply, index: 5 }), "BadIndex")
    expectReason(check({ ...reply, resultLeafCount: 7 }), "BadIndex")
    expectReason(check({ ...reply, index: 1 }), "BadTxPath")
    expectReason(check({ ...reply, txCount: 6, resultLeafCount: 6 }), "BadTxPath")
    expectReason(check({ ...reply, txPath: reply.txPath.slice(1) }), "BadTxPath")
    expectReason(check({ ...reply, result: new Uint8Array([0, 1, 2]) }), "BadResultPath")
    expectReason(check({ ...reply, result: block2.results[1]! }), "BadResultPath")
    expectReason(check({ ...reply, resultPath: [flip(reply.resultPath[0]!), ...reply.resultPath.slice(1)] }), "BadResultPath")
  })

  it("rejects non-members, repeated signers, too few COMMITs and a bad signature", () => {
    const commits = reply.certificate.commits
    const withCommits = (c: typeof commits) => ({ ...reply, certificate: { ...reply.certificate, commits: c } })
    expectReason(check(withCommits([...commits.slice(0, 2), { ...commits[2]!, replica: 9 }])), "BadSigner")
    expectReason(check(withCommits([...commits.slice(0, 2), commits[0]!])), "BadSigner")
    expectReason(check(withCommits(commits.slice(0, 2))), "MissingSignatures")
    expectReason(check(withCommits([...commits.slice(0, 2), { ...commits[2]!, signature: flip(commits[2]!.signature, 5) }])), "BadSignature")
    // A replica's COMMIT presented under another member's id does not verify either.
    expectReason(check(withCommits([...commits.slice(0, 2), { ...commits[2]!, replica: 3 }])), "BadSignature")
    // Signed by the keys of another view (the next one), for this block's header: wrong keys.
    const foreign = makeCertificate(builder.chainId, view1, 2n, cert2.headerHash)
    expectReason(check(withCommits(foreign.commits)), "BadSignature")
  })

  it("any single flipped byte of an encoded certified reply is rejected, by the decoder or the checker", () => {
    const bytes = encodeCertifiedReply(reply)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const tampered = bytes.slice()
        tampered[at]! ^= 1 << bit
        const decoded = decodeCertifiedReply(tampered)
        if (Either.isLeft(decoded)) return
        expect(Either.isLeft(check(decoded.right))).toBe(true)
      }),
      { numRuns: 300 }
    )
  })
})

describe("certified reply layout (FORMAT.md section 11)", () => {
  it("places the header at byte 0, the certificate at 224 and the transaction after it, with the documented size", () => {
    const reply = replies2[4]!
    const bytes = encodeCertifiedReply(reply)
    const c = reply.certificate.commits.length
    expect(bytes.subarray(0, 224)).toEqual(encodeBlockHeader(reply.header))
    expect(bytes.subarray(224, 276 + 68 * c)).toEqual(encodeCertificate(reply.certificate))
    const txBytes = encodeTransaction(reply.transaction)
    expect(bytes.subarray(276 + 68 * c, 276 + 68 * c + txBytes.length)).toEqual(txBytes)
    const size = 224 + (52 + 68 * c) + (108 + reply.transaction.op.length) + 12 + (4 + reply.result.length) + (4 + 32 * reply.txPath.length) + (4 + 32 * reply.resultPath.length)
    expect(bytes.length).toBe(size)
  })
})
