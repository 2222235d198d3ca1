/**
 * BlockStore throughput on classic-level: appendBlock + sync for blocks of 512 transactions (or as
 * many as the second argument says), with one sync per block and with one sync per 8 blocks
 * (group commit). Also the in-memory store, to separate the CPU cost of encoding, hashing and
 * checksumming from the cost of the disk.
 *
 *   npx tsx bench/store.ts [blocks] [transactions per block]   (defaults: 128 blocks of 512)
 *
 * Blocks are built up front (valid structure and header hashes; signatures are random bytes, as
 * the store never checks them), so only the store is timed. Each configuration runs 3 times in a
 * fresh directory under the system temp dir; the median is printed.
 */
import { Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { performance } from "node:perf_hooks"
import { encodeBlock } from "../src/chain/encoding.ts"
import { batchHash, decisionHash, headerHash, resultsRoot } from "../src/chain/hash.ts"
import type { Block, BlockHeader, Transaction } from "../src/chain/types.ts"
import type { BlockStoreApi } from "../src/services/blockstore.ts"
import { makeMemoryBlockStore, openLevelBlockStore } from "../src/services/blockstore.ts"
import { nodeCrypto } from "../src/services/crypto.ts"

const TX_PER_BLOCK = Number(process.argv[3] ?? 512)
const OP_BYTES = 64
const RUNS = 3
const crypto = nodeCrypto
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

const makeBlocks = (count: number): Array<Block> => {
  const clients = Array.from({ length: 16 }, () => random(32))
  const blocks: Array<Block> = []
  let prevHash = random(32)
  let seq = 0n
  for (let h = 1n; h <= BigInt(count); h++) {
    const transactions: Array<Transaction> = Array.from({ length: TX_PER_BLOCK }, (_, i) => ({
      client: clients[i % clients.length]!,
      seq: seq++,
      op: random(OP_BYTES),
      signature: random(64)
    }))
    const results = transactions.map(() => new Uint8Array([1]))
    const txRoot = batchHash(crypto, transactions)
    const decision = {
      viewId: 0n,
      cid: h,
      regency: 0n,
      batchHash: txRoot,
      accepts: [0, 1, 2].map((replica) => ({ replica, signature: random(64) }))
    }
    const header: BlockHeader = {
      height: h,
      viewId: 0n,
      prevHash,
      txRoot,
      resultsRoot: resultsRoot(crypto, results),
      decisionHash: decisionHash(crypto, decision),
      lastCheckpointHeight: 0n,
      lastReconfigHeight: 0n,
      viewHash: random(32),
      stateHash: random(32)
    }
    blocks.push({ header, transactions, results, decision, prevCertificate: Option.none(), newView: Option.none() })
    prevHash = headerHash(crypto, header)
  }
  return blocks
}

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Seconds to append every block, syncing after each `group` blocks (and once at the end). */
const timeAppends = (store: BlockStoreApi, blocks: ReadonlyArray<Block>, group: number) =>
  Effect.gen(function* () {
    const start = performance.now()
    for (let i = 0; i < blocks.length; i++) {
      yield* store.appendBlock(blocks[i]!)
      if ((i + 1) % group === 0 || i === blocks.length - 1) yield* store.sync()
    }
    return (performance.now() - start) / 1000
  })

const levelRun = (blocks: ReadonlyArray<Block>, group: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "smartchain-bench-store-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const store = yield* openLevelBlockStore(dir, crypto)
      return yield* timeAppends(store, blocks, group)
    })
  )

const memoryRun = (blocks: ReadonlyArray<Block>, group: number) =>
  Effect.flatMap(makeMemoryBlockStore({ crypto }), (store) => timeAppends(store, blocks, group))

const main = Effect.gen(function* () {
  const count = Number(process.argv[2] ?? 128)
  const blocks = makeBlocks(count)
  const blockBytes = encodeBlock(blocks[0]!).length
  console.log(`${count} blocks of ${TX_PER_BLOCK} transactions (${OP_BYTES}-byte ops), ${(blockBytes / 1024).toFixed(1)} KiB encoded each`)
  console.log(`median of ${RUNS} runs; Node ${process.version}, ${os.cpus().length} cores\n`)
  console.log("store          sync every   blocks/s      tx/s     MiB/s   ms/sync")
  for (const [name, run] of [
    ["memory", memoryRun],
    ["classic-level", levelRun]
  ] as const)
    for (const group of [1, 8]) {
      const seconds: Array<number> = []
      for (let r = 0; r < RUNS; r++) seconds.push(yield* run(blocks, group))
      const s = median(seconds)
      const perSecond = count / s
      const syncs = Math.ceil(count / group)
      console.log(
        `${name.padEnd(14)} ${`${group} block${group === 1 ? "" : "s"}`.padEnd(12)} ${perSecond.toFixed(0).padStart(8)} ${(perSecond * TX_PER_BLOCK)
          .toFixed(0)
          .padStart(9)} ${((perSecond * blockBytes) / 2 ** 20).toFixed(1).padStart(9)} ${((s * 1000) / syncs).toFixed(2).padStart(9)}`
      )
    }
})

Effect.runPromise(main).catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
