// Establishes: a client follows the certified view records from the view it trusts. A reply
// certified by a view installed after it (a join) makes it fetch the reconfiguration blocks,
// learn the new view and accept the reply; from then on it sends to the new view's members. A
// reply certified by the superseded view's keys (the fork adversary holding the old keys of
// members who left) is refused with CertifiedReplyError WrongView, and forged reconfiguration
// blocks teach it nothing.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option } from "effect"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { resultHash, viewHash } from "../../src/chain/hash.ts"
import { merkleProof } from "../../src/chain/merkle.ts"
import { certifiedReply } from "../../src/chain/reply.ts"
import type { ClientReply } from "../../src/chain/reply.ts"
import type { Block, Transaction } from "../../src/chain/types.ts"
import { makeClient } from "../../src/client/client.ts"
import { makeMemoryClientTransport } from "../../src/client/memory-transport.ts"
import type { MemoryMember } from "../../src/client/memory-transport.ts"
import type { ViewChangesAnswer } from "../../src/client/transport.ts"
import { ClientViews } from "../../src/client/views.ts"
import type { CertifiedViewChange } from "../../src/reconfiguration/view-tracker.ts"
import { clientCrypto, clientKey } from "./fakes.ts"
import { joinTx, leaveTx, Network, rotateTx } from "../reconfiguration/support.ts"

const leavesOf = (b: Block) => [
  ...b.results.map((r) => resultHash(portableCrypto, r)),
  ...(Option.isSome(b.newView) ? [viewHash(portableCrypto, b.newView.value)] : [])
]

const changeAt = (net: Network, height: number): CertifiedViewChange => {
  const b = net.builder.blocks[height - 1]!
  const leaves = leavesOf(b)
  return {
    header: b.header,
    certificate: net.builder.certificates[height - 1]!,
    newView: Option.getOrThrow(b.newView),
    proof: { index: leaves.length - 1, leafCount: leaves.length, siblings: merkleProof(portableCrypto, leaves, leaves.length - 1) }
  }
}

/**
 * Every reconfiguration block of `net` after view `after`, as the members of its current view
 * send them, each vouching for the chain's height.
 */
const changesAfter = (net: Network) => (after: bigint): ViewChangesAnswer => ({
  changes: net.builder.blocks.flatMap((b, i) => (Option.isSome(b.newView) && b.newView.value.id > after ? [changeAt(net, i + 1)] : [])),
  heads: net.state.view.members.map((m) => ({ from: m.replica, height: net.builder.height }))
})

/**
 * view 0 {0,1,2,3}; block 1: replica 3 leaves and label 4 joins; block 2: 0, 1 and 2 rotate and
 * it installs view 1 {0,1,2,4}. The view-0 keys stay known to the test: they are what the fork
 * adversary holds when members keep (or departed members leak) their old keys.
 */
const joinedNetwork = () => {
  const net = new Network({ seed: "client-views", persistence: "strong", admit: [4] })
  const view0 = net.builder.currentView
  net.block([leaveTx(net, 3), joinTx(net, 4)])
  net.block([0, 1, 2].map((r) => rotateTx(net, r)))
  expect(net.state.view.id).toBe(1n)
  return { net, view0 }
}

/** The honest chain's certified answer to each transaction: its own block, decided once. */
const honestChain = (net: Network) => {
  const answers = new Map<bigint, ClientReply>()
  return (tx: Transaction): ClientReply => {
    const known = answers.get(tx.seq)
    if (known !== undefined) return known
    const block = net.block([tx], 0)
    const reply = certifiedReply(portableCrypto, block, net.builder.certificates[net.builder.certificates.length - 1]!, 0)
    answers.set(tx.seq, reply)
    return reply
  }
}

const op = (s: string) => new TextEncoder().encode(s)

