/**
 * The UTXO digital coin of the paper's evaluation (PROTOCOL.md section 8).
 *
 * Two operations, each a tag byte and fixed-width fields (conformance/APPS.md section 3):
 *   MINT  { outputs }          only a key listed in genesis `minters` may mint;
 *   SPEND { inputs, outputs }  every input exists, is unspent, belongs to the signer and is
 *                              named once; the inputs' total equals the outputs' total.
 * Every amount is a u64 above zero, and the total supply stays within a u64, so no sum overflows.
 * The outputs a transaction creates are named (txHash(tx), index).
 *
 * A transaction that breaks a rule is still ordered, but fails: its result carries a reason code
 * and a short text, and the state does not change. The checks run in a fixed order, so every
 * replica reports the same reason (APPS.md lists the order).
 *
 * State: for every transaction that still has an unspent output, the list of its outputs with
 * the spent ones blanked out. Keeping the spent slots of a live transaction is what lets a
 * second spend of an output say AlreadySpent; once all of a transaction's outputs are spent it
 * is forgotten, so the state stays proportional to the unspent outputs and a later spend of one
 * of them says UnknownInput. Replays of a whole transaction are the ordering layer's to drop
 * ((client, seq) is unique); the coin also refuses a transaction whose hash names live outputs.
 */
import { Either, Schema } from "effect"
import { bytesEqual, tagPrefix, toHex } from "../chain/bytes.ts"
import type { Reader } from "../chain/codec.ts"
import { Writer } from "../chain/codec.ts"
import { txHash } from "../chain/hash.ts"
import { Hash, PublicKey, U32, U64 } from "../chain/types.ts"
import type { Genesis, Transaction } from "../chain/types.ts"
import type { AppContext, AppError, Application, BatchOutcome ,
  OpDecodeError} from "./application.ts"
import {
  ResultStatus,
  decodeOpWith,
  decodeResult,
  defaultAdmitJoin,
  expectMagic,
  reasonTable,
  failTooLarge,
  restoreWith,
  snapshotFunctions
} from "./application.ts"
import { VersionedMap } from "./versioned-map.ts"
import type { MapEditor } from "./versioned-map.ts"

const U64_MAX = 0xffff_ffff_ffff_ffffn

/** The coin's named limits. */
export const coinLimits = {
  /** Most outputs one MINT or SPEND creates. */
  outputsMax: 256,
  /** Most inputs one SPEND consumes. */
  inputsMax: 256
} as const

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/** An output: an amount owned by a public key. */
export const CoinOutput = Schema.Struct({ owner: PublicKey, amount: U64 })
export type CoinOutput = typeof CoinOutput.Type

/** The name of an output: the hash of the transaction that created it and its position there. */
export const Outpoint = Schema.Struct({ txHash: Hash, index: U32 })
export type Outpoint = typeof Outpoint.Type

export const Mint = Schema.TaggedStruct("Mint", { outputs: Schema.Array(CoinOutput) })
export type Mint = typeof Mint.Type
export const Spend = Schema.TaggedStruct("Spend", { inputs: Schema.Array(Outpoint), outputs: Schema.Array(CoinOutput) })
export type Spend = typeof Spend.Type
export const CoinOp = Schema.Union(Mint, Spend)
export type CoinOp = typeof CoinOp.Type

/** The tag byte that starts each operation (and each ok result body). */
export const coinOpTags = { Mint: 1, Spend: 2 } as const

const OUTPUT_SIZE = 32 + 8
const OUTPOINT_SIZE = 32 + 4

const writeOutputs = (w: Writer, outputs: ReadonlyArray<CoinOutput>): void => {
  w.u32(outputs.length)
  for (const o of outputs) {
    if (o.owner.length !== 32) throw new RangeError("an output owner is a 32-byte public key")
    w.raw(o.owner)
    w.u64(o.amount)
  }
}

