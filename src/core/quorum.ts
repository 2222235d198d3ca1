/**
 * Quorum arithmetic of PROTOCOL.md section 1: f = floor((n - 1) / 3) and the Byzantine quorum
 * q = ceil((n + f + 1) / 2), which is 2f + 1 when n = 3f + 1.
 */

/** Most Byzantine members a view of n members tolerates. */
export const faultsTolerated = (n: number): number => Math.floor((n - 1) / 3)

/** Byzantine quorum for n members tolerating f faults. */
export const byzantineQuorum = (n: number, f: number = faultsTolerated(n)): number => Math.ceil((n + f + 1) / 2)

/** Size of a set that contains at least one correct member. */
export const weakQuorum = (f: number): number => f + 1
