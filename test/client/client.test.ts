// Establishes: the client accepts a result only by its mode's rule (q matching replies in memory
// and weak mode; f + 1 matching or one valid certified reply in strong mode), ignores and counts
// duplicate and Byzantine replies, retries every member after a timeout, fails with a typed
// ClientTimeout instead of hanging, and gives every submission its own seq.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import fc from "fast-check"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import type { PersistenceMode } from "../../src/chain/types.ts"
import { trustedView } from "../../src/chain/reply.ts"
import { acceptanceRule, ReplyCollector } from "../../src/client/acceptance.ts"
import { ClientTimeout, makeClient } from "../../src/client/client.ts"
import type { ClientConfig } from "../../src/client/client.ts"
import { makeMemoryClientTransport } from "../../src/client/memory-transport.ts"
import type { MemoryMember } from "../../src/client/memory-transport.ts"
import {
  clientCrypto,
  clientKey,
  equivocating,
  FakeLedger,
  forgedCertified,
  honest,
  honestCertified,
  lossy,
  otherSeq,
  repeating,
  silent,
  underSignedCertified,
  wrongHeight,
  wrongResult
} from "./fakes.ts"
import { signTransaction } from "../support/chain-builder.ts"

const setup = (mode: PersistenceMode, members: (ledger: FakeLedger) => ReadonlyArray<MemoryMember>, options: Partial<ClientConfig> = {}) =>
  Effect.gen(function* () {
    const ledger = new FakeLedger(mode, 4)
    const behaviours = members(ledger)
    const transport = yield* makeMemoryClientTransport(new Map(behaviours.map((m, i) => [i, m])))
    const client = yield* makeClient(
      { chainId: ledger.chainId, view: ledger.view, mode, key: clientKey, crypto: clientCrypto, timeoutMs: 40, attempts: 2, firstSeq: 100n, ...options },
      transport
    )
    return { ledger, transport, client }
  })

const op = (s: string) => new TextEncoder().encode(s)

describe("acceptance rule", () => {
  it("needs q matching replies in memory and weak mode and f + 1 (or a certificate) in strong mode", () => {
    expect(acceptanceRule("memory", { n: 4, f: 1 })).toEqual({ mode: "memory", matchingReplies: 3, certifiedReplies: false })
    expect(acceptanceRule("weak", { n: 7, f: 2 })).toMatchObject({ matchingReplies: 5, certifiedReplies: false })
    expect(acceptanceRule("strong", { n: 7, f: 2 })).toMatchObject({ matchingReplies: 3, certifiedReplies: true })
  })
})

describe("reply collector", () => {
  const ledger = new FakeLedger("weak")
  const view = trustedView(clientCrypto, ledger.chainId, ledger.view)
  const tx = signTransaction(ledger.chainId, clientKey, 5n, op("k"))
  const truth = ledger.outcome(tx).reply

  it("ignores non-members and replies for another transaction, and accepts on the q-th matching member", () => {
    const c = new ReplyCollector(clientCrypto, view, acceptanceRule("weak", ledger.view), { client: tx.client, seq: tx.seq })
    expect(c.offer(7, truth)).toMatchObject({ _tag: "Ignored", reason: "NonMember" })
    expect(c.offer(0, { ...truth, seq: 6n })).toMatchObject({ _tag: "Ignored", reason: "Unsolicited" })
    expect(c.offer(0, { ...truth, client: new Uint8Array(32) })).toMatchObject({ _tag: "Ignored", reason: "Unsolicited" })
    expect(c.offer(0, truth)).toEqual({ _tag: "Counted", matching: 1 })
    expect(c.offer(1, { ...truth, viewId: 1n })).toEqual({ _tag: "Counted", matching: 1 })
    expect(c.offer(2, truth)).toEqual({ _tag: "Counted", matching: 2 })
    const done = c.offer(3, truth)
    expect(done).toMatchObject({ _tag: "Accepted", accepted: { via: "matching", voters: [0, 2, 3], reply: truth } })
    expect(c.offer(1, truth)).toMatchObject({ _tag: "Ignored", reason: "AlreadyAccepted" })
    expect(c.counters).toMatchObject({ nonMembers: 1, unsolicited: 2, mismatching: 1 })
  })
})

