/**
 * Reconfiguration without a trusted administrator (PROTOCOL.md section 6, spec/Reconfiguration.tla):
 * one file per spec action (request-join, request-leave, request-remove, rotate, install-view,
 * erase-keys), the requests' encoding (requests.ts), the view state every replica derives from
 * the chain (view-state.ts, apply-block.ts) and each replica's own keys (replica-state.ts).
 * Pure: no I/O, no clock, no randomness; fresh keys come in as Signers.
 */
export * from "./requests.ts"
export * from "./view-state.ts"
export * from "./replica-state.ts"
export * from "./request-join.ts"
export * from "./request-leave.ts"
export * from "./request-remove.ts"
export * from "./rotate.ts"
export * from "./install-view.ts"
export * from "./erase-keys.ts"
export * from "./apply-block.ts"
export * from "./view-tracker.ts"
export * from "./view-state-codec.ts"
export * from "./replay.ts"
