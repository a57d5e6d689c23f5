// The history checker (src/check/history.ts) on hand-made histories and final states: each
// planted violation — a revived object, a lost acknowledged write (older content, nothing at
// all), a stale cache entry, an unpurged object — is reported with the right oid and count; a
// clean history passes; the allowances (unknown writes, concurrent writes, a delete of unknown
// outcome, a write racing a discard, a reused vid) do not raise false alarms; malformed
// history lines are a HistoryError naming the line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LocalCheck, LocalCheckObject, VdiInfo } from '../../src/api/types.js'
import { parseHistory, parseHistoryLine } from '../../src/chaos/historyReader.js'
import { contentDigest, HistoryError, type ContentDigest, type HistoryEvent, type OpEvent, type OpF, type SampleNode, zeroDigest } from '../../src/chaos/history.js'
import { judgeHistory, HistoryJudge, type FinalRead, type FinalState } from '../../src/check/history.js'
import { loadHistory } from '../../src/check/gather.js'

const OBJ = 4096
const A = { name: 'a', vid: '00a001', gen: 1 }
const B = { name: 'b', vid: '00b002', gen: 1 }
const oid = (vid: string, idx: number, flags = '00'): string => `${flags}${vid}${idx.toString(16).padStart(8, '0')}`
const val = (s: string): ContentDigest => contentDigest(Buffer.from(s.padEnd(OBJ, '.')))

class Hist {
  readonly events: HistoryEvent[] = []
  private id = 0

  op (f: OpF, vdi: { name: string; vid: string; gen: number }, t0: number, t1: number | null, outcome: 'ok' | 'fail' | 'info',
    fields: Partial<OpEvent> = {}, done: Partial<OpEvent> = {}): number {
    const id = this.id++
    const base = { id, process: id % 4, f, node: id % 3, vdi: vdi.name, ...(f === 'create' ? {} : { vid: vdi.vid, generation: vdi.gen }), ...fields }
    this.events.push({ ...base, type: 'invoke', time: t0 } as OpEvent)
    if (t1 !== null) this.events.push({ ...base, ...done, type: outcome, time: t1 } as OpEvent)
    return id
  }

  create (v: typeof A, t0: number, t1: number): void {
    this.op('create', v, t0, t1, 'ok', { size: 4 * OBJ, objectSize: OBJ, copies: 3 }, { vid: v.vid, generation: v.gen })
  }

  write (v: typeof A, index: number, value: ContentDigest, t0: number, t1: number | null, outcome: 'ok' | 'fail' | 'info' = 'ok'): number {
    return this.op('write', v, t0, t1, outcome, { index, value })
  }

  sample (time: number, nodes: Array<Partial<SampleNode> & { node: number }>): void {
    this.events.push({ type: 'sample', round: this.events.length, time, nodes: nodes.map((n) => ({ t0: time, t1: time + 2, count: 10, fp: 'x', heldCount: n.held?.length ?? 0, ...n })) })
  }
}

const X1 = val('x1')
const X2 = val('x2')
const Y = val('y')
const Z = val('z')
const W = val('w')

/**
 * VDI a: object 0 written twice (X1 then X2), object 1 once (Y), object 2 written then
 * discarded. VDI b: object 0 written, then b deleted. A partition 100..150. Samples at 95
 * (node 0 still holds b's objects), 200 and 300 (all purged).
 */
function cleanHistory (): Hist {
  const h = new Hist()
  h.events.push({ type: 'meta', time: 0, format: 1, seed: '42' })
  h.create(A, 0, 10)
  h.create(B, 0, 12)
  h.write(A, 0, X1, 20, 30)
  h.write(A, 1, Y, 20, 31)
  h.write(A, 2, W, 20, 32)
  h.write(B, 0, Z, 20, 33)
  h.write(A, 0, X2, 40, 50)
  h.op('read', A, 52, 55, 'ok', { index: 0 }, { value: X2 })
  h.op('discard', A, 60, 70, 'ok', { indexes: [2] })
  h.op('delete', B, 80, 90, 'ok', {}, { vid: B.vid, generation: B.gen })
  h.sample(95, [{ node: 0, held: ['0000b002:0', '8000b002:0'] }, { node: 1 }, { node: 2 }])
  h.events.push({ type: 'nemesis', f: 'partition', value: { groups: [[0], [1, 2]] }, time: 100 })
  h.events.push({ type: 'nemesis', f: 'heal', time: 150 })
  h.sample(200, [{ node: 0 }, { node: 1 }, { node: 2 }])
  h.sample(300, [{ node: 0 }, { node: 1 }, { node: 2 }])
  return h
}

