/**
 * The replicated application as the replica core holds it: an immutable value that executes a
 * decided batch and returns the next value, with the results. It hides the application's state
 * type, so the core stays independent of which application runs (coin, key-value store, ...).
 *
 * Pure: an application executes deterministically and its states are immutable values
 * (src/app/application.ts), so every replica that executes the same blocks from the same state
 * holds equal machines.
 */
import { Either } from "effect"
import type { Application } from "../app/application.ts"
import { appContext } from "../app/application.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import type { Genesis, Transaction } from "../chain/types.ts"

export interface Machine {
  /** The application's name. */
  readonly app: string
  /** Height of the last block executed (0: the genesis state). */
  readonly height: bigint
  /** Executes block `height + 1`'s transactions. */
  readonly execute: (
    transactions: ReadonlyArray<Transaction>,
    txHashes?: ReadonlyArray<Uint8Array>
  ) => { readonly machine: Machine; readonly results: ReadonlyArray<Uint8Array> }
  /** The header's stateHash of this state. */
  readonly stateHash: () => Uint8Array
  /** The canonical snapshot of this state. */
  readonly snapshot: () => Uint8Array
  /**
   * The machine of the same application in the state `snapshot` encodes, after block `height`;
   * undefined when the bytes are no snapshot of this application. The caller checks the state's
   * hash against the checkpoint header's stateHash.
   */
  readonly restore: (height: bigint, snapshot: Uint8Array) => Machine | undefined
  /** The application state itself, for checkers that know the application. */
  readonly state: unknown
}

/** The machine of `app` in `state` after block `height`. */
export const machineAt = <S>(
  app: Application<S>,
  crypto: ChainCrypto,
  genesis: Genesis,
  state: S,
  height: bigint
): Machine => ({
  app: app.name,
  height,
  execute: (transactions, txHashes) => {
    const ctx = appContext(crypto, genesis, height + 1n, txHashes)
    const outcome = app.executeBatch(state, ctx, transactions)
    return { machine: machineAt(app, crypto, genesis, outcome.state, height + 1n), results: outcome.results }
  },
  stateHash: () => app.stateHash(crypto, state),
  snapshot: () => app.snapshot(state),
  restore: (at, snapshot) => {
    const restored = app.restore(snapshot)
    return Either.isRight(restored) ? machineAt(app, crypto, genesis, restored.right, at) : undefined
  },
  state
})

/** The machine of `app` at genesis. */
export const genesisMachine = <S>(app: Application<S>, crypto: ChainCrypto, genesis: Genesis): Machine =>
  machineAt(app, crypto, genesis, app.initial(genesis), 0n)
