/**
 * The contract every BlockStore layer must meet, run against each of them (see
 * blockstore-memory.test.ts and blockstore-level.test.ts). A harness opens a fresh store and
 * provides the disruptions a test needs: a restart that loses what was not synced, a flipped byte
 * in a stored record, a record copied under another height's key, and a restart after a torn write.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Scope } from "effect"
import type { ChainCrypto } from "../../src/chain/crypto.ts"
import { encodeBlock, encodeCertificate } from "../../src/chain/encoding.ts"
import { headerHash } from "../../src/chain/hash.ts"
import type { Block, Certificate } from "../../src/chain/types.ts"
import type { BlockStoreApi, RecordKind } from "../../src/services/blockstore.ts"
import { readRangeBlocksMax } from "../../src/services/blockstore.ts"
import { buildChain } from "../support/chain-builder.ts"

export interface StoreHandle {
  /** The store as currently open (a restart replaces it). */
  readonly store: () => BlockStoreApi
  /** Loses everything not synced and opens the store again. */
  readonly restart: () => Effect.Effect<void, unknown>
  /** Flips one byte of the stored record, then opens the store again. */
  readonly flipByte: (kind: RecordKind, height: bigint) => Effect.Effect<void, unknown>
  /** Writes the stored record of height `from` under the key of height `to`, then opens the store again. */
  readonly copyRecord: (kind: RecordKind, from: bigint, to: bigint) => Effect.Effect<void, unknown>
  /**
   * Restarts after a crash in which the last unsynced write, the index record of `block` (just
   * appended, not synced), reached the disk torn.
   */
  readonly tornRestart: (block: Block) => Effect.Effect<void, unknown>
}

export interface StoreHarness {
  readonly name: string
  readonly crypto: ChainCrypto
  /** A fresh, empty store; everything it holds is released with the scope. */
  readonly open: () => Effect.Effect<StoreHandle, unknown, Scope.Scope>
}

/** A valid strong-mode chain: 12 blocks of 3 transactions, a view change at 6, every block certified. */
export const chain = buildChain({ persistence: "strong", blocks: 12, txPerBlock: 3, viewChangeAt: 6 })
export const blockAt = (h: number): Block => chain.blocks[h - 1]!
export const certificateAt = (h: number): Certificate => chain.certificates[h - 1]!

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
export const sameBlock = (a: Block, b: Block): void => expect(hex(encodeBlock(a))).toBe(hex(encodeBlock(b)))

/** Appends blocks from..to (and their certificates when `certify`), without syncing. */
export const appendBlocks = (store: BlockStoreApi, from: number, to: number, certify = false) =>
  Effect.gen(function* () {
    for (let h = from; h <= to; h++) {
      yield* store.appendBlock(blockAt(h))
      if (certify) yield* store.appendCertificate(certificateAt(h))
    }
  })

const headHeight = (store: BlockStoreApi) =>
  Effect.map(store.head(), Option.match({ onNone: () => 0n, onSome: (h) => h.height }))

