// ReconSet against a naive sorted-array model (property), plus its scale behaviour: lazy
// out-of-order adds, batched removals and prefix-sum fingerprints at 10^5 records.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { MAX_KEY, ReconSet, compareKeys, type Key } from '../../src/antientropy/reconSet.js'
import { makeRecords, rng } from '../../src/antientropy/simulate.js'

const MASK = (1n << 64n) - 1n
const ORIGINS = ['12D3KooWa', '12D3KooWb', '12D3KooWc']

interface Entry {
  key: Key
  rec: DeleteRec
}

/** The obvious implementation: a sorted array, linear scans. */
class Model {
  entries: Entry[] = []
  add (rec: DeleteRec): boolean {
    const hash = recordHash(rec)
    if (this.entries.some((e) => e.key.hash === hash)) return false
    this.entries.push({ key: { hlc: rec.hlc, hash }, rec })
    this.entries.sort((a, b) => compareKeys(a.key, b.key))
    return true
  }

  remove (hash: bigint): boolean {
    const i = this.entries.findIndex((e) => e.key.hash === hash)
    if (i < 0) return false
    this.entries.splice(i, 1)
    return true
  }

  lowerBound (k: Key): number {
    const i = this.entries.findIndex((e) => compareKeys(e.key, k) >= 0)
    return i < 0 ? this.entries.length : i
  }

  fingerprint (lo: number, hi: number): { count: number; sum: bigint } {
    let sum = 0n
    for (let i = lo; i < hi; i++) sum = (sum + this.entries[i]!.key.hash) & MASK
    return { count: hi - lo, sum }
  }
}

const recArb: fc.Arbitrary<DeleteRec> = fc
  .record({
    origin: fc.constantFrom(...ORIGINS),
    seq: fc.bigInt({ min: 1n, max: 40n }),
    // few hlcs: many ties, so order by hash matters
    hlc: fc.oneof(fc.bigInt({ min: 0n, max: 12n }), fc.constant(MASK)),
    vid: fc.integer({ min: 1, max: 0xffffff }),
    generation: fc.integer({ min: 0, max: 3 })
  })
  .map((r) => ({ kind: 'vdi', ...r }) as DeleteRec)

type Op =
  | { op: 'add'; rec: DeleteRec }
  | { op: 'remove'; pick: number }
  | { op: 'removeAbsent'; hash: bigint }
  | { op: 'check'; lo: Key; hi: Key }

const keyArb: fc.Arbitrary<Key> = fc.record({
  hlc: fc.oneof(fc.bigInt({ min: 0n, max: 13n }), fc.constant(MASK)),
  hash: fc.oneof(fc.bigInt({ min: 0n, max: MASK }), fc.constant(0n), fc.constant(MASK))
})

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: recArb.map((rec) => ({ op: 'add' as const, rec })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ op: 'remove' as const, pick })) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: MASK }).map((hash) => ({ op: 'removeAbsent' as const, hash })) },
  { weight: 2, arbitrary: fc.tuple(keyArb, keyArb).map(([lo, hi]) => ({ op: 'check' as const, lo, hi })) }
)

function assertSame (s: ReconSet, m: Model): void {
  expect(s.size).toBe(m.entries.length)
  const n = m.entries.length
  for (let i = 0; i < n; i++) {
    expect(s.keyAt(i)).toEqual(m.entries[i]!.key)
    expect(s.get(m.entries[i]!.key.hash)).toBe(m.entries[i]!.rec)
  }
  expect(Array.from(s.hashesIn(0, n))).toEqual(m.entries.map((e) => e.key.hash))
  const sum = s.summary()
  expect(sum.count).toBe(n)
  expect(sum.fingerprint).toBe(m.fingerprint(0, n).sum)
  expect(sum.maxHlc).toBe(n === 0 ? 0n : m.entries[n - 1]!.key.hlc)
}

