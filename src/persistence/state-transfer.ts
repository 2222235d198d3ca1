/**
 * State transfer (PROTOCOL.md section 5): how a lagging, restarted or joining replica reaches its
 * peers' state without trusting any single peer. A session runs in three phases:
 *
 *   1. Status. Ask every other member for its head height and latest checkpoint (the checkpoint
 *      block's header, the view that certified it, the view it installed if any, and in strong
 *      mode its certificate). When all have answered, or at the deadline, pick the target: the
 *      highest checkpoint that f + 1 members claim identically, or that one member proves with a
 *      certificate of the trusted view (genesis, checkpoint 0, needs no confirmation); and the head
 *      height H = the (f + 1)-th highest height reported (at least the checkpoint), so at least one
 *      correct member claims to have it. With fewer than f + 1 answers and no certified claim, ask
 *      again, up to `statusRoundsMax` rounds.
 *   2. Snapshot (only when the replica's own chain is below the checkpoint). Ask one member that
 *      claimed the checkpoint for its snapshot; accept it only if the restored state hashes to
 *      the checkpoint header's stateHash, else ask the next claimant.
 *   3. Blocks. Fetch the blocks after the checkpoint (or after the replica's own head) up to H in
 *      ranges, in parallel from different members, and verify them in height order with a
 *      ChainVerifier resumed at the checkpoint: links, roots, decision proofs with q valid
 *      signatures of the right view, certificates in strong mode. A range that fails (a forged
 *      or wrong block, an empty answer, a timeout) goes to another member.
 *
 * A member that answers with a malformed claim, a wrong snapshot or a forged block is proven
 * Byzantine: it is counted and never asked again. Timeouts and empty answers are counted and lower
 * a member's priority; after `unansweredMax` of them it is not asked again either, so a session
 * ends (Done or Failed) after a bounded number of requests even if peers never answer. The session is a pure state machine like the replica core (src/core/step.ts): the
 * shell feeds it Inputs (answers, clock ticks) and carries out its Outputs (requests to send,
 * the snapshot to install, verified blocks to store and execute, the end); no I/O, no clock.
 *
 *   const session = new StateTransferSession(config)
 *   outputs = session.start(nowMs)            // AskStatus ...
 *   outputs = session.handle(input)           // for every answer and Tick, until Done or Failed
 */
