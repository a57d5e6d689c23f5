// IndexSet: a compact set of uint32 indexes (one bucket of an OidSet, see oidSet.ts). Used by
// the object list cache and by delete batches, so they must stay small (≤ ~6 B/id sparse, ~0 B/id for dense ranges) and
// take millions of single-id updates per second. Never a JS Set of bigints (≈ 45 B/id).
//
// An IndexSet is a value-ordered list of chunks, each holding at most maxw uint32 words in
// one of two forms, picked per chunk by cost and switched when the other is clearly smaller:
//   array: strictly increasing values           (4 B per id)
//   runs:  inclusive [lo, hi] pairs, disjoint and non-adjacent within the chunk (8 B per run)
// Chunks are disjoint and ordered, so a lookup is a binary search over chunk minimums and then
// inside one chunk; an update moves at most maxw words, never the whole set.
//
// This file owns the chunk list (search over chunk minimums, splits, merges, form switches);
// the words inside one chunk are chunk.ts's.

import {
  CHUNK_OVERHEAD, CHUNK_WORDS, Chunk, SET_OVERHEAD, arrayChunk, chunkHas, concat, cutRange, isU32,
  lowerBound, recode, runFloor, runsChunk, runsTooCostly, shrinkIfSparse, splice
} from './chunk.js'

const TWO32 = 0x100000000

/** Set of uint32 indexes (one bucket). */
export class IndexSet {
  /** Words per chunk, and the capacity a chunk may grow to (room for one run split). */
  private readonly maxw: number
  private readonly cap: number
  private c: Chunk[] = []
  /** mins[k] = c[k].a[0]: the chunk search reads one contiguous array, not k objects. */
  private mins = new Uint32Array(4)
  private sz = 0

  /** chunkWords tunes the chunk size (tests use tiny chunks to exercise splits and merges). */
  constructor (opts: { chunkWords?: number } = {}) {
    const w = opts.chunkWords ?? CHUNK_WORDS
    if (!Number.isInteger(w) || w < 8 || w > 1 << 16 || w % 2 !== 0) {
      throw new RangeError(`IndexSet: chunkWords ${String(w)} must be an even integer in 8..65536`)
    }
    this.maxw = w
    this.cap = w + 4
  }

  get size (): number {
    return this.sz
  }

  /** Last chunk whose minimum is <= x, or -1. */
  private find (x: number): number {
    const mins = this.mins
    let lo = 0
    let hi = this.c.length
    while (lo < hi) {
      const m = (lo + hi) >>> 1
      if (mins[m] <= x) lo = m + 1
      else hi = m
    }
    return lo - 1
  }

  /** Rebuilds mins after the chunk list itself changed (split, merge, removal). */
  private resync (): void {
    if (this.mins.length < this.c.length || this.mins.length > 4 * this.c.length + 16) {
      this.mins = new Uint32Array(this.c.length + (this.c.length >> 1) + 4)
    }
    for (let k = 0; k < this.c.length; k++) this.mins[k] = this.c[k].a[0]
  }

  has (i: number): boolean {
    if (!isU32(i)) return false
    const k = this.find(i)
    return k >= 0 && chunkHas(this.c[k], i)
  }

  add (i: number): boolean {
    if (!isU32(i)) throw new RangeError(`IndexSet.add: ${String(i)} is not a uint32`)
    if (this.c.length === 0) {
      this.c.push(new Chunk(false, Uint32Array.of(i, 0, 0, 0, 0, 0, 0, 0), 1, 1))
      this.mins[0] = i
      this.sz = 1
      return true
    }
    const ci = Math.max(0, this.find(i))
    const ch = this.c[ci]
    const a = ch.a
    if (!ch.runs) {
      const p = lowerBound(a, ch.n, i)
      if (p < ch.n && a[p] === i) return false
      splice(ch, p, p, [i], this.cap)
    } else {
      const k = runFloor(a, ch.n, i)
      if (k >= 0 && i <= a[2 * k + 1]) return false
      const prevTouch = k >= 0 && a[2 * k + 1] + 1 === i
      const nextTouch = 2 * k + 2 < ch.n && a[2 * k + 2] === i + 1
      if (prevTouch && nextTouch) splice(ch, 2 * k + 1, 2 * k + 3, [], this.cap)
      else if (prevTouch) a[2 * k + 1] = i
      else if (nextTouch) a[2 * k + 2] = i
      else splice(ch, 2 * k + 2, 2 * k + 2, [i, i], this.cap)
    }
    ch.card++
    this.sz++
    this.mins[ci] = ch.a[0]
    if (ch.n > this.maxw || runsTooCostly(ch)) this.rebalance(ci)
    return true
  }

