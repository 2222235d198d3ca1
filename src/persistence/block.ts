/**
 * Blocks from decisions (PROTOCOL.md section 3), in two steps.
 *
 * Execution, when instance h is decided: the batch runs through the application, giving the
 * results and the next state (`executeBatch`). Replies of memory mode may leave from here.
 *
 * Finalization, when the block is written (`finalizeBlock`): the header is fixed:
 *
 *   height                h (block h is consensus instance h; genesis is block 0)
 *   viewId, viewHash      the view whose members decided it, and the hash of its record
 *   prevHash              the header hash of block h - 1 (genesis's hash for block 1)
 *   txRoot                the Merkle root over the transactions (the decided batch hash)
 *   resultsRoot           the Merkle root over the results
 *   decisionHash          the hash of the decision proof stored in the body
 *   lastCheckpointHeight  the last height that is a multiple of the checkpoint interval K
 *   lastReconfigHeight    the last block that installed a view (0: genesis)
 *
 * With reconfiguration, execution also fixes the block's view fields (`DecidedBlock.view`): the
 * view that decided it, lastReconfigHeight, and the view record a reconfiguration block carries
 * in its body and as the last leaf of resultsRoot.
 *   stateHash             the application state's hash after the block on checkpoint blocks
 *                         (h a multiple of K); 32 zero bytes on the others
 *
 * The decision proof is chosen canonically so that every correct replica writes the same block
 * and COMMITs can agree on one header hash: the ACCEPT signatures, in the regency the replica
 * decided in, of the q lowest-numbered members among those it holds. Replicas keep collecting
 * ACCEPTs for decided instances until they write them (./pipeline.ts), so they usually hold the
 * same lowest members. The body is the transactions, the results, the decision proof and, in
 * strong mode, the certificate of block h - 1 (`prevCertificate`), which the header does not cover.
 */
import { Option } from "effect"
import { toHex } from "../chain/bytes.ts"
import type { ChainCrypto } from "../chain/crypto.ts"
import { batchHash, decisionHash, headerHash, resultsRoot } from "../chain/hash.ts"
import type { Block, BlockHeader, Certificate, DecisionProof, ReplicaId, Transaction } from "../chain/types.ts"
import type { Machine } from "./machine.ts"
import type { BuiltBlock, DecidedBlock } from "./state.ts"

export const zeroHash = new Uint8Array(32)

/** Whether block `height` is a checkpoint block (its header carries the state hash). */
export const isCheckpointHeight = (height: bigint, interval: number): boolean =>
  interval > 0 && height > 0n && height % BigInt(interval) === 0n

/** Executes decided instance `proof.cid` on `machine` (which is at the height before it). */
export const executeBatch = (
  machine: Machine,
  checkpointInterval: number,
  batch: ReadonlyArray<Transaction>,
  proof: DecisionProof,
  signatures: ReadonlyMap<ReplicaId, Uint8Array>,
  nowMs: number
): { readonly decided: DecidedBlock; readonly machine: Machine } => {
  const height = machine.height + 1n
  const { machine: next, results } = machine.execute(batch)
  const checkpoint = isCheckpointHeight(height, checkpointInterval)
  const sigs = new Map(signatures)
  for (const a of proof.accepts) if (!sigs.has(a.replica)) sigs.set(a.replica, a.signature)
  return {
    decided: {
      height,
      batch,
      results,
      checkpoint,
      stateHash: checkpoint ? next.stateHash() : zeroHash,
      snapshot: checkpoint ? next.snapshot() : undefined,
      proof,
      decidedAtMs: nowMs,
      signatures: sigs
    },
    machine: next
  }
}

/** The canonical decision proof: the q lowest-numbered members' signatures held for the decided value. */
export const canonicalProof = (decided: DecidedBlock, quorum: number): DecisionProof => {
  const signers = [...decided.signatures.entries()].sort(([a], [b]) => a - b).slice(0, quorum)
  return { ...decided.proof, accepts: signers.map(([replica, signature]) => ({ replica, signature })) }
}

export interface FinalizeInputs {
  readonly crypto: ChainCrypto
  readonly viewId: bigint
  readonly viewHash: Uint8Array
  /** Header hash of the block before (or of genesis). */
  readonly prevHash: Uint8Array
  readonly lastCheckpointHeight: bigint
  readonly lastReconfigHeight: bigint
  readonly proof: DecisionProof
}

/** Block `decided.height` with its header fixed (without the previous block's certificate). */
export const finalizeBlock = (
  decided: Pick<DecidedBlock, "height" | "batch" | "results" | "checkpoint" | "stateHash" | "view">,
  input: FinalizeInputs
): BuiltBlock => {
  // With reconfiguration the block knows its own view (the one that decided it) and the view
  // record it installs; that record is the last leaf of resultsRoot (src/chain/hash.ts).
  const view = decided.view
  const newView = view?.newView
  const header: BlockHeader = {
    height: decided.height,
    viewId: view?.viewId ?? input.viewId,
    prevHash: input.prevHash,
    txRoot: batchHash(input.crypto, decided.batch),
    resultsRoot: resultsRoot(input.crypto, decided.results, newView),
    decisionHash: decisionHash(input.crypto, input.proof),
    lastCheckpointHeight: decided.checkpoint ? decided.height : input.lastCheckpointHeight,
    lastReconfigHeight: view?.lastReconfigHeight ?? input.lastReconfigHeight,
    viewHash: view?.viewHash ?? input.viewHash,
    stateHash: decided.stateHash
  }
  const block: Block = {
    header,
    transactions: decided.batch,
    results: decided.results,
    decision: input.proof,
    prevCertificate: Option.none(),
    newView: newView === undefined ? Option.none() : Option.some(newView)
  }
  const hash = headerHash(input.crypto, header)
  return { block, hash, hashHex: toHex(hash) }
}

/** The block with block h - 1's certificate in its body (strong mode). */
export const withPrevCertificate = (block: Block, certificate: Certificate | undefined): Block =>
  certificate === undefined ? block : { ...block, prevCertificate: Option.some(certificate) }
