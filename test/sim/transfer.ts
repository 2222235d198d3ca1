/**
 * Snapshot-based state transfer in the simulator (PROTOCOL.md section 5): how a replica whose disk
 * was wiped comes back. The pure session of src/persistence/state-transfer.ts does the work; this
 * file is its host, as a replica shell would be:
 *
 *   1. the session asks every member for its head height and latest checkpoint, settles on the
 *      highest checkpoint that f + 1 members claim identically (or one proves with a certificate),
 *      takes the snapshot from one claimant and checks that the restored state hashes to the
 *      checkpoint header's stateHash, and fetches the blocks after the checkpoint, verified by a
 *      ChainVerifier resumed there;
 *   2. the history below the checkpoint (blocks 1..c) is fetched too, since a store keeps the
 *      whole chain: verified by a ChainVerifier from genesis, whose head must be the checkpoint
 *      header the session settled on. These blocks are stored, never executed;
 *   3. the host writes blocks 1..H, the snapshot at c and the checkpoint's certificate to the new
 *      store and syncs it, and the replica restarts from that store as after any crash
 *      (src/persistence/restart.ts): state from the snapshot, blocks after it executed.
 *
 * Members answer from their stores (`answerFromStore`). Requests and answers travel over the
 * simulated network as StateTransferMessage values, encoded and decoded with the wire codec.
 */
import { Effect, Either, Option } from "effect"
import type { CoinState } from "../../src/app/coin.ts"
import { coinApp } from "../../src/app/coin.ts"
import { bytesEqual } from "../../src/chain/bytes.ts"
import { genesisHash, headerHash } from "../../src/chain/hash.ts"
import type { Block, BlockHeader, Certificate, Genesis, ReplicaId, ViewRecord } from "../../src/chain/types.ts"
import { ChainVerifier } from "../../src/chain/verify.ts"
import type { StateTransferMessage, StateTransferOutput } from "../../src/persistence/state-transfer.ts"
import { StateTransferSession } from "../../src/persistence/state-transfer.ts"
import type { BlockStoreApi } from "../../src/services/blockstore-core.ts"
import { readRangeBlocksMax } from "../../src/services/blockstore-core.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"

const run = <A, E>(effect: Effect.Effect<A, E>): Either.Either<A, E> => Effect.runSync(Effect.either(effect))

/** Blocks per history request. */
const historyRangeBlocks = 64n
/** Failed history requests (timeouts, empty or unverifiable answers) before the recovery gives up. */
const historyFailuresMax = 12

/**
 * A member's answer to a state-transfer request, read from its store; undefined when it has
 * nothing to say (no such snapshot, no blocks in the range).
 */
export const answerFromStore = (store: BlockStoreApi, view: ViewRecord, request: StateTransferMessage): StateTransferMessage | undefined => {
  const head = run(store.head())
  const top = Either.isRight(head) && Option.isSome(head.right) ? head.right.value.height : 0n
  switch (request._tag) {
    case "StatusRequest": {
      const latest = run(store.latestSnapshot())
      const c = Either.isRight(latest) && Option.isSome(latest.right) && latest.right.value.height <= top ? latest.right.value.height : 0n
      const block = c === 0n ? undefined : run(store.readBlock(c))
      if (block === undefined || Either.isLeft(block))
        return { _tag: "StatusAnswer", answer: { height: top, checkpoint: Option.none() } }
      return {
        _tag: "StatusAnswer",
        answer: { height: top, checkpoint: Option.some({ header: block.right.header, view, nextView: Option.none(), certificate: certificateOf(store, c, top) }) }
      }
    }
    case "SnapshotRequest": {
      const snapshot = run(store.readSnapshot(request.height))
      return Either.isLeft(snapshot) ? undefined : { _tag: "SnapshotAnswer", height: request.height, snapshot: snapshot.right.bytes }
    }
    case "BlocksRequest": {
      const from = request.fromHeight
      const cap = from + BigInt(readRangeBlocksMax) - 1n
      const to = [request.toHeight, top, cap].reduce((a, b) => (b < a ? b : a))
      if (from < 1n || to < from) return { _tag: "BlocksAnswer", fromHeight: from, blocks: [] }
      const blocks = run(store.readRange(from, to))
      return { _tag: "BlocksAnswer", fromHeight: from, blocks: Either.isLeft(blocks) ? [] : blocks.right }
    }
    default:
      return undefined
  }
}

