/**
 * `npm run bench:chain`: rates of the two crypto layers (node:crypto and @noble) and of the block
 * format on blocks of 512 coin-sized transactions. Every figure is measured in this run; compare
 * them as ratios, since the machines are shared and noisy.
 *
 * Each measurement runs its operation repeatedly for a fixed time slice, five times, and reports
 * the median rate.
 */
import { Either } from "effect"
import { decodeBlock, encodeBlock } from "../src/chain/encoding.ts"
import { batchHash, headerHash } from "../src/chain/hash.ts"
import { verifyChain } from "../src/chain/verify.ts"
import { nobleCrypto, nodeCrypto, type CryptoImpl } from "../src/services/crypto.ts"
import { buildChain } from "../test/support/chain-builder.ts"

const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 300)
const ROUNDS = 5
const TX_PER_BLOCK = 512
/** A coin SPEND with one input and two outputs encodes to about this many bytes of op. */
const COIN_OP_BYTES = 125

const median = (xs: Array<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

/** Operations per second of `op`, median of ROUNDS slices of SLICE_MS each. */
const rate = (op: () => unknown): number => {
  const rates: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0
    const start = performance.now()
    let elapsed = 0
    while (elapsed < SLICE_MS) {
      op()
      count++
      if ((count & 3) === 0 || elapsed === 0) elapsed = performance.now() - start
    }
    elapsed = performance.now() - start
    rates.push((count * 1000) / elapsed)
  }
  return median(rates)
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1))

const table = (title: string, header: Array<string>, rows: Array<Array<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: Array<string>) => "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  console.log(`\n${title}\n`)
  console.log(line(header))
  console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|") + "|")
  for (const r of rows) console.log(line(r))
}

const message200 = new Uint8Array(200).map((_, i) => (i * 31 + 7) & 0xff)
const kib = new Uint8Array(1024).map((_, i) => i & 0xff)
const mib = new Uint8Array(1 << 20).map((_, i) => (i * 13) & 0xff)

const cryptoRow = (c: CryptoImpl): Array<number> => {
  const secret = new Uint8Array(32).fill(0x42)
  const publicKey = c.publicKeyFromSecret(secret)
  const signature = c.sign(secret, message200)
  return [
    rate(() => c.sign(secret, message200)),
    rate(() => c.verify(publicKey, message200, signature)),
    (rate(() => c.sha256(kib)) * 1024) / (1 << 20),
    rate(() => c.sha256(mib))
  ]
}

console.log(`SmartChain chain benchmark: Node ${process.version}, ${ROUNDS} x ${SLICE_MS} ms per figure, median`)

const node = cryptoRow(nodeCrypto)
const noble = cryptoRow(nobleCrypto)
table(
  "Crypto layers (200-byte messages for Ed25519)",
  ["operation", "node:crypto", "@noble", "node / noble"],
  [
    ["ed25519 sign /s", fmt(node[0]!), fmt(noble[0]!), `${(node[0]! / noble[0]!).toFixed(1)}x`],
    ["ed25519 verify /s", fmt(node[1]!), fmt(noble[1]!), `${(node[1]! / noble[1]!).toFixed(1)}x`],
    ["sha-256 1 KiB, MiB/s", fmt(node[2]!), fmt(noble[2]!), `${(node[2]! / noble[2]!).toFixed(1)}x`],
    ["sha-256 1 MiB, MiB/s", fmt(node[3]!), fmt(noble[3]!), `${(node[3]! / noble[3]!).toFixed(1)}x`]
  ]
)

// A chain of 3 blocks of 512 signed transactions, coin-sized ops; the middle block is measured.
const chain = buildChain({ blocks: 3, txPerBlock: TX_PER_BLOCK, persistence: "strong", opBytes: COIN_OP_BYTES }, nodeCrypto)
const block = chain.blocks[1]!
const bytes = encodeBlock(block)
const check = (c: CryptoImpl) => {
  const r = verifyChain(c, chain.genesis, chain.blocks)
  if (Either.isLeft(r)) throw new Error(`benchmark chain does not verify: ${r.left.message}`)
}
check(nodeCrypto)

/** name, whether the operation uses the crypto layer, transactions per operation, the operation. */
const blockRows: Array<[string, boolean, number, (c: CryptoImpl) => unknown]> = [
  ["encode block", false, TX_PER_BLOCK, () => encodeBlock(block)],
  ["decode block", false, TX_PER_BLOCK, () => decodeBlock(bytes)],
  ["header hash", true, TX_PER_BLOCK, (c) => headerHash(c, block.header)],
  ["tx Merkle root (= batch hash)", true, TX_PER_BLOCK, (c) => batchHash(c, block.transactions)],
  ["verify 3-block chain, every signature", true, 3 * TX_PER_BLOCK, (c) => check(c)]
]
const blockTable = blockRows.map(([name, usesCrypto, txs, op]) => {
  const a = rate(() => op(nodeCrypto))
  const b = usesCrypto ? rate(() => op(nobleCrypto)) : undefined
  return [
    name,
    fmt(a),
    b === undefined ? "(same code)" : fmt(b),
    fmt(a * txs),
    b === undefined ? "" : fmt(b * txs)
  ]
})
table(
  `Blocks of ${TX_PER_BLOCK} coin-sized transactions (${bytes.length.toLocaleString("en-US")} bytes encoded)`,
  ["operation", "node:crypto /s", "@noble /s", "tx/s node", "tx/s noble"],
  blockTable
)