function lc (objects: Array<Partial<LocalCheckObject> & { oid: string }>, over: Partial<LocalCheck> = {}): LocalCheck {
  return {
    peerId: 'p',
    cacheEqualsDisk: true,
    onlyInCache: [],
    onlyOnDisk: [],
    objects: objects.map((o) => ({ generation: 1, version: '0190000000010000', checksum: 1, length: OBJ, ...o })),
    tombstoned: [],
    ...over
  }
}

const vdiA: VdiInfo = { name: 'a', vid: A.vid, size: 4 * OBJ, copies: 3, objectSize: OBJ, generation: 1, objects: 4, created: '0190000000000000' }

function cleanFinal (reads: Partial<Record<number, FinalRead | null>> = {}): FinalState {
  const held = [oid(A.vid, 0, '80'), oid(A.vid, 0), oid(A.vid, 1)].map((o) => ({ oid: o }))
  const r: FinalRead[] = [
    { vdi: 'a', index: 0, oid: oid(A.vid, 0), node: 0, value: X2 },
    { vdi: 'a', index: 1, oid: oid(A.vid, 1), node: 1, value: Y }
  ]
  for (const [k, v] of Object.entries(reads)) {
    const i = Number(k)
    if (v === null) r.splice(r.findIndex((x) => x.index === i), 1)
    else r[r.findIndex((x) => x.index === i)] = v!
  }
  return { nodes: [0, 1, 2].map((n) => ({ node: n, peerId: `p${n}`, check: lc(held) })), vdis: [vdiA, vdiA], reads: r }
}

