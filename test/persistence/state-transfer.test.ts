// Establishes: a state-transfer session brings a lagging replica to its peers' checkpoint and
// head (snapshot hash-checked against the confirmed header, later blocks verified from the
// checkpoint), fetches ranges in parallel, and survives Byzantine peers (lies about height,
// fabricated checkpoints, wrong snapshots, forged blocks, silence), counting each; it fails with
// a typed error, never a hang, when too few honest peers remain.
import { Either, Option } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { appContext } from "../../src/app/application.ts"
import { kvApp, putOp } from "../../src/app/kv.ts"
import type { KvState } from "../../src/app/kv.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import { encodeBlockHeader } from "../../src/chain/encoding.ts"
import { genesisHash, headerHash } from "../../src/chain/hash.ts"
import type { Block, ReplicaId } from "../../src/chain/types.ts"
import { ChainVerifier, verifyChain } from "../../src/chain/verify.ts"
import type { ChainPosition } from "../../src/chain/verify.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { isCheckpointHeight, noStateHash } from "../../src/persistence/checkpoint.ts"
import {
  decodeStateTransferMessage,
  encodeStateTransferMessage,
  StateTransferSession,
  stateTransferTags
} from "../../src/persistence/state-transfer.ts"
import type {
  CheckpointClaim,
  StateTransferInput,
  StateTransferMessage,
  StateTransferOutput,
  StatusAnswer
} from "../../src/persistence/state-transfer.ts"
import { ChainBuilder, makeCertificate, signTransaction } from "../support/chain-builder.ts"
import type { ViewKeys } from "../support/chain-builder.ts"

const utf8 = (s: string) => new TextEncoder().encode(s)

// ---------------------------------------------------------------------------------------------
// A kv chain whose checkpoint headers carry the real state hash
// ---------------------------------------------------------------------------------------------

interface KvChain {
  readonly builder: ChainBuilder
  /** states[h]: the kv state after block h (states[0]: the initial state). */
  readonly states: ReadonlyArray<KvState>
  readonly K: number
}

const buildKvChain = (o: { blocks: number; K: number; persistence?: "weak" | "strong"; viewChangeAt?: ReadonlyArray<number> }): KvChain => {
  const builder = new ChainBuilder({ persistence: o.persistence ?? "weak", seed: "st", limits: { ...defaultLimits, checkpointInterval: o.K } })
  const states: Array<KvState> = [kvApp.initial(builder.genesis)]
  let seq = 0n
  for (let h = 1; h <= o.blocks; h++) {
    const txs = [0, 1].map((i) => signTransaction(builder.chainId, builder.clients[i]!, seq++, putOp(utf8(`key ${h % 5}`), utf8(`value ${h}.${i}`))))
    const outcome = kvApp.executeBatch(states[h - 1]!, appContext(crypto, builder.genesis, BigInt(h)), txs)
    states.push(outcome.state)
    const stateHash = isCheckpointHeight(BigInt(h), o.K) ? kvApp.stateHash(crypto, outcome.state) : noStateHash
    builder.next({
      transactions: txs,
      results: outcome.results,
      header: (hd) => ({ ...hd, stateHash }),
      ...(o.viewChangeAt?.includes(h) === true ? { installView: {} } : {})
    })
  }
  return { builder, states, K: o.K }
}

const viewOf = (chain: KvChain, viewId: bigint): ViewKeys => chain.builder.views.find((v) => v.record.id === viewId)!

/** The honest claim of a member whose head is `height`. */
const honestClaim = (chain: KvChain, height: number): Option.Option<CheckpointClaim> => {
  const c = height - (height % chain.K)
  if (c === 0) return Option.none()
  const block = chain.builder.blocks[c - 1]!
  return Option.some({
    header: block.header,
    view: viewOf(chain, block.header.viewId).record,
    nextView: block.newView,
    certificate: chain.builder.genesis.persistence === "strong" ? Option.some(chain.builder.certificates[c - 1]!) : Option.none()
  })
}

