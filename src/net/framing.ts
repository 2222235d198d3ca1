/**
 * Length-prefixed framing over a byte stream.
 *
 * A frame on the wire is a u32 big-endian length `n` followed by `n` bytes of body. The decoder
 * checks `n` against the limit in force as soon as the four prefix bytes are in, before it keeps
 * a single body byte, so a peer cannot make it allocate or wait for more than the limit. Each
 * input byte is copied at most once: a body that lies whole inside one chunk is handed out as a
 * view of that chunk (no copy), and a body split across chunks is assembled in one buffer of
 * exactly its size, allocated when its prefix is read. Work is linear in the bytes received
 * however the stream is cut.
 *
 * The writer packs frames into large segments and writes everything queued once per turn of the
 * event loop (setImmediate), in one system call, so many small frames cost one write. It honours
 * backpressure: when the socket's write returns false it stops writing until 'drain', and the
 * bytes held (queued here plus buffered in the socket) are bounded: a frame that would exceed the
 * bound is refused with QueueFull.
 */
import { FrameTooLarge, QueueFull } from "./errors.ts"

/** Bytes of the length prefix. */
export const prefixBytes = 4

/**
 * Receives one frame body. The body may be a view into a received chunk: it stays valid (chunks
 * are never reused) but keeps that chunk alive. Return false to stop decoding: the rest of the
 * input is ignored and the decoder accepts nothing more.
 */
export type FrameHandler = (body: Uint8Array) => boolean | void

export class FrameDecoder {
  private readonly header = new Uint8Array(prefixBytes)
  private headerFill = 0
  private body: Uint8Array | undefined = undefined
  private bodyFill = 0
  private stopped = false

  /** `frameBytesMax` may be changed between frames, even from inside the handler. */
  constructor(public frameBytesMax: number) {}

  /** Whether decoding has stopped (a handler returned false, or a frame was too large). */
  get isStopped(): boolean {
    return this.stopped
  }

  /** Bytes of the frame being assembled that have arrived (0 between frames). */
  get bufferedBytes(): number {
    return this.headerFill + this.bodyFill
  }

  /** Feeds the next chunk of the stream; calls `onFrame` for each complete frame, in order. */
  push(chunk: Uint8Array, onFrame: FrameHandler): FrameTooLarge | undefined {
    if (this.stopped) return undefined
    const end = chunk.length
    let at = 0
    while (at < end) {
      let body = this.body
      if (body === undefined) {
        let length: number
        if (this.headerFill === 0 && end - at >= prefixBytes) {
          length = readU32(chunk, at)
          at += prefixBytes
        } else {
          while (this.headerFill < prefixBytes && at < end) this.header[this.headerFill++] = chunk[at++]!
          if (this.headerFill < prefixBytes) return undefined
          this.headerFill = 0
          length = readU32(this.header, 0)
        }
        if (length > this.frameBytesMax) {
          this.stopped = true
          return new FrameTooLarge({ bytes: length, max: this.frameBytesMax })
        }
        if (end - at >= length) {
          const whole = chunk.subarray(at, at + length)
          at += length
          if (onFrame(whole) === false) {
            this.stopped = true
            return undefined
          }
          if (this.stopped) return undefined
          continue
        }
        body = new Uint8Array(length)
        this.body = body
        this.bodyFill = 0
      }
      const n = Math.min(body.length - this.bodyFill, end - at)
      body.set(chunk.subarray(at, at + n), this.bodyFill)
      this.bodyFill += n
      at += n
      if (this.bodyFill === body.length) {
        this.body = undefined
        this.bodyFill = 0
        if (onFrame(body) === false) {
          this.stopped = true
          return undefined
        }
        if (this.stopped) return undefined
      }
    }
    return undefined
  }

  /** Stops decoding: later pushes do nothing, and any partial frame is dropped. */
  stop(): void {
    this.stopped = true
    this.body = undefined
  }
}

const readU32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0

/** Writes `n` as a u32 big-endian at `at`. */
export const writeU32 = (b: Uint8Array, at: number, n: number): void => {
  b[at] = n >>> 24
  b[at + 1] = (n >>> 16) & 0xff
  b[at + 2] = (n >>> 8) & 0xff
  b[at + 3] = n & 0xff
}

/** A length-prefixed frame holding `body`, as a new array. */
export const encodeFrame = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(prefixBytes + body.length)
  writeU32(out, 0, body.length)
  out.set(body, prefixBytes)
  return out
}

