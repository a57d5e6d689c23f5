// Anti-entropy sessions driven against each other in-process through the real encoder:
// convergence to the union (property), byte and round bounds for partition-shaped
// differences, frame limits, sets changing mid-session, and hostile frames.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { create } from '@bufbuild/protobuf'
import { AeFrameSchema, AeMode, FloorEntrySchema, type AeFrame } from '../../src/wire/bellwether_pb.js'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { encodeRecord, toWire } from '../../src/tombstones/recordWire.js'
import { MAX_KEY, ReconSet } from '../../src/antientropy/reconSet.js'
import {
  AeFrameError,
  ReconSession,
  decodeFrame,
  encodeFrame,
  type SessionOptions
} from '../../src/antientropy/session.js'
import { MAX_FRAME_BYTES, MAX_RECORDS_PER_FRAME } from '../../src/antientropy/constants.js'
import { makeRecords, rng, runSession, simulate } from '../../src/antientropy/simulate.js'

type Scenario = 'scattered' | 'clustered' | 'emptyA' | 'emptyB' | 'identical'

interface Split {
  a: ReconSet
  b: ReconSet
  onlyA: bigint[]
  onlyB: bigint[]
  union: bigint[]
}

/** Deals records to A, B or both as the scenario says; deterministic from seed. */
function deal (recs: DeleteRec[], scenario: Scenario, seed: number): Split {
  const r = rng(seed)
  const n = recs.length
  const w0 = Math.floor(r() * n)
  const w1 = w0 + Math.floor(r() * (n - w0 + 1))
  const lackingSide = r() < 0.5 ? 'a' : 'b'
  const pA = r() * 0.3
  const pB = r() * 0.3
  const out: Split = { a: new ReconSet(), b: new ReconSet(), onlyA: [], onlyB: [], union: [] }
  for (let i = 0; i < n; i++) {
    const rec = recs[i]!
    const h = recordHash(rec)
    let inA = true
    let inB = true
    if (scenario === 'scattered') {
      const x = r()
      if (x < pA) inB = false
      else if (x < pA + pB) inA = false
    } else if (scenario === 'clustered') {
      if (i >= w0 && i < w1) {
        if (lackingSide === 'a') inA = false
        else inB = false
      }
    } else if (scenario === 'emptyA') inA = false
    else if (scenario === 'emptyB') inB = false
    if (inA) out.a.add(rec, h)
    if (inB) out.b.add(rec, h)
    if (inA && !inB) out.onlyA.push(h)
    if (inB && !inA) out.onlyB.push(h)
    out.union.push(h)
  }
  return out
}

const sorted = (xs: Iterable<bigint>): bigint[] => Array.from(BigUint64Array.from(xs).sort())
const hashesOf = (recs: DeleteRec[]): bigint[] => sorted(recs.map(recordHash))
const allHashes = (s: ReconSet): bigint[] => sorted(s.hashesIn(0, s.size))

/** Runs a session A (initiator) ↔ B and asserts convergence and exact `learned` lists. */
function reconcileAndCheck (
  sp: Split,
  opts: SessionOptions,
  label: string,
  exact = false
): ReturnType<typeof runSession> {
  const run = runSession(sp.a, sp.b, opts, { maxFrames: 50_000 })
  expect(run.error, label).toBeUndefined()
  const union = sorted(sp.union)
  expect(allHashes(sp.a), label).toEqual(union)
  expect(allHashes(sp.b), label).toEqual(union)
  expect(hashesOf(run.learnedByInitiator), label).toEqual(sorted(sp.onlyB))
  expect(hashesOf(run.learnedByResponder), label).toEqual(sorted(sp.onlyA))
  expect(run.largestFrame, label).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  // without frame-limit remainders nothing is sent twice or sent to a side that had it
  if (exact) expect(run.recordsSent, label).toBe(sp.onlyA.length + sp.onlyB.length)
  return run
}

const scenarioArb = fc.constantFrom<Scenario>('scattered', 'clustered', 'emptyA', 'emptyB', 'identical')

