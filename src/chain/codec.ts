/**
 * Binary codec combinators. Each Codec carries the Effect Schema of the values it encodes, a
 * writer and a reader; combining codecs combines their schemas, so the codec of a type and its
 * Schema are built together and cannot drift apart.
 *
 * Wire rules (conformance/FORMAT.md section 2):
 *   u8, u32, u64        fixed width, big-endian, unsigned
 *   fixed bytes         the bytes, no length (hashes, keys, signatures)
 *   bytes, string       u32 length, then the bytes (strings as UTF-8)
 *   array               u32 count, then the elements
 *   option              u8 tag 0 (absent) or 1 (present, then the value)
 *   enum / union        u8 tag, then (for a union) the variant's fields
 *   struct              the fields in the order they are declared, nothing between them
 *
 * Every encoding is canonical: a decoder accepts exactly the bytes its encoder produces, so a
 * value that decodes re-encodes to the same bytes. Readers check the remaining length before
 * they allocate and bound every count by src/core/limits.ts `hardLimits`.
 *
 * The hot path (Writer on a growing buffer, Reader on a DataView) is hand-written. A Reader
 * signals a malformed input by throwing DecodeFailure, which never leaves this folder: the
 * top-level `decodeWith` catches it and returns a DecodeError.
 */
import { Either, Option, Schema } from "effect"
import { hardLimits } from "../core/limits.ts"
import { DecodeError } from "./errors.ts"

const U32_MAX = 0xffff_ffff
const U64_MAX = 0xffff_ffff_ffff_ffffn

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

const textEncoder = new TextEncoder()