describe('ReconSet vs a naive model', () => {
  it('agrees on every query after any sequence of adds and removes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const s = new ReconSet()
        const m = new Model()
        for (const o of ops) {
          if (o.op === 'add') {
            expect(s.add(o.rec)).toBe(m.add(o.rec))
          } else if (o.op === 'remove') {
            if (m.entries.length === 0) continue
            const h = m.entries[o.pick % m.entries.length]!.key.hash
            expect(s.remove(h)).toBe(m.remove(h))
            expect(s.has(h)).toBe(false)
          } else if (o.op === 'removeAbsent') {
            expect(s.remove(o.hash)).toBe(m.remove(o.hash))
          } else {
            const a = s.lowerBound(o.lo)
            const b = s.lowerBound(o.hi)
            expect(a).toBe(m.lowerBound(o.lo))
            expect(b).toBe(m.lowerBound(o.hi))
            const lo = Math.min(a, b)
            const hi = Math.max(a, b)
            expect(s.fingerprint(lo, hi)).toEqual(m.fingerprint(lo, hi))
            expect(Array.from(s.hashesIn(lo, hi))).toEqual(m.entries.slice(lo, hi).map((e) => e.key.hash))
          }
        }
        assertSame(s, m)
      }),
      { numRuns: 300 }
    )
  })

  it('add keeps the first record for a hash; remove then re-add works before any read', () => {
    const a: DeleteRec = { kind: 'vdi', origin: 'o', seq: 1n, hlc: 5n, vid: 1, generation: 0 }
    const b: DeleteRec = { ...a, hlc: 9n } // same identity, so same hash
    const s = new ReconSet()
    expect(s.add(a)).toBe(true)
    expect(s.add(b)).toBe(false)
    expect(s.get(recordHash(a))).toBe(a)
    expect(s.remove(recordHash(a))).toBe(true)
    expect(s.add(b)).toBe(true)
    expect(s.size).toBe(1)
    expect(s.keyAt(0)).toEqual({ hlc: 9n, hash: recordHash(b) })
  })

  it('rejects indexes and ranges outside the set', () => {
    const s = ReconSet.from(makeRecords(10, 1))
    expect(() => s.keyAt(10)).toThrow(RangeError)
    expect(() => s.keyAt(-1)).toThrow(RangeError)
    expect(() => s.fingerprint(3, 2)).toThrow(RangeError)
    expect(() => s.hashesIn(0, 11)).toThrow(RangeError)
    expect(s.lowerBound(MAX_KEY)).toBe(10)
    expect(s.lowerBound({ hlc: 0n, hash: 0n })).toBe(0)
  })
})

describe('ReconSet at scale', () => {
  it('10^5 adds in shuffled order with reads in between stay sorted and fingerprint-exact', () => {
    const seed = 4242
    const recs = makeRecords(100_000, seed)
    const hashes = recs.map(recordHash)
    const r = rng(seed)
    const order = Array.from(recs.keys())
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    const s = new ReconSet()
    let sum = 0n
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!
      expect(s.add(recs[i]!, hashes[i])).toBe(true)
      sum = (sum + hashes[i]!) & MASK
      if (k % 10_000 === 9_999) expect(s.summary().fingerprint, `seed=${seed}`).toBe(sum)
    }
    // makeRecords emits records in hlc order; within an hlc, order is by hash
    const expected = recs.map((rec, i) => ({ hlc: rec.hlc, hash: hashes[i]! })).sort(compareKeys)
    const got = s.hashesIn(0, s.size)
    for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]!.hash) expect.fail(`order differs at ${i}, seed=${seed}`)
    const lo = s.lowerBound(expected[1000]!)
    const hi = s.lowerBound(expected[90_000]!)
    let f = 0n
    for (let i = 1000; i < 90_000; i++) f = (f + expected[i]!.hash) & MASK
    expect(s.fingerprint(lo, hi)).toEqual({ count: 89_000, sum: f })
  })

  it('a batch of 5·10^4 removals from 10^5 applies in one pass and leaves the rest exact', () => {
    const recs = makeRecords(100_000, 7)
    const s = new ReconSet()
    const hashes = recs.map(recordHash)
    recs.forEach((rec, i) => s.add(rec, hashes[i]))
    let sum = 0n
    for (let i = 0; i < recs.length; i++) {
      if (i % 2 === 0) expect(s.remove(hashes[i]!)).toBe(true)
      else sum = (sum + hashes[i]!) & MASK
    }
    expect(s.size).toBe(50_000)
    expect(s.summary().fingerprint).toBe(sum)
    expect(s.has(hashes[0]!)).toBe(false)
    expect(s.has(hashes[1]!)).toBe(true)
  })
})
