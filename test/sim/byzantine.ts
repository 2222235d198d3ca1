/**
 * Byzantine replicas. A Byzantine replica runs the honest core (so it knows what to say) and then
 * lies on the wire: its outgoing payloads pass through `transform`, and `onTick` lets it send
 * more. It signs with its own keys only (it holds no one else's); everything else it can do.
 */
import { Option } from "effect"
import { batchHash } from "../../src/chain/hash.ts"
import type { ReplicaId, StopData, Transaction } from "../../src/chain/types.ts"
import type { ReplicaState } from "../../src/core/state.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Prng } from "./prng.ts"
import type { Keys, Payload, World } from "./world.ts"
import { signAccept, signStopData } from "./world.ts"

export type Behaviour =
  /** Sends and receives nothing (a crash). */
  | "silent"
  /** As leader, proposes different batches to different replicas, and writes and accepts both. */
  | "equivocate"
  /** Corrupts signatures, slips unsigned transactions into proposals, forges proofs. */
  | "forge"
  /** Resends old messages. */
  | "replay"
  /** Reports a made-up accepted value (or hides its own) in STOPDATA, validly signed. */
  | "stopDataLie"
  /** Each message: one of the above at random. */
  | "mixed"

const logMax = 256

export class Byzantine {
  private readonly keys: Keys
  private readonly log: Array<Payload> = []

  constructor(
    readonly behaviour: Behaviour,
    readonly self: ReplicaId,
    private readonly world: World,
    private readonly prng: Prng
  ) {
    this.keys = world.viewKeys[self]!
  }

  private act(b: Behaviour): boolean {
    return this.behaviour === b || (this.behaviour === "mixed" && this.prng.chance(0.3))
  }

  observe(_from: ReplicaId, payload: Payload): void {
    if (this.log.length >= logMax) this.log.splice(0, 1)
    this.log.push(payload)
  }

  transform(to: ReplicaId, payload: Payload, state: ReplicaState): Array<Payload> {
    if (this.behaviour === "silent") return []
    const out: Array<Payload> = [payload]
    if (this.act("replay") && this.log.length > 0 && this.prng.chance(0.3)) out.push(this.prng.pick(this.log))
    if (payload._tag === "StateReply" && this.act("forge")) return [this.forgeStateReply(payload)]
    if (payload._tag !== "Consensus") return out
    const m = payload.message
    if (m._tag === "Propose" && this.act("equivocate") && to % 2 === 1) {
      const variant = this.variantBatch(m.batch, state)
      if (variant === undefined) return out
      const hash = batchHash(nodeCrypto, variant)
      const fields = { viewId: m.viewId, cid: m.cid, regency: m.regency, batchHash: hash }
      return [
        { _tag: "Consensus", message: { ...m, batch: variant } },
        { _tag: "Consensus", message: { _tag: "Write", ...fields } },
        { _tag: "Consensus", message: { _tag: "Accept", ...fields, signature: signAccept(this.keys, fields) } }
      ]
    }
    if (m._tag === "Sync" && this.act("equivocate") && to % 2 === 1) {
      const variant = this.variantBatch(m.batch, state)
      if (variant !== undefined) return [{ _tag: "Consensus", message: { ...m, batch: variant } }]
    }
    if (this.act("forge") && this.prng.chance(0.5)) {
      if (m._tag === "Accept") return [{ _tag: "Consensus", message: { ...m, signature: this.prng.bytes(64) } }]
      if (m._tag === "StopData") return [{ _tag: "Consensus", message: { ...m, signature: this.prng.bytes(64) } }]
      if (m._tag === "Propose") return [{ _tag: "Consensus", message: { ...m, batch: [...m.batch, this.forgedTx()] } }]
      if (m._tag === "Sync" && m.proofs.length > 0) {
        const [first, ...rest] = m.proofs
        const forged = { replica: first!.replica, stopData: { ...first!.stopData, signature: this.prng.bytes(64) } }
        return [{ _tag: "Consensus", message: { ...m, proofs: [forged, ...rest] } }]
      }
    }
    if (m._tag === "StopData" && this.act("stopDataLie")) return [{ _tag: "Consensus", message: this.lie(m, state) }]
    return out
  }

  /** Extra messages on a tick: replays, and STOPs for regencies nobody asked for. */
  onTick(state: ReplicaState): Array<[ReplicaId, Payload]> {
    if (this.behaviour === "silent") return []
    const out: Array<[ReplicaId, Payload]> = []
    const to = this.prng.int(0, this.world.view.members.length - 1)
    if (to === this.self) return out
    if (this.act("replay") && this.log.length > 0 && this.prng.chance(0.05)) out.push([to, this.prng.pick(this.log)])
    if (this.behaviour === "mixed" && this.prng.chance(0.01)) {
      const regency = state.regency + BigInt(this.prng.int(1, 3))
      out.push([to, { _tag: "Consensus", message: { _tag: "Stop", viewId: this.world.view.id, regency } }])
    }
    return out
  }

  /** Another batch than `batch` that still passes the checks: reordered, or other pending transactions. */
  private variantBatch(batch: ReadonlyArray<Transaction>, state: ReplicaState): ReadonlyArray<Transaction> | undefined {
    if (batch.length >= 2) return [...batch].reverse()
    const others = [...state.pending.values()].map((p) => p.tx).filter((tx) => batch.every((b) => b !== tx))
    return others.length > 0 ? [others[0]!] : undefined
  }

  private forgedTx(): Transaction {
    return { client: this.prng.bytes(32), seq: BigInt(this.prng.int(0, 1000)), op: this.prng.bytes(8), signature: this.prng.bytes(64) }
  }

  private lie(m: StopData, state: ReplicaState): StopData {
    const hide = this.prng.chance(0.3) || m.regency === 0n
    let fields
    if (hide) fields = { viewId: m.viewId, regency: m.regency, lastDecided: m.lastDecided, lastDecidedBatch: m.lastDecidedBatch, openCid: m.openCid, written: [], accepted: Option.none() }
    else {
      const pending = [...state.pending.values()].map((p) => p.tx).reverse()
      const batch = pending.length > 0 && this.prng.chance(0.5) ? pending.slice(0, 3) : [this.forgedTx()]
      const hash = batchHash(nodeCrypto, batch)
      const regency = BigInt(this.prng.int(0, Number(m.regency) - 1))
      fields = {
        viewId: m.viewId,
        regency: m.regency,
        lastDecided: m.lastDecided,
        lastDecidedBatch: m.lastDecidedBatch,
        openCid: m.openCid,
        written: [{ regency, batchHash: hash }],
        accepted: Option.some({ regency, batchHash: hash, batch })
      }
    }
    return { _tag: "StopData", ...fields, signature: signStopData(this.keys, fields) }
  }

  private forgeStateReply(payload: Extract<Payload, { _tag: "StateReply" }>): Payload {
    return {
      _tag: "StateReply",
      decided: payload.decided.map((d) => ({
        batch: this.prng.chance(0.5) ? [...d.batch].reverse() : [this.forgedTx()],
        proof: d.proof
      }))
    }
  }
}
