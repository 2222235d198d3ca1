// Establishes: the frame decoder returns exactly the frames encoded, however the stream is cut
// into chunks; refuses an oversized length prefix as soon as its four bytes arrive, keeping no
// body byte; does linear work on a large frame split into many chunks; and the frame writer
// coalesces a turn's frames into one write, stops writing while the sink asks to wait for
// 'drain', and refuses frames beyond its byte bound with QueueFull.
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { EventEmitter } from "node:events"
import { encodeFrame, FrameDecoder, FrameWriter, type FrameSink } from "../../src/net/framing.ts"

const concatAll = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** `bytes` cut at the given positions (taken modulo its length, deduplicated). */
const cut = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

const decodeAll = (decoder: FrameDecoder, chunks: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const frames: Array<Uint8Array> = []
  for (const c of chunks) {
    const e = decoder.push(c, (f) => void frames.push(new Uint8Array(f)))
    expect(e).toBeUndefined()
  }
  return frames
}

describe("FrameDecoder", () => {
  it("round-trips any list of frames across arbitrary chunk splits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 600 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (bodies, cuts) => {
          const stream = concatAll(bodies.map(encodeFrame))
          const decoder = new FrameDecoder(600)
          const frames = decodeAll(decoder, cut(stream, cuts))
          expect(frames).toEqual(bodies)
          expect(decoder.bufferedBytes).toBe(0)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("decodes one byte at a time and many frames in one chunk alike", () => {
    const bodies = Array.from({ length: 50 }, (_, i) => new Uint8Array(i).fill(i))
    const stream = concatAll(bodies.map(encodeFrame))
    const oneByOne = decodeAll(new FrameDecoder(100), Array.from(stream, (b) => new Uint8Array([b])))
    const allAtOnce = decodeAll(new FrameDecoder(100), [stream])
    expect(oneByOne).toEqual(bodies)
    expect(allAtOnce).toEqual(bodies)
  })

  it("refuses an oversized length prefix as soon as its four bytes arrive, even split, before any body byte", () => {
    const decoder = new FrameDecoder(1024)
    const frames: Array<Uint8Array> = []
    // One good frame, then a prefix claiming 1025 bytes, delivered in two pieces.
    expect(decoder.push(concatAll([encodeFrame(new Uint8Array([7])), new Uint8Array([0, 0])]), (f) => void frames.push(f))).toBeUndefined()
    const e = decoder.push(new Uint8Array([0x04, 0x01]), (f) => void frames.push(f))
    expect(e?._tag).toBe("FrameTooLarge")
    expect(e?.bytes).toBe(1025)
    expect(e?.max).toBe(1024)
    expect(frames.length).toBe(1)
    expect(decoder.bufferedBytes).toBe(0)
    expect(decoder.isStopped).toBe(true)
    // Nothing more is decoded after the refusal.
    expect(decoder.push(encodeFrame(new Uint8Array([1])), (f) => void frames.push(f))).toBeUndefined()
    expect(frames.length).toBe(1)
  })

  it("accepts a frame of exactly the limit and refuses 2^32 - 1", () => {
    const frames: Array<Uint8Array> = []
    expect(new FrameDecoder(16).push(encodeFrame(new Uint8Array(16)), (f) => void frames.push(f))).toBeUndefined()
    expect(frames.length).toBe(1)
    expect(new FrameDecoder(16).push(new Uint8Array([0xff, 0xff, 0xff, 0xff]), () => {})?._tag).toBe("FrameTooLarge")
  })

  it("applies a new limit from inside the handler to the next frame of the same chunk", () => {
    const decoder = new FrameDecoder(8)
    const frames: Array<Uint8Array> = []
    const stream = concatAll([encodeFrame(new Uint8Array(4)), encodeFrame(new Uint8Array(100))])
    const e = decoder.push(stream, (f) => {
      frames.push(f)
      decoder.frameBytesMax = 200
    })
    expect(e).toBeUndefined()
    expect(frames.map((f) => f.length)).toEqual([4, 100])
  })

  it("stops at a handler's false and ignores the rest", () => {
    const decoder = new FrameDecoder(8)
    const frames: Array<Uint8Array> = []
    const stream = concatAll([1, 2, 3].map((n) => encodeFrame(new Uint8Array([n]))))
    decoder.push(stream, (f) => {
      frames.push(f)
      return frames.length < 2
    })
    expect(frames.length).toBe(2)
    decoder.push(encodeFrame(new Uint8Array([4])), (f) => void frames.push(f))
    expect(frames.length).toBe(2)
  })

  it("assembles a 16 MiB frame from 1 KiB chunks in linear time", () => {
    const size = 16 << 20
    const body = new Uint8Array(size)
    for (let i = 0; i < size; i += 4096) body[i] = (i >>> 12) & 0xff
    const stream = encodeFrame(body)
    const decoder = new FrameDecoder(size)
    let got: Uint8Array | undefined
    const started = performance.now()
    for (let at = 0; at < stream.length; at += 1024) decoder.push(stream.subarray(at, at + 1024), (f) => void (got = f))
    const elapsed = performance.now() - started
    expect(got?.length).toBe(size)
    expect(Buffer.compare(got!, body)).toBe(0)
    // Copying the whole buffered prefix on each of the 16,384 chunks would move about 128 GiB.
    expect(elapsed).toBeLessThan(3_000)
  })
})

class FakeSink extends EventEmitter implements FrameSink {
  readonly writes: Array<Uint8Array> = []
  corked = 0
  writableLength = 0
  /** What write returns. */
  accept = true

  write(data: Uint8Array): boolean {
    this.writes.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (!this.accept) this.writableLength += data.length
    return this.accept
  }
  cork(): void {
    this.corked++
  }
  uncork(): void {}
  override once(event: "drain", listener: () => void): this {
    return super.once(event, listener)
  }
  drain(): void {
    this.writableLength = 0
    this.accept = true
    this.emit("drain")
  }
}

const manualSchedule = () => {
  const queued: Array<() => void> = []
  return { schedule: (f: () => void) => void queued.push(f), run: () => queued.splice(0).forEach((f) => f()), queued }
}

describe("FrameWriter", () => {
  it("coalesces every frame queued in one turn into one write, in order", () => {
    const sink = new FakeSink()
    const s = manualSchedule()
    const writer = new FrameWriter(sink, { queueBytesMax: 1 << 20, segmentBytes: 1 << 16, schedule: s.schedule })
    const bodies = Array.from({ length: 500 }, (_, i) => new Uint8Array(100).fill(i & 0xff))
    for (const b of bodies) expect(writer.enqueue(b)).toBeUndefined()
    expect(s.queued.length).toBe(1)
    expect(sink.writes.length).toBe(0)
    s.run()
    expect(sink.writes.length).toBe(1)
    expect(sink.writes[0]).toEqual(concatAll(bodies.map(encodeFrame)))
  })

  it("writes frames spanning several segments with one corked batch, and a large frame whole", () => {
    const sink = new FakeSink()
    const s = manualSchedule()
    const writer = new FrameWriter(sink, { queueBytesMax: 1 << 20, segmentBytes: 256, schedule: s.schedule })
    const bodies = [new Uint8Array(100).fill(1), new Uint8Array(100).fill(2), new Uint8Array(1000).fill(3), new Uint8Array(10).fill(4)]
    for (const b of bodies) writer.enqueue(b)
    s.run()
    expect(sink.corked).toBe(1)
    expect(concatAll(sink.writes)).toEqual(concatAll(bodies.map(encodeFrame)))
  })

  it("holds frames while the sink waits for drain, then writes them all; refuses beyond the bound", () => {
    const sink = new FakeSink()
    const s = manualSchedule()
    const writer = new FrameWriter(sink, { queueBytesMax: 1000, segmentBytes: 256, schedule: s.schedule })
    sink.accept = false
    expect(writer.enqueue(new Uint8Array(296))).toBeUndefined()
    s.run()
    expect(sink.writes.length).toBe(1)
    expect(writer.isBlocked).toBe(true)
    expect(sink.writableLength).toBe(300)
    // Queued, not written, while blocked: no flush is even scheduled.
    expect(writer.enqueue(new Uint8Array(296))).toBeUndefined()
    expect(s.queued.length).toBe(0)
    expect(sink.writes.length).toBe(1)
    // 300 in the sink + 300 queued + 400 = 1000 fits; one more byte does not.
    expect(writer.enqueue(new Uint8Array(396))).toBeUndefined()
    const refused = writer.enqueue(new Uint8Array(1))
    expect(refused?._tag).toBe("QueueFull")
    expect(refused?.max).toBe(1000)
    sink.drain()
    expect(writer.isBlocked).toBe(false)
    expect(sink.writes.length).toBeGreaterThan(1)
    expect(concatAll(sink.writes)).toEqual(concatAll([296, 296, 396].map((n) => encodeFrame(new Uint8Array(n)))))
    expect(writer.queuedBytes).toBe(0)
    expect(writer.enqueue(new Uint8Array(1))).toBeUndefined()
  })

  it("reuses the unwritten rest of a segment without touching bytes already handed to the sink", () => {
    const sink = new FakeSink()
    const s = manualSchedule()
    const writer = new FrameWriter(sink, { queueBytesMax: 1 << 20, segmentBytes: 1024, schedule: s.schedule })
    writer.enqueue(new Uint8Array(10).fill(1))
    s.run()
    const first = sink.writes[0]!
    writer.enqueue(new Uint8Array(10).fill(2))
    s.run()
    expect(first).toEqual(encodeFrame(new Uint8Array(10).fill(1)))
    expect(sink.writes[1]).toEqual(encodeFrame(new Uint8Array(10).fill(2)))
  })
})
