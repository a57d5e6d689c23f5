// The workload (src/chaos/workload.ts) against a fake admin API on 127.0.0.178: every operation
// is an invoke followed by exactly one completion; outcomes are classified as the history format
// says (2xx ok; 4xx and connection refused fail; 5xx and timeouts info, reads' 5xx fail); never
// more than `concurrency` in flight; never more than `maxLiveVdis` VDIs live; it stops when its
// signal aborts (invoking nothing after it) and at the end of its duration (nothing at all for
// a zero duration), always with every operation completed. The run is stopped once the history
// shows every outcome the assertions need, not after a fixed time, so a slow machine only makes
// it longer; how fast it stops is a figure for `npm run bench` (section "micro"), not a test.
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterFile, ClusterNode } from '../../src/cluster/clusterFile.js'
import { MemoryHistory, type HistoryEvent, type HistorySink, type OpEvent } from '../../src/chaos/history.js'
import { DeleteTracker, RunningNodes } from '../../src/chaos/runState.js'
import { runWorkload } from '../../src/chaos/workload.js'
import { HistoryJudge } from '../../src/check/history.js'

const IP = '127.0.0.178'
let server: Server
let port = 0
let deadPort = 0
let vidSeq = 0x100
let answered = 0

/** the fake node: every 7th write hangs, every 5th write is a 503, reads of missing VDIs 404 */
function fake (): Server {
  const vdis = new Map<string, string>()
  let writes = 0
  return createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const json = (status: number, body: unknown): void => {
        answered++
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const m = /^\/vdi\/([^/]+)(\/data|\/discard)?$/.exec(url.pathname)
      const name = m === null ? '' : decodeURIComponent(m[1]!)
      setTimeout(() => {
        if (req.method === 'POST' && url.pathname === '/vdi') {
          const b = JSON.parse(Buffer.concat(chunks).toString()) as { name: string }
          const vid = (vidSeq++).toString(16).padStart(6, '0')
          vdis.set(b.name, vid)
          return json(200, { name: b.name, vid, generation: 1 })
        }
        if (!vdis.has(name)) return json(404, { error: `VDI '${name}' not found`, code: 'NOT_FOUND' })
        if (req.method === 'PUT' && m?.[2] === '/data') {
          writes++
          if (writes % 7 === 0) return // never answers
          if (writes % 5 === 0) return json(503, { error: 'write failed on 1/3 replicas', code: 'UNAVAILABLE' })
          return json(200, { written: 4096, objects: 1 })
        }
        if (req.method === 'GET' && m?.[2] === '/data') {
          answered++
          res.writeHead(200, { 'content-type': 'application/octet-stream' })
          return res.end(Buffer.alloc(Number(url.searchParams.get('length'))))
        }
        if (req.method === 'POST' && m?.[2] === '/discard') return json(200, { discarded: 1, records: 1 })
        if (req.method === 'DELETE') {
          const vid = vdis.get(name)
          vdis.delete(name)
          return json(200, { vdi: { name, vid, generation: 1 }, records: 1 })
        }
        json(400, { error: 'unexpected', code: 'BAD_REQUEST' })
      }, 5 + Math.random() * 20)
    })
  })
}

function node (index: number, p: number): ClusterNode {
  return { index, peerId: `p${index}`, ip: IP, p2pPort: 1, apiPort: p, apiUrl: `http://${IP}:${p}`, multiaddr: '', dataDir: `/nowhere/${index}`, logFile: '', pid: 1, zone: index }
}

beforeAll(async () => {
  server = fake()
  await new Promise<void>((resolve) => server.listen(0, IP, () => resolve()))
  port = (server.address() as { port: number }).port
  // a port nobody listens on: connection refused
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, IP, () => resolve()))
  deadPort = (s.address() as { port: number }).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/**
 * A history that aborts `stop` once `enough` holds, judged at completions only: the abort then
 * reaches the workload's loop while it waits (for a slot or the next arrival), the case its
 * checks must handle. `stoppedAt` is the number of events at that moment.
 */
function stoppingHistory (stop: AbortController, enough: (events: HistoryEvent[]) => boolean): HistorySink & { events: HistoryEvent[], stoppedAt: number } {
  const h = new MemoryHistory()
  const sink = {
    events: h.events,
    stoppedAt: -1,
    now: h.now,
    append (e: HistoryEvent): void {
      h.append(e)
      if (sink.stoppedAt < 0 && e.type !== 'invoke' && e.type !== 'meta' && enough(h.events)) {
        sink.stoppedAt = h.events.length
        stop.abort()
      }
    }
  }
  return sink
}

const done = (events: HistoryEvent[]): OpEvent[] => events.filter((e): e is OpEvent => e.type === 'ok' || e.type === 'fail' || e.type === 'info')

/**
 * Every outcome the first test asserts on has happened at least once (a write after an info
 * runs as a new process), and another operation is still in flight: the run must then wait
 * for it after the abort.
 */
function everyOutcomeSeen (events: HistoryEvent[]): boolean {
  const d = done(events)
  const inFlight = events.filter((e) => e.type === 'invoke').length - d.length
  return answered > 20 && inFlight >= 1 &&
    d.some((e) => e.code === 'TIMEOUT') &&
    d.some((e) => e.code === 'REFUSED') &&
    d.some((e) => e.code === 'UNAVAILABLE' && e.f === 'write') &&
    d.some((e) => e.f === 'delete' && e.type === 'ok') &&
    d.some((e) => e.f === 'read' && e.type === 'ok') &&
    events.some((e) => e.type === 'invoke' && e.process >= 3)
}