/** Block `height`'s certificate: its own record, or the copy block height + 1 carries. */
const certificateOf = (store: BlockStoreApi, height: bigint, top: bigint): Option.Option<Certificate> => {
  const own = run(store.readCertificate(height))
  if (Either.isRight(own)) return Option.some(own.right)
  if (height >= top) return Option.none()
  const next = run(store.readBlock(height + 1n))
  return Either.isRight(next) ? next.right.prevCertificate : Option.none()
}

/** What a finished recovery gives the host to store. */
export interface Recovered {
  /** Blocks 1..H in order. */
  readonly blocks: ReadonlyArray<Block>
  /** The checkpoint whose snapshot gave the state (height 0: none, the blocks replay from genesis). */
  readonly checkpoint: { readonly height: bigint; readonly stateHash: Uint8Array; readonly snapshot: Uint8Array; readonly from: ReplicaId | undefined }
  readonly certificate: Certificate | undefined
}

export type RecoveryOutcome = { readonly _tag: "Recovered"; readonly recovered: Recovered } | { readonly _tag: "Failed"; readonly reason: string }

export interface RecoveryConfig {
  readonly genesis: Genesis
  readonly view: ViewRecord
  readonly self: ReplicaId
  readonly requestTimeoutMs: number
  /** Sends a request over the simulated network. */
  readonly send: (to: ReplicaId, message: StateTransferMessage) => void
}

/** One wiped replica's recovery: the session, then the history below its checkpoint. */
export class Recovery {
  readonly session: StateTransferSession<CoinState>
  outcome: RecoveryOutcome | undefined
  private installed: { readonly height: bigint; readonly header: BlockHeader; readonly snapshot: Uint8Array; readonly certificate: Option.Option<Certificate> } | undefined
  private snapshotFrom: ReplicaId | undefined
  private readonly after: Array<Block> = []
  /** History phase: blocks 1..c verified so far, the request in flight, the members to ask in turn. */
  private history: { verifier: ChainVerifier; readonly blocks: Array<Block>; asked: { readonly to: ReplicaId; readonly from: bigint; readonly deadlineMs: number } | undefined; failures: number; turn: number } | undefined
  private nowMs = 0

  constructor(private readonly config: RecoveryConfig) {
    this.session = new StateTransferSession<CoinState>({
      crypto: nodeCrypto,
      genesis: config.genesis,
      app: coinApp,
      view: config.view,
      self: config.self,
      local: {
        height: 0n,
        headHash: genesisHash(nodeCrypto, config.genesis),
        view: config.view,
        lastReconfigHeight: 0n,
        lastCheckpointHeight: 0n
      },
      requestTimeoutMs: config.requestTimeoutMs
    })
  }

  /** The checkpoint height the session settled on, once it did. */
  get checkpointHeight(): bigint | undefined {
    return this.session.chosen?.checkpointHeight
  }

  start(nowMs: number): void {
    this.nowMs = nowMs
    this.handle(this.session.start(nowMs))
  }

  tick(nowMs: number): void {
    this.nowMs = nowMs
    if (this.outcome !== undefined) return
    if (this.history === undefined) this.handle(this.session.handle({ _tag: "Tick", nowMs }))
    else if (this.history.asked !== undefined && nowMs >= this.history.asked.deadlineMs) this.historyFailed()
  }

  /** An answer from `from` arrived. */
  receive(from: ReplicaId, message: StateTransferMessage): void {
    if (this.outcome !== undefined) return
    switch (message._tag) {
      case "StatusAnswer":
        return this.handle(this.session.handle({ _tag: "Status", from, answer: message.answer }))
      case "SnapshotAnswer": {
        const outputs = this.session.handle({ _tag: "Snapshot", from, height: message.height, snapshot: message.snapshot })
        if (outputs.some((o) => o._tag === "InstallSnapshot")) this.snapshotFrom = from
        return this.handle(outputs)
      }
      case "BlocksAnswer":
        if (this.history !== undefined) return this.onHistory(from, message.fromHeight, message.blocks)
        return this.handle(this.session.handle({ _tag: "Blocks", from, fromHeight: message.fromHeight, blocks: message.blocks }))
      default:
        return
    }
  }

