/**
 * Snapshot-based state transfer in the node (PROTOCOL.md section 5, FORMAT.md section 12): both
 * sides of it over the replica channels, as `Transfer` payloads (src/net/payload.ts).
 *
 * Serving (`answerTransfer`). Every node answers its peers' requests from its block store: its
 * head height (what it synced) and latest checkpoint claim (the checkpoint block's header, the view
 * that certified it, and in strong mode its certificate), the snapshot of a checkpoint, and ranges
 * of blocks. An answer is cut to fit one channel frame: a range of blocks is shortened (the asker
 * asks again for the rest); a snapshot that does not fit is not sent.
 *
 * Recovering (`Recovery`, pure, and `TransferHost`). A node that starts on its data directory first
 * runs one session of src/persistence/state-transfer.ts: the status of every member, the highest
 * checkpoint f + 1 of them claim identically (or one proves with a certificate), the snapshot from
 * one claimant checked against that checkpoint's stateHash, and the blocks after it verified from
 * there. When that checkpoint is above the node's own chain, the history between the node's head
 * and the checkpoint is fetched too (a store keeps the whole chain), verified from the node's head,
 * and must end in the checkpoint header the session settled on. The node then stores the blocks,
 * the snapshot and the checkpoint's certificate, syncs, and restarts from its store as after a
 * crash (src/persistence/restart.ts): state from the snapshot, the blocks after it executed. When
 * no checkpoint is above its chain, the session ends there and the core catches up instance by
 * instance, as it does for a short lag.
 *
 * Views. The session asks the members of the newest view the node's own store installed
 * (genesis's for an empty store) and takes their head's view from that history. The history
 * below the checkpoint is verified from the node's head following every view the chain installs
 * on the way (each certified by the view before), so the view that certified the checkpoint
 * block is known from verified blocks, not from a member's claim: the checkpoint's certificate is
 * checked against it before it is stored (`storeRecovered`). A replica wiped after view changes
 * thus stores the checkpoint certified by a later view's keys, and comes back in that view.
 *
 * Bad answers never stop the node: an answer that does not fit what was asked, a snapshot whose
 * state does not hash to the claimed stateHash, a block that does not verify, a history that does
 * not end in the checkpoint, and an answer no session is waiting for each become a typed
 * `TransferRejected`, counted by reason; the session proves the sender faulty and asks another
 * member. Oversized frames are refused by the channel layer before they get here. Status answers
 * that come after the target was chosen (late ones, or second answers to a request sent again
 * because a channel had just come up) are ignored.
 */
import { Effect, Either, Option, Schema } from "effect"
import type { TransportImpl } from "../services/transport.ts"
import { bytesEqual } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { genesisHash, headerHash } from "../chain/hash.ts"
import { checkHeaderCertificate, trustedView } from "../chain/reply.ts"
import type { Block, BlockHeader, Certificate, Genesis, ReplicaId, ViewRecord } from "../chain/types.ts"
import type { ChainPosition } from "../chain/verify.ts"
import { ChainVerifier } from "../chain/verify.ts"
import { encodePayload } from "../net/payload.ts"
import { checkpointHeightAt } from "../persistence/checkpoint.ts"
import type { StateTransferConfig, StateTransferCounters, StateTransferMessage, StateTransferOutput, Target } from "../persistence/state-transfer.ts"
import { positionAfterClaim, StateTransferSession } from "../persistence/state-transfer.ts"
import type { BlockStoreApi } from "../services/blockstore-core.ts"
import { readRangeBlocksMax } from "../services/blockstore-core.ts"

// ---------------------------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------------------------

export const transferRejectReasons = [
  /** An answer while no session runs, from a member not asked, or for something not asked. */
  "Unexpected",
  /** An answer larger than what was asked (more blocks than the range). */
  "Oversized",
  /** A status answer whose checkpoint claim is inconsistent. */
  "BadStatus",
  /** A snapshot whose restored state does not hash to the checkpoint's stateHash. */
  "BadSnapshot",
  /** A block that does not verify (links, roots, decision proof, certificate). */
  "BadBlocks",
  /** A history below the checkpoint that does not end in the checkpoint header. */
  "BadHistory",
  /** A range answered with no block. */
  "Empty",
  /** A request not answered in time. */
  "Timeout",
  /** A checkpoint certificate that the view certifying the checkpoint block does not back. */
  "BadCertificate"
] as const
export type TransferRejectReason = (typeof transferRejectReasons)[number]

