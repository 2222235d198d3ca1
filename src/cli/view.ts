/**
 * `smartchain view`: the membership of a running network (PROTOCOL.md section 6).
 *
 *   smartchain view show   --url URL                                  the current view, from a replica's API
 *   smartchain view join   --identity KEY --key-dir DIR --address HOST:PORT --url URL ...
 *   smartchain view leave  --identity KEY --url URL ...
 *   smartchain view remove --identity KEY --target ID --url URL ...
 *
 * A request is a transaction signed by the requester's identity key, for the chain's current view
 * (read from the first replica that answers GET /view). JOIN first makes a fresh view key for the
 * next view and stores it in the key directory (`view-<id>.key`, 0600, synced), the file the
 * joining node signs with once the view is installed. The request goes to every --url (POST /tx);
 * the command then waits for its result (GET /tx/...?waitMs) and prints it: `ok`, or the reason
 * the replicas' execution refused it (conformance/RECONFIG.md section 3).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Schema } from "effect"
import { toHex } from "../chain/bytes.ts"
import { ViewRecordJson } from "../chain/genesis-json.ts"
import type { Transaction, ViewRecord } from "../chain/types.ts"
import { transactionJson } from "../api/json.ts"
import { nodeCrypto } from "../services/crypto.ts"
import type { KeyFile } from "../services/keystore.ts"
import { readKeyFile } from "../services/keystore.ts"
import { describeReconfigResult, NodeViewKeys, membershipTransaction } from "../node/views.ts"
import type { MembershipRequest } from "../node/views.ts"
import { failWith } from "./report.ts"

export class ViewCommandError extends Schema.TaggedError<ViewCommandError>()("ViewCommandError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

const fail = (reason: string) => new ViewCommandError({ reason })

const ViewAnswer = Schema.extend(
  Schema.Struct({ id: Schema.String, n: Schema.Number, f: Schema.Number, members: Schema.Array(Schema.Unknown) }),
  Schema.Struct({ quorum: Schema.Number, regency: Schema.String, leader: Schema.Number, installedAt: Schema.optional(Schema.String) })
)

const getJson = (url: string, timeoutMs = 5_000) =>
  Effect.tryPromise({
    try: async () => {
      const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      return { status: r.status, json: (await r.json()) as unknown }
    },
    catch: (e) => fail(`${url}: ${e instanceof Error ? e.message : String(e)}`)
  })

/** The current view of the first replica that answers GET /view, with the record decoded. */
export const currentView = (urls: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const problems: Array<string> = []
    for (const url of urls) {
      const got = yield* Effect.either(getJson(`${url}/view`))
      if (Either.isLeft(got)) {
        problems.push(got.left.reason)
        continue
      }
      const answer = Schema.decodeUnknownEither(ViewAnswer)(got.right.json)
      const record = Schema.decodeUnknownEither(ViewRecordJson)(got.right.json, { onExcessProperty: "ignore" })
      if (Either.isLeft(answer) || Either.isLeft(record)) {
        problems.push(`${url}/view: unexpected answer`)
        continue
      }
      return { url, record: record.right, answer: answer.right }
    }
    return yield* fail(`no replica answered GET /view: ${problems.join("; ")}`)
  })

/** Posts `tx` to every URL; the number that took it. */
const postEverywhere = (urls: ReadonlyArray<string>, tx: Transaction) =>
  Effect.forEach(
    urls,
    (url) =>
      Effect.tryPromise({
        try: async () => {
          const r = await fetch(`${url}/tx`, { method: "POST", body: JSON.stringify(transactionJson(tx)), signal: AbortSignal.timeout(5_000) })
          await r.text()
          return r.status === 200 || r.status === 202
        },
        catch: () => false
      }).pipe(Effect.orElseSucceed(() => false)),
    { concurrency: "unbounded" }
  ).pipe(Effect.map((oks) => oks.filter((ok) => ok).length))

const TxResult = Schema.Struct({ height: Schema.String, result: Schema.String })

/** Waits (up to `waitMs`) for the result of `tx` at the first URL that has it. */
const awaitResult = (urls: ReadonlyArray<string>, tx: Transaction, waitMs: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + waitMs
    while (Date.now() < deadline) {
      for (const url of urls) {
        const got = yield* Effect.either(getJson(`${url}/tx/${toHex(tx.client)}/${tx.seq}?waitMs=1000`, 3_000))
        if (Either.isLeft(got) || got.right.status !== 200) continue
        const r = Schema.decodeUnknownEither(TxResult)(got.right.json, { onExcessProperty: "ignore" })
        if (Either.isRight(r)) return { height: r.right.height, result: new Uint8Array(Buffer.from(r.right.result, "hex")) }
      }
      // Replicas that refuse at once (down, restarting) are asked again after a pause, not in a busy loop.
      yield* Effect.sleep(250)
    }
    return undefined
  })

const readIdentity = (file: string) =>
  readKeyFile(file).pipe(
    Effect.mapError((e) => fail(e.message)),
    Effect.filterOrFail(
      (k) => k.kind === "identity",
      (k) => fail(`${file} holds a ${k.kind} key, expected an identity key`)
    )
  )

