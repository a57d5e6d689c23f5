// Yamux window updates once half the window or 64 KiB is consumed (src/net/yamuxWindow.ts), through two real yamux
// muxers joined back to back in memory: the frames one side sends are counted by type. The
// first test runs before the rule is installed and shows the per-message updates it removes.
import { describe, expect, it } from 'vitest'
import { yamux } from '@chainsafe/libp2p-yamux'
import { WINDOW_UPDATE_BYTES, deferWindowUpdate, installYamuxWindowRule } from '../../src/net/yamuxWindow.js'

const WINDOW_UPDATE = 1
const ESTABLISHED = 3

type Chunk = Uint8Array | { subarray: () => Uint8Array }
interface Muxer {
  source: AsyncIterable<Chunk>
  sink: (source: AsyncIterable<Chunk>) => Promise<void>
  newStream: () => Promise<{ sink: (source: AsyncIterable<Uint8Array>) => Promise<void>, close: () => Promise<void> }>
  close: () => Promise<void>
}

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false })
const components = { logger: { forComponent: () => log } }

/**
 * Sends `messages` (each its own write) over one stream from a client muxer to a server muxer
 * whose reader takes every chunk; resolves with the bytes the server read and the window update
 * frames it sent back.
 */
async function transfer (messages: Uint8Array[]): Promise<{ received: number, windowUpdates: number }> {
  const factory = yamux()(components as any) as unknown as { createStreamMuxer: (init: object) => Muxer }
  let received = 0
  let done!: () => void
  const allRead = new Promise<void>((resolve) => { done = resolve })
  const total = messages.reduce((s, m) => s + m.length, 0)
  const server = factory.createStreamMuxer({
    direction: 'inbound',
    onIncomingStream: (stream: { source: AsyncIterable<{ length: number }> }) => {
      void (async () => {
        for await (const chunk of stream.source) {
          received += chunk.length
          if (received >= total) done()
        }
      })()
    }
  })
  const client = factory.createStreamMuxer({ direction: 'outbound' })
  let windowUpdates = 0
  async function * tap (source: AsyncIterable<Chunk>): AsyncGenerator<Chunk> {
    for await (const frame of source) {
      // each item the muxer pushes is one frame: a 12-byte header (version, type, ...) and its body
      const bytes = frame instanceof Uint8Array ? frame : frame.subarray()
      if (bytes[1] === WINDOW_UPDATE) windowUpdates++
      yield frame
    }
  }
  void client.sink(tap(server.source)).catch(() => {})
  void server.sink(client.source).catch(() => {})
  const stream = await client.newStream()
  // a sender waiting for credit that never comes blocks in sink: the guard covers both
  const sent = stream.sink((async function * () { yield * messages })())
  let guard: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.all([sent, allRead]),
      new Promise((_resolve, reject) => { guard = setTimeout(() => reject(new Error(`stalled: ${received} of ${total} bytes read`)), 10_000) })
    ])
  } finally {
    clearTimeout(guard)
  }
  // let the last window update (if any) reach the tap
  await new Promise((resolve) => setTimeout(resolve, 50))
  await client.close().catch(() => {})
  await server.close().catch(() => {})
  return { received, windowUpdates }
}

const small = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new Uint8Array(400).fill(i & 0xff))

describe('yamux window updates', () => {
  it('unpatched, the receiver answers every message with a window update (what the rule removes)', async () => {
    const r = await transfer(small(100))
    expect(r.received).toBe(40_000)
    expect(r.windowUpdates).toBeGreaterThanOrEqual(90)
  })

  it('with the rule, 100 small messages (40 KB) cost at most the opening ACK', async () => {
    installYamuxWindowRule()
    installYamuxWindowRule() // idempotent: a second host in the process must not wrap it twice
    const r = await transfer(small(100))
    expect(r.received).toBe(40_000)
    expect(r.windowUpdates).toBeLessThanOrEqual(1)
  })

  it('with the rule, 4 MiB in 64 KiB writes (16 windows of 256 KiB) flows without stalling', async () => {
    installYamuxWindowRule()
    const chunks = Array.from({ length: 64 }, (_, i) => new Uint8Array(64 * 1024).fill(i))
    const r = await transfer(chunks)
    expect(r.received).toBe(4 * 1024 * 1024)
    // one update per 64 KiB consumed and the opening ACK at most (unpatched: two per 64 KiB write, 128)
    expect(r.windowUpdates).toBeGreaterThanOrEqual(32)
    expect(r.windowUpdates).toBeLessThanOrEqual(65)
  })

  it('defers only past the handshake, below 64 KiB and below half the window', () => {
    const w = 256 * 1024
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: w, recvWindowCapacity: w })).toBe(true)
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: w, recvWindowCapacity: w - WINDOW_UPDATE_BYTES + 1 })).toBe(true)
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: w, recvWindowCapacity: w - WINDOW_UPDATE_BYTES })).toBe(false)
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: w, recvWindowCapacity: 0 })).toBe(false)
    // a window under 128 KiB (none in yamux today) is granted at half
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: 64 * 1024, recvWindowCapacity: 32 * 1024 + 1 })).toBe(true)
    expect(deferWindowUpdate({ state: ESTABLISHED, recvWindow: 64 * 1024, recvWindowCapacity: 32 * 1024 })).toBe(false)
    // SYN (Init) and ACK (SYNReceived) are due at once, whatever was consumed; SYNSent too
    for (const state of [0, 1, 2]) expect(deferWindowUpdate({ state, recvWindow: w, recvWindowCapacity: w })).toBe(false)
  })
})
