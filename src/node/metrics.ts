/**
 * The Prometheus metrics of one replica (prom-client, one Registry per node so that several
 * nodes can run in one process). Names start with `smartchain_`; times are in seconds.
 *
 * Gauges read the live state when scraped (height, regency, view, leader, peers, how far behind
 * the replica is). Phase latencies, leader-change durations and COMMIT collection times come from
 * the spec trace events the core emits (conformance/TRACE.md): the node's TraceSink passes every
 * event to `observeTrace`, which times the steps of each instance:
 *
 *   propose_to_write   first PROPOSE/WRITE seen for the cid -> this replica's WRITE
 *   write_to_accept    its WRITE -> its ACCEPT (q matching WRITEs collected)
 *   accept_to_decide   its ACCEPT -> Decide (q matching ACCEPTs collected)
 *   total              first event of the cid -> Decide
 *
 * A leader change is timed from the first Stop for a regency to Resume in it; COMMIT collection
 * from the replica's Commit for a height to Certify of that height (strong mode).
 *
 * Snapshot-based state transfer (./transfer.ts) is reported by its host: whether a recovery runs,
 * its target and verified heights (their difference is part of the lag gauge while it runs), the
 * checkpoint whose snapshot was installed, sessions by outcome, answers served and answers
 * rejected by reason.
 *
 * Reconfiguration (./views.ts, ./joiner.ts) is reported by the node's view follower: the view
 * installed (`smartchain_view`), views installed, ROTATEs submitted, view key files erased,
 * whether the replica left, the membership requests of the blocks it wrote by kind and outcome,
 * and, for a replica that joined, its own JOINs by outcome.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import type { TraceEvent } from "../core/io.ts"
import type { TransferStatus } from "./transfer.ts"

/** What the state-transfer host reports (./transfer.ts). */
export interface TransferMetrics {
  readonly status: TransferStatus
  readonly sessions: Readonly<Record<string, number>>
  readonly rejected: Readonly<Record<string, number>>
  readonly served: Readonly<Record<string, number>>
}

/** What the view follower reports (./views.ts `ViewMetrics`, ./joiner.ts `Joined`). */
export interface ReconfigMetrics {
  readonly viewsInstalled: number
  readonly rotations: number
  readonly keysErased: number
  readonly left: boolean
  /** Membership requests in blocks written, by `<kind>/<outcome>`. */
  readonly requests: Readonly<Record<string, number>>
  /** This replica's own JOINs (when it joined in this run), by outcome or `submitted`. */
  readonly joins: Readonly<Record<string, number>>
}

/** What the scrape-time gauges read. */
export interface MetricsSources {
  readonly height: () => bigint
  readonly durableHeight: () => bigint
  readonly regency: () => bigint
  readonly view: () => bigint
  readonly leader: () => number
  readonly lastDecidedCid: () => bigint
  /** The highest cid any member was seen working on. */
  readonly highestSeenCid: () => bigint
  readonly connectedPeers: () => number
  readonly pendingTransactions: () => number
  /** Inputs the Verifier rejected, by reason. */
  readonly verifierRejected: () => Readonly<Record<string, number | undefined>>
  /** Connections closed, by reason (channel layer). */
  readonly connectionsClosed: () => Readonly<Record<string, number>>
  /** Sends refused, by reason (channel layer). */
  readonly sendsRefused: () => Readonly<Record<string, number>>
  readonly payloads: () => { readonly sent: Readonly<Record<string, number>>; readonly received: Readonly<Record<string, number>> }
  readonly payloadsMalformed: () => number
  readonly stateInstancesReceived: () => number
  /** Snapshot-based state transfer; none reported when absent. */
  readonly transfer?: () => TransferMetrics
  /** Reconfiguration; zeros when absent. */
  readonly reconfig?: () => ReconfigMetrics
}

const noReconfig: ReconfigMetrics = { viewsInstalled: 0, rotations: 0, keysErased: 0, left: false, requests: {}, joins: {} }