/** The verified position after block `height` of the chain (what a replica holding it knows). */
const positions = new WeakMap<KvChain, Map<number, ChainPosition>>()
const positionAt = (chain: KvChain, height: number): ChainPosition => {
  let byHeight = positions.get(chain)
  if (byHeight === undefined) positions.set(chain, (byHeight = new Map()))
  const known = byHeight.get(height)
  if (known !== undefined) return known
  const v = ChainVerifier.start(crypto, chain.builder.genesis, { checkTransactionSignatures: false })
  for (const b of chain.builder.blocks.slice(0, height)) Either.getOrThrow(v.next(b))
  const position = v.position()!
  byHeight.set(height, position)
  return position
}

// ---------------------------------------------------------------------------------------------
// Peers and the driver
// ---------------------------------------------------------------------------------------------

/** A peer: what it answers to each request (undefined: no answer). */
interface Peer {
  readonly status: () => StatusAnswer | undefined
  readonly snapshot: (height: bigint) => Uint8Array | undefined
  readonly blocks: (from: bigint, to: bigint) => ReadonlyArray<Block> | undefined
}

const honestPeer = (chain: KvChain, height = chain.builder.blocks.length): Peer => ({
  status: () => ({ height: BigInt(height), checkpoint: honestClaim(chain, height) }),
  snapshot: (h) => kvApp.snapshot(chain.states[Number(h)]!),
  blocks: (from, to) => chain.builder.blocks.slice(Number(from) - 1, Math.min(Number(to), height))
})

const silentPeer: Peer = { status: () => undefined, snapshot: () => undefined, blocks: () => undefined }

interface Run {
  readonly outputs: Array<StateTransferOutput<KvState>>
  readonly session: StateTransferSession<KvState>
  readonly installed: KvState | undefined
  readonly applied: Array<Block>
  /** The requests for blocks, in order. */
  readonly asks: Array<{ readonly to: ReplicaId; readonly from: bigint; readonly toHeight: bigint }>
  readonly done: Extract<StateTransferOutput<KvState>, { _tag: "Done" }> | undefined
  readonly failed: Extract<StateTransferOutput<KvState>, { _tag: "Failed" }> | undefined
  readonly nowMs: number
}

const run = (
  chain: KvChain,
  peers: ReadonlyMap<ReplicaId, Peer>,
  o: { local?: ChainPosition; rangeBlocks?: number; self?: ReplicaId } = {}
): Run => {
  const session = new StateTransferSession<KvState>({
    crypto,
    genesis: chain.builder.genesis,
    app: kvApp,
    view: chain.builder.currentView.record,
    self: o.self ?? 0,
    local: o.local ?? positionAt(chain, 0),
    rangeBlocks: o.rangeBlocks ?? 3,
    requestTimeoutMs: 100,
    statusRoundsMax: 3,
    verifyOptions: { checkTransactionSignatures: false }
  })
  const outputs: Array<StateTransferOutput<KvState>> = []
  const inbox: Array<StateTransferInput> = []
  const asks: Array<{ to: ReplicaId; from: bigint; toHeight: bigint }> = []
  let installed: KvState | undefined
  const applied: Array<Block> = []
  let nowMs = 0
  const interpret = (outs: ReadonlyArray<StateTransferOutput<KvState>>) => {
    for (const out of outs) {
      outputs.push(out)
      switch (out._tag) {
        case "AskStatus":
          for (const to of out.to) {
            const answer = peers.get(to)?.status()
            if (answer !== undefined) inbox.push({ _tag: "Status", from: to, answer })
          }
          break
        case "AskSnapshot": {
          const snapshot = peers.get(out.to)?.snapshot(out.height)
          if (snapshot !== undefined) inbox.push({ _tag: "Snapshot", from: out.to, height: out.height, snapshot })
          break
        }
        case "AskBlocks": {
          asks.push({ to: out.to, from: out.fromHeight, toHeight: out.toHeight })
          const blocks = peers.get(out.to)?.blocks(out.fromHeight, out.toHeight)
          if (blocks !== undefined) inbox.push({ _tag: "Blocks", from: out.to, fromHeight: out.fromHeight, blocks })
          break
        }
        case "InstallSnapshot":
          expect(applied).toHaveLength(0)
          installed = out.state
          break
        case "ApplyBlocks":
          applied.push(...out.blocks)
          break
      }
    }
  }
  interpret(session.start(nowMs))
  for (let steps = 0; !session.finished && steps < 10_000; steps++) {
    const input = inbox.shift()
    if (input !== undefined) interpret(session.handle(input))
    else {
      nowMs += 50
      interpret(session.handle({ _tag: "Tick", nowMs }))
    }
  }
  expect(session.finished).toBe(true)
  const done = outputs.find((x): x is Extract<typeof x, { _tag: "Done" }> => x._tag === "Done")
  const failed = outputs.find((x): x is Extract<typeof x, { _tag: "Failed" }> => x._tag === "Failed")
  return { outputs, session, installed, applied, asks, done, failed, nowMs }
}

