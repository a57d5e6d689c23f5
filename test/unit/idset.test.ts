// Tests for src/idset.ts: IndexSet and OidSet against naive models, and their size estimate
// (byteSize, deterministic) at scale. Time and real heap use are figures, not pass/fail:
// `npm run bench -- --only micro` measures them against Set baselines.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { IndexSet, OidSet } from '../../src/idset.js'
import { MAX_VID, OidError, oidToVid, vidToAttrOid, vidToDataOid, vidToVdiOid, vidToVmstateOid } from '../../src/oid.js'

// ---------- IndexSet vs a bitmap model over a window [base, base + SPAN) ----------

const SPAN = 12_000

type Cmd =
  | { op: 'add' | 'delete' | 'has', x: number }
  | { op: 'addRange' | 'deleteRange', lo: number, len: number }
  | { op: 'addStride' | 'deleteStride', lo: number, step: number, count: number }

// half the coordinates sit within ±2 of multiples of 64, so range ends often meet run ends
const nearGrid = (max: number): fc.Arbitrary<number> =>
  fc.tuple(fc.integer({ min: 0, max: max >> 6 }), fc.integer({ min: -2, max: 2 }))
    .map(([g, d]) => Math.min(max, Math.max(0, g * 64 + d)))
const offArb = fc.oneof(fc.integer({ min: 0, max: SPAN - 1 }), nearGrid(SPAN - 1))
const lenArb = fc.oneof(fc.integer({ min: 0, max: 4000 }), nearGrid(4000))
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('add' as const, 'delete' as const, 'has' as const), x: offArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('addRange' as const, 'deleteRange' as const), lo: offArb, len: lenArb }) },
  // bulk strides push chunks past their size limit and across the runs/array switch
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('addStride' as const, 'deleteStride' as const), lo: offArb, step: fc.integer({ min: 1, max: 4 }), count: fc.integer({ min: 1, max: 3000 }) }) }
)
// windows at 0, in the middle and touching 2^32-1, so edge values get exercised
const baseArb = fc.constantFrom(0, 2 ** 31 - 5000, 2 ** 32 - SPAN)
// tiny chunks make splits, merges and runs/array switches happen within a 12k window
const wordsArb = fc.constantFrom(8, 16, 64, 2048)

class Model {
  bits = new Uint8Array(SPAN)
  size = 0
  set (off: number, v: boolean): boolean {
    if (off < 0 || off >= SPAN || (this.bits[off] === 1) === v) return false
    this.bits[off] = v ? 1 : 0
    this.size += v ? 1 : -1
    return true
  }

  values (base: number): number[] {
    const out: number[] = []
    for (let k = 0; k < SPAN; k++) if (this.bits[k] === 1) out.push(base + k)
    return out
  }
}

function apply (s: IndexSet, m: Model, base: number, c: Cmd): void {
  const clip = (lo: number, len: number): [number, number] => [base + lo, base + Math.min(SPAN, lo + len)]
  switch (c.op) {
    case 'add': expect(s.add(base + c.x)).toBe(m.set(c.x, true)); break
    case 'delete': expect(s.delete(base + c.x)).toBe(m.set(c.x, false)); break
    case 'has': expect(s.has(base + c.x)).toBe(m.bits[c.x] === 1); break
    case 'addRange': {
      const [lo, hi] = clip(c.lo, c.len)
      s.addRange(lo, hi)
      for (let v = lo; v < hi; v++) m.set(v - base, true)
      break
    }
    case 'deleteRange': {
      const [lo, hi] = clip(c.lo, c.len)
      let n = 0
      for (let v = lo; v < hi; v++) if (m.set(v - base, false)) n++
      expect(s.deleteRange(lo, hi)).toBe(n)
      break
    }
    case 'addStride':
    case 'deleteStride':
      for (let k = 0, off = c.lo; k < c.count && off < SPAN; k++, off += c.step) {
        expect(c.op === 'addStride' ? s.add(base + off) : s.delete(base + off)).toBe(m.set(off, c.op === 'addStride'))
      }
      break
  }
}