const noTransfer: TransferMetrics = {
  status: { phase: "Idle", snapshotHeight: 0n, snapshotFrom: undefined, blocksStored: 0, targetHeight: 0n, verifiedHeight: 0n, failure: undefined },
  sessions: {},
  rejected: {},
  served: {}
}

const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/** Instances, regencies and heights tracked at once; older entries are dropped. */
const trackedMax = 256

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined)

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly phase: Histogram<"phase">
  private readonly batchSize: Histogram
  private readonly leaderChangeSeconds: Histogram
  private readonly leaderChanges: Counter
  private readonly commitCollection: Histogram
  private readonly diskSync: Histogram
  private readonly syncBatch: Histogram
  private readonly apiRejected: Counter<"reason">
  private readonly apiRequests: Counter<"route">
  private readonly decidedTx: Counter
  private readonly instances = new Map<number, { first: number; write?: number; accept?: number }>()
  private readonly stops = new Map<number, number>()
  private readonly commits = new Map<number, number>()

  constructor(given: MetricsSources) {
    const sources = { ...given, transfer: given.transfer ?? (() => noTransfer), reconfig: given.reconfig ?? (() => noReconfig) }
    const registers = [this.registry]
    const gauge = (name: string, help: string, read: () => number | bigint) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(Number(read()))
        }
      })
    gauge("smartchain_height", "Height of the last block executed.", sources.height)
    gauge("smartchain_durable_height", "Height of the last block synced to disk (0 in memory mode).", sources.durableHeight)
    gauge("smartchain_regency", "The installed regency.", sources.regency)
    gauge("smartchain_view", "The current view id.", sources.view)
    gauge("smartchain_leader", "The replica id of the current leader.", sources.leader)
    gauge("smartchain_last_decided_cid", "The last decided consensus instance.", sources.lastDecidedCid)
    gauge("smartchain_connected_peers", "Members with an open authenticated channel.", sources.connectedPeers)
    gauge("smartchain_pending_transactions", "Client transactions waiting to be ordered.", sources.pendingTransactions)
    gauge(
      "smartchain_state_transfer_lag_instances",
      "Instances between this replica's last decision and the highest one a member was seen working on (state-transfer progress).",
      () => {
        const lag = sources.highestSeenCid() - sources.lastDecidedCid() - 1n
        const t = sources.transfer().status
        const fetching = t.phase === "Running" ? t.targetHeight - t.verifiedHeight : 0n
        return lag > fetching ? lag : fetching > 0n ? fetching : 0n
      }
    )
    gauge("smartchain_state_transfer_active", "1 while a snapshot-based state transfer runs, else 0.", () => (sources.transfer().status.phase === "Running" ? 1 : 0))
    gauge("smartchain_state_transfer_target_height", "Head height the last snapshot-based state transfer aimed for.", () => sources.transfer().status.targetHeight)
    gauge("smartchain_state_transfer_verified_height", "Height up to which the last snapshot-based state transfer verified blocks.", () => sources.transfer().status.verifiedHeight)
    gauge("smartchain_state_transfer_snapshot_height", "Checkpoint whose snapshot state transfer installed (0: none).", () => sources.transfer().status.snapshotHeight)
    new Counter({
      name: "smartchain_state_transfer_sessions_total",
      help: "Snapshot-based state transfers ended, by outcome (Installed, Nothing: no checkpoint above the local chain, Failed).",
      labelNames: ["outcome"],
      registers,
      collect() {
        this.reset()
        for (const [outcome, n] of Object.entries(sources.transfer().sessions)) this.inc({ outcome }, n)
      }
    })
    new Counter({
      name: "smartchain_state_transfer_served_total",
      help: "State-transfer answers sent to peers, by kind.",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset()
        for (const [kind, n] of Object.entries(sources.transfer().served)) this.inc({ kind }, n)
      }
    })
    new Counter({
      name: "smartchain_state_transfer_instances_total",
      help: "Decided instances received by state transfer.",
      registers,
      collect() {
        this.reset()
        this.inc(sources.stateInstancesReceived())
      }
    })
    gauge("smartchain_view_left", "1 once this replica left the membership (a view without it was installed), else 0.", () => (sources.reconfig().left ? 1 : 0))
    const total = (name: string, help: string, read: (m: ReconfigMetrics) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read(sources.reconfig()))
        }
      })
    total("smartchain_views_installed_total", "Views installed by this replica's chain since it started.", (m) => m.viewsInstalled)
    total("smartchain_view_rotations_total", "ROTATE transactions submitted (fresh view keys made for a next view).", (m) => m.rotations)
    total("smartchain_view_keys_erased_total", "View key files erased.", (m) => m.keysErased)
    new Counter({
      name: "smartchain_membership_requests_total",
      help: "Membership requests (join, leave, remove, rotate) in the blocks this replica wrote, by kind and outcome (ok, or the refusal's reason).",
      labelNames: ["kind", "outcome"],
      registers,
      collect() {
        this.reset()
        for (const [key, n] of Object.entries(sources.reconfig().requests)) {
          const [kind = "", outcome = ""] = key.split("/")
          this.inc({ kind, outcome }, n)
        }
      }
    })
    new Counter({
      name: "smartchain_join_requests_total",
      help: "This replica's own JOINs while it joined: submitted, and results by outcome (ok, or the refusal's reason).",
      labelNames: ["outcome"],
      registers,
      collect() {
        this.reset()
        for (const [outcome, n] of Object.entries(sources.reconfig().joins)) this.inc({ outcome }, n)
      }
    })
    new Counter({
      name: "smartchain_rejected_total",
      help: "Messages and connections rejected, by where and why (verifier: inputs dropped; net: connections closed; api: bad requests).",
      labelNames: ["source", "reason"],
      registers,
      collect() {
        this.reset()
        for (const [reason, n] of Object.entries(sources.verifierRejected())) if (n !== undefined) this.inc({ source: "verifier", reason }, n)
        for (const [reason, n] of Object.entries(sources.connectionsClosed())) this.inc({ source: "net", reason }, n)
        this.inc({ source: "net", reason: "PayloadMalformed" }, sources.payloadsMalformed())
        for (const [reason, n] of Object.entries(sources.transfer().rejected)) this.inc({ source: "transfer", reason }, n)
      }
    })
    new Counter({
      name: "smartchain_sends_refused_total",
      help: "Sends refused by the channel layer, by reason.",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset()
        for (const [reason, n] of Object.entries(sources.sendsRefused())) this.inc({ reason }, n)
      }
    })
    new Counter({
      name: "smartchain_payloads_total",
      help: "Payloads exchanged with peers, by direction and kind.",
      labelNames: ["direction", "kind"],
      registers,
      collect() {
        this.reset()
        const p = sources.payloads()
        for (const [kind, n] of Object.entries(p.sent)) this.inc({ direction: "sent", kind }, n)
        for (const [kind, n] of Object.entries(p.received)) this.inc({ direction: "received", kind }, n)
      }
    })
    this.phase = new Histogram({
      name: "smartchain_phase_seconds",
      help: "Time spent in each phase of a consensus instance, as this replica saw it.",
      labelNames: ["phase"],
      buckets: latencyBuckets,
      registers
    })
    this.batchSize = new Histogram({ name: "smartchain_batch_size", help: "Transactions per decided batch.", buckets: batchBuckets, registers })
    this.leaderChanges = new Counter({ name: "smartchain_leader_changes_total", help: "Regencies installed after the first.", registers })
    this.leaderChangeSeconds = new Histogram({
      name: "smartchain_leader_change_seconds",
      help: "Synchronization phase: from the first STOP for a regency to resuming in it.",
      buckets: latencyBuckets,
      registers
    })
    this.commitCollection = new Histogram({
      name: "smartchain_commit_collection_seconds",
      help: "Strong mode: from this replica's COMMIT for a block to the block's certificate (q COMMITs).",
      buckets: latencyBuckets,
      registers
    })
    this.diskSync = new Histogram({ name: "smartchain_disk_sync_seconds", help: "Duration of each block-store sync.", buckets: latencyBuckets, registers })
    this.syncBatch = new Histogram({
      name: "smartchain_blocks_per_sync",
      help: "Blocks made durable by one sync that made any (group commit).",
      buckets: batchBuckets,
      registers
    })
    this.apiRejected = new Counter({ name: "smartchain_api_rejected_total", help: "HTTP requests refused, by reason.", labelNames: ["reason"], registers })
    this.apiRequests = new Counter({ name: "smartchain_api_requests_total", help: "HTTP requests, by route.", labelNames: ["route"], registers })
    this.decidedTx = new Counter({ name: "smartchain_decided_transactions_total", help: "Transactions in decided batches.", registers })
  }

  /** Times the protocol's steps from one trace event, at `timeMs` (the replica clock). */
  observeTrace(timeMs: number, event: TraceEvent): void {
    const cid = num(event["cid"])
    switch (event.action) {
      case "Propose":
      case "Write":
      case "Accept": {
        if (cid === undefined) return
        let entry = this.instances.get(cid)
        if (entry === undefined) {
          entry = { first: timeMs }
          this.instances.set(cid, entry)
          trim(this.instances)
        }
        if (event.action === "Write" && entry.write === undefined) {
          entry.write = timeMs
          this.phase.observe({ phase: "propose_to_write" }, (timeMs - entry.first) / 1000)
        } else if (event.action === "Accept" && entry.accept === undefined) {
          entry.accept = timeMs
          if (entry.write !== undefined) this.phase.observe({ phase: "write_to_accept" }, (timeMs - entry.write) / 1000)
        }
        return
      }
      case "Decide": {
        const txs = num(event["txs"])
        if (txs !== undefined) {
          this.batchSize.observe(txs)
          this.decidedTx.inc(txs)
        }
        if (cid === undefined) return
        const entry = this.instances.get(cid)
        this.instances.delete(cid)
        if (entry === undefined) return
        if (entry.accept !== undefined) this.phase.observe({ phase: "accept_to_decide" }, (timeMs - entry.accept) / 1000)
        this.phase.observe({ phase: "total" }, (timeMs - entry.first) / 1000)
        return
      }
      case "Stop": {
        const regency = num(event["regency"])
        if (regency !== undefined && !this.stops.has(regency)) {
          this.stops.set(regency, timeMs)
          trim(this.stops)
        }
        return
      }
      case "StopData":
        this.leaderChanges.inc()
        return
      case "Resume": {
        const regency = num(event["regency"])
        const since = regency === undefined ? undefined : this.stops.get(regency)
        if (regency !== undefined && since !== undefined) {
          this.stops.delete(regency)
          this.leaderChangeSeconds.observe((timeMs - since) / 1000)
        }
        return
      }
      case "Commit": {
        const height = num(event["height"])
        if (height !== undefined && !this.commits.has(height)) {
          this.commits.set(height, timeMs)
          trim(this.commits)
        }
        return
      }
      case "Certify": {
        const height = num(event["height"])
        const since = height === undefined ? undefined : this.commits.get(height)
        if (height !== undefined && since !== undefined) {
          this.commits.delete(height)
          this.commitCollection.observe((timeMs - since) / 1000)
        }
        return
      }
      default:
        return
    }
  }

  /**
   * One block-store sync that took `durationMs` and made `blocks` blocks durable (syncs of
   * certificates and consensus records alone are timed, but not counted as block batches).
   */
  observeSync(durationMs: number, blocks: number): void {
    this.diskSync.observe(durationMs / 1000)
    if (blocks > 0) this.syncBatch.observe(blocks)
  }

  countRequest(route: string): void {
    this.apiRequests.inc({ route })
  }

  countApiRejected(reason: string): void {
    this.apiRejected.inc({ reason })
  }

  /** The exposition text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}

const trim = <V>(m: Map<number, V>): void => {
  while (m.size > trackedMax) {
    const oldest = m.keys().next()
    if (oldest.done === true) return
    m.delete(oldest.value)
  }
}
