/**
 * One replica process: genesis and keys from the configuration, the replica shell over the TCP
 * transport, the replica clock, the Verifier, the coin application, the core's durable commit
 * pipeline over the block store (classic-level in weak and strong mode, in memory in memory
 * mode), the HTTP API and the Prometheus metrics.
 *
 * The core builds, writes, syncs and (strong mode) certifies the blocks and releases replies by
 * the persistence mode's rule (src/persistence/pipeline.ts); the shell performs its writes on the
 * store, and the API (through ./chain.ts) reports a transaction to clients only once its reply was
 * released.
 *
 * Restart: when the data directory holds a chain (or a consensus record), the node comes back
 * from it (src/persistence/restart.ts): the store's startup check cuts a torn or corrupt tail,
 * every stored block is replayed through the application and checked against the block rebuilt
 * from its contents (a mismatch cuts the store there), the consensus record restores the regency,
 * vote and decided-but-unwritten instances, and what is missing is fetched from peers by state
 * transfer.
 *
 * `startNode` builds all of it in a scope: closing the scope stops the shell, closes the HTTP
 * server and every replica channel, and closes the block store (what was synced stays). `runNode`
 * runs one until interrupted; under `NodeRuntime.runMain` SIGINT and SIGTERM interrupt it, so a
 * signal shuts the node down cleanly.
 *
 * Startup checks, each a typed error naming the configuration field: the genesis parses; the
 * identity key is a member's identity key in the genesis view (or the configuration has "join");
 * the view key, while it exists, is that member's view key (after a view change only later view
 * keys remain); the persistence mode, when given, is the genesis mode.
 *
 * Reconfiguration (./views.ts, ./joiner.ts): the core follows the views its executed blocks
 * install, signing with the key file of the view it runs in; the node makes and stores fresh view
 * keys and submits ROTATE when asked, erases old key files, moves its peers and Verifier to the
 * installed views, and serves GET /views. A replica outside genesis's view joins first: JOIN,
 * fetch and verify the chain, then start in the view that took it in.
 */
import { Cause, Chunk, Console, Deferred, Effect, Either, Exit, Fiber, Layer, LogLevel, Logger, Queue, Schema } from "effect"
import type { Scope } from "effect"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { coinApp } from "../app/coin.ts"
import { bytesEqual } from "../chain/bytes.ts"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"
import { genesisHash, viewHash } from "../chain/hash.ts"
import type { Genesis, Member, PersistenceMode, Transaction } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import { leaderOf, makeConfig } from "../core/config.ts"
import type { Output, TraceEvent } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"
import type { NetLimits } from "../net/limits.ts"
import type { NetLog } from "../net/metrics.ts"
import type { ListenFailed, BadAddress } from "../net/errors.ts"
import type { InvalidNetLimits } from "../net/limits.ts"
import { parseAddress } from "../net/peer-manager.ts"
import { channelOverheadBytes } from "../net/limits.ts"
import type { TcpTransport } from "../net/tcp-transport.ts"
import { inboxCapacityDefault, makeTcpTransport, peersOfView } from "../net/tcp-transport.ts"
import { genesisMachine } from "../persistence/machine.ts"
import type { DurableContent } from "../persistence/restart.ts"
import { restart } from "../persistence/restart.ts"
import { heightKey } from "../persistence/state.ts"
import type { Shell } from "../replica/shell.ts"
import { makeShell } from "../replica/shell.ts"
import { loadDurable } from "../replica/storage.ts"
import type { BlockStoreApi, DiskError } from "../services/blockstore.ts"
import { makeMemoryBlockStore, openLevelBlockStore } from "../services/blockstore.ts"
import { clockLayer } from "../services/clock.ts"
import { nodeCrypto } from "../services/crypto.ts"
import type { KeyFile } from "../services/keystore.ts"
import { readKeyFile } from "../services/keystore.ts"
import { TraceSink, traceLine } from "../services/trace.ts"
import type { Envelope, TransportImpl } from "../services/transport.ts"
import { Transport } from "../services/transport.ts"
import { SignatureMemory } from "../services/verifier.ts"
import type { ApiServer } from "../api/server.ts"
import { startApiServer } from "../api/server.ts"
import { NodeChain } from "./chain.ts"
import type { NodeConfig } from "./config.ts"
import { NodeConfigError } from "./config.ts"
import { NodeMetrics } from "./metrics.ts"
import { joinNetwork } from "./joiner.ts"
import { installedViewRecord, installedViews, NodeViewKeys, nodeReconfigSetup, peersOfViews, viewFollower, viewsVerifierLayer } from "./views.ts"
import type { CoinState } from "../app/coin.ts"
import type { RecoveryOutcome } from "./transfer.ts"
import { positionOf, storeRecovered, TransferHost } from "./transfer.ts"

