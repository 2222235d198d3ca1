/**
 * One replica process: genesis and keys from the configuration, the replica shell over the TCP
 * transport, the replica clock, the Verifier, the coin application and the node's ledger (with
 * the BlockStore in weak and strong mode), the HTTP API and the Prometheus metrics.
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
import { Console, Deferred, Effect, Either, Layer, LogLevel, Logger, Option, Queue, Schema } from "effect"
import type { Scope } from "effect"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import type { CoinState } from "../app/coin.ts"
import { coinApp } from "../app/coin.ts"
import { bytesEqual } from "../chain/bytes.ts"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"
import type { Block, Genesis, Member, PersistenceMode } from "../chain/types.ts"
import type { ReplicaConfig } from "../core/config.ts"
import { leaderOf, makeConfig } from "../core/config.ts"
import type { NetLimits } from "../net/limits.ts"
import type { NetLog } from "../net/metrics.ts"
import type { ListenFailed, BadAddress } from "../net/errors.ts"
import type { InvalidNetLimits } from "../net/limits.ts"
import { parseAddress } from "../net/peer-manager.ts"
import type { TcpTransport } from "../net/tcp-transport.ts"
import { makeTcpTransport, peersOfView } from "../net/tcp-transport.ts"
import type { Shell } from "../replica/shell.ts"
import { makeShell } from "../replica/shell.ts"
import type { DiskError } from "../services/blockstore.ts"
import { openLevelBlockStore } from "../services/blockstore.ts"
import { clockLayer } from "../services/clock.ts"
import { nodeCrypto } from "../services/crypto.ts"
import type { KeyFile } from "../services/keystore.ts"
import { readKeyFile } from "../services/keystore.ts"
import { TraceSink, traceLine } from "../services/trace.ts"
import { Transport } from "../services/transport.ts"
import { verifierLayer } from "../services/verifier.ts"
import type { ApiServer } from "../api/server.ts"
import { startApiServer } from "../api/server.ts"
import type { NodeConfig } from "./config.ts"
import { NodeConfigError } from "./config.ts"
import { blockWriter, Ledger } from "./ledger.ts"
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
  readonly ledger: Ledger<CoinState>
  readonly transport: TcpTransport
  readonly metrics: NodeMetrics
  readonly api: ApiServer
  /** Fails when the node can no longer keep its promises (its block store failed). */
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
      signer: { sign: (m) => crypto.sign(viewKey.secretKey, m) }
    })

    const store =
      mode === "memory"
        ? undefined
        : yield* openLevelBlockStore(config.dataDir, crypto).pipe(
            Effect.mapError((e: DiskError) => new NodeStartError({ reason: `data dir ${config.dataDir}: ${e.message}` }))
          )
    if (store !== undefined) {
      const head = yield* store.head().pipe(Effect.mapError((e) => new NodeStartError({ reason: `data dir ${config.dataDir}: ${e.message}` })))
      if (Option.isSome(head))
        return yield* new NodeStartError({
          reason: `data dir ${config.dataDir} already holds ${head.value.height} blocks; this node starts from genesis, so give it an empty data dir (restart from disk comes with the durable commit pipeline)`
        })
    }
    const ledger = new Ledger(crypto, genesis, coinApp, store)

    const transport = yield* makeTcpTransport({
      chainId: genesis.chainId,
      replica,
      identitySecret: identity.secretKey,
      listen: address,
      peers: peersOfView(genesis.view),
      limits: { ...options.netLimits, frameBytesMax: genesis.limits.frameBytesMax },
      ...(options.netLog === undefined ? {} : { log: options.netLog })
    }).pipe(Effect.mapError((e: ListenFailed | InvalidNetLimits | BadAddress) => new NodeStartError({ reason: `replica channels: ${e.message}` })))

    const blocks = yield* Effect.acquireRelease(Queue.unbounded<Block>(), Queue.shutdown)
    // The shell calls onDecide after it has logged the instance; the handler reads it from there.
    const holder: { shell?: Shell } = {}
    const onDecide = (cid: bigint) => {
      const decided = holder.shell?.decided()
      const instance = decided?.[decided.length - 1]
      if (instance === undefined || instance.proof.cid !== cid) return
      const block = ledger.apply(instance)
      if (store !== undefined) blocks.unsafeOffer(block)
    }
    const theShell = makeShell(replicaConfig, { onDecide })
    holder.shell = theShell

    const metrics = new NodeMetrics({
      height: () => ledger.height(),
      durableHeight: () => ledger.durableHeight(),
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

    const layers = Layer.mergeAll(
      Layer.succeed(Transport, transport.transport),
      clockLayer(config.tickMs),
      nodeTraceSink(metrics, config.trace),
      verifierLayer({ chainId: genesis.chainId, view: genesis.view, quorum: replicaConfig.quorum, limits: genesis.limits, crypto })
    )
    yield* Effect.forkScoped(Effect.provide(theShell.run, layers))
    const fatal = yield* Deferred.make<never, NodeStartError>()
    if (store !== undefined)
      yield* Effect.forkScoped(
        blockWriter(ledger, store, blocks, { onSynced: (_h, ms, n) => metrics.observeSync(ms, n) }).pipe(
          Effect.catchAll((e) => Deferred.fail(fatal, new NodeStartError({ reason: `block store ${config.dataDir}: ${e.message}` })))
        )
      )

    const api = yield* startApiServer(
      {
        chainId: genesis.chainId,
        replica,
        mode,
        limits: genesis.limits,
        crypto,
        view: () => genesis.view,
        quorum: replicaConfig.quorum,
        chain: ledger,
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
      ledger,
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
