/**
 * The fork attack of the SMaRtChain paper, against a chain with real view changes.
 *
 * History: view 0 = {0, 1, 2, 3}; member 3 leaves and replica 4 joins, the continuing members
 * rotate: view 1 = {0, 1, 2, 4}; then member 2 leaves and replica 5 joins: view 2 = {0, 1, 4, 5}.
 * Every replica keeps its view keys in files and runs InstallView / EraseKeys on them once the
 * installing block is durable (src/services/view-keys.ts).
 *
 * Adversary: it compromises the departed members 2 and 3 after they left (it reads every key file
 * they still have) and controls f = 1 current member, replica 1, which is Byzantine and never
 * erases anything. With erasure it holds one key per view, fewer than any view's quorum, and all
 * it can forge is rejected. With erasure off it holds q = 3 keys of view 0: it signs a competing
 * chain, which a verifier without view tracking accepts, while the real verifier rejects the
 * blocks that old keys certify after view 0 was superseded. A competing chain that branches
 * inside view 0 is accepted by any verifier: only erasure prevents that one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { bytesEqual, toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { acceptSigningBytes } from "../../src/chain/encoding.ts"
import { batchHash, decisionHash, genesisHash, headerHash } from "../../src/chain/hash.ts"
import type { Block, Genesis, ViewRecord } from "../../src/chain/types.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import { byzantineQuorum } from "../../src/core/quorum.ts"
import { verifyStoredChain } from "../../src/cli/verify.ts"
import type { ReplicaReconfigState } from "../../src/reconfiguration/replica-state.ts"
import { joinerState, memberState } from "../../src/reconfiguration/replica-state.ts"
import { requestJoin } from "../../src/reconfiguration/request-join.ts"
import { requestLeave } from "../../src/reconfiguration/request-leave.ts"
import { rotate } from "../../src/reconfiguration/rotate.ts"
import { makeMemoryBlockStore } from "../../src/services/blockstore-memory.ts"
import { installViewKeys, listViewKeys, readViewKey, storeViewKey } from "../../src/services/view-keys.ts"
import type { ViewKeys } from "../support/chain-builder.ts"
import { ChainBuilder } from "../support/chain-builder.ts"
import { addressOf, identityOf, Network } from "./support.ts"

const BYZANTINE = 1
const DEPARTED = [3, 2]

interface History {
  readonly net: Network
  readonly dirs: ReadonlyMap<number, string>
  /** The view records of the chain, by id. */
  readonly views: ReadonlyArray<ViewRecord>
}

/** Runs the history above; `erasure` is the replicas' (test-only) erasure setting. */
const runHistory = (erasure: boolean) =>
  Effect.gen(function* () {
    const net = new Network({ seed: "fork", persistence: "strong", admit: [4, 5] })
    const root = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-fork-")))
    const dirs = new Map<number, string>()
    const local = new Map<number, ReplicaReconfigState>()
    for (const r of [0, 1, 2, 3, 4, 5]) dirs.set(r, path.join(root, `replica-${r}`))
    for (const m of net.state.view.members) {
      const secret = net.secrets.get(toHex(m.viewKey))!
      yield* storeViewKey(dirs.get(m.replica)!, m.replica, 0n, m.viewKey, secret)
      local.set(m.replica, memberState(m.replica, m.identityKey, 0n))
    }
    for (const j of [4, 5]) local.set(j, joinerState(j, identityOf(net.seed, j).publicKey))

    /** A fresh view key for `label` in view `view`, stored in its key directory. */
    const freshKey = (label: number, view: bigint) =>
      Effect.gen(function* () {
        const signer = net.freshViewKey(label, view)
        yield* storeViewKey(dirs.get(label)!, label, view, signer.publicKey, net.secrets.get(toHex(signer.publicKey))!)
        return signer
      })

    /**
     * Every replica performs InstallView / EraseKeys: block `height` installed the view, and the
     * new view has decided block height + 1 (taken over), which is durable too.
     */
    const installEverywhere = (height: bigint) =>
      Effect.gen(function* () {
        for (const [label, s] of local) {
          // The Byzantine member keeps every key it ever had.
          const r = yield* installViewKeys({
            dir: dirs.get(label)!,
            local: s,
            view: net.state.view,
            installHeight: height,
            durableHeight: height + 1n,
            takenOver: true,
            erasure: erasure && label !== BYZANTINE
          })
          local.set(label, r.local)
        }
      })

    const change = (leaver: number, joiner: number, rotating: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        const leave = requestLeave(local.get(leaver)!, net.state, net.chainId, net.identity(leaver), net.nextSeq(leaver))
        local.set(leaver, leave.local)
        const joinKey = yield* freshKey(joiner, net.state.view.id + 1n)
        const join = requestJoin(local.get(joiner)!, net.state, net.chainId, net.identity(joiner), joinKey, addressOf(joiner), net.nextSeq(joiner))
        local.set(joiner, join.local)
        net.block([leave.transaction, join.transaction])
        const rotations = []
        for (const r of rotating) {
          const key = yield* freshKey(r, net.state.view.id + 1n)
          const made = rotate(local.get(r)!, net.state, net.chainId, net.identity(r), net.currentViewKey(r), key, net.nextSeq(r))
          local.set(r, made.local)
          rotations.push(made.transaction)
        }
        net.block(rotations)
        expect(net.outcomes[net.outcomes.length - 1]!.installed).toBeDefined()
        const installedAt = net.builder.height
        net.block() // decided and certified by the new view
        yield* installEverywhere(installedAt)
      })

    yield* change(3, 4, [0, 1, 2])
    yield* change(2, 5, [0, 1, 4])
    net.block()
    const views = [net.builder.genesis.view, ...net.builder.blocks.flatMap((b) => (b.newView._tag === "Some" ? [b.newView.value] : []))]
    return { net, dirs, views } satisfies History
  })