/** The node could not start (or its disk failed): why, in words. */
export class NodeStartError extends Schema.TaggedError<NodeStartError>()("NodeStartError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export type NodeError = NodeConfigError | NodeStartError

export interface NodeOptions {
  /** Channel-layer limits over the defaults (frameBytesMax always comes from genesis). */
  readonly netLimits?: Partial<NetLimits>
  readonly netLog?: NetLog
  /** Bound of the shell's inbox (default that of the transport's). */
  readonly inboxCapacity?: number
}

/** How often the node looks for newly connected peers to ask for what it lacks. */
const catchUpPollMs = 250

/** How long a starting node waits for channels to every peer before it asks for their status. */
const transferConnectWaitMs = 2_000

/** Status rounds of the startup state transfer before the node starts on what it has. */
const transferStatusRoundsMax = 2

/** What a restart found in the data directory. */
export interface RestartSummary {
  /** Blocks replayed from the store. */
  readonly blocks: number
  /** Where the store was cut (a torn or corrupt tail, or a block that did not match its contents). */
  readonly cutFrom: bigint | undefined
  /** The regency the consensus record brought back. */
  readonly regency: bigint
  /** The checkpoint whose stored snapshot gave the application state (0: every block was executed again). */
  readonly checkpoint: bigint
  /** Heights synced and (strong mode) certified after the replay. */
  readonly durableHeight: bigint
  readonly certifiedHeight: bigint
}

export interface RunningNode {
  readonly replica: number
  readonly chainId: string
  readonly mode: PersistenceMode
  readonly genesis: Genesis
  readonly config: ReplicaConfig
  /** `host:port` of the replica channels. */
  readonly p2pAddress: string
  /** `http://host:port` of the API. */
  readonly httpUrl: string
  /** The replica shell (a new one after a startup state transfer installed a snapshot). */
  readonly shell: Shell
  /** What the API reads: blocks, transactions with released replies, certificates. */
  readonly chain: NodeChain
  /** What the node came back from, when it restarted from its data directory (or from what a state transfer stored). */
  readonly restarted: RestartSummary | undefined
  readonly transport: TcpTransport
  readonly metrics: NodeMetrics
  readonly api: ApiServer
  /** Snapshot-based state transfer: serving peers, and the recovery the node ran at startup (./transfer.ts). */
  readonly transfer: TransferHost<CoinState>
  /** Completes once the replica loop runs (after the startup state transfer), with how that ended. */
  readonly running: Effect.Effect<RecoveryOutcome | undefined>
  /** Fails when the node can no longer keep its promises (its block store or its replica loop failed). */
  readonly fatal: Effect.Effect<never, NodeStartError>
}

const fieldError = (config: NodeConfig, field: string, reason: string) => new NodeConfigError({ file: config.file, field, reason })

const readKey = (config: NodeConfig, field: "identityKey" | "viewKey", file: string, kind: KeyFile["kind"]) =>
  readKeyFile(file).pipe(
    Effect.mapError((e) => fieldError(config, field, e.message)),
    Effect.filterOrFail(
      (k) => k.kind === kind,
      (k) => fieldError(config, field, `${file} holds a ${k.kind} key, expected a ${kind} key`)
    )
  )

/** Genesis, own member entry and keys, checked against each other. */
const loadIdentity = (config: NodeConfig) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => fs.readFile(config.genesis, "utf8"),
      catch: (e) => fieldError(config, "genesis", `cannot read ${config.genesis}: ${e instanceof Error ? e.message : String(e)}`)
    })
    const genesis = yield* Either.mapLeft(decodeGenesisJsonText(text), (e) => fieldError(config, "genesis", `${config.genesis}: ${e.message}`))
    const identity = yield* readKey(config, "identityKey", config.identityKey, "identity")
    const member: Member | undefined = genesis.view.members.find((m) => bytesEqual(m.identityKey, identity.publicKey))
    if (member === undefined && config.join === undefined)
      return yield* fieldError(config, "identityKey", `${config.identityKey} is not the identity key of any member of view ${genesis.view.id} (set "join" to join the network)`)
    if (member === undefined) {
      // A joining replica (./joiner.ts): its view keys are made as it asks to join.
      if (config.listen === undefined) return yield* fieldError(config, "listen", `a joining replica needs "listen", the address its JOIN announces`)
      if (genesis.persistence === "memory")
        return yield* fieldError(config, "join", "a memory-mode network cannot be joined: a joining replica starts from the chain it stored")
      const joinerKeys = yield* NodeViewKeys.load(path.dirname(config.viewKey), nodeCrypto, undefined).pipe(
        Effect.mapError((e) => fieldError(config, "viewKey", e.message))
      )
      const listenAt = yield* Either.mapLeft(parseAddress(config.listen), () => fieldError(config, "listen", `cannot listen on "${config.listen}" (expected host:port)`))
      return { genesis, member, identity, keys: joinerKeys, address: listenAt }
    }
    // The view keys: every view-<id>.key next to the configured genesis-view key (./views.ts). The
    // genesis-view key may be gone: erased after a later view was installed, whose key is there.
    const keys = yield* NodeViewKeys.load(path.dirname(config.viewKey), nodeCrypto, member.replica).pipe(
      Effect.mapError((e) => fieldError(config, "viewKey", e.message))
    )
    const named = fsSync.existsSync(config.viewKey) ? yield* readKey(config, "viewKey", config.viewKey, "view") : undefined
    if (named !== undefined && !bytesEqual(named.publicKey, member.viewKey))
      return yield* fieldError(config, "viewKey", `${config.viewKey} is not replica ${member.replica}'s key for view ${genesis.view.id}`)
    if (named !== undefined) keys.adopt(genesis.view.id, named)
    if (named === undefined && keys.held().length === 0)
      return yield* fieldError(config, "viewKey", `${config.viewKey} does not exist and ${keys.dir} holds no later view key`)
    if (config.persistence !== undefined && config.persistence !== genesis.persistence)
      return yield* fieldError(config, "persistence", `the genesis mode is ${genesis.persistence}, the configuration says ${config.persistence}`)
    const listen = config.listen ?? member.address
    const address = yield* Either.mapLeft(parseAddress(listen), () =>
      config.listen === undefined
        ? fieldError(config, "genesis", `replica ${member.replica}'s address "${listen}" in genesis is not host:port; set "listen"`)
        : fieldError(config, "listen", `cannot listen on "${listen}" (expected host:port)`)
    )
    return { genesis, member, identity, keys, address }
  })