/** Appends big-endian fields to a buffer that doubles when full. */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity))
    this.view = new DataView(this.buf.buffer)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos
  }

  private ensure(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`)
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new RangeError(`u32 out of range: ${v}`)
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
  }

  u64(v: bigint): void {
    if (typeof v !== "bigint" || v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${String(v)}`)
    this.ensure(8)
    this.view.setBigUint64(this.pos, v)
    this.pos += 8
  }

  /** The bytes as they are, with no length prefix. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** u32 length, then the bytes. */
  bytes(bytes: Uint8Array): void {
    this.u32(bytes.length)
    this.raw(bytes)
  }

  /** u32 length, then the UTF-8 bytes of the string. */
  string(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.ensure(4 + 3 * s.length)
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos + 4))
    this.view.setUint32(this.pos, written)
    this.pos += 4 + written
  }

  /** Forgets what was written, keeping the buffer for reuse. */
  reset(): void {
    this.pos = 0
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  peek(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }

  /** A fresh copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/** Raised inside a Reader on malformed input; converted to DecodeError by `decodeWith`. */
export class DecodeFailure {
  readonly path: Array<string> = []
  constructor(
    readonly offset: number,
    readonly expected: string
  ) {}
}

const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Reads big-endian fields from a byte array, checking bounds before every read. */
export class Reader {
  private readonly view: DataView
  pos = 0

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining(): number {
    return this.bytes.length - this.pos
  }

  fail(expected: string, at: number = this.pos): never {
    throw new DecodeFailure(at, expected)
  }

  private need(n: number, what: string): void {
    if (this.bytes.length - this.pos < n) this.fail(`${what} (${n} bytes; ${this.bytes.length - this.pos} left)`)
  }

  u8(): number {
    this.need(1, "u8")
    return this.bytes[this.pos++] as number
  }

  u32(): number {
    this.need(4, "u32")
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  u64(): bigint {
    this.need(8, "u64")
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    return v
  }

  /** Exactly n bytes, copied out of the input. */
  fixed(n: number): Uint8Array {
    this.need(n, `${n} bytes`)
    const out = this.bytes.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** A u32 length (at most `max`), then that many bytes. */
  bytesField(max: number): Uint8Array {
    const at = this.pos
    const n = this.u32()
    if (n > max) this.fail(`a byte string of at most ${max} bytes, got length ${n}`, at)
    this.need(n, "byte string contents")
    const out = this.bytes.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** A u32 length (at most `max`), then that many bytes of well-formed UTF-8. */
  string(max: number): string {
    const at = this.pos
    const n = this.u32()
    if (n > max) this.fail(`a string of at most ${max} bytes, got length ${n}`, at)
    this.need(n, "string contents")
    let s: string
    try {
      s = textDecoder.decode(this.bytes.subarray(this.pos, this.pos + n))
    } catch {
      return this.fail("well-formed UTF-8")
    }
    this.pos += n
    return s
  }

  /** A u32 element count bounded by `max` and by the bytes left (each element takes `minSize`). */
  count(max: number, minSize: number): number {
    const at = this.pos
    const n = this.u32()
    if (n > max) this.fail(`at most ${max} elements, got count ${n}`, at)
    if (minSize > 0 && n * minSize > this.bytes.length - this.pos)
      this.fail(`${n} elements of at least ${minSize} bytes (${this.bytes.length - this.pos} left)`, at)
    return n
  }
}

// ---------------------------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------------------------

/** A binary codec for values of type A, with the Schema those values satisfy. */
export interface Codec<A> {
  /** Name used in error messages and FORMAT.md. */
  readonly name: string
  /** The Schema of decoded values; decoded values always satisfy it. */
  readonly schema: Schema.Schema<A>
  /** Fewest bytes any encoding takes (bounds array counts before allocation). */
  readonly minSize: number
  readonly write: (w: Writer, a: A) => void
  readonly read: (r: Reader) => A
}

const typeOf = <A, I>(schema: Schema.Schema<A, I, never>): Schema.Schema<A> => Schema.typeSchema(schema)

/** u8 held as a number. */
export const u8 = (schema: Schema.Schema<number, number, never>): Codec<number> => ({
  name: "u8",
  schema: typeOf(schema),
  minSize: 1,
  write: (w, a) => w.u8(a),
  read: (r) => r.u8()
})

/** u32 held as a number. */
export const u32 = (schema: Schema.Schema<number, number, never>): Codec<number> => ({
  name: "u32",
  schema: typeOf(schema),
  minSize: 4,
  write: (w, a) => w.u32(a),
  read: (r) => r.u32()
})

/** u64 held as a bigint. */
export const u64 = (schema: Schema.Schema<bigint, bigint, never>): Codec<bigint> => ({
  name: "u64",
  schema: typeOf(schema),
  minSize: 8,
  write: (w, a) => w.u64(a),
  read: (r) => r.u64()
})

/** Exactly n bytes with no length prefix. */
export const fixedBytes = (n: number, schema: Schema.Schema<Uint8Array, Uint8Array, never>): Codec<Uint8Array> => ({
  name: `bytes${n}`,
  schema: typeOf(schema),
  minSize: n,
  write: (w, a) => {
    if (a.length !== n) throw new RangeError(`expected ${n} bytes, got ${a.length}`)
    w.raw(a)
  },
  read: (r) => r.fixed(n)
})

/** u32 length and bytes, at most `max` of them. */
export const bytes = (
  schema: Schema.Schema<Uint8Array, Uint8Array, never>,
  max: number = hardLimits.bytesLengthMax
): Codec<Uint8Array> => ({
  name: "bytes",
  schema: typeOf(schema),
  minSize: 4,
  write: (w, a) => w.bytes(a),
  read: (r) => r.bytesField(max)
})

/** u32 length and UTF-8 bytes, at most `max` bytes. */
export const string = (
  schema: Schema.Schema<string, string, never>,
  max: number = hardLimits.bytesLengthMax
): Codec<string> => ({
  name: "string",
  schema: typeOf(schema),
  minSize: 4,
  write: (w, a) => w.string(a),
  read: (r) => r.string(max)
})

/** u32 count and the elements, at most `max` of them. */
export const array = <A>(item: Codec<A>, max: number = hardLimits.arrayLengthMax): Codec<ReadonlyArray<A>> => ({
  name: `array<${item.name}>`,
  schema: Schema.Array(item.schema),
  minSize: 4,
  write: (w, a) => {
    w.u32(a.length)
    for (let i = 0; i < a.length; i++) item.write(w, a[i] as A)
  },
  read: (r) => {
    const n = r.count(max, item.minSize)
    const out = new Array<A>(n)
    let i = 0
    try {
      for (; i < n; i++) out[i] = item.read(r)
    } catch (e) {
      if (e instanceof DecodeFailure) e.path.unshift(`[${i}]`)
      throw e
    }
    return out
  }
})

/** Tag 0 for absent; tag 1 and the value for present. Any other tag is rejected. */
export const option = <A>(item: Codec<A>): Codec<Option.Option<A>> => ({
  name: `option<${item.name}>`,
  schema: Schema.OptionFromSelf(item.schema),
  minSize: 1,
  write: (w, a) => {
    if (Option.isNone(a)) w.u8(0)
    else {
      w.u8(1)
      item.write(w, a.value)
    }
  },
  read: (r) => {
    const at = r.pos
    const tag = r.u8()
    if (tag === 0) return Option.none()
    if (tag === 1) return Option.some(item.read(r))
    return r.fail(`option tag 0 or 1, got ${tag}`, at)
  }
})

/** One of a fixed list of string literals, as a u8 index into the list. */
export const literals = <const L extends ReadonlyArray<string>>(
  name: string,
  schema: Schema.Schema<L[number], L[number], never>,
  values: L
): Codec<L[number]> => {
  const index = new Map<string, number>(values.map((v, i) => [v, i]))
  return {
    name,
    schema: typeOf(schema),
    minSize: 1,
    write: (w, a) => {
      const i = index.get(a)
      if (i === undefined) throw new RangeError(`not a ${name}: ${a}`)
      w.u8(i)
    },
    read: (r) => {
      const at = r.pos
      const i = r.u8()
      const v = values[i]
      if (v === undefined) return r.fail(`${name} tag 0..${values.length - 1}, got ${i}`, at)
      return v
    }
  }
}

type FieldCodecs<A> = { readonly [K in keyof A]-?: Codec<A[K]> }

const buildStruct = <A>(
  name: string,
  schema: Schema.Schema<A>,
  keys: ReadonlyArray<string>,
  codecs: ReadonlyArray<Codec<unknown>>,
  tag: string | undefined
): Codec<A> => {
  let minSize = 0
  for (const c of codecs) minSize += c.minSize
  const n = keys.length
  return {
    name,
    schema,
    minSize,
    write: (w, a) => {
      const o = a as Record<string, unknown>
      for (let i = 0; i < n; i++) (codecs[i] as Codec<unknown>).write(w, o[keys[i] as string])
    },
    read: (r) => {
      const o: Record<string, unknown> = tag === undefined ? {} : { _tag: tag }
      let i = 0
      try {
        for (; i < n; i++) o[keys[i] as string] = (codecs[i] as Codec<unknown>).read(r)
      } catch (e) {
        if (e instanceof DecodeFailure) e.path.unshift(keys[i] as string)
        throw e
      }
      return o as A
    }
  }
}

const checkFields = (name: string, schemaFields: object, keys: ReadonlyArray<string>): void => {
  const expected = Object.keys(schemaFields)
    .filter((k) => k !== "_tag")
    .sort()
  const got = [...keys].sort()
  if (expected.join(",") !== got.join(","))
    throw new Error(`codec ${name} fields [${got.join(", ")}] do not match its schema [${expected.join(", ")}]`)
}

/**
 * A struct: its fields in the order of the `fields` object literal (that order is the wire
 * order, and FORMAT.md lists it). The field names must be exactly those of the schema.
 */
export const struct = <A, I>(
  name: string,
  schema: Schema.Schema<A, I, never> & { readonly fields: object },
  fields: FieldCodecs<A>
): Codec<A> => {
  const keys = Object.keys(fields)
  checkFields(name, schema.fields, keys)
  return buildStruct(name, typeOf(schema), keys, keys.map((k) => (fields as Record<string, Codec<unknown>>)[k]!), undefined)
}

/** A tagged struct (a union member): like `struct`, without `_tag`, which the union's tag byte carries. */
export const taggedStruct = <A extends { readonly _tag: string }, I>(
  schema: Schema.Schema<A, I, never> & { readonly fields: object },
  tag: A["_tag"],
  fields: FieldCodecs<Omit<A, "_tag">>
): Codec<A> => {
  const keys = Object.keys(fields)
  checkFields(tag, schema.fields, keys)
  return buildStruct(tag, typeOf(schema), keys, keys.map((k) => (fields as Record<string, Codec<unknown>>)[k]!), tag)
}

/** A union of tagged structs: u8 tag, then the member's fields. */
export const taggedUnion = <A extends { readonly _tag: string }>(
  name: string,
  schema: Schema.Schema<A, A, never>,
  members: ReadonlyArray<readonly [tagByte: number, codec: Codec<A>]>
): Codec<A> => {
  const byTag = new Map<string, readonly [number, Codec<A>]>()
  const byByte = new Map<number, Codec<A>>()
  let minSize = Number.POSITIVE_INFINITY
  for (const [b, c] of members) {
    byTag.set(c.name, [b, c])
    byByte.set(b, c)
    minSize = Math.min(minSize, c.minSize)
  }
  return {
    name,
    schema,
    minSize: 1 + minSize,
    write: (w, a) => {
      const m = byTag.get(a._tag)
      if (m === undefined) throw new RangeError(`not a ${name}: ${a._tag}`)
      w.u8(m[0])
      m[1].write(w, a)
    },
    read: (r) => {
      const at = r.pos
      const b = r.u8()
      const c = byByte.get(b)
      if (c === undefined) return r.fail(`${name} tag in {${[...byByte.keys()].join(", ")}}, got ${b}`, at)
      try {
        return c.read(r)
      } catch (e) {
        if (e instanceof DecodeFailure) e.path.unshift(`<${c.name}>`)
        throw e
      }
    }
  }
}

/**
 * Narrows a codec by a refinement of its schema: `check` returns true or what was expected. The
 * decoder runs the check after reading the value (reporting the value's start offset), the
 * schema gains the same filter.
 */
export const refine = <A>(
  codec: Codec<A>,
  identifier: string,
  check: (a: A) => true | string
): Codec<A> => ({
  name: codec.name,
  schema: codec.schema.pipe(
    Schema.filter((a) => {
      const ok = check(a)
      return ok === true ? true : `expected ${ok}`
    }),
    Schema.annotations({ identifier })
  ),
  minSize: codec.minSize,
  write: codec.write,
  read: (r) => {
    const at = r.pos
    const a = codec.read(r)
    const ok = check(a)
    if (ok !== true) return r.fail(ok, at)
    return a
  }
})

// ---------------------------------------------------------------------------------------------
// Top level
// ---------------------------------------------------------------------------------------------

/** Encodes one value into a fresh array. */
export const encodeWith = <A>(codec: Codec<A>, a: A, capacity = 256): Uint8Array => {
  const w = new Writer(capacity)
  codec.write(w, a)
  return w.finish()
}

/** Decodes exactly one value spanning all of `bytes`; never throws. */
export const decodeWith = <A>(codec: Codec<A>, bytes: Uint8Array): Either.Either<A, DecodeError> => {
  if (!(bytes instanceof Uint8Array))
    return Either.left(new DecodeError({ type: codec.name, offset: 0, path: "", expected: "a Uint8Array" }))
  if (bytes.length > hardLimits.bytesLengthMax)
    return Either.left(
      new DecodeError({ type: codec.name, offset: 0, path: "", expected: `at most ${hardLimits.bytesLengthMax} bytes, got ${bytes.length}` })
    )
  const r = new Reader(bytes)
  try {
    const a = codec.read(r)
    if (r.remaining !== 0)
      return Either.left(new DecodeError({ type: codec.name, offset: r.pos, path: "", expected: `end of input, found ${r.remaining} more bytes` }))
    return Either.right(a)
  } catch (e) {
    if (e instanceof DecodeFailure)
      return Either.left(new DecodeError({ type: codec.name, offset: e.offset, path: formatPath(e.path), expected: e.expected }))
    return Either.left(new DecodeError({ type: codec.name, offset: r.pos, path: "", expected: `decodable input (${String(e)})` }))
  }
}

const formatPath = (path: ReadonlyArray<string>): string => {
  let s = ""
  for (const p of path) s += p.startsWith("[") || s === "" ? p : `.${p}`
  return s
}