/** What the adversary holds: for each view id, replica id -> view-key secret. */
const harvest = (h: History) =>
  Effect.gen(function* () {
    const held = new Map<bigint, Map<number, Uint8Array>>()
    for (const label of [...DEPARTED, BYZANTINE]) {
      const dir = h.dirs.get(label)!
      for (const v of yield* listViewKeys(dir)) {
        const key = yield* readViewKey(dir, v)
        const view = h.views.find((x) => x.id === v)!
        const member = view.members.find((m) => bytesEqual(m.viewKey, key.publicKey))
        if (member === undefined) continue
        const forView = held.get(v) ?? new Map<number, Uint8Array>()
        forView.set(member.replica, key.secretKey)
        held.set(v, forView)
      }
    }
    return held
  })

/**
 * A verifier without view tracking: hash links, roots and decision hashes, and a decision proof
 * with q valid ACCEPT signatures of the members of some view it has heard of (genesis's, or one
 * a block announced), whatever view the chain is in.
 */
const naiveVerify = (genesis: Genesis, blocks: ReadonlyArray<Block>): boolean => {
  const known: Array<ViewRecord> = [genesis.view]
  let prev = genesisHash(portableCrypto, genesis)
  for (const b of blocks) {
    if (!bytesEqual(b.header.prevHash, prev)) return false
    const root = batchHash(portableCrypto, b.transactions)
    if (!bytesEqual(b.header.txRoot, root) || !bytesEqual(b.decision.batchHash, root)) return false
    if (!bytesEqual(b.header.decisionHash, decisionHash(portableCrypto, b.decision))) return false
    const message = acceptSigningBytes(genesis.chainId, b.decision)
    const quorumOfSomeView = known.some((v) => {
      const signers = new Set<number>()
      for (const a of b.decision.accepts) {
        const m = v.members.find((x) => x.replica === a.replica)
        if (m !== undefined && portableCrypto.verify(m.viewKey, message, a.signature)) signers.add(a.replica)
      }
      return signers.size >= byzantineQuorum(v.n, v.f)
    })
    if (!quorumOfSomeView) return false
    if (b.newView._tag === "Some") known.push(b.newView.value)
    prev = headerHash(portableCrypto, b.header)
  }
  return true
}

/** The adversary's keys of view `v` as a signing view, or undefined if it holds none. */
const adversaryView = (h: History, held: Map<bigint, Map<number, Uint8Array>>, v: bigint): ViewKeys | undefined => {
  const secrets = held.get(v)
  return secrets === undefined ? undefined : { record: h.views.find((x) => x.id === v)!, secrets, identities: new Map() }
}

/** A competing chain that branches from genesis: block 1' with other transactions, signed with view-0 keys. */
const forkFromGenesis = (h: History, keys: ViewKeys): ReadonlyArray<Block> => {
  const adv = new ChainBuilder({ seed: "adversary", from: { genesis: h.net.builder.genesis, viewSecrets: keys.secrets } })
  const signers = [...keys.secrets.keys()]
  // Fill up to a quorum with ACCEPT signatures copied from the real block 1 (they sign another batch).
  const honest = h.net.builder.blocks[0]!.decision.accepts.filter((a) => !keys.secrets.has(a.replica))
  const q = byzantineQuorum(keys.record.n, keys.record.f)
  adv.next({
    signers,
    decision: (d) => ({ ...d, accepts: [...d.accepts, ...honest.slice(0, Math.max(0, q - d.accepts.length))] })
  })
  adv.next({ signers })
  return adv.blocks
}

