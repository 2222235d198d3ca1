/**
 * A replica outside genesis's view joins a running network (PROTOCOL.md section 6): "a joiner
 * catches up by state transfer before it votes".
 *
 * Until a verified block installed a view that holds its identity key, the joining node:
 *
 * 1. asks for the chain's current view (GET /view of a member), makes a fresh view key for the
 *    next view (stored, 0600 and synced, before it is announced: ./views.ts `NodeViewKeys.make`)
 *    and submits JOIN signed by its identity key to every member it was given (POST /tx); it asks
 *    again, with a key for the then next view, when a view is installed without it;
 * 2. fetches the blocks after its verified head, with their certificates (GET /blocks/:h
 *    ?encoding=binary), verifies each with `ChainVerifier` from genesis (hash links, decision
 *    proofs of the right view, view records certified by the view before, fresh keys), checks each
 *    certificate against the view that certifies its height, and stores what passed in its block
 *    store (synced). A block that fails is dropped and fetched again from the next member.
 *
 * It is done once a stored, verified block `hb` installed a view W with it as a member, it holds
 * its key for W, and (strong mode) it holds hb's certificate. The node then starts its core in W
 * from the store, as a restart does, and fetches what follows from its peers by the core's state
 * transfer. A joined node that restarts finds that view in its store and starts at once.
 */
import { Effect, Either, Option, Schema } from "effect"
import { bytesEqual, fromHex, toHex } from "../chain/bytes.ts"
import { decodeBlock, decodeCertificate } from "../chain/encoding.ts"
import { checkHeaderCertificate, trustedView } from "../chain/reply.ts"
import type { Block, Certificate, Genesis, Member, Transaction, ViewRecord } from "../chain/types.ts"
import { ChainVerifier } from "../chain/verify.ts"
import { transactionJson } from "../api/json.ts"
import type { BlockStoreApi } from "../services/blockstore.ts"
import { openLevelBlockStore } from "../services/blockstore.ts"
import type { CryptoImpl } from "../services/crypto.ts"
import type { KeyFile } from "../services/keystore.ts"
import type { NodeViewKeys } from "./views.ts"
import { eraseViewKeys } from "../services/view-keys.ts"
import { describeReconfigResult, membershipTransaction, reconfigOutcome } from "./views.ts"

export class JoinError extends Schema.TaggedError<JoinError>()("JoinError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export interface JoinOptions {
  readonly genesis: Genesis
  readonly identity: KeyFile
  readonly keys: NodeViewKeys
  readonly dataDir: string
  /** API URLs of members to submit JOIN to and fetch blocks from. */
  readonly from: ReadonlyArray<string>
  /** The joiner's channel address (host:port), carried by JOIN into the view record. */
  readonly address: string
  readonly crypto: CryptoImpl
  /** Pause between fetch rounds that brought nothing new (default 200 ms). */
  readonly pollMs?: number
  /** Give up after this long (default: never). */
  readonly timeoutMs?: number
  readonly log: (line: string) => Effect.Effect<void>
}

export interface Joined {
  /** The view the joiner is a member of, installed by block `installedAt`. */
  readonly view: ViewRecord
  readonly member: Member
  readonly installedAt: bigint
  /** Blocks fetched and verified in this run. */
  readonly fetched: number
  /** Blocks or certificates refused (failed verification). */
  readonly refused: number
  /**
   * The JOINs of this run: `submitted`, and each result learned by its outcome (`ok` or the
   * refusal's reason, as ./views.ts `reconfigOutcome` names it). Empty when a joined replica
   * restarted and found its view in its store.
   */
  readonly joins: Readonly<Record<string, number>>
}

/** Blocks fetched per request round. */
const fetchBatch = 32

const getJson = (url: string): Effect.Effect<unknown> =>
  Effect.tryPromise({
    try: async () => {
      const r = await fetch(url, { signal: AbortSignal.timeout(5_000) })
      return r.status === 200 ? ((await r.json()) as unknown) : undefined
    },
    catch: () => undefined
  }).pipe(Effect.orElseSucceed(() => undefined))

const RawBlock = Schema.Struct({ block: Schema.String, certificate: Schema.NullOr(Schema.String) })

/** Block `height` and its certificate from `base`, decoded (not verified); undefined when not served. */
const fetchBlock = (base: string, height: bigint) =>
  Effect.map(getJson(`${base}/blocks/${height}?encoding=binary`), (json) => {
    const raw = Schema.decodeUnknownEither(RawBlock)(json)
    if (Either.isLeft(raw)) return undefined
    const blockBytes = fromHex(raw.right.block)
    const block = blockBytes === undefined ? undefined : decodeBlock(blockBytes)
    if (block === undefined || Either.isLeft(block)) return undefined
    const certBytes = raw.right.certificate === null ? undefined : fromHex(raw.right.certificate)
    const cert = certBytes === undefined ? undefined : decodeCertificate(certBytes)
    return { block: block.right, certificate: cert !== undefined && Either.isRight(cert) ? cert.right : undefined }
  })

