// Establishes: the pipeline's pruning test on height keys (decimal strings compared without
// parsing) agrees with comparing the heights as numbers, for every height and bound.
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { heightsBelow } from "../../src/persistence/pipeline.ts"
import { heightKey } from "../../src/persistence/state.ts"

describe("heightsBelow", () => {
  it("says key < bound exactly when the heights compare so", () => {
    const height = fc.oneof(fc.bigInt({ min: 0n, max: 200n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))
    fc.assert(
      fc.property(height, fc.oneof(height, fc.bigInt({ min: -100n, max: 100n })), (h, bound) => {
        expect(heightsBelow(bound)(heightKey(h))).toBe(h < bound)
      }),
      { numRuns: 5000 }
    )
    // Around digit-count changes, where comparing strings alone would go wrong.
    for (const [h, bound] of [[9n, 10n], [10n, 9n], [99n, 100n], [100n, 99n], [0n, 1n], [0n, 0n], [5n, -3n]] as const)
      expect(heightsBelow(bound)(heightKey(h))).toBe(h < bound)
  })
})
