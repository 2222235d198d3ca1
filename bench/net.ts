/**
 * Throughput of one authenticated channel on loopback: two peer managers in this process, one
 * sending 200-byte payloads to the other as fast as the channel takes them (writes coalesced
 * once per event-loop turn), with a bounded number of messages in flight.
 *
 * Reports messages per second and process CPU per message (user + system, both ends together,
 * since both run in this process), and, for comparison, the same stream through the bare framing
 * layer (no handshake, no MAC) and the CPU cost of one HMAC-SHA256 tag. On a shared machine the
 * CPU figures are the steadier ones: wall-clock rates fall when other processes take the cores.
 *
 *   npx tsx bench/net.ts [messages] [payloadBytes]
 */
import { Effect } from "effect"
import { createHmac, createSecretKey, randomBytes } from "node:crypto"
import * as net from "node:net"
import { FrameDecoder, FrameWriter } from "../src/net/framing.ts"
import { PeerManager } from "../src/net/peer-manager.ts"
import { nodeCrypto } from "../src/services/crypto.ts"

const messages = Number(process.argv[2] ?? 1_000_000)
const payloadBytes = Number(process.argv[3] ?? 200)
/** Messages sent per turn of the event loop, and most messages sent but not yet received. */
const burst = 512
const window = 16_384

interface Figures {
  readonly name: string
  readonly perSecond: number
  readonly cpuMicrosPerMessage: number
}

const measure = async (name: string, run: () => Promise<void>): Promise<Figures> => {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { name, perSecond: messages / seconds, cpuMicrosPerMessage: (cpu.user + cpu.system) / messages }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

const authenticated = async (): Promise<Figures> => {
  const secrets = [nodeCrypto.generateSecretKey(), nodeCrypto.generateSecretKey()]
  const keys = secrets.map((s) => nodeCrypto.publicKeyFromSecret(s))
  let received = 0
  const start = (replica: number) =>
    Effect.runPromise(
      PeerManager.start({
        chainId: "bench",
        replica,
        identitySecret: secrets[replica]!,
        listen: { host: "127.0.0.1", port: 0 },
        peers: [],
        onMessage: () => void received++
      })
    )
  const a = await start(0)
  const b = await start(1)
  a.setPeers([{ replica: 1, identityKey: keys[1]!, address: b.address }])
  b.setPeers([{ replica: 0, identityKey: keys[0]!, address: a.address }])
  while (!(a.isConnected(1) && b.isConnected(0) && a.connectionRole(1) === "initiator")) await new Promise((r) => setTimeout(r, 5))
  const payload = new Uint8Array(randomBytes(payloadBytes))
  const figures = await measure("authenticated channel (seq + HMAC-SHA256/128)", async () => {
    let sent = 0
    while (received < messages) {
      while (sent < messages && sent - received < window) {
        const n = Math.min(burst, messages - sent)
        for (let i = 0; i < n; i++) if (a.send(1, payload) === undefined) sent++
        await turn()
      }
      await turn()
    }
  })
  await Promise.all([a.close(), b.close()])
  return figures
}

const bareFraming = async (): Promise<Figures> => {
  let received = 0
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder(1 << 20)
    socket.on("data", (chunk: Buffer) => decoder.push(chunk, () => void received++))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  const client = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port })
  await new Promise<void>((r) => client.once("connect", () => r()))
  client.setNoDelay(true)
  const writer = new FrameWriter(client, { queueBytesMax: 64 << 20, segmentBytes: 64 << 10 })
  const payload = new Uint8Array(randomBytes(payloadBytes + 24))
  const figures = await measure("bare framing (no MAC), same coalescing", async () => {
    let sent = 0
    while (received < messages) {
      while (sent < messages && sent - received < window) {
        const n = Math.min(burst, messages - sent)
        for (let i = 0; i < n; i++) if (writer.enqueue(payload) === undefined) sent++
        await turn()
      }
      await turn()
    }
  })
  client.destroy()
  await new Promise<void>((r) => server.close(() => r()))
  return figures
}

const hmacCost = (): number => {
  const key = createSecretKey(randomBytes(32))
  const data = randomBytes(payloadBytes + 8)
  const n = 200_000
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) createHmac("sha256", key).update(data).digest()
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / n
}

const results = [await authenticated(), await bareFraming()]
const hmacMicros = hmacCost()
console.log(`${messages} messages of ${payloadBytes} bytes, one channel, loopback, Node ${process.version}`)
for (const r of results)
  console.log(`${r.name.padEnd(48)} ${Math.round(r.perSecond).toLocaleString("en").padStart(11)} msg/s   ${r.cpuMicrosPerMessage.toFixed(2).padStart(6)} us CPU/msg (both ends)`)
console.log(`one HMAC-SHA256 over ${payloadBytes + 8} bytes (node:crypto)`.padEnd(48) + ` ${hmacMicros.toFixed(2).padStart(11)} us CPU`)
