/**
 * The client library (PROTOCOL.md section 7): signs a transaction with the client's key, sends it
 * to every member of the view through a ClientTransport, and waits until the persistence mode's
 * acceptance rule (./acceptance.ts) holds. Each attempt waits `timeoutMs`; after a timeout the
 * same transaction (same seq) goes to every member again, since replicas answer a transaction
 * they already decided with its stored result. After `attempts` attempts the submission fails
 * with a ClientTimeout that says how far it got; it never hangs.
 *
 * Sequence numbers: each client key gets increasing seq values from one counter, so concurrent
 * submissions never share one. (client, seq) must never repeat across runs either (a replica would
 * answer a repeated one with the old result), so by default the first seq is the clock in
 * milliseconds times 2^20: a restarted client starts above every seq it used before unless it
 * submitted more than 2^20 transactions per millisecond. Callers that keep their own counter pass
 * `firstSeq`.
 *
 * Views (./views.ts): the client trusts `view` (genesis's, or a later view installed by block
 * `viewInstalledAt`) and follows the views after it only through certified reconfiguration
 * blocks. A reply that names a view newer than every view it knows makes it ask the transport for
 * those blocks (`viewChanges`), learn what checks, and then offer the reply again; `syncViews`
 * does the same on demand. From then on it sends to the new view's members, counts their
 * replies, and checks each certified reply against the view that certifies its height, so a
 * certificate by a view superseded at that height (the keys of members who left) is refused.
 *
 *   const client = yield* makeClient({ chainId, view, mode: "strong", key, crypto }, transport)
 *   const accepted = yield* client.submit(op)   // Accepted, or ClientTimeout
 */