describe("client submissions", () => {
  it.scopedLive("weak mode: four honest members give the ledger's answer, with q voters, and seqs increase", () =>
    Effect.gen(function* () {
      const { client, ledger, transport } = yield* setup("weak", (l) => [honest(l), honest(l), honest(l), honest(l)])
      const a = yield* client.submit(op("pay 1"))
      const b = yield* client.submit(op("pay 2"))
      expect(a.transaction.seq).toBe(100n)
      expect(b.transaction.seq).toBe(101n)
      expect(a.reply).toEqual(ledger.outcome(a.transaction).reply)
      expect(a.via).toBe("matching")
      expect(a.voters).toHaveLength(3)
      expect(a.attempt).toBe(1)
      // The transaction is signed by the client's key over the chain's signing bytes.
      expect(clientCrypto.verify(clientKey.publicKey, txSigningBytes(ledger.chainId, a.transaction), a.transaction.signature)).toBe(true)
      expect(transport.sent.filter((s) => s.tx.seq === 100n).map((s) => s.to).sort()).toEqual([0, 1, 2, 3])
    })
  )

  it.scopedLive("weak mode: one Byzantine member's wrong result is outvoted and counted as mismatching", () =>
    Effect.gen(function* () {
      const { client, ledger } = yield* setup("weak", (l) => [wrongResult(l), honest(l), honest(l), honest(l)])
      const a = yield* client.submit(op("x"))
      expect(a.reply).toEqual(ledger.outcome(a.transaction).reply)
      expect(client.metrics().replies.mismatching).toBe(1)
    })
  )

  it.scopedLive("memory mode: two silent members leave too few replies, and the client fails with ClientTimeout after retrying", () =>
    Effect.gen(function* () {
      const { client, transport } = yield* setup("memory", (l) => [silent, silent, honest(l), honest(l)])
      const exit = yield* Effect.exit(client.submit(op("y")))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? exit.cause : undefined
      const timeout = error?._tag === "Fail" ? error.error : undefined
      expect(timeout).toBeInstanceOf(ClientTimeout)
      expect(timeout).toMatchObject({ attempts: 2, members: 2, bestMatching: 2, needed: 3, seq: 100n })
      expect(transport.sent).toHaveLength(8)
      expect(client.metrics()).toMatchObject({ timeouts: 1, retries: 1, accepted: 0 })
    })
  )

  it.scopedLive("a member that repeats itself counts once: two repeating members cannot make a weak quorum", () =>
    Effect.gen(function* () {
      const { client } = yield* setup("weak", (l) => [repeating(l), repeating(l), silent, silent], { attempts: 1 })
      const r = yield* Effect.either(client.submit(op("z")))
      expect(Either.isLeft(r) && r.left._tag).toBe("ClientTimeout")
      expect(client.metrics().replies.duplicates).toBe(4)
    })
  )

  it.scopedLive("an equivocating member's second answer is ignored and counted as a conflict", () =>
    Effect.gen(function* () {
      const { client, ledger } = yield* setup("weak", (l) => [equivocating(l), honest(l), honest(l), silent])
      const a = yield* client.submit(op("e"))
      expect(a.reply).toEqual(ledger.outcome(a.transaction).reply)
      expect(client.metrics().replies.conflicting).toBe(1)
    })
  )

  it.scopedLive("a retry reaches members that lost the first send, and the answer comes on attempt 2", () =>
    Effect.gen(function* () {
      const { client } = yield* setup("weak", (l) => [lossy(l), lossy(l), honest(l), honest(l)])
      const a = yield* client.submit(op("r"))
      expect(a.attempt).toBe(2)
      expect(client.metrics().retries).toBe(1)
    })
  )

  it.scopedLive("strong mode: f + 1 = 2 matching plain replies suffice", () =>
    Effect.gen(function* () {
      const { client, ledger } = yield* setup("strong", (l) => [silent, silent, honest(l), honest(l)])
      const a = yield* client.submit(op("s"))
      expect(a.via).toBe("matching")
      expect(a.voters).toHaveLength(2)
      expect(a.reply).toEqual(ledger.outcome(a.transaction).reply)
    })
  )

  it.scopedLive("strong mode: one certified reply alone is accepted after its local check", () =>
    Effect.gen(function* () {
      const { client, ledger } = yield* setup("strong", (l) => [silent, silent, silent, honestCertified(l)])
      const a = yield* client.submit(op("c"))
      expect(a.via).toBe("certificate")
      expect(a.reply).toEqual(ledger.outcome(a.transaction).reply)
      expect(a.certified?.header.height).toBe(a.reply.height)
      expect(client.metrics().acceptedByCertificate).toBe(1)
    })
  )

  it.scopedLive("strong mode: forged and under-signed certified replies are rejected and counted; alone they never pass", () =>
    Effect.gen(function* () {
      const { client } = yield* setup("strong", (l) => [forgedCertified(l), underSignedCertified(l), silent, silent], { attempts: 1 })
      const r = yield* Effect.either(client.submit(op("f")))
      expect(Either.isLeft(r)).toBe(true)
      expect(client.metrics().replies.badCertificates).toBe(2)
    })
  )

  it.scopedLive("replies for another seq, and replies arriving after acceptance, are counted as unmatched", () =>
    Effect.gen(function* () {
      const { client, transport, ledger } = yield* setup("weak", (l) => [otherSeq(l), honest(l), honest(l), honest(l)])
      const a = yield* client.submit(op("o"))
      yield* Effect.sleep(5)
      const before = client.metrics().unmatched
      yield* transport.inject(2, ledger.outcome(a.transaction).reply)
      yield* Effect.sleep(5)
      expect(client.metrics().unmatched).toBe(before + 1)
      // Member 0's reply names seq + 1, which nothing waits for (or a collector counts it as unsolicited).
      expect(before + client.metrics().replies.unsolicited).toBe(1)
    })
  )

  it.scopedLive("twenty concurrent submissions get twenty distinct seqs and are all accepted", () =>
    Effect.gen(function* () {
      const { client } = yield* setup("weak", (l) => [honest(l), honest(l), wrongHeight(l), honest(l)], { timeoutMs: 500 })
      const all = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => op(`tx ${i}`)),
        (o) => client.submit(o),
        { concurrency: "unbounded" }
      )
      expect(new Set(all.map((a) => a.transaction.seq)).size).toBe(20)
      expect(client.metrics()).toMatchObject({ submitted: 20, accepted: 20 })
    })
  )

  it.scopedLive("strong mode: certificates of a view the client does not trust are rejected until it trusts that view", () =>
    Effect.gen(function* () {
      const { client, ledger } = yield* setup("strong", (l) => [silent, silent, silent, honestCertified(l)], { attempts: 1 })
      yield* client.setView({ ...ledger.view, id: 7n })
      const stale = yield* Effect.either(client.submit(op("v1")))
      expect(Either.isLeft(stale)).toBe(true)
      expect(client.metrics().replies.badCertificates).toBe(1)
      yield* client.setView(ledger.view)
      const trusted = yield* client.submit(op("v2"))
      expect(trusted.via).toBe("certificate")
    })
  )

  it.scopedLive("submitting a transaction that is already waiting joins it: one collection, both get the answer", () =>
    Effect.gen(function* () {
      const { client } = yield* setup("weak", (l) => [lossy(l), lossy(l), honest(l), honest(l)], { timeoutMs: 60 })
      const tx = yield* client.sign(op("twice"))
      const [a, b] = yield* Effect.all([client.submitTransaction(tx), client.submitTransaction(tx)], { concurrency: "unbounded" })
      expect(a.reply).toEqual(b.reply)
      expect(client.metrics().submitted).toBe(2)
    })
  )

  it.scopedLive("the default first seq comes from the clock, so a restarted client does not reuse seqs", () =>
    Effect.gen(function* () {
      const ledger = new FakeLedger("weak")
      const transport = yield* makeMemoryClientTransport(new Map([[0, honest(ledger)]]))
      const client = yield* makeClient({ chainId: "c", view: ledger.view, mode: "weak", key: clientKey, crypto: clientCrypto }, transport)
      const tx = yield* client.sign(op("t"))
      expect(tx.seq).toBeGreaterThan(BigInt(Date.now() - 60_000) << 20n)
    })
  )
})