describe('ReconSession convergence', () => {
  it('converges to the union and learns exactly what each side lacked (default options)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), scenarioArb, fc.integer(), (n, scenario, seed) => {
        const sp = deal(makeRecords(n, seed), scenario, seed)
        reconcileAndCheck(sp, {}, `n=${n} ${scenario} seed=${seed}`, true)
      }),
      { numRuns: 60 }
    )
  })

  it('converges with tiny fan-out, thresholds and frame limits (splitting, remainders, streaming)', () => {
    const optsArb = fc.record({
      branch: fc.integer({ min: 2, max: 16 }),
      idListThreshold: fc.integer({ min: 0, max: 40 }),
      maxRecordsPerFrame: fc.integer({ min: 1, max: 50 }),
      maxFrameRanges: fc.integer({ min: 19, max: 40 })
    })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1500 }), scenarioArb, fc.integer(), optsArb, (n, scenario, seed, opts) => {
        const sp = deal(makeRecords(n, seed), scenario, seed)
        reconcileAndCheck(sp, opts, `n=${n} ${scenario} seed=${seed} ${JSON.stringify(opts)}`)
      }),
      { numRuns: 150 }
    )
  })

  it('10^5 records clustered and one-side-empty, 2·10^4 scattered: converge within frame limits', () => {
    const recs = makeRecords(100_000, 99)
    for (const scenario of ['clustered', 'scattered', 'emptyA'] as const) {
      // scattered differs in up to 60% of records: 2·10^4 already streams ~10^4 each way
      const sp = deal(scenario === 'scattered' ? recs.slice(0, 20_000) : recs, scenario, 99)
      const run = reconcileAndCheck(sp, {}, `${scenario} seed=99`, true)
      const d = sp.onlyA.length + sp.onlyB.length
      // records stream at most MAX_RECORDS_PER_FRAME per frame
      expect(run.frames).toBeGreaterThanOrEqual(Math.ceil(d / MAX_RECORDS_PER_FRAME))
    }
  })

  it('splits ~250 KB records across frames without exceeding MAX_FRAME_BYTES', () => {
    const big: DeleteRec[] = []
    for (let i = 0; i < 16; i++) {
      const indexes = new Uint32Array(50_000)
      for (let k = 0; k < indexes.length; k++) indexes[k] = k * 85_000 + i
      big.push({ kind: 'objects', origin: 'big', seq: BigInt(i + 1), hlc: BigInt(1000 + i), vid: 7, generation: 1, indexes })
    }
    const a = ReconSet.from(big)
    const b = new ReconSet()
    const total = big.reduce((s, r) => s + encodeRecord(r).length, 0)
    expect(total).toBeGreaterThan(2 * MAX_FRAME_BYTES) // the point: they cannot all go in one frame
    const run = runSession(b, a)
    expect(run.error).toBeUndefined()
    expect(b.size).toBe(16)
    expect(run.largestFrame).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    expect(run.bytes).toBeGreaterThan(total)
    expect(run.frames).toBeGreaterThanOrEqual(2 * Math.ceil(total / MAX_FRAME_BYTES))
  })

  it('ends and keeps the initial union when either set gains or loses records mid-session', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 2000 }), scenarioArb, fc.integer(), fc.nat(6), (n, scenario, seed, at) => {
        const recs = makeRecords(n + 40, seed)
        const sp = deal(recs.slice(0, n), scenario, seed)
        const extra = recs.slice(n)
        const victim = sp.union[Math.floor(n / 2)]!
        let removedVictim = false
        const run = runSession(sp.a, sp.b, { maxRecordsPerFrame: 64 }, {
          beforeDeliver: (i) => {
            // gossip lands on one side at a time, in the middle of the key order too
            if (i === at) for (const rec of extra.slice(0, 20)) sp.a.add(rec)
            if (i === at + 1) for (const rec of extra.slice(20)) sp.b.add(rec)
            if (i === at + 2) removedVictim = sp.b.remove(victim) // GC under the session
          },
          maxFrames: 10_000
        })
        const label = `n=${n} ${scenario} seed=${seed} at=${at}`
        expect(run.error, label).toBeUndefined()
        for (const h of sp.union) {
          if (h === victim && removedVictim) continue
          expect(sp.a.has(h) && sp.b.has(h), label).toBe(true)
        }
        // a second session reconciles whatever the first could not see
        const again = runSession(sp.a, sp.b)
        expect(again.error, label).toBeUndefined()
        expect(allHashes(sp.a), label).toEqual(allHashes(sp.b))
      }),
      { numRuns: 40 }
    )
  })
})

