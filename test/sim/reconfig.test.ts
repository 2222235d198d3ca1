// Establishes that reconfiguration wired into the replica core works end to end in the
// deterministic simulator: joins, leaves, evictions, crashes during and after view changes, and
// growing and shrinking the membership keep Agreement, view consistency, key erasure, no fork,
// durable replies and the coin invariants, and reach the expected membership; and that the key
// erasure checker catches a replica that keeps its old keys.
import { describe, expect, it } from "vitest"
import { ReconfigurationActions } from "../../src/core/actions.ts"
import type { PersistenceMode } from "../../src/chain/types.ts"
import type { ReconfigResult } from "./reconfig.ts"
import { runReconfig } from "./reconfig.ts"
import {
  byzantineEvicted,
  growThenShrink,
  joinUnderLoad,
  joinWhileCrashed,
  leaderLeaves,
  reconfigThenFullCrash
} from "./reconfig-scenarios.ts"

const modes: ReadonlyArray<PersistenceMode> = ["strong", "weak"]

/** Every check passed, the run did something, and every replica's stored chain was checked. */
const clean = (r: ReconfigResult): void => {
  expect(r.violations).toEqual([])
  expect(r.accepted).toBe(r.transactions)
  expect(r.chainHeight).toBeGreaterThan(0)
  expect(r.chains.length).toBeGreaterThan(0)
  for (const c of r.chains) expect(c.blocks.length).toBeGreaterThan(0)
}

const labelsOf = (r: ReconfigResult) => r.views.map((v) => v.labels.join(","))

describe("reconfiguration in the simulator", () => {
  it.each(modes)("%s mode: a replica joins under load, catches up by state transfer and becomes a member of view 1", (mode) => {
    const r = runReconfig({ ...joinUnderLoad(1, mode), trace: true })
    clean(r)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "0,1,2,3,4"])
    // The joiner (replica 4) installed view 1, then took part: it accepted and committed with its view-1 key.
    const joined = r.trace.find((t) => t.event.action === "InstallView" && t.event.replica === 4)
    expect(joined?.event["view"]).toBe(1)
    const afterJoin = r.trace.filter((t) => t.seq > joined!.seq && t.event.replica === 4).map((t) => t.event.action)
    expect(afterJoin).toContain("Accept")
    if (mode === "strong") expect(afterJoin).toContain("Commit")
    expect(r.trace.some((t) => t.seq < joined!.seq && t.event.replica === 4 && ["Write", "Accept", "Commit"].includes(t.event.action))).toBe(false)
    // Every continuing member rotated and erased its view-0 key.
    for (const m of [0, 1, 2, 3]) {
      expect(r.trace.some((t) => t.event.action === "Rotate" && t.event.replica === m && t.event["view"] === 1)).toBe(true)
      expect(r.trace.some((t) => t.event.action === "EraseKeys" && t.event.replica === m)).toBe(true)
    }
    // One block installs view 1: its chain carries the record, and blocks after it are view 1's.
    const chain = r.chains[0]!.blocks
    const installing = chain.filter((b) => b.newView._tag === "Some")
    expect(installing.map((b) => b.header.height)).toEqual([r.views[1]!.installedAt])
    expect(chain.filter((b) => b.header.height > r.views[1]!.installedAt).every((b) => b.header.viewId === 1n)).toBe(true)
  })

  it.each(modes)("%s mode: the leader leaves; it hands over, then erases all its keys, and view 1 orders on", (mode) => {
    const r = runReconfig({ ...leaderLeaves(2, mode), trace: true })
    clean(r)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "1,2,3"])
    const left = r.trace.find((t) => t.event.action === "InstallView" && t.event.replica === 0)
    expect(left?.event["left"]).toBe(true)
    // It left only after view 1 decided its first instance (taken over).
    const firstOfView1 = r.trace.find((t) => t.event.action === "Decide" && t.event["cid"] === Number(r.views[1]!.installedAt) + 1)
    expect(firstOfView1).toBeDefined()
    expect(left!.seq).toBeGreaterThan(firstOfView1!.seq)
    expect(r.chainHeight).toBeGreaterThan(Number(r.views[1]!.installedAt))
  })

  it.each(modes)("%s mode: a Byzantine member is evicted by f + 1 REMOVE requests", (mode) => {
    const r = runReconfig({ ...byzantineEvicted("equivocate")(3, mode), trace: true })
    clean(r)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "0,1,2"])
    expect(r.trace.filter((t) => t.event.action === "RequestRemove").length).toBe(2)
  })

  it("strong mode: a silent Byzantine member is evicted too (its ROTATE never comes: the window closes the change)", () => {
    const r = runReconfig(byzantineEvicted("silent")(4, "strong"))
    clean(r)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "0,1,2"])
  })

  it.each(modes)("%s mode: a replica joins while a member is crashed; the member comes back and stays", (mode) => {
    const r = runReconfig({ ...joinWhileCrashed(5, mode), trace: true })
    clean(r)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "0,1,2,3,4"])
    expect(r.trace.some((t) => t.event.action === "Restart" && t.event.replica === 2)).toBe(true)
  })

  it.each(modes)("%s mode: every replica crashes right after a view change and restarts into the new view", (mode) => {
    const r = runReconfig({ ...reconfigThenFullCrash(6, mode), trace: true })
    clean(r)
    expect(r.fullCrashes).toBe(1)
    expect(labelsOf(r)).toEqual(["0,1,2,3", "0,1,2,3,4"])
    // Ordering went on in view 1 after the restart.
    const crashAt = r.trace.find((t) => t.event.action === "CrashAll")!.seq
    expect(r.trace.some((t) => t.seq > crashAt && t.event.action === "Decide")).toBe(true)
  })

  it.each(modes)("%s mode: the membership grows from 4 to 7 and shrinks back to 4; trace events carry the spec's action names", (mode) => {
    const r = runReconfig({ ...growThenShrink(7, mode), trace: true })
    clean(r)
    expect(r.views[0]!.labels).toEqual([0, 1, 2, 3])
    expect(r.views.some((v) => v.labels.length === 7)).toBe(true)
    expect(r.views[r.views.length - 1]!.labels).toEqual([3, 4, 5, 6])
    const names = new Set(r.trace.map((t) => t.event.action))
    for (const a of ["RequestJoin", "RequestLeave", "Rotate", "InstallView", "EraseKeys"] as const) {
      expect(ReconfigurationActions).toContain(a)
      expect(names.has(a)).toBe(true)
    }
  })

  it("negative control: a replica that keeps its old view keys is caught by the key erasure checker", () => {
    const r = runReconfig({ ...joinUnderLoad(1, "strong"), noErasure: [2] })
    expect(r.violations.map((v) => v.property)).toContain("KeyErasure")
    expect(r.violations.every((v) => v.property === "KeyErasure")).toBe(true)
  })
})
