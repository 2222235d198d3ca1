/**
 * The channel handshake: mutual authentication of two replicas by their Ed25519 identity keys
 * (known to each other from the view record) and agreement on two per-connection MAC keys.
 * These functions do no I/O; channel.ts carries their messages in length-prefixed frames.
 *
 * Messages (each one frame; fields back to back; conformance/CHANNEL.md has the same):
 *
 *   HELLO  initiator -> responder   98 bytes
 *     u8 0x01 | u8 version = 1 | identity key I (32) | ephemeral X25519 key EI (32) | nonce NI (32)
 *   REPLY  responder -> initiator  162 bytes
 *     u8 0x02 | u8 version = 1 | identity key R (32) | ephemeral X25519 key ER (32) | nonce NR (32)
 *       | signature SR (64) by R
 *   FINISH initiator -> responder   65 bytes
 *     u8 0x03 | signature SI (64) by I
 *
 * Transcript hash (binds the chain, the version, both identities in their roles, both ephemeral
 * keys and both nonces):
 *
 *   TH = SHA-256( "smartchain/channel/transcript/v1" 0x00 || string(chainId) || u8 version
 *                 || I || R || EI || ER || NI || NR )
 *
 * Signatures: SR = Sign(R, M(0x02)) and SI = Sign(I, M(0x01)) with
 *
 *   M(role) = "smartchain/sign/channel/v1" 0x00 || string(chainId) || u8 role || TH
 *
 * where string(s) is a u32 big-endian byte length and the UTF-8 bytes, as in FORMAT.md. The role
 * byte keeps the responder's signature from passing as the initiator's; the tag keeps channel
 * signatures apart from every other signature an identity key makes.
 *
 * Key schedule: Z = X25519(own ephemeral secret, peer's ephemeral key) (32 bytes; all zero is
 * refused), then
 *
 *   K_i2r = HKDF-SHA256(ikm = Z, salt = TH, info = "smartchain/channel/mac/initiator-to-responder/v1", 32)
 *   K_r2i = HKDF-SHA256(ikm = Z, salt = TH, info = "smartchain/channel/mac/responder-to-initiator/v1", 32)
 *
 * The initiator sends with K_i2r and receives with K_r2i; the responder the other way round.
 * The responder refuses a HELLO whose identity is not a known peer before it does any signing.
 * The initiator refuses a REPLY from any identity but the peer it dialed.
 */
import { Either } from "effect"
import * as nodeCrypto from "node:crypto"
import { asciiBytes, bytesEqual, concatBytes, tagPrefix, toHex } from "../chain/bytes.ts"
import { nodeCrypto as ed25519 } from "../services/crypto.ts"
import type { HandshakeError } from "./errors.ts"
import { HandshakeFailed, Malformed, UnknownPeer } from "./errors.ts"

export const handshakeVersion = 1
export const helloKind = 0x01
export const replyKind = 0x02
export const finishKind = 0x03
export const helloBytes = 98
export const replyBytes = 162
export const finishBytes = 65
export const roleInitiator = 0x01
export const roleResponder = 0x02

export const transcriptTag = "smartchain/channel/transcript/v1"
export const signingTag = "smartchain/sign/channel/v1"
export const initiatorToResponderInfo = "smartchain/channel/mac/initiator-to-responder/v1"
export const responderToInitiatorInfo = "smartchain/channel/mac/responder-to-initiator/v1"

const transcriptTagBytes = tagPrefix(transcriptTag)
const signingTagBytes = tagPrefix(signingTag)
const i2rInfo = asciiBytes(initiatorToResponderInfo)
const r2iInfo = asciiBytes(responderToInitiatorInfo)

/** This replica's identity: its Ed25519 secret seed and the public key it proves. */
export interface Identity {
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

/** A peer as the handshake knows it. */
export interface KnownPeer {
  readonly replica: number
  readonly identityKey: Uint8Array
}

/** Fresh per-handshake secrets; drawn from the system's random source unless given (test vectors). */
export interface HandshakeSecrets {
  /** X25519 secret key, 32 bytes. */
  readonly ephemeralSecret: Uint8Array
  readonly nonce: Uint8Array
}

/** The outcome of a handshake, as one side sees it. */
export interface Session {
  readonly peer: KnownPeer
  /** MAC key of the frames this side sends. */
  readonly sendKey: Uint8Array
  /** MAC key of the frames this side receives. */
  readonly receiveKey: Uint8Array
  readonly transcriptHash: Uint8Array
}

// DER prefixes that wrap a raw X25519 key (RFC 8410): PKCS#8 for the secret, SPKI for the public key.
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex")
const X25519_SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex")

interface Ephemeral {
  readonly privateKey: nodeCrypto.KeyObject
  readonly publicKey: Uint8Array
}

const rawPublic = (key: nodeCrypto.KeyObject): Uint8Array => {
  const spki = key.export({ format: "der", type: "spki" })
  return new Uint8Array(spki.subarray(spki.length - 32))
}

const makeEphemeral = (secret: Uint8Array | undefined): Ephemeral => {
  if (secret === undefined) {
    const pair = nodeCrypto.generateKeyPairSync("x25519")
    return { privateKey: pair.privateKey, publicKey: rawPublic(pair.publicKey) }
  }
  const privateKey = nodeCrypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: "der", type: "pkcs8" })
  return { privateKey, publicKey: rawPublic(nodeCrypto.createPublicKey(privateKey)) }
}