describe('ReconSession cost', () => {
  // Derived from the measured table (see simulate.ts): fixed cost of a clustered
  // difference ≤ ~2.5 KB up to 10^6 records, plus the record's field tag and length.
  const C = 4096
  const PER_RECORD_OVERHEAD = 4

  const pools = new Map<number, { records: DeleteRec[]; hashes: bigint[] }>()
  const pool = (n: number, seed: number) => {
    let p = pools.get(n)
    if (p === undefined) {
      const records = makeRecords(n, seed)
      p = { records, hashes: records.map(recordHash) }
      pools.set(n, p)
    }
    return p
  }

  for (const n of [10_000, 100_000]) {
    for (const d of [0, 1, 100, 1000]) {
      for (const lacking of ['initiator', 'responder'] as const) {
        it(`clustered n=${n} d=${d}, ${lacking} lacking: bytes ≤ C + d·(record + ${PER_RECORD_OVERHEAD}), few rounds`, () => {
          // records from seed n, the missing window from seed n + d
          const seed = n + d
          const r = simulate({ n, d, clustered: true, seed, lacking, pool: pool(n, n) })
          const label = `seed=${seed} ${JSON.stringify({ ...r })}`
          expect(r.converged, label).toBe(true)
          expect(r.learned, label).toBe(d)
          expect(r.recordsSent, label).toBe(d)
          expect(r.bytes, label).toBeLessThanOrEqual(C + r.missingRecordBytes + PER_RECORD_OVERHEAD * d)
          expect(r.rounds, label).toBeLessThanOrEqual(Math.ceil(2 * Math.log(n) / Math.log(16)) + 3)
        })
      }
    }
  }

  it('identical sets of 10^5: one round trip, a few hundred bytes', () => {
    const r = simulate({ n: 100_000, d: 0, clustered: true, seed: 5, pool: pool(100_000, 100_000) })
    expect(r.converged).toBe(true)
    expect(r.frames).toBe(2)
    expect(r.rounds).toBe(1)
    expect(r.bytes).toBeLessThan(600)
    expect(r.recordsSent).toBe(0)
  })

  it('is deterministic from its seed', () => {
    const p = { n: 5000, d: 300, clustered: false, seed: 31 }
    expect(simulate(p)).toEqual(simulate(p))
  })
})

// ---- hostile input ----

const rec = (seq: bigint, hlc: bigint): DeleteRec => ({ kind: 'vdi', origin: 'peer', seq, hlc, vid: 9, generation: 1 })

function responder (n = 100): { s: ReconSession; set: ReconSet } {
  const set = ReconSet.from(makeRecords(n, 3))
  return { s: new ReconSession('responder', set, { maxFrames: 50 }), set }
}

function expectError (step: ReturnType<ReconSession['receive']>, s: ReconSession, match: RegExp): void {
  expect(step.error).toMatch(match)
  expect(step.done).toBe(true)
  expect(step.reply?.error).toBe(step.error)
  expect(step.reply?.done).toBe(true)
  expect(s.ended).toBe(true)
}

const range = (hlc: bigint, hash: bigint, mode = AeMode.SKIP, extra: Record<string, unknown> = {}) => ({
  upper: { hlc, hash },
  mode,
  ...extra
})