/** First difference of two lists, or null; a plain loop, since deep toEqual on 10k items per step is slow. */
function firstDiff (got: ArrayLike<number>, want: number[]): string | null {
  const n = Math.max(got.length, want.length)
  for (let k = 0; k < n; k++) {
    if (got[k] !== want[k]) return `at ${k}: got ${String(got[k])}, want ${String(want[k])} (lengths ${got.length}/${want.length})`
  }
  return null
}

function checkSame (s: IndexSet, m: Model, base: number, probe: number[]): void {
  s.assertInvariants()
  expect(s.size).toBe(m.size)
  const want = m.values(base)
  expect(firstDiff(s.toArray(), want)).toBeNull()
  expect(firstDiff(Array.from(s), want)).toBeNull()
  for (const off of probe) {
    for (const d of [-1, 0, 1]) {
      const o = off + d
      if (o >= 0 && o < SPAN) expect(s.has(base + o)).toBe(m.bits[o] === 1)
    }
  }
  // ranges() must be the maximal runs of the same ids
  const flat: number[] = []
  let prevEnd = -2
  for (const [lo, hi] of s.ranges()) {
    expect(hi).toBeGreaterThan(lo)
    expect(lo).toBeGreaterThan(prevEnd)
    prevEnd = hi
    for (let v = lo; v < hi; v++) flat.push(v)
  }
  expect(firstDiff(flat, want)).toBeNull()
}

function probesOf (c: Cmd): number[] {
  if ('x' in c) return [c.x]
  return [c.lo, c.lo + ('len' in c ? c.len : c.step * c.count)]
}