  delete (i: number): boolean {
    if (!isU32(i) || this.c.length === 0) return false
    const ci = this.find(i)
    if (ci < 0) return false
    const ch = this.c[ci]
    const a = ch.a
    if (!ch.runs) {
      const p = lowerBound(a, ch.n, i)
      if (p >= ch.n || a[p] !== i) return false
      splice(ch, p, p + 1, [], this.cap)
    } else {
      const k = runFloor(a, ch.n, i)
      if (k < 0 || i > a[2 * k + 1]) return false
      const lo = a[2 * k]
      const hi = a[2 * k + 1]
      if (lo === hi) splice(ch, 2 * k, 2 * k + 2, [], this.cap)
      else if (i === lo) a[2 * k] = i + 1
      else if (i === hi) a[2 * k + 1] = i - 1
      else splice(ch, 2 * k + 1, 2 * k + 1, [i - 1, i + 1], this.cap)
    }
    ch.card--
    this.sz--
    this.mins[ci] = ch.a[0]
    this.tidy(ci)
    return true
  }

  /** Adds [lo, hiExclusive); a large range costs one run, not one word per id. */
  addRange (lo: number, hiExclusive: number): void {
    checkRange('addRange', lo, hiExclusive)
    if (hiExclusive - lo <= 8) {
      for (let i = lo; i < hiExclusive; i++) this.add(i)
      return
    }
    this.deleteRange(lo, hiExclusive)
    this.insertRun(lo, hiExclusive - 1)
  }

  /** Removes [lo, hiExclusive); returns how many ids were removed. */
  deleteRange (lo: number, hiExclusive: number): number {
    checkRange('deleteRange', lo, hiExclusive)
    if (hiExclusive <= lo || this.c.length === 0) return 0
    const hi = hiExclusive - 1
    const first = Math.max(0, this.find(lo))
    let removed = 0
    let j = first
    for (; j < this.c.length && this.c[j].a[0] <= hi; j++) {
      const ch = this.c[j]
      if (ch.a[0] >= lo && ch.a[ch.n - 1] <= hi) {
        removed += ch.card
        ch.n = 0
        ch.card = 0
      } else {
        removed += cutRange(ch, lo, hi, this.cap)
      }
    }
    this.sz -= removed
    // only the first and last touched chunks can survive: drop the rest in one splice
    const kept = this.c.slice(first, j).filter(ch => ch.n > 0)
    this.c.splice(first, j - first, ...kept)
    this.resync()
    for (let k = first + kept.length - 1; k >= first; k--) this.tidy(k)
    return removed
  }

  /** Maximal runs as [lo, hiExclusive) pairs, ascending. */
  * ranges (): IterableIterator<[number, number]> {
    let curLo = -1
    let curHi = -2
    for (const ch of this.c) {
      const a = ch.a
      const step = ch.runs ? 2 : 1
      for (let k = 0; k < ch.n; k += step) {
        const lo = a[k]
        const hi = ch.runs ? a[k + 1] : lo
        if (lo === curHi + 1) {
          curHi = hi
        } else {
          if (curLo >= 0) yield [curLo, curHi + 1]
          curLo = lo
          curHi = hi
        }
      }
    }
    if (curLo >= 0) yield [curLo, curHi + 1]
  }