describe('judgeHistory', () => {
  it('passes a clean history, and measures purge latency and heal → converged', () => {
    const h = cleanHistory()
    const r = judgeHistory(h.events, cleanFinal())
    expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    expect(r.ok).toBe(true)
    expect(r.checked).toMatchObject({ objects: 2, ackedWrites: 3, deletes: 1, discards: 1, sampleRounds: 3, nodes: 3, nodesAnswered: 3 })
    expect(r.ops.write).toEqual({ invoked: 5, ok: 5, fail: 0, info: 0 })
    expect(r.reads).toMatchObject({ checked: 1, unexpected: 0, stale: 0 })
    // the discard (acked at 70) is seen purged everywhere in the first sample (answered at 97);
    // the delete of b (acked at 90): node 0 still held it at 95, purged by 200 (answered at 202)
    expect(r.purgeLatency).toMatchObject({ count: 2, max: 112, notPurged: 0, unobserved: 0 })
    expect(r.healToConverged).toEqual({ lastHeal: 150, convergedAt: 202, ms: 52 })
  })

  it('times every heal to its first converged round, and counts heals the next fault interrupted', () => {
    const h = cleanHistory()
    // a second fault at 320 and its heal at 340; a third fault at 360 comes before any converged round
    h.events.push({ type: 'nemesis', f: 'pause', value: '1', time: 320 })
    h.events.push({ type: 'nemesis', f: 'resume', value: '1', time: 340 })
    h.sample(350, [{ node: 0 }, { node: 1, error: 'timeout' }, { node: 2 }])
    h.events.push({ type: 'nemesis', f: 'kill', value: '2', time: 360 })
    h.events.push({ type: 'nemesis', f: 'start', value: '2', time: 380 })
    h.sample(390, [{ node: 0, fp: 'y' }, { node: 1 }, { node: 2 }])
    h.sample(420, [{ node: 0 }, { node: 1 }, { node: 2 }])
    const r = judgeHistory(h.events, cleanFinal())
    // heal at 150 → round answered at 202 (52 ms); resume at 340 interrupted by the kill at 360;
    // start at 380 → the round of 390 disagrees on the log, the one of 420 is answered at 422 (42 ms)
    expect(r.healsConverged).toMatchObject({ count: 2, max: 52, interrupted: 1 })
    expect(r.healToConverged).toEqual({ lastHeal: 380, convergedAt: 422, ms: 42 })
  })

  it('gives purge latencies and heal times over time, for plots', () => {
    const r = judgeHistory(cleanHistory().events, cleanFinal())
    expect(r.series.purge).toEqual([[70, 27], [90, 112]])
    expect(r.series.heals).toEqual([[150, 52]])
  })

  it('mid-run (a soak): counts covered oids still held in a node\'s latest complete sample longer than the lag allowed', () => {
    const h = cleanHistory()
    const j = new HistoryJudge()
    for (const e of h.events) j.add(e)
    expect(j.overdue(0).count).toBe(0)
    // node 1 holds b's object 0 again (b's delete acked at 90), node 2 the discarded a:2 (acked at 70);
    // node 0's sample is incomplete, so its oid does not count
    h.sample(400, [{ node: 0, error: 'timeout', held: ['0000b002:1'] }, { node: 1, held: ['0000b002:0'] }, { node: 2, held: ['0000a001:2'] }])
    const k = new HistoryJudge()
    for (const e of h.events) k.add(e)
    const o = k.overdue(100)
    expect(o.count).toBe(2)
    expect(o.findings.map((f) => [f.oid, f.node])).toEqual([[oid(B.vid, 0), 1], [oid(A.vid, 2), 2]])
    expect(o.findings[0]!.detail).toContain('lag allowed 100 ms')
    // within the lag: not overdue (b's object: 400 - 90 = 310 ms; a:2: 400 - 70 = 330 ms)
    expect(k.overdue(320).count).toBe(1)
    expect(k.overdue(330).count).toBe(0)
  })

  it('the read plan names every acknowledged object of a live VDI (not the discarded one, not the deleted VDI)', () => {
    const j = new HistoryJudge()
    for (const e of cleanHistory().events) j.add(e)
    expect(j.readPlan()).toEqual([
      { vdi: 'a', vid: A.vid, index: 0, oid: oid(A.vid, 0), offset: 0, length: OBJ },
      { vdi: 'a', vid: A.vid, index: 1, oid: oid(A.vid, 1), offset: OBJ, length: OBJ }
    ])
  })

  it('reports a revived object: a node seen without it after the delete, later with it again', () => {
    const h = cleanHistory()
    h.sample(400, [{ node: 0 }, { node: 1, held: ['0000b002:0'] }, { node: 2 }])
    const r = judgeHistory(h.events, cleanFinal())
    expect(r.counts).toEqual({ lost: 0, revived: 1, unpurged: 0, stale: 0, falselyPurged: 0 })
    expect(r.ok).toBe(false)
    expect(r.revived).toEqual([expect.objectContaining({ oid: oid(B.vid, 0), node: 1, vdi: 'b' })])
    expect(r.revived[0]!.detail).toMatch(/did not hold it at 300 ms .* held it again at 400 ms; it was not seen holding it after the ack/)
    // node 0 held it after the ack (95), purged it (200), and has it again: a purge undone
    const h2 = cleanHistory()
    h2.sample(400, [{ node: 0, held: ['0000b002:0'] }, { node: 1 }, { node: 2 }])
    const r2 = judgeHistory(h2.events, cleanFinal())
    expect(r2.revived).toEqual([expect.objectContaining({ oid: oid(B.vid, 0), node: 0, detail: expect.stringMatching(/had held it at 95 ms after the ack and purged it/) })])
    // b was no longer purged everywhere after the heal... but a round at 200 was converged first
    expect(r.healToConverged?.ms).toBe(52)
  })

  it('judges revival from the delete\'s stability: before every node holds the record, a copy between two that lack it is not one', () => {
    // b's delete is acked at 90 by a node cut off right after: node 2 lacks the record (another
    // delete log) until 300, and node 1 takes a copy meanwhile (from node 2, which missed it too)
    const unstable = (): Hist => {
      const h = new Hist()
      h.events.push({ type: 'meta', time: 0, format: 1, seed: '42' })
      h.create(A, 0, 10)
      h.create(B, 0, 12)
      h.write(B, 0, Z, 20, 33)
      h.op('delete', B, 80, 90, 'ok', {}, { vid: B.vid, generation: B.gen })
      h.sample(200, [{ node: 0 }, { node: 1 }, { node: 2, fp: 'y', held: ['0000b002:0'] }])
      h.sample(250, [{ node: 0 }, { node: 1, held: ['0000b002:0'] }, { node: 2, fp: 'y', held: ['0000b002:0'] }])
      h.sample(300, [{ node: 0 }, { node: 1 }, { node: 2 }])
      return h
    }
    const final = (): FinalState => ({ ...cleanFinal(), reads: [] })
    const early = judgeHistory(unstable().events, final())
    expect(early.counts.revived).toBe(0)
    expect(early.ok).toBe(true)
    // once every node agrees on the log (the round at 300 ends at 302), the same is a revival
    const late = unstable()
    late.sample(350, [{ node: 0 }, { node: 1 }, { node: 2 }])
    late.sample(400, [{ node: 0 }, { node: 1, held: ['0000b002:0'] }, { node: 2 }])
    const r = judgeHistory(late.events, final())
    expect(r.counts.revived).toBe(1)
    expect(r.revived[0]).toMatchObject({ oid: oid(B.vid, 0), node: 1 })
    expect(r.revived[0]!.detail).toMatch(/did not hold it at 350 ms/)
    // a round with a node down is not stable either (it may hold the object and lack the record)
    const down = unstable()
    down.events.splice(down.events.length - 1, 1)
    down.sample(300, [{ node: 0 }, { node: 1 }, { node: 2, down: true }])
    down.sample(350, [{ node: 0 }, { node: 1 }, { node: 2, down: true }])
    down.sample(400, [{ node: 0 }, { node: 1, held: ['0000b002:0'] }, { node: 2 }])
    expect(judgeHistory(down.events, final()).counts.revived).toBe(0)
  })

  it('does not call "revived" what a node held all along, nor what it held before anyone saw it purged', () => {
    const h = new Hist()
    h.create(B, 0, 10)
    h.write(B, 0, Z, 20, 30)
    h.op('delete', B, 40, 50, 'ok', {}, { vid: B.vid, generation: B.gen })
    // node 1 holds it in every sample (never seen without it); node 2 first answers without
    // it only with a truncated sample (not evidence), then holds it
    h.sample(60, [{ node: 1, held: ['0000b002:0'] }, { node: 2, held: [], truncated: true, heldCount: 5000 }])
    h.sample(70, [{ node: 1, held: ['0000b002:0'] }, { node: 2, held: ['0000b002:0'] }])
    const r = judgeHistory(h.events, { nodes: [], vdis: [], reads: [] })
    expect(r.counts.revived).toBe(0)
    expect(r.purgeLatency).toMatchObject({ count: 0, notPurged: 1 })
  })

  it('reports a lost acknowledged write whose final read returns older content', () => {
    const r = judgeHistory(cleanHistory().events, cleanFinal({ 0: { vdi: 'a', index: 0, oid: oid(A.vid, 0), node: 0, value: X1 } }))
    expect(r.counts).toEqual({ lost: 1, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    expect(r.lost).toEqual([expect.objectContaining({ oid: oid(A.vid, 0), vdi: 'a' })])
    expect(r.lost[0]!.detail).toMatch(/older value of op 2 .*expected acked write op 6/)
  })

  it('reports a lost write that reads as zeros, and as falsely purged when no node holds it', () => {
    const zeros = { vdi: 'a', index: 1, oid: oid(A.vid, 1), node: 2, value: { digest: zeroDigest(OBJ), length: OBJ } }
    const f = cleanFinal({ 1: zeros })
    let r = judgeHistory(cleanHistory().events, f)
    expect(r.counts).toEqual({ lost: 1, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    expect(r.lost[0]).toMatchObject({ oid: oid(A.vid, 1) })
    expect(r.lost[0]!.detail).toMatch(/zeros/)
    // now no node holds object 1 any more
    for (const n of f.nodes) n.check!.objects = n.check!.objects.filter((o) => o.oid !== oid(A.vid, 1))
    r = judgeHistory(cleanHistory().events, f)
    expect(r.counts).toEqual({ lost: 1, revived: 0, unpurged: 0, stale: 0, falselyPurged: 1 })
    expect(r.falselyPurged).toEqual([expect.objectContaining({ oid: oid(A.vid, 1) })])
    // ... but not when a node could not be asked (its disk may hold it)
    f.nodes[2] = { node: 2, error: 'not running' }
    r = judgeHistory(cleanHistory().events, f)
    expect(r.counts).toMatchObject({ lost: 1, falselyPurged: 0 })
    expect(r.notes.join('\n')).toMatch(/not every node was checked/)
  })

  it('reports an unreadable or unread object as lost', () => {
    let r = judgeHistory(cleanHistory().events, cleanFinal({ 1: { vdi: 'a', index: 1, oid: oid(A.vid, 1), node: 0, error: 'VDI not found', code: 'NOT_FOUND' } }))
    expect(r.lost).toEqual([expect.objectContaining({ oid: oid(A.vid, 1), detail: expect.stringMatching(/unreadable .*NOT_FOUND/) })])
    r = judgeHistory(cleanHistory().events, cleanFinal({ 1: null }))
    expect(r.lost).toEqual([expect.objectContaining({ oid: oid(A.vid, 1), detail: expect.stringMatching(/not read/) })])
  })

  it('reports a stale cache entry with its node and oid', () => {
    const f = cleanFinal()
    f.nodes[2]!.check = lc([{ oid: oid(A.vid, 0) }, { oid: oid(A.vid, 1) }], { cacheEqualsDisk: false, onlyInCache: [oid(A.vid, 3)] })
    const r = judgeHistory(cleanHistory().events, f)
    expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 1, falselyPurged: 0 })
    expect(r.stale).toEqual([expect.objectContaining({ oid: oid(A.vid, 3), node: 2 })])
  })

  it('reports an unpurged object (and as revived too when a sample had shown the node without it)', () => {
    const f = cleanFinal()
    f.nodes[1]!.check!.objects.push({ oid: oid(B.vid, 0), generation: 1, version: '01', checksum: 1, length: OBJ })
    // without samples: only unpurged
    const noSamples = cleanHistory().events.filter((e) => e.type !== 'sample')
    let r = judgeHistory(noSamples, f)
    expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 1, stale: 0, falselyPurged: 0 })
    expect(r.unpurged).toEqual([expect.objectContaining({ oid: oid(B.vid, 0), node: 1, vdi: 'b' })])
    expect(r.unpurged[0]!.detail).toMatch(/node 1 \(disk\) after the delete of VDI b/)
    // with samples: node 1 was seen without it at 200 and 300, so it came back
    r = judgeHistory(cleanHistory().events, f)
    expect(r.counts).toEqual({ lost: 0, revived: 1, unpurged: 1, stale: 0, falselyPurged: 0 })
    expect(r.revived[0]).toMatchObject({ oid: oid(B.vid, 0), node: 1 })
    expect(r.revived[0]!.detail).toMatch(/holds it at the end/)
    // a discarded object still in a cache is unpurged as well
    const g = cleanFinal()
    g.nodes[0]!.check!.onlyInCache = [oid(A.vid, 2)]
    g.nodes[0]!.check!.cacheEqualsDisk = false
    r = judgeHistory(noSamples, g)
    expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 1, stale: 1, falselyPurged: 0 })
    expect(r.unpurged[0]!.detail).toMatch(/node 0 \(cache\) after the discard of VDI a objects 2/)
  })

  it('allows what may legitimately be there: unknown and concurrent writes, an unknown delete, a racing write, a reused vid', () => {
    const h = new Hist()
    h.create(A, 0, 10)
    // object 0: acked X1, then an unknown write X2: either may be the final content
    h.write(A, 0, X1, 20, 30)
    h.write(A, 0, X2, 40, null, 'info')
    // object 1: two concurrent acked writes: either
    h.write(A, 1, Y, 20, 40)
    h.write(A, 1, Z, 25, 35)
    // object 2: a failed write changes nothing
    h.write(A, 2, W, 20, 30)
    h.write(A, 2, X1, 40, 45, 'fail')
    // object 3: a write of unknown outcome before a discard: the object may legitimately stay
    h.write(A, 3, W, 20, null, 'info')
    h.op('discard', A, 50, 60, 'ok', { indexes: [3] })
    // VDI b: deleted with an unknown outcome, and still live at the end: its writes are judged
    h.create(B, 0, 10)
    h.write(B, 0, Z, 20, 30)
    h.op('delete', B, 40, null, 'info')
    const final = (r0: ContentDigest, r1: ContentDigest): FinalState => ({
      nodes: [0, 1].map((n) => ({ node: n, check: lc([{ oid: oid(A.vid, 3) }, { oid: oid(A.vid, 0) }]) })),
      vdis: [vdiA, { ...vdiA, name: 'b', vid: B.vid }],
      reads: [
        { vdi: 'a', index: 0, oid: oid(A.vid, 0), value: r0 },
        { vdi: 'a', index: 1, oid: oid(A.vid, 1), value: r1 },
        { vdi: 'a', index: 2, oid: oid(A.vid, 2), value: W },
        { vdi: 'b', index: 0, oid: oid(B.vid, 0), value: Z }
      ]
    })
    for (const [r0, r1] of [[X1, Y], [X2, Z]] as const) {
      const r = judgeHistory(h.events, final(r0, r1))
      expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    }
    // b's final read is judged because b is still live: wrong content is lost
    const bad = final(X1, Y)
    bad.reads[3] = { vdi: 'b', index: 0, oid: oid(B.vid, 0), value: X1 }
    expect(judgeHistory(h.events, bad).lost).toEqual([expect.objectContaining({ oid: oid(B.vid, 0) })])
    // ... and not when b is gone at the end (its delete took effect)
    bad.vdis = [vdiA]
    expect(judgeHistory(h.events, bad).counts.lost).toBe(0)

    // a vid reused by a new VDI (generation 2) after b's delete: its objects are not b's
    const g = new Hist()
    g.create(B, 0, 10)
    g.write(B, 0, Z, 20, 30)
    g.op('delete', B, 40, 50, 'ok', {}, { vid: B.vid, generation: 1 })
    g.sample(60, [{ node: 0 }])
    const C = { name: 'c', vid: B.vid, gen: 2 }
    g.create(C, 70, 80)
    g.write(C, 0, Y, 90, 100)
    g.sample(110, [{ node: 0, held: ['0000b002:0', '8000b002:0'] }]) // the sampler's tracker may lag
    const r = judgeHistory(g.events, {
      nodes: [{ node: 0, check: lc([{ oid: oid(B.vid, 0), generation: 2 }, { oid: oid(B.vid, 0, '80'), generation: 2 }]) }],
      vdis: [{ ...vdiA, name: 'c', vid: B.vid, generation: 2 }],
      reads: [{ vdi: 'c', index: 0, oid: oid(B.vid, 0), value: Y }]
    })
    expect(r.counts).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    // but an object of the OLD generation left on disk is unpurged
    const r2 = judgeHistory(g.events, {
      nodes: [{ node: 0, check: lc([{ oid: oid(B.vid, 1), generation: 1 }]) }],
      vdis: [{ ...vdiA, name: 'c', vid: B.vid, generation: 2 }],
      reads: [{ vdi: 'c', index: 0, oid: oid(B.vid, 0), value: Y }]
    })
    expect(r2.unpurged).toEqual([expect.objectContaining({ oid: oid(B.vid, 1), node: 0 })])
  })

  it('flags reads that return content never written to the object (reported, not judged)', () => {
    const h = cleanHistory()
    h.op('read', A, 300, 310, 'ok', { index: 1 }, { value: Z })
    const r = judgeHistory(h.events, cleanFinal())
    expect(r.ok).toBe(true)
    expect(r.reads).toMatchObject({ checked: 2, unexpected: 1 })
    expect(r.reads.findings[0]).toMatchObject({ oid: oid(A.vid, 1) })
  })

  it('refuses operations that do not pair up', () => {
    const j = new HistoryJudge()
    expect(() => j.add({ type: 'ok', id: 5, process: 0, f: 'write', node: 0, vdi: 'a', time: 1, index: 0, value: X1 })).toThrow(HistoryError)
    j.add({ type: 'invoke', id: 1, process: 0, f: 'read', node: 0, vdi: 'a', time: 1, index: 0 })
    expect(() => j.add({ type: 'invoke', id: 1, process: 0, f: 'read', node: 0, vdi: 'a', time: 1, index: 0 })).toThrow(/invoked twice/)
    j.add({ type: 'fail', id: 1, process: 0, f: 'read', node: 0, vdi: 'a', time: 2, index: 0 })
    expect(() => j.add({ type: 'ok', id: 1, process: 0, f: 'read', node: 0, vdi: 'a', time: 3, index: 0 })).toThrow(/completes twice/)
  })
})

