import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { verifyChain, viewRecordProblem } from "../../src/chain/verify.ts"
import { decodeResult } from "../../src/app/application.ts"
import { defaultLimits } from "../../src/core/limits.ts"
import { applyBlock } from "../../src/reconfiguration/apply-block.ts"
import { joinRequest, leaveRequest, requestTransaction, rotateRequest } from "../../src/reconfiguration/requests.ts"
import { continuing, evicted, reconfigReasonCodes } from "../../src/reconfiguration/view-state.ts"
import { addressOf, joinTx, leaveTx, Network, removeTx, rotateTx } from "./support.ts"

const join = joinTx
const leave = leaveTx
const remove = removeTx
const rotate = (net: Network, label: number) => rotateTx(net, label)

/** The reason code of the last block's reconfiguration result at `index` (block order), or "ok". */
const verdict = (net: Network, index: number): string | number => {
  const r = net.outcomes[net.outcomes.length - 1]!.results[index]
  if (r === undefined) return "not a request"
  const v = decodeResult(r)
  if (Either.isLeft(v)) return "undecodable"
  return v.right._tag === "Ok" ? "ok" : v.right.reason
}

const verifies = (net: Network) => Either.isRight(verifyChain(portableCrypto, net.builder.genesis, net.builder.blocks))