/** The bytes of a coin operation. Encodes any well-typed value, including ones the coin refuses. */
export const encodeCoinOp = (op: CoinOp): Uint8Array => {
  const w = new Writer(16 + OUTPUT_SIZE * op.outputs.length + (op._tag === "Spend" ? OUTPOINT_SIZE * op.inputs.length : 0))
  if (op._tag === "Mint") {
    w.u8(coinOpTags.Mint)
    writeOutputs(w, op.outputs)
  } else {
    w.u8(coinOpTags.Spend)
    w.u32(op.inputs.length)
    for (const i of op.inputs) {
      if (i.txHash.length !== 32) throw new RangeError("an outpoint's txHash is 32 bytes")
      w.raw(i.txHash)
      w.u32(i.index)
    }
    writeOutputs(w, op.outputs)
  }
  return w.finish()
}

/** The op bytes of a MINT. */
export const mintOp = (outputs: ReadonlyArray<CoinOutput>): Uint8Array => encodeCoinOp({ _tag: "Mint", outputs })

/** The op bytes of a SPEND. */
export const spendOp = (inputs: ReadonlyArray<Outpoint>, outputs: ReadonlyArray<CoinOutput>): Uint8Array =>
  encodeCoinOp({ _tag: "Spend", inputs, outputs })

/** A u32 count in 1..max; over max is TooLarge; the elements must fit in what remains. */
const readCount = (r: Reader, what: string, max: number, elementSize: number): number => {
  const at = r.pos
  const n = r.u32()
  if (n > max) failTooLarge(`at most ${max} ${what}, got ${n}`, at)
  if (n === 0) r.fail(`at least one ${what.replace(/s$/, "")}`, at)
  if (n * elementSize > r.remaining) r.fail(`${n} ${what} of ${elementSize} bytes (${r.remaining} left)`, at)
  return n
}

/** Reads 32 bytes: `copy32` copies them out; `view32` (below) returns a view into the input. */
type Read32 = (r: Reader) => Uint8Array
const copy32: Read32 = (r) => r.fixed(32)

const readOutputs = (r: Reader, read32: Read32): Array<CoinOutput> => {
  const n = readCount(r, "outputs", coinLimits.outputsMax, OUTPUT_SIZE)
  const outputs = new Array<CoinOutput>(n)
  for (let i = 0; i < n; i++) outputs[i] = { owner: read32(r), amount: r.u64() }
  return outputs
}

const readCoinOp = (r: Reader, read32: Read32): CoinOp => {
  const at = r.pos
  const tag = r.u8()
  if (tag === coinOpTags.Mint) return { _tag: "Mint", outputs: readOutputs(r, read32) }
  if (tag !== coinOpTags.Spend) return r.fail(`coin operation tag 1 (MINT) or 2 (SPEND), got ${tag}`, at)
  const n = readCount(r, "inputs", coinLimits.inputsMax, OUTPOINT_SIZE)
  const inputs = new Array<Outpoint>(n)
  for (let i = 0; i < n; i++) inputs[i] = { txHash: read32(r), index: r.u32() }
  return { _tag: "Spend", inputs, outputs: readOutputs(r, read32) }
}

/**
 * Decodes op bytes. Only the canonical encoding decodes; every list has at least one element and
 * at most the limit (TooLarge beyond it). Amounts of zero decode: the coin refuses them itself.
 */
export const decodeCoinOp = (bytes: Uint8Array): Either.Either<CoinOp, OpDecodeError> =>
  decodeOpWith("coin", bytes, (r) => readCoinOp(r, copy32))

/**
 * The next 32 bytes as a view into the reader's input, not a copy. Used only on private copies
 * (of an op being executed, of a snapshot being restored), so the keys and hashes kept in the
 * state share one buffer per operation or snapshot instead of one small buffer each.
 */