/** The TraceSink of a node: every event to the metrics, and to an ndjson file when configured. */
const nodeTraceSink = (metrics: NodeMetrics, file: string | undefined): Layer.Layer<TraceSink> =>
  Layer.scoped(
    TraceSink,
    Effect.gen(function* () {
      // Trace files are for tests and diagnosis: written synchronously, in order, one line per event.
      const fd =
        file === undefined
          ? undefined
          : yield* Effect.acquireRelease(
              Effect.sync(() => fsSync.openSync(file, "w")),
              (d) => Effect.sync(() => fsSync.closeSync(d))
            )
      let seq = 0
      const writeNow = (timeMs: number, event: TraceEvent): void => {
        metrics.observeTrace(timeMs, event)
        if (fd !== undefined) fsSync.writeSync(fd, traceLine({ seq: seq++, timeMs, event }) + "\n")
      }
      return {
        write: (timeMs, event) => Effect.sync(() => writeNow(timeMs, event)),
        writeNow,
        records: Effect.succeed([])
      }
    })
  )

/** The first state of the replica: the initial one, or the one rebuilt from the data directory. */
interface Beginning {
  readonly initial: ReplicaState | undefined
  readonly outputs: ReadonlyArray<Output>
  readonly durable: DurableContent | undefined
  readonly summary: RestartSummary | undefined
}

