/**
 * Test support for reconfiguration: deterministic signers, and a small network that submits
 * reconfiguration requests, executes each block with `applyBlock`, and builds the signed chain
 * whose reconfiguration blocks carry exactly the view records `applyBlock` computed.
 */
import { toHex } from "../../src/chain/bytes.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import type { Block, Transaction, ViewRecord } from "../../src/chain/types.ts"
import { applyBlock } from "../../src/reconfiguration/apply-block.ts"
import type { Signer } from "../../src/reconfiguration/requests.ts"
import { joinRequest, leaveRequest, removeRequest, requestTransaction, rotateRequest } from "../../src/reconfiguration/requests.ts"
import type { ReconfigContext, ViewState } from "../../src/reconfiguration/view-state.ts"
import { initialViewState, memberByIdentity, reconfigContext } from "../../src/reconfiguration/view-state.ts"
import type { ChainBuilderOptions, KeyPair, ViewKeys } from "../support/chain-builder.ts"
import { ChainBuilder, keyPairFromLabel, signBytes } from "../support/chain-builder.ts"

export const signerOf = (kp: KeyPair): Signer => ({ publicKey: kp.publicKey, sign: (m) => signBytes(kp.secret, m) })

/** Identity key pair of replica `r` under `seed` (the labels ChainBuilder's makeView uses). */
export const identityOf = (seed: string, r: number): KeyPair => keyPairFromLabel(`${seed}/replica-${r}/identity`)
/** A fresh view key pair, distinct per (seed, replica, view, attempt). */
export const viewKeyOf = (seed: string, r: number, view: bigint, attempt = 0): KeyPair =>
  keyPairFromLabel(`${seed}/replica-${r}/view-${view}${attempt === 0 ? "" : `/attempt-${attempt}`}`)

export const addressOf = (r: number): string => `127.0.0.1:${7000 + 2 * r}`

export interface NetworkOptions extends ChainBuilderOptions {
  /** Replica labels (in `seed`) whose identity keys genesis admits. */
  readonly admit?: ReadonlyArray<number>
}

/**
 * A chain under construction with its view state. Replica labels name key pairs; a label that
 * joins gets whatever replica id `applyBlock` assigns, which `idOf` reports.
 */
export class Network {
  readonly seed: string
  readonly builder: ChainBuilder
  readonly ctx: ReconfigContext
  state: ViewState
  /** Every view key secret ever generated, by public key hex. */
  readonly secrets = new Map<string, Uint8Array>()
  readonly outcomes: Array<ReturnType<typeof applyBlock>> = []
  private seq = new Map<number, bigint>()

  constructor(options: NetworkOptions = {}) {
    this.seed = options.seed ?? "reconfig"
    const admission = (options.admit ?? []).map((r) => identityOf(this.seed, r).publicKey)
    this.builder = new ChainBuilder({ ...options, seed: this.seed, admission })
    for (const [replica, secret] of this.builder.currentView.secrets)
      this.secrets.set(toHex(this.builder.currentView.record.members.find((m) => m.replica === replica)!.viewKey), secret)
    this.ctx = reconfigContext(portableCrypto, this.builder.genesis)
    this.state = initialViewState(this.builder.genesis)
  }

  get chainId(): string {
    return this.builder.chainId
  }

  nextSeq(label: number): bigint {
    const s = this.seq.get(label) ?? 1_000_000n
    this.seq.set(label, s + 1n)
    return s
  }

  identity(label: number): Signer {
    return signerOf(identityOf(this.seed, label))
  }

  /** A fresh view key for `label` and view `view`, remembered so blocks can later be signed with it. */
  freshViewKey(label: number, view: bigint, attempt = 0): Signer {
    const kp = viewKeyOf(this.seed, label, view, attempt)
    this.secrets.set(toHex(kp.publicKey), kp.secret)
    return signerOf(kp)
  }

  /** The member of the current view that label `label` is, if any. */
  memberOf(label: number) {
    return memberByIdentity(this.state, identityOf(this.seed, label).publicKey)
  }

  /** The signer of label `label`'s key in the current view. */
  currentViewKey(label: number): Signer {
    const m = this.memberOf(label)
    if (m === undefined) throw new Error(`label ${label} is not a member of view ${this.state.view.id}`)
    const secret = this.secrets.get(toHex(m.viewKey))!
    return { publicKey: m.viewKey, sign: (msg) => signBytes(secret, msg) }
  }

  /** The view keys of a view record, with the secrets the network generated. */
  viewKeys(record: ViewRecord): ViewKeys {
    const secrets = new Map<number, Uint8Array>()
    for (const m of record.members) {
      const s = this.secrets.get(toHex(m.viewKey))
      if (s !== undefined) secrets.set(m.replica, s)
    }
    return { record, secrets, identities: new Map() }
  }

  /** Executes `requests` as block `height` without building a signed block (for fast property tests). */
  execute(height: bigint, requests: ReadonlyArray<Transaction>): ReturnType<typeof applyBlock> {
    const outcome = applyBlock(this.state, this.ctx, height, requests)
    this.outcomes.push(outcome)
    this.state = outcome.state
    return outcome
  }

  /**
   * Orders `requests` (plus `clientTxs` fresh client transactions) in the next block: executes
   * it, builds and signs it (installing the view `applyBlock` computed, if any).
   */
  block(requests: ReadonlyArray<Transaction> = [], clientTxs = 1): Block {
    const transactions = [...this.builder.freshTransactions(clientTxs), ...requests]
    const height = this.builder.height + 1n
    const outcome = applyBlock(this.state, this.ctx, height, transactions)
    this.outcomes.push(outcome)
    this.state = outcome.state
    const results = transactions.map((_, i) => outcome.results[i] ?? new TextEncoder().encode(`ok ${height}.${i}`))
    return this.builder.next({
      transactions,
      results,
      ...(outcome.installed === undefined ? {} : { installView: { keys: this.viewKeys(outcome.installed) } })
    })
  }
}

/** JOIN by `label` for the network's current view, with a fresh view key (`attempt` varies it). */
export const joinTx = (net: Network, label: number, attempt = 0): Transaction =>
  requestTransaction(
    net.chainId,
    net.identity(label),
    net.nextSeq(label),
    joinRequest(net.chainId, net.identity(label), { viewId: net.state.view.id, address: addressOf(label) }, net.freshViewKey(label, net.state.view.id + 1n, attempt))
  )

export const leaveTx = (net: Network, label: number): Transaction =>
  requestTransaction(net.chainId, net.identity(label), net.nextSeq(label), leaveRequest(net.state.view.id))

export const removeTx = (net: Network, by: number, target: number): Transaction =>
  requestTransaction(net.chainId, net.identity(by), net.nextSeq(by), removeRequest(net.state.view.id, target))

/**
 * ROTATE by `label` for the next view. A label that is not a member signs with a throwaway key
 * in place of a current view key (execution refuses it as NotMember).
 */
export const rotateTx = (net: Network, label: number, attempt = 0): Transaction => {
  const member = net.memberOf(label)
  const current = member === undefined ? net.freshViewKey(label, -1n, 1 + attempt) : net.currentViewKey(label)
  return requestTransaction(
    net.chainId,
    net.identity(label),
    net.nextSeq(label),
    rotateRequest(net.chainId, net.identity(label), net.state.view.id + 1n, current, net.freshViewKey(label, net.state.view.id + 1n, attempt))
  )
}