describe("client views: certified replies across view changes", () => {
  it.scopedLive("a client that trusts the genesis view accepts a reply certified by the view installed by a join, after learning it", () =>
    Effect.gen(function* () {
      const { net } = joinedNetwork()
      const answer = honestChain(net)
      const sentTo = new Set<number>()
      const member =
        (id: number): MemoryMember =>
        (tx) => {
          sentTo.add(id)
          // Only members of the view that decides the block answer, each with the certified reply.
          return net.state.view.members.some((m) => m.replica === id) ? [answer(tx)] : []
        }
      const members = new Map<number, MemoryMember>([0, 1, 2, 3, 4].map((id) => [id, member(id)]))
      const transport = yield* makeMemoryClientTransport(members, { viewChanges: changesAfter(net) })
      const client = yield* makeClient(
        { chainId: net.chainId, view: net.builder.genesis.view, mode: "strong", key: clientKey, crypto: clientCrypto, timeoutMs: 500, attempts: 2, firstSeq: 10n },
        transport
      )
      const first = yield* client.submit(op("after the join"))
      expect(first.via).toBe("certificate")
      expect(first.reply.viewId).toBe(1n)
      expect(first.reply.height).toBe(3n)
      expect(client.currentView().id).toBe(1n)
      expect(client.knownViews()).toEqual([
        { id: 0n, installedAt: 0n },
        { id: 1n, installedAt: 2n }
      ])
      expect(client.metrics()).toMatchObject({ viewSyncs: 1, viewsLearned: 1, viewChangesRejected: 0, acceptedByCertificate: 1 })
      // The first submission went to view 0's members; the next goes to view 1's, the joiner included.
      sentTo.clear()
      const second = yield* client.submit(op("to the new members"))
      expect(second.reply.viewId).toBe(1n)
      expect([...sentTo].sort()).toEqual([0, 1, 2, 4])
      expect(client.metrics().viewSyncs).toBe(1)
    })
  )

  it.scopedLive("a reply certified by the superseded view's keys (the fork adversary) is refused with WrongView; the honest answer is accepted", () =>
    Effect.gen(function* () {
      const { net, view0 } = joinedNetwork()
      const answer = honestChain(net)
      // The adversary signs, with view 0's keys, a block at the next height that gives the
      // client's transaction another result: a competing chain from the old view.
      const forged = new Map<bigint, ClientReply>()
      const forge = (tx: Transaction): ClientReply => {
        const known = forged.get(tx.seq)
        if (known !== undefined) return known
        const height = net.builder.height + 1n
        const fork = new Network({ seed: "client-views", persistence: "strong", admit: [4] })
        fork.block([leaveTx(fork, 3), joinTx(fork, 4)])
        fork.block([0, 1, 2].map((r) => rotateTx(fork, r)))
        while (fork.builder.height + 1n < height) fork.block([], 1)
        const block = fork.builder.next({ transactions: [tx], results: [op("the adversary's result")], signingView: view0 })
        const reply = certifiedReply(portableCrypto, block, fork.builder.certificates[fork.builder.certificates.length - 1]!, 0)
        forged.set(tx.seq, reply)
        return reply
      }
      let honestAnswers = true
      // The departed member 3 holds view-0 keys and forges; the members of view 1 answer honestly
      // (a test switch silences them for the first submission).
      const members = new Map<number, MemoryMember>([0, 1, 2, 4].map((id): [number, MemoryMember] => [id, (tx) => (honestAnswers ? [answer(tx)] : [])]))
      const transport = yield* makeMemoryClientTransport(members, { viewChanges: changesAfter(net) })
      const client = yield* makeClient(
        { chainId: net.chainId, view: net.builder.genesis.view, mode: "strong", key: clientKey, crypto: clientCrypto, timeoutMs: 300, attempts: 1, firstSeq: 20n },
        transport
      )
      // The client learns the views from the replicas before it relies on a certificate.
      expect((yield* client.syncViews).id).toBe(1n)
      // Only the forger answers: its reply is refused and the submission times out.
      honestAnswers = false
      const lone = yield* client.sign(op("forged only"))
      yield* transport.inject(3, forge(lone))
      const refused = yield* Effect.either(client.submitTransaction(lone))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("ClientTimeout")
      expect(client.metrics().replies.badCertificates).toBe(1)
      expect(transport.sent.filter((s) => s.tx.seq === lone.seq).map((s) => s.to)).toEqual([0, 1, 2, 4])
      // With the honest members answering, the forged reply is refused again and theirs accepted.
      honestAnswers = true
      const tx = yield* client.sign(op("honest and forged"))
      yield* transport.inject(3, forge(tx))
      const accepted = yield* client.submitTransaction(tx)
      expect(accepted.via).toBe("certificate")
      expect(accepted.reply.viewId).toBe(1n)
      expect(accepted.reply.result).toEqual(net.builder.blocks[Number(accepted.reply.height) - 1]!.results[0])
      expect(accepted.reply.result).not.toEqual(op("the adversary's result"))
      expect(client.metrics().replies.badCertificates).toBe(2)
    })
  )

  it.scopedLive("strict views: a client never told of the change refuses the old view's certificate after asking the members; without strict it is fooled", () =>
    Effect.gen(function* () {
      const { net, view0 } = joinedNetwork()
      // The adversary's reply: the client's transaction at height 3, certified by view 0's keys
      // (superseded at height 2), on a fork built from the same first two blocks.
      const forgeFor = (tx: Transaction): ClientReply => {
        const fork = new Network({ seed: "client-views", persistence: "strong", admit: [4] })
        fork.block([leaveTx(fork, 3), joinTx(fork, 4)])
        fork.block([0, 1, 2].map((r) => rotateTx(fork, r)))
        // A header consistent with view 0 never having changed (no reconfiguration recorded).
        const block = fork.builder.next({
          transactions: [tx],
          results: [op("the adversary's result")],
          signingView: view0,
          header: (h) => ({ ...h, lastReconfigHeight: 0n })
        })
        return certifiedReply(portableCrypto, block, fork.builder.certificates[2]!, 0)
      }
      // The honest chain moved on to height 3 meanwhile; members vouch for it.
      net.block([], 1)
      const run = (strictViews: boolean) =>
        Effect.gen(function* () {
          const transport = yield* makeMemoryClientTransport(new Map(), { viewChanges: changesAfter(net) })
          const client = yield* makeClient(
            { chainId: net.chainId, view: net.builder.genesis.view, mode: "strong", key: clientKey, crypto: clientCrypto, timeoutMs: 300, attempts: 1, firstSeq: 40n, strictViews },
            transport
          )
          const tx = yield* client.sign(op("fooled?"))
          const submission = yield* Effect.fork(Effect.either(client.submitTransaction(tx)))
          yield* Effect.sleep("20 millis")
          yield* transport.inject(3, forgeFor(tx))
          const outcome = yield* Fiber.join(submission)
          return { outcome, metrics: client.metrics(), views: client.knownViews() }
        })
      // Negative control: the reply names view 0, which the client trusts and knows no successor of.
      const fooled = yield* run(false)
      expect(Either.isRight(fooled.outcome) && fooled.outcome.right.reply.result).toEqual(op("the adversary's result"))
      expect(fooled.metrics.viewSyncs).toBe(0)
      // Strict: the reply's height is above what members vouched for, so the client asks them,
      // learns view 1 (installed at 2) and refuses the view-0 certificate at height 3.
      const strict = yield* run(true)
      expect(Either.isLeft(strict.outcome) && strict.outcome.left._tag).toBe("ClientTimeout")
      expect(strict.views.map((v) => v.id)).toEqual([0n, 1n])
      expect(strict.metrics).toMatchObject({ viewSyncs: 1, viewsLearned: 1, repliesBeyondHorizon: 0 })
      expect(strict.metrics.replies.badCertificates).toBe(1)
    })
  )

  it("ClientViews: WrongView for a certificate of a superseded view, and forged view changes teach nothing", () => {
    const { net, view0 } = joinedNetwork()
    const views = Either.getOrThrow(ClientViews.start(portableCrypto, net.chainId, net.builder.genesis.view, 0n))
    // A forged change: view 1 with other keys, certified by a quorum of view 0 but not in the block's resultsRoot.
    const real = changeAt(net, 2)
    const otherView = { ...real.newView, members: real.newView.members.map((m, i) => (i === 0 ? { ...m, viewKey: net.builder.genesis.view.members[3]!.viewKey } : m)) }
    const learnedForged = views.learn([{ ...real, newView: otherView }])
    expect(learnedForged.views).toEqual([])
    expect(learnedForged.rejected.map((e) => e._tag)).toEqual(["ClientViewError"])
    expect(views.current.id).toBe(0n)
    expect(views.learn([real]).views.map((v) => v.id)).toEqual([1n])
    // A block after the change, certified by view 0's keys.
    net.builder.next({ signingView: view0 })
    const forged = certifiedReply(portableCrypto, net.builder.blocks[2]!, net.builder.certificates[2]!, 0)
    const tx = net.builder.blocks[2]!.transactions[0]!
    const checked = views.check(forged, { client: tx.client, seq: tx.seq })
    expect(Either.isLeft(checked) && checked.left).toMatchObject({ _tag: "CertifiedReplyError", reason: "WrongView" })
    expect(Either.isLeft(checked) && checked.left.detail).toMatch(/superseded by view 1 at height 2/)
    // A block of view 0 before the change still checks against view 0.
    const early = certifiedReply(portableCrypto, net.builder.blocks[0]!, net.builder.certificates[0]!, 0)
    const earlyTx = net.builder.blocks[0]!.transactions[0]!
    expect(Either.isRight(views.check(early, { client: earlyTx.client, seq: earlyTx.seq }))).toBe(true)
  })
})