const ViewId = Schema.Struct({ id: Schema.String })
const TxResult = Schema.Struct({ height: Schema.String, result: Schema.String })

/** q valid COMMITs of `view` on `block`'s header (which must name `view`). */
const certifies = (crypto: CryptoImpl, chainId: string, view: ViewRecord, block: Block, c: Certificate): boolean =>
  Either.isRight(checkHeaderCertificate(crypto, trustedView(crypto, chainId, view), block.header, c))

interface Progress {
  verifier: ChainVerifier
  height: bigint
  /** The view that certifies the block after the head. */
  view: ViewRecord
  /** The view that certified each stored block, by height. */
  readonly certifiedBy: Map<bigint, ViewRecord>
  /** The first installed view holding the joiner, and where it was installed. */
  joined: { readonly view: ViewRecord; readonly member: Member; readonly at: bigint } | undefined
  /** Every installed view holding the joiner (a joined replica that restarts may hold only a later one's key). */
  readonly memberOf: Array<{ readonly view: ViewRecord; readonly member: Member; readonly at: bigint }>
  fetched: number
  refused: number
}

const step = (o: JoinOptions, p: Progress, block: Block): boolean => {
  const verified = p.verifier.next(block)
  if (Either.isLeft(verified)) return false
  p.certifiedBy.set(block.header.height, p.view)
  p.height = block.header.height
  if (Option.isSome(block.newView)) {
    p.view = block.newView.value
    const member = p.view.members.find((m) => bytesEqual(m.identityKey, o.identity.publicKey))
    if (member !== undefined) {
      const entry = { view: p.view, member, at: block.header.height }
      if (p.joined === undefined) p.joined = entry
      p.memberOf.push(entry)
    }
  }
  return true
}