/** The part of a net.Socket the writer uses. */
export interface FrameSink {
  write(data: Uint8Array): boolean
  cork(): void
  uncork(): void
  /** Bytes the sink has accepted but not yet handed to the kernel. */
  readonly writableLength: number
  once(event: "drain", listener: () => void): unknown
}

export interface FrameWriterOptions {
  /** Bound on bytes queued here plus bytes buffered in the sink. */
  readonly queueBytesMax: number
  /** Size of the segments frames are packed into (a larger frame gets a segment of its own). */
  readonly segmentBytes: number
  /** Runs the flush later; setImmediate by default (after the I/O callbacks of this turn). */
  readonly schedule?: (flush: () => void) => void
}

const defaultSchedule = (flush: () => void): void => {
  setImmediate(flush)
}

/**
 * Packs frames into segments and writes them to the sink once per turn of the event loop.
 *
 * To add a frame without an extra copy, call `reserve(bodyLength)`: it writes the length prefix
 * and returns the offset in `segment` where the caller must write exactly `bodyLength` bytes
 * before doing anything else with the writer. `enqueue(body)` does this for a ready body.
 */
export class FrameWriter {
  /** The segment being filled; valid right after `reserve`. */
  segment: Uint8Array = new Uint8Array(0)
  private used = 0
  private readonly full: Array<Uint8Array> = []
  private fullBytes = 0
  private scheduled = false
  private blocked = false
  private closed = false
  private readonly schedule: (flush: () => void) => void
  private readonly flushCallback = (): void => {
    this.scheduled = false
    this.flush()
  }
  private readonly drainCallback = (): void => {
    this.blocked = false
    this.flush()
  }

  constructor(
    private readonly sink: FrameSink,
    private readonly options: FrameWriterOptions
  ) {
    this.schedule = options.schedule ?? defaultSchedule
  }

  /** Bytes queued here and not yet handed to the sink. */
  get queuedBytes(): number {
    return this.fullBytes + this.used
  }

  /** Whether the sink asked to wait for 'drain'. */
  get isBlocked(): boolean {
    return this.blocked
  }

  /**
   * Makes room for a frame whose body is `bodyLength` bytes and writes its prefix; returns the
   * offset of the body in `segment`, or QueueFull (nothing reserved).
   */
  reserve(bodyLength: number): number | QueueFull {
    const frameLength = prefixBytes + bodyLength
    const held = this.fullBytes + this.used + this.sink.writableLength
    if (this.closed || held + frameLength > this.options.queueBytesMax)
      return new QueueFull({ bytes: held + frameLength, max: this.options.queueBytesMax })
    if (this.used + frameLength > this.segment.length) {
      if (this.used > 0) {
        this.full.push(this.segment.subarray(0, this.used))
        this.fullBytes += this.used
      }
      this.segment = Buffer.allocUnsafe(Math.max(this.options.segmentBytes, frameLength))
      this.used = 0
    }
    const at = this.used
    writeU32(this.segment, at, bodyLength)
    this.used = at + frameLength
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true
      this.schedule(this.flushCallback)
    }
    return at + prefixBytes
  }

  /** Queues a frame holding a copy of `body`. */
  enqueue(body: Uint8Array): QueueFull | undefined {
    const at = this.reserve(body.length)
    if (typeof at !== "number") return at
    this.segment.set(body, at)
    return undefined
  }

  /** Hands everything queued to the sink now, unless it is waiting for 'drain'. */
  flush(): void {
    if (this.closed || this.blocked) return
    if (this.used > 0) {
      this.full.push(this.segment.subarray(0, this.used))
      this.fullBytes += this.used
      // The rest of the segment is still free; later frames go there, after the part handed out.
      this.segment = this.segment.subarray(this.used)
      this.used = 0
    }
    const n = this.full.length
    if (n === 0) return
    let ok: boolean
    if (n === 1) ok = this.sink.write(this.full[0]!)
    else {
      this.sink.cork()
      ok = true
      for (let i = 0; i < n; i++) ok = this.sink.write(this.full[i]!) && ok
      this.sink.uncork()
    }
    this.full.length = 0
    this.fullBytes = 0
    if (!ok) {
      this.blocked = true
      this.sink.once("drain", this.drainCallback)
    }
  }

  /** Drops everything queued and refuses further frames. */
  close(): void {
    this.closed = true
    this.full.length = 0
    this.fullBytes = 0
    this.used = 0
    this.segment = new Uint8Array(0)
  }
}
