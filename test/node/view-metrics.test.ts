// Establishes: the node counts the membership requests of the blocks it writes by kind and
// outcome (`ok` or the refusal's reason), each block once even when it is written again, and a
// malformed request as such; NodeMetrics exposes the counts with the other reconfiguration
// counters.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { NodeMetrics } from "../../src/node/metrics.ts"
import type { ViewMetrics } from "../../src/node/views.ts"
import { countMembershipRequests, membershipOutcomes } from "../../src/node/views.ts"
import { tagPrefix } from "../../src/chain/bytes.ts"
import { reconfigTag } from "../../src/reconfiguration/requests.ts"
import { reconfigReasons } from "../../src/reconfiguration/view-state.ts"
import { joinTx, leaveTx, Network, rotateTx } from "../reconfiguration/support.ts"

const fresh = (): ViewMetrics => ({ rotations: 0, keysErased: 0, viewsInstalled: 0, left: false, requests: {}, countedTo: 0n })

describe("membership request metrics", () => {
  it("counts each request of a written block by kind and outcome, once per height", () => {
    const net = new Network({ seed: "view-metrics", persistence: "strong", admit: [4] })
    // Label 5 is not on the admission list: its JOIN is refused.
    const first = net.block([leaveTx(net, 3), joinTx(net, 4), joinTx(net, 5)])
    expect(membershipOutcomes(first)).toEqual(["leave/ok", "join/ok", "join/NotAdmitted"])
    const second = net.block([0, 1, 2].map((r) => rotateTx(net, r)))
    expect(net.state.view.id).toBe(1n)
    const metrics = fresh()
    countMembershipRequests(metrics, first)
    countMembershipRequests(metrics, second)
    // Written again (a strong-mode rewrite): not counted twice.
    countMembershipRequests(metrics, first)
    expect(metrics.requests).toEqual({ "leave/ok": 1, "join/ok": 1, "join/NotAdmitted": 1, "rotate/ok": 3 })
    expect(metrics.countedTo).toBe(2n)
    // A block of client transactions only has no membership request.
    expect(membershipOutcomes(net.block([], 2))).toEqual([])
  })

  it("a request whose op carries the reconfiguration tag but does not decode counts as malformed", () => {
    const net = new Network({ seed: "view-metrics-malformed", persistence: "strong" })
    const block = net.block([], 1)
    const bad = {
      ...block,
      transactions: [{ ...block.transactions[0]!, op: Uint8Array.of(...tagPrefix(reconfigTag), 0xff) }],
      results: [reconfigReasons.fail("Malformed", "not a canonical reconfiguration request")]
    }
    expect(membershipOutcomes(bad)).toEqual(["malformed/Malformed"])
  })

  it("NodeMetrics exposes the reconfiguration counters", async () => {
    const zero = () => 0n
    const metrics = new NodeMetrics({
      height: zero,
      durableHeight: zero,
      regency: zero,
      view: () => 2n,
      leader: () => 0,
      lastDecidedCid: zero,
      highestSeenCid: zero,
      connectedPeers: () => 0,
      pendingTransactions: () => 0,
      verifierRejected: () => ({}),
      connectionsClosed: () => ({}),
      sendsRefused: () => ({}),
      payloads: () => ({ sent: {}, received: {} }),
      payloadsMalformed: () => 0,
      stateInstancesReceived: () => 0,
      reconfig: () => ({
        viewsInstalled: 2,
        rotations: 2,
        keysErased: 3,
        left: true,
        requests: { "join/ok": 1, "remove/NotMember": 2 },
        joins: { submitted: 2, WrongView: 1, ok: 1 }
      })
    })
    const text = await Effect.runPromise(Effect.promise(() => metrics.text()))
    for (const line of [
      "smartchain_view 2",
      "smartchain_views_installed_total 2",
      "smartchain_view_rotations_total 2",
      "smartchain_view_keys_erased_total 3",
      "smartchain_view_left 1",
      'smartchain_membership_requests_total{kind="join",outcome="ok"} 1',
      'smartchain_membership_requests_total{kind="remove",outcome="NotMember"} 2',
      'smartchain_join_requests_total{outcome="submitted"} 2',
      'smartchain_join_requests_total{outcome="WrongView"} 1'
    ])
      expect(text.split("\n")).toContain(line)
  })
})
