// Establishes: `smartchain verify` (its code path: the genesis file read by loadGenesis, the
// chain read from a classic-level block store by verifyStoredChain) accepts every chain that
// correct replicas stored in simulator runs of weak and strong mode, with crashes, torn writes
// and Byzantine members; and it rejects tampered copies at the height of the damage: a byte
// flipped in a transaction, in a result, in an ACCEPT signature or in a certificate signature
// (rewritten consistently, so only the chain checks can see it), a byte flipped on disk and a
// block record deleted from disk (the store's checks), and a block dropped from the sequence.
import { ClassicLevel } from "classic-level"
import { Effect, Either, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { encodeGenesisJson } from "../../src/chain/genesis-json.ts"
import type { Block, Certificate, Genesis } from "../../src/chain/types.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import { loadGenesis, verifyStoredChain } from "../../src/cli/verify.ts"
import { recordKey } from "../../src/services/blockstore-core.ts"
import { BlockStoreLevel, openLevelBlockStore } from "../../src/services/blockstore-level.ts"
import { nodeCrypto } from "../../src/services/crypto.ts"
import { optionsForSeed } from "../sim/campaign.ts"
import type { SimResult, StoredChain } from "../sim/simulator.ts"
import { runSimulation } from "../sim/simulator.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "smartchain-verify-sim-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let dirs = 0
const freshDir = (): string => path.join(root, `store-${dirs++}`)

/** Writes `blocks` and `certificates` to a new classic-level store, synced, and closes it. */
const writeStore = (blocks: ReadonlyArray<Block>, certificates: ReadonlyArray<Certificate>): Promise<string> => {
  const dir = freshDir()
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* openLevelBlockStore(dir, nodeCrypto)
        for (const block of blocks) yield* store.appendBlock(block)
        for (const certificate of certificates) yield* store.appendCertificate(certificate)
        yield* store.sync()
      })
    )
  ).then(() => dir)
}

/** Writes the genesis file as `smartchain init` does. */
const writeGenesis = (genesis: Genesis): string => {
  const file = path.join(freshDir() + "-genesis.json")
  fs.writeFileSync(file, JSON.stringify(encodeGenesisJson(genesis), null, 2))
  return file
}

/** Runs what `smartchain verify <dir> --genesis <file>` runs; the error's message, or the summary. */
const verifyDir = (dir: string, genesisFile: string) =>
  Effect.runPromise(
    Effect.either(
      Effect.gen(function* () {
        const genesis = yield* loadGenesis(genesisFile)
        return yield* verifyStoredChain(genesis).pipe(Effect.provide(BlockStoreLevel(dir, nodeCrypto, { readOnly: true })))
      })
    )
  )

/** Changes one store record's bytes on disk, bypassing the store (`undefined`: deletes it). */
const onDisk = async (dir: string, key: Uint8Array, change: (bytes: Uint8Array) => Uint8Array | undefined): Promise<void> => {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" })
  await db.open()
  try {
    const bytes = await db.get(key)
    if (bytes === undefined) throw new Error("no such record")
    const next = change(Uint8Array.from(bytes))
    if (next === undefined) await db.del(key)
    else await db.put(key, next)
  } finally {
    await db.close()
  }
}

const flip = (bytes: Uint8Array, at = Math.floor(bytes.length / 2)): Uint8Array => {
  const out = Uint8Array.from(bytes)
  out[at]! ^= 0x01
  return out
}

/** Weak and strong seeds of the campaign (crashes, torn writes, slow and failing disks, Byzantine members), four and seven replicas. */
const seeds = [3, 4, 7, 8, 15] as const
const runs = new Map<number, SimResult>()
const runOf = (seed: number): SimResult => {
  let r = runs.get(seed)
  if (r === undefined) {
    r = runSimulation({ ...optionsForSeed(seed), keepChains: true })
    runs.set(seed, r)
  }
  return r
}

describe("verify accepts what the simulator's replicas stored", () => {
  it.each(seeds)("seed %i: every correct replica's chain verifies from genesis", async (seed) => {
    const r = runOf(seed)
    expect(r.violations).toEqual([])
    expect(r.chains.length).toBeGreaterThanOrEqual(3)
    const genesisFile = writeGenesis(r.genesis)
    for (const chain of r.chains) {
      expect(chain.blocks.length).toBeGreaterThan(0)
      const dir = await writeStore(chain.blocks, chain.certificates)
      const verified = await verifyDir(dir, genesisFile)
      if (Either.isLeft(verified)) throw new Error(`seed ${seed}, replica ${chain.replica}: ${verified.left.message}`)
      expect(verified.right.blocks).toBe(chain.blocks.length)
      expect(verified.right.transactions).toBe(chain.blocks.reduce((n, b) => n + b.transactions.length, 0))
      const head = chain.blocks[chain.blocks.length - 1]!
      const headCertified = chain.certificates.some((c) => c.height === head.header.height)
      expect(verified.right.headCertified).toBe(r.mode === "strong" && headCertified)
    }
  })

  it("the runs cover both modes, checkpoint blocks and full crashes", () => {
    const all = seeds.map(runOf)
    expect(new Set(all.map((r) => r.mode))).toEqual(new Set(["weak", "strong"]))
    expect(all.some((r) => r.crashAlls > 0)).toBe(true)
    const checkpoints = all.flatMap((r) => r.chains.flatMap((c) => c.blocks.filter((b) => b.header.stateHash.some((x) => x !== 0))))
    expect(checkpoints.length).toBeGreaterThan(0)
  })
})