/** An answer of state transfer that was not used, and why. */
export class TransferRejected extends Schema.TaggedError<TransferRejected>()("TransferRejected", {
  /** The member whose answer it was (-1: not known, as for a timeout the session counted). */
  from: Schema.Number,
  reason: Schema.Literal(...transferRejectReasons),
  detail: Schema.String
}) {
  override get message(): string {
    return `state transfer: ${this.reason}${this.from < 0 ? "" : ` from replica ${this.from}`}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------------

export interface ServeContext {
  readonly store: BlockStoreApi
  /** The view record of id `viewId` in this node's chain (a claim names the view that certified its block). */
  readonly viewOf: (viewId: bigint) => ViewRecord | undefined
  readonly checkpointInterval: number
  /** The highest height the node claims and serves: what it synced. */
  readonly servedHeight: () => bigint
  /** Largest payload one frame carries. */
  readonly payloadBytesMax: number
}

const orUndefined = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A | undefined> => Effect.orElseSucceed(effect, () => undefined)

/** Block `height`'s certificate: its own record, or the copy block height + 1 carries. */
const storedCertificate = (store: BlockStoreApi, height: bigint, top: bigint): Effect.Effect<Option.Option<Certificate>> =>
  Effect.gen(function* () {
    const own = yield* orUndefined(store.readCertificate(height))
    if (own !== undefined) return Option.some(own)
    if (height >= top) return Option.none()
    const next = yield* orUndefined(store.readBlock(height + 1n))
    return next === undefined ? Option.none() : next.prevCertificate
  })

/** The newest stored snapshot at or below `top`: the latest one, or the one of the checkpoint at `top`. */
const snapshotHeightAt = (ctx: ServeContext, top: bigint): Effect.Effect<bigint> =>
  Effect.gen(function* () {
    const latest = yield* orUndefined(ctx.store.latestSnapshot())
    if (latest !== undefined && Option.isSome(latest) && latest.value.height <= top) return latest.value.height
    const c = checkpointHeightAt(top, ctx.checkpointInterval)
    if (c === 0n) return 0n
    const atTop = yield* orUndefined(ctx.store.readSnapshot(c))
    return atTop === undefined ? 0n : c
  })

const fits = (ctx: ServeContext, message: StateTransferMessage): boolean =>
  encodePayload({ _tag: "Transfer", message }).length <= ctx.payloadBytesMax

/** The answer to a peer's request, read from the store; undefined when there is nothing to send. */
export const answerTransfer = (ctx: ServeContext, request: StateTransferMessage): Effect.Effect<StateTransferMessage | undefined> =>
  Effect.gen(function* () {
    const head = yield* orUndefined(ctx.store.head())
    const stored = head === undefined ? 0n : Option.match(head, { onNone: () => 0n, onSome: (h) => h.height })
    const served = ctx.servedHeight()
    const top = stored < served ? stored : served
    switch (request._tag) {
      case "StatusRequest": {
        const c = yield* snapshotHeightAt(ctx, top)
        const block = c === 0n ? undefined : yield* orUndefined(ctx.store.readBlock(c))
        const view = block === undefined ? undefined : ctx.viewOf(block.header.viewId)
        if (block === undefined || view === undefined) return { _tag: "StatusAnswer", answer: { height: top, checkpoint: Option.none() } }
        const installs = block.header.lastReconfigHeight === c
        const claim = {
          header: block.header,
          view,
          nextView: installs ? block.newView : Option.none<ViewRecord>(),
          certificate: yield* storedCertificate(ctx.store, c, top)
        }
        const answer: StateTransferMessage = { _tag: "StatusAnswer", answer: { height: top, checkpoint: Option.some(claim) } }
        // A claim with its certificate is larger; without it, f + 1 matching claims still count.
        return fits(ctx, answer) ? answer : { _tag: "StatusAnswer", answer: { height: top, checkpoint: Option.some({ ...claim, certificate: Option.none() }) } }
      }
      case "SnapshotRequest": {
        if (request.height < 1n || request.height > top) return undefined
        const snapshot = yield* orUndefined(ctx.store.readSnapshot(request.height))
        if (snapshot === undefined) return undefined
        const answer: StateTransferMessage = { _tag: "SnapshotAnswer", height: request.height, snapshot: snapshot.bytes }
        return fits(ctx, answer) ? answer : undefined
      }
      case "BlocksRequest": {
        const from = request.fromHeight
        const cap = from + BigInt(readRangeBlocksMax) - 1n
        const to = [request.toHeight, top, cap].reduce((a, b) => (b < a ? b : a))
        if (from < 1n || to < from) return { _tag: "BlocksAnswer", fromHeight: from, blocks: [] }
        let blocks: ReadonlyArray<Block> = (yield* orUndefined(ctx.store.readRange(from, to))) ?? []
        // Fewer blocks until the answer fits a frame; the asker asks again for the rest.
        while (blocks.length > 1 && !fits(ctx, { _tag: "BlocksAnswer", fromHeight: from, blocks })) blocks = blocks.slice(0, Math.ceil(blocks.length / 2))
        return fits(ctx, { _tag: "BlocksAnswer", fromHeight: from, blocks }) ? { _tag: "BlocksAnswer", fromHeight: from, blocks } : { _tag: "BlocksAnswer", fromHeight: from, blocks: [] }
      }
      default:
        return undefined
    }
  })

// ---------------------------------------------------------------------------------------------
// Recovering (pure)
// ---------------------------------------------------------------------------------------------

/** A request to send. */
export interface TransferSend {
  readonly to: ReplicaId
  readonly message: StateTransferMessage
}

/** What a recovery ended with. */
export type RecoveryOutcome =
  /** Blocks after the node's head, with the checkpoint snapshot among them, to store. */
  | {
      readonly _tag: "Installed"
      /** Blocks local + 1 .. H in height order. */
      readonly blocks: ReadonlyArray<Block>
      readonly checkpoint: {
        readonly header: BlockHeader
        readonly snapshot: Uint8Array
        readonly certificate: Option.Option<Certificate>
        /**
         * The view that certified the checkpoint block, as the history verified from the node's
         * head established it (following every view the chain installed on the way).
         */
        readonly view: ViewRecord
      }
      readonly snapshotFrom: ReplicaId
      readonly target: Target
    }
  /** No checkpoint above the node's chain: nothing to install. */
  | { readonly _tag: "Nothing"; readonly target: Target }
  | { readonly _tag: "Failed"; readonly reason: string }

/** The session's settings it passes on (`local`: where the node's own verified chain ends), and its own. */
export interface RecoveryConfig<S> extends Pick<StateTransferConfig<S>, "crypto" | "genesis" | "app" | "view" | "self" | "local" | "statusRoundsMax"> {
  readonly requestTimeoutMs: number
  /** Blocks per history request. Default 64. */
  readonly rangeBlocks?: number
  /** Failed history requests before the recovery gives up. Default 12. */
  readonly historyFailuresMax?: number
}

/**
 * The chain position of a node whose last stored block is `head` (genesis when undefined); `view`
 * is the view that certified `head` (genesis's view at height 0).
 */
export const positionOf = (crypto: ChainCrypto, genesis: Genesis, view: ViewRecord, head: Block | undefined): ChainPosition => {
  if (head === undefined) return { height: 0n, headHash: genesisHash(crypto, genesis), view, lastReconfigHeight: 0n, lastCheckpointHeight: 0n }
  return positionAfterClaim(crypto, { header: head.header, view, nextView: head.newView })
}

interface History {
  verifier: ChainVerifier
  readonly blocks: Array<Block>
  asked: { readonly to: ReplicaId; readonly from: bigint; readonly deadlineMs: number } | undefined
  failures: number
  turn: number
}

/**
 * One recovery: the state-transfer session, then the history between the node's head and the
 * checkpoint. Takes answers and ticks, gives requests to send; `outcome` is set once it ended.
 */
export class Recovery<S> {
  readonly session: StateTransferSession<S>
  outcome: RecoveryOutcome | undefined
  /** Answers not used, by reason (the session's own counters are in `session.counters`). */
  readonly rejected: Array<TransferRejected> = []
  private installed: { readonly header: BlockHeader; readonly snapshot: Uint8Array; readonly certificate: Option.Option<Certificate> } | undefined
  private snapshotFrom: ReplicaId | undefined
  private readonly after: Array<Block> = []
  private history: History | undefined
  /** The range of blocks last asked of each member, to tell an oversized answer. */
  private readonly askedRanges = new Map<ReplicaId, { readonly from: bigint; readonly to: bigint }>()
  /**
   * The status round under way: who was asked, who answered, when the request last went out. A
   * request sent as a channel comes up can be lost (the peer's side of the channel is not up yet),
   * so members that have not answered are asked again every `statusResendMs` within the round.
   * Undefined once the target is chosen; status answers after that are late and ignored.
   */
  private statusRound: { readonly asked: ReadonlyArray<ReplicaId>; readonly answered: Set<ReplicaId>; lastSentMs: number } | undefined
  private readonly statusResendMs: number
  private nowMs = 0
  private readonly rangeBlocks: bigint
  private readonly historyFailuresMax: number

  constructor(private readonly config: RecoveryConfig<S>) {
    this.session = new StateTransferSession<S>({
      crypto: config.crypto,
      genesis: config.genesis,
      app: config.app,
      view: config.view,
      self: config.self,
      local: config.local,
      requestTimeoutMs: config.requestTimeoutMs,
      ...(config.statusRoundsMax === undefined ? {} : { statusRoundsMax: config.statusRoundsMax })
    })
    this.rangeBlocks = BigInt(Math.max(1, config.rangeBlocks ?? 64))
    this.statusResendMs = Math.max(1, Math.min(250, Math.floor(config.requestTimeoutMs / 4)))
    this.historyFailuresMax = config.historyFailuresMax ?? 12
  }

  /**
   * The target height, and how far it got: the node's own height plus the blocks verified so far
   * (those after the checkpoint and those below it), which reaches the target at the end.
   */
  progress(): { readonly targetHeight: bigint; readonly verifiedHeight: bigint; readonly checkpointHeight: bigint } {
    const target = this.session.chosen
    const local = this.config.local.height
    const below = this.history === undefined ? 0n : this.history.verifier.headHeight - local
    return {
      targetHeight: target?.height ?? local,
      verifiedHeight: local + below + BigInt(this.after.length),
      checkpointHeight: target?.checkpointHeight ?? 0n
    }
  }

  start(nowMs: number): Array<TransferSend> {
    this.nowMs = nowMs
    return this.handle(this.session.start(nowMs))
  }

  tick(nowMs: number): Array<TransferSend> {
    this.nowMs = nowMs
    if (this.outcome !== undefined) return []
    if (this.history === undefined) {
      const again: Array<TransferSend> = []
      const round = this.statusRound
      if (round !== undefined && nowMs - round.lastSentMs >= this.statusResendMs) {
        round.lastSentMs = nowMs
        for (const to of round.asked) if (!round.answered.has(to)) again.push({ to, message: { _tag: "StatusRequest" } })
      }
      const timeouts = this.session.counters.timeouts
      const sends = [...again, ...this.handle(this.session.handle({ _tag: "Tick", nowMs }))]
      for (let i = timeouts; i < this.session.counters.timeouts; i++) this.reject(-1, "Timeout", `a request not answered in ${this.config.requestTimeoutMs} ms`)
      return sends
    }
    const asked = this.history.asked
    if (asked !== undefined && nowMs >= asked.deadlineMs) {
      this.reject(asked.to, "Timeout", `blocks from ${asked.from} not sent in ${this.config.requestTimeoutMs} ms`)
      return this.historyFailed()
    }
    return []
  }

  /** An answer from `from`. */
  receive(from: ReplicaId, message: StateTransferMessage): Array<TransferSend> {
    // A second answer to a status request sent again, or a late one after the target was chosen.
    if (message._tag === "StatusAnswer" && (this.statusRound === undefined || this.statusRound.answered.has(from))) return []
    if (this.outcome !== undefined) {
      this.reject(from, "Unexpected", `${message._tag} after the recovery ended`)
      return []
    }
    const before: StateTransferCounters = { ...this.session.counters }
    let sends: Array<TransferSend>
    switch (message._tag) {
      case "StatusAnswer": {
        const round = this.statusRound
        if (round !== undefined && round.asked.includes(from)) round.answered.add(from)
        sends = this.handle(this.session.handle({ _tag: "Status", from, answer: message.answer }))
        break
      }
      case "SnapshotAnswer": {
        const outputs = this.session.handle({ _tag: "Snapshot", from, height: message.height, snapshot: message.snapshot })
        if (outputs.some((o) => o._tag === "InstallSnapshot")) this.snapshotFrom = from
        sends = this.handle(outputs)
        break
      }
      case "BlocksAnswer": {
        const asked = this.askedRanges.get(from)
        if (asked !== undefined && asked.from === message.fromHeight && BigInt(message.blocks.length) > asked.to - asked.from + 1n)
          this.reject(from, "Oversized", `${message.blocks.length} blocks for ${asked.from}..${asked.to}`)
        if (this.history !== undefined) return this.onHistory(from, message.fromHeight, message.blocks)
        sends = this.handle(this.session.handle({ _tag: "Blocks", from, fromHeight: message.fromHeight, blocks: message.blocks }))
        break
      }
      default:
        this.reject(from, "Unexpected", `a ${message._tag} is a request, not an answer`)
        return []
    }
    this.noteSessionRejections(from, message, before)
    return sends
  }

  private reject(from: ReplicaId, reason: TransferRejectReason, detail: string): void {
    this.rejected.push(new TransferRejected({ from, reason, detail }))
  }

  /** What the session counted while handling one answer, as typed rejections. */
  private noteSessionRejections(from: ReplicaId, message: StateTransferMessage, before: StateTransferCounters): void {
    const c = this.session.counters
    const what = message._tag
    if (c.unexpectedAnswers > before.unexpectedAnswers) this.reject(from, "Unexpected", `${what} not asked for`)
    if (c.badStatusAnswers > before.badStatusAnswers) this.reject(from, "BadStatus", "inconsistent checkpoint claim")
    if (c.badSnapshots > before.badSnapshots) this.reject(from, "BadSnapshot", "the restored state does not hash to the checkpoint's stateHash")
    if (c.badBlocks > before.badBlocks) this.reject(from, "BadBlocks", "a block that does not verify")
    if (c.emptyAnswers > before.emptyAnswers) this.reject(from, "Empty", "a range answered with no block")
  }

  private handle(outputs: ReadonlyArray<StateTransferOutput<S>>): Array<TransferSend> {
    const sends: Array<TransferSend> = []
    for (const out of outputs) {
      if (this.outcome !== undefined) break
      switch (out._tag) {
        case "AskStatus":
          this.statusRound = { asked: out.to, answered: new Set(), lastSentMs: this.nowMs }
          for (const to of out.to) sends.push({ to, message: { _tag: "StatusRequest" } })
          break
        case "AskSnapshot":
          sends.push({ to: out.to, message: { _tag: "SnapshotRequest", height: out.height } })
          break
        case "AskBlocks":
          this.askedRanges.set(out.to, { from: out.fromHeight, to: out.toHeight })
          sends.push({ to: out.to, message: { _tag: "BlocksRequest", fromHeight: out.fromHeight, toHeight: out.toHeight } })
          break
        case "TargetChosen":
          this.statusRound = undefined
          // Nothing above the node's own chain to take a snapshot of: the core catches up by itself.
          if (out.target.checkpointHeight <= this.config.local.height) {
            this.outcome = { _tag: "Nothing", target: out.target }
            return []
          }
          break
        case "InstallSnapshot":
          this.installed = { header: out.header, snapshot: out.snapshot, certificate: out.certificate }
          break
        case "ApplyBlocks":
          this.after.push(...out.blocks)
          break
        case "Done":
          sends.push(...this.startHistory())
          break
        case "Failed":
          this.outcome = { _tag: "Failed", reason: out.error.message }
          break
      }
    }
    return sends
  }

  private startHistory(): Array<TransferSend> {
    const local = this.config.local
    const verifier = local.height === 0n ? ChainVerifier.start(this.config.crypto, this.config.genesis) : ChainVerifier.resume(this.config.crypto, this.config.genesis, local)
    this.history = { verifier, blocks: [], asked: undefined, failures: 0, turn: 0 }
    return this.askHistory()
  }

  /** Members in the order the history asks them: the snapshot's source first, none proven faulty. */
  private historyServers(): Array<ReplicaId> {
    const others = this.config.view.members.map((m) => m.replica).filter((r) => r !== this.config.self && !this.session.faulty.has(r))
    const first = this.snapshotFrom
    return first === undefined || !others.includes(first) ? others : [first, ...others.filter((r) => r !== first)]
  }

  private askHistory(): Array<TransferSend> {
    const h = this.history
    const installed = this.installed
    if (h === undefined || installed === undefined) return this.fail("the session ended without a snapshot")
    const c = installed.header.height
    const from = h.verifier.headHeight + 1n
    if (from > c) {
      this.finish(h.blocks)
      return []
    }
    const servers = this.historyServers()
    const to = servers[h.turn % Math.max(1, servers.length)]
    if (to === undefined) return this.fail("no member left to serve the blocks below the checkpoint")
    const last = from + this.rangeBlocks - 1n < c ? from + this.rangeBlocks - 1n : c
    h.asked = { to, from, deadlineMs: this.nowMs + this.config.requestTimeoutMs }
    this.askedRanges.set(to, { from, to: last })
    return [{ to, message: { _tag: "BlocksRequest", fromHeight: from, toHeight: last } }]
  }

  private onHistory(from: ReplicaId, fromHeight: bigint, blocks: ReadonlyArray<Block>): Array<TransferSend> {
    const h = this.history
    const installed = this.installed
    if (h === undefined || installed === undefined || h.asked === undefined || h.asked.to !== from || h.asked.from !== fromHeight) {
      this.reject(from, "Unexpected", `blocks from ${fromHeight} not asked for`)
      return []
    }
    h.asked = undefined
    const c = installed.header.height
    if (blocks.length === 0) {
      this.reject(from, "Empty", `no block from ${fromHeight}`)
      return this.historyFailed()
    }
    let taken = 0
    for (const block of blocks) {
      if (block.header.height > c || taken >= Number(this.rangeBlocks)) break
      const before = h.verifier.position()
      if (before === undefined || Either.isLeft(h.verifier.next(block))) {
        this.reject(from, "BadBlocks", `block ${block.header.height} below the checkpoint does not verify`)
        this.session.faulty.add(from)
        if (before !== undefined) h.verifier = ChainVerifier.resume(this.config.crypto, this.config.genesis, before)
        break
      }
      h.blocks.push(block)
      taken++
    }
    if (h.verifier.headHeight === c) {
      const position = h.verifier.position()
      if (position === undefined || !bytesEqual(position.headHash, headerHash(this.config.crypto, installed.header))) {
        // Verified blocks that do not end in the confirmed checkpoint: start again from the node's head elsewhere.
        this.reject(from, "BadHistory", `block ${c} is not the checkpoint the members confirmed`)
        this.session.faulty.add(from)
        const local = this.config.local
        h.verifier = local.height === 0n ? ChainVerifier.start(this.config.crypto, this.config.genesis) : ChainVerifier.resume(this.config.crypto, this.config.genesis, local)
        h.blocks.length = 0
        return this.historyFailed()
      }
    }
    return taken === 0 ? this.historyFailed() : this.askHistory()
  }

  private historyFailed(): Array<TransferSend> {
    const h = this.history
    if (h === undefined) return []
    h.asked = undefined
    h.failures++
    h.turn++
    if (h.failures > this.historyFailuresMax) return this.fail(`the blocks below the checkpoint could not be fetched (${h.failures} failed requests)`)
    return this.askHistory()
  }

  private fail(reason: string): Array<TransferSend> {
    this.outcome = { _tag: "Failed", reason }
    return []
  }

  private finish(history: ReadonlyArray<Block>): void {
    const installed = this.installed
    const target = this.session.chosen
    const position = this.history?.verifier.position()
    if (installed === undefined || target === undefined || this.snapshotFrom === undefined) {
      this.fail("the session ended without a snapshot")
      return
    }
    if (position === undefined || position.height !== installed.header.height) {
      this.fail("the verified history does not reach the checkpoint")
      return
    }
    this.outcome = {
      _tag: "Installed",
      blocks: [...history, ...this.after],
      // The view that certified block c: the one before, when c installed a view.
      checkpoint: { ...installed, view: position.headView ?? position.view },
      snapshotFrom: this.snapshotFrom,
      target
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The node's side: serving, routing answers, running a recovery
// ---------------------------------------------------------------------------------------------

export type RecoveryPhase = "Idle" | "Running" | "Installed" | "Nothing" | "Failed"

/** What the node reports of state transfer (the API's status and the metrics read it). */
export interface TransferStatus {
  readonly phase: RecoveryPhase
  /** The checkpoint whose snapshot was installed (0: none). */
  readonly snapshotHeight: bigint
  readonly snapshotFrom: ReplicaId | undefined
  /** Blocks stored by the last recovery. */
  readonly blocksStored: number
  /** The head height the running (or last) session aimed for, and how far its blocks are verified. */
  readonly targetHeight: bigint
  readonly verifiedHeight: bigint
  /** Why the last recovery failed, when it did. */
  readonly failure: string | undefined
}

export class TransferHost<S> {
  /** Answers not used, by reason. */
  readonly rejected: Record<TransferRejectReason, number> = Object.fromEntries(transferRejectReasons.map((r) => [r, 0])) as Record<TransferRejectReason, number>
  /** Requests of peers answered, by kind of answer. */
  readonly served: Record<"StatusAnswer" | "SnapshotAnswer" | "BlocksAnswer", number> = { StatusAnswer: 0, SnapshotAnswer: 0, BlocksAnswer: 0 }
  /** Recoveries ended, by outcome. */
  readonly sessions: Record<"Installed" | "Nothing" | "Failed", number> = { Installed: 0, Nothing: 0, Failed: 0 }
  private recovery: Recovery<S> | undefined
  private current: TransferStatus = {
    phase: "Idle",
    snapshotHeight: 0n,
    snapshotFrom: undefined,
    blocksStored: 0,
    targetHeight: 0n,
    verifiedHeight: 0n,
    failure: undefined
  }

  constructor(
    private readonly serve: ServeContext,
    private readonly transport: TransportImpl
  ) {}

  status(): TransferStatus {
    const r = this.recovery
    if (r === undefined || this.current.phase !== "Running") return this.current
    const p = r.progress()
    return { ...this.current, targetHeight: p.targetHeight, verifiedHeight: p.verifiedHeight }
  }

  /** A state-transfer payload from a peer: a request is answered from the store, an answer goes to the recovery. */
  onMessage(from: ReplicaId, message: StateTransferMessage): Effect.Effect<void> {
    switch (message._tag) {
      case "StatusRequest":
      case "SnapshotRequest":
      case "BlocksRequest":
        return Effect.flatMap(answerTransfer(this.serve, message), (answer) => {
          if (answer === undefined) return Effect.void
          if (answer._tag === "StatusAnswer" || answer._tag === "SnapshotAnswer" || answer._tag === "BlocksAnswer") this.served[answer._tag]++
          return this.transport.send(from, { _tag: "Transfer", message: answer })
        })
      default: {
        const r = this.recovery
        if (r === undefined || r.outcome !== undefined) return this.note([new TransferRejected({ from, reason: "Unexpected", detail: `${message._tag} while no recovery runs` })])
        const sends = r.receive(from, message)
        return Effect.zipRight(this.drain(r), this.sendAll(sends))
      }
    }
  }

  /** Runs one recovery to its end, ticking it every `tickMs`. */
  recover(config: RecoveryConfig<S>, tickMs = 50): Effect.Effect<RecoveryOutcome> {
    return Effect.gen(this, function* () {
      const r = new Recovery(config)
      this.recovery = r
      this.current = { ...this.current, phase: "Running", failure: undefined, targetHeight: config.local.height, verifiedHeight: config.local.height }
      yield* this.sendAll(r.start(Date.now()))
      while (r.outcome === undefined) {
        yield* Effect.sleep(`${tickMs} millis`)
        yield* this.sendAll(r.tick(Date.now()))
        yield* this.drain(r)
      }
      yield* this.drain(r)
      const outcome = r.outcome
      const p = r.progress()
      this.sessions[outcome._tag]++
      this.current = {
        ...this.current,
        phase: outcome._tag,
        targetHeight: p.targetHeight,
        verifiedHeight: p.verifiedHeight,
        failure: outcome._tag === "Failed" ? outcome.reason : undefined
      }
      return outcome
    })
  }

  /** Records what the node stored of an installed recovery (./transfer.ts `storeRecovered`). */
  noteInstalled(outcome: Extract<RecoveryOutcome, { _tag: "Installed" }>, stored: { readonly stored: number; readonly certificate: "None" | "Stored" | "Refused" }): Effect.Effect<void> {
    this.current = { ...this.current, snapshotHeight: outcome.checkpoint.header.height, snapshotFrom: outcome.snapshotFrom, blocksStored: stored.stored }
    if (stored.certificate !== "Refused") return Effect.void
    return this.note([
      new TransferRejected({
        from: -1,
        reason: "BadCertificate",
        detail: `the certificate of checkpoint ${outcome.checkpoint.header.height} is not backed by view ${outcome.checkpoint.view.id}`
      })
    ])
  }

  /** Records that storing an installed recovery failed. */
  noteStoreFailed(reason: string): void {
    this.sessions.Installed--
    this.sessions.Failed++
    this.current = { ...this.current, phase: "Failed", failure: reason }
  }

  private drain(r: Recovery<S>): Effect.Effect<void> {
    return this.note(r.rejected.splice(0))
  }

  private note(rejections: ReadonlyArray<TransferRejected>): Effect.Effect<void> {
    if (rejections.length === 0) return Effect.void
    for (const x of rejections) this.rejected[x.reason]++
    return Effect.forEach(rejections, (x) => Effect.logDebug(x.message), { discard: true })
  }

  private sendAll(sends: ReadonlyArray<TransferSend>): Effect.Effect<void> {
    return Effect.forEach(sends, (s) => this.transport.send(s.to, { _tag: "Transfer", message: s.message }), { discard: true })
  }
}

/**
 * Writes what a recovery installed to the store and syncs: the blocks, the checkpoint's snapshot,
 * and the checkpoint's certificate when it passes the checks against the view that certified the
 * checkpoint block, as the verified history established it (a claim confirmed by f + 1 members
 * carries the certificate of one of them, unchecked until here; after view changes that view is
 * not the one the node started from). A certificate that does not pass is not stored (counted by
 * the host as BadCertificate).
 */
export const storeRecovered = (
  crypto: ChainCrypto,
  chainId: string,
  store: BlockStoreApi,
  outcome: Extract<RecoveryOutcome, { _tag: "Installed" }>
) =>
  Effect.gen(function* () {
    const header = outcome.checkpoint.header
    const c = header.height
    for (const block of outcome.blocks) {
      yield* store.appendBlock(block)
      if (block.header.height === c) yield* store.putSnapshot(c, header.stateHash, outcome.checkpoint.snapshot)
    }
    const certificate = outcome.checkpoint.certificate
    const certified =
      Option.isSome(certificate) && Either.isRight(checkHeaderCertificate(crypto, trustedView(crypto, chainId, outcome.checkpoint.view), header, certificate.value))
    if (certified) yield* store.appendCertificate(certificate.value)
    yield* store.sync()
    return { stored: outcome.blocks.length, certificate: Option.isNone(certificate) ? ("None" as const) : certified ? ("Stored" as const) : ("Refused" as const) }
  })