/** Rebuilds the replica from what its store kept, if it kept anything (src/persistence/restart.ts). */
const comeBack = (config: ReplicaConfig, store: BlockStoreApi, dataDir: string): Effect.Effect<Beginning, NodeStartError> =>
  Effect.gen(function* () {
    const durable = yield* loadDurable(store).pipe(
      Effect.mapError((e) => new NodeStartError({ reason: `data dir ${dataDir}: cannot read what it holds: ${e.message}` }))
    )
    if (durable.blocks.length === 0 && durable.record === undefined && durable.cutFrom === undefined)
      return { initial: undefined, outputs: [], durable: undefined, summary: undefined }
    const result = restart(config, durable, 0)
    if (result.truncateFrom !== undefined)
      yield* store.truncateFrom(result.truncateFrom).pipe(Effect.mapError((e) => new NodeStartError({ reason: `data dir ${dataDir}: ${e.message}` })))
    const p = result.state.persistence
    const cutFrom = durable.cutFrom ?? result.truncateFrom
    return {
      initial: result.state,
      outputs: result.outputs,
      durable,
      summary: {
        blocks: Number(p?.dur ?? 0n),
        cutFrom,
        regency: result.state.regency,
        checkpoint: result.restoredFrom,
        durableHeight: p?.dur ?? 0n,
        certifiedHeight: p?.certH ?? 0n
      }
    }
  })

