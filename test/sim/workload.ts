/**
 * The simulator's client workload: signed coin transactions (src/app/coin.ts). Client 0 is the
 * only minter in genesis; it mints to random clients, and owners spend what was minted to them,
 * value conserved, split among random clients. Spends of the same output happen by chance (one
 * of them fails with AlreadySpent), and a spend may be ordered before its mint (UnknownInput):
 * both exercise the invariants (no double spend, supply = minted) on failing transactions.
 */
import { txHash } from "../../src/chain/hash.ts"
import type { Transaction } from "../../src/chain/types.ts"
import { mintOp, spendOp } from "../../src/app/coin.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import type { Prng } from "./prng.ts"
import type { World } from "./world.ts"
import { signTx } from "./world.ts"

/** The client that genesis lists as minter. */
export const minterIndex = 0

export const coinWorkload = (prng: Prng, world: World, count: number): Array<Transaction> => {
  const seqs = world.clients.map(() => 0n)
  const nextSeq = (c: number): bigint => {
    const s = seqs[c]!
    seqs[c] = s + 1n
    return s
  }
  const mints: Array<{ readonly tx: Transaction; readonly owner: number; readonly amount: bigint }> = []
  const out: Array<Transaction> = []
  const clientCount = world.clients.length
  for (let i = 0; i < count; i++) {
    if (mints.length === 0 || prng.chance(0.45)) {
      const owner = prng.int(0, clientCount - 1)
      const amount = BigInt(prng.int(1, 1000))
      const op = mintOp([{ owner: world.clients[owner]!.publicKey, amount }])
      const tx = signTx(world.clients[minterIndex]!, nextSeq(minterIndex), op)
      mints.push({ tx, owner, amount })
      out.push(tx)
    } else {
      const m = prng.pick(mints)
      const to = prng.int(0, clientCount - 1)
      const outputs =
        m.amount > 1n && prng.chance(0.5)
          ? [
              { owner: world.clients[to]!.publicKey, amount: m.amount / 2n },
              { owner: world.clients[prng.int(0, clientCount - 1)]!.publicKey, amount: m.amount - m.amount / 2n }
            ]
          : [{ owner: world.clients[to]!.publicKey, amount: m.amount }]
      const op = spendOp([{ txHash: txHash(nodeCrypto, m.tx), index: 0 }], outputs)
      out.push(signTx(world.clients[m.owner]!, nextSeq(m.owner), op))
    }
  }
  return out
}