describe("client under arbitrary faults (property)", () => {
  type Behaviour = "honest" | "silent" | "wrongResult" | "wrongHeight" | "equivocating" | "repeating" | "forged" | "underSigned"
  const byzantine: ReadonlyArray<Behaviour> = ["silent", "wrongResult", "wrongHeight", "equivocating", "repeating", "forged", "underSigned"]
  const member = (l: FakeLedger, b: Behaviour, mode: PersistenceMode): MemoryMember => {
    switch (b) {
      case "honest":
        return mode === "strong" ? honestCertified(l) : honest(l)
      case "silent":
        return silent
      case "wrongResult":
        return wrongResult(l)
      case "wrongHeight":
        return wrongHeight(l)
      case "equivocating":
        return equivocating(l)
      case "repeating":
        return repeating(l)
      case "forged":
        return mode === "strong" ? forgedCertified(l) : wrongResult(l)
      case "underSigned":
        return mode === "strong" ? underSignedCertified(l) : wrongResult(l)
    }
  }

  it("with at most f Byzantine members of 4 (colluding or not), the client always accepts the honest answer", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<PersistenceMode>("memory", "weak", "strong"),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(...byzantine),
        async (mode, bad, behaviour) => {
          const program = Effect.scoped(
            Effect.gen(function* () {
              const { client, ledger } = yield* setup(mode, (l) =>
                [0, 1, 2, 3].map((i) => member(l, i === bad ? behaviour : "honest", mode))
              )
              const a = yield* client.submit(op(`p ${mode} ${bad} ${behaviour}`))
              return { accepted: a.reply, truth: ledger.outcome(a.transaction).reply }
            })
          )
          const { accepted, truth } = await Effect.runPromise(program)
          expect(accepted).toEqual(truth)
        }
      ),
      { numRuns: 30 }
    )
  })
})
