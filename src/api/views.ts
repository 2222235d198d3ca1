/**
 * The JSON of GET /views?after=<id>: the certified reconfiguration blocks a replica holds after
 * view `after`, each as a client learns the view it installed (src/client/views.ts,
 * src/reconfiguration/view-tracker.ts): the block's header, its certificate (q COMMITs of the view
 * before; strong mode, null until the replica holds it), the new view record, and the record's
 * Merkle proof as the last leaf of the header's resultsRoot.
 *
 *   { "current": view, "installedAt": "h", "height": "H", "changes": [ { header, certificate,
 *     newView, proof: { index, leafCount, siblings } } ] }
 *
 * `height` is what the replica vouches for: it executed every block up to it, and the changes
 * listed are every view change up to it (fewer when the list was cut at `viewChangesMax`: then the
 * height of the last one listed).
 *
 * `viewChangesJson` builds it from the replica's view history and blocks; `decodeViewChanges`
 * reads it back (a client never trusts it: each change is checked before it teaches anything).
 */
import { Effect, Either, Option, Schema } from "effect"
import { toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { U64FromDecimal, ViewRecordJson } from "../chain/genesis-json.ts"
import { resultLeaves } from "../chain/reply.ts"
import { merkleProof } from "../chain/merkle.ts"
import type { ViewRecord } from "../chain/types.ts"
import type { ChainView } from "../node/chain.ts"
import type { CertifiedViewChange } from "../reconfiguration/view-tracker.ts"
import { CertificateJson, certificateJson, HeaderJson, headerJson, MerklePathJson, viewJson } from "./json.ts"

/** A view the replica's chain installed, and the height of the block that did (0n: genesis's). */
export interface InstalledView {
  readonly record: ViewRecord
  readonly installedAt: bigint
}

/** Most view changes one answer carries; a client asks again from the last one it learned. */
export const viewChangesMax = 64

/** The answer to GET /views?after=`after`, from the replica's view history and stored blocks. */
export const viewChangesJson = (crypto: ChainCrypto, chain: ChainView, history: ReadonlyArray<InstalledView>, after: bigint) =>
  Effect.gen(function* () {
    const changes: Array<unknown> = []
    let height = chain.height()
    for (const entry of history) {
      if (entry.installedAt === 0n || entry.record.id <= after) continue
      if (changes.length >= viewChangesMax) {
        height = history[history.indexOf(entry) - 1]!.installedAt
        break
      }
      const block = yield* chain.block(entry.installedAt)
      if (block === undefined || Option.isNone(block.newView)) {
        height = entry.installedAt - 1n
        break
      }
      const certificate = yield* chain.certificate(entry.installedAt)
      const leaves = resultLeaves(crypto, block)
      changes.push({
        header: headerJson(block.header),
        certificate: certificate === undefined ? null : certificateJson(certificate),
        newView: viewJson(block.newView.value),
        proof: { index: leaves.length - 1, leafCount: leaves.length, siblings: merkleProof(crypto, leaves, leaves.length - 1).map(toHex) }
      })
    }
    const current = history[history.length - 1]
    return {
      current: current === undefined ? null : viewJson(current.record),
      installedAt: (current?.installedAt ?? 0n).toString(),
      height: height.toString(),
      changes
    }
  })

const U32 = Schema.Number.pipe(Schema.int(), Schema.between(0, 0xffff_ffff))

const ViewChangeJson = Schema.Struct({
  header: HeaderJson,
  certificate: Schema.NullOr(CertificateJson),
  newView: ViewRecordJson,
  proof: Schema.Struct({ index: U32, leafCount: U32, siblings: MerklePathJson })
})

export const ViewChangesJson = Schema.Struct({
  current: Schema.NullOr(ViewRecordJson),
  installedAt: U64FromDecimal,
  height: U64FromDecimal,
  changes: Schema.Array(ViewChangeJson).pipe(Schema.maxItems(viewChangesMax))
})

/**
 * The view changes of an answer that carry a certificate (only those can teach a client a view),
 * and the height the replica vouches for.
 */
export const decodeViewChanges = (json: unknown): Either.Either<{ readonly changes: ReadonlyArray<CertifiedViewChange>; readonly height: bigint }, string> =>
  Either.map(Either.mapLeft(Schema.decodeUnknownEither(ViewChangesJson)(json), (e) => e.message), (answer) => ({
    height: answer.height,
    changes: answer.changes.flatMap((c): Array<CertifiedViewChange> =>
      c.certificate === null ? [] : [{ header: c.header, certificate: c.certificate, newView: c.newView, proof: c.proof }]
    )
  }))
