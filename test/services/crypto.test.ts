// Establishes: both Crypto implementations (node:crypto and @noble) reproduce the RFC 8032
// section 7.1 Ed25519 vectors and the FIPS 180 SHA-256 values, agree byte for byte on keys,
// signatures and digests for random inputs, accept each other's signatures, reject tampering,
// and give the same answer on adversarial keys and signatures (small-order and mixed-order keys,
// non-canonical encodings, small-order components in R, S >= L), where the libraries underneath
// disagree with each other.
import { describe, expect, it } from "@effect/vitest"
import * as ed from "@noble/ed25519"
import { sha512 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as nodeCryptoModule from "node:crypto"
import type { CryptoImpl } from "../../src/services/crypto.ts"
import { portableCrypto } from "../../src/chain/crypto.ts"
import { Crypto, CryptoNoble, CryptoNode, nobleCrypto, nodeCrypto } from "../../src/services/crypto.ts"

ed.hashes.sha512 = sha512

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const impls: ReadonlyArray<CryptoImpl> = [nodeCrypto, nobleCrypto]

const test1024Message = [
  "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1",
  "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
  "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a",
  "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
  "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10",
  "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
  "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d",
  "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
  "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b",
  "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
  "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b",
  "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
  "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d",
  "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
  "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7",
  "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
  "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09",
  "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
  "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161",
  "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
  "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca",
  "c60c905c15fc910840b94c00a0b9d0"
].join("")

/** RFC 8032 section 7.1, Ed25519: secret key (seed), public key, message, signature. */
const rfc8032Vectors = [
  {
    name: "TEST 1 (empty message)",
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
  },
  {
    name: "TEST 2 (one byte)",
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
  },
  {
    name: "TEST 3 (two bytes)",
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
  },
  {
    name: "TEST 1024 (1023 bytes)",
    secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    publicKey: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    message: test1024Message,
    signature:
      "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"
  },
  {
    name: "TEST SHA(abc) (the message is SHA-512 of 'abc')",
    secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature:
      "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
  }
] as const

describe("RFC 8032 section 7.1 Ed25519 vectors", () => {
  for (const impl of impls)
    for (const v of rfc8032Vectors)
      it(`${impl.name}: ${v.name} gives the published public key and signature, and verifies`, () => {
        const secret = hex(v.secret)
        const message = hex(v.message)
        expect(toHex(impl.publicKeyFromSecret(secret))).toBe(v.publicKey)
        expect(toHex(impl.sign(secret, message))).toBe(v.signature)
        expect(impl.verify(hex(v.publicKey), message, hex(v.signature))).toBe(true)
      })

  it("the TEST 1024 message is the RFC's 1023 bytes and the SHA(abc) message is SHA-512('abc')", () => {
    expect(hex(test1024Message).length).toBe(1023)
    expect(toHex(sha512(new TextEncoder().encode("abc")))).toBe(rfc8032Vectors[4].message)
  })
})

describe("SHA-256 known answers (FIPS 180)", () => {
  const ascii = (s: string) => new TextEncoder().encode(s)
  const cases: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ["'abc'", ascii("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["the empty string", new Uint8Array(0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    [
      "the 448-bit two-block message",
      ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ],
    ["a million 'a'", new Uint8Array(1_000_000).fill(0x61), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"]
  ]
  for (const impl of impls)
    for (const [name, input, digest] of cases)
      it(`${impl.name}: SHA-256 of ${name} is the FIPS value`, () => {
        expect(toHex(impl.sha256(input))).toBe(digest)
      })

  it("node results are plain Uint8Arrays, not Buffers (whose slice would alias)", () => {
    const seed = new Uint8Array(32).fill(3)
    for (const out of [nodeCrypto.sha256(new Uint8Array(5)), nodeCrypto.sign(seed, new Uint8Array(1)), nodeCrypto.publicKeyFromSecret(seed)])
      expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype)
  })
})

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
const messageArb = fc.uint8Array({ maxLength: 300 })

describe("node and noble agree on random inputs", () => {
  it("for random seeds and messages: identical public keys, signatures and digests; each verifies the other's signatures", () => {
    fc.assert(
      fc.property(seedArb, messageArb, (seed, message) => {
        const pkNode = nodeCrypto.publicKeyFromSecret(seed)
        const pkNoble = nobleCrypto.publicKeyFromSecret(seed)
        expect(pkNode).toEqual(pkNoble)
        const sigNode = nodeCrypto.sign(seed, message)
        const sigNoble = nobleCrypto.sign(seed, message)
        expect(sigNode).toEqual(sigNoble)
        expect(nodeCrypto.sha256(message)).toEqual(nobleCrypto.sha256(message))
        expect(nodeCrypto.verify(pkNoble, message, sigNoble)).toBe(true)
        expect(nobleCrypto.verify(pkNode, message, sigNode)).toBe(true)
        expect(portableCrypto.verify(pkNode, message, sigNode)).toBe(true)
      }),
      { numRuns: 60 }
    )
  })

  it("a changed message, a flipped signature bit or another key is rejected by both", () => {
    fc.assert(
      fc.property(seedArb, seedArb, messageArb, fc.nat(), fc.nat({ max: 511 }), (seed, otherSeed, message, at, bit) => {
        fc.pre(toHex(seed) !== toHex(otherSeed))
        const publicKey = nodeCrypto.publicKeyFromSecret(seed)
        const signature = nodeCrypto.sign(seed, message)
        const changedMessage =
          message.length === 0 ? new Uint8Array([0]) : message.map((b, i) => (i === at % message.length ? b ^ 1 : b))
        const flippedSignature = signature.map((b, i) => (i === bit >> 3 ? b ^ (1 << (bit & 7)) : b))
        const otherKey = nodeCrypto.publicKeyFromSecret(otherSeed)
        for (const impl of impls) {
          expect(impl.verify(publicKey, changedMessage, signature)).toBe(false)
          expect(impl.verify(publicKey, message, flippedSignature)).toBe(false)
          expect(impl.verify(otherKey, message, signature)).toBe(false)
        }
      }),
      { numRuns: 40 }
    )
  })

  it("random 32-byte keys and 64-byte signatures get the same answer from both (false), without throwing", () => {
    fc.assert(
      fc.property(seedArb, fc.uint8Array({ minLength: 64, maxLength: 64 }), messageArb, (key, signature, message) => {
        expect(nodeCrypto.verify(key, message, signature)).toBe(false)
        expect(nobleCrypto.verify(key, message, signature)).toBe(false)
        expect(portableCrypto.verify(key, message, signature)).toBe(false)
      }),
      { numRuns: 40 }
    )
  })

  it("keys and signatures of the wrong length are false from verify, never a throw", () => {
    const seed = new Uint8Array(32).fill(1)
    const message = new Uint8Array([1, 2, 3])
    const publicKey = nodeCrypto.publicKeyFromSecret(seed)
    const signature = nodeCrypto.sign(seed, message)
    for (const impl of impls) {
      expect(impl.verify(publicKey.subarray(0, 31), message, signature)).toBe(false)
      expect(impl.verify(new Uint8Array([...publicKey, 0]), message, signature)).toBe(false)
      expect(impl.verify(publicKey, message, signature.subarray(0, 63))).toBe(false)
      expect(impl.verify(publicKey, message, new Uint8Array([...signature, 0]))).toBe(false)
      expect(impl.verify(new Uint8Array(0), message, new Uint8Array(0))).toBe(false)
      expect(impl.verifyBatch([{ publicKey: publicKey.subarray(1), message, signature }])).toEqual([false])
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Adversarial signatures: where OpenSSL and @noble's own verify disagree, both services agree.
// ---------------------------------------------------------------------------------------------

const L = 2n ** 252n + 27742317777372353535851937790883648493n
const P = 2n ** 255n - 19n
const le = (b: Uint8Array): bigint => {
  let n = 0n
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!)
  return n
}
const le32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint => le(sha512(concat(r, a, m))) % L

/** A point of order 8: [L]Q for curve points Q, until one lands on a generator of the torsion. */
const torsion8 = (() => {
  for (let y = 2n; ; y++) {
    let q: ed.Point
    try {
      q = ed.Point.fromBytes(le32(y), false)
    } catch {
      continue
    }
    const t = q.multiply(L - 1n, false).add(q)
    if (!t.double().double().is0()) return t
  }
})()
/** The eight small-order points. */
const smallOrder = Array.from({ length: 8 }, (_, i) => torsion8.multiply(BigInt(i + 1), false))

/** OpenSSL's verify with no key checks of ours in front of it. */
const rawOpenSsl = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
  nodeCryptoModule.verify(
    null,
    message,
    nodeCryptoModule.createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), publicKey]),
      format: "der",
      type: "spki"
    }),
    signature
  )