describe('history lines', () => {
  let dir = ''
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-hist-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  const good = JSON.stringify({ type: 'invoke', id: 0, process: 0, f: 'create', node: 0, vdi: 'a', time: 0 })

  it('a malformed line is a HistoryError with its line number', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"type":"invoke",', /line 2: not valid JSON/],
      ['[1,2]', /line 2: not a JSON object/],
      ['{"type":"bogus","time":1}', /line 2: unknown record type "bogus"/],
      ['{"type":"ok","id":0,"process":0,"f":"create","node":0,"vdi":"a"}', /line 2: time must be a finite number/],
      ['{"type":"invoke","id":1,"process":0,"f":"write","node":0,"vdi":"a","time":1,"index":0}', /line 2: write without value/],
      ['{"type":"invoke","id":1,"process":0,"f":"zap","node":0,"vdi":"a","time":1}', /line 2: f must be one of/],
      ['{"type":"sample","round":0,"time":1,"nodes":[{"node":0,"t0":1,"t1":2,"held":["zz"]}]}', /line 2: sample nodes\[0\]: bad oid group/],
      ['{"type":"nemesis","f":"explode","time":1}', /line 2: nemesis f must be one of/]
    ]
    for (const [line, re] of cases) {
      let err: unknown
      try { parseHistory(`${good}\n${line}\n`) } catch (e) { err = e }
      expect(err, line).toBeInstanceOf(HistoryError)
      expect((err as HistoryError).message, line).toMatch(re)
      expect((err as HistoryError).line).toBe(2)
    }
    expect(parseHistoryLine('   ', 7)).toBeUndefined()
  })

  it('reading a file streams records with line numbers; bad lines and pairing errors name the line', async () => {
    const ok = join(dir, 'ok.jsonl')
    await writeFile(ok, `${good}\n\n${JSON.stringify({ type: 'ok', id: 0, process: 0, f: 'create', node: 0, vdi: 'a', time: 3, vid: '00a001', generation: 1 })}\n`)
    const j = await loadHistory(ok)
    expect(j.finish({ nodes: [], vdis: [], reads: [] }).ops.create).toEqual({ invoked: 1, ok: 1, fail: 0, info: 0 })

    const bad = join(dir, 'bad.jsonl')
    await writeFile(bad, `${good}\n${good}\n{"type":"meta","time":0,"format":1}\n{oops\n`)
    await expect(loadHistory(bad)).rejects.toThrow(/bad\.jsonl: line 2: operation 0 is invoked twice/)
    await writeFile(bad, `${good}\n{"type":"meta","time":0,"format":1}\n{oops\n`)
    await expect(loadHistory(bad)).rejects.toThrow(/line 3: not valid JSON/)
    // a last line without its newline (a crash mid-write) is still read, and judged
    await writeFile(bad, `${good}\n{"type":"ok","id":0,"process":0,"f":"create","no`)
    await expect(loadHistory(bad)).rejects.toThrow(/line 2: not valid JSON/)
    await expect(loadHistory(join(dir, 'missing.jsonl'))).rejects.toThrow(/cannot read history .*no such file/)
  })
})
