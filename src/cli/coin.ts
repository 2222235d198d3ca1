/**
 * `smartchain coin mint|spend|balance`: the coin application (src/app/coin.ts) from the command
 * line, against a running network.
 *
 * The replicas are those of a cluster directory (--dir, as `smartchain cluster` lays it out) or
 * the API URLs given with --url. The command asks each for /status (which replica it is, the
 * chain id and persistence mode) and one of them for /view (the current members and their keys),
 * then submits through the client library (src/client) over the HTTP client transport: the
 * transaction goes to every member and counts as done only when the mode's acceptance rule holds
 * (q matching replies in memory and weak mode, f + 1 or a certified reply in strong mode).
 *
 * The API has no query of the coin state, so `balance` and `spend` rebuild the unspent outputs
 * from the blocks (GET /blocks/:height from 1 to the height) of the replica with the highest
 * chain: every successful MINT or SPEND result names its transaction hash, the op names the
 * outputs and the spent inputs. The cost grows with the chain; an unspent-output query endpoint
 * would make it constant.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option, Schema } from "effect"
import * as path from "node:path"
import { makeHttpClientTransport } from "../api/http-client-transport.ts"
import type { CoinOutput, CoinResult, Outpoint } from "../app/coin.ts"
import { coinLimits, decodeCoinOp, decodeCoinResult, mintOp, spendOp } from "../app/coin.ts"
import { fromHex, toHex } from "../chain/bytes.ts"
import { ViewRecordJson } from "../chain/genesis-json.ts"
import type { PersistenceMode, ReplicaId, ViewRecord } from "../chain/types.ts"
import { acceptanceRule } from "../client/acceptance.ts"
import type { ClientKey, Submitted } from "../client/client.ts"
import { makeClient } from "../client/client.ts"
import { nodeCrypto } from "../services/crypto.ts"
import { readKeyFile } from "../services/keystore.ts"
import { failWith } from "./report.ts"
import { clusterUrls, fetchStatus } from "./status.ts"

export class CoinError extends Schema.TaggedError<CoinError>()("CoinError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

const U64_MAX = 0xffff_ffff_ffff_ffffn

/** A positive amount that fits a u64, from its decimal text. */
export const parseAmount = (text: string): Either.Either<bigint, CoinError> => {
  if (!/^[1-9][0-9]{0,19}$/.test(text.trim()))
    return Either.left(new CoinError({ reason: `--amount must be a whole number from 1 to 2^64-1, got "${text}"` }))
  const v = BigInt(text.trim())
  return v <= U64_MAX ? Either.right(v) : Either.left(new CoinError({ reason: `--amount ${text} exceeds 2^64-1` }))
}

/** A public key given as 64 hex digits. */
export const parsePublicKey = (option: string, text: string): Either.Either<Uint8Array, CoinError> => {
  const t = text.trim().toLowerCase()
  const bytes = /^[0-9a-f]{64}$/.test(t) ? fromHex(t) : undefined
  return bytes === undefined
    ? Either.left(new CoinError({ reason: `${option} must be a public key of 64 hexadecimal digits, got "${text}"` }))
    : Either.right(bytes)
}

/** What the command learned about the network it talks to. */
export interface CoinNetwork {
  readonly chainId: string
  readonly mode: PersistenceMode
  readonly view: ViewRecord
  /** The API URL of each replica that answered. */
  readonly urls: ReadonlyMap<ReplicaId, string>
  /** The replica with the highest chain it serves (durable blocks; executed ones in memory mode), and that height. */
  readonly tallest: { readonly replica: ReplicaId; readonly url: string; readonly height: bigint }
}