describe('runWorkload', () => {
  it('pairs every invoke with one completion, classifies outcomes, and stays within its bounds', async () => {
    const file: ClusterFile = { version: 1, createdAt: '', copies: 3, ipBase: IP, nodes: [node(0, port), node(1, port), node(2, deadPort)] }
    const stop = new AbortController()
    const h = stoppingHistory(stop, everyOutcomeSeen)
    const tracker = new DeleteTracker()
    const stats = await runWorkload({
      // the duration only caps a run that never sees every outcome (the assertions below then say which is missing)
      file,
      history: h,
      tracker,
      seed: 99,
      durationMs: 50_000,
      signal: stop.signal,
      concurrency: 3,
      maxLiveVdis: 2,
      opTimeoutMs: 300,
      rates: { create: 2, write: 20, read: 10, discard: 2, delete: 2 },
      nodes: new RunningNodes(file, { isRunning: async () => true })
    })
    expect(h.stoppedAt, 'the run ended on its duration before every outcome was seen').toBeGreaterThan(0)
    // stopped by the signal: nothing invoked after it, everything in flight completed (below)
    expect(h.events.slice(h.stoppedAt).filter((e) => e.type === 'invoke')).toEqual([])
    expect(answered).toBeGreaterThan(20)

    const ops = h.events.filter((e): e is OpEvent => e.type === 'invoke' || e.type === 'ok' || e.type === 'fail' || e.type === 'info')
    const judge = new HistoryJudge()
    for (const e of h.events) judge.add(e) // throws on a pairing error
    const byId = new Map<number, OpEvent[]>()
    for (const e of ops) byId.set(e.id, [...(byId.get(e.id) ?? []), e])
    for (const [id, evs] of byId) {
      expect(evs.map((e) => e.type === 'invoke' ? 'invoke' : 'done'), `op ${id}`).toEqual(['invoke', 'done'])
    }
    expect(stats.invoked).toBe(byId.size)

    // never more than `concurrency` in flight; processes never run two ops at once
    let inflight = 0
    let max = 0
    const busy = new Set<number>()
    for (const e of ops) {
      if (e.type === 'invoke') {
        expect(busy.has(e.process), `process ${e.process} invoked while busy`).toBe(false)
        busy.add(e.process)
        max = Math.max(max, ++inflight)
      } else {
        busy.delete(e.process)
        inflight--
      }
    }
    expect(max).toBeLessThanOrEqual(3)

    // never more than 2 live VDIs (created ok, delete not yet invoked)
    let live = 0
    for (const e of ops) {
      if (e.f === 'create' && e.type === 'ok') live++
      if (e.f === 'delete' && e.type === 'invoke') live--
      expect(live).toBeLessThanOrEqual(2)
    }

    const done = ops.filter((e) => e.type !== 'invoke')
    const timeouts = done.filter((e) => e.code === 'TIMEOUT')
    expect(timeouts.length).toBeGreaterThan(0)
    expect(timeouts.every((e) => e.type === 'info')).toBe(true)
    const refused = done.filter((e) => e.code === 'REFUSED')
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.every((e) => e.type === 'fail' && e.node === 2)).toBe(true)
    const unavailable = done.filter((e) => e.code === 'UNAVAILABLE' && e.f === 'write')
    expect(unavailable.length).toBeGreaterThan(0)
    expect(unavailable.every((e) => e.type === 'info')).toBe(true)
    // after an info the worker goes on under a new process id
    expect(Math.max(...ops.map((e) => e.process))).toBeGreaterThanOrEqual(3)
    // writes carry their content digest on the invoke; ok reads carry what they read
    expect(ops.filter((e) => e.f === 'write').every((e) => e.value?.length === 4096)).toBe(true)
    expect(done.filter((e) => e.f === 'read' && e.type === 'ok').every((e) => e.value?.length === 4096)).toBe(true)
    // every acknowledged delete reached the tracker
    const deleted = done.filter((e) => e.f === 'delete' && e.type === 'ok')
    expect(deleted.length).toBeGreaterThan(0)
    expect(tracker.deletedVdis).toBe(deleted.length)
  })

  it('ends at its duration: a zero duration invokes nothing, a short one completes what it invoked', async () => {
    const file: ClusterFile = { version: 1, createdAt: '', copies: 3, ipBase: IP, nodes: [node(0, port)] }
    const nodes = new RunningNodes(file, { isRunning: async () => true })
    const none = new MemoryHistory()
    const zero = await runWorkload({ file, history: none, seed: 5, durationMs: 0, nodes, rates: { create: 5, write: 0, read: 0, discard: 0, delete: 0 } })
    expect(zero.invoked).toBe(0)
    expect(none.events.map((e) => e.type)).toEqual(['meta'])

    const h = new MemoryHistory()
    const short = await runWorkload({ file, history: h, seed: 5, durationMs: 1000, nodes, opTimeoutMs: 300, rates: { create: 20, write: 0, read: 0, discard: 0, delete: 0 } })
    // the first arrival is at once, so a run of any length invokes something
    expect(short.invoked).toBeGreaterThan(0)
    const invokes = h.events.filter((e) => e.type === 'invoke').length
    expect(done(h.events)).toHaveLength(invokes)
    expect(short.invoked).toBe(invokes)
  })

  it('refuses bad options', async () => {
    const file: ClusterFile = { version: 1, createdAt: '', copies: 3, ipBase: IP, nodes: [node(0, port)] }
    await expect(runWorkload({ file, history: new MemoryHistory(), seed: 1, durationMs: 10, rates: { create: 0, write: 0, read: 0, discard: 0, delete: 0 } })).rejects.toThrow(/every rate is 0/)
    await expect(runWorkload({ file, history: new MemoryHistory(), seed: 1, durationMs: 10, concurrency: 0 })).rejects.toThrow(/concurrency must be an integer/)
  })
})