/** Builds and starts a replica in the current scope. */
export const startNode = (
  config: NodeConfig,
  options: NodeOptions = {}
): Effect.Effect<RunningNode, NodeError, Scope.Scope> =>
  Effect.gen(function* () {
    const { genesis, identity, keys, address, ...loaded } = yield* loadIdentity(config)
    // A replica outside genesis's view first joins: it starts in the view that took it in.
    const joined =
      loaded.member !== undefined || config.join === undefined
        ? undefined
        : yield* joinNetwork({
            genesis,
            identity,
            keys,
            dataDir: config.dataDir,
            from: config.join.from,
            address: config.listen ?? "",
            crypto: nodeCrypto,
            log: (line) => Console.log(line)
          }).pipe(Effect.mapError((e) => new NodeStartError({ reason: e.message })))
    const member = joined?.member ?? loaded.member!
    const startView = joined?.view ?? genesis.view
    const replica = member.replica
    const mode = genesis.persistence
    const crypto = nodeCrypto
    const replicaConfig = makeConfig({
      self: replica,
      chainId: genesis.chainId,
      view: startView,
      limits: genesis.limits,
      crypto,
      signer: keys.lazySigner(startView.id),
      reconfig: nodeReconfigSetup(crypto, genesis, identity.publicKey, keys),
      ...(config.batchDelayMs === undefined ? {} : { batchDelayMs: config.batchDelayMs }),
      persistence: {
        mode,
        genesis,
        genesisHash: genesisHash(crypto, genesis),
        viewHash: viewHash(crypto, genesis.view),
        machine: genesisMachine(coinApp, crypto, genesis)
      }
    })

    // Memory mode keeps its blocks in memory only: a restart starts from genesis again.
    const store: BlockStoreApi =
      mode === "memory"
        ? yield* makeMemoryBlockStore({ crypto })
        : yield* openLevelBlockStore(config.dataDir, crypto).pipe(
            Effect.mapError((e: DiskError) => new NodeStartError({ reason: `data dir ${config.dataDir}: ${e.message}` }))
          )
    let beginning: Beginning = mode === "memory" ? { initial: undefined, outputs: [], durable: undefined, summary: undefined } : yield* comeBack(replicaConfig, store, config.dataDir)

    const transport = yield* makeTcpTransport({
      chainId: genesis.chainId,
      replica,
      identitySecret: identity.secretKey,
      listen: address,
      peers: peersOfView(genesis.view),
      limits: { ...options.netLimits, frameBytesMax: genesis.limits.frameBytesMax },
      ...(options.netLog === undefined ? {} : { log: options.netLog })
    }).pipe(Effect.mapError((e: ListenFailed | InvalidNetLimits | BadAddress) => new NodeStartError({ reason: `replica channels: ${e.message}` })))

    // The shell is created below; the chain reads the core's state through it.
    const holder: { shell?: Shell } = {}
    const persistence = () => holder.shell?.state().persistence
    const chain = new NodeChain(
      crypto,
      store,
      {
        executed: () => persistence()?.height ?? 0n,
        written: () => persistence()?.wrote ?? 0n,
        durable: () => persistence()?.dur ?? 0n,
        certified: () => persistence()?.certH ?? 0n,
        released: () => persistence()?.releasedH ?? 0n,
        knownCertificate: (h) => persistence()?.certificates.get(heightKey(h))
      },
      (r) => coinApp.describeResult(r),
      mode === "memory"
    )
    if (beginning.durable !== undefined) chain.restore(beginning.durable.blocks.slice(0, beginning.summary?.blocks ?? 0))

    // State-transfer payloads go to the transfer host (served from the store, or answers for the
    // startup recovery); every other envelope goes to the shell, through its own inbox, so peers
    // are answered while the shell is not running yet.
    const transfer = new TransferHost<CoinState>(
      {
        store,
        viewOf: (id) => installedViewRecord(theShell.state(), id),
        checkpointInterval: genesis.limits.checkpointInterval,
        servedHeight: () => (mode === "memory" ? 0n : chain.durableHeight()),
        payloadBytesMax: transport.manager.limits.frameBytesMax - channelOverheadBytes
      },
      transport.transport
    )
    const shellInbox = yield* Effect.acquireRelease(Queue.dropping<Envelope>(options.inboxCapacity ?? inboxCapacityDefault), Queue.shutdown)
    const sendNow = transport.transport.sendNow
    const shellTransport: TransportImpl = {
      self: replica,
      send: transport.transport.send,
      ...(sendNow === undefined ? {} : { sendNow }),
      receive: (max) => Effect.map(Queue.takeBetween(shellInbox, 1, Math.max(1, max)), Chunk.toReadonlyArray)
    }
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(transport.transport.receive(256), (envelopes) =>
          Effect.forEach(
            envelopes,
            (e) =>
              e.payload._tag === "Transfer"
                ? transfer.onMessage(e.from, e.payload.message)
                : Effect.sync(() => {
                    if (!shellInbox.unsafeOffer(e)) transport.metrics.inboxDropped++
                  }),
            { discard: true }
          )
        )
      )
    )

    const metrics: NodeMetrics = new NodeMetrics({
      height: () => chain.height(),
      durableHeight: () => chain.durableHeight(),
      regency: () => theShell.state().regency,
      view: () => theShell.state().config.view.id,
      leader: () => leaderOf(theShell.state().config, theShell.state().regency),
      lastDecidedCid: () => theShell.state().lastDecidedCid,
      highestSeenCid: () => {
        let max = 0n
        for (const c of theShell.state().seenCid.values()) if (c > max) max = c
        return max
      },
      connectedPeers: () => transport.manager.connectedPeers().length,
      pendingTransactions: () => theShell.state().pending.size,
      verifierRejected: () => theShell.metrics.rejected,
      connectionsClosed: () => transport.manager.metrics.closes,
      sendsRefused: () => transport.manager.metrics.sendsRefused,
      payloads: () => transport.metrics,
      payloadsMalformed: () => transport.metrics.payloadsMalformed,
      stateInstancesReceived: () => transport.metrics.stateInstancesReceived,
      transfer: () => ({ status: transfer.status(), sessions: transfer.sessions, rejected: transfer.rejected, served: transfer.served }),
      reconfig: () => ({ ...follower.metrics, left: theShell.state().reconfig?.local.left === true, joins: joined?.joins ?? {} })
    })
    const shellStore = chain.wrapStore((ms, blocks) => metrics.observeSync(ms, blocks))
    // Transactions whose clients sent them to every member (POST /txs?all=1): not forwarded to the leader.
    const sentToAll = new WeakSet<Transaction>()
    const makeReplicaShell = (b: Beginning): Shell =>
      makeShell(replicaConfig, {
        store: follower.observing(shellStore),
        sentToAll: (tx) => sentToAll.has(tx),
        onReply: (reply) => chain.noteReply(reply),
        viewKeyDir: keys.dir,
        onReconfig: follower.onReconfig,
        ...(b.initial === undefined ? {} : { initial: b.initial, initialOutputs: b.outputs })
      })
    const follower = viewFollower({
      chainId: genesis.chainId,
      crypto,
      identity,
      keys,
      state: () => theShell.state(),
      submit: transport.submit,
      broadcast: (tx) =>
        Effect.forEach(transport.manager.connectedPeers(), (to) => transport.transport.send(to, { _tag: "Request", tx }), { discard: true }),
      setPeers: (peers) => void transport.manager.setPeers(peers),
      log: (line) => Console.log(`replica ${replica}: ${line}`)
    })
    let theShell = makeReplicaShell(beginning)
    holder.shell = theShell
    // A restarted replica's chain may have installed views: its peers are their members.
    transport.manager.setPeers(peersOfViews(installedViews(theShell.state())))

    // Signatures found valid, shared by the API (which checks a transaction when it arrives) and
    // the Verifier (which then finds it checked).
    const signatures = new SignatureMemory()
    const layers = Layer.mergeAll(
      Layer.succeed(Transport, shellTransport),
      clockLayer(config.tickMs),
      nodeTraceSink(metrics, config.trace),
      viewsVerifierLayer({ chainId: genesis.chainId, limits: genesis.limits, crypto, memory: signatures }, () => theShell.state())
    )
    const fatal = yield* Deferred.make<never, NodeStartError>()
    const running = yield* Deferred.make<RecoveryOutcome | undefined>()

    const runShell = Effect.gen(function* () {
      const loop = yield* Effect.forkScoped(Effect.provide(theShell.run, layers))
      // The replica loop runs until the scope closes; if it ends otherwise (a storage write failed),
      // the node can no longer keep its promises and stops.
      yield* Effect.forkScoped(
        Effect.flatMap(Fiber.await(loop), (exit) =>
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
            ? Deferred.fail(fatal, new NodeStartError({ reason: `replica loop stopped: ${Cause.pretty(exit.cause).split("\n")[0]}` }))
            : Effect.void
        )
      )

      // A peer that connects (again) is asked at once for the decided instances this replica lacks:
      // after a restart the core's own request may have gone out before any channel was up, and it
      // would otherwise ask again only once it sees its peers working ahead. The answers are
      // verified like any state transfer.
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          let known = new Set<number>()
          for (;;) {
            const connected = new Set(transport.manager.connectedPeers())
            for (const peer of connected)
              if (!known.has(peer)) yield* transport.transport.send(peer, { _tag: "StateRequest", fromCid: theShell.state().instance.cid })
            known = connected
            yield* Effect.sleep(`${catchUpPollMs} millis`)
          }
        })
      )
    })

    // Startup state transfer (weak and strong mode): once the channels are up, ask the members for
    // their status; when they hold a checkpoint above this replica's chain, take its snapshot and the
    // blocks around it, store them and come back from the store. Then the replica loop starts.
    const startup = Effect.gen(function* () {
      // The replica's current view (its chain may have installed views after genesis's) is asked.
      const view = theShell.state().config.view
      const others = view.members.filter((m) => m.replica !== replica).length
      // A replica that just joined came in through the join protocol (./joiner.ts).
      if (mode === "memory" || others === 0 || joined !== undefined) return undefined
      const waitUntil = Date.now() + transferConnectWaitMs
      while (transport.manager.connectedPeers().length < others && Date.now() < waitUntil) yield* Effect.sleep("20 millis")
      const height = beginning.summary?.blocks ?? 0
      const head = height === 0 ? undefined : beginning.durable?.blocks[height - 1]
      const outcome = yield* transfer.recover({
        crypto,
        genesis,
        app: coinApp,
        view,
        self: replica,
        local: positionOf(crypto, genesis, (head === undefined ? undefined : installedViewRecord(theShell.state(), head.header.viewId)) ?? genesis.view, head),
        requestTimeoutMs: genesis.limits.requestTimeoutMs,
        statusRoundsMax: transferStatusRoundsMax
      })
      if (outcome._tag !== "Installed") return outcome
      // The checkpoint's certificate is checked against the view that certified it, as the fetched history established it.
      const stored = yield* storeRecovered(crypto, genesis.chainId, store, outcome).pipe(Effect.either)
      if (Either.isLeft(stored)) {
        // What was written and not synced may stay staged; the restart below reads what the store holds.
        transfer.noteStoreFailed(`cannot store what state transfer fetched: ${stored.left.message}`)
      } else yield* transfer.noteInstalled(outcome, stored.right)
      beginning = yield* comeBack(replicaConfig, store, config.dataDir)
      if (beginning.durable !== undefined) chain.restore(beginning.durable.blocks.slice(0, beginning.summary?.blocks ?? 0))
      theShell = makeReplicaShell(beginning)
      holder.shell = theShell
      // The recovered chain may have installed views: its peers are their members.
      transport.manager.setPeers(peersOfViews(installedViews(theShell.state())))
      return outcome
    })
    yield* Effect.forkScoped(
      startup.pipe(
        Effect.tap(() => runShell),
        Effect.flatMap((outcome) => Deferred.succeed(running, outcome)),
        Effect.catchAll((e) => Deferred.fail(fatal, e))
      )
    )

    const api = yield* startApiServer(
      {
        chainId: genesis.chainId,
        replica,
        mode,
        limits: genesis.limits,
        crypto: signatures.crypto(crypto),
        verifyTransaction: (tx) => signatures.verifyTransaction(crypto, genesis.chainId, tx),
        view: () => theShell.state().config.view,
        views: () => installedViews(theShell.state()),
        quorum: () => theShell.state().config.quorum,
        chain,
        status: () => {
          const s = theShell.state()
          return {
            regency: s.regency,
            leader: leaderOf(s.config, s.regency),
            lastDecidedCid: s.lastDecidedCid,
            pendingTransactions: s.pending.size,
            connectedPeers: transport.manager.connectedPeers()
          }
        },
        submit: (tx, toAll) => {
          if (toAll === true) sentToAll.add(tx)
          return transport.submit(tx)
        },
        metrics
      },
      config.http
    ).pipe(Effect.mapError((e) => fieldError(config, "http", `cannot serve HTTP on ${config.http.host}:${config.http.port}: ${e.detail}`)))

    const host = config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host
    return {
      replica,
      chainId: genesis.chainId,
      mode,
      genesis,
      config: replicaConfig,
      p2pAddress: transport.manager.address,
      httpUrl: `http://${host}:${api.port}`,
      get shell() {
        return theShell
      },
      chain,
      get restarted() {
        return beginning.summary
      },
      transport,
      metrics,
      api,
      transfer,
      running: Deferred.await(running),
      fatal: Deferred.await(fatal)
    }
  })