  private handle(outputs: ReadonlyArray<StateTransferOutput<CoinState>>): void {
    for (const out of outputs) {
      switch (out._tag) {
        case "AskStatus":
          for (const to of out.to) this.config.send(to, { _tag: "StatusRequest" })
          break
        case "AskSnapshot":
          this.config.send(out.to, { _tag: "SnapshotRequest", height: out.height })
          break
        case "AskBlocks":
          this.config.send(out.to, { _tag: "BlocksRequest", fromHeight: out.fromHeight, toHeight: out.toHeight })
          break
        case "TargetChosen":
          break
        case "InstallSnapshot":
          this.installed = { height: out.height, header: out.header, snapshot: out.snapshot, certificate: out.certificate }
          break
        case "ApplyBlocks":
          this.after.push(...out.blocks)
          break
        case "Done":
          this.startHistory()
          break
        case "Failed":
          this.outcome = { _tag: "Failed", reason: out.error.message }
          break
      }
    }
  }

  private startHistory(): void {
    if (this.installed === undefined) {
      this.finish([])
      return
    }
    this.history = { verifier: ChainVerifier.start(nodeCrypto, this.config.genesis), blocks: [], asked: undefined, failures: 0, turn: 0 }
    this.askHistory()
  }

  /** Members in the order the history asks them: the snapshot's source first, none proven faulty. */
  private historyServers(): Array<ReplicaId> {
    const others = this.config.view.members.map((m) => m.replica).filter((r) => r !== this.config.self && !this.session.faulty.has(r))
    const first = this.snapshotFrom
    return first === undefined || !others.includes(first) ? others : [first, ...others.filter((r) => r !== first)]
  }

  private askHistory(): void {
    const h = this.history
    const installed = this.installed
    if (h === undefined || installed === undefined) return
    const from = h.verifier.headHeight + 1n
    if (from > installed.height) {
      const position = h.verifier.position()
      if (position !== undefined && bytesEqual(position.headHash, headerHash(nodeCrypto, installed.header))) {
        this.finish(h.blocks)
        return
      }
      // A history that does not end in the confirmed checkpoint: start again from genesis elsewhere.
      h.verifier = ChainVerifier.start(nodeCrypto, this.config.genesis)
      h.blocks.length = 0
      this.historyFailed()
      return
    }
    const servers = this.historyServers()
    const to = servers[h.turn % Math.max(1, servers.length)]
    if (to === undefined) {
      this.outcome = { _tag: "Failed", reason: "no member left to serve the history below the checkpoint" }
      return
    }
    const last = from + historyRangeBlocks - 1n < installed.height ? from + historyRangeBlocks - 1n : installed.height
    h.asked = { to, from, deadlineMs: this.nowMs + this.config.requestTimeoutMs }
    this.config.send(to, { _tag: "BlocksRequest", fromHeight: from, toHeight: last })
  }

  private onHistory(from: ReplicaId, fromHeight: bigint, blocks: ReadonlyArray<Block>): void {
    const h = this.history
    if (h === undefined || h.asked === undefined || h.asked.to !== from || h.asked.from !== fromHeight) return
    h.asked = undefined
    const installed = this.installed
    let taken = 0
    for (const block of blocks) {
      if (installed !== undefined && block.header.height > installed.height) break
      const before = h.verifier.position()
      if (before === undefined || Either.isLeft(h.verifier.next(block))) {
        if (before !== undefined) h.verifier = ChainVerifier.resume(nodeCrypto, this.config.genesis, before)
        break
      }
      h.blocks.push(block)
      taken++
    }
    if (taken === 0) this.historyFailed()
    else this.askHistory()
  }

  private historyFailed(): void {
    const h = this.history
    if (h === undefined) return
    h.asked = undefined
    h.failures++
    h.turn++
    if (h.failures > historyFailuresMax) {
      this.outcome = { _tag: "Failed", reason: `the history below the checkpoint could not be fetched (${h.failures} failed requests)` }
      return
    }
    this.askHistory()
  }

  private finish(history: ReadonlyArray<Block>): void {
    const installed = this.installed
    const checkpoint =
      installed === undefined
        ? { height: 0n, stateHash: new Uint8Array(32), snapshot: new Uint8Array(0), from: undefined }
        : { height: installed.height, stateHash: installed.header.stateHash, snapshot: installed.snapshot, from: this.snapshotFrom }
    this.outcome = {
      _tag: "Recovered",
      recovered: { blocks: [...history, ...this.after], checkpoint, certificate: installed === undefined ? undefined : Option.getOrUndefined(installed.certificate) }
    }
  }
}
