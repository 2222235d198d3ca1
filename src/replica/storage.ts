/**
 * The storage side of the shell: performs the core's storage outputs on the BlockStore service,
 * loads what a restarting replica kept, and serves decided instances to peers from the store.
 * Shared by the Effect shell (./shell.ts) and the deterministic simulator (test/sim), which runs
 * the same code on the in-memory store with crash semantics.
 */
import { Effect, Option } from "effect"
import type { Certificate } from "../chain/types.ts"
import type { RewriteBlockOutput, WriteBlockOutput, WriteCertificateOutput, WriteRecordOutput } from "../core/io.ts"
import type { DurableContent } from "../persistence/restart.ts"
import { newestRecord } from "../persistence/consensus-record.ts"
import type { BlockStoreApi, DiskError, OutOfOrder, BlockNotFound, CertificateMismatch, CorruptBlock, InvalidRequest } from "../services/blockstore-core.ts"
import { readRangeBlocksMax } from "../services/blockstore-core.ts"
import type { DecidedInstance } from "../services/transport.ts"

export type StorageWrite = WriteBlockOutput | WriteCertificateOutput | WriteRecordOutput

export type StorageError = DiskError | OutOfOrder | BlockNotFound | CertificateMismatch | CorruptBlock | InvalidRequest

/** Stages one write of the core on the store (durable at the next sync). */
export const applyWrite = (store: BlockStoreApi, output: StorageWrite): Effect.Effect<void, StorageError> => {
  switch (output._tag) {
    case "WriteBlock": {
      const snapshot = output.snapshot
      const append = store.appendBlock(output.block)
      return snapshot === undefined ? append : Effect.zipRight(append, store.putSnapshot(output.block.header.height, snapshot.stateHash, snapshot.bytes))
    }
    case "WriteCertificate":
      return store.appendCertificate(output.certificate)
    case "WriteRecord":
      return store.putRecord(output.slot, output.bytes)
  }
}

/** Replaces the last written block: cuts storage from its height (durably) and writes it again. */
export const applyRewrite = (store: BlockStoreApi, output: RewriteBlockOutput): Effect.Effect<void, StorageError> =>
  Effect.zipRight(store.truncateFrom(output.block.header.height), applyWrite(store, { _tag: "WriteBlock", block: output.block, ...(output.snapshot === undefined ? {} : { snapshot: output.snapshot }) }))

/**
 * What a restarting replica kept: it cuts a torn or corrupt tail first (the store's tail check
 * finds it by checksum and header hash), then reads every block and certificate from height 1
 * and the newer consensus record. A certificate record that fails its check is dropped (its
 * block stays; the certificate can be collected again).
 */
export const loadDurable = (store: BlockStoreApi): Effect.Effect<DurableContent, DiskError | InvalidRequest> =>
  Effect.gen(function* () {
    let cutFrom: bigint | undefined
    const check = yield* store.startupCheck()
    if (Option.isSome(check.firstCorrupt) && check.firstCorrupt.value._tag === "CorruptBlock") {
      cutFrom = check.firstCorrupt.value.height
      yield* store.truncateFrom(cutFrom)
    }
    const head = yield* store.head().pipe(
      Effect.map(Option.map((h) => h.height)),
      Effect.catchTag("CorruptBlock", (e) => Effect.succeed(Option.some(e.height - 1n)))
    )
    const top = Option.getOrElse(head, () => 0n)
    const blocks: Array<DurableContent["blocks"][number]> = []
    const certificates: Array<Certificate> = []
    for (let h = 1n; h <= top; h++) {
      const block = yield* store.readBlock(h).pipe(Effect.option)
      if (Option.isNone(block)) {
        cutFrom = h
        yield* store.truncateFrom(h)
        break
      }
      blocks.push(block.value)
      const certificate = yield* store.readCertificate(h).pipe(Effect.option)
      if (Option.isSome(certificate)) certificates.push(certificate.value)
    }
    const record = newestRecord([yield* store.readRecord(0), yield* store.readRecord(1)])
    // The newest snapshot at or below the head (a damaged one is left unused: blocks replay instead).
    const latest = yield* store.latestSnapshot().pipe(Effect.catchTag("CorruptSnapshot", () => Effect.succeed(Option.none())))
    const snapshot =
      Option.isSome(latest) && latest.value.height <= BigInt(blocks.length)
        ? { height: latest.value.height, stateHash: latest.value.stateHash, snapshot: latest.value.bytes }
        : undefined
    return { blocks, certificates, record, ...(cutFrom === undefined ? {} : { cutFrom }), ...(snapshot === undefined ? {} : { snapshot }) }
  })

/**
 * Decided instances from `fromCid` on, read from the store (at most `max`), each with its block's
 * certificate when the store has it (its own record, or the next block's copy).
 */
export const serveDecided = (store: BlockStoreApi, fromCid: bigint, max: number): Effect.Effect<ReadonlyArray<DecidedInstance>> =>
  Effect.gen(function* () {
    const head = yield* store.head().pipe(Effect.option, Effect.map((o) => Option.flatten(o)))
    if (Option.isNone(head) || fromCid < 1n || fromCid > head.value.height) return []
    const to = head.value.height < fromCid + BigInt(max) - 1n ? head.value.height : fromCid + BigInt(max) - 1n
    const count = Number(to - fromCid + 1n)
    const blocks = yield* store.readRange(fromCid, fromCid + BigInt(Math.min(count, readRangeBlocksMax)) - 1n).pipe(Effect.option)
    if (Option.isNone(blocks)) return []
    const out: Array<DecidedInstance> = []
    for (let i = 0; i < blocks.value.length; i++) {
      const block = blocks.value[i]!
      const next = blocks.value[i + 1]
      let certificate: Certificate | undefined =
        next !== undefined && next.prevCertificate._tag === "Some" ? next.prevCertificate.value : undefined
      if (certificate === undefined) certificate = Option.getOrUndefined(yield* store.readCertificate(block.header.height).pipe(Effect.option))
      out.push(certificate === undefined ? { batch: block.transactions, proof: block.decision } : { batch: block.transactions, proof: block.decision, certificate })
    }
    return out
  })