/** @noble/ed25519's own strict verify, which checks the equation with the cofactor. */
const nobleLibrary = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
  ed.verify(signature, message, publicKey, { zip215: false })

describe("adversarial keys and signatures get one answer from every implementation (node, noble, and the portable verifier)", () => {
  const message = new TextEncoder().encode("adversarial")

  it("the torsion points found are the eight distinct points of small order", () => {
    const encodings = new Set(smallOrder.map((p) => toHex(p.toBytes())))
    expect(encodings.size).toBe(8)
    for (const p of smallOrder) expect(p.isSmallOrder()).toBe(true)
  })

  it("small-order public keys (canonical and non-canonical encodings) are refused by both, though OpenSSL alone accepts forgeries for each", () => {
    const identity = le32(1n)
    // R = identity, S = 0 verifies under a small-order key A for every message whose challenge k
    // makes [k]A the identity; such a message is found for each key in a few tries.
    const forgery = concat(identity, new Uint8Array(32))
    const keys = [
      ...smallOrder.map((p) => p.toBytes()),
      le32(P + 1n),
      le32(P),
      // x = 0 with the sign bit set: the identity and the point of order 2.
      le32(1n | (1n << 255n)),
      le32(P - 1n + (1n << 255n))
    ]
    for (const key of keys) {
      const point = ed.Point.fromBytes(key, true)
      let forged: Uint8Array | undefined
      for (let i = 0; i < 200 && forged === undefined; i++) {
        const m = new TextEncoder().encode(`forged ${i}`)
        if (point.multiply(challenge(identity, key, m), false).is0()) forged = m
      }
      expect(forged).toBeDefined()
      expect(rawOpenSsl(key, forged!, forgery)).toBe(true)
      expect(nodeCrypto.verify(key, forged!, forgery)).toBe(false)
      expect(nobleCrypto.verify(key, forged!, forgery)).toBe(false)
      expect(portableCrypto.verify(key, forged!, forgery)).toBe(false)
    }
  })

  it("non-canonical encodings (y >= p) of curve points are refused by both, without throwing", () => {
    let tried = 0
    for (let y = 0n; y < 19n; y++) {
      try {
        ed.Point.fromBytes(le32(y), false)
      } catch {
        continue
      }
      tried++
      for (const key of [le32(y + P), le32(y + P + (1n << 255n))])
        for (const impl of [...impls, portableCrypto]) expect(impl.verify(key, message, new Uint8Array(64).fill(1))).toBe(false)
    }
    expect(tried).toBeGreaterThan(2)
  })

  it("S >= L is refused by both", () => {
    const seed = new Uint8Array(32).fill(5)
    const publicKey = nodeCrypto.publicKeyFromSecret(seed)
    const signature = nodeCrypto.sign(seed, message)
    const unreduced = concat(signature.subarray(0, 32), le32(le(signature.subarray(32)) + L))
    expect(nodeCrypto.verify(publicKey, message, signature)).toBe(true)
    for (const impl of [...impls, portableCrypto]) expect(impl.verify(publicKey, message, unreduced)).toBe(false)
  })

  it("an R with a small-order component is refused by both, though @noble's cofactored verify accepts it", () => {
    fc.assert(
      fc.property(seedArb, fc.bigInt({ min: 1n, max: L - 1n }), fc.integer({ min: 0, max: 6 }), messageArb, (seed, r, t, m) => {
        const { scalar: a, pointBytes: publicKey } = ed.utils.getExtendedPublicKey(seed)
        const rBytes = ed.Point.BASE.multiply(r).add(smallOrder[t]!).toBytes()
        const signature = concat(rBytes, le32((r + challenge(rBytes, publicKey, m) * a) % L))
        expect(nobleLibrary(publicKey, m, signature)).toBe(true)
        expect(nodeCrypto.verify(publicKey, m, signature)).toBe(false)
        expect(nobleCrypto.verify(publicKey, m, signature)).toBe(false)
        expect(portableCrypto.verify(publicKey, m, signature)).toBe(false)
      }),
      { numRuns: 12 }
    )
  })

  it("with a mixed-order key both accept exactly the signatures whose challenge kills the torsion part", () => {
    const seed = new Uint8Array(32).fill(11)
    const { scalar: a } = ed.utils.getExtendedPublicKey(seed)
    const mixedKey = ed.Point.BASE.multiply(a).add(torsion8).toBytes()
    let accepted = 0
    const tries = 48
    for (let i = 0; i < tries; i++) {
      const m = new TextEncoder().encode(`mixed ${i}`)
      const r = 1000n + BigInt(i)
      const rBytes = ed.Point.BASE.multiply(r).toBytes()
      const k = challenge(rBytes, mixedKey, m)
      const signature = concat(rBytes, le32((r + k * a) % L))
      const expected = k % 8n === 0n
      expect(nobleLibrary(mixedKey, m, signature)).toBe(true)
      expect(rawOpenSsl(mixedKey, m, signature)).toBe(expected)
      expect(nodeCrypto.verify(mixedKey, m, signature)).toBe(expected)
      expect(nobleCrypto.verify(mixedKey, m, signature)).toBe(expected)
      expect(portableCrypto.verify(mixedKey, m, signature)).toBe(expected)
      if (expected) accepted++
    }
    // Both outcomes occur, so the comparison above exercised each.
    expect(accepted).toBeGreaterThan(0)
    expect(accepted).toBeLessThan(tries)
  })
})