/** Fetches, verifies and stores blocks until a view with the joiner is installed (see the header comment). */
export const joinNetwork = (o: JoinOptions): Effect.Effect<Joined, JoinError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const store: BlockStoreApi = yield* openLevelBlockStore(o.dataDir, o.crypto).pipe(
        Effect.mapError((e) => new JoinError({ reason: `data dir ${o.dataDir}: ${e.message}` }))
      )
      const chainId = o.genesis.chainId
      const p: Progress = {
        verifier: ChainVerifier.start(o.crypto, o.genesis),
        height: 0n,
        view: o.genesis.view,
        certifiedBy: new Map(),
        joined: undefined,
        memberOf: [],
        fetched: 0,
        refused: 0
      }
      // What an earlier run stored (a joiner restarted while it caught up, or after it joined).
      for (let h = 1n; ; h++) {
        const stored = yield* Effect.either(store.readBlock(h))
        if (Either.isLeft(stored) || !step(o, p, stored.right)) {
          if (Either.isRight(stored)) yield* Effect.orDie(store.truncateFrom(h))
          break
        }
      }
      const hasCertificate = (h: bigint) => Effect.map(Effect.either(store.readCertificate(h)), Either.isRight)
      // The newest view with this replica whose key it holds (and, strong mode, whose installing
      // block's certificate is stored): the view it starts in.
      const ready = () =>
        Effect.gen(function* () {
          for (let i = p.memberOf.length - 1; i >= 0; i--) {
            const e = p.memberOf[i]!
            if (o.keys.key(e.view.id) === undefined) continue
            if (o.genesis.persistence !== "strong" || (yield* hasCertificate(e.at))) return e
          }
          return undefined
        })
      if (p.height > 0n) yield* o.log(`joining: ${p.height} verified blocks already stored`)

      let askedFor: bigint | undefined
      const joins: Record<string, number> = {}
      const count = (key: string) => void (joins[key] = (joins[key] ?? 0) + 1)
      // The JOIN out, until its result is known.
      let pending: Transaction | undefined
      const started = Date.now()
      let next = 0
      let start = yield* ready()
      while (start === undefined) {
        if (o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs)
          return yield* new JoinError({ reason: `not a member after ${o.timeoutMs} ms (verified up to height ${p.height}, view ${p.view.id})` })
        // JOIN for the chain's current view, once the verified chain reached it (a JOIN for an
        // older view would be refused), unless one is out for it or a view with us is known.
        if (p.joined === undefined) {
          const current = yield* Effect.firstSuccessOf([...o.from.map((u) => Effect.flatMap(getJson(`${u}/view`), (j) => Schema.decodeUnknown(ViewId)(j))), Effect.fail(undefined)]).pipe(
            Effect.map((v) => BigInt(v.id)),
            Effect.orElseSucceed(() => undefined)
          )
          if (current !== undefined && current === p.view.id && current !== askedFor) {
            // A key made for a view that was installed without this replica was never used: it goes.
            const stale = o.keys.held().filter((v) => v <= current)
            if (stale.length > 0) {
              yield* Effect.mapError(eraseViewKeys(o.keys.dir, stale), (e) => new JoinError({ reason: e.message }))
              o.keys.forget(stale)
            }
            const viewKey = yield* Effect.mapError(o.keys.make(current + 1n), (e) => new JoinError({ reason: e.message }))
            const tx = membershipTransaction(o.crypto, chainId, o.identity, current, { kind: "join", address: o.address, viewKey })
            const body = JSON.stringify(transactionJson(tx))
            const taken = yield* Effect.forEach(
              o.from,
              (u) =>
                Effect.tryPromise(async () => {
                  const r = await fetch(`${u}/tx`, { method: "POST", body, signal: AbortSignal.timeout(5_000) })
                  await r.text()
                  return r.status === 200 || r.status === 202
                }).pipe(Effect.orElseSucceed(() => false)),
              { concurrency: "unbounded" }
            )
            if (taken.some((t) => t)) {
              count("submitted")
              askedFor = current
              pending = tx
              yield* o.log(`joining: JOIN for view ${current + 1n} submitted (view key ${toHex(viewKey.publicKey).slice(0, 16)}...)`)
            }
          }
        }
        // A refused JOIN: asked again for a later view (WrongView), else the node cannot join.
        if (pending !== undefined && p.joined === undefined) {
          const tx = pending
          const answer = yield* Effect.firstSuccessOf([
            ...o.from.map((u) => Effect.flatMap(getJson(`${u}/tx/${toHex(tx.client)}/${tx.seq}`), (j) => Schema.decodeUnknown(TxResult)(j, { onExcessProperty: "ignore" }))),
            Effect.fail(undefined)
          ]).pipe(Effect.orElseSucceed(() => undefined))
          const result = answer === undefined ? undefined : fromHex(answer.result)
          if (result !== undefined) {
            pending = undefined
            count(reconfigOutcome(result))
            const text = describeReconfigResult(result)
            yield* o.log(`joining: JOIN ordered at height ${answer!.height}: ${text}`)
            if (text.startsWith("refused: WrongView")) askedFor = undefined
            else if (text !== "ok") {
              // The key announced by a refused JOIN is never used: it goes.
              const unused = o.keys.held()
              yield* Effect.ignore(eraseViewKeys(o.keys.dir, unused))
              o.keys.forget(unused)
              return yield* new JoinError({ reason: `JOIN ${text}` })
            }
          }
        }
        // Blocks after the verified head, from the members in turn.
        const base = o.from[next++ % o.from.length]!
        let progressed = false
        for (let i = 0; i < fetchBatch; i++) {
          const got = yield* fetchBlock(base, p.height + 1n)
          if (got === undefined) break
          const view = p.view
          if (!step(o, p, got.block)) {
            p.refused++
            p.verifier = ChainVerifier.start(o.crypto, o.genesis)
            // Start the verifier again from what is stored (keeps the good prefix).
            const kept = p.height
            p.height = 0n
            p.view = o.genesis.view
            p.joined = undefined
            p.memberOf.length = 0
            p.certifiedBy.clear()
            for (let h = 1n; h <= kept; h++) step(o, p, yield* Effect.orDie(store.readBlock(h)))
            break
          }
          yield* Effect.mapError(store.appendBlock(got.block), (e) => new JoinError({ reason: `data dir ${o.dataDir}: ${e.message}` }))
          if (got.certificate !== undefined) {
            if (certifies(o.crypto, chainId, view, got.block, got.certificate)) yield* Effect.ignore(store.appendCertificate(got.certificate))
            else p.refused++
          }
          p.fetched++
          progressed = true
        }
        // The certificate of the installing block may come later than the block itself.
        const j = p.joined
        if (j !== undefined && o.genesis.persistence === "strong" && !(yield* hasCertificate(j.at))) {
          const got = yield* fetchBlock(base, j.at)
          const by = p.certifiedBy.get(j.at)
          if (got?.certificate !== undefined && by !== undefined && certifies(o.crypto, chainId, by, got.block, got.certificate))
            yield* Effect.ignore(store.appendCertificate(got.certificate))
        }
        yield* Effect.mapError(store.sync(), (e) => new JoinError({ reason: `data dir ${o.dataDir}: ${e.message}` }))
        if (!progressed) yield* Effect.sleep(`${o.pollMs ?? 200} millis`)
        start = yield* ready()
      }
      const j = start
      // A view holding this replica proves a JOIN of this run was accepted, even when its result was not fetched.
      if ((joins["submitted"] ?? 0) > 0 && joins["ok"] === undefined) count("ok")
      yield* o.log(`joined: view ${j.view.id} installed at height ${j.at} holds this replica as replica ${j.member.replica} (${p.fetched} blocks fetched, ${p.refused} refused)`)
      return { view: j.view, member: j.member, installedAt: j.at, fetched: p.fetched, refused: p.refused, joins }
    })
  )
