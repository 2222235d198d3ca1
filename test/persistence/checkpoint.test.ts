// Establishes: checkpoint heights and header state hashes follow the K rule; a checkpoint's
// snapshot restores only to a state with the expected hash (typed errors otherwise); restart
// restores the highest usable snapshot and replays the rest; pruning keeps the newest checkpoints
// and every block from the oldest kept one.
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { appContext } from "../../src/app/application.ts"
import { kvApp, putOp } from "../../src/app/kv.ts"
import type { KvState } from "../../src/app/kv.ts"
import { portableCrypto as crypto } from "../../src/chain/crypto.ts"
import {
  checkpointHeightAt,
  headerConfirmsCheckpoint,
  headerStateHash,
  isCheckpointHeight,
  noStateHash,
  prunePlan,
  restartPlan,
  restoreCheckpoint,
  takeCheckpoint
} from "../../src/persistence/checkpoint.ts"
import { buildChain } from "../support/chain-builder.ts"

const chain = buildChain({ blocks: 1 })
const genesis = chain.genesis
const utf8 = (s: string) => new TextEncoder().encode(s)

/** The kv state after `count` puts, one per block. */
const kvStateAfter = (count: number): KvState => {
  let state = kvApp.initial(genesis)
  for (let i = 1; i <= count; i++) {
    const tx = { client: chain.clients[0]!.publicKey, seq: BigInt(i), op: putOp(utf8(`k${i}`), utf8(`v${i}`)), signature: new Uint8Array(64) }
    state = kvApp.executeBatch(state, appContext(crypto, genesis, BigInt(i)), [tx]).state
  }
  return state
}

describe("checkpoint heights", () => {
  it("every positive multiple of K is a checkpoint; K = 0 disables them", () => {
    expect([0n, 1n, 9n, 10n, 20n, 25n].map((h) => isCheckpointHeight(h, 10))).toEqual([false, false, false, true, true, false])
    expect(isCheckpointHeight(100n, 0)).toBe(false)
    expect(checkpointHeightAt(123n, 0)).toBe(0n)
  })

  it("checkpointHeightAt(h) is the last checkpoint at or below h (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.integer({ min: 1, max: 1000 }), (h, k) => {
        const c = checkpointHeightAt(h, k)
        expect(c <= h && h - c < BigInt(k)).toBe(true)
        expect(c === 0n || isCheckpointHeight(c, k)).toBe(true)
      })
    )
  })

  it("a header carries the state hash on checkpoint blocks and 32 zero bytes on the others", () => {
    const state = kvStateAfter(3)
    expect(headerStateHash(kvApp, crypto, 10n, 5, state)).toEqual(kvApp.stateHash(crypto, state))
    expect(headerStateHash(kvApp, crypto, 11n, 5, state)).toEqual(noStateHash)
    expect(noStateHash).toEqual(new Uint8Array(32))
  })
})

describe("checkpoint snapshots", () => {
  const state = kvStateAfter(4)
  const checkpoint = takeCheckpoint(kvApp, crypto, 4n, state)

  it("a checkpoint restores to an equal state with the same hash", () => {
    const restored = restoreCheckpoint(kvApp, crypto, 4n, checkpoint.snapshot, checkpoint.stateHash)
    expect(Either.isRight(restored)).toBe(true)
    expect(kvApp.snapshot(Either.getOrThrow(restored))).toEqual(checkpoint.snapshot)
    expect(checkpoint.stateHash).toEqual(kvApp.stateHash(crypto, state))
  })

  it("another state's snapshot gives SnapshotMismatch; bytes that are no snapshot give the app's AppError", () => {
    const other = takeCheckpoint(kvApp, crypto, 4n, kvStateAfter(3))
    const wrong = restoreCheckpoint(kvApp, crypto, 4n, other.snapshot, checkpoint.stateHash)
    expect(Either.isLeft(wrong) && wrong.left._tag).toBe("SnapshotMismatch")
    const garbage = restoreCheckpoint(kvApp, crypto, 4n, checkpoint.snapshot.subarray(0, 10), checkpoint.stateHash)
    expect(Either.isLeft(garbage) && garbage.left._tag).toBe("AppError")
  })

  it("a header confirms a checkpoint only at its own height, as a checkpoint block, with the same state hash", () => {
    const header = { ...chain.blocks[0]!.header, height: 4n, lastCheckpointHeight: 4n, stateHash: checkpoint.stateHash }
    expect(headerConfirmsCheckpoint(header, 4n, checkpoint.stateHash)).toBe(true)
    expect(headerConfirmsCheckpoint({ ...header, lastCheckpointHeight: 0n }, 4n, checkpoint.stateHash)).toBe(false)
    expect(headerConfirmsCheckpoint(header, 5n, checkpoint.stateHash)).toBe(false)
    expect(headerConfirmsCheckpoint(header, 4n, noStateHash)).toBe(false)
  })
})

describe("restart and pruning", () => {
  it("restart restores the highest snapshot at or below the head and replays the blocks after it", () => {
    expect(restartPlan([], 7n)).toEqual({ restoreHeight: 0n, replayFrom: 1n, replayTo: 7n })
    expect(restartPlan([10n, 20n, 30n], 29n)).toEqual({ restoreHeight: 20n, replayFrom: 21n, replayTo: 29n })
    expect(restartPlan([10n, 20n], 20n)).toEqual({ restoreHeight: 20n, replayFrom: 21n, replayTo: 20n })
  })

  it("restart plans never use a snapshot above the head and replay exactly the blocks after the one used (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 1n, max: 200n }), { maxLength: 8 }), fc.bigInt({ min: 0n, max: 200n }), (snaps, head) => {
        const plan = restartPlan(snaps, head)
        expect(plan.restoreHeight <= head).toBe(true)
        expect(plan.restoreHeight === 0n || snaps.includes(plan.restoreHeight)).toBe(true)
        expect(snaps.some((s) => s <= head && s > plan.restoreHeight)).toBe(false)
        expect(plan.replayFrom).toBe(plan.restoreHeight + 1n)
        expect(plan.replayTo).toBe(head)
      })
    )
  })

  it("pruning keeps the newest snapshots and every block from the oldest kept one; too few snapshots prune nothing", () => {
    expect(prunePlan([10n, 20n, 30n], 35n)).toEqual({ snapshotsBelow: 20n, blocksBelow: 20n })
    expect(prunePlan([10n, 20n, 30n], 35n, 1)).toEqual({ snapshotsBelow: 30n, blocksBelow: 30n })
    expect(prunePlan([10n, 20n, 30n], 25n)).toEqual({ snapshotsBelow: 10n, blocksBelow: 10n })
    expect(prunePlan([10n], 35n)).toEqual({ snapshotsBelow: 0n, blocksBelow: 0n })
  })

  it("after pruning, the restart plan still finds its snapshot and every block it replays (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 1n, max: 200n }), { maxLength: 8 }), fc.bigInt({ min: 0n, max: 200n }), fc.integer({ min: 1, max: 4 }), (snaps, head, keep) => {
        const prune = prunePlan(snaps, head, keep)
        const kept = snaps.filter((s) => s >= prune.snapshotsBelow)
        const plan = restartPlan(kept, head)
        expect(plan).toEqual(restartPlan(snaps, head))
        expect(plan.restoreHeight >= prune.blocksBelow).toBe(true)
      })
    )
  })
})
