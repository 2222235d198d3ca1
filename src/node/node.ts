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
 * identity key is a member's identity key in the genesis view; the view key is that member's
 * view key; the persistence mode, when given, is the genesis mode.
 */
import { Cause, Console, Deferred, Effect, Either, Exit, Fiber, Layer, LogLevel, Logger, Schema } from "effect"
import type { Scope } from "effect"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import { coinApp } from "../app/coin.ts"
import { bytesEqual } from "../chain/bytes.ts"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"
import { genesisHash, viewHash } from "../chain/hash.ts"
import type { Genesis, Member, PersistenceMode } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import { leaderOf, makeConfig } from "../core/config.ts"
import type { Output } from "../core/io.ts"
import type { ReplicaState } from "../core/state.ts"
import type { NetLimits } from "../net/limits.ts"
import type { NetLog } from "../net/metrics.ts"
import type { ListenFailed, BadAddress } from "../net/errors.ts"
import type { InvalidNetLimits } from "../net/limits.ts"
import { parseAddress } from "../net/peer-manager.ts"
import type { TcpTransport } from "../net/tcp-transport.ts"
import { makeTcpTransport, peersOfView } from "../net/tcp-transport.ts"
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
import { Transport } from "../services/transport.ts"
import { SignatureMemory, verifierLayer } from "../services/verifier.ts"
import type { ApiServer } from "../api/server.ts"
import { startApiServer } from "../api/server.ts"
import { NodeChain } from "./chain.ts"
import type { NodeConfig } from "./config.ts"
import { NodeConfigError } from "./config.ts"
import { NodeMetrics } from "./metrics.ts"

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
}

/** How often the node looks for newly connected peers to ask for what it lacks. */
const catchUpPollMs = 250

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
  readonly shell: Shell
  /** What the API reads: blocks, transactions with released replies, certificates. */
  readonly chain: NodeChain
  /** What the node came back from, when it restarted from its data directory. */
  readonly restarted: RestartSummary | undefined
  readonly transport: TcpTransport
  readonly metrics: NodeMetrics
  readonly api: ApiServer
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
    if (member === undefined)
      return yield* fieldError(config, "identityKey", `${config.identityKey} is not the identity key of any member of view ${genesis.view.id}`)
    const viewKey = yield* readKey(config, "viewKey", config.viewKey, "view")
    if (!bytesEqual(viewKey.publicKey, member.viewKey))
      return yield* fieldError(config, "viewKey", `${config.viewKey} is not replica ${member.replica}'s key for view ${genesis.view.id}`)
    if (config.persistence !== undefined && config.persistence !== genesis.persistence)
      return yield* fieldError(config, "persistence", `the genesis mode is ${genesis.persistence}, the configuration says ${config.persistence}`)
    const listen = config.listen ?? member.address
    const address = yield* Either.mapLeft(parseAddress(listen), () =>
      config.listen === undefined
        ? fieldError(config, "genesis", `replica ${member.replica}'s address "${listen}" in genesis is not host:port; set "listen"`)
        : fieldError(config, "listen", `cannot listen on "${listen}" (expected host:port)`)
    )
    return { genesis, member, identity, viewKey, address }
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
      return {
        write: (timeMs, event) =>
          Effect.sync(() => {
            metrics.observeTrace(timeMs, event)
            if (fd !== undefined) fsSync.writeSync(fd, traceLine({ seq: seq++, timeMs, event }) + "\n")
          }),
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
    const { genesis, member, identity, viewKey, address } = yield* loadIdentity(config)
    const replica = member.replica
    const mode = genesis.persistence
    const crypto = nodeCrypto
    const replicaConfig = makeConfig({
      self: replica,
      chainId: genesis.chainId,
      view: genesis.view,
      limits: genesis.limits,
      crypto,
      signer: { sign: (m) => crypto.sign(viewKey.secretKey, m) },
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
    const beginning = mode === "memory" ? { initial: undefined, outputs: [], durable: undefined, summary: undefined } : yield* comeBack(replicaConfig, store, config.dataDir)

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

    const metrics: NodeMetrics = new NodeMetrics({
      height: () => chain.height(),
      durableHeight: () => chain.durableHeight(),
      regency: () => theShell.state().regency,
      view: () => genesis.view.id,
      leader: () => leaderOf(replicaConfig, theShell.state().regency),
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
      stateInstancesReceived: () => transport.metrics.stateInstancesReceived
    })
    const theShell = makeShell(replicaConfig, {
      store: chain.wrapStore((ms, blocks) => metrics.observeSync(ms, blocks)),
      onReply: (reply) => chain.noteReply(reply),
      ...(beginning.initial === undefined ? {} : { initial: beginning.initial, initialOutputs: beginning.outputs })
    })
    holder.shell = theShell

    // Signatures found valid, shared by the API (which checks a transaction when it arrives) and
    // the Verifier (which then finds it checked).
    const signatures = new SignatureMemory()
    const layers = Layer.mergeAll(
      Layer.succeed(Transport, transport.transport),
      clockLayer(config.tickMs),
      nodeTraceSink(metrics, config.trace),
      verifierLayer({ chainId: genesis.chainId, view: genesis.view, quorum: replicaConfig.quorum, limits: genesis.limits, crypto, memory: signatures })
    )
    const fatal = yield* Deferred.make<never, NodeStartError>()
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
          yield* Effect.sleep(`${catchUpPollMs} millis`)
          const connected = new Set(transport.manager.connectedPeers())
          for (const peer of connected)
            if (!known.has(peer)) yield* transport.transport.send(peer, { _tag: "StateRequest", fromCid: theShell.state().instance.cid })
          known = connected
        }
      })
    )

    const api = yield* startApiServer(
      {
        chainId: genesis.chainId,
        replica,
        mode,
        limits: genesis.limits,
        crypto: signatures.crypto(crypto),
        verifyTransaction: (tx) => signatures.verifyTransaction(crypto, genesis.chainId, tx),
        view: () => genesis.view,
        quorum: replicaConfig.quorum,
        chain,
        status: () => {
          const s = theShell.state()
          return {
            regency: s.regency,
            leader: leaderOf(replicaConfig, s.regency),
            lastDecidedCid: s.lastDecidedCid,
            pendingTransactions: s.pending.size,
            connectedPeers: transport.manager.connectedPeers()
          }
        },
        submit: transport.submit,
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
      shell: theShell,
      chain,
      restarted: beginning.summary,
      transport,
      metrics,
      api,
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
      return yield* node.fatal
    })
  ).pipe(
    Effect.onInterrupt(() => Console.log("replica stopped")),
    // Reconnection attempts and closes by the network are routine; warnings (peer violations) show.
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