export const blockStoreContract = (harness: StoreHarness): void => {
  describe(`BlockStore contract: ${harness.name}`, () => {
    it.scoped("an empty store has no head, no blocks, no certificates and no snapshots", () =>
      Effect.gen(function* () {
        const { store } = yield* harness.open()
        expect(Option.isNone(yield* store().head())).toBe(true)
        expect((yield* Effect.flip(store().readBlock(1n)))._tag).toBe("BlockNotFound")
        expect((yield* Effect.flip(store().readCertificate(1n)))._tag).toBe("CertificateNotFound")
        expect(Option.isNone(yield* store().latestSnapshot())).toBe(true)
        const check = yield* store().startupCheck()
        expect(check.head).toBe(0n)
        expect(Option.isNone(check.firstCorrupt)).toBe(true)
      })
    )

    it.scoped("blocks append at head + 1 only; others fail OutOfOrder naming the expected height", () =>
      Effect.gen(function* () {
        const { store } = yield* harness.open()
        const early = yield* Effect.flip(store().appendBlock(blockAt(2)))
        expect(early).toMatchObject({ _tag: "OutOfOrder", expected: 1n, got: 2n })
        yield* appendBlocks(store(), 1, 3)
        const again = yield* Effect.flip(store().appendBlock(blockAt(3)))
        expect(again).toMatchObject({ _tag: "OutOfOrder", expected: 4n, got: 3n })
        const skip = yield* Effect.flip(store().appendBlock(blockAt(5)))
        expect(skip).toMatchObject({ _tag: "OutOfOrder", expected: 4n, got: 5n })
        expect(yield* headHeight(store())).toBe(3n)
      })
    )

    it.scoped("appended blocks read back byte-identical, before and after sync; head carries the header hash", () =>
      Effect.gen(function* () {
        const { store } = yield* harness.open()
        yield* appendBlocks(store(), 1, 4)
        for (let h = 1; h <= 4; h++) sameBlock(yield* store().readBlock(BigInt(h)), blockAt(h))
        yield* store().sync()
        for (let h = 1; h <= 4; h++) sameBlock(yield* store().readBlock(BigInt(h)), blockAt(h))
        const head = Option.getOrThrow(yield* store().head())
        expect(head.height).toBe(4n)
        expect(hex(head.headerHash)).toBe(hex(headerHash(harness.crypto, blockAt(4).header)))
        expect((yield* Effect.flip(store().readBlock(5n)))._tag).toBe("BlockNotFound")
        expect((yield* Effect.flip(store().readBlock(0n)))._tag).toBe("BlockNotFound")
      })
    )

    it.scoped("readRange is inclusive and bounded; bad ranges are refused with typed errors", () =>
      Effect.gen(function* () {
        const { store } = yield* harness.open()
        yield* appendBlocks(store(), 1, 8)
        yield* store().sync()
        const range = yield* store().readRange(3n, 6n)
        expect(range.map((b) => b.header.height)).toEqual([3n, 4n, 5n, 6n])
        range.forEach((b, i) => sameBlock(b, blockAt(3 + i)))
        expect((yield* store().readRange(8n, 8n)).length).toBe(1)
        expect((yield* Effect.flip(store().readRange(5n, 4n)))._tag).toBe("InvalidRequest")
        expect((yield* Effect.flip(store().readRange(0n, 2n)))._tag).toBe("InvalidRequest")
        expect(yield* Effect.flip(store().readRange(7n, 9n))).toMatchObject({ _tag: "BlockNotFound", height: 9n })
        const tooMany = yield* Effect.flip(store().readRange(1n, BigInt(readRangeBlocksMax) + 1n))
        expect(tooMany._tag).toBe("InvalidRequest")
      })
    )

    it.scoped("certificates attach to stored blocks only, must match the stored header hash, and read back", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        const store = h.store
        yield* appendBlocks(store(), 1, 3)
        yield* store().appendCertificate(certificateAt(2))
        const read = yield* store().readCertificate(2n)
        expect(hex(encodeCertificate(read))).toBe(hex(encodeCertificate(certificateAt(2))))
        expect((yield* Effect.flip(store().readCertificate(1n)))._tag).toBe("CertificateNotFound")
        expect(yield* Effect.flip(store().appendCertificate(certificateAt(4)))).toMatchObject({ _tag: "BlockNotFound", height: 4n })
        const wrong = { ...certificateAt(3), headerHash: certificateAt(2).headerHash }
        expect(yield* Effect.flip(store().appendCertificate(wrong))).toMatchObject({ _tag: "CertificateMismatch", height: 3n })
        yield* store().sync()
        yield* h.restart()
        expect(hex(encodeCertificate(yield* store().readCertificate(2n)))).toBe(hex(encodeCertificate(certificateAt(2))))
      })
    )

    it.scoped("snapshots store a state hash and bytes; the latest is the highest height; bad hashes are refused", () =>
      Effect.gen(function* () {
        const { store } = yield* harness.open()
        yield* appendBlocks(store(), 1, 6)
        const stateHash = (n: number) => new Uint8Array(32).fill(n)
        yield* store().putSnapshot(2n, stateHash(2), new Uint8Array([1, 2, 3]))
        yield* store().putSnapshot(5n, stateHash(5), new Uint8Array(5000).fill(7))
        yield* store().putSnapshot(4n, stateHash(4), new Uint8Array(0))
        yield* store().sync()
        const two = yield* store().readSnapshot(2n)
        expect(hex(two.stateHash)).toBe(hex(stateHash(2)))
        expect([...two.bytes]).toEqual([1, 2, 3])
        expect((yield* store().readSnapshot(4n)).bytes.length).toBe(0)
        const latest = Option.getOrThrow(yield* store().latestSnapshot())
        expect(latest.height).toBe(5n)
        expect(latest.bytes.length).toBe(5000)
        expect((yield* Effect.flip(store().readSnapshot(3n)))._tag).toBe("SnapshotNotFound")
        expect((yield* Effect.flip(store().putSnapshot(6n, new Uint8Array(31), new Uint8Array(1))))._tag).toBe("InvalidRequest")
      })
    )

    it.scoped("what was synced survives a restart; what was appended after the last sync is lost", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 5, true)
        yield* h.store().putSnapshot(5n, new Uint8Array(32).fill(5), new Uint8Array([5]))
        yield* h.store().sync()
        yield* appendBlocks(h.store(), 6, 7, true)
        yield* h.store().putSnapshot(7n, new Uint8Array(32).fill(7), new Uint8Array([7]))
        expect(yield* headHeight(h.store())).toBe(7n)
        yield* h.restart()
        const head = Option.getOrThrow(yield* h.store().head())
        expect(head.height).toBe(5n)
        expect(hex(head.headerHash)).toBe(hex(headerHash(harness.crypto, blockAt(5).header)))
        for (let i = 1; i <= 5; i++) sameBlock(yield* h.store().readBlock(BigInt(i)), blockAt(i))
        expect(hex(encodeCertificate(yield* h.store().readCertificate(5n)))).toBe(hex(encodeCertificate(certificateAt(5))))
        expect((yield* Effect.flip(h.store().readBlock(6n)))._tag).toBe("BlockNotFound")
        expect((yield* Effect.flip(h.store().readCertificate(6n)))._tag).toBe("CertificateNotFound")
        expect(Option.getOrThrow(yield* h.store().latestSnapshot()).height).toBe(5n)
        expect(Option.isNone((yield* h.store().startupCheck()).firstCorrupt)).toBe(true)
        // The lost blocks can be appended again.
        yield* appendBlocks(h.store(), 6, 7)
        yield* h.store().sync()
        yield* h.restart()
        expect(yield* headHeight(h.store())).toBe(7n)
      })
    )

    it.scoped("one sync makes every append before it durable (group commit)", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 8, true)
        yield* h.store().sync()
        yield* h.restart()
        expect(yield* headHeight(h.store())).toBe(8n)
        const all = yield* h.store().readRange(1n, 8n)
        all.forEach((b, i) => sameBlock(b, blockAt(i + 1)))
      })
    )

    it.scoped("a torn write of the last record is reported as corruption at its height, and truncateFrom cuts it", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 4, true)
        yield* h.store().sync()
        yield* h.store().appendBlock(blockAt(5))
        yield* h.tornRestart(blockAt(5))
        const check = yield* h.store().startupCheck()
        expect(check.head).toBe(5n)
        expect(Option.getOrThrow(check.firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 5n })
        expect(yield* Effect.flip(h.store().readBlock(5n))).toMatchObject({ _tag: "CorruptBlock", height: 5n })
        expect(yield* Effect.flip(h.store().head())).toMatchObject({ _tag: "CorruptBlock", height: 5n })
        sameBlock(yield* h.store().readBlock(4n), blockAt(4))
        yield* h.store().truncateFrom(5n)
        expect(yield* headHeight(h.store())).toBe(4n)
        yield* h.restart()
        expect(yield* headHeight(h.store())).toBe(4n)
        expect(Option.isNone((yield* h.store().startupCheck()).firstCorrupt)).toBe(true)
        yield* h.store().appendBlock(blockAt(5))
        yield* h.store().sync()
        sameBlock(yield* h.store().readBlock(5n), blockAt(5))
      })
    )

    it.scoped("a flipped byte in a stored block is reported as CorruptBlock at that height, never returned", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 6, true)
        yield* h.store().sync()
        yield* h.flipByte("block", 3n)
        expect(yield* Effect.flip(h.store().readBlock(3n))).toMatchObject({ _tag: "CorruptBlock", height: 3n })
        expect(yield* Effect.flip(h.store().readRange(1n, 6n))).toMatchObject({ _tag: "CorruptBlock", height: 3n })
        sameBlock(yield* h.store().readBlock(2n), blockAt(2))
        sameBlock(yield* h.store().readBlock(4n), blockAt(4))
        const check = yield* h.store().checkTail(10)
        expect(check.checked).toBe(6)
        expect(Option.getOrThrow(check.firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 3n })
      })
    )

    it.scoped("flipped bytes in an index entry, a certificate or a snapshot are reported with their height", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 6, true)
        yield* h.store().putSnapshot(4n, new Uint8Array(32).fill(4), new Uint8Array(100).fill(4))
        yield* h.store().sync()
        yield* h.flipByte("index", 2n)
        yield* h.flipByte("certificate", 5n)
        yield* h.flipByte("snapshot", 4n)
        expect(yield* Effect.flip(h.store().readBlock(2n))).toMatchObject({ _tag: "CorruptBlock", height: 2n })
        expect(yield* Effect.flip(h.store().readCertificate(5n))).toMatchObject({ _tag: "CorruptCertificate", height: 5n })
        expect(yield* Effect.flip(h.store().readSnapshot(4n))).toMatchObject({ _tag: "CorruptSnapshot", height: 4n })
        expect(yield* Effect.flip(h.store().latestSnapshot())).toMatchObject({ _tag: "CorruptSnapshot", height: 4n })
        const check = yield* h.store().checkTail(4)
        expect(Option.getOrThrow(check.firstCorrupt)).toMatchObject({ _tag: "CorruptCertificate", height: 5n })
        expect(Option.getOrThrow((yield* h.store().checkTail(6)).firstCorrupt)).toMatchObject({ _tag: "CorruptBlock", height: 2n })
      })
    )

    it.scoped("an intact record stored under the wrong height fails the index check", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 4, true)
        yield* h.store().sync()
        yield* h.copyRecord("block", 2n, 3n)
        yield* h.copyRecord("certificate", 1n, 4n)
        const block = yield* Effect.flip(h.store().readBlock(3n))
        expect(block).toMatchObject({ _tag: "CorruptBlock", height: 3n })
        expect(block.message).toContain("block 2")
        expect(yield* Effect.flip(h.store().readCertificate(4n))).toMatchObject({ _tag: "CorruptCertificate", height: 4n })
        // Same height and checksum but another block's header: only the index can tell.
        yield* h.copyRecord("index", 1n, 2n)
        const indexed = yield* Effect.flip(h.store().readBlock(2n))
        expect(indexed).toMatchObject({ _tag: "CorruptBlock", height: 2n })
        expect(indexed.message).toContain("index")
      })
    )

    it.scoped("truncateFrom removes blocks, certificates and snapshots from a height on, durably", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 8, true)
        yield* h.store().putSnapshot(3n, new Uint8Array(32).fill(3), new Uint8Array([3]))
        yield* h.store().putSnapshot(6n, new Uint8Array(32).fill(6), new Uint8Array([6]))
        yield* h.store().sync()
        yield* appendBlocks(h.store(), 9, 10, true)
        yield* h.store().truncateFrom(6n)
        const head = Option.getOrThrow(yield* h.store().head())
        expect(head.height).toBe(5n)
        expect(hex(head.headerHash)).toBe(hex(headerHash(harness.crypto, blockAt(5).header)))
        expect((yield* Effect.flip(h.store().readBlock(6n)))._tag).toBe("BlockNotFound")
        expect(Option.getOrThrow(yield* h.store().latestSnapshot()).height).toBe(3n)
        yield* h.restart()
        expect(yield* headHeight(h.store())).toBe(5n)
        expect((yield* Effect.flip(h.store().readCertificate(6n)))._tag).toBe("CertificateNotFound")
        expect(Option.getOrThrow(yield* h.store().latestSnapshot()).height).toBe(3n)
        // The chain continues from the cut, and no old certificate reattaches to the new block 6.
        yield* h.store().appendBlock(blockAt(6))
        expect((yield* Effect.flip(h.store().readCertificate(6n)))._tag).toBe("CertificateNotFound")
        expect((yield* Effect.flip(h.store().truncateFrom(0n)))._tag).toBe("InvalidRequest")
        yield* h.store().truncateFrom(50n)
        expect(yield* headHeight(h.store())).toBe(6n)
        yield* h.store().truncateFrom(1n)
        expect(Option.isNone(yield* h.store().head())).toBe(true)
      })
    )

    it.scoped("after close every call fails with DiskError", () =>
      Effect.gen(function* () {
        const h = yield* harness.open()
        yield* appendBlocks(h.store(), 1, 2)
        yield* h.store().sync()
        yield* h.store().close()
        expect((yield* Effect.flip(h.store().readBlock(1n)))._tag).toBe("DiskError")
        expect((yield* Effect.flip(h.store().appendBlock(blockAt(3))))._tag).toBe("DiskError")
        expect((yield* Effect.flip(h.store().sync()))._tag).toBe("DiskError")
        yield* h.store().close()
      })
    )
  })
}
