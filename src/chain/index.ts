/**
 * The chain format: data types, canonical encoding, domain-separated hashes, Merkle trees,
 * signing payloads, genesis files and offline chain verification. Pure: no I/O.
 */
export * from "./types.ts"
export * from "./errors.ts"
export * from "./bytes.ts"
/** Codec combinators (u32, array, struct, ...) for building further binary codecs. */
export * as codec from "./codec.ts"
export type { Codec } from "./codec.ts"
export { decodeWith, encodeWith, Reader, Writer } from "./codec.ts"
export * from "./encoding.ts"
export * from "./crypto.ts"
export * from "./hash.ts"
export * from "./merkle.ts"
export * from "./verify.ts"
export * from "./genesis-json.ts"
export * from "./reply.ts"
