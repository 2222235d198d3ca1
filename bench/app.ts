/**
 * Measures the coin application alone (no network, no consensus, no signature checking: the
 * application sees verified transactions):
 *
 *   - execution rate of batches of 512 signed transfers (1 input, 2 outputs each), with the
 *     application hashing the transactions itself and with the hashes handed in by the caller;
 *   - the same on a state holding 100,000 unspent outputs;
 *   - snapshot, stateHash (node:crypto and pure-JS SHA-256) and restore at 100,000 unspent outputs.
 *
 *   npx tsx bench/app.ts
 */
import { Either } from "effect"
import type { CoinState, Outpoint } from "../src/app/coin.ts"
import { coinSnapshot, coinStateHash, emptyCoinState, executeCoinBatch, mintOp, restoreCoinState, spendOp } from "../src/app/coin.ts"
import { appContext } from "../src/app/application.ts"
import { portableCrypto } from "../src/chain/crypto.ts"
import { txSigningBytes } from "../src/chain/encoding.ts"
import { txHash } from "../src/chain/hash.ts"
import type { Transaction } from "../src/chain/types.ts"
import { nodeCrypto } from "../src/services/crypto.ts"

const BATCH = 512
const CHAIN_ID = "bench-app"
const crypto = nodeCrypto

interface Client {
  readonly secret: Uint8Array
  readonly publicKey: Uint8Array
  seq: bigint
  /** The client's spendable output and its amount. */
  coin: Outpoint
  amount: bigint
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const time = <A>(f: () => A): [A, number] => {
  const t = performance.now()
  const a = f()
  return [a, performance.now() - t]
}
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US")

const minter = (() => {
  const secret = new Uint8Array(32).fill(1)
  return { secret, publicKey: crypto.publicKeyFromSecret(secret) }
})()

const sign = (secret: Uint8Array, publicKey: Uint8Array, seq: bigint, op: Uint8Array): Transaction => ({
  client: publicKey,
  seq,
  op,
  signature: crypto.sign(secret, txSigningBytes(CHAIN_ID, { client: publicKey, seq, op }))
})

const genesis = { chainId: CHAIN_ID, minters: [minter.publicKey] }

/** Clients each funded by one mint output of 1,000,000, in a state after that mint. */
const fund = (state: CoinState, count: number, minterSeq: bigint): { state: CoinState; clients: Array<Client> } => {
  const clients: Array<Client> = []
  for (let i = 0; i < count; i++) {
    const secret = new Uint8Array(32)
    new DataView(secret.buffer).setUint32(0, i + 1)
    secret[31] = 7
    clients.push({ secret, publicKey: crypto.publicKeyFromSecret(secret), seq: 0n, coin: { txHash: new Uint8Array(32), index: 0 }, amount: 1_000_000n })
  }
  for (let start = 0; start < count; start += 256) {
    const group = clients.slice(start, start + 256)
    const mint = sign(minter.secret, minter.publicKey, minterSeq + BigInt(start), mintOp(group.map((c) => ({ owner: c.publicKey, amount: c.amount }))))
    const o = executeCoinBatch(state, appContext(crypto, genesis, 1n), [mint])
    state = o.state
    const h = txHash(crypto, mint)
    group.forEach((c, j) => (c.coin = { txHash: h, index: j }))
  }
  return { state, clients }
}

/**
 * BATCH transfers, the clients taking turns: each pays 1 to the next client and sends the change
 * back to itself; its next transfer (in the same batch or a later one) spends that change.
 */
const transferBatch = (clients: ReadonlyArray<Client>, signed: boolean): Array<Transaction> =>
  Array.from({ length: BATCH }, (_, k) => {
    const i = k % clients.length
    const c = clients[i] as Client
    const payee = clients[(i + 1) % clients.length] as Client
    const op = spendOp([c.coin], [{ owner: payee.publicKey, amount: 1n }, { owner: c.publicKey, amount: c.amount - 1n }])
    c.seq++
    const tx: Transaction = signed ? sign(c.secret, c.publicKey, c.seq, op) : { client: c.publicKey, seq: c.seq, op, signature: new Uint8Array(64) }
    c.coin = { txHash: txHash(crypto, tx), index: 1 }
    c.amount -= 1n
    return tx
  })

const measureTransfers = (label: string, start: CoinState, clients: ReadonlyArray<Client>, batches: number): CoinState => {
  const prepared: Array<{ txs: Array<Transaction>; hashes: Array<Uint8Array> }> = []
  for (let b = 0; b < batches; b++) {
    const txs = transferBatch(clients, true)
    prepared.push({ txs, hashes: txs.map((t) => txHash(crypto, t)) })
  }
  // Run the same batches twice from the same start: the application hashing, then hashes given.
  const rates: Record<string, Array<number>> = { "app hashes the transactions": [], "hashes handed in": [] }
  let end = start
  for (const mode of Object.keys(rates)) {
    let state = start
    for (const { txs, hashes } of prepared) {
      const ctx = appContext(crypto, genesis, 2n, mode === "hashes handed in" ? hashes : undefined)
      const [o, ms] = time(() => executeCoinBatch(state, ctx, txs))
      if (o.results.some((r) => r[0] !== 0)) throw new Error("a benchmark transfer failed")
      rates[mode]!.push((BATCH / ms) * 1000)
      state = o.state
    }
    end = state
  }
  for (const [mode, rs] of Object.entries(rates))
    console.log(`  ${label}, ${mode}: median ${fmt(median(rs))} transfers/s (best ${fmt(Math.max(...rs))}) over ${rs.length} batches of ${BATCH}`)
  return end
}

const main = () => {
  console.log(`coin application, Node ${process.version}, SHA-256 via node:crypto unless stated`)
  // 64 clients: the node:crypto layer keeps 64 secret-key objects, more would rebuild one per signature.
  const funded = fund(emptyCoinState(), 64, 1n)
  console.log(`execution of batches of ${BATCH} signed transfers (1 input, 2 outputs; signature checks excluded):`)
  let state = measureTransfers(`state of ${fmt(funded.state.unspent)} unspent`, funded.state, funded.clients, 40)

  // Grow the state to 100,000 unspent outputs with unsigned transfers (the app does not check signatures).
  const [, growMs] = time(() => {
    while (state.unspent < 100_000) {
      const o = executeCoinBatch(state, appContext(crypto, genesis, 3n), transferBatch(funded.clients, false))
      if (o.results.some((r) => r[0] !== 0)) throw new Error("a transfer growing the state failed")
      state = o.state
    }
  })
  console.log(`  (grew the state to ${fmt(state.unspent)} unspent outputs in ${fmt(growMs)} ms)`)
  state = measureTransfers(`state of ${fmt(state.unspent)} unspent`, state, funded.clients, 20)

  console.log(`snapshot and stateHash at ${fmt(state.unspent)} unspent outputs in ${fmt(state.txs.size)} transactions:`)
  const snapshotMs: Array<number> = []
  const nodeHashMs: Array<number> = []
  const portableHashMs: Array<number> = []
  const restoreMs: Array<number> = []
  let bytes: Uint8Array = new Uint8Array(0)
  for (let i = 0; i < 5; i++) {
    // A fresh state object each round, so the memoized snapshot is not reused.
    const copy = { ...state }
    const [b, ms] = time(() => coinSnapshot(copy))
    bytes = b
    snapshotMs.push(ms)
    nodeHashMs.push(time(() => coinStateHash(crypto, copy))[1])
    portableHashMs.push(time(() => portableCrypto.sha256(b))[1])
    const [r, rms] = time(() => restoreCoinState(b))
    if (Either.isLeft(r)) throw new Error(r.left.message)
    restoreMs.push(rms)
  }
  console.log(`  snapshot: ${(bytes.length / 2 ** 20).toFixed(1)} MiB, median ${median(snapshotMs).toFixed(1)} ms (sort, encode)`)
  console.log(`  stateHash of the encoded snapshot: node:crypto ${median(nodeHashMs).toFixed(1)} ms, pure JS ${median(portableHashMs).toFixed(1)} ms`)
  console.log(`  restore: median ${median(restoreMs).toFixed(1)} ms`)
}

main()