/** The longest chain a seed's replicas stored. */
const longest = (r: SimResult): StoredChain => [...r.chains].sort((a, b) => b.blocks.length - a.blocks.length)[0]!

/** A copy of `blocks` with block `height` replaced by `change(block)`. */
const replaced = (blocks: ReadonlyArray<Block>, height: number, change: (b: Block) => Block): Array<Block> =>
  blocks.map((b) => (Number(b.header.height) === height ? change(b) : b))

describe.each([
  ["weak", 3],
  ["strong", 4]
] as const)("verify rejects a tampered copy of a %s chain (seed %i)", (mode, seed) => {
  const setup = () => {
    const r = runOf(seed)
    expect(r.mode).toBe(mode)
    const chain = longest(r)
    // The damage goes into a block with transactions, away from both ends.
    const target = chain.blocks.find((b) => b.header.height >= 2n && b.transactions.length > 0 && b.header.height < BigInt(chain.blocks.length))
    if (target === undefined) throw new Error("no block to tamper with")
    return { r, chain, t: Number(target.header.height), genesisFile: writeGenesis(r.genesis) }
  }

  const expectRejectedAt = async (dir: string, genesisFile: string, height: number, reason: RegExp) => {
    const verified = await verifyDir(dir, genesisFile)
    if (Either.isRight(verified)) throw new Error(`a tampered chain verified (${verified.right.blocks} blocks)`)
    expect(verified.left.message).toMatch(new RegExp(`^block ${height}: `))
    expect(verified.left.message).toMatch(reason)
  }

  it("a byte flipped in a transaction: block t, txRoot", async () => {
    const { chain, t, genesisFile } = setup()
    const blocks = replaced(chain.blocks, t, (b) => ({ ...b, transactions: [{ ...b.transactions[0]!, op: flip(b.transactions[0]!.op) }, ...b.transactions.slice(1)] }))
    await expectRejectedAt(await writeStore(blocks, chain.certificates), genesisFile, t, /BadTxRoot/)
  })

  it("a byte flipped in a result: block t, resultsRoot", async () => {
    const { chain, t, genesisFile } = setup()
    const blocks = replaced(chain.blocks, t, (b) => ({ ...b, results: [flip(b.results[0]!), ...b.results.slice(1)] }))
    await expectRejectedAt(await writeStore(blocks, chain.certificates), genesisFile, t, /BadResultsRoot|resultsRoot/)
  })

  it("a byte flipped in an ACCEPT signature of the decision proof: block t", async () => {
    const { chain, t, genesisFile } = setup()
    const blocks = replaced(chain.blocks, t, (b) => {
      const [first, ...rest] = b.decision.accepts
      return { ...b, decision: { ...b.decision, accepts: [{ ...first!, signature: flip(first!.signature) }, ...rest] } }
    })
    await expectRejectedAt(await writeStore(blocks, chain.certificates), genesisFile, t, /BadSignature: decision proof: signature of replica \d+ does not verify/)
  })

  it("a byte flipped in a block record on disk: block t, by the store's checksum", async () => {
    const { chain, t, genesisFile } = setup()
    const dir = await writeStore(chain.blocks, chain.certificates)
    await onDisk(dir, recordKey("block", BigInt(t)), (bytes) => flip(bytes))
    await expectRejectedAt(dir, genesisFile, t, /./)
  })

  it("a block record deleted from disk: block t", async () => {
    const { chain, t, genesisFile } = setup()
    const dir = await writeStore(chain.blocks, chain.certificates)
    await onDisk(dir, recordKey("block", BigInt(t)), () => undefined)
    await expectRejectedAt(dir, genesisFile, t, /missing/)
  })

  it("a block dropped from the sequence: block t (the next block does not follow)", () => {
    const { r, chain, t } = setup()
    const dropped = chain.blocks.filter((b) => Number(b.header.height) !== t)
    const verified = verifyChain(nodeCrypto, r.genesis, dropped)
    if (Either.isRight(verified)) throw new Error("a chain with a block missing verified")
    expect(verified.left.height).toBe(BigInt(t))
    expect(verified.left.reason).toBe("BadHeight")
  })

  if (mode === "strong") {
    it("a byte flipped in a COMMIT signature of the certificate block t + 1 carries: block t + 1", async () => {
      const { chain, t, genesisFile } = setup()
      const blocks = replaced(chain.blocks, t + 1, (b) => {
        const c = Option.getOrThrow(b.prevCertificate)
        const [first, ...rest] = c.commits
        return { ...b, prevCertificate: Option.some({ ...c, commits: [{ ...first!, signature: flip(first!.signature) }, ...rest] }) }
      })
      await expectRejectedAt(await writeStore(blocks, chain.certificates), genesisFile, t + 1, new RegExp(`BadSignature: certificate of block ${t}: signature of replica \\d+ does not verify`))
    })

    it("a byte flipped in a COMMIT signature of the head's certificate record: the head", async () => {
      const { chain, genesisFile } = setup()
      const head = chain.blocks.length
      const certificates = chain.certificates.map((c) =>
        Number(c.height) === head ? { ...c, commits: [{ ...c.commits[0]!, signature: flip(c.commits[0]!.signature) }, ...c.commits.slice(1)] } : c
      )
      expect(certificates.some((c) => Number(c.height) === head)).toBe(true)
      await expectRejectedAt(await writeStore(chain.blocks, certificates), genesisFile, head, new RegExp(`BadSignature: certificate of block ${head}: `))
    })
  }
})
