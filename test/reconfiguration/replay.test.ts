import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { verifyChain } from "../../src/chain/verify.ts"
import { applyBlock } from "../../src/reconfiguration/apply-block.ts"
import { replayViews } from "../../src/reconfiguration/replay.ts"
import { decodeViewState, encodeViewState } from "../../src/reconfiguration/view-state-codec.ts"
import { joinTx, leaveTx, Network, rotateTx } from "./support.ts"

const twoChanges = () => {
  const net = new Network({ seed: "replay", admit: [4, 5] })
  net.block([leaveTx(net, 3), joinTx(net, 4)])
  net.block([0, 1, 2].map((r) => rotateTx(net, r)))
  net.block([leaveTx(net, 2), joinTx(net, 5)])
  net.block([0, 1, 4].map((r) => rotateTx(net, r)))
  net.block()
  return net
}

const detail = (r: ReturnType<typeof replayViews>) => (Either.isLeft(r) ? `${r.left.height}: ${r.left.detail}` : "ok")

describe("replaying a chain's requests reproduces its view records", () => {
  it("a chain built from real requests replays to the same views and final view state", () => {
    const net = twoChanges()
    const r = Either.getOrThrow(replayViews(portableCrypto, net.builder.genesis, net.builder.blocks))
    expect(r.views.map((v) => v.members.map((m) => m.replica))).toEqual([[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 4, 5]])
    expect(encodeViewState(r.state)).toEqual(encodeViewState(net.state))
  })

  it("a certified view record that does not follow from the requests is caught, though chain verification accepts it", () => {
    const net = new Network({ seed: "replay", admit: [4] })
    net.block([leaveTx(net, 3), joinTx(net, 4)])
    const rotations = [0, 1, 2].map((r) => rotateTx(net, r))
    const transactions = [...net.builder.freshTransactions(1), ...rotations]
    const out = applyBlock(net.state, net.ctx, 2n, transactions)
    const keys = net.viewKeys(out.installed!)
    // The quorum of view 0 certifies a view without member 2, which did rotate.
    const dropped = { ...keys.record, members: keys.record.members.filter((m) => m.replica !== 2), n: 3, f: 0 }
    const results = transactions.map((_, i) => out.results[i] ?? new TextEncoder().encode("ok"))
    net.builder.next({ transactions, results, installView: { keys: { ...keys, record: dropped } } })
    expect(Either.isRight(verifyChain(portableCrypto, net.builder.genesis, net.builder.blocks))).toBe(true)
    expect(detail(replayViews(portableCrypto, net.builder.genesis, net.builder.blocks))).toBe("2: the view record differs from the view 1 its requests install")
  })

  it("a block that should install a view but carries none, and a JOIN result the policy contradicts, are caught", () => {
    const net = new Network({ seed: "replay", admit: [4] })
    net.block([leaveTx(net, 3), joinTx(net, 4)])
    const transactions = [0, 1, 2].map((r) => rotateTx(net, r))
    const out = applyBlock(net.state, net.ctx, 2n, transactions)
    expect(out.installed).toBeDefined()
    net.builder.next({ transactions, results: transactions.map((_, i) => out.results[i]!) })
    expect(detail(replayViews(portableCrypto, net.builder.genesis, net.builder.blocks))).toBe(
      "2: its requests install view 1, but the block carries no view record"
    )
    expect(detail(replayViews(portableCrypto, net.builder.genesis, net.builder.blocks.slice(0, 1), () => false))).toBe(
      "1: the result of request 2 differs from executing it"
    )
  })

  it("view states round-trip through their canonical encoding; truncated, extended or unsorted encodings are DecodeErrors", () => {
    const net = twoChanges()
    for (const o of net.outcomes) {
      const bytes = encodeViewState(o.state)
      const back = Either.getOrThrow(decodeViewState(bytes))
      expect(back).toEqual(o.state)
      expect(encodeViewState(back)).toEqual(bytes)
    }
    const mid = new Network({ seed: "replay", admit: [4] })
    mid.block([leaveTx(mid, 3), joinTx(mid, 4)])
    const bytes = encodeViewState(mid.state)
    expect(Either.getOrThrow(decodeViewState(bytes))).toEqual(mid.state)
    for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([...bytes, 0])]) {
      const d = decodeViewState(bad)
      expect(Either.isLeft(d) && d.left._tag).toBe("DecodeError")
    }
    // Swap the first two used view keys: no longer ascending.
    const keysAt = bytes.length - 8 - 4 - 32 * mid.state.usedViewKeys.size
    const swapped = bytes.slice()
    swapped.set(bytes.subarray(keysAt + 32, keysAt + 64), keysAt)
    swapped.set(bytes.subarray(keysAt, keysAt + 32), keysAt + 32)
    const d = decodeViewState(swapped)
    expect(Either.isLeft(d) && d.left.expected).toBe("view keys in strictly ascending order")
  })
})
