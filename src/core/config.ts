/**
 * The immutable configuration of one replica's core: who it is, the view it runs in, the chain's
 * named limits and quorum sizes, and the two pure functions it needs from cryptography (SHA-256
 * for batch hashes, and Ed25519 signing by its own view key, which is deterministic by RFC 8032).
 */
import type { ChainCrypto } from "../chain/crypto.ts"
import type { Limits, ReplicaId, ViewRecord } from "../chain/types.ts"
import type { PersistenceConfig } from "../persistence/state.ts"
import type { ReconfigSetup } from "../reconfiguration/core-views.ts"
import { assert } from "./assert.ts"
import { coreLimits } from "./limits.ts"
import { byzantineQuorum, faultsTolerated, weakQuorum } from "./quorum.ts"

/** Signs with the replica's current view key. */
export interface Signer {
  readonly sign: (message: Uint8Array) => Uint8Array
}

export interface ReplicaConfig {
  readonly self: ReplicaId
  readonly chainId: string
  readonly view: ViewRecord
  readonly limits: Limits
  readonly n: number
  readonly f: number
  /** q: matching WRITEs, ACCEPTs, STOPs and STOPDATAs needed. */
  readonly quorum: number
  /** f + 1: a set this large holds at least one correct member. */
  readonly weakQuorum: number
  readonly crypto: ChainCrypto
  readonly signer: Signer
  /** Interval between retransmissions of the replica's latest protocol messages, in ms. */
  readonly retransmitMs: number
  /** How long f + 1 replicas must be seen ahead before asking for state transfer, in ms. */
  readonly behindGraceMs: number
  /** How long a leader may hold a batch that is not full (src/ordering/batch.ts, `batchReady`), in ms. */
  readonly batchDelayMs: number
  /**
   * Blocks and durable commit (src/persistence): when absent the core orders and decides only,
   * as the ordering-only tests and the replay of spec behaviours use it.
   */
  readonly persistence: PersistenceConfig | undefined
  /**
   * Reconfiguration (src/reconfiguration/core-views.ts): when present, executed blocks may change
   * the membership and the replica switches views; when absent the membership is fixed.
   */
  readonly reconfig: ReconfigSetup | undefined
}

export interface ConfigInput {
  readonly self: ReplicaId
  readonly chainId: string
  readonly view: ViewRecord
  readonly limits: Limits
  readonly crypto: ChainCrypto
  readonly signer: Signer
  /**
   * Test-only: replace the Byzantine quorum by this size. Used to show that the simulator catches
   * a broken quorum (an Agreement violation); never set outside tests.
   */
  readonly quorumOverrideForTests?: number
  /** Build blocks from decisions and make them durable by this configuration. */
  readonly persistence?: PersistenceConfig
  /** Follow membership changes (needs `persistence`: views change by executed blocks). */
  readonly reconfig?: ReconfigSetup
  /** Default `coreLimits.batchDelayMs`. */
  readonly batchDelayMs?: number
}

export const makeConfig = (input: ConfigInput): ReplicaConfig => {
  const n = input.view.members.length
  assert(n > 0 && n === input.view.n, "the view's n matches its member list")
  const f = faultsTolerated(n)
  assert(f === input.view.f, "the view's f is floor((n - 1) / 3)")
  assert(
    input.view.members.some((m) => m.replica === input.self),
    "the replica is a member of its view"
  )
  const quorum = input.quorumOverrideForTests ?? byzantineQuorum(n, f)
  return {
    self: input.self,
    chainId: input.chainId,
    view: input.view,
    limits: input.limits,
    n,
    f,
    quorum,
    weakQuorum: weakQuorum(f),
    crypto: input.crypto,
    signer: input.signer,
    retransmitMs: Math.max(1, Math.floor(input.limits.requestTimeoutMs / 2)),
    behindGraceMs: Math.max(1, Math.floor(input.limits.requestTimeoutMs / 4)),
    batchDelayMs: Math.max(0, input.batchDelayMs ?? coreLimits.batchDelayMs),
    persistence: input.persistence,
    reconfig: input.reconfig
  }
}

/**
 * The configuration of the same replica in another view (InstallView): its id there, the view's
 * n, f and quorums, the signer of its key for that view, and the view hash its blocks carry.
 */
export const configForView = (config: ReplicaConfig, view: ViewRecord, viewHash: Uint8Array, self: ReplicaId, signer: Signer): ReplicaConfig => {
  const n = view.members.length
  assert(n > 0 && n === view.n && faultsTolerated(n) === view.f, "a view record's n and f match its members")
  assert(view.members.some((m) => m.replica === self), "the replica is a member of the view it installs")
  const f = faultsTolerated(n)
  return {
    ...config,
    self,
    view,
    n,
    f,
    quorum: byzantineQuorum(n, f),
    weakQuorum: weakQuorum(f),
    signer,
    persistence: config.persistence === undefined ? undefined : { ...config.persistence, viewHash }
  }
}

/** The leader of regency r: members[r mod n]. */
export const leaderOf = (config: ReplicaConfig, regency: bigint): ReplicaId => {
  const member = config.view.members[Number(regency % BigInt(config.n))]
  assert(member !== undefined, "r mod n indexes a member")
  return member.replica
}

export const isMember = (config: ReplicaConfig, replica: ReplicaId): boolean =>
  config.view.members.some((m) => m.replica === replica)

/** The view key of a member, or undefined for a non-member. */
export const viewKeyOf = (view: ViewRecord, replica: ReplicaId): Uint8Array | undefined =>
  view.members.find((m) => m.replica === replica)?.viewKey