const view32: Read32 = (r) => {
  if (r.remaining < 32) r.fail(`32 bytes (${r.remaining} left)`)
  const v = r.bytes.subarray(r.pos, r.pos + 32)
  r.pos += 32
  return v
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/** Why a coin transaction failed. */
export const CoinReason = Schema.Literal(
  "Malformed",
  "TooLarge",
  "NotMinter",
  "ZeroAmount",
  "Overflow",
  "DuplicateInput",
  "UnknownInput",
  "AlreadySpent",
  "NotOwner",
  "ValueNotConserved",
  "Replayed"
)
export type CoinReason = typeof CoinReason.Type

/** The reason code byte of each failure. */
export const coinReasonCodes: { readonly [R in CoinReason]: number } = {
  Malformed: 1,
  TooLarge: 2,
  NotMinter: 3,
  ZeroAmount: 4,
  Overflow: 5,
  DuplicateInput: 6,
  UnknownInput: 7,
  AlreadySpent: 8,
  NotOwner: 9,
  ValueNotConserved: 10,
  Replayed: 11
}
const coinReasons = reasonTable("coin", coinReasonCodes)

/** A coin result, decoded. Ok results name the transaction; its outputs are (txHash, 0..outputs-1). */
export type CoinResult =
  | { readonly _tag: "Minted" | "Spent"; readonly txHash: Uint8Array; readonly outputs: number }
  | { readonly _tag: "Failed"; readonly reason: CoinReason; readonly text: string }

/** An ok result: status, operation tag, txHash, u32 output count (38 bytes, written in place). */
const okBody = (tag: number, hash: Uint8Array, outputs: number): Uint8Array => {
  const out = new Uint8Array(38)
  out[0] = ResultStatus.ok
  out[1] = tag
  out.set(hash, 2)
  out[34] = outputs >>> 24
  out[35] = (outputs >>> 16) & 0xff
  out[36] = (outputs >>> 8) & 0xff
  out[37] = outputs & 0xff
  return out
}

const fail = coinReasons.fail

/** Decodes a coin result. */
export const decodeCoinResult = (bytes: Uint8Array): Either.Either<CoinResult, OpDecodeError> =>
  Either.flatMap(decodeResult(bytes), (view) => {
    if (view._tag === "Failed") return coinReasons.decodeFailed(view)
    return decodeOpWith<CoinResult>("coin result", view.body, (r) => {
      const at = r.pos
      const tag = r.u8()
      if (tag !== coinOpTags.Mint && tag !== coinOpTags.Spend) return r.fail(`operation tag 1 or 2, got ${tag}`, at)
      const hash = r.fixed(32)
      const outputs = r.u32()
      return { _tag: tag === coinOpTags.Mint ? "Minted" : "Spent", txHash: hash, outputs }
    })
  })

/** The outpoints an ok result created (none for a failed one). */
export const createdOutpoints = (result: CoinResult): Array<Outpoint> => {
  if (result._tag === "Failed") return []
  const out = new Array<Outpoint>(result.outputs)
  for (let i = 0; i < result.outputs; i++) out[i] = { txHash: result.txHash, index: i }
  return out
}

const shortHex = (b: Uint8Array): string => toHex(b.subarray(0, 6))

/** One line describing a coin result. */
export const describeCoinResult = (bytes: Uint8Array): string => {
  const r = decodeCoinResult(bytes)
  if (Either.isLeft(r)) return `undecodable result: ${r.left.message}`
  const v = r.right
  if (v._tag === "Failed") return `failed: ${v.reason}: ${v.text}`
  return `ok: ${v._tag === "Minted" ? "minted" : "spent into"} ${v.outputs} output(s) of tx ${shortHex(v.txHash)}...`
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/** The outputs of one transaction that still has unspent outputs; spent slots are undefined. */
export interface TxOutputs {
  readonly txHash: Uint8Array
  readonly slots: ReadonlyArray<CoinOutput | undefined>
  /** How many slots are unspent (at least one). */
  readonly live: number
}

export interface CoinState {
  /** Keyed by the lowercase hex of the transaction hash. */
  readonly txs: VersionedMap<string, TxOutputs>
  /** Total ever minted. Equal to the sum of the unspent amounts. */
  readonly minted: bigint
  /** Number of unspent outputs. */
  readonly unspent: number
}

export const emptyCoinState = (): CoinState => ({ txs: VersionedMap.empty(), minted: 0n, unspent: 0 })

// ---------------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------------

/** Mutable working state of one batch. */
interface Work {
  readonly txs: MapEditor<string, TxOutputs>
  minted: bigint
  unspent: number
  minterHex: Set<string> | undefined
}

const outpointKey = (o: Outpoint): string => `${toHex(o.txHash)}:${o.index}`

/** Checks the outputs: amounts above zero, total within a u64. Returns the total or a failure. */
const checkOutputs = (outputs: ReadonlyArray<CoinOutput>): bigint | Uint8Array => {
  let total = 0n
  for (let i = 0; i < outputs.length; i++) {
    const amount = (outputs[i] as CoinOutput).amount
    if (amount === 0n) return fail("ZeroAmount", `output ${i} has amount 0`)
    total += amount
    if (total > U64_MAX) return fail("Overflow", `outputs total more than 2^64-1`)
  }
  return total
}

const executeMint = (work: Work, ctx: AppContext, tx: Transaction, op: Mint, hashOf: () => Uint8Array): Uint8Array => {
  if (work.minterHex === undefined) work.minterHex = new Set(ctx.minters.map(toHex))
  if (!work.minterHex.has(toHex(tx.client))) return fail("NotMinter", "the signer is not a minter in genesis")
  const total = checkOutputs(op.outputs)
  if (typeof total !== "bigint") return total
  if (work.minted + total > U64_MAX) return fail("Overflow", "total supply would exceed 2^64-1")
  const hash = hashOf()
  const key = toHex(hash)
  if (work.txs.has(key)) return fail("Replayed", "this transaction's outputs already exist")
  work.txs.set(key, { txHash: hash, slots: op.outputs, live: op.outputs.length })
  work.minted += total
  work.unspent += op.outputs.length
  return okBody(coinOpTags.Mint, hash, op.outputs.length)
}

const executeSpend = (work: Work, tx: Transaction, op: Spend, hashOf: () => Uint8Array): Uint8Array => {
  const outTotal = checkOutputs(op.outputs)
  if (typeof outTotal !== "bigint") return outTotal
  const inputs = op.inputs
  if (inputs.length > 1) {
    const seen = new Set<string>()
    for (let i = 0; i < inputs.length; i++) {
      const k = outpointKey(inputs[i] as Outpoint)
      if (seen.has(k)) return fail("DuplicateInput", `input ${i} repeats an earlier input`)
      seen.add(k)
    }
  }
  const keys = new Array<string>(inputs.length)
  let inTotal = 0n
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as Outpoint
    const key = toHex(input.txHash)
    keys[i] = key
    const entry = work.txs.get(key)
    if (entry === undefined || input.index >= entry.slots.length) return fail("UnknownInput", `input ${i} names no unspent output`)
    const slot = entry.slots[input.index]
    if (slot === undefined) return fail("AlreadySpent", `input ${i} is already spent`)
    if (!bytesEqual(slot.owner, tx.client)) return fail("NotOwner", `input ${i} belongs to another key`)
    inTotal += slot.amount
  }
  if (inTotal !== outTotal) return fail("ValueNotConserved", `inputs total ${inTotal}, outputs total ${outTotal}`)
  const hash = hashOf()
  const hashKey = toHex(hash)
  if (work.txs.has(hashKey)) return fail("Replayed", "this transaction's outputs already exist")
  // Valid: apply. Several inputs may come from one transaction, so re-read its entry each time.
  for (let i = 0; i < inputs.length; i++) {
    const key = keys[i] as string
    const entry = work.txs.get(key) as TxOutputs
    if (entry.live === 1) work.txs.delete(key)
    else {
      const slots = entry.slots.slice()
      slots[(inputs[i] as Outpoint).index] = undefined
      work.txs.set(key, { txHash: entry.txHash, slots, live: entry.live - 1 })
    }
  }
  work.txs.set(hashKey, { txHash: hash, slots: op.outputs, live: op.outputs.length })
  work.unspent += op.outputs.length - inputs.length
  return okBody(coinOpTags.Spend, hash, op.outputs.length)
}

const executeOne = (work: Work, ctx: AppContext, tx: Transaction, hashOf: () => Uint8Array): Uint8Array => {
  const decoded = decodeOpWith("coin", tx.op.slice(), (r) => readCoinOp(r, view32))
  if (Either.isLeft(decoded))
    // Fixed texts: results are hashed into the block, so their bytes may not depend on how a
    // particular decoder words its errors (decodeCoinOp on the op gives the details).
    return decoded.left.reason === "TooLarge"
      ? fail("TooLarge", `more than ${coinLimits.inputsMax} inputs or ${coinLimits.outputsMax} outputs`)
      : fail("Malformed", "not a canonical coin operation")
  const op = decoded.right
  return op._tag === "Mint" ? executeMint(work, ctx, tx, op, hashOf) : executeSpend(work, tx, op, hashOf)
}

/** Executes a batch of verified transactions: the next state and one result per transaction. */
export const executeCoinBatch = (state: CoinState, ctx: AppContext, transactions: ReadonlyArray<Transaction>): BatchOutcome<CoinState> => {
  const hashes = ctx.txHashes
  if (hashes !== undefined && hashes.length !== transactions.length)
    throw new RangeError(`ctx.txHashes has ${hashes.length} hashes for ${transactions.length} transactions`)
  const editor = state.txs.edit()
  const work: Work = { txs: editor, minted: state.minted, unspent: state.unspent, minterHex: undefined }
  const results = new Array<Uint8Array>(transactions.length)
  let committed = false
  try {
    for (let i = 0; i < transactions.length; i++) {
      const tx = transactions[i] as Transaction
      const hashOf = (): Uint8Array => (hashes === undefined ? txHash(ctx.crypto, tx) : (hashes[i] as Uint8Array))
      results[i] = executeOne(work, ctx, tx, hashOf)
    }
    const txs = editor.commit()
    committed = true
    if (txs === state.txs) return { state, results }
    return { state: { txs, minted: work.minted, unspent: work.unspent }, results }
  } finally {
    if (!committed) editor.abort()
  }
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** The unspent output at an outpoint, if any. */
export const outputAt = (state: CoinState, outpoint: Outpoint): CoinOutput | undefined => {
  const slot = state.txs.get(toHex(outpoint.txHash))?.slots[outpoint.index]
  return slot === undefined ? undefined : { owner: slot.owner.slice(), amount: slot.amount }
}

/** Sum of the unspent amounts owned by `owner`. Scans the whole state. */
export const balanceOf = (state: CoinState, owner: Uint8Array): bigint => {
  let total = 0n
  state.txs.forEach((entry) => {
    for (const slot of entry.slots) if (slot !== undefined && bytesEqual(slot.owner, owner)) total += slot.amount
  })
  return total
}

export interface UnspentOutput {
  readonly outpoint: Outpoint
  readonly amount: bigint
}

/** The unspent outputs owned by `owner`, ordered by outpoint. Scans the whole state. */
export const unspentOf = (state: CoinState, owner: Uint8Array): Array<UnspentOutput> => {
  const found: Array<[string, UnspentOutput]> = []
  state.txs.forEach((entry, key) => {
    entry.slots.forEach((slot, index) => {
      if (slot !== undefined && bytesEqual(slot.owner, owner))
        found.push([key, { outpoint: { txHash: entry.txHash.slice(), index }, amount: slot.amount }])
    })
  })
  found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].outpoint.index - b[1].outpoint.index))
  return found.map(([, u]) => u)
}