const freshNonce = (given: Uint8Array | undefined): Uint8Array => given ?? new Uint8Array(nodeCrypto.randomBytes(32))

/** Z = X25519(secret, peer); undefined when the peer's key is refused or Z is all zero. */
const sharedSecret = (own: nodeCrypto.KeyObject, peerPublic: Uint8Array): Uint8Array | undefined => {
  try {
    const publicKey = nodeCrypto.createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peerPublic]), format: "der", type: "spki" })
    const z = nodeCrypto.diffieHellman({ privateKey: own, publicKey })
    let any = 0
    for (const b of z) any |= b
    return any === 0 ? undefined : new Uint8Array(z)
  } catch {
    return undefined
  }
}

const utf8 = new TextEncoder()

const u32be = (n: number): Uint8Array => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])

const encodedString = (s: string): Uint8Array => {
  const b = utf8.encode(s)
  return concatBytes(u32be(b.length), b)
}

export interface TranscriptInput {
  readonly chainId: string
  readonly initiatorIdentity: Uint8Array
  readonly responderIdentity: Uint8Array
  readonly initiatorEphemeral: Uint8Array
  readonly responderEphemeral: Uint8Array
  readonly initiatorNonce: Uint8Array
  readonly responderNonce: Uint8Array
}

/** TH, as specified above. */
export const transcriptHash = (t: TranscriptInput): Uint8Array =>
  new Uint8Array(
    nodeCrypto
      .createHash("sha256")
      .update(
        concatBytes(
          transcriptTagBytes,
          encodedString(t.chainId),
          new Uint8Array([handshakeVersion]),
          t.initiatorIdentity,
          t.responderIdentity,
          t.initiatorEphemeral,
          t.responderEphemeral,
          t.initiatorNonce,
          t.responderNonce
        )
      )
      .digest()
  )

/** M(role), the bytes each side signs. */
export const handshakeSigningBytes = (chainId: string, role: number, th: Uint8Array): Uint8Array =>
  concatBytes(signingTagBytes, encodedString(chainId), new Uint8Array([role]), th)

/** K_i2r and K_r2i from Z and TH. */
export const deriveKeys = (z: Uint8Array, th: Uint8Array): { readonly i2r: Uint8Array; readonly r2i: Uint8Array } => ({
  i2r: new Uint8Array(nodeCrypto.hkdfSync("sha256", z, th, i2rInfo, 32)),
  r2i: new Uint8Array(nodeCrypto.hkdfSync("sha256", z, th, r2iInfo, 32))
})

const failed = (reason: string) => Either.left(new HandshakeFailed({ reason }))
const malformed = (reason: string) => Either.left(new Malformed({ reason }))

// ---------------------------------------------------------------------------------------------
// Initiator
// ---------------------------------------------------------------------------------------------

export interface InitiatorState {
  readonly chainId: string
  readonly identity: Identity
  readonly expected: KnownPeer
  readonly ephemeral: Ephemeral
  readonly nonce: Uint8Array
}

/** Starts a handshake with `expected`: the state to keep and the HELLO to send. */
export const initiatorStart = (
  chainId: string,
  identity: Identity,
  expected: KnownPeer,
  secrets?: HandshakeSecrets
): { readonly state: InitiatorState; readonly hello: Uint8Array } => {
  const ephemeral = makeEphemeral(secrets?.ephemeralSecret)
  const nonce = freshNonce(secrets?.nonce)
  const hello = concatBytes(new Uint8Array([helloKind, handshakeVersion]), identity.publicKey, ephemeral.publicKey, nonce)
  return { state: { chainId, identity, expected, ephemeral, nonce }, hello }
}

