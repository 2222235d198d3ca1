/**
 * Counters and the log hook of the channel layer. One NetMetrics object is shared by every
 * connection of a peer manager; counting is a field increment, cheap enough for every frame.
 */
import type { CloseError, CloseTag, SendError } from "./errors.ts"
import { closeTags, violationTags } from "./errors.ts"

export type NetLogLevel = "debug" | "info" | "warn"
export type NetLogFields = Readonly<Record<string, string | number | bigint | boolean | undefined>>

/** Where the channel layer reports what happened. It must not throw. */
export type NetLog = (level: NetLogLevel, message: string, fields: NetLogFields) => void

/** Drops every line. */
export const silentLog: NetLog = () => {}

/** Writes warnings to standard error, one line each; quieter levels are dropped. */
export const stderrLog: NetLog = (level, message, fields) => {
  if (level !== "warn") return
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
  process.stderr.write(`net ${level}: ${message}${parts.length > 0 ? " " + parts.join(" ") : ""}\n`)
}

export type SendRefusalTag = SendError["_tag"]

export class NetMetrics {
  /** Connections closed, by reason. Local closes (shutdown, duplicate, peer removed) are not here. */
  readonly closes: Record<CloseTag, number> = Object.fromEntries(closeTags.map((t) => [t, 0])) as Record<CloseTag, number>
  /** Sends refused, by reason. */
  readonly sendsRefused: Record<SendRefusalTag, number> = { QueueFull: 0, FrameTooLarge: 0, NotConnected: 0 }
  connectionsAccepted = 0
  connectionsDialed = 0
  /** Inbound connections refused because inboundPendingMax handshakes were already running. */
  inboundRefused = 0
  handshakesCompleted = 0
  /** Authenticated connections closed because another one with the same peer was kept. */
  duplicatesClosed = 0
  /** Messages received on an authenticated connection that is not the peer's kept one, and dropped. */
  messagesDroppedInactive = 0
  framesSent = 0
  framesReceived = 0
  payloadBytesSent = 0
  payloadBytesReceived = 0
  heartbeatsSent = 0

  countClose(error: CloseError): void {
    this.closes[error._tag]++
  }

  countRefusal(error: SendError): void {
    this.sendsRefused[error._tag]++
  }

  /** Connections closed for a protocol violation by the peer. */
  get violations(): number {
    let n = 0
    for (const t of violationTags) n += this.closes[t]
    return n
  }

  /** A plain copy of every counter. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const t of closeTags) out[`closes.${t}`] = this.closes[t]
    for (const [t, n] of Object.entries(this.sendsRefused)) out[`sendsRefused.${t}`] = n
    out["connectionsAccepted"] = this.connectionsAccepted
    out["connectionsDialed"] = this.connectionsDialed
    out["inboundRefused"] = this.inboundRefused
    out["handshakesCompleted"] = this.handshakesCompleted
    out["duplicatesClosed"] = this.duplicatesClosed
    out["messagesDroppedInactive"] = this.messagesDroppedInactive
    out["framesSent"] = this.framesSent
    out["framesReceived"] = this.framesReceived
    out["payloadBytesSent"] = this.payloadBytesSent
    out["payloadBytesReceived"] = this.payloadBytesReceived
    out["heartbeatsSent"] = this.heartbeatsSent
    return out
  }
}