/** Sum of all unspent amounts, recomputed from the outputs. */
export const totalSupply = (state: CoinState): bigint => {
  let total = 0n
  state.txs.forEach((entry) => {
    for (const slot of entry.slots) if (slot !== undefined) total += slot.amount
  })
  return total
}

// ---------------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------------

/** The tag every coin snapshot starts with (TAG = ASCII and a zero byte). */
export const coinSnapshotTag = "smartchain/app/coin/v1"
const snapshotMagic = tagPrefix(coinSnapshotTag)

/**
 * Writes the snapshot into one exactly sized array (sizes first, then the bytes): at a hundred
 * thousand outputs this is several times faster than the general Writer.
 */
const encodeCoinState = (state: CoinState): Uint8Array => {
  const keys = state.txs.keys().sort()
  const entries = new Array<TxOutputs>(keys.length)
  let size = snapshotMagic.length + 8 + 4
  for (let i = 0; i < keys.length; i++) {
    const entry = state.txs.get(keys[i] as string) as TxOutputs
    entries[i] = entry
    size += 32 + 4 + entry.slots.length + OUTPUT_SIZE * entry.live
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out.set(snapshotMagic, 0)
  let at = snapshotMagic.length
  view.setBigUint64(at, state.minted)
  view.setUint32(at + 8, keys.length)
  at += 12
  for (const entry of entries) {
    out.set(entry.txHash, at)
    view.setUint32(at + 32, entry.slots.length)
    at += 36
    for (const slot of entry.slots) {
      if (slot === undefined) out[at++] = 0
      else {
        out[at] = 1
        out.set(slot.owner, at + 1)
        view.setBigUint64(at + 33, slot.amount)
        at += 1 + OUTPUT_SIZE
      }
    }
  }
  if (at !== size) throw new Error(`coin snapshot size ${at} differs from the computed ${size}`)
  return out
}

const readCoinState = (r: Reader): CoinState => {
  expectMagic(r, snapshotMagic, coinSnapshotTag)
  const minted = r.u64()
  const count = r.count(0xffff_ffff, 32 + 4 + 1 + OUTPUT_SIZE)
  const map = new Map<string, TxOutputs>()
  let previous = ""
  let supply = 0n
  let unspent = 0
  for (let i = 0; i < count; i++) {
    const at = r.pos
    const hash = view32(r)
    const key = toHex(hash)
    if (key <= previous) r.fail("transaction hashes in strictly increasing order", at)
    previous = key
    const slotsAt = r.pos
    const n = r.u32()
    if (n === 0 || n > coinLimits.outputsMax) r.fail(`1 to ${coinLimits.outputsMax} output slots, got ${n}`, slotsAt)
    const slots = new Array<CoinOutput | undefined>(n)
    let live = 0
    for (let j = 0; j < n; j++) {
      const tagAt = r.pos
      const tag = r.u8()
      if (tag === 0) slots[j] = undefined
      else if (tag === 1) {
        const owner = view32(r)
        const amountAt = r.pos
        const amount = r.u64()
        if (amount === 0n) r.fail("an amount above 0", amountAt)
        supply += amount
        slots[j] = { owner, amount }
        live++
      } else r.fail(`slot tag 0 (spent) or 1 (unspent), got ${tag}`, tagAt)
    }
    if (live === 0) r.fail("a transaction with at least one unspent output", at)
    unspent += live
    map.set(key, { txHash: hash, slots, live })
  }
  if (supply !== minted) r.fail(`unspent amounts totalling the minted amount ${minted}, got ${supply}`, r.pos)
  return { txs: VersionedMap.adopt(map), minted, unspent }
}

const coinSnapshots = snapshotFunctions<CoinState>(encodeCoinState)

/** The canonical snapshot of a coin state (conformance/APPS.md section 3.4). */
export const coinSnapshot = coinSnapshots.snapshot
/** SHA-256 of the snapshot. */
export const coinStateHash = coinSnapshots.stateHash
/** The state a snapshot encodes, or an AppError for anything that is not one. */
export const restoreCoinState = (bytes: Uint8Array): Either.Either<CoinState, AppError> =>
  restoreWith("coin", bytes instanceof Uint8Array ? bytes.slice() : bytes, readCoinState)

// ---------------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------------

/** A broken invariant, found by a checker. */
export interface InvariantViolation {
  readonly invariant: string
  readonly detail: string
}

/**
 * The state invariants, given the total of all successful mints so far (which the caller tracks
 * from the results): total supply equals that total and the state's own counter; every entry is
 * well formed (1..outputsMax slots, `live` counts the unspent ones and is at least one, amounts
 * above zero); the unspent count is right. An empty list means all hold.
 */
export const coinInvariants = (state: CoinState, mintedTotal: bigint): ReadonlyArray<InvariantViolation> => {
  const violations: Array<InvariantViolation> = []
  let supply = 0n
  let unspent = 0
  state.txs.forEach((entry, key) => {
    let live = 0
    if (key !== toHex(entry.txHash)) violations.push({ invariant: "EntryKey", detail: `entry ${key} holds tx ${toHex(entry.txHash)}` })
    if (entry.slots.length === 0 || entry.slots.length > coinLimits.outputsMax)
      violations.push({ invariant: "EntryShape", detail: `tx ${key} has ${entry.slots.length} slots` })
    entry.slots.forEach((slot, index) => {
      if (slot === undefined) return
      live++
      if (slot.amount <= 0n || slot.amount > U64_MAX)
        violations.push({ invariant: "PositiveAmounts", detail: `output ${key}:${index} has amount ${slot.amount}` })
      supply += slot.amount
    })
    if (live !== entry.live || live === 0)
      violations.push({ invariant: "LiveCount", detail: `tx ${key} records ${entry.live} unspent outputs, has ${live}` })
    unspent += live
  })
  if (supply !== mintedTotal) violations.push({ invariant: "SupplyEqualsMinted", detail: `supply ${supply}, minted ${mintedTotal}` })
  if (state.minted !== mintedTotal)
    violations.push({ invariant: "MintedCounter", detail: `state counts ${state.minted} minted, results say ${mintedTotal}` })
  if (supply > U64_MAX) violations.push({ invariant: "SupplyBound", detail: `supply ${supply} exceeds 2^64-1` })
  if (unspent !== state.unspent) violations.push({ invariant: "UnspentCount", detail: `state counts ${state.unspent}, has ${unspent}` })
  return violations
}

/**
 * A checker over the history of executed batches: no output is created twice, none is spent
 * twice, and none is spent that was never created. Feed it every batch in order from genesis;
 * it also totals the successful mints, for `coinInvariants`.
 */
export class CoinHistoryChecker {
  private readonly created = new Set<string>()
  private readonly spent = new Set<string>()
  private mintedTotal = 0n

  get minted(): bigint {
    return this.mintedTotal
  }

  observe(transactions: ReadonlyArray<Transaction>, results: ReadonlyArray<Uint8Array>): Array<InvariantViolation> {
    const violations: Array<InvariantViolation> = []
    for (let i = 0; i < transactions.length; i++) {
      const decodedResult = decodeCoinResult(results[i] as Uint8Array)
      if (Either.isLeft(decodedResult)) {
        violations.push({ invariant: "ResultFormat", detail: `result ${i}: ${decodedResult.left.message}` })
        continue
      }
      const result = decodedResult.right
      if (result._tag === "Failed") continue
      const op = decodeCoinOp((transactions[i] as Transaction).op)
      if (Either.isLeft(op) || (op.right._tag === "Mint") !== (result._tag === "Minted")) {
        violations.push({ invariant: "ResultMatchesOp", detail: `result ${i} is ${result._tag} for another operation` })
        continue
      }
      if (op.right._tag === "Mint") for (const o of op.right.outputs) this.mintedTotal += o.amount
      else
        for (const input of op.right.inputs) {
          const k = outpointKey(input)
          if (!this.created.has(k)) violations.push({ invariant: "SpendOfUncreated", detail: `tx ${i} spends ${k}` })
          if (this.spent.has(k)) violations.push({ invariant: "NoDoubleSpend", detail: `tx ${i} spends ${k} again` })
          this.spent.add(k)
        }
      for (const o of createdOutpoints(result)) {
        const k = outpointKey(o)
        if (this.created.has(k)) violations.push({ invariant: "NoOutputCreatedTwice", detail: `tx ${i} creates ${k} again` })
        this.created.add(k)
      }
    }
    return violations
  }
}

// ---------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------

export const coinApp: Application<CoinState> = {
  name: "coin",
  initial: (_genesis: Genesis) => emptyCoinState(),
  executeBatch: executeCoinBatch,
  snapshot: coinSnapshot,
  restore: restoreCoinState,
  stateHash: coinStateHash,
  admitJoin: defaultAdmitJoin,
  describeResult: describeCoinResult
}
