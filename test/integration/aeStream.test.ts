// Anti-entropy sessions and object requests must always end, whatever happens to their
// stream. libp2p puts it-byte-stream's wrapper in front of a negotiated stream's sink; once
// the muxer's own sink has ended (the connection closed under the session, the stream reset,
// or aborted by a deadline) that wrapper waits forever for a reader of its end marker. A
// session that waited on it never returned: its scheduler slot stayed "running", every later
// syncNow() for that peer (recovery's reconcile, the serve gate) waited behind it, and the
// node reported busy forever; a put cut off that way never returned either, deadline or not.
// Peers on 127.0.0.230-239.
import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { createHost, type Host } from '../../src/net/host.js'
import { AntiEntropyService } from '../../src/net/aeService.js'
import { AE_PROTOCOL, OBJ_PROTOCOL } from '../../src/net/constants.js'
import { exchange } from '../../src/net/framing.js'
import { ReconSet } from '../../src/antientropy/reconSet.js'
import { LATE, within as withinDeadline } from '../../src/deadline.js'
import type { SessionReport } from '../../src/net/aeService.js'
import { freePort, waitFor } from '../helpers/inproc.js'

const log = pino({ level: 'silent' })
const hosts: Host[] = []

async function host (ip: string): Promise<Host> {
  const privateKey = await generateKeyPair('Ed25519')
  const h = await createHost({ privateKey, listen: `${ip}:${await freePort(ip)}`, bootstrap: [] })
  await h.start()
  hosts.push(h)
  return h
}

/** a peer that accepts the protocol and then never answers */
async function silentPeer (ip: string): Promise<{ h: Host, streams: Stream[] }> {
  const h = await host(ip)
  const streams: Stream[] = []
  await h.handle(AE_PROTOCOL, ({ stream }) => { streams.push(stream) })
  return { h, streams }
}

async function connect (a: Host, b: Host): Promise<void> {
  await a.dial(multiaddr(b.getMultiaddrs()[0].toString()))
}

/** the request's error when its deadline (AbortSignal.timeout) cuts the write short */
const DEADLINE_CUT = 'write abandoned: TimeoutError: The operation was aborted due to timeout'

/** yamux's own count of bytes the peer still lets this stream send (not in libp2p's Stream type) */
interface YamuxSendWindow { sendWindowCapacity: number }

/** resolves with what `p` resolves to, or 'hung' if it has not settled within `ms` */
async function within<T> (p: Promise<T>, ms: number): Promise<T | 'hung'> {
  const r = await withinDeadline(p, ms)
  return r === LATE ? 'hung' : r
}

/** a session from a fresh host to a silent peer, once the peer holds the session's stream */
async function sessionToSilentPeer (ipA: string, ipB: string): Promise<{ a: Host, b: Host, streams: Stream[], ae: AntiEntropyService, session: Promise<SessionReport> }> {
  const a = await host(ipA)
  const { h: b, streams } = await silentPeer(ipB)
  await connect(a, b)
  const ae = new AntiEntropyService({ host: a, handler: { set: new ReconSet(), ingest: async () => {} }, logger: log })
  const session = ae.sync(b.peerId.toString())
  await waitFor(() => streams.length > 0, 2000, 'the peer to get the session stream').catch(() => {})
  return { a, b, streams, ae, session }
}

afterEach(async () => {
  for (const h of hosts.splice(0)) {
    try { await h.stop() } catch {}
  }
})

describe('sessions and requests over a stream that dies', { timeout: 60_000 }, () => {
  it('ends with an error when the session deadline aborts its stream while it waits for the peer', async () => {
    const a = await host('127.0.0.230')
    const { h: b } = await silentPeer('127.0.0.231')
    await connect(a, b)
    const ae = new AntiEntropyService({ host: a, handler: { set: new ReconSet(), ingest: async () => {} }, logger: log }, { timeoutMs: 500 })
    const report = await within(ae.sync(b.peerId.toString()), 10_000)
    expect(report).not.toBe('hung')
    if (report === 'hung') return
    expect(report.error).toBe(`anti-entropy session with ${b.peerId.toString()} timed out after 500 ms`)
    expect(ae.totals).toMatchObject({ started: 1, failed: 1, completed: 0 })
  })

  it('ends with an error when the connection closes under it', async () => {
    const { a, b, streams, ae, session } = await sessionToSilentPeer('127.0.0.232', '127.0.0.233')
    // the peer got the first frame and hangs up instead of answering
    expect(streams.length).toBe(1)
    await b.hangUp(a.peerId)
    const report = await within(session, 10_000)
    expect(report).not.toBe('hung')
    if (report === 'hung') return
    // the source ends with the connection: the session sees its peer go mid-way
    expect(report.error).toBe('peer closed the stream mid-session')
    expect(ae.totals).toMatchObject({ started: 1, failed: 1, completed: 0 })
  })

  it('an object request whose write the deadline cuts short ends too (a big put to a peer that does not read)', async () => {
    const a = await host('127.0.0.236')
    const b = await host('127.0.0.237')
    // accepts the request stream and never reads it: the 4 MiB request outgrows the muxer's window
    await b.handle(OBJ_PROTOCOL, () => {})
    await connect(a, b)
    const stream = await a.dialProtocol(b.peerId, OBJ_PROTOCOL)
    const frames = async (): Promise<number> => { let n = 0; for await (const _ of exchange(stream, new Uint8Array(4 << 20), AbortSignal.timeout(1000))) n++; return n }
    const got = await within(frames().then(() => 'answered', (err: Error) => err.message), 10_000)
    expect(got).toBe(DEADLINE_CUT)
  })

  it('an object request whose connection closes while the write waits for the muxer window ends too', async () => {
    const a = await host('127.0.0.238')
    const b = await host('127.0.0.239')
    let opened = 0
    await b.handle(OBJ_PROTOCOL, () => { opened++ })
    await connect(a, b)
    const stream = await a.dialProtocol(b.peerId, OBJ_PROTOCOL)
    const frames = async (): Promise<number> => { let n = 0; for await (const _ of exchange(stream, new Uint8Array(4 << 20), AbortSignal.timeout(3000))) n++; return n }
    let settled = false
    const run = frames().then(() => 'answered', (err: Error) => err.message).finally(() => { settled = true })
    // the write is parked on the muxer's send window when the peer hangs up: the peer never reads,
    // so the window it granted (256 KiB of the 4 MiB) is spent and never refilled
    const muxed = stream as unknown as YamuxSendWindow
    await waitFor(() => opened > 0 && muxed.sendWindowCapacity === 0, 2000, 'the write to spend the send window')
    expect(settled).toBe(false)
    expect(stream.status).toBe('open')
    await b.hangUp(a.peerId)
    // the close reached the stream while the write still waited
    await waitFor(() => stream.status !== 'open', 2000, 'the hang-up to reach the stream')
    expect(settled).toBe(false)
    expect(muxed.sendWindowCapacity).toBe(0)
    // the muxer's side ended with the connection, so only the request's deadline can end the
    // write: it must, rather than wait forever on the byte-stream wrapper
    const got = await within(run, 10_000)
    expect(got).toBe(DEADLINE_CUT)
  })

  it('ends with an error when the peer resets the stream', async () => {
    const { streams, session } = await sessionToSilentPeer('127.0.0.234', '127.0.0.235')
    expect(streams.length).toBe(1)
    streams[0].abort(new Error('peer gives up'))
    const report = await within(session, 10_000)
    expect(report).not.toBe('hung')
    if (report === 'hung') return
    expect(report.error).toBe('stream reset')
  })
})