describe('ReconSession robustness', () => {
  it('garbage bytes end the session with an error', () => {
    const { s } = responder()
    expectError(s.receiveBytes(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), s, /malformed frame/)
  })

  it('random bytes never throw out of receiveBytes and never keep a session alive past its frame limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 60 }), (frames) => {
        const { s } = responder()
        for (const f of frames) {
          const step = s.receiveBytes(f)
          expect(step.done || step.reply !== undefined).toBe(true)
          if (step.done) break
        }
        if (frames.length > 50) expect(s.ended).toBe(true)
      }),
      { numRuns: 200 }
    )
  })

  it('oversized frames are refused by size before decoding', () => {
    const huge = new Uint8Array(MAX_FRAME_BYTES + 1)
    expect(() => decodeFrame(huge, MAX_FRAME_BYTES)).toThrow(AeFrameError)
    expect(() => decodeFrame(huge, MAX_FRAME_BYTES)).toThrow(/exceeds the 1048576-byte limit/)
    const { s } = responder()
    expectError(s.receiveBytes(huge), s, /exceeds/)
  })

  it('unsorted bounds, a missing MAX_KEY and malformed ranges are errors', () => {
    const cases: Array<[Record<string, unknown>[], RegExp]> = [
      [[range(10n, 0n), range(5n, 0n), range(MAX_KEY.hlc, MAX_KEY.hash)], /strictly increasing/],
      [[range(10n, 0n), range(10n, 0n), range(MAX_KEY.hlc, MAX_KEY.hash)], /strictly increasing/],
      [[range(10n, 0n)], /MAX_KEY/],
      [[range(0n, 0n), range(MAX_KEY.hlc, MAX_KEY.hash)], /strictly increasing/],
      [[{ mode: AeMode.SKIP }], /no upper bound/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.FINGERPRINT, { count: 0n, fingerprint: 5n })], /nonzero fingerprint/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.FINGERPRINT, { count: 1n << 50n })], /not plausible/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.ID_LIST, { ids: [5n, 3n] })], /ids not strictly increasing/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.ID_LIST, { ids: [3n], count: 2n })], /count disagrees/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.SKIP, { count: 1n })], /skip range carries data/],
      [[range(MAX_KEY.hlc, MAX_KEY.hash, 7 as AeMode)], /unknown mode/]
    ]
    for (const [ranges, match] of cases) {
      const { s, set } = responder()
      const before = set.summary()
      const f = create(AeFrameSchema, { ranges: ranges as AeFrame['ranges'] })
      // through the codec where it can carry the value, directly otherwise
      expectError(s.receive(f), s, match)
      expect(set.summary()).toEqual(before)
    }
  })

  it('a record conflicting with the held one for its (origin, seq) is an error and nothing is applied', () => {
    const { s, set } = responder(0)
    set.add(rec(1n, 100n))
    const fresh = rec(2n, 200n)
    const forged = { ...rec(1n, 100n), vid: 10 } // same identity, different content
    const step = s.receiveBytes(encodeFrame(create(AeFrameSchema, { records: [toWire(fresh), toWire(forged)] })))
    expectError(step, s, /conflicts/)
    expect(set.has(recordHash(fresh))).toBe(false)
    expect(set.size).toBe(1)
  })

  it('two different records for one identity inside one frame are an error', () => {
    const { s, set } = responder(0)
    const f = create(AeFrameSchema, { records: [toWire(rec(1n, 100n)), toWire({ ...rec(1n, 100n), generation: 2 })] })
    expectError(s.receive(f), s, /conflicts/)
    expect(set.size).toBe(0)
  })

  it('an invalid record is an error', () => {
    const { s } = responder()
    const w = toWire(rec(1n, 1n))
    w.vid = 0
    expectError(s.receive(create(AeFrameSchema, { records: [w] })), s, /record 0: vid 0 out of range/)
  })

  it('frames over the record, want or range count limits are errors', () => {
    const recs = makeRecords(20, 1).map(toWire)
    let r = responder()
    r.s = new ReconSession('responder', r.set, { maxRecordsPerFrame: 10 })
    expectError(r.s.receive(create(AeFrameSchema, { records: recs })), r.s, /20 records, limit 10/)
    r = responder()
    const want = Array.from({ length: 20_000 }, (_, i) => BigInt(i + 1))
    expectError(r.s.receive(create(AeFrameSchema, { want })), r.s, /wants 20000 ids/)
    r = responder()
    expectError(r.s.receive(create(AeFrameSchema, { want: [3n, 2n] })), r.s, /want list not strictly increasing/)
    r = responder()
    r.s = new ReconSession('responder', r.set, { maxFrameRanges: 20 })
    const ranges = Array.from({ length: 21 }, (_, i) => range(i === 20 ? MAX_KEY.hlc : BigInt(i + 1), i === 20 ? MAX_KEY.hash : 0n))
    expectError(r.s.receive(create(AeFrameSchema, { ranges: ranges as AeFrame['ranges'] })), r.s, /21 ranges, limit 20/)
  })

  it('a peer error ends the session without a reply; frames after the end get no reply', () => {
    const { s } = responder()
    const step = s.receive(create(AeFrameSchema, { error: 'bad things', done: true }))
    expect(step).toMatchObject({ done: true, error: 'peer error: bad things' })
    expect(step.reply).toBeUndefined()
    const after = s.receive(create(AeFrameSchema, { done: true }))
    expect(after.reply).toBeUndefined()
    expect(after.error).toMatch(/ended/)
  })

  it('an initiator receiving before start() errors; start() misuse throws', () => {
    const set = new ReconSet()
    const ini = new ReconSession('initiator', set)
    expectError(ini.receive(create(AeFrameSchema, {})), ini, /before start/)
    expect(() => new ReconSession('responder', set).start()).toThrow(/initiator/)
    const ini2 = new ReconSession('initiator', set)
    ini2.start()
    expect(() => ini2.start()).toThrow(/already started/)
    expect(() => new ReconSession('initiator', set, { branch: 1 })).toThrow(RangeError)
    expect(() => new ReconSession('initiator', set, { maxFrameRanges: 5 })).toThrow(RangeError)
  })

  it('a peer that asks the same question forever is cut off at maxFrames', () => {
    const { s } = responder(500)
    const q = create(AeFrameSchema, {
      ranges: [range(MAX_KEY.hlc, MAX_KEY.hash, AeMode.FINGERPRINT, { count: 3n, fingerprint: 12345n })] as AeFrame['ranges']
    })
    let last
    let i = 0
    for (; i < 1000 && !s.ended; i++) last = s.receive(q)
    expect(i).toBe(51)
    expect(last?.error).toMatch(/exceeded 50 frames/)
  })

  it('floor and reset fields, when present, do not disturb a session', () => {
    const sp = deal(makeRecords(400, 8), 'clustered', 8)
    const ini = new ReconSession('initiator', sp.a)
    const res = new ReconSession('responder', sp.b)
    let f: AeFrame | undefined = ini.start()
    let to: ReconSession = res
    let frames = 0
    while (f !== undefined && frames < 100) {
      f.floorHash = 0xabcdefn
      f.floor = [create(FloorEntrySchema, { vid: 5, generation: 2 })]
      f.reset = true
      const step = to.receiveBytes(encodeFrame(f))
      expect(step.error).toBeUndefined()
      f = step.reply
      to = to === res ? ini : res
      frames++
    }
    expect(ini.ended && res.ended).toBe(true)
    expect(allHashes(sp.a)).toEqual(allHashes(sp.b))
  })

  it('reports stats that match what crossed the wire', () => {
    const sp = deal(makeRecords(5000, 12), 'clustered', 12)
    const ini = new ReconSession('initiator', sp.a)
    const res = new ReconSession('responder', sp.b)
    let f: AeFrame | undefined = ini.start()
    let to = res
    let records = 0
    let ranges = 0
    let frames = 1
    while (f !== undefined) {
      records += f.records.length
      ranges += f.ranges.length
      const step = to.receiveBytes(encodeFrame(f))
      f = step.reply
      if (f !== undefined) frames++
      to = to === res ? ini : res
    }
    const a = ini.stats
    const b = res.stats
    expect(a.framesOut + b.framesOut).toBe(frames)
    expect(a.framesIn + b.framesIn).toBe(frames)
    expect(a.recordsSent + b.recordsSent).toBe(records)
    expect(a.recordsLearned + b.recordsLearned).toBe(sp.onlyA.length + sp.onlyB.length)
    expect(a.rangesSent + b.rangesSent).toBe(ranges)
    expect(a.rounds).toBe(b.rounds)
    expect(ini.peerSummary?.count).toBe(BigInt(sp.b.size - sp.onlyA.length))
  })
})
