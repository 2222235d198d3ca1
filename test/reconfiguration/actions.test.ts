import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { txSigningBytes } from "../../src/chain/encoding.ts"
import { ReconfigurationActions } from "../../src/core/actions.ts"
import { canEraseKeys, eraseKeys, eraseKeysEvent, staleViewKeys } from "../../src/reconfiguration/erase-keys.ts"
import { canInstallView, installView, installViewEvent } from "../../src/reconfiguration/install-view.ts"
import { joinerState, memberState } from "../../src/reconfiguration/replica-state.ts"
import { canRequestJoin, requestJoin, requestJoinEvent } from "../../src/reconfiguration/request-join.ts"
import { canRequestLeave, requestLeave, requestLeaveEvent } from "../../src/reconfiguration/request-leave.ts"
import { canRequestRemove, requestRemove, requestRemoveEvent } from "../../src/reconfiguration/request-remove.ts"
import { decodeReconfigOp } from "../../src/reconfiguration/requests.ts"
import { canRotate, rotate, rotateEvent } from "../../src/reconfiguration/rotate.ts"
import { identityOf, Network } from "./support.ts"

const SEED = "reconfig"

describe("the spec's reconfiguration actions: enabling conditions, transitions, trace events", () => {
  it("every action's trace event is the TLA+ action name listed in src/core/actions.ts", () => {
    for (const e of [requestJoinEvent, requestLeaveEvent, requestRemoveEvent, rotateEvent, installViewEvent, eraseKeysEvent])
      expect(ReconfigurationActions).toContain(e)
  })

  it("RequestJoin: enabled once for a non-member; the transaction is signed by the identity key and carries the fresh key", () => {
    const net = new Network({ admit: [4] })
    const local = joinerState(4, identityOf(SEED, 4).publicKey)
    expect(canRequestJoin(local, net.state)).toBe(true)
    const made = requestJoin(local, net.state, net.chainId, net.identity(4), net.freshViewKey(4, 1n), "h:4", 1n)
    expect(canRequestJoin(made.local, net.state)).toBe(false)
    expect(made.local.heldViewKeys).toEqual([1n])
    expect(portableCrypto.verify(made.transaction.client, txSigningBytes(net.chainId, made.transaction), made.transaction.signature)).toBe(true)
    const op = decodeReconfigOp(made.transaction.op)
    expect(Either.isRight(op) && op.right._tag === "Join" && op.right.viewId).toBe(0n)
    expect(made.event).toMatchObject({ action: "RequestJoin", replica: 4, view: 1 })
    // A member is never enabled to join.
    expect(canRequestJoin(memberState(0, identityOf(SEED, 0).publicKey, 0n), net.state)).toBe(false)
  })

  it("RequestLeave and RequestRemove: only members, once per view (and target), never against oneself", () => {
    const net = new Network()
    const m0 = memberState(0, identityOf(SEED, 0).publicKey, 0n)
    expect(canRequestLeave(m0, net.state)).toBe(true)
    const left = requestLeave(m0, net.state, net.chainId, net.identity(0), 1n)
    expect(canRequestLeave(left.local, net.state)).toBe(false)
    expect(left.event).toEqual({ action: "RequestLeave", replica: 0, view: 0 })
    expect(canRequestRemove(m0, net.state, 0)).toBe(false)
    expect(canRequestRemove(m0, net.state, 9)).toBe(false)
    expect(canRequestRemove(m0, net.state, 3)).toBe(true)
    const asked = requestRemove(m0, net.state, net.chainId, net.identity(0), 3, 2n)
    expect(canRequestRemove(asked.local, net.state, 3)).toBe(false)
    expect(canRequestRemove(asked.local, net.state, 2)).toBe(true)
    expect(asked.event).toEqual({ action: "RequestRemove", replica: 0, view: 0, target: 3 })
    const outsider = joinerState(7, identityOf(SEED, 7).publicKey)
    expect(canRequestLeave(outsider, net.state)).toBe(false)
    expect(canRequestRemove(outsider, net.state, 3)).toBe(false)
  })

  it("Rotate: enabled only once a change is decided, only for continuing members, once per next view", () => {
    const net = new Network()
    const m1 = memberState(1, identityOf(SEED, 1).publicKey, 0n)
    const m3 = memberState(3, identityOf(SEED, 3).publicKey, 0n)
    expect(canRotate(m1, net.state)).toBe(false)
    const leave3 = requestLeave(m3, net.state, net.chainId, net.identity(3), 1n)
    net.block([leave3.transaction])
    expect(net.state.ha).toBe(1n)
    expect(canRotate(m1, net.state)).toBe(true)
    expect(canRotate(m3, net.state)).toBe(false) // leaving: not continuing
    const r = rotate(m1, net.state, net.chainId, net.identity(1), net.currentViewKey(1), net.freshViewKey(1, 1n), 5n)
    expect(r.local.heldViewKeys).toEqual([0n, 1n])
    expect(canRotate(r.local, net.state)).toBe(false)
    expect(r.event).toMatchObject({ action: "Rotate", replica: 1, view: 1 })
    net.block([r.transaction])
    expect(net.state.rotations.map((x) => x.replica)).toEqual([1])
  })

  it("InstallView: a continuing member switches and keeps the new key; a leaver erases every view key; a joiner becomes a member", () => {
    const net = new Network()
    const v1 = { ...net.state.view, id: 1n, members: net.state.view.members.slice(0, 3), n: 3, f: 0 }
    const stayer = { ...memberState(1, identityOf(SEED, 1).publicKey, 0n), heldViewKeys: [0n, 1n] }
    expect(canInstallView(stayer, v1, false)).toBe(true)
    const s = installView(stayer, v1, true)
    expect([s.local.view, s.local.left, s.erase, s.memberId]).toEqual([1n, false, [], 1])
    expect(s.event).toEqual({ action: "InstallView", replica: 1, view: 1, members: [0, 1, 2], left: false })
    expect(canInstallView(s.local, v1, true)).toBe(false)

    const leaver = memberState(3, identityOf(SEED, 3).publicKey, 0n)
    // A leaver waits until the new view has taken over (decided the block after the installing one).
    expect(canInstallView(leaver, v1, false)).toBe(false)
    expect(canInstallView(leaver, v1, true)).toBe(true)
    const l = installView(leaver, v1, true)
    expect([l.local.left, l.local.heldViewKeys, l.erase]).toEqual([true, [], [0n]])
    expect(canInstallView(l.local, { ...v1, id: 2n }, true)).toBe(false)
    // With erasure off (test-only), the leaver keeps its old key: the adversary's opportunity.
    const kept = installView(leaver, v1, false)
    expect([kept.local.left, kept.local.heldViewKeys, kept.erase]).toEqual([true, [0n], []])

    const outsider = joinerState(9, identityOf(SEED, 9).publicKey)
    expect(canInstallView(outsider, v1, true)).toBe(false)
    const joined = { ...v1, members: [...v1.members, { replica: 4, identityKey: identityOf(SEED, 9).publicKey, viewKey: new Uint8Array(32).fill(9), address: "j" }], n: 4, f: 1 }
    expect(canInstallView(outsider, joined, false)).toBe(true)
    const j = installView({ ...outsider, heldViewKeys: [1n] }, joined, true)
    expect([j.local.view, j.memberId, j.local.replica, j.local.heldViewKeys]).toEqual([1n, 4, 4, [1n]])
  })

  it("EraseKeys: after installing view v, every key of a view before v goes, and only with erasure on", () => {
    const local = { ...memberState(2, identityOf(SEED, 2).publicKey, 3n), heldViewKeys: [0n, 2n, 3n] }
    expect(staleViewKeys(local)).toEqual([0n, 2n])
    expect(canEraseKeys(local, false)).toBe(false)
    expect(canEraseKeys(local, true)).toBe(true)
    const e = eraseKeys(local)
    expect([e.erase, e.local.heldViewKeys]).toEqual([[0n, 2n], [3n]])
    expect(e.event).toEqual({ action: "EraseKeys", replica: 2, views: [0, 2] })
    expect(canEraseKeys(e.local, true)).toBe(false)
    expect(canEraseKeys(joinerState(5, identityOf(SEED, 5).publicKey), true)).toBe(false)
  })
})