import { Either, Option, Schema } from "effect"
import { bytesEqual, toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { genesisHash, headerHash, viewHash } from "../chain/hash.ts"
import { checkHeaderCertificate, trustedView } from "../chain/reply.ts"
import type { TrustedView } from "../chain/reply.ts"
import { array, decodeWith, encodeWith, option, struct, taggedStruct, taggedUnion } from "../chain/codec.ts"
import type { Codec } from "../chain/codec.ts"
import {
  blockCodec,
  blockHeaderCodec,
  bytesCodec,
  certificateCodec,
  u64Codec,
  viewRecordCodec
} from "../chain/encoding.ts"
import type { DecodeError } from "../chain/errors.ts"
import * as T from "../chain/types.ts"
import type { Block, BlockHeader, Certificate, Genesis, ReplicaId, ViewRecord } from "../chain/types.ts"
import { ChainVerifier } from "../chain/verify.ts"
import type { ChainPosition, VerifyOptions } from "../chain/verify.ts"
import type { Application } from "../app/application.ts"
import { weakQuorum } from "../core/quorum.ts"
import { isCheckpointHeight, restoreCheckpoint } from "./checkpoint.ts"

// ---------------------------------------------------------------------------------------------
// Answers, inputs, outputs
// ---------------------------------------------------------------------------------------------

/**
 * A member's latest checkpoint, as it answers a status request:
 *   header       the header of checkpoint block c (height c, lastCheckpointHeight c, and the
 *                stateHash of the state after c)
 *   view         the view that certified block c (its hash is the header's viewHash)
 *   nextView     the view block c installed, when it did (header.lastReconfigHeight = c)
 *   certificate  block c's certificate (strong mode), which lets one answer prove the claim
 */
export const CheckpointClaim = Schema.Struct({
  header: T.BlockHeader,
  view: T.ViewRecord,
  nextView: Schema.OptionFromSelf(T.ViewRecord),
  certificate: Schema.OptionFromSelf(T.Certificate)
})
export type CheckpointClaim = typeof CheckpointClaim.Type

/** A member's answer to a status request: its head height and latest checkpoint (none: genesis only). */
export const StatusAnswer = Schema.Struct({
  height: T.U64,
  checkpoint: Schema.OptionFromSelf(CheckpointClaim)
})
export type StatusAnswer = typeof StatusAnswer.Type

/**
 * The state-transfer messages between replicas, for the transport (FORMAT.md section 12). The
 * session itself takes and gives plain data; these are the wire forms of its requests and the
 * answers to them.
 */
export const StatusRequestMessage = Schema.TaggedStruct("StatusRequest", {})
export const StatusAnswerMessage = Schema.TaggedStruct("StatusAnswer", { answer: StatusAnswer })
export const SnapshotRequestMessage = Schema.TaggedStruct("SnapshotRequest", { height: T.U64 })
export const SnapshotAnswerMessage = Schema.TaggedStruct("SnapshotAnswer", { height: T.U64, snapshot: T.Bytes })
export const BlocksRequestMessage = Schema.TaggedStruct("BlocksRequest", { fromHeight: T.U64, toHeight: T.U64 })
export const BlocksAnswerMessage = Schema.TaggedStruct("BlocksAnswer", { fromHeight: T.U64, blocks: Schema.Array(T.Block) })
export const StateTransferMessage = Schema.Union(
  StatusRequestMessage,
  StatusAnswerMessage,
  SnapshotRequestMessage,
  SnapshotAnswerMessage,
  BlocksRequestMessage,
  BlocksAnswerMessage
)
export type StateTransferMessage = typeof StateTransferMessage.Type

export const checkpointClaimCodec: Codec<CheckpointClaim> = struct("CheckpointClaim", CheckpointClaim, {
  header: blockHeaderCodec,
  view: viewRecordCodec,
  nextView: option(viewRecordCodec),
  certificate: option(certificateCodec)
})

export const statusAnswerCodec: Codec<StatusAnswer> = struct("StatusAnswer", StatusAnswer, {
  height: u64Codec,
  checkpoint: option(checkpointClaimCodec)
})

/** Tag bytes of the state-transfer messages. */
export const stateTransferTags = {
  StatusRequest: 1,
  StatusAnswer: 2,
  SnapshotRequest: 3,
  SnapshotAnswer: 4,
  BlocksRequest: 5,
  BlocksAnswer: 6
} as const

const tagged = <A extends StateTransferMessage>(tag: number, c: Codec<A>) => [tag, c as unknown as Codec<StateTransferMessage>] as const

export const stateTransferMessageCodec: Codec<StateTransferMessage> = taggedUnion("StateTransferMessage", StateTransferMessage, [
  tagged(stateTransferTags.StatusRequest, taggedStruct(StatusRequestMessage, "StatusRequest", {})),
  tagged(stateTransferTags.StatusAnswer, taggedStruct(StatusAnswerMessage, "StatusAnswer", { answer: statusAnswerCodec })),
  tagged(stateTransferTags.SnapshotRequest, taggedStruct(SnapshotRequestMessage, "SnapshotRequest", { height: u64Codec })),
  tagged(stateTransferTags.SnapshotAnswer, taggedStruct(SnapshotAnswerMessage, "SnapshotAnswer", { height: u64Codec, snapshot: bytesCodec })),
  tagged(stateTransferTags.BlocksRequest, taggedStruct(BlocksRequestMessage, "BlocksRequest", { fromHeight: u64Codec, toHeight: u64Codec })),
  tagged(stateTransferTags.BlocksAnswer, taggedStruct(BlocksAnswerMessage, "BlocksAnswer", { fromHeight: u64Codec, blocks: array(blockCodec) }))
])

export const encodeStateTransferMessage = (m: StateTransferMessage): Uint8Array => encodeWith(stateTransferMessageCodec, m, 1024)
export const decodeStateTransferMessage = (b: Uint8Array): Either.Either<StateTransferMessage, DecodeError> =>
  decodeWith(stateTransferMessageCodec, b)

export type StateTransferInput =
  | { readonly _tag: "Status"; readonly from: ReplicaId; readonly answer: StatusAnswer }
  | { readonly _tag: "Snapshot"; readonly from: ReplicaId; readonly height: bigint; readonly snapshot: Uint8Array }
  | { readonly _tag: "Blocks"; readonly from: ReplicaId; readonly fromHeight: bigint; readonly blocks: ReadonlyArray<Block> }
  | { readonly _tag: "Tick"; readonly nowMs: number }

/** Why a session gave up. */
export class StateTransferFailed extends Schema.TaggedError<StateTransferFailed>()("StateTransferFailed", {
  reason: Schema.Literal(
    /** Every status round ended with fewer than f + 1 answers. */
    "NoTarget",
    /** Every member that claimed the checkpoint failed to give a snapshot with its hash. */
    "NoSnapshot",
    /** No member is left that could serve the blocks still missing. */
    "NoBlocks"
  ),
  detail: Schema.String
}) {
  override get message(): string {
    return `state transfer failed: ${this.reason}: ${this.detail}`
  }
}

/** The target a session settled on. */
export interface Target {
  /** The checkpoint height (0: genesis). */
  readonly checkpointHeight: bigint
  /** The checkpoint block's header hash (the genesis hash at 0). */
  readonly checkpointHash: Uint8Array
  /** The head height to reach. */
  readonly height: bigint
  /** Whether the checkpoint was confirmed by a certificate (else by f + 1 matching claims, or genesis). */
  readonly certified: boolean
}

export type StateTransferOutput<S> =
  | { readonly _tag: "AskStatus"; readonly to: ReadonlyArray<ReplicaId> }
  | { readonly _tag: "AskSnapshot"; readonly to: ReplicaId; readonly height: bigint }
  | { readonly _tag: "AskBlocks"; readonly to: ReplicaId; readonly fromHeight: bigint; readonly toHeight: bigint }
  | { readonly _tag: "TargetChosen"; readonly target: Target }
  /** Replace the application state by `state`, the state after checkpoint block `header`. */
  | {
      readonly _tag: "InstallSnapshot"
      readonly height: bigint
      readonly state: S
      readonly snapshot: Uint8Array
      readonly header: BlockHeader
      readonly certificate: Option.Option<Certificate>
    }
  /** Verified blocks, in height order, to store and execute. */
  | { readonly _tag: "ApplyBlocks"; readonly blocks: ReadonlyArray<Block> }
  | { readonly _tag: "Done"; readonly position: ChainPosition }
  | { readonly _tag: "Failed"; readonly error: StateTransferFailed }

/** Answers that were ignored or proved a member wrong, and other events, by kind. */
export interface StateTransferCounters {
  statusRounds: number
  statusAnswers: number
  /** An answer from a non-member or itself, a second answer in one round, or one no request asked for. */
  unexpectedAnswers: number
  /** A status answer whose checkpoint claim is inconsistent (wrong heights, views or certificate). */
  badStatusAnswers: number
  badSnapshots: number
  badBlocks: number
  emptyAnswers: number
  timeouts: number
}

export interface StateTransferConfig<S> {
  readonly crypto: ChainCrypto
  readonly genesis: Genesis
  readonly app: Application<S>
  /** The view whose members the replica asks (its current view). */
  readonly view: ViewRecord
  /** This replica (not asked, and its answers ignored). */
  readonly self: ReplicaId
  /** The replica's own verified chain position (genesis: height 0, the genesis hash, genesis's view). */
  readonly local: ChainPosition
  /** Blocks per request. Default 64. */
  readonly rangeBlocks?: number
  /** How long a request may go unanswered, in milliseconds. Default 2000. */
  readonly requestTimeoutMs?: number
  /** Status rounds before giving up. Default 5. */
  readonly statusRoundsMax?: number
  /** Timeouts and empty answers after which a member is no longer asked in this session. Default 3. */
  readonly unansweredMax?: number
  readonly verifyOptions?: VerifyOptions
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

/** What is wrong with a claim on its own (K = the checkpoint interval), or undefined. */
export const claimProblem = (crypto: ChainCrypto, checkpointInterval: number, answer: StatusAnswer): string | undefined => {
  if (Option.isNone(answer.checkpoint)) return undefined
  const { header, view, nextView } = answer.checkpoint.value
  const c = header.height
  if (!isCheckpointHeight(c, checkpointInterval)) return `height ${c} is not a checkpoint height (every ${checkpointInterval} blocks)`
  if (header.lastCheckpointHeight !== c) return `block ${c} names checkpoint ${header.lastCheckpointHeight}`
  if (answer.height < c) return `head height ${answer.height} below its checkpoint ${c}`
  if (header.viewId !== view.id || !bytesEqual(header.viewHash, viewHash(crypto, view))) return "the view is not the one the header names"
  const installs = header.lastReconfigHeight === c
  if (installs !== Option.isSome(nextView)) return installs ? "block installs a view, none given" : "a next view for a block that installs none"
  if (Option.isSome(nextView) && nextView.value.id !== view.id + 1n) return `next view ${nextView.value.id} after view ${view.id}`
  return undefined
}

/** The identity of a claim: its header hash and the view it leaves the chain in. */
const claimKey = (crypto: ChainCrypto, claim: CheckpointClaim): string =>
  `${toHex(headerHash(crypto, claim.header))}/${Option.isSome(claim.nextView) ? toHex(viewHash(crypto, claim.nextView.value)) : "-"}`

/** The chain position right after a checkpoint block. */
export const positionAfterClaim = (crypto: ChainCrypto, claim: Pick<CheckpointClaim, "header" | "view" | "nextView">): ChainPosition => ({
  height: claim.header.height,
  headHash: headerHash(crypto, claim.header),
  view: Option.getOrElse(claim.nextView, () => claim.view),
  ...(Option.isSome(claim.nextView) ? { headView: claim.view } : {}),
  lastReconfigHeight: claim.header.lastReconfigHeight,
  lastCheckpointHeight: claim.header.lastCheckpointHeight
})

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

interface Range {
  readonly from: bigint
  readonly to: bigint
}

interface InFlight {
  readonly range: Range
  readonly deadlineMs: number
}

type Phase = "Idle" | "Status" | "Transfer" | "Done" | "Failed"

const compareBigint = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

export class StateTransferSession<S> {
  readonly counters: StateTransferCounters = {
    statusRounds: 0,
    statusAnswers: 0,
    unexpectedAnswers: 0,
    badStatusAnswers: 0,
    badSnapshots: 0,
    badBlocks: 0,
    emptyAnswers: 0,
    timeouts: 0
  }
  /** Members proven Byzantine in this session. */
  readonly faulty = new Set<ReplicaId>()
  private readonly crypto: ChainCrypto
  private readonly trusted: TrustedView
  private readonly others: ReadonlyArray<ReplicaId>
  private readonly f: number
  private readonly rangeBlocks: bigint
  private readonly timeoutMs: number
  private readonly roundsMax: number
  private readonly unansweredMax: number
  private phase: Phase = "Idle"
  private nowMs = 0
  private statusDeadlineMs = 0
  private readonly answers = new Map<ReplicaId, StatusAnswer>()
  private readonly answeredThisRound = new Set<ReplicaId>()
  private target: Target | undefined
  /** The members that claimed the target checkpoint, in answer order. */
  private claimants: Array<ReplicaId> = []
  private claim: CheckpointClaim | undefined
  private snapshotPending = false
  private snapshotAsked: { readonly to: ReplicaId; readonly deadlineMs: number } | undefined
  private readonly snapshotTried = new Set<ReplicaId>()
  private verifier: ChainVerifier | undefined
  /** Ranges to ask for again (after a failure), lowest first. */
  private queue: Array<Range> = []
  /** The lowest height no range has been cut for yet. */
  private frontier = 1n
  private readonly inFlight = new Map<ReplicaId, InFlight>()
  private readonly received = new Map<bigint, { readonly from: ReplicaId; readonly blocks: ReadonlyArray<Block> }>()
  /** Verified blocks held until the snapshot they apply to is installed. */
  private held: Array<Block> = []
  private readonly slowness = new Map<ReplicaId, number>()

  constructor(private readonly config: StateTransferConfig<S>) {
    this.crypto = config.crypto
    this.trusted = trustedView(config.crypto, config.genesis.chainId, config.view)
    this.others = config.view.members.map((m) => m.replica).filter((r) => r !== config.self)
    this.f = config.view.f
    this.rangeBlocks = BigInt(Math.max(1, config.rangeBlocks ?? 64))
    this.timeoutMs = config.requestTimeoutMs ?? 2_000
    this.roundsMax = Math.max(1, config.statusRoundsMax ?? 5)
    this.unansweredMax = Math.max(1, config.unansweredMax ?? 3)
  }

  /** The target, once chosen. */
  get chosen(): Target | undefined {
    return this.target
  }

  get finished(): boolean {
    return this.phase === "Done" || this.phase === "Failed"
  }

  /** Starts the first status round. */
  start(nowMs: number): Array<StateTransferOutput<S>> {
    if (this.phase !== "Idle") return []
    this.nowMs = nowMs
    return this.statusRound()
  }

  handle(input: StateTransferInput): Array<StateTransferOutput<S>> {
    if (this.finished || this.phase === "Idle") {
      if (input._tag !== "Tick") this.counters.unexpectedAnswers++
      return []
    }
    switch (input._tag) {
      case "Tick":
        this.nowMs = Math.max(this.nowMs, input.nowMs)
        return this.onTick()
      case "Status":
        return this.onStatus(input.from, input.answer)
      case "Snapshot":
        return this.onSnapshot(input.from, input.height, input.snapshot)
      case "Blocks":
        return this.onBlocks(input.from, input.fromHeight, input.blocks)
    }
  }

  // -------------------------------------------------------------------------------------------
  // Status
  // -------------------------------------------------------------------------------------------

  private statusRound(): Array<StateTransferOutput<S>> {
    this.phase = "Status"
    this.counters.statusRounds++
    this.answeredThisRound.clear()
    this.statusDeadlineMs = this.nowMs + this.timeoutMs
    return [{ _tag: "AskStatus", to: this.others.filter((r) => !this.faulty.has(r)) }]
  }

  private onStatus(from: ReplicaId, answer: StatusAnswer): Array<StateTransferOutput<S>> {
    if (this.phase !== "Status" || !this.others.includes(from) || this.faulty.has(from) || this.answeredThisRound.has(from)) {
      this.counters.unexpectedAnswers++
      return []
    }
    const problem = claimProblem(this.crypto, this.config.genesis.limits.checkpointInterval, answer)
    if (problem !== undefined) {
      this.counters.badStatusAnswers++
      this.faulty.add(from)
      return []
    }
    this.counters.statusAnswers++
    this.answers.set(from, answer)
    this.answeredThisRound.add(from)
    const waitingFor = this.others.filter((r) => !this.faulty.has(r) && !this.answeredThisRound.has(r))
    return waitingFor.length === 0 ? this.decide() : []
  }

  /** A claim proven by a valid certificate of the trusted view (blocks that install a view excluded). */
  private certifiedClaim(claim: CheckpointClaim): boolean {
    if (Option.isNone(claim.certificate) || Option.isSome(claim.nextView)) return false
    return Either.isRight(checkHeaderCertificate(this.crypto, this.trusted, claim.header, claim.certificate.value))
  }

  /** Chooses the target from the answers so far, or starts another round, or fails. */
  private decide(): Array<StateTransferOutput<S>> {
    const answered = [...this.answers.entries()]
    // Group identical claims; the highest with f + 1 members, or with a certificate, wins.
    const groups = new Map<string, { claim: CheckpointClaim; members: Array<ReplicaId>; certified: boolean }>()
    for (const [from, a] of answered) {
      if (Option.isNone(a.checkpoint)) continue
      const key = claimKey(this.crypto, a.checkpoint.value)
      let g = groups.get(key)
      if (g === undefined) {
        g = { claim: a.checkpoint.value, members: [], certified: false }
        groups.set(key, g)
      }
      g.members.push(from)
      if (!g.certified && this.certifiedClaim(a.checkpoint.value)) g.certified = true
    }
    let best: { claim: CheckpointClaim; members: Array<ReplicaId>; certified: boolean } | undefined
    for (const g of groups.values()) {
      if (g.members.length < weakQuorum(this.f) && !g.certified) continue
      if (best === undefined || g.claim.header.height > best.claim.header.height) best = g
      else if (g.claim.header.height === best.claim.header.height && (g.certified ? 1 : 0) * 1e6 + g.members.length > (best.certified ? 1 : 0) * 1e6 + best.members.length)
        best = g
    }
    // Too few answers for f + 1 to vouch for anything, and no certificate: ask again.
    if (answered.length < weakQuorum(this.f) && best?.certified !== true) {
      if (this.counters.statusRounds >= this.roundsMax)
        return this.fail("NoTarget", `${answered.length} status answers after ${this.counters.statusRounds} rounds, ${weakQuorum(this.f)} needed`)
      return this.statusRound()
    }
    const heights = answered.map(([, a]) => a.height).sort((a, b) => compareBigint(b, a))
    const vouched = heights[this.f] ?? 0n
    const checkpointHeight = best?.claim.header.height ?? 0n
    const height = vouched > checkpointHeight ? vouched : checkpointHeight
    this.target = {
      checkpointHeight,
      checkpointHash: best === undefined ? genesisHash(this.crypto, this.config.genesis) : headerHash(this.crypto, best.claim.header),
      height,
      certified: best?.certified ?? false
    }
    const outputs: Array<StateTransferOutput<S>> = [{ _tag: "TargetChosen", target: this.target }]
    const local = this.config.local
    if (best !== undefined && checkpointHeight > local.height) {
      this.claim = best.claim
      this.claimants = best.members
      this.snapshotPending = true
      this.verifier = ChainVerifier.resume(this.crypto, this.config.genesis, positionAfterClaim(this.crypto, best.claim), this.config.verifyOptions)
    } else {
      this.verifier =
        local.height === 0n
          ? ChainVerifier.start(this.crypto, this.config.genesis, this.config.verifyOptions)
          : ChainVerifier.resume(this.crypto, this.config.genesis, local, this.config.verifyOptions)
    }
    this.phase = "Transfer"
    this.frontier = this.verifier.headHeight + 1n
    outputs.push(...this.askSnapshot(), ...this.dispatch(), ...this.finishIfComplete())
    return outputs
  }

  // -------------------------------------------------------------------------------------------
  // Snapshot
  // -------------------------------------------------------------------------------------------

  private askSnapshot(): Array<StateTransferOutput<S>> {
    if (!this.snapshotPending || this.snapshotAsked !== undefined || this.claim === undefined) return []
    const candidates = this.claimants.filter((r) => this.usable(r) && !this.snapshotTried.has(r))
    const to = candidates[0]
    if (to === undefined) return this.fail("NoSnapshot", `no member left with snapshot ${this.claim.header.height}`)
    this.snapshotTried.add(to)
    this.snapshotAsked = { to, deadlineMs: this.nowMs + this.timeoutMs }
    return [{ _tag: "AskSnapshot", to, height: this.claim.header.height }]
  }

  private onSnapshot(from: ReplicaId, height: bigint, snapshot: Uint8Array): Array<StateTransferOutput<S>> {
    const claim = this.claim
    if (this.snapshotAsked?.to !== from || claim === undefined || height !== claim.header.height) {
      this.counters.unexpectedAnswers++
      return []
    }
    this.snapshotAsked = undefined
    const restored = restoreCheckpoint(this.config.app, this.crypto, height, snapshot, claim.header.stateHash)
    if (Either.isLeft(restored)) {
      this.counters.badSnapshots++
      this.faulty.add(from)
      return [...this.askSnapshot(), ...this.dispatch()]
    }
    this.snapshotPending = false
    const outputs: Array<StateTransferOutput<S>> = [
      { _tag: "InstallSnapshot", height, state: restored.right, snapshot, header: claim.header, certificate: claim.certificate }
    ]
    if (this.held.length > 0) outputs.push({ _tag: "ApplyBlocks", blocks: this.held })
    this.held = []
    outputs.push(...this.finishIfComplete())
    return outputs
  }

  // -------------------------------------------------------------------------------------------
  // Blocks
  // -------------------------------------------------------------------------------------------

  /** Whether a member may still be asked: not proven faulty, and not too often unresponsive. */
  private usable(r: ReplicaId): boolean {
    return !this.faulty.has(r) && (this.slowness.get(r) ?? 0) < this.unansweredMax
  }

  /** Members that may serve `range`: usable, not busy, and claiming a head at least its end; the most responsive first. */
  private servers(range: Range): Array<ReplicaId> {
    return this.others
      .filter((r) => this.usable(r) && !this.inFlight.has(r) && (this.answers.get(r)?.height ?? -1n) >= range.to)
      .sort((a, b) => (this.slowness.get(a) ?? 0) - (this.slowness.get(b) ?? 0))
  }

  /** Whether any usable member could ever serve `range`. */
  private servable(range: Range): boolean {
    return this.others.some((r) => this.usable(r) && (this.answers.get(r)?.height ?? -1n) >= range.to)
  }

  /** The lowest range not yet asked for: a failed one again, or the next fresh one. */
  private nextRange(): Range | undefined {
    const again = this.queue[0]
    if (again !== undefined) return again
    const height = this.target?.height ?? 0n
    if (this.frontier > height) return undefined
    const to = this.frontier + this.rangeBlocks - 1n
    return { from: this.frontier, to: to < height ? to : height }
  }

  /**
   * Asks idle members for the lowest ranges missing. Ranges are cut lazily, so what a session
   * holds stays bounded by the members' count whatever the target height.
   */
  private dispatch(): Array<StateTransferOutput<S>> {
    const outputs: Array<StateTransferOutput<S>> = []
    while (this.phase === "Transfer") {
      const range = this.nextRange()
      if (range === undefined) break
      const to = this.servers(range)[0]
      if (to === undefined) {
        // A higher range needs a member at least as high, so none of them can go out either.
        if (!this.servable(range)) return [...outputs, ...this.fail("NoBlocks", `no member left to serve blocks ${range.from}..${range.to}`)]
        break
      }
      if (this.queue[0] === range) this.queue.shift()
      else this.frontier = range.to + 1n
      this.inFlight.set(to, { range, deadlineMs: this.nowMs + this.timeoutMs })
      outputs.push({ _tag: "AskBlocks", to, fromHeight: range.from, toHeight: range.to })
    }
    return outputs
  }

  private requeue(range: Range): void {
    this.queue.push(range)
    this.queue.sort((a, b) => compareBigint(a.from, b.from))
  }

  private onBlocks(from: ReplicaId, fromHeight: bigint, blocks: ReadonlyArray<Block>): Array<StateTransferOutput<S>> {
    const asked = this.inFlight.get(from)
    if (asked === undefined || asked.range.from !== fromHeight) {
      this.counters.unexpectedAnswers++
      return []
    }
    this.inFlight.delete(from)
    const range = asked.range
    const count = range.to - range.from + 1n
    if (blocks.length === 0) {
      this.counters.emptyAnswers++
      this.slowness.set(from, (this.slowness.get(from) ?? 0) + 1)
      this.requeue(range)
      return this.dispatch()
    }
    const taken = BigInt(blocks.length) > count ? blocks.slice(0, Number(count)) : blocks
    if (BigInt(taken.length) < count) this.requeue({ from: range.from + BigInt(taken.length), to: range.to })
    this.received.set(range.from, { from, blocks: taken })
    return [...this.drain(), ...this.dispatch(), ...this.finishIfComplete()]
  }

  /** Verifies received blocks in height order, as far as they are contiguous. */
  private drain(): Array<StateTransferOutput<S>> {
    const verified: Array<Block> = []
    for (;;) {
      const verifier = this.verifier
      if (verifier === undefined) break
      const next = verifier.headHeight + 1n
      const entry = this.received.get(next)
      if (entry === undefined) break
      this.received.delete(next)
      for (const block of entry.blocks) {
        // A failed verifier stays failed, so keep where it stood to resume from there.
        const before = verifier.position()
        if (before === undefined || Either.isLeft(verifier.next(block))) {
          this.counters.badBlocks++
          this.faulty.add(entry.from)
          const failedAt = verifier.headHeight + 1n
          this.requeue({ from: failedAt, to: next + BigInt(entry.blocks.length) - 1n })
          if (before !== undefined) this.verifier = ChainVerifier.resume(this.crypto, this.config.genesis, before, this.config.verifyOptions)
          break
        }
        verified.push(block)
      }
    }
    return this.release(verified)
  }

  private release(blocks: Array<Block>): Array<StateTransferOutput<S>> {
    if (blocks.length === 0) return []
    if (this.snapshotPending) {
      this.held.push(...blocks)
      return []
    }
    return [{ _tag: "ApplyBlocks", blocks }]
  }

  // -------------------------------------------------------------------------------------------
  // Time and the end
  // -------------------------------------------------------------------------------------------

  private onTick(): Array<StateTransferOutput<S>> {
    if (this.phase === "Status") return this.nowMs >= this.statusDeadlineMs ? this.decide() : []
    const outputs: Array<StateTransferOutput<S>> = []
    if (this.snapshotAsked !== undefined && this.nowMs >= this.snapshotAsked.deadlineMs) {
      this.counters.timeouts++
      this.slowness.set(this.snapshotAsked.to, (this.slowness.get(this.snapshotAsked.to) ?? 0) + 1)
      this.snapshotAsked = undefined
      outputs.push(...this.askSnapshot())
    }
    for (const [r, req] of [...this.inFlight.entries()]) {
      if (this.nowMs < req.deadlineMs) continue
      this.counters.timeouts++
      this.slowness.set(r, (this.slowness.get(r) ?? 0) + 1)
      this.inFlight.delete(r)
      this.requeue(req.range)
    }
    if (this.finished) return outputs
    return [...outputs, ...this.dispatch()]
  }

  private finishIfComplete(): Array<StateTransferOutput<S>> {
    const target = this.target
    const verifier = this.verifier
    if (this.phase !== "Transfer" || target === undefined || verifier === undefined) return []
    if (this.snapshotPending || verifier.headHeight < target.height) return []
    const position = verifier.position()
    if (position === undefined) return []
    this.phase = "Done"
    return [{ _tag: "Done", position }]
  }

  private fail(reason: StateTransferFailed["reason"], detail: string): Array<StateTransferOutput<S>> {
    this.phase = "Failed"
    return [{ _tag: "Failed", error: new StateTransferFailed({ reason, detail }) }]
  }
}