describe('IndexSet', () => {
  it('matches a naive model over random add/delete/addRange/deleteRange/has sequences', () => {
    fc.assert(fc.property(baseArb, wordsArb, fc.array(cmdArb, { maxLength: 40 }), (base, chunkWords, cmds) => {
      const s = new IndexSet({ chunkWords })
      const m = new Model()
      for (const c of cmds) {
        apply(s, m, base, c)
        checkSame(s, m, base, probesOf(c))
      }
      // clone is deep and equal; fromSorted rebuilds the same set
      const cl = s.clone()
      expect(firstDiff(Array.from(cl), m.values(base))).toBeNull()
      expect(firstDiff(Array.from(IndexSet.fromSorted(s.toArray())), m.values(base))).toBeNull()
      if (m.size > 0) {
        cl.delete(cl.toArray()[0])
        expect(s.size).toBe(m.size)
      }
    }), { numRuns: 200 })
  })

  it('fromSorted result behaves like an incrementally built set under further updates', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: SPAN - 1 }), { maxLength: 3000 }),
      fc.boolean(),
      wordsArb,
      fc.array(cmdArb, { maxLength: 15 }),
      (offs, dense, chunkWords, cmds) => {
        const m = new Model()
        for (const o of offs) m.set(o, true)
        // half the runs start from long runs, so fromSorted emits runs chunks as well
        if (dense) for (let o = 0; o < SPAN; o += 1 + (o % 7 === 0 ? 3 : 0)) m.set(o, true)
        const s = IndexSet.fromSorted(Uint32Array.from(m.values(0)), { chunkWords })
        checkSame(s, m, 0, [])
        for (const c of cmds) {
          apply(s, m, 0, c)
          checkSame(s, m, 0, probesOf(c))
        }
      }), { numRuns: 50 })
  })

  it('handles the uint32 edges and rejects non-uint32 input', () => {
    const s = new IndexSet()
    expect(s.add(0)).toBe(true)
    expect(s.add(0xffffffff)).toBe(true)
    expect(s.add(2 ** 31)).toBe(true)
    expect(s.add(0xffffffff)).toBe(false)
    expect(Array.from(s)).toEqual([0, 2 ** 31, 0xffffffff])
    s.addRange(0xffffff00, 2 ** 32)
    expect(s.size).toBe(2 + 256)
    expect(s.deleteRange(0, 2 ** 32)).toBe(258)
    expect(s.size).toBe(0)
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => s.add(bad)).toThrow(RangeError)
      expect(s.has(bad)).toBe(false)
      expect(s.delete(bad)).toBe(false)
    }
    expect(() => s.addRange(0, 2 ** 32 + 1)).toThrow(RangeError)
    expect(() => IndexSet.fromSorted(Uint32Array.of(1, 1))).toThrow(/strictly increasing at position 1/)
    expect(() => IndexSet.fromSorted(Uint32Array.of(2, 1))).toThrow(RangeError)
    expect(() => new IndexSet({ chunkWords: 7 })).toThrow(RangeError)
  })

  it('holds 1M random sparse ids in ≤ 8 B/id by its own estimate, and deletes every one of them', () => {
    const N = 1_000_000
    const ids = randomU32(N, 0x5eed)
    const s = new IndexSet()
    for (let k = 0; k < N; k++) s.add(ids[k])
    const distinct = new Set(ids).size
    expect(s.size).toBe(distinct)
    expect(s.byteSize()).toBeLessThanOrEqual(8 * N)
    let deleted = 0
    for (let k = 0; k < N; k++) if (s.delete(ids[k])) deleted++
    expect(deleted).toBe(distinct)
    expect(s.size).toBe(0)
    expect(s.toArray()).toHaveLength(0)
  })

  it('keeps dense ranges near 0 B/id', () => {
    const s = new IndexSet()
    s.addRange(0, 10_000_000)
    expect(s.size).toBe(10_000_000)
    expect(s.byteSize()).toBeLessThan(1 << 20)
    expect(s.has(9_999_999)).toBe(true)
    expect(s.has(10_000_000)).toBe(false)
    // ids added one at a time collapse into runs too
    const t = new IndexSet()
    for (let k = 0; k < 1_000_000; k++) t.add(k)
    expect(t.byteSize()).toBeLessThan(1 << 16)
    expect(IndexSet.fromSorted(t.toArray()).byteSize()).toBeLessThan(1 << 16)
    // a few holes cost a few runs, not a switch to 4 B/id
    for (let k = 1; k < 1_000_000; k += 100_000) s.delete(k)
    expect(s.size).toBe(10_000_000 - 10)
    expect(s.byteSize()).toBeLessThan(1 << 20)
  })
})

// ---------- OidSet vs Set<bigint> ----------

const VIDS = [1, 2, 0x7c2b25, MAX_VID]
const oidArb = fc.tuple(fc.constantFrom(...VIDS), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 300 }))
  .map(([vid, kind, idx]) => {
    switch (kind) {
      case 0: return vidToDataOid(vid, idx)
      case 1: return vidToVdiOid(vid)
      case 2: return vidToVmstateOid(vid, idx)
      default: return vidToAttrOid(vid, idx)
    }
  })
type OCmd = { op: 'add' | 'delete' | 'has', oid: bigint } | { op: 'deleteVid', vid: number }
const ocmdArb: fc.Arbitrary<OCmd> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ op: fc.constantFrom('add' as const, 'delete' as const, 'has' as const), oid: oidArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteVid' as const), vid: fc.constantFrom(...VIDS, 3) }) }
)

function checkOids (s: OidSet, m: Set<bigint>): void {
  const want = [...m].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  expect(s.size).toBe(m.size)
  expect([...s]).toEqual(want)
  expect(Array.from(s.toBigUint64Array())).toEqual(want)
  expect(s.vids()).toEqual([...new Set(want.map(oidToVid))].sort((a, b) => a - b))
  for (const v of [...VIDS, 3]) {
    const of = want.filter(o => oidToVid(o) === v)
    expect(s.oidsOfVid(v)).toEqual(of)
    expect(s.countVid(v)).toBe(of.length)
  }
}