describe("batch verification, key generation and the layers", () => {
  it("verifyBatch returns verify's answer for each item, in order", () => {
    const seeds = [1, 2, 3].map((n) => new Uint8Array(32).fill(n))
    const items = seeds.map((seed, i) => {
      const message = new Uint8Array([i])
      return { publicKey: nodeCrypto.publicKeyFromSecret(seed), message, signature: nodeCrypto.sign(seed, message) }
    })
    const tampered = [items[0]!, { ...items[1]!, message: new Uint8Array([9]) }, items[2]!, { ...items[0]!, publicKey: items[2]!.publicKey }]
    for (const impl of impls) expect(impl.verifyBatch(tampered)).toEqual([true, false, true, false])
  })

  it("a bound signer signs as sign does, keeps its key when the caller's bytes change, and refuses a bad seed", () => {
    // More distinct seeds than the node layer's secret-key cache holds, signed in turn, so the
    // bound signers are compared with `sign` while that cache is evicting.
    const seeds = Array.from({ length: 80 }, (_, i) => new Uint8Array(32).fill(i + 1))
    for (const impl of impls) {
      const signers = seeds.map((s) => impl.signer(s))
      for (let round = 0; round < 2; round++)
        seeds.forEach((seed, i) => {
          const message = new Uint8Array([round, i, 7])
          expect(toHex(signers[i]!(message))).toBe(toHex(impl.sign(seed, message)))
        })
      const seed = new Uint8Array(32).fill(200)
      const bound = impl.signer(seed)
      const before = toHex(bound(new Uint8Array([1])))
      seed.fill(0)
      expect(toHex(bound(new Uint8Array([1])))).toBe(before)
      expect(() => impl.signer(new Uint8Array(31))).toThrow(RangeError)
    }
  })

  it("generated secret keys are 32 fresh bytes that sign and verify across implementations", () => {
    for (const impl of impls) {
      const a = impl.generateSecretKey()
      const b = impl.generateSecretKey()
      expect(a.length).toBe(32)
      expect(toHex(a)).not.toBe(toHex(b))
      const message = new Uint8Array([7, 7])
      const other = impl === nodeCrypto ? nobleCrypto : nodeCrypto
      expect(other.verify(impl.publicKeyFromSecret(a), message, impl.sign(a, message))).toBe(true)
    }
  })

  it("a wrong-length secret key is a programmer error and throws", () => {
    for (const impl of impls) {
      expect(() => impl.sign(new Uint8Array(31), new Uint8Array(1))).toThrow(RangeError)
      expect(() => impl.publicKeyFromSecret(new Uint8Array(33))).toThrow(RangeError)
    }
  })

  it.effect("CryptoNode provides the node implementation through the Crypto tag", () =>
    Effect.gen(function* () {
      const crypto = yield* Crypto
      expect(crypto.name).toBe("node")
      expect(toHex(crypto.publicKeyFromSecret(hex(rfc8032Vectors[0].secret)))).toBe(rfc8032Vectors[0].publicKey)
    }).pipe(Effect.provide(CryptoNode))
  )

  it.effect("CryptoNoble provides the noble implementation through the Crypto tag", () =>
    Effect.gen(function* () {
      const crypto = yield* Crypto
      expect(crypto.name).toBe("noble")
      expect(toHex(crypto.publicKeyFromSecret(hex(rfc8032Vectors[0].secret)))).toBe(rfc8032Vectors[0].publicKey)
    }).pipe(Effect.provide(CryptoNoble))
  )
})