/** Runs a replica until interrupted, announcing its endpoints on standard output. */
export const runNode = (config: NodeConfig, options: NodeOptions = {}): Effect.Effect<never, NodeError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const node = yield* startNode(config, options)
      const r = node.restarted
      if (r !== undefined)
        yield* Console.log(
          `replica ${node.replica} restarted from ${config.dataDir}: ${r.blocks} blocks replayed` +
            (node.mode === "strong" ? ` (${r.certifiedHeight} certified)` : "") +
            (r.checkpoint > 0n ? `, state from the snapshot of checkpoint ${r.checkpoint}` : "") +
            `, regency ${r.regency}` +
            (r.cutFrom === undefined ? "" : `, store cut from height ${r.cutFrom} (to be fetched from peers)`)
        )
      yield* Console.log(
        `replica ${node.replica} of ${node.chainId} (${node.mode} mode): channels ${node.p2pAddress}, API ${node.httpUrl}`
      )
      yield* Effect.forkScoped(
        Effect.flatMap(node.running, (outcome) => {
          const t = node.transfer.status()
          if (outcome?._tag === "Installed" && t.phase === "Installed")
            return Console.log(
              `replica ${node.replica} recovered by state transfer: snapshot of checkpoint ${t.snapshotHeight} from replica ${t.snapshotFrom}, ` +
                `${t.blocksStored} blocks stored, head ${t.targetHeight}`
            )
          if (t.phase === "Failed") return Console.log(`replica ${node.replica}: state transfer failed (${t.failure ?? "unknown"}); catching up instance by instance`)
          return Effect.void
        })
      )
      return yield* node.fatal
    })
  ).pipe(
    Effect.onInterrupt(() => Console.log("replica stopped")),
    // Reconnection attempts and closes by the network are routine; warnings (peer violations) show.
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