/** Checks a finished run: the snapshot and blocks bring the replica to the chain's state at `height`. */
const expectReached = (chain: KvChain, r: Run, height: number, from = 0) => {
  expect(r.failed).toBeUndefined()
  expect(r.done?.position.height).toBe(BigInt(height))
  expect(r.done?.position.headHash).toEqual(headerHash(crypto, chain.builder.blocks[height - 1]!.header))
  const start = r.installed === undefined ? from : Number(r.session.chosen!.checkpointHeight)
  expect(r.applied.map((b) => b.header.height)).toEqual(Array.from({ length: height - start }, (_, i) => BigInt(start + i + 1)))
  let state = r.installed ?? chain.states[from]!
  for (const b of r.applied) state = kvApp.executeBatch(state, appContext(crypto, chain.builder.genesis, b.header.height), b.transactions).state
  expect(kvApp.stateHash(crypto, state)).toEqual(kvApp.stateHash(crypto, chain.states[height]!))
}

const peersOf = (entries: ReadonlyArray<readonly [ReplicaId, Peer]>) => new Map(entries)

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

const weak = buildKvChain({ blocks: 23, K: 5 })

describe("ChainVerifier positions", () => {
  it("verification resumed from a position accepts the rest of the chain and reaches the same head", () => {
    const straight = Either.getOrThrow(verifyChain(crypto, weak.builder.genesis, weak.builder.blocks))
    const v = ChainVerifier.resume(crypto, weak.builder.genesis, positionAt(weak, 12))
    for (const b of weak.builder.blocks.slice(12)) expect(Either.isRight(v.next(b))).toBe(true)
    expect(Either.getOrThrow(v.finish()).headHash).toEqual(straight.headHash)
    // Resumed at the wrong place, the next block fails to link.
    const wrong = ChainVerifier.resume(crypto, weak.builder.genesis, { ...positionAt(weak, 12), headHash: genesisHash(crypto, weak.builder.genesis) })
    expect(Either.isLeft(wrong.next(weak.builder.blocks[12]!))).toBe(true)
  })
})