import { Clock, Effect, Option, Queue, Ref, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { txSigningBytes } from "../chain/encoding.ts"
import { txHash } from "../chain/hash.ts"
import type { ClientReply } from "../chain/reply.ts"
import type { PersistenceMode, Transaction, ViewRecord } from "../chain/types.ts"
import { acceptanceRule, emptyCounters, ReplyCollector } from "./acceptance.ts"
import type { Accepted, ReplyCounters } from "./acceptance.ts"
import type { ClientTransport, ReplyFrom } from "./transport.ts"
import { ClientViews } from "./views.ts"
import type { ClientViewError } from "./views.ts"

/** ChainCrypto with signing (the Crypto service's implementations satisfy it). */
export interface ClientCrypto extends ChainCrypto {
  /** The Ed25519 signature of `message` by the 32-byte secret seed. */
  readonly sign: (secret32: Uint8Array, message: Uint8Array) => Uint8Array
  /** `sign` bound to one seed, prepared once (the Crypto service has it); used when present. */
  readonly signer?: (secret32: Uint8Array) => (message: Uint8Array) => Uint8Array
}

export interface ClientKey {
  readonly publicKey: Uint8Array
  readonly secret: Uint8Array
}

export interface ClientConfig {
  readonly chainId: string
  /** The view the client trusts: its members get the transactions, its keys certify replies. */
  readonly view: ViewRecord
  /** The height of the block that installed `view` (default 0n: genesis's view). */
  readonly viewInstalledAt?: bigint
  readonly mode: PersistenceMode
  readonly key: ClientKey
  readonly crypto: ClientCrypto
  /** How long one attempt waits for the acceptance rule, in milliseconds. Default 2000. */
  readonly timeoutMs?: number
  /** Attempts (sends to every member) before giving up; at least 1. Default 3. */
  readonly attempts?: number
  /** The first seq to use (default: clock milliseconds times 2^20). */
  readonly firstSeq?: bigint
  /**
   * Accept a certified reply only at a height up to which f + 1 members of the newest known view
   * vouched that every view change was listed (./views.ts `horizon`), asking the members first
   * when it is higher: a certificate of a superseded view is refused even by a client that was
   * not told of the change. Costs a request to the members for each reply above the horizon.
   * Default false: the client learns views when a reply names a newer one, or on `syncViews`.
   */
  readonly strictViews?: boolean
}

export const defaultClientTimeoutMs = 2_000
export const defaultClientAttempts = 3
/** Seq values per millisecond of the default first seq. */
const seqPerMs = 1n << 20n
/** Most replies held while the client learns a newer view; later ones are dropped (the client resends). */
const heldRepliesMax = 4096

/** No answer satisfied the acceptance rule within every attempt. */
export class ClientTimeout extends Schema.TaggedError<ClientTimeout>()("ClientTimeout", {
  /** The client key, hex. */
  client: Schema.String,
  seq: Schema.BigIntFromSelf,
  attempts: Schema.Number,
  waitedMs: Schema.Number,
  /** Distinct members whose replies were counted. */
  members: Schema.Number,
  /** The most replies that agreed on one answer, and how many the rule needs. */
  bestMatching: Schema.Number,
  needed: Schema.Number,
  /** Replies ignored as duplicates, conflicts, bad certificates, non-members. */
  ignored: Schema.Number
}) {
  override get message(): string {
    return (
      `transaction seq ${this.seq} of client ${this.client.slice(0, 16)}: no accepted reply after ${this.attempts} attempts ` +
      `(${this.waitedMs} ms): ${this.members} members answered, at most ${this.bestMatching} agreed, ${this.needed} needed, ` +
      `${this.ignored} replies ignored`
    )
  }
}

/** What the client counted since it started. */
export interface ClientMetrics {
  submitted: number
  accepted: number
  acceptedByCertificate: number
  timeouts: number
  /** Attempts after the first (resends to every member). */
  retries: number
  /** Sends the transport refused. */
  sendFailures: number
  /** Replies that arrived when no submission was waiting for them (late, or never asked for). */
  unmatched: number
  /** Ignored replies of every submission, summed. */
  replies: ReplyCounters
  /** Times the client asked for reconfiguration blocks. */
  viewSyncs: number
  /** Views learned from certified reconfiguration blocks. */
  viewsLearned: number
  /** Reconfiguration blocks that failed their check (forged, or certified by a superseded view). */
  viewChangesRejected: number
  /** Replies that named a view newer than every view known, held until the client asked for it. */
  repliesAhead: number
  /** Strict mode: certified replies above the heights the members vouched for, ignored. */
  repliesBeyondHorizon: number
}

/** An accepted submission: the transaction sent and the answer the mode's rule accepted. */
export interface Submitted extends Accepted {
  readonly transaction: Transaction
  /** The attempt (1-based) during which the answer was accepted. */
  readonly attempt: number
}

export interface Client {
  readonly publicKey: Uint8Array
  /** Signs `op` with the next seq and submits it. */
  readonly submit: (op: Uint8Array) => Effect.Effect<Submitted, ClientTimeout>
  /** Submits a transaction signed elsewhere (for example, one whose earlier submission timed out). */
  readonly submitTransaction: (tx: Transaction) => Effect.Effect<Submitted, ClientTimeout>
  /** Signs `op` with the next seq, without sending it. */
  readonly sign: (op: Uint8Array) => Effect.Effect<Transaction>
  /**
   * Trusts `view`, installed by the block at `installedAt` (default 0n), instead of the views
   * known so far, for submissions from now on and those waiting. Fails on an invalid record.
   */
  readonly setView: (view: ViewRecord, installedAt?: bigint) => Effect.Effect<void, ClientViewError>
  /** Asks the transport for the reconfiguration blocks after the newest known view and learns what checks; the newest view then. */
  readonly syncViews: Effect.Effect<ViewRecord>
  /** The newest view the client knows. */
  readonly currentView: () => ViewRecord
  /** Ids and installing heights of the views the client knows, the trusted one first. */
  readonly knownViews: () => ReadonlyArray<{ readonly id: bigint; readonly installedAt: bigint }>
  readonly metrics: () => ClientMetrics
}

const addCounters = (into: ReplyCounters, from: ReplyCounters): void => {
  into.duplicates += from.duplicates
  into.conflicting += from.conflicting
  into.nonMembers += from.nonMembers
  into.unsolicited += from.unsolicited
  into.badCertificates += from.badCertificates
  into.mismatching += from.mismatching
}

const ignoredCount = (c: ReplyCounters): number => c.duplicates + c.conflicting + c.nonMembers + c.unsolicited + c.badCertificates

interface Waiting {
  readonly collector: ReplyCollector
  /** The accepted answer, once there is one. */
  accepted: Accepted | undefined
  /** Submissions waiting for it (a resubmission joins the first one's collection). */
  readonly listeners: Set<(accepted: Accepted) => void>
}

/**
 * The accepted answer of `w`, or none after `ms` milliseconds. A timer and a callback, not a race
 * of fibers: a closed-loop client waits once per transaction, and that wait should cost little.
 */
const acceptedWithin = (w: Waiting, ms: number): Effect.Effect<Option.Option<Accepted>> =>
  Effect.async<Option.Option<Accepted>>((resume) => {
    if (w.accepted !== undefined) {
      resume(Effect.succeed(Option.some(w.accepted)))
      return
    }
    const listener = (accepted: Accepted) => {
      clearTimeout(timer)
      w.listeners.delete(listener)
      resume(Effect.succeed(Option.some(accepted)))
    }
    const timer = setTimeout(() => {
      w.listeners.delete(listener)
      resume(Effect.succeed(Option.none()))
    }, ms)
    w.listeners.add(listener)
    return Effect.sync(() => {
      clearTimeout(timer)
      w.listeners.delete(listener)
    })
  })

/**
 * A client for one key over `transport`. It reads the transport's reply stream in a fiber of the
 * surrounding scope, so a transport serves one client.
 */
export const makeClient = (config: ClientConfig, transport: ClientTransport): Effect.Effect<Client, ClientViewError, Scope.Scope> =>
  Effect.gen(function* () {
    const { crypto, key, chainId, mode } = config
    const timeoutMs = config.timeoutMs ?? defaultClientTimeoutMs
    const attempts = Math.max(1, config.attempts ?? defaultClientAttempts)
    const clientHex = toHex(key.publicKey)
    const firstSeq = config.firstSeq ?? BigInt(yield* Clock.currentTimeMillis) * seqPerMs
    const nextSeq = yield* Ref.make(firstSeq)
    let views = yield* ClientViews.start(crypto, chainId, config.view, config.viewInstalledAt ?? 0n)
    const scope = yield* Effect.scope
    const waiting = new Map<bigint, Waiting>()
    const metrics: ClientMetrics = {
      submitted: 0,
      accepted: 0,
      acceptedByCertificate: 0,
      timeouts: 0,
      retries: 0,
      sendFailures: 0,
      unmatched: 0,
      replies: emptyCounters(),
      viewSyncs: 0,
      viewsLearned: 0,
      viewChangesRejected: 0,
      repliesAhead: 0,
      repliesBeyondHorizon: 0
    }
    const strict = config.strictViews === true && transport.viewChanges !== undefined

    const collectorFor = (expected: { readonly client: Uint8Array; readonly seq: bigint; readonly txHash: Uint8Array }) =>
      new ReplyCollector(crypto, views.trusted, acceptanceRule(mode, views.current), expected, (reply, e) => views.check(reply, e))

    /** Every waiting collection and the transport follow the newest view. */
    const followView = (): Effect.Effect<void> =>
      Effect.suspend(() => {
        const rule = acceptanceRule(mode, views.current)
        for (const w of waiting.values()) w.collector.setView(views.trusted, rule)
        return transport.useView?.(views.current) ?? Effect.void
      })

    const syncViews: Effect.Effect<ViewRecord> = Effect.gen(function* () {
      if (transport.viewChanges === undefined) return views.current
      metrics.viewSyncs++
      const answer = yield* transport.viewChanges(views.current.id)
      const learned = views.learn(answer.changes)
      views.noteHeads(answer.heads)
      metrics.viewChangesRejected += learned.rejected.length
      if (learned.views.length > 0) {
        metrics.viewsLearned += learned.views.length
        yield* followView()
      }
      return views.current
    })

    // Replies naming a view newer than every known one wait here while the client asks for the
    // reconfiguration blocks before it (one request at a time); then they are offered again.
    const held: Array<ReplyFrom> = []
    let syncing = false
    const viewOf = (reply: ClientReply): bigint => (reply._tag === "Reply" ? reply.viewId : reply.header.viewId)

    const beyondHorizon = (reply: ClientReply): boolean => strict && reply._tag === "CertifiedReply" && reply.header.height > views.horizon

    const route = (item: ReplyFrom): Effect.Effect<void> => {
      if (transport.viewChanges !== undefined && (views.isAhead(viewOf(item.reply)) || beyondHorizon(item.reply))) {
        metrics.repliesAhead++
        if (held.length < heldRepliesMax) held.push(item)
        if (syncing) return Effect.void
        syncing = true
        return Effect.asVoid(
          Effect.forkIn(
            Effect.gen(function* () {
              // Reset however the sync ends: held replies are offered after the next one.
              yield* syncViews.pipe(Effect.ensuring(Effect.sync(() => (syncing = false))))
              const again = held.splice(0, held.length)
              for (const r of again) yield* offer(r)
            }),
            scope
          )
        )
      }
      return offer(item)
    }

    const offer = ({ from, reply }: ReplyFrom): Effect.Effect<void> => {
      if (beyondHorizon(reply)) {
        metrics.repliesBeyondHorizon++
        return Effect.void
      }
      const seq = reply._tag === "Reply" ? reply.seq : reply.transaction.seq
      const w = waiting.get(seq)
      if (w === undefined) {
        metrics.unmatched++
        return Effect.void
      }
      const offered = w.collector.offer(from, reply)
      if (offered._tag === "Accepted") {
        w.accepted = offered.accepted
        for (const listener of [...w.listeners]) listener(offered.accepted)
      }
      return Effect.void
    }
    // From the queue when the transport offers it, else by chunk: a stream step per reply costs
    // more than routing the reply.
    const replyQueue = transport.replyQueue
    yield* Effect.forkScoped(
      replyQueue !== undefined
        ? Effect.forever(Effect.flatMap(Queue.takeBetween(replyQueue, 1, 1024), (chunk) => Effect.forEach(chunk, route, { discard: true })))
        : Stream.runForEachChunk(transport.replies, (chunk) => Effect.forEach(chunk, route, { discard: true }))
    )

    const signBytes = crypto.signer?.(key.secret) ?? ((message: Uint8Array) => crypto.sign(key.secret, message))
    const sign = (op: Uint8Array): Effect.Effect<Transaction> =>
      Effect.map(
        Ref.getAndUpdate(nextSeq, (s) => s + 1n),
        (seq) => ({ client: key.publicKey, seq, op, signature: signBytes(txSigningBytes(chainId, { client: key.publicKey, seq, op })) })
      )

    const sendToAll = (tx: Transaction): Effect.Effect<void> =>
      transport.sendAll !== undefined
        ? Effect.map(transport.sendAll(views.current.members.map((m) => m.replica), tx), (failures) => void (metrics.sendFailures += failures.length))
        : Effect.forEach(
            views.current.members,
            (m) => Effect.catchAll(transport.send(m.replica, tx), () => Effect.sync(() => void metrics.sendFailures++)),
            { concurrency: "unbounded", discard: true }
          )

    const submitTransaction = (tx: Transaction): Effect.Effect<Submitted, ClientTimeout> =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        // A second submission of a transaction already waiting joins the first one's collection.
        const joined = waiting.get(tx.seq)
        const collector = joined?.collector ?? collectorFor({ client: tx.client, seq: tx.seq, txHash: txHash(crypto, tx) })
        const entry: Waiting = joined ?? { collector, accepted: undefined, listeners: new Set() }
        metrics.submitted++
        const run = Effect.gen(function* () {
          for (let attempt = 1; attempt <= attempts; attempt++) {
            if (attempt > 1) metrics.retries++
            yield* sendToAll(tx)
            const outcome = yield* acceptedWithin(entry, timeoutMs)
            if (Option.isSome(outcome)) {
              metrics.accepted++
              if (outcome.value.via === "certificate") metrics.acceptedByCertificate++
              return { ...outcome.value, transaction: tx, attempt } satisfies Submitted
            }
          }
          metrics.timeouts++
          const now = yield* Clock.currentTimeMillis
          return yield* Effect.fail(
            new ClientTimeout({
              client: clientHex,
              seq: tx.seq,
              attempts,
              waitedMs: now - started,
              members: collector.voters,
              bestMatching: collector.bestMatching,
              needed: acceptanceRule(mode, views.current).matchingReplies,
              ignored: ignoredCount(collector.counters)
            })
          )
        })
        if (joined !== undefined) return yield* run
        waiting.set(tx.seq, entry)
        return yield* Effect.ensuring(
          run,
          Effect.sync(() => {
            waiting.delete(tx.seq)
            addCounters(metrics.replies, collector.counters)
          })
        )
      })

    return {
      publicKey: key.publicKey,
      submit: (op) => Effect.flatMap(sign(op), submitTransaction),
      submitTransaction,
      sign,
      setView: (record, installedAt = 0n) =>
        Effect.flatMap(ClientViews.start(crypto, chainId, record, installedAt), (started) =>
          Effect.suspend(() => {
            views = started
            return followView()
          })
        ),
      syncViews,
      currentView: () => views.current,
      knownViews: () => views.known,
      metrics: () => metrics
    } satisfies Client
  })
