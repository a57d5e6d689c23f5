// Only durable records count as held: a session whose store fails to append what it learned
// must leave those records out of the set (which mirrors the durable log), so the next
// session fetches them again. Driven through receiveDurably, the path the anti-entropy
// stream uses, with a fake log whose appends fail on demand.

import { describe, expect, it } from 'vitest'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { ReconSet } from '../../src/antientropy/reconSet.js'
import { ReconSession, encodeFrame, type SessionOptions, type Step } from '../../src/antientropy/session.js'
import { receiveDurably, type Store } from '../../src/antientropy/durable.js'
import { makeRecords } from '../../src/antientropy/simulate.js'
import type { AeFrame } from '../../src/wire/bellwether_pb.js'

/** An in-memory stand-in for the delete log: appends resolve later, and the ones listed in `failOn` (1-based call numbers) reject. */
class FlakyLog {
  readonly held = new Map<bigint, DeleteRec>()
  calls = 0
  constructor (private readonly failOn: number[] = []) {}

  async append (recs: DeleteRec[]): Promise<DeleteRec[]> {
    const call = ++this.calls
    await new Promise((resolve) => setImmediate(resolve))
    if (this.failOn.includes(call)) throw new Error('ENOSPC: no space left on device, write')
    const fresh = recs.filter((r) => !this.held.has(recordHash(r)))
    for (const r of fresh) this.held.set(recordHash(r), r)
    return fresh
  }
}

interface Side { set: ReconSet, log: FlakyLog, store: Store }

/** A node's side: a set mirroring a log, and a store that adds to the set only what the log made durable (as the node's pipeline does). */
function side (recs: DeleteRec[], failOn: number[] = []): Side {
  const set = new ReconSet()
  const log = new FlakyLog(failOn)
  for (const r of recs) {
    set.add(r)
    log.held.set(recordHash(r), r)
  }
  return {
    set,
    log,
    store: async (learned) => {
      const fresh = await log.append(learned)
      for (const r of fresh) set.add(r)
    }
  }
}

interface Run { error: { initiator?: string, responder?: string }, learned: { initiator: DeleteRec[], responder: DeleteRec[] } }

/** One session, initiator on `a`, responder on `b`, each frame received through receiveDurably. */
async function runDurable (a: Side, b: Side, opts: SessionOptions = {}): Promise<Run> {
  const sessions = { initiator: new ReconSession('initiator', a.set, opts), responder: new ReconSession('responder', b.set, opts) }
  const stores = { initiator: a.store, responder: b.store }
  const run: Run = { error: {}, learned: { initiator: [], responder: [] } }
  let frame: AeFrame | undefined = sessions.initiator.start()
  let to: 'initiator' | 'responder' = 'responder'
  for (let n = 0; frame !== undefined; n++) {
    if (n > 10_000) throw new Error('session did not end')
    let step: Step
    try {
      step = await receiveDurably(sessions[to], encodeFrame(frame), stores[to])
    } catch (err) {
      // a store failure that escapes ends the session as the stream adapter would
      run.error[to] ??= String(err)
      break
    }
    run.learned[to].push(...step.learned)
    if (step.error != null) run.error[to] ??= step.error
    frame = step.reply
    to = to === 'responder' ? 'initiator' : 'responder'
  }
  return run
}

const hashes = (xs: Iterable<DeleteRec>): bigint[] => Array.from(BigUint64Array.from([...xs].map(recordHash)).sort())
const setHashes = (s: ReconSet): bigint[] => hashes(s.records())

describe('anti-entropy holds only durable records', () => {
  for (const lacking of ['initiator', 'responder'] as const) {
    for (const failOn of [1, 3]) {
      it(`${lacking} whose append #${failOn} fails: those records stay un-held, and the next session fetches and stores them`, async () => {
        const all = makeRecords(2000, 41 + failOn)
        // the lacking side misses 300 records, streamed 64 per frame: several appends
        const missing = all.slice(800, 1100)
        const partial = [...all.slice(0, 800), ...all.slice(1100)]
        const full = side(all)
        const short = side(partial, [failOn])
        const opts = { maxRecordsPerFrame: 64 }
        const [a, b] = lacking === 'initiator' ? [short, full] : [full, short]

        const first = await runDurable(a, b, opts)
        expect(first.error[lacking]).toMatch(/ENOSPC/)
        // the set claims exactly what the log holds durably, nothing the failed append carried
        expect(setHashes(short.set)).toEqual(hashes(short.log.held.values()))
        expect(short.log.held.size).toBeLessThan(all.length)
        const stillMissing = missing.filter((r) => !short.log.held.has(recordHash(r)))
        expect(stillMissing.length).toBeGreaterThan(0)
        for (const r of stillMissing) expect(short.set.has(recordHash(r))).toBe(false)

        const second = await runDurable(a, b, opts)
        expect(second.error).toEqual({})
        expect(hashes(second.learned[lacking])).toEqual(hashes(stillMissing))
        expect(hashes(short.log.held.values())).toEqual(hashes(all))
        expect(setHashes(short.set)).toEqual(hashes(all))
      })
    }
  }

  it('a successful session adds exactly what it stored, and reports it as learned', async () => {
    const all = makeRecords(500, 7)
    const a = side(all.filter((_, i) => i % 3 !== 0))
    const b = side(all.filter((_, i) => i % 3 !== 1))
    const run = await runDurable(a, b)
    expect(run.error).toEqual({})
    expect(hashes(run.learned.initiator)).toEqual(hashes(all.filter((_, i) => i % 3 === 0)))
    expect(hashes(run.learned.responder)).toEqual(hashes(all.filter((_, i) => i % 3 === 1)))
    for (const s of [a, b]) {
      expect(setHashes(s.set)).toEqual(hashes(all))
      expect(hashes(s.log.held.values())).toEqual(hashes(all))
    }
  })

  it('accept() leaves the set alone until the caller stores what it learned', () => {
    const all = makeRecords(50, 3)
    const a = new ReconSet()
    const b = ReconSet.from(all)
    const ini = new ReconSession('initiator', a)
    const res = new ReconSession('responder', b)
    let frame: AeFrame | undefined = ini.start()
    let to = res
    let learned = 0
    while (frame !== undefined) {
      const got = to.accept(frame)
      learned += got.learned.length
      if (to === ini) expect(a.size).toBe(0)
      frame = got.done ? got.reply : to.answer().reply
      to = to === res ? ini : res
    }
    expect(learned).toBe(all.length)
    // nothing was stored, so nothing is held; the session still ended cleanly on both sides
    expect(a.size).toBe(0)
    expect(ini.ended && res.ended).toBe(true)
  })
})
