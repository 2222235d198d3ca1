/**
 * A replica's view keys on disk: one key file per view, `<dir>/view-<id>.key` (the layout
 * `smartchain init` writes for view 0), so each can be erased on its own.
 *
 * `installViewKeys` performs InstallView and EraseKeys (src/reconfiguration/install-view.ts,
 * erase-keys.ts) on the files: only once the block that installed the view is durable, it erases
 * the keys of older views (overwrite, sync, unlink, sync the directory: src/services/keystore.ts);
 * a replica that is not in the new view has left and erases all of its view keys.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { ViewRecord } from "../chain/types.ts"
import type { TraceEvent } from "../core/io.ts"
import { canEraseKeys, eraseKeys } from "../reconfiguration/erase-keys.ts"
import { canInstallView, installView } from "../reconfiguration/install-view.ts"
import type { ReplicaReconfigState } from "../reconfiguration/replica-state.ts"
import type { KeyFile } from "./keystore.ts"
import { eraseKeyFile, KeyFileError, readKeyFile, writeKeyFile } from "./keystore.ts"

export const viewKeyFileName = (view: bigint): string => `view-${view}.key`
export const viewKeyFile = (dir: string, view: bigint): string => path.join(dir, viewKeyFileName(view))

const VIEW_KEY_FILE = /^view-(0|[1-9][0-9]*)\.key$/

/** The installing block is not durable yet: erasing now could lose the only key that signs for the view in force after a crash. */
export class InstallNotDurable extends Schema.TaggedError<InstallNotDurable>()("InstallNotDurable", {
  installHeight: Schema.BigIntFromSelf,
  durableHeight: Schema.BigIntFromSelf
}) {
  override get message(): string {
    return `the block installing the view (height ${this.installHeight}) is not durable (durable up to ${this.durableHeight})`
  }
}

/** Stores the private view key of view `view` (mode 0600, synced; refuses to overwrite). */
export const storeViewKey = (dir: string, replica: number, view: bigint, publicKey: Uint8Array, secretKey: Uint8Array) =>
  writeKeyFile(viewKeyFile(dir, view), { kind: "view", replica, view, publicKey, secretKey })

/** Reads the view key of view `view`; a missing or erased key is a KeyFileError. */
export const readViewKey = (dir: string, view: bigint): Effect.Effect<KeyFile, KeyFileError> =>
  Effect.flatMap(readKeyFile(viewKeyFile(dir, view)), (key) =>
    key.kind === "view" && key.view === view
      ? Effect.succeed(key)
      : Effect.fail(new KeyFileError({ path: viewKeyFile(dir, view), reason: `not the view key of view ${view}` }))
  )

/** The views whose key files exist in `dir`, ascending. */
export const listViewKeys = (dir: string): Effect.Effect<ReadonlyArray<bigint>, KeyFileError> =>
  Effect.tryPromise({
    try: () => fs.readdir(dir),
    catch: (e) => new KeyFileError({ path: dir, reason: `cannot list: ${String(e)}` })
  }).pipe(
    Effect.map((names) =>
      names
        .flatMap((n) => {
          const m = VIEW_KEY_FILE.exec(n)
          return m === null ? [] : [BigInt(m[1]!)]
        })
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    )
  )

/** Erases the key files of `views`; returns the views whose file existed. */
export const eraseViewKeys = (dir: string, views: ReadonlyArray<bigint>): Effect.Effect<ReadonlyArray<bigint>, KeyFileError> =>
  Effect.forEach(views, (v) => Effect.map(eraseKeyFile(viewKeyFile(dir, v)), (existed) => (existed ? [v] : [])), { concurrency: 1 }).pipe(
    Effect.map((r) => r.flat())
  )

export interface InstallViewKeysInput {
  readonly dir: string
  readonly local: ReplicaReconfigState
  /** The view installed by the block at `installHeight`. */
  readonly view: ViewRecord
  readonly installHeight: bigint
  /** Highest height whose block is synced to storage. */
  readonly durableHeight: bigint
  /** The new view has decided block installHeight + 1 (a leaving member waits for this). */
  readonly takenOver: boolean
  /** Erase superseded view keys. Off only in tests that reproduce the fork of plain BFT-SMaRt. */
  readonly erasure: boolean
}

export interface InstallViewKeysResult {
  readonly local: ReplicaReconfigState
  /** Views whose key files were erased. */
  readonly erased: ReadonlyArray<bigint>
  /** InstallView, then EraseKeys if it ran. */
  readonly events: ReadonlyArray<TraceEvent>
}

/**
 * InstallView then EraseKeys, with the key files. Fails with InstallNotDurable before the
 * installing block is durable; does nothing when InstallView is not enabled (already installed,
 * a view that does not include a replica that was never a member, or a leaver before the new
 * view has taken over).
 */
export const installViewKeys = (i: InstallViewKeysInput): Effect.Effect<InstallViewKeysResult, KeyFileError | InstallNotDurable> =>
  Effect.gen(function* () {
    if (i.durableHeight < i.installHeight)
      return yield* new InstallNotDurable({ installHeight: i.installHeight, durableHeight: i.durableHeight })
    if (!canInstallView(i.local, i.view, i.takenOver)) return { local: i.local, erased: [], events: [] }
    const installed = installView(i.local, i.view, i.erasure)
    const erased = [...(yield* eraseViewKeys(i.dir, installed.erase))]
    const events: Array<TraceEvent> = [installed.event]
    let local = installed.local
    if (canEraseKeys(local, i.erasure)) {
      const e = eraseKeys(local)
      erased.push(...(yield* eraseViewKeys(i.dir, e.erase)))
      events.push(e.event)
      local = e.local
    }
    return { local, erased, events }
  })
