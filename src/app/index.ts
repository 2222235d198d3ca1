/**
 * Replicated applications: the generic interface (./application.ts), the UTXO coin (./coin.ts)
 * and the key-value store (./kv.ts). Byte formats: conformance/APPS.md.
 */
export * from "./application.ts"
export * from "./coin.ts"
export * from "./kv.ts"
export { VersionedMap, MapEditor } from "./versioned-map.ts"
