/**
 * The client library: sign, submit to every member, accept by the persistence mode's rule.
 * The reply formats and the certified-reply checker are in src/chain/reply.ts.
 */
export * from "./acceptance.ts"
export * from "./client.ts"
export * from "./memory-transport.ts"
export * from "./transport.ts"
export * from "./views.ts"