describe("reconfiguration state: JOIN, LEAVE, REMOVE, ROTATE executed block by block install the next view", () => {
  it("a member leaving and an admitted joiner: decided at ha, installed in the first block where all continuing members rotated", () => {
    const net = new Network({ admit: [4] })
    net.block([leave(net, 3), join(net, 4)]) // block 1: the change is decided (ha = 1)
    expect(net.state.ha).toBe(1n)
    expect(continuing(net.state)).toEqual([0, 1, 2])
    net.block([rotate(net, 0), rotate(net, 1)]) // block 2: two of three rotated
    expect(net.outcomes[1]!.installed).toBeUndefined()
    net.block([rotate(net, 2)]) // block 3: the last continuing member rotated
    const installed = net.outcomes[2]!.installed
    expect(installed?.id).toBe(1n)
    expect(installed?.members.map((m) => m.replica)).toEqual([0, 1, 2, 4])
    expect(installed?.n).toBe(4)
    expect(installed?.f).toBe(1)
    expect(viewRecordProblem(installed!)).toBeUndefined()
    expect(net.state.view).toEqual(installed)
    expect(net.state.lastReconfigHeight).toBe(3n)
    expect(net.state.ha).toBe(0n)
    // The continuing members carry their new keys; none is reused.
    for (const m of installed!.members) expect(net.builder.genesis.view.members.some((g) => g.viewKey.toString() === m.viewKey.toString())).toBe(false)
    // The chain carrying these blocks verifies, and blocks after it are certified by view 1.
    net.block()
    expect(net.builder.blocks[3]!.header.viewId).toBe(1n)
    expect(verifies(net)).toBe(true)
  })

  it("ROTATE in the block that decides the change, or with no change at all, does not count", () => {
    const net = new Network({ admit: [4] })
    net.block([rotate(net, 0)])
    expect(verdict(net, 1)).toBe(reconfigReasonCodes.NoChangeDecided)
    net.block([join(net, 4), rotate(net, 1)])
    expect(verdict(net, 1)).toBe("ok")
    expect(verdict(net, 2)).toBe(reconfigReasonCodes.NoChangeDecided)
    expect(net.state.rotations).toEqual([])
  })

  it("at ha + B the view is installed without the members that did not rotate (n and f recomputed)", () => {
    const net = new Network({ admit: [4, 5, 6], replicas: 4, limits: { ...defaultLimits, rotationWindow: 3 } })
    net.block([join(net, 4), join(net, 5), join(net, 6)]) // ha = 1; joiners get ids 4, 5, 6
    net.block([rotate(net, 0), rotate(net, 1)]) // height 2
    net.block([rotate(net, 2)]) // height 3: member 3 has not rotated
    expect(net.outcomes[2]!.installed).toBeUndefined()
    net.block() // height 4 = ha + B
    const v = net.outcomes[3]!.installed!
    expect(v.members.map((m) => m.replica)).toEqual([0, 1, 2, 4, 5, 6])
    expect([v.n, v.f]).toEqual([6, 1])
    net.block()
    expect(verifies(net)).toBe(true)
  })

  it("REMOVE takes effect only with f + 1 distinct members asking; one member asking twice counts once", () => {
    const net = new Network({ replicas: 4 })
    net.block([remove(net, 0, 3), remove(net, 0, 3)])
    expect(verdict(net, 2)).toBe(reconfigReasonCodes.AlreadyRequested)
    expect(evicted(net.state)).toEqual([])
    expect(net.state.ha).toBe(0n)
    net.block([remove(net, 1, 3)])
    expect(evicted(net.state)).toEqual([3])
    expect(net.state.ha).toBe(2n)
    net.block([rotate(net, 0), rotate(net, 1), rotate(net, 2)])
    expect(net.outcomes[2]!.installed?.members.map((m) => m.replica)).toEqual([0, 1, 2])
    expect(net.state.view.f).toBe(0)
  })

  it("requests that must fail get their reason: not admitted, non-member, self-removal, stale view, reused key, double join", () => {
    const net = new Network({ admit: [4] })
    net.block([
      join(net, 7), // not on the allow-list
      leave(net, 9), // not a member
      remove(net, 0, 0), // self-removal
      remove(net, 0, 42), // target not a member
      join(net, 0), // already a member
      join(net, 4),
      join(net, 4, 1) // already admitted
    ])
    expect([1, 2, 3, 4, 5, 6, 7].map((i) => verdict(net, i))).toEqual([
      reconfigReasonCodes.NotAdmitted,
      reconfigReasonCodes.NotMember,
      reconfigReasonCodes.SelfRemoval,
      reconfigReasonCodes.TargetNotMember,
      reconfigReasonCodes.AlreadyMember,
      "ok",
      reconfigReasonCodes.AlreadyRequested
    ])
    expect(verdict(net, 0)).toBe("not a request")
    // A ROTATE reusing a key already in use, a stale LEAVE naming view 5.
    const reuse = requestTransaction(
      net.chainId,
      net.identity(1),
      net.nextSeq(1),
      rotateRequest(net.chainId, net.identity(1), 1n, net.currentViewKey(1), net.currentViewKey(0))
    )
    const stale = requestTransaction(net.chainId, net.identity(2), net.nextSeq(2), leaveRequest(5n))
    net.block([reuse, stale])
    expect([verdict(net, 1), verdict(net, 2)]).toEqual([reconfigReasonCodes.ViewKeyTaken, reconfigReasonCodes.WrongView])
  })

  it("forged view-key signatures are refused: ROTATE signed by another member's current key, JOIN whose key did not sign", () => {
    const net = new Network({ admit: [4] })
    net.block([leave(net, 3)])
    const forgedRotate = requestTransaction(
      net.chainId,
      net.identity(1),
      net.nextSeq(1),
      rotateRequest(net.chainId, net.identity(1), 1n, net.currentViewKey(0), net.freshViewKey(1, 1n))
    )
    const honest = joinRequest(net.chainId, net.identity(4), { viewId: 0n, address: addressOf(4) }, net.freshViewKey(4, 1n))
    const stolenKey = { ...honest, viewKey: net.freshViewKey(2, 1n, 9).publicKey }
    net.block([forgedRotate, requestTransaction(net.chainId, net.identity(4), net.nextSeq(4), stolenKey)])
    expect([verdict(net, 1), verdict(net, 2)]).toEqual([reconfigReasonCodes.BadViewKeySignature, reconfigReasonCodes.BadViewKeySignature])
    expect(net.state.rotations).toEqual([])
    expect(net.state.joins).toEqual([])
  })

  it("a malformed request (reconfiguration tag, bad body) is ordered and fails as Malformed; client blocks change nothing", () => {
    const net = new Network()
    const before = net.state
    net.block([], 3)
    expect(net.state).toBe(before)
    const tx = requestTransaction(net.chainId, net.identity(0), 5n, leaveRequest(0n))
    const bad = { ...tx, op: tx.op.subarray(0, tx.op.length - 1) }
    const outcome = applyBlock(net.state, net.ctx, 2n, [bad])
    const v = decodeResult(outcome.results[0]!)
    expect(Either.isRight(v) && v.right._tag === "Failed" && v.right.reason).toBe(reconfigReasonCodes.Malformed)
    expect(outcome.state.leaves).toEqual([])
  })

  it("a joiner that left and rejoins gets a new replica id (ids are never reused)", () => {
    const net = new Network({ admit: [4] })
    net.block([join(net, 4)])
    net.block([0, 1, 2, 3].map((r) => rotate(net, r)))
    expect(net.state.view.members.map((m) => m.replica)).toEqual([0, 1, 2, 3, 4])
    net.block([leave(net, 4)])
    net.block([0, 1, 2, 3].map((r) => rotate(net, r)))
    expect(net.state.view.members.map((m) => m.replica)).toEqual([0, 1, 2, 3])
    net.block([join(net, 4, 2)])
    net.block([0, 1, 2, 3].map((r) => rotate(net, r)))
    expect(net.state.view.members.map((m) => m.replica)).toEqual([0, 1, 2, 3, 5])
    expect(net.state.view.id).toBe(3n)
    net.block()
    expect(verifies(net)).toBe(true)
  })
})
