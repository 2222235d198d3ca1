/**
 * The committed spec behaviours (conformance/behaviours/*.json): what scripts/gen-behaviours.ts
 * writes from a TLC behaviour of conformance/GenBehaviours.tla, and what the replay test reads.
 *
 * Replicas are 0-based here (the spec's replica r is r - 1), transactions are the spec's tx ids,
 * and a batch is the sorted list of the tx ids of its client transactions.
 */
import { Either, ParseResult, Schema } from "effect"

const Int = Schema.Int
/**
 * A batch: the sorted tx ids of its client transactions, then its membership requests as labels
 * (`join:j`, `leave:j`, `remove:by:target`, `rotate:j:view`, replicas 0-based), sorted.
 */
const Batch = Schema.Array(Schema.Union(Int, Schema.String))

/** One replica's state after a step, as far as the replay compares it. */
export const ReplicaView = Schema.Struct({
  /** chain[r]: the batch of each decided cid, from cid 1. */
  chain: Schema.Array(Batch),
  regency: Int,
  /** Whether it runs the normal case (FALSE from StopData until Resume). */
  active: Schema.Boolean,
  /** Its last ACCEPT in the open cid: the regency (-1: none) and the batch. */
  vote: Schema.Struct({ regency: Int, batch: Batch }),
  /** The (regency, batch) pairs it wrote or accepted in the open cid, sorted. */
  written: Schema.Array(Schema.Tuple(Int, Batch)),
  /** Persistence: blocks written, synced, and certified (strong mode); whether it is running. */
  wrote: Int,
  dur: Int,
  certH: Int,
  up: Schema.Boolean,
  /** Its last durable checkpoint height (spec: ckpt); absent in files written before it was recorded. */
  ckpt: Schema.optional(Int),
  /** Reconfiguration behaviours only: the installed view id (-1: none yet), the ids of the views it holds keys of, whether it left. */
  view: Schema.optional(Int),
  keys: Schema.optional(Schema.Array(Int)),
  left: Schema.optional(Schema.Boolean)
})
export type ReplicaView = typeof ReplicaView.Type

/** A message a step added to the spec's msgs. */
const ordering = { from: Int, cid: Int, regency: Int, batch: Batch }
export const SentMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("PROPOSE"), ...ordering }),
  Schema.Struct({ type: Schema.Literal("WRITE"), ...ordering }),
  Schema.Struct({ type: Schema.Literal("ACCEPT"), ...ordering }),
  Schema.Struct({ type: Schema.Literal("STOP"), from: Int, regency: Int }),
  Schema.Struct({
    type: Schema.Literal("STOPDATA"),
    from: Int,
    regency: Int,
    lastDecided: Int,
    accepted: Schema.Struct({ regency: Int, batch: Batch }),
    written: Schema.Array(Schema.Tuple(Int, Batch))
  }),
  Schema.Struct({ type: Schema.Literal("SYNC"), from: Int, regency: Int, cid: Int, batch: Batch, bound: Schema.Boolean }),
  /** Strong mode: a signed COMMIT on block `height` (whose batch is `batch`). */
  Schema.Struct({ type: Schema.Literal("COMMIT"), from: Int, height: Int, batch: Batch }),
  /** The reply to transaction `tx`, decided in block `height`. */
  Schema.Struct({ type: Schema.Literal("REPLY"), from: Int, tx: Int, height: Int })
)
export type SentMessage = typeof SentMessage.Type

export const ProtocolActionName = Schema.Literal(
  "Propose",
  "Write",
  "Accept",
  "Decide",
  "Stop",
  "StopData",
  "Sync",
  "Resume",
  "PersistBlock",
  "SyncBlocks",
  "Commit",
  "Certify",
  "ReleaseReply",
  "Checkpoint",
  "Crash",
  "Restart",
  "StateTransfer",
  "RequestJoin",
  "RequestLeave",
  "Rotate",
  "InstallView",
  "EraseKeys"
)

export const Step = Schema.Union(
  Schema.Struct({ action: Schema.Literal("Submit"), tx: Int, sent: Schema.Array(SentMessage), post: Schema.Array(ReplicaView) }),
  Schema.Struct({ action: ProtocolActionName, replica: Int, sent: Schema.Array(SentMessage), post: Schema.Array(ReplicaView) }),
  /** Every running replica crashes at once. */
  Schema.Struct({ action: Schema.Literal("CrashAll"), sent: Schema.Array(SentMessage), post: Schema.Array(ReplicaView) })
)
export type Step = typeof Step.Type

export const Behaviour = Schema.Struct({
  goal: Schema.String,
  /** How the file was made (tool, module, seed), for a reader. */
  source: Schema.String,
  /** The spec's persistence mode (Mode). */
  mode: Schema.Literal("memory", "weak", "strong"),
  replicas: Int,
  /** The spec's BatchMax: most transactions in a batch. */
  batchMax: Int,
  /** The spec's CheckpointInterval, which the replay gives the implementation (absent: its default). */
  checkpointInterval: Schema.optional(Int),
  /** Reconfiguration behaviours: replicas 0 .. members - 1 form genesis's view, the others are joiners on the allow-list. */
  members: Schema.optional(Int),
  /** The spec's RotationWindow (reconfiguration behaviours), which the replay gives the implementation. */
  rotationWindow: Schema.optional(Int),
  txs: Schema.Array(Int),
  steps: Schema.Array(Step)
})
export type Behaviour = typeof Behaviour.Type

/** A behaviour file that is not valid JSON or does not have the shape above. */
export class BehaviourDecodeError extends Schema.TaggedError<BehaviourDecodeError>()("BehaviourDecodeError", {
  file: Schema.String,
  reason: Schema.String
}) {}

export const decodeBehaviour = (file: string, text: string): Either.Either<Behaviour, BehaviourDecodeError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(new BehaviourDecodeError({ file, reason: `not JSON: ${String(e)}` }))
  }
  return Schema.decodeUnknownEither(Behaviour)(json).pipe(
    Either.mapLeft((e) => new BehaviourDecodeError({ file, reason: ParseResult.TreeFormatter.formatErrorSync(e) }))
  )
}