/** Submits a membership request and reports its result. */
export const submitMembership = (options: {
  readonly urls: ReadonlyArray<string>
  readonly identity: KeyFile
  readonly request: (view: ViewRecord) => Effect.Effect<MembershipRequest, ViewCommandError>
  readonly waitMs: number
}) =>
  Effect.gen(function* () {
    if (options.urls.length === 0) return yield* fail("give at least one replica API URL with --url")
    const { record } = yield* currentView(options.urls)
    const request = yield* options.request(record)
    const tx = membershipTransaction(nodeCrypto, yield* chainIdOf(options.urls), options.identity, record.id, request)
    const taken = yield* postEverywhere(options.urls, tx)
    if (taken === 0) return yield* fail("no replica took the request")
    const result = yield* awaitResult(options.urls, tx, options.waitMs)
    return { view: record, tx, taken, result }
  })

const StatusChain = Schema.Struct({ chainId: Schema.String })

const chainIdOf = (urls: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    for (const url of urls) {
      const got = yield* Effect.either(getJson(`${url}/status`))
      if (Either.isLeft(got)) continue
      const s = Schema.decodeUnknownEither(StatusChain)(got.right.json, { onExcessProperty: "ignore" })
      if (Either.isRight(s)) return s.right.chainId
    }
    return yield* fail("no replica answered GET /status")
  })

const urlOption = Options.text("url").pipe(Options.withDescription("a replica's API URL, e.g. http://127.0.0.1:7104 (repeatable)"), Options.repeated)
const identityOption = Options.file("identity").pipe(Options.withDescription("the requester's identity key file"))
const waitOption = Options.integer("wait-ms").pipe(Options.withDescription("how long to wait for the request's result"), Options.withDefault(30_000))

const report = (what: string, done: { readonly view: ViewRecord; readonly taken: number; readonly result: { readonly height: string; readonly result: Uint8Array } | undefined }) =>
  Effect.gen(function* () {
    yield* Console.log(`${what} for view ${done.view.id} sent to ${done.taken} replica(s)`)
    if (done.result === undefined) return yield* fail(`no result yet; see GET /view later`)
    const text = describeReconfigResult(done.result.result)
    yield* Console.log(`ordered at height ${done.result.height}: ${text}`)
    if (text !== "ok") return yield* fail(text)
  })

const show = Command.make("show", { url: urlOption }, ({ url }) =>
  Effect.gen(function* () {
    const { url: from, record, answer } = yield* currentView(url)
    yield* Console.log(
      `view ${record.id} (from ${from}): n ${record.n}, f ${record.f}, quorum ${answer.quorum}, installed at height ${answer.installedAt ?? "0"}, regency ${answer.regency}, leader ${answer.leader}`
    )
    for (const m of record.members) yield* Console.log(`  replica ${m.replica}  ${m.address}  identity ${toHex(m.identityKey).slice(0, 16)}...  view key ${toHex(m.viewKey).slice(0, 16)}...`)
  }).pipe(failWith)
).pipe(Command.withDescription("Show the current view (members, n, f, quorum, where it was installed) from a replica's API."))

const join = Command.make(
  "join",
  {
    url: urlOption,
    identity: identityOption,
    keyDir: Options.directory("key-dir").pipe(Options.withDescription("where the new view key is stored (view-<id>.key): the joining node's key directory")),
    address: Options.text("address").pipe(Options.withDescription("host:port of the joining replica's channels")),
    waitMs: waitOption
  },
  (o) =>
    Effect.gen(function* () {
      const identity = yield* readIdentity(o.identity)
      const keys = yield* Effect.mapError(NodeViewKeys.load(o.keyDir, nodeCrypto, undefined), (e) => fail(e.message))
      const done = yield* submitMembership({
        urls: o.url,
        identity,
        waitMs: o.waitMs,
        request: (view) =>
          Effect.map(Effect.mapError(keys.make(view.id + 1n), (e) => fail(e.message)), (viewKey) => ({ kind: "join" as const, address: o.address, viewKey }))
      })
      yield* report("JOIN", done)
    }).pipe(failWith)
).pipe(
  Command.withDescription(
    "Ask to join: makes a fresh view key for the next view in --key-dir and submits JOIN signed by --identity; genesis's admission list decides."
  )
)

const leave = Command.make("leave", { url: urlOption, identity: identityOption, waitMs: waitOption }, (o) =>
  Effect.gen(function* () {
    const identity = yield* readIdentity(o.identity)
    const done = yield* submitMembership({ urls: o.url, identity, waitMs: o.waitMs, request: () => Effect.succeed({ kind: "leave" as const }) })
    yield* report("LEAVE", done)
  }).pipe(failWith)
).pipe(Command.withDescription("Leave with the next view: submits LEAVE signed by the member's --identity key."))

const remove = Command.make(
  "remove",
  {
    url: urlOption,
    identity: identityOption,
    target: Options.integer("target").pipe(Options.withDescription("the replica id to evict")),
    waitMs: waitOption
  },
  (o) =>
    Effect.gen(function* () {
      const identity = yield* readIdentity(o.identity)
      const done = yield* submitMembership({ urls: o.url, identity, waitMs: o.waitMs, request: () => Effect.succeed({ kind: "remove" as const, target: o.target }) })
      yield* report(`REMOVE of replica ${o.target}`, done)
    }).pipe(failWith)
).pipe(Command.withDescription("Ask to evict a member: submits REMOVE signed by a member's --identity key; it takes effect once f + 1 members asked."))

export const viewCommand = Command.make("view").pipe(
  Command.withDescription("The membership of a running network: show the current view, ask to join, leave, or evict a member."),
  Command.withSubcommands([show, join, leave, remove])
)