  * [Symbol.iterator] (): IterableIterator<number> {
    for (const ch of this.c) {
      const a = ch.a
      if (!ch.runs) {
        for (let k = 0; k < ch.n; k++) yield a[k]
      } else {
        for (let k = 0; k < ch.n; k += 2) for (let v = a[k]; v <= a[k + 1]; v++) yield v
      }
    }
  }

  toArray (): Uint32Array {
    const out = new Uint32Array(this.sz)
    let w = 0
    for (const ch of this.c) {
      const a = ch.a
      if (!ch.runs) {
        out.set(a.subarray(0, ch.n), w)
        w += ch.n
      } else {
        for (let k = 0; k < ch.n; k += 2) for (let v = a[k]; v <= a[k + 1]; v++) out[w++] = v
      }
    }
    return out
  }

  /** Builds from a strictly increasing list; throws RangeError otherwise. */
  static fromSorted (sorted: Uint32Array, opts: { chunkWords?: number } = {}): IndexSet {
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k] <= sorted[k - 1]) {
        throw new RangeError(`IndexSet.fromSorted: not strictly increasing at position ${k} (${sorted[k - 1]} then ${sorted[k]})`)
      }
    }
    const s = new IndexSet(opts)
    const block = s.maxw >> 1
    for (let k = 0; k < sorted.length; k += block) {
      let ch = recode(arrayChunk(sorted.slice(k, k + block)))
      const last = s.c[s.c.length - 1]
      if (last !== undefined && last.runs && ch.runs && last.n + ch.n <= s.maxw >> 1) {
        ch = concat(last, ch)
        s.c[s.c.length - 1] = ch
      } else {
        s.c.push(ch)
      }
    }
    s.sz = sorted.length
    s.resync()
    return s
  }

  /** Approximate bytes of memory held. */
  byteSize (): number {
    let b = SET_OVERHEAD + 8 * this.c.length
    for (const ch of this.c) b += CHUNK_OVERHEAD + ch.a.byteLength
    return b
  }

  clone (): IndexSet {
    const s = new IndexSet({ chunkWords: this.maxw })
    s.c = this.c.map(ch => new Chunk(ch.runs, ch.a.slice(0, ch.n), ch.n, ch.card))
    s.resync()
    s.sz = this.sz
    return s
  }

  clear (): void {
    this.c = []
    this.mins = new Uint32Array(4)
    this.sz = 0
  }

  /** Throws if the internal representation is inconsistent; for tests, O(words). */
  assertInvariants (): void {
    let total = 0
    let prevMax = -1
    this.c.forEach((ch, k) => {
      const fail = (why: string): never => { throw new Error(`IndexSet invariant, chunk ${k}: ${why}`) }
      if (ch.n === 0) fail('empty chunk')
      if (ch.n > this.maxw) fail(`${ch.n} words > ${this.maxw}`)
      if (this.mins[k] !== ch.a[0]) fail(`mins ${this.mins[k]} != first ${ch.a[0]}`)
      if (ch.a[0] <= prevMax) fail('overlaps or precedes the previous chunk')
      let card = 0
      if (ch.runs) {
        if (ch.n % 2 !== 0) fail('odd run words')
        for (let i = 0; i < ch.n; i += 2) {
          if (ch.a[i + 1] < ch.a[i]) fail(`run ${i / 2} inverted`)
          if (i > 0 && ch.a[i] <= ch.a[i - 1] + 1) fail(`run ${i / 2} touches or overlaps the previous run`)
          card += ch.a[i + 1] - ch.a[i] + 1
        }
      } else {
        for (let i = 1; i < ch.n; i++) if (ch.a[i] <= ch.a[i - 1]) fail(`not increasing at ${i}`)
        card = ch.n
      }
      if (card !== ch.card) fail(`card ${ch.card} != ${card}`)
      total += card
      prevMax = ch.a[ch.n - 1]
    })
    if (total !== this.sz) throw new Error(`IndexSet invariant: size ${this.sz} != ${total}`)
  }

  /** Inserts [lo, hi] inclusive; the caller guarantees none of it is present. */
  private insertRun (lo: number, hi: number): void {
    this.sz += hi - lo + 1
    const ci = this.find(lo)
    const run = Uint32Array.of(lo, hi)
    if (ci < 0) {
      this.c.unshift(runsChunk(run))
      this.resync()
      this.tidy(0)
      return
    }
    const ch = this.c[ci]
    if (ch.runs) {
      const a = ch.a
      const k = runFloor(a, ch.n, lo)
      const prevTouch = k >= 0 && a[2 * k + 1] + 1 === lo
      const nextTouch = 2 * k + 2 < ch.n && a[2 * k + 2] === hi + 1
      if (prevTouch && nextTouch) splice(ch, 2 * k + 1, 2 * k + 3, [], this.cap)
      else if (prevTouch) a[2 * k + 1] = hi
      else if (nextTouch) a[2 * k + 2] = lo
      else splice(ch, 2 * k + 2, 2 * k + 2, run, this.cap)
      ch.card += hi - lo + 1
      this.mins[ci] = ch.a[0]
      this.tidy(ci)
      return
    }
    // an array chunk: cut it around the new run
    const p = lowerBound(ch.a, ch.n, lo)
    const parts: Chunk[] = []
    if (p > 0) parts.push(arrayChunk(ch.a.slice(0, p)))
    parts.push(runsChunk(run))
    if (p < ch.n) parts.push(arrayChunk(ch.a.slice(p, ch.n)))
    this.c.splice(ci, 1, ...parts)
    this.resync()
    for (let k = ci + parts.length - 1; k >= ci; k--) this.tidy(k)
  }

  /** Restores chunk invariants after chunk ci changed: no empty, none over maxw, few tiny. */
  private tidy (ci: number): void {
    const ch = this.c[ci]
    if (ch === undefined) return
    if (ch.n === 0) {
      this.c.splice(ci, 1)
      this.resync()
      return
    }
    if (ch.n > this.maxw || runsTooCostly(ch)) {
      this.rebalance(ci)
      return
    }
    if (ch.n < this.maxw >> 2) {
      const right = this.c[ci + 1]
      const left = this.c[ci - 1]
      // cheap size pre-check so a chunk that cannot merge does not pay for a trial concat
      if (right !== undefined && ch.n + right.n <= this.maxw >> 1 && this.merge(ci)) return
      if (left !== undefined && ch.n + left.n <= this.maxw >> 1 && this.merge(ci - 1)) return
    }
    shrinkIfSparse(ch)
  }

  /** Merges chunks ci and ci+1 if the result fits in half a chunk. */
  private merge (ci: number): boolean {
    const m = concat(this.c[ci], this.c[ci + 1])
    if (m.n > this.maxw >> 1) return false
    this.c.splice(ci, 2, m)
    this.resync()
    return true
  }

  /** Chunk ci is over maxw words or in the costlier form: switch form, then split if still over. */
  private rebalance (ci: number): void {
    const ch = recode(this.c[ci])
    if (ch.n <= this.maxw) {
      this.c[ci] = ch
      this.mins[ci] = ch.a[0]
      return
    }
    let h = ch.n >> 1
    if (ch.runs) h &= ~1
    const left = ch.a.slice(0, h + (h >> 2))
    const right = new Uint32Array(ch.n - h + ((ch.n - h) >> 2))
    right.set(ch.a.subarray(h, ch.n))
    const lc = ch.runs ? runsChunk(left, h) : new Chunk(false, left, h, h)
    const rc = ch.runs ? runsChunk(right, ch.n - h) : new Chunk(false, right, ch.n - h, ch.n - h)
    this.c.splice(ci, 1, lc, rc)
    this.resync()
  }
}

function checkRange (op: string, lo: number, hiExclusive: number): void {
  if (!isU32(lo) || !Number.isInteger(hiExclusive) || hiExclusive < 0 || hiExclusive > TWO32) {
    throw new RangeError(`IndexSet.${op}: [${String(lo)}, ${String(hiExclusive)}) is not a uint32 range`)
  }
}