/** The real chain, then one more block certified by the superseded view 0's keys. */
const extendWithOldView = (erasure: boolean, keys: ViewKeys) =>
  Effect.gen(function* () {
    // The adversary's copy of the real chain: the same deterministic history.
    const copy = yield* runHistory(erasure)
    copy.net.builder.next({ signingView: keys, signers: [...keys.secrets.keys()] })
    return copy.net.builder.blocks
  })

const reasonOf = (genesis: Genesis, blocks: ReadonlyArray<Block>) => {
  const r = verifyChain(portableCrypto, genesis, blocks)
  return Either.isLeft(r) ? `${r.left.reason}@${r.left.height}` : "valid"
}

/** Runs `smartchain verify`'s stored-chain check over `blocks` held in a block store. */
const storedVerdict = (genesis: Genesis, blocks: ReadonlyArray<Block>) =>
  Effect.gen(function* () {
    const store = yield* makeMemoryBlockStore()
    for (const b of blocks) yield* store.appendBlock(b)
    yield* store.sync()
    return yield* verifyStoredChain(genesis).pipe(
      Effect.provide(store.layer),
      Effect.match({ onFailure: (e) => `rejected: ${e.reason}`, onSuccess: () => "valid" })
    )
  })

describe("fork attack: keys of departed members plus f Byzantine members", () => {
  it.effect("with erasure the adversary holds fewer than q keys of every view, and every chain it forges is rejected", () =>
    Effect.gen(function* () {
      const h = yield* runHistory(true)
      const genesis = h.net.builder.genesis
      expect(reasonOf(genesis, h.net.builder.blocks)).toBe("valid")
      expect(h.views.map((v) => v.members.map((m) => m.replica))).toEqual([[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 4, 5]])

      const held = yield* harvest(h)
      // The departed members erased everything; only the Byzantine member's own keys remain.
      for (const d of DEPARTED) expect(yield* listViewKeys(h.dirs.get(d)!)).toEqual([])
      for (const v of h.views) expect(held.get(v.id)?.size ?? 0).toBeLessThan(byzantineQuorum(v.n, v.f))
      expect([...held.keys()].sort()).toEqual([0n, 1n, 2n])

      const view0 = adversaryView(h, held, 0n)!
      const fork = forkFromGenesis(h, view0)
      expect(reasonOf(genesis, fork)).toBe("BadSignature@1")
      expect(naiveVerify(genesis, fork)).toBe(false)
      for (const v of [0n, 1n, 2n]) {
        const extended = yield* extendWithOldView(true, adversaryView(h, held, v)!)
        expect(reasonOf(genesis, extended)).toMatch(v === 2n ? /^MissingSignatures@8$/ : /^WrongView@8$/)
        expect(naiveVerify(genesis, extended)).toBe(false)
      }
    })
  )

  it.effect("with erasure off (test-only) the same adversary forges a chain the naive verifier accepts and the real verifier rejects", () =>
    Effect.gen(function* () {
      const h = yield* runHistory(false)
      const genesis = h.net.builder.genesis
      expect(reasonOf(genesis, h.net.builder.blocks)).toBe("valid")
      const held = yield* harvest(h)
      const view0 = adversaryView(h, held, 0n)!
      expect([...view0.secrets.keys()].sort()).toEqual([1, 2, 3])
      expect(view0.secrets.size).toBeGreaterThanOrEqual(byzantineQuorum(view0.record.n, view0.record.f))

      // The negative control: a block certified by the superseded view 0 after the real view 2.
      const extended = yield* extendWithOldView(false, view0)
      expect(extended[extended.length - 1]!.header.viewId).toBe(0n)
      expect(naiveVerify(genesis, extended)).toBe(true)
      expect(reasonOf(genesis, extended)).toBe("WrongView@8")
      expect(yield* storedVerdict(genesis, extended)).toMatch(/^rejected: block 8: WrongView: certified by view 0, superseded by view 2/)
      expect(yield* storedVerdict(genesis, h.net.builder.blocks)).toBe("valid")
    })
  )

  it.effect("with erasure off, a branch inside view 0 verifies for every verifier: only erasure prevents this fork", () =>
    Effect.gen(function* () {
      const h = yield* runHistory(false)
      const genesis = h.net.builder.genesis
      const held = yield* harvest(h)
      const fork = forkFromGenesis(h, adversaryView(h, held, 0n)!)
      expect(bytesEqual(fork[0]!.header.txRoot, h.net.builder.blocks[0]!.header.txRoot)).toBe(false)
      expect(naiveVerify(genesis, fork)).toBe(true)
      expect(reasonOf(genesis, fork)).toBe("valid")
    })
  )
})
