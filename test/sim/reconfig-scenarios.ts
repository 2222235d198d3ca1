/**
 * The reconfiguration scenarios of issue 6 (PROTOCOL.md section 6), as options for the
 * reconfiguration simulator (./reconfig.ts), and the random mix a campaign seed draws.
 */
import type { PersistenceMode } from "../../src/chain/types.ts"
import type { Behaviour } from "./byzantine.ts"
import { Prng } from "./prng.ts"
import type { ReconfigAction, ReconfigOptions } from "./reconfig.ts"

type Scenario = (seed: number, mode: PersistenceMode) => ReconfigOptions

/** Replica 4 joins while clients keep submitting. */
export const joinUnderLoad: Scenario = (seed, mode) => ({
  seed,
  mode,
  n: 4,
  joiners: 1,
  transactions: 60,
  submitUntilMs: 1_800,
  lossRate: 0.05,
  actions: [{ kind: "join", atMs: 300, label: 4 }],
  expectMembers: [0, 1, 2, 3, 4]
})

/** Replica 0, the leader of regency 0, leaves. */
export const leaderLeaves: Scenario = (seed, mode) => ({
  seed,
  mode,
  n: 4,
  transactions: 40,
  lossRate: 0.05,
  actions: [{ kind: "leave", atMs: 300, label: 0 }],
  expectMembers: [1, 2, 3]
})

/** Replica 3 is Byzantine (equivocating and forging); replicas 0 and 1 (f + 1 = 2) ask to evict it. */
export const byzantineEvicted = (behaviour: Behaviour): Scenario => (seed, mode) => ({
  seed,
  mode,
  n: 4,
  transactions: 40,
  lossRate: 0.05,
  byzantine: new Map([[3, behaviour]]),
  actions: [{ kind: "remove", atMs: 300, target: 3, by: [0, 1] }],
  expectMembers: [0, 1, 2]
})

/** Replica 2 is down while replica 4 joins; it comes back, catches up, and rotates in time. */
export const joinWhileCrashed: Scenario = (seed, mode) => ({
  seed,
  mode,
  n: 4,
  joiners: 1,
  transactions: 40,
  actions: [
    { kind: "crash", atMs: 250, labels: [2], downMs: 600 },
    { kind: "join", atMs: 300, label: 4 }
  ],
  expectMembers: [0, 1, 2, 3, 4]
})

/** Replica 4 joins; right after the first replica installed view 1, every replica crashes at once. */
export const reconfigThenFullCrash: Scenario = (seed, mode) => ({
  seed,
  mode,
  n: 4,
  joiners: 1,
  transactions: 40,
  actions: [
    { kind: "join", atMs: 300, label: 4 },
    { kind: "crashAllAfterView", view: 1n, delayMs: 30, downMs: 100 }
  ],
  expectMembers: [0, 1, 2, 3, 4]
})

/** Three replicas join (4 -> 7), then the three oldest members leave (7 -> 4). */
export const growThenShrink: Scenario = (seed, mode) => ({
  seed,
  mode,
  n: 4,
  joiners: 3,
  transactions: 60,
  lossRate: 0.03,
  actions: [
    { kind: "join", atMs: 200, label: 4 },
    { kind: "join", atMs: 250, label: 5 },
    { kind: "join", atMs: 300, label: 6 },
    { kind: "leave", atMs: 1500, label: 0 },
    { kind: "leave", atMs: 1500, label: 1 },
    { kind: "leave", atMs: 1500, label: 2 }
  ],
  expectMembers: [3, 4, 5, 6]
})

/**
 * A campaign seed: 4 or 7 genesis members, weak or strong mode, message loss, possibly a
 * Byzantine member (evicted by f + 1 others, or left alone), joins, leaves of correct members,
 * single crashes and a full crash, all drawn from the seed. Membership stays within 4..7 and the
 * number of Byzantine members within the f of every view.
 */
export const campaignOptions = (seed: number): ReconfigOptions => {
  const prng = new Prng(seed * 7919 + 13)
  const n = prng.chance(0.3) ? 7 : 4
  const mode: PersistenceMode = prng.chance(0.5) ? "strong" : "weak"
  const joiners = prng.int(0, 2)
  const actions: Array<ReconfigAction> = []
  const byzantine = new Map<number, Behaviour>()
  const correct = [...Array(n).keys()]
  if (prng.chance(0.4)) {
    const b = prng.pick(correct)
    byzantine.set(b, prng.pick(["silent", "equivocate", "forge", "replay", "stopDataLie", "mixed"] as const))
    correct.splice(correct.indexOf(b), 1)
    const f = Math.floor((n - 1) / 3)
    if (prng.chance(0.6)) actions.push({ kind: "remove", atMs: prng.int(100, 1200), target: b, by: prng.shuffle(correct).slice(0, f + 1) })
  }
  for (let j = 0; j < joiners; j++) actions.push({ kind: "join", atMs: prng.int(100, 1500), label: n + j })
  // Leaves of correct members, keeping at least 4 members and never a Byzantine member in a view
  // whose f is 0: with a Byzantine member, a view of 4 loses no one (3 members tolerate no fault).
  const leaves = n === 7 ? prng.int(0, 2) : joiners > 0 && byzantine.size === 0 && prng.chance(0.4) ? 1 : 0
  const leaving = prng.shuffle(correct).slice(0, leaves)
  for (const l of leaving) actions.push({ kind: "leave", atMs: prng.int(100, 1800), label: l })
  const stay = correct.filter((c) => !leaving.includes(c))
  if (prng.chance(0.5)) actions.push({ kind: "crash", atMs: prng.int(100, 1500), labels: [prng.pick(stay)], downMs: prng.int(50, 500) })
  if (prng.chance(0.4)) actions.push({ kind: "crash", atMs: prng.int(200, 2000), labels: "all", downMs: prng.int(20, 300) })
  // A full crash right after the first view change (only when the seed changes the membership).
  if (actions.some((a) => a.kind !== "crash") && prng.chance(0.3))
    actions.push({ kind: "crashAllAfterView", view: 1n, delayMs: prng.int(0, 100), downMs: prng.int(20, 300) })
  return {
    seed,
    mode,
    n,
    joiners,
    transactions: prng.int(20, 50),
    lossRate: prng.chance(0.5) ? prng.float() * 0.1 : 0,
    faultyDelayMs: prng.int(5, 60),
    healMs: prng.int(800, 2500),
    byzantine,
    actions
  }
}