describe("state transfer with honest peers", () => {
  it("an empty replica takes the latest checkpoint's snapshot and the blocks after it", () => {
    const r = run(weak, peersOf([[1, honestPeer(weak)], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(r.session.chosen).toMatchObject({ checkpointHeight: 20n, height: 23n, certified: false })
    expect(r.installed).toBeDefined()
    expectReached(weak, r, 23)
    expect(r.session.counters).toMatchObject({ badSnapshots: 0, badBlocks: 0, timeouts: 0, statusRounds: 1 })
  })

  it("a replica whose own chain is past the checkpoint fetches only the blocks after its head", () => {
    const r = run(weak, peersOf([[1, honestPeer(weak)], [2, honestPeer(weak)], [3, honestPeer(weak)]]), { local: positionAt(weak, 21) })
    expect(r.installed).toBeUndefined()
    expectReached(weak, r, 23, 21)
  })

  it("a replica already at the peers' head is done at once, asking for nothing but status", () => {
    const r = run(weak, peersOf([[1, honestPeer(weak)], [2, honestPeer(weak)], [3, honestPeer(weak)]]), { local: positionAt(weak, 23) })
    expect(r.done?.position.height).toBe(23n)
    expect(r.asks).toHaveLength(0)
  })

  it("block ranges are requested from different peers in parallel", () => {
    const chain = buildKvChain({ blocks: 14, K: 20 })
    const r = run(chain, peersOf([[1, honestPeer(chain)], [2, honestPeer(chain)], [3, honestPeer(chain)]]), { rangeBlocks: 4 })
    expect(new Set(r.asks.slice(0, 3).map((a) => a.to)).size).toBe(3)
    expectReached(chain, r, 14)
  })

  it("peers at different heights: the target is what f + 1 of them vouch for, the checkpoint the one f + 1 share", () => {
    const r = run(weak, peersOf([[1, honestPeer(weak, 23)], [2, honestPeer(weak, 22)], [3, honestPeer(weak, 17)]]))
    expect(r.session.chosen).toMatchObject({ checkpointHeight: 20n, height: 22n })
    expectReached(weak, r, 22)
    // No peer at 17 was asked for blocks beyond its head.
    for (const a of r.asks.filter((x) => x.to === 3)) expect(a.toHeight <= 17n).toBe(true)
  })

  it("a chain with view changes (one at a checkpoint block) is verified across them", () => {
    const chain = buildKvChain({ blocks: 17, K: 5, viewChangeAt: [5, 12] })
    const r = run(chain, peersOf([[1, honestPeer(chain)], [2, honestPeer(chain)], [3, honestPeer(chain)]]))
    expectReached(chain, r, 17)
    const fromCheckpoint5 = run(chain, peersOf([[1, honestPeer(chain, 9)], [2, honestPeer(chain, 9)], [3, honestPeer(chain, 9)]]))
    expect(fromCheckpoint5.session.chosen?.checkpointHeight).toBe(5n)
    expectReached(chain, fromCheckpoint5, 9)
  })
})

describe("state transfer with Byzantine peers", () => {
  it("a peer lying about its height cannot raise the target beyond what f + 1 peers vouch for", () => {
    const liar: Peer = { ...honestPeer(weak), status: () => ({ height: 1_000_000n, checkpoint: honestClaim(weak, 23) }) }
    const r = run(weak, peersOf([[1, liar], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(r.session.chosen?.height).toBe(23n)
    expectReached(weak, r, 23)
  })

  it("a fabricated later checkpoint claimed by one peer is not chosen; one off the K grid is a bad answer", () => {
    const block = weak.builder.blocks[19]!
    const offGrid: CheckpointClaim = { ...Option.getOrThrow(honestClaim(weak, 23)), header: { ...block.header, height: 21n, lastCheckpointHeight: 21n } }
    const offGridLiar: Peer = { ...honestPeer(weak), status: () => ({ height: 23n, checkpoint: Option.some(offGrid) }) }
    const rejected = run(weak, peersOf([[1, offGridLiar], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(rejected.session.counters.badStatusAnswers).toBe(1)
    expectReached(weak, rejected, 23)
    const fake: CheckpointClaim = { ...Option.getOrThrow(honestClaim(weak, 23)), header: { ...block.header, height: 25n, lastCheckpointHeight: 25n } }
    const liar: Peer = { ...honestPeer(weak), status: () => ({ height: 27n, checkpoint: Option.some(fake) }) }
    const r = run(weak, peersOf([[1, liar], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(r.session.chosen?.checkpointHeight).toBe(20n)
    expectReached(weak, r, 23)
  })

  it("an inconsistent claim marks its peer faulty and counts a bad status answer", () => {
    const claim = Option.getOrThrow(honestClaim(weak, 23))
    const liar: Peer = { ...honestPeer(weak), status: () => ({ height: 23n, checkpoint: Option.some({ ...claim, header: { ...claim.header, lastCheckpointHeight: 15n } }) }) }
    const r = run(weak, peersOf([[1, liar], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(r.session.counters.badStatusAnswers).toBe(1)
    expect([...r.session.faulty]).toEqual([1])
    expect(r.asks.some((a) => a.to === 1)).toBe(false)
    expectReached(weak, r, 23)
  })

  it("a wrong snapshot is rejected by its hash and the next claimant's is used", () => {
    const liar: Peer = { ...honestPeer(weak), snapshot: () => kvApp.snapshot(weak.states[19]!) }
    const garbage: Peer = { ...honestPeer(weak), snapshot: () => new Uint8Array([1, 2, 3]) }
    const r = run(weak, peersOf([[1, liar], [2, garbage], [3, honestPeer(weak)]]))
    expect(r.session.counters.badSnapshots).toBe(2)
    expect([...r.session.faulty].sort()).toEqual([1, 2])
    expectReached(weak, r, 23)
  })

  it("forged blocks are rejected by verification and their range fetched again from another peer", () => {
    const forger: Peer = {
      ...honestPeer(weak),
      blocks: (from, to) => honestPeer(weak).blocks(from, to)!.map((b) => ({ ...b, results: b.results.map(() => utf8("forged")) }))
    }
    const r = run(weak, peersOf([[1, forger], [2, honestPeer(weak)], [3, honestPeer(weak)]]), { rangeBlocks: 1 })
    expect(r.session.counters.badBlocks).toBe(1)
    expect(r.session.faulty.has(1)).toBe(true)
    expectReached(weak, r, 23)
  })

  it("a block signed by keys outside the view (a fork) is rejected", () => {
    const fork = buildKvChain({ blocks: 23, K: 5 })
    // Same heights, different seed for its clients' ops would still share view keys; re-sign the decision with foreign keys instead.
    const outsider = makeCertificate(weak.builder.chainId, viewOf(weak, 0n), 1n, new Uint8Array(32))
    const forger: Peer = {
      ...honestPeer(weak),
      blocks: (from, to) =>
        honestPeer(fork).blocks(from, to)!.map((b) => ({ ...b, decision: { ...b.decision, accepts: outsider.commits } }))
    }
    const r = run(weak, peersOf([[1, forger], [2, honestPeer(weak)], [3, honestPeer(weak)]]), { rangeBlocks: 1 })
    expect(r.session.counters.badBlocks).toBeGreaterThanOrEqual(1)
    expectReached(weak, r, 23)
  })

  it("a silent peer and a peer that never serves blocks cost timeouts, not the transfer", () => {
    const noBlocks: Peer = { ...honestPeer(weak), blocks: () => undefined }
    const r = run(weak, peersOf([[1, silentPeer], [2, noBlocks], [3, honestPeer(weak)]]))
    expect(r.session.counters.timeouts).toBeGreaterThanOrEqual(1)
    expectReached(weak, r, 23)
  })

  it("an empty answer is counted and the range goes elsewhere", () => {
    const empty: Peer = { ...honestPeer(weak), blocks: () => [] }
    const r = run(weak, peersOf([[1, empty], [2, honestPeer(weak)], [3, honestPeer(weak)]]))
    expect(r.session.counters.emptyAnswers).toBeGreaterThanOrEqual(1)
    expectReached(weak, r, 23)
  })

  it("answers nobody asked for are ignored and counted", () => {
    const session = new StateTransferSession<KvState>({
      crypto,
      genesis: weak.builder.genesis,
      app: kvApp,
      view: weak.builder.currentView.record,
      self: 0,
      local: positionAt(weak, 0)
    })
    expect(session.handle({ _tag: "Status", from: 1, answer: honestPeer(weak).status()! })).toEqual([])
    session.start(0)
    expect(session.handle({ _tag: "Blocks", from: 1, fromHeight: 1n, blocks: weak.builder.blocks.slice(0, 1) })).toEqual([])
    expect(session.handle({ _tag: "Status", from: 0, answer: honestPeer(weak).status()! })).toEqual([])
    expect(session.handle({ _tag: "Status", from: 9, answer: honestPeer(weak).status()! })).toEqual([])
    expect(session.counters.unexpectedAnswers).toBe(4)
  })

  it("fails with NoSnapshot when every claimant's snapshot is wrong", () => {
    const liar: Peer = { ...honestPeer(weak), snapshot: () => kvApp.snapshot(weak.states[3]!) }
    const r = run(weak, peersOf([[1, liar], [2, liar], [3, liar]]))
    expect(r.failed?.error.reason).toBe("NoSnapshot")
    expect(r.failed?.error._tag).toBe("StateTransferFailed")
  })

  it("fails with NoTarget after its rounds when fewer than f + 1 peers answer", () => {
    const r = run(weak, peersOf([[1, silentPeer], [2, silentPeer], [3, honestPeer(weak)]]))
    expect(r.failed?.error.reason).toBe("NoTarget")
    expect(r.session.counters.statusRounds).toBe(3)
  })

  it("fails with NoBlocks when every peer that could serve the blocks is proven faulty", () => {
    const forger: Peer = {
      ...honestPeer(weak),
      blocks: (from, to) => honestPeer(weak).blocks(from, to)!.map((b) => ({ ...b, results: [] }))
    }
    const r = run(weak, peersOf([[1, forger], [2, forger], [3, silentPeer]]))
    expect(r.failed?.error.reason).toBe("NoBlocks")
  })
})

describe("state transfer in strong mode", () => {
  const strong = buildKvChain({ blocks: 13, K: 5, persistence: "strong" })

  it("one peer's certified checkpoint is enough to choose it, even when the others are silent", () => {
    const r = run(strong, peersOf([[1, silentPeer], [2, silentPeer], [3, honestPeer(strong)]]))
    expect(r.session.chosen).toMatchObject({ checkpointHeight: 10n, height: 10n, certified: true })
    expectReached(strong, r, 10)
  })

  it("a checkpoint block that installs a view: block 6's certificate of block 5 is checked against the old view", () => {
    const chain = buildKvChain({ blocks: 8, K: 5, persistence: "strong", viewChangeAt: [5] })
    const r = run(chain, peersOf([[1, honestPeer(chain)], [2, honestPeer(chain)], [3, honestPeer(chain)]]))
    // A claim whose block installs a view is confirmed by f + 1 matching claims, not by its certificate.
    expect(r.session.chosen).toMatchObject({ checkpointHeight: 5n, certified: false })
    expectReached(chain, r, 8)
    expect(r.done?.position.view.id).toBe(1n)
  })

  it("a certificate by keys outside the view does not make a fabricated checkpoint certified", () => {
    const claim = Option.getOrThrow(honestClaim(strong, 13))
    const header = { ...claim.header, stateHash: new Uint8Array(32).fill(9) }
    const forged = makeCertificate(strong.builder.chainId, viewOf(buildKvChain({ blocks: 1, K: 5 }), 0n), 10n, headerHash(crypto, header), [0])
    const liar: Peer = { ...honestPeer(strong), status: () => ({ height: 13n, checkpoint: Option.some({ ...claim, header, certificate: Option.some(forged) }) }) }
    const r = run(strong, peersOf([[1, liar], [2, honestPeer(strong)], [3, honestPeer(strong)]]))
    expect(r.session.chosen?.certified).toBe(true)
    expect(r.session.chosen?.checkpointHash).toEqual(headerHash(crypto, claim.header))
    expectReached(strong, r, 13)
  })
})

describe("state transfer under arbitrary single faults (property)", () => {
  type Fault = "silent" | "liesHigh" | "liesLow" | "badSnapshot" | "forgesBlocks" | "emptyBlocks" | "fakeCheckpoint" | "noBlocks"
  const faults: ReadonlyArray<Fault> = ["silent", "liesHigh", "liesLow", "badSnapshot", "forgesBlocks", "emptyBlocks", "fakeCheckpoint", "noBlocks"]
  const chain = buildKvChain({ blocks: 16, K: 4 })
  const faulty = (fault: Fault): Peer => {
    const h = honestPeer(chain)
    switch (fault) {
      case "silent":
        return silentPeer
      case "liesHigh":
        return { ...h, status: () => ({ height: 99n, checkpoint: honestClaim(chain, 16) }) }
      case "liesLow":
        return { ...h, status: () => ({ height: 1n, checkpoint: Option.none() }) }
      case "badSnapshot":
        return { ...h, snapshot: () => kvApp.snapshot(chain.states[2]!) }
      case "forgesBlocks":
        return { ...h, blocks: (f, t) => h.blocks(f, t)!.map((b) => ({ ...b, header: { ...b.header, stateHash: new Uint8Array(32).fill(1) } })) }
      case "emptyBlocks":
        return { ...h, blocks: () => [] }
      case "fakeCheckpoint": {
        const c = Option.getOrThrow(honestClaim(chain, 16))
        return { ...h, status: () => ({ height: 16n, checkpoint: Option.some({ ...c, header: { ...c.header, stateHash: new Uint8Array(32).fill(2) } }) }) }
      }
      case "noBlocks":
        return { ...h, blocks: () => undefined }
    }
  }

  it("with one faulty peer of three, the replica always reaches the honest head and state", () => {
    fc.assert(
      fc.property(fc.constantFrom(...faults), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 5 }), (fault, who, localHeight, rangeBlocks) => {
        const peers = peersOf([1, 2, 3].map((r) => [r, r === who ? faulty(fault) : honestPeer(chain)] as const))
        const r = run(chain, peers, { local: positionAt(chain, localHeight), rangeBlocks })
        expectReached(chain, r, 16, localHeight)
      }),
      { numRuns: 60 }
    )
  })
})

describe("state-transfer messages on the wire (FORMAT.md section 12)", () => {
  const strong = buildKvChain({ blocks: 6, K: 5, persistence: "strong", viewChangeAt: [5] })
  const messages: ReadonlyArray<StateTransferMessage> = [
    { _tag: "StatusRequest" },
    { _tag: "StatusAnswer", answer: honestPeer(strong).status()! },
    { _tag: "StatusAnswer", answer: { height: 3n, checkpoint: Option.none() } },
    { _tag: "SnapshotRequest", height: 5n },
    { _tag: "SnapshotAnswer", height: 5n, snapshot: kvApp.snapshot(strong.states[5]!) },
    { _tag: "BlocksRequest", fromHeight: 2n, toHeight: 4n },
    { _tag: "BlocksAnswer", fromHeight: 2n, blocks: strong.builder.blocks.slice(1, 4) }
  ]

  it("every message encodes with its tag byte and decodes to the same value", () => {
    for (const m of messages) {
      const bytes = encodeStateTransferMessage(m)
      expect(bytes[0]).toBe(stateTransferTags[m._tag])
      expect(Either.getOrThrow(decodeStateTransferMessage(bytes))).toEqual(m)
    }
    // The status answer is the tag, then the u64 height, then option<CheckpointClaim> starting with the 224-byte header.
    const status = encodeStateTransferMessage(messages[1]!)
    expect(status.subarray(1, 9)).toEqual(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 6]))
    expect(status[9]).toBe(1)
    expect(status.subarray(10, 234)).toEqual(encodeBlockHeader(Option.getOrThrow(honestClaim(strong, 6)).header))
  })

  it("rejects truncated messages, trailing bytes and unknown tags with a DecodeError", () => {
    for (const m of messages) {
      const bytes = encodeStateTransferMessage(m)
      if (bytes.length > 1) expect(Either.isLeft(decodeStateTransferMessage(bytes.subarray(0, bytes.length - 1)))).toBe(true)
      expect(Either.isLeft(decodeStateTransferMessage(new Uint8Array([...bytes, 0])))).toBe(true)
    }
    for (const tag of [0, 7]) {
      const r = decodeStateTransferMessage(new Uint8Array([tag]))
      expect(Either.isLeft(r) && r.left._tag).toBe("DecodeError")
    }
  })
})

describe("state transfer ends", () => {
  it("when no peer ever serves blocks, each is dropped after its unanswered requests and the session fails with NoBlocks", () => {
    const mute: Peer = { ...honestPeer(weak), blocks: () => undefined }
    const r = run(weak, peersOf([[1, mute], [2, mute], [3, mute]]), { local: positionAt(weak, 21) })
    expect(r.failed?.error.reason).toBe("NoBlocks")
    expect(r.session.counters.timeouts).toBe(9)
    expect(r.asks).toHaveLength(9)
  })

  it("when no claimant ever sends its snapshot, the session fails with NoSnapshot after asking each once", () => {
    const mute: Peer = { ...honestPeer(weak), snapshot: () => undefined }
    const r = run(weak, peersOf([[1, mute], [2, mute], [3, mute]]))
    expect(r.failed?.error.reason).toBe("NoSnapshot")
    expect(r.outputs.filter((o) => o._tag === "AskSnapshot")).toHaveLength(3)
  })
})