/** Checks the REPLY; on success the FINISH to send and the session. */
export const initiatorOnReply = (
  state: InitiatorState,
  reply: Uint8Array
): Either.Either<{ readonly finish: Uint8Array; readonly session: Session }, HandshakeError> => {
  if (reply.length !== replyBytes || reply[0] !== replyKind) return malformed(`expected a ${replyBytes}-byte REPLY`)
  if (reply[1] !== handshakeVersion) return failed(`unsupported handshake version ${reply[1]}`)
  const responderIdentity = reply.subarray(2, 34)
  const responderEphemeral = reply.subarray(34, 66)
  const responderNonce = reply.subarray(66, 98)
  const signature = reply.subarray(98, 162)
  if (!bytesEqual(responderIdentity, state.expected.identityKey)) return Either.left(new UnknownPeer({ identityKey: toHex(responderIdentity) }))
  const th = transcriptHash({
    chainId: state.chainId,
    initiatorIdentity: state.identity.publicKey,
    responderIdentity,
    initiatorEphemeral: state.ephemeral.publicKey,
    responderEphemeral,
    initiatorNonce: state.nonce,
    responderNonce
  })
  if (!ed25519.verify(responderIdentity, handshakeSigningBytes(state.chainId, roleResponder, th), signature))
    return failed("bad responder signature")
  const z = sharedSecret(state.ephemeral.privateKey, responderEphemeral)
  if (z === undefined) return failed("bad responder ephemeral key")
  const keys = deriveKeys(z, th)
  const finish = concatBytes(new Uint8Array([finishKind]), ed25519.sign(state.identity.secretKey, handshakeSigningBytes(state.chainId, roleInitiator, th)))
  return Either.right({ finish, session: { peer: state.expected, sendKey: keys.i2r, receiveKey: keys.r2i, transcriptHash: th } })
}

// ---------------------------------------------------------------------------------------------
// Responder
// ---------------------------------------------------------------------------------------------

export interface ResponderState {
  readonly chainId: string
  readonly peer: KnownPeer
  readonly transcriptHash: Uint8Array
  readonly keys: { readonly i2r: Uint8Array; readonly r2i: Uint8Array }
}

/**
 * Checks the HELLO: its identity must be a known peer (`lookup`) other than this replica. On
 * success the state to keep and the REPLY to send.
 */
export const responderOnHello = (
  chainId: string,
  identity: Identity,
  lookup: (identityKey: Uint8Array) => KnownPeer | undefined,
  hello: Uint8Array,
  secrets?: HandshakeSecrets
): Either.Either<{ readonly state: ResponderState; readonly reply: Uint8Array }, HandshakeError> => {
  if (hello.length !== helloBytes || hello[0] !== helloKind) return malformed(`expected a ${helloBytes}-byte HELLO`)
  if (hello[1] !== handshakeVersion) return failed(`unsupported handshake version ${hello[1]}`)
  const initiatorIdentity = hello.subarray(2, 34)
  const initiatorEphemeral = hello.subarray(34, 66)
  const initiatorNonce = hello.subarray(66, 98)
  const peer = bytesEqual(initiatorIdentity, identity.publicKey) ? undefined : lookup(initiatorIdentity)
  if (peer === undefined) return Either.left(new UnknownPeer({ identityKey: toHex(initiatorIdentity) }))
  const ephemeral = makeEphemeral(secrets?.ephemeralSecret)
  const z = sharedSecret(ephemeral.privateKey, initiatorEphemeral)
  if (z === undefined) return failed("bad initiator ephemeral key")
  const nonce = freshNonce(secrets?.nonce)
  const th = transcriptHash({
    chainId,
    initiatorIdentity,
    responderIdentity: identity.publicKey,
    initiatorEphemeral,
    responderEphemeral: ephemeral.publicKey,
    initiatorNonce,
    responderNonce: nonce
  })
  const signature = ed25519.sign(identity.secretKey, handshakeSigningBytes(chainId, roleResponder, th))
  const reply = concatBytes(new Uint8Array([replyKind, handshakeVersion]), identity.publicKey, ephemeral.publicKey, nonce, signature)
  return Either.right({ state: { chainId, peer, transcriptHash: th, keys: deriveKeys(z, th) }, reply })
}

/** Checks the FINISH; on success the session. */
export const responderOnFinish = (state: ResponderState, finish: Uint8Array): Either.Either<Session, HandshakeError> => {
  if (finish.length !== finishBytes || finish[0] !== finishKind) return malformed(`expected a ${finishBytes}-byte FINISH`)
  if (!ed25519.verify(state.peer.identityKey, handshakeSigningBytes(state.chainId, roleInitiator, state.transcriptHash), finish.subarray(1)))
    return failed("bad initiator signature")
  return Either.right({ peer: state.peer, sendKey: state.keys.r2i, receiveKey: state.keys.i2r, transcriptHash: state.transcriptHash })
}
