/**
 * The BlockStore service: blocks, certificates and snapshots, checksummed and indexed by height,
 * durable at each sync. The interface, errors and record format are in ./blockstore-core.ts; the
 * live layer on classic-level in ./blockstore-level.ts; the in-memory layer with crash semantics
 * (for tests and the simulator) in ./blockstore-memory.ts.
 */
export * from "./blockstore-core.ts"
export * from "./blockstore-level.ts"
export * from "./blockstore-memory.ts"