describe('OidSet', () => {
  it('matches Set<bigint> over random add/delete/has/deleteVid sequences', () => {
    fc.assert(fc.property(fc.array(ocmdArb, { maxLength: 200 }), (cmds) => {
      const s = new OidSet()
      const m = new Set<bigint>()
      for (const c of cmds) {
        if (c.op === 'add') {
          expect(s.add(c.oid)).toBe(!m.has(c.oid))
          m.add(c.oid)
        } else if (c.op === 'delete') {
          expect(s.delete(c.oid)).toBe(m.delete(c.oid))
        } else if (c.op === 'has') {
          expect(s.has(c.oid)).toBe(m.has(c.oid))
        } else if (c.op === 'deleteVid') {
          const gone = [...m].filter(o => oidToVid(o) === c.vid)
          for (const o of gone) m.delete(o)
          expect(s.deleteVid(c.vid)).toBe(gone.length)
        }
        checkOids(s, m)
      }
    }), { numRuns: 100 })
  })

  it('deleteVid removes exactly that vid, in every bucket kind, and nothing else', () => {
    fc.assert(fc.property(fc.uniqueArray(oidArb, { maxLength: 400 }), fc.constantFrom(...VIDS), (oids, vid) => {
      const s = OidSet.from(oids)
      const keep = oids.filter(o => oidToVid(o) !== vid)
      const removed = s.deleteVid(vid)
      expect(removed).toBe(oids.length - keep.length)
      expect(s.countVid(vid)).toBe(0)
      expect(s.oidsOfVid(vid)).toEqual([])
      for (const o of oids) expect(s.has(o)).toBe(oidToVid(o) !== vid)
      expect(s.size).toBe(keep.length)
    }))
  })

  it('purges a big dense VDI whole with deleteVid and keeps it compact', () => {
    const s = new OidSet()
    s.addIndexRange(7, 0, 5_000_000)
    s.add(vidToVdiOid(7))
    s.add(vidToDataOid(8, 3))
    expect(s.size).toBe(5_000_002)
    expect(s.byteSize()).toBeLessThan(4096)
    expect(s.deleteVid(7)).toBe(5_000_001)
    expect(s.countVid(7)).toBe(0)
    expect([...s]).toEqual([vidToDataOid(8, 3)])
    expect(s.deleteIndexRange(8, 0, 10)).toBe(1)
    expect(s.size).toBe(0)
    expect(s.bucket(8)).toBeUndefined()
  })

  it('rejects invalid oids on add, and reports them absent elsewhere', () => {
    const s = new OidSet()
    for (const bad of [-1n, 1n << 64n, 1n << 56n, (1n << 63n) | (1n << 62n)]) {
      expect(() => s.add(bad)).toThrow(OidError)
      expect(s.has(bad)).toBe(false)
      expect(s.delete(bad)).toBe(false)
    }
    expect(() => s.deleteVid(MAX_VID + 1)).toThrow(OidError)
    expect(s.size).toBe(0)
  })

  it('bucket() exposes the live IndexSet for a high word', () => {
    const s = new OidSet()
    s.add(vidToVmstateOid(5, 9))
    const b = s.bucket(0x40000005)
    expect(b?.has(9)).toBe(true)
    b?.add(10)
    expect(s.has(vidToVmstateOid(5, 10))).toBe(true)
    s.clear()
    expect(s.size).toBe(0)
    expect(s.bucket(0x40000005)).toBeUndefined()
  })
})

// ---------- helpers ----------

function randomU32 (n: number, seed: number): Uint32Array {
  let x = seed >>> 0
  const out = new Uint32Array(n)
  for (let k = 0; k < n; k++) {
    // xorshift32: deterministic, so a failure reproduces
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[k] = x
  }
  return out
}
