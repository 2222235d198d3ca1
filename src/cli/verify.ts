/**
 * `smartchain verify <data-dir> --genesis <file>`: verifies a stored chain from genesis, block by
 * block, with a progress display. Prints the first problem (the height and why) and exits 1, or a
 * summary (blocks, transactions, views) when the whole chain verifies.
 *
 * Two kinds of problem are found: storage corruption (a block's bytes do not match their
 * checksum or the header hash the store recorded), reported by the BlockStore, and protocol
 * violations (bad link, bad root, missing or bad signatures, wrong view, ...), reported by the
 * chain verifier of src/chain/verify.ts.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Option, Schema } from "effect"
import * as fs from "node:fs/promises"
import { decodeGenesisJsonText } from "../chain/genesis-json.ts"
import type { Genesis } from "../chain/types.ts"
import { ChainVerifier, type ChainSummary } from "../chain/verify.ts"
import { BlockStore, BlockStoreLevel } from "../services/blockstore.ts"
import { nodeCrypto } from "../services/crypto.ts"
import { startProgress } from "./progress.ts"
import { failWith } from "./report.ts"

export class VerifyError extends Schema.TaggedError<VerifyError>()("VerifyError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

/** Reads and validates a genesis file; the error names the failing field. */
export const loadGenesis = (file: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => fs.readFile(file, "utf8"),
      catch: (e) => new VerifyError({ reason: `cannot read genesis file ${file}: ${String(e)}` })
    })
    return yield* Either.mapLeft(decodeGenesisJsonText(text), (e) => new VerifyError({ reason: `${file}: ${e.message}` }))
  })

/** Verifies the chain held by the BlockStore in context. Fails with the first problem found. */
export const verifyStoredChain = (genesis: Genesis, onProgress: (done: number, total: number) => void = () => {}) =>
  Effect.gen(function* () {
    const store = yield* BlockStore
    const head = yield* store.head()
    const headHeight = Option.match(head, { onNone: () => 0n, onSome: (h) => h.height })
    const total = Number(headHeight)
    const verifier = ChainVerifier.start(nodeCrypto, genesis)
    onProgress(0, total)
    for (let height = 1n; height <= headHeight; height++) {
      const block = yield* store.readBlock(height).pipe(Effect.mapError((e) => new VerifyError({ reason: `block ${height}: ${e.message}` })))
      const checked = verifier.next(block)
      if (Either.isLeft(checked)) return yield* new VerifyError({ reason: checked.left.message })
      onProgress(Number(height), total)
    }
    const headCertificate =
      headHeight > 0n && genesis.persistence === "strong"
        ? yield* store.readCertificate(headHeight).pipe(
            Effect.map(Option.some),
            Effect.catchTag("CertificateNotFound", () => Effect.succeed(Option.none())),
            Effect.mapError((e) => new VerifyError({ reason: `certificate of block ${headHeight}: ${e.message}` }))
          )
        : Option.none()
    const summary = verifier.finish(Option.getOrUndefined(headCertificate))
    if (Either.isLeft(summary)) return yield* new VerifyError({ reason: summary.left.message })
    return summary.right
  })

export const formatSummary = (s: ChainSummary): string =>
  [
    `chain verifies from genesis: ${s.blocks} blocks, ${s.transactions} transactions, ${s.views.length} view${s.views.length === 1 ? "" : "s"} (${s.views.join(", ")})`,
    `  head: height ${s.headHeight}, hash ${Buffer.from(s.headHash).toString("hex")}${s.headCertified ? ", certified" : ""}`,
    `  current view: ${s.currentViewId}, last reconfiguration at height ${s.lastReconfigHeight}`
  ].join("\n")

export const verifyCommand = Command.make(
  "verify",
  {
    dataDir: Args.directory({ name: "data-dir", exists: "yes" }).pipe(Args.withDescription("a replica's block store directory")),
    genesis: Options.file("genesis", { exists: "yes" }).pipe(Options.withDescription("the network's genesis.json"))
  },
  ({ dataDir, genesis: genesisFile }) =>
    Effect.gen(function* () {
      const genesis = yield* loadGenesis(genesisFile)
      let progress: ReturnType<typeof startProgress> | undefined
      const summary = yield* verifyStoredChain(genesis, (done, total) => {
        progress ??= startProgress("verifying", total)
        progress.update(done)
      }).pipe(
        Effect.ensuring(Effect.sync(() => progress?.stop())),
        Effect.provide(BlockStoreLevel(dataDir, nodeCrypto, { readOnly: true }))
      )
      yield* Console.log(formatSummary(summary))
    }).pipe(failWith)
).pipe(Command.withDescription("Verify a stored chain from genesis: links, roots, signatures, views and certificates."))
