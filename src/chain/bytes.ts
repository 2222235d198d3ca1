/**
 * Small byte helpers shared by the chain modules: equality, concatenation, lowercase hex and
 * ASCII. Pure and allocation-light; none of them throws on well-typed input.
 */

/** True when both arrays hold the same bytes. */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic comparison: negative, zero or positive as `a` sorts before, with or after `b`. */
export const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** The concatenation of the given arrays, in order, as a new array. */
export const concatBytes = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const HEX = "0123456789abcdef"
const hexTable: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => HEX[i >> 4]! + HEX[i & 15]!)

/** Lowercase hexadecimal, two digits per byte. */
export const toHex = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) s += hexTable[bytes[i] as number]
  return s
}

const nibble = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/** Parses lowercase hexadecimal; undefined when the string has odd length or another character. */
export const fromHex = (hex: string): Uint8Array | undefined => {
  if (hex.length % 2 !== 0) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i))
    const lo = nibble(hex.charCodeAt(2 * i + 1))
    if (hi < 0 || lo < 0) return undefined
    out[i] = (hi << 4) | lo
  }
  return out
}

/** The bytes of an ASCII string (every character must be below 0x80). */
export const asciiBytes = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) throw new RangeError(`not ASCII: ${JSON.stringify(s)}`)
    out[i] = c
  }
  return out
}

/** A domain tag as hashed and signed: its ASCII bytes followed by one zero byte. */
export const tagPrefix = (tag: string): Uint8Array => {
  const ascii = asciiBytes(tag)
  const out = new Uint8Array(ascii.length + 1)
  out.set(ascii)
  return out
}