const getJson = (url: string): Effect.Effect<unknown, CoinError> =>
  Effect.tryPromise({
    try: async () => {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
      const text = await r.text()
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`)
      return JSON.parse(text) as unknown
    },
    catch: (e) => new CoinError({ reason: `GET ${url}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Finds the replicas that answer among `urls` and reads the current view from one of them. */
export const connect = (urls: ReadonlyArray<string>): Effect.Effect<CoinNetwork, CoinError> =>
  Effect.gen(function* () {
    const statuses = yield* Effect.forEach(urls, (u) => Effect.either(fetchStatus(u)), { concurrency: "unbounded" })
    const answering = statuses.flatMap((s, i) => (Either.isRight(s) ? [{ url: urls[i] as string, status: s.right }] : []))
    const first = answering[0]
    if (first === undefined) {
      const why = statuses.flatMap((s, i) => (Either.isLeft(s) ? [`${urls[i]}: ${s.left.message}`] : []))
      return yield* new CoinError({ reason: `no replica reachable (${why.join("; ") || "no URL given"}); start a network with smartchain cluster` })
    }
    const chains = new Set(answering.map((a) => a.status.chainId))
    if (chains.size > 1) return yield* new CoinError({ reason: `the replicas given serve different chains: ${[...chains].join(", ")}` })
    const mode = first.status.mode
    if (mode !== "memory" && mode !== "weak" && mode !== "strong") return yield* new CoinError({ reason: `unknown persistence mode "${mode}" at ${first.url}` })
    const viewJson = yield* getJson(`${first.url}/view`)
    const view = yield* Effect.mapError(Schema.decodeUnknown(ViewRecordJson)(viewJson), (e) => new CoinError({ reason: `${first.url}/view: ${e.message}` }))
    const byReplica = new Map<ReplicaId, string>()
    for (const a of answering) byReplica.set(a.status.replica, a.url)
    // A replica serves its blocks up to its durable height (its executed height in memory mode).
    const readable = (s: (typeof answering)[number]["status"]) => BigInt(mode === "memory" ? s.height : s.durableHeight)
    let tallest = { replica: first.status.replica, url: first.url, height: readable(first.status) }
    for (const a of answering) if (readable(a.status) > tallest.height) tallest = { replica: a.status.replica, url: a.url, height: readable(a.status) }
    return { chainId: first.status.chainId, mode, view, urls: byReplica, tallest }
  })

/** The API URLs to use: --url values if any, otherwise those of the cluster directory. */
const targetUrls = (dir: string, url: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, CoinError> =>
  url.length > 0 ? Effect.succeed(url.map((u) => u.replace(/\/+$/, ""))) : Effect.mapError(clusterUrls(dir), (e) => new CoinError({ reason: e.message }))

/** An unspent output with its owner. */
export interface Utxo {
  readonly outpoint: Outpoint
  readonly owner: Uint8Array
  readonly amount: bigint
}

const BlockAnswer = Schema.Struct({
  transactions: Schema.Array(Schema.Struct({ op: Schema.String })),
  results: Schema.Array(Schema.String)
})

const outpointKey = (o: Outpoint): string => `${toHex(o.txHash)}:${o.index}`

/**
 * Applies one block's transactions to `utxos`: each successful MINT adds its outputs, each
 * successful SPEND removes its inputs and adds its outputs; failed transactions change nothing.
 */
export const applyBlockToUtxos = (utxos: Map<string, Utxo>, ops: ReadonlyArray<Uint8Array>, results: ReadonlyArray<Uint8Array>): void => {
  for (let i = 0; i < ops.length; i++) {
    const result = decodeCoinResult(results[i] ?? new Uint8Array())
    if (Either.isLeft(result) || result.right._tag === "Failed") continue
    const op = decodeCoinOp(ops[i] as Uint8Array)
    if (Either.isLeft(op)) continue
    if (op.right._tag === "Spend") for (const input of op.right.inputs) utxos.delete(outpointKey(input))
    const txHash = result.right.txHash
    op.right.outputs.forEach((o, index) => utxos.set(outpointKey({ txHash, index }), { outpoint: { txHash, index }, owner: o.owner, amount: o.amount }))
  }
}

/** The unspent outputs of the chain of the tallest replica, rebuilt from its blocks. */
export const scanUtxos = (network: CoinNetwork): Effect.Effect<Map<string, Utxo>, CoinError> =>
  Effect.gen(function* () {
    const { url, height } = network.tallest
    const utxos = new Map<string, Utxo>()
    const heights = Array.from({ length: Number(height) }, (_, i) => BigInt(i + 1))
    const blocks = yield* Effect.forEach(
      heights,
      (h) =>
        Effect.flatMap(getJson(`${url}/blocks/${h}`), (json) =>
          Effect.mapError(Schema.decodeUnknown(BlockAnswer)(json), (e) => new CoinError({ reason: `${url}/blocks/${h}: ${e.message}` }))
        ),
      { concurrency: 8 }
    )
    for (const [i, b] of blocks.entries()) {
      const ops = b.transactions.map((t) => fromHex(t.op))
      const results = b.results.map((r) => fromHex(r))
      if (ops.some((o) => o === undefined) || results.some((r) => r === undefined) || ops.length !== results.length)
        return yield* new CoinError({ reason: `${url}/blocks/${i + 1}: transactions and results are not hex of equal count` })
      applyBlockToUtxos(utxos, ops as Array<Uint8Array>, results as Array<Uint8Array>)
    }
    return utxos
  })

export const utxosOf = (utxos: ReadonlyMap<string, Utxo>, owner: Uint8Array): Array<Utxo> => {
  const hex = toHex(owner)
  return [...utxos.values()].filter((u) => toHex(u.owner) === hex)
}

/**
 * Inputs for a payment of `amount`: the largest outputs first, at most the coin's input limit.
 * Undefined when they do not reach the amount.
 */
export const selectInputs = (owned: ReadonlyArray<Utxo>, amount: bigint): { readonly inputs: Array<Utxo>; readonly total: bigint } | undefined => {
  const sorted = [...owned].sort((a, b) => (a.amount > b.amount ? -1 : a.amount < b.amount ? 1 : 0))
  const inputs: Array<Utxo> = []
  let total = 0n
  for (const u of sorted) {
    if (total >= amount || inputs.length === coinLimits.inputsMax) break
    inputs.push(u)
    total += u.amount
  }
  return total >= amount ? { inputs, total } : undefined
}

/** Signs `op` with `key` and submits it until the mode's acceptance rule holds. */
export const submitOp = (network: CoinNetwork, key: ClientKey, op: Uint8Array): Effect.Effect<{ readonly submitted: Submitted; readonly result: CoinResult }, CoinError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const transport = yield* makeHttpClientTransport({ urls: network.urls, viewId: network.view.id })
      const client = yield* Effect.mapError(
        makeClient({ chainId: network.chainId, view: network.view, mode: network.mode, key, crypto: nodeCrypto, timeoutMs: 5_000, attempts: 3 }, transport),
        (e) => new CoinError({ reason: e.message })
      )
      const submitted = yield* Effect.mapError(client.submit(op), (e) => new CoinError({ reason: e.message }))
      const result = yield* Either.mapLeft(decodeCoinResult(submitted.reply.result), (e) => new CoinError({ reason: `undecodable coin result: ${e.message}` }))
      return { submitted, result }
    })
  )

const ruleText = (network: CoinNetwork): string => {
  const rule = acceptanceRule(network.mode, network.view)
  return `${rule.matchingReplies} matching replies${rule.certifiedReplies ? " or a certified one" : ""} (${network.mode} mode)`
}

const loadKey = (file: string): Effect.Effect<ClientKey, CoinError> =>
  Effect.map(
    Effect.mapError(readKeyFile(file), (e) => new CoinError({ reason: e.message })),
    (k) => ({ publicKey: k.publicKey, secret: k.secretKey })
  )

const describeAccepted = (network: CoinNetwork, s: Submitted): string =>
  `at height ${s.reply.height}, accepted by ${s.via === "certificate" ? "a certified reply" : `${s.voters.length} matching replies`}; the rule is ${ruleText(network)}`

const fromEither = <A>(e: Either.Either<A, CoinError>): Effect.Effect<A, CoinError> => e

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

const target = {
  dir: Options.directory("dir").pipe(Options.withDescription("a cluster directory (as smartchain cluster writes it)"), Options.withDefault("data")),
  url: Options.text("url").pipe(Options.withDescription("a replica's API URL, e.g. http://127.0.0.1:7104 (repeatable; overrides --dir)"), Options.repeated)
}
const amountOption = Options.text("amount").pipe(Options.withDescription("whole number of coins, 1 to 2^64-1"))

export const mint = (o: { readonly dir: string; readonly url: ReadonlyArray<string>; readonly amount: string; readonly to: Option.Option<string>; readonly minter: Option.Option<string> }) =>
  Effect.gen(function* () {
    const amount = yield* fromEither(parseAmount(o.amount))
    const minterFile = Option.getOrElse(o.minter, () => path.join(o.dir, "clients", "minter-0.key"))
    const key = yield* loadKey(minterFile)
    const to = Option.isSome(o.to) ? yield* fromEither(parsePublicKey("--to", o.to.value)) : key.publicKey
    const network = yield* connect(yield* targetUrls(o.dir, o.url))
    const { submitted, result } = yield* submitOp(network, key, mintOp([{ owner: to, amount }]))
    if (result._tag === "Failed") return yield* new CoinError({ reason: `mint refused: ${result.reason}: ${result.text}` })
    yield* Console.log(`minted ${amount} to ${toHex(to)}`)
    yield* Console.log(`  output ${toHex(result.txHash)}:0, ${describeAccepted(network, submitted)}`)
  })

export const spend = (o: { readonly dir: string; readonly url: ReadonlyArray<string>; readonly from: string; readonly to: string; readonly amount: string }) =>
  Effect.gen(function* () {
    const amount = yield* fromEither(parseAmount(o.amount))
    const to = yield* fromEither(parsePublicKey("--to", o.to))
    const key = yield* loadKey(o.from)
    const network = yield* connect(yield* targetUrls(o.dir, o.url))
    const owned = utxosOf(yield* scanUtxos(network), key.publicKey)
    const balance = owned.reduce((s, u) => s + u.amount, 0n)
    const selected = selectInputs(owned, amount)
    if (selected === undefined)
      return yield* new CoinError({
        reason:
          balance >= amount
            ? `insufficient funds in ${coinLimits.inputsMax} inputs: ${toHex(key.publicKey)} holds ${balance} in ${owned.length} outputs, but one transaction spends at most ${coinLimits.inputsMax}`
            : `insufficient funds: ${toHex(key.publicKey)} holds ${balance}, cannot send ${amount}`
      })
    const outputs: Array<CoinOutput> = [{ owner: to, amount }]
    if (selected.total > amount) outputs.push({ owner: key.publicKey, amount: selected.total - amount })
    const { submitted, result } = yield* submitOp(network, key, spendOp(selected.inputs.map((u) => u.outpoint), outputs))
    if (result._tag === "Failed") return yield* new CoinError({ reason: `spend refused: ${result.reason}: ${result.text}` })
    yield* Console.log(`sent ${amount} from ${toHex(key.publicKey)} to ${toHex(to)}${outputs.length > 1 ? ` (change ${selected.total - amount})` : ""}`)
    yield* Console.log(`  transaction ${toHex(result.txHash)}, ${selected.inputs.length} input(s), ${describeAccepted(network, submitted)}`)
  })

export const balance = (o: { readonly dir: string; readonly url: ReadonlyArray<string>; readonly key: Option.Option<string>; readonly keyFile: Option.Option<string> }) =>
  Effect.gen(function* () {
    if (Option.isSome(o.key) === Option.isSome(o.keyFile)) return yield* new CoinError({ reason: "give exactly one of --key PUBKEY or --key-file FILE" })
    const owner = Option.isSome(o.key) ? yield* fromEither(parsePublicKey("--key", o.key.value)) : (yield* loadKey(Option.getOrThrow(o.keyFile))).publicKey
    const network = yield* connect(yield* targetUrls(o.dir, o.url))
    const owned = utxosOf(yield* scanUtxos(network), owner)
    const total = owned.reduce((s, u) => s + u.amount, 0n)
    yield* Console.log(`balance of ${toHex(owner)}: ${total} in ${owned.length} unspent output(s)`)
    yield* Console.log(`  chain height ${network.tallest.height}, read from replica ${network.tallest.replica} (${network.tallest.url})`)
  })

const mintCommand = Command.make(
  "mint",
  {
    ...target,
    amount: amountOption,
    to: Options.text("to").pipe(Options.withDescription("public key (hex) that receives the coins (default: the minter's own key)"), Options.optional),
    minter: Options.file("minter").pipe(Options.withDescription("a minter key file listed in genesis (default: DIR/clients/minter-0.key)"), Options.optional)
  },
  (o) => mint(o).pipe(failWith)
).pipe(Command.withDescription("Create coins: a MINT signed by a genesis minter key, accepted by the persistence mode's reply rule."))

const spendCommand = Command.make(
  "spend",
  {
    ...target,
    from: Options.file("from").pipe(Options.withDescription("the sender's key file (its unspent outputs are the inputs)")),
    to: Options.text("to").pipe(Options.withDescription("public key (hex) of the receiver")),
    amount: amountOption
  },
  (o) => spend(o).pipe(failWith)
).pipe(Command.withDescription("Transfer coins: a SPEND of the sender's unspent outputs to the receiver, with change back to the sender."))

const balanceCommand = Command.make(
  "balance",
  {
    ...target,
    key: Options.text("key").pipe(Options.withDescription("public key (hex) whose balance to show"), Options.optional),
    keyFile: Options.file("key-file").pipe(Options.withDescription("a key file whose public key's balance to show"), Options.optional)
  },
  (o) => balance(o).pipe(failWith)
).pipe(Command.withDescription("Show a key's balance: the sum of its unspent outputs, rebuilt from the blocks of the replica with the highest chain."))

export const coinCommand = Command.make("coin").pipe(
  Command.withDescription("The coin application: mint, spend and balance against a running network."),
  Command.withSubcommands([mintCommand, spendCommand, balanceCommand])
)
