// The chunk layer of IndexSet: one chunk is a sorted run of at most maxw uint32 words in one
// of two forms (a value array or inclusive [lo, hi] run pairs), and these functions search,
// edit, convert and join chunks. IndexSet (indexSet.ts) owns the ordered list of chunks and
// keeps their invariants; nothing here knows about more than one or two chunks at a time.

/**
 * Default words per chunk before it is converted or split: bounds the memmove of one update.
 * Measured on 1M random ids: 512..4096 all give ~0.3 µs per add; larger means fewer chunks.
 */
export const CHUNK_WORDS = 2048
/** Approximate heap bytes per chunk besides its words (object, typed array, backing store). */
export const CHUNK_OVERHEAD = 208
export const SET_OVERHEAD = 64

export class Chunk {
  constructor (
    public runs: boolean,
    public a: Uint32Array,
    public n: number,
    public card: number
  ) {}
}

export function isU32 (i: number): boolean {
  return (i >>> 0) === i
}

/** First k in [0, n) with a[k] >= x, else n. */
export function lowerBound (a: Uint32Array, n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if (a[m] < x) lo = m + 1
    else hi = m
  }
  return lo
}

/** Last pair index k with lo_k <= x, or -1. */
export function runFloor (a: Uint32Array, n: number, x: number): number {
  let lo = 0
  let hi = n >> 1
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if (a[2 * m] <= x) lo = m + 1
    else hi = m
  }
  return lo - 1
}

export function chunkHas (ch: Chunk, x: number): boolean {
  const a = ch.a
  if (!ch.runs) {
    const p = lowerBound(a, ch.n, x)
    return p < ch.n && a[p] === x
  }
  const k = runFloor(a, ch.n, x)
  return k >= 0 && x <= a[2 * k + 1]
}

function grow (ch: Chunk, need: number, limit: number): void {
  if (need <= ch.a.length) return
  const cap = Math.max(need, Math.min(limit, Math.max(8, ch.a.length + (ch.a.length >> 1))))
  const b = new Uint32Array(cap)
  b.set(ch.a.subarray(0, ch.n))
  ch.a = b
}

/** Gives back capacity once under half is used, so deletes cannot leave > 2x slack. */
export function shrinkIfSparse (ch: Chunk): void {
  if (ch.a.length > 16 && ch.n < ch.a.length >> 1) {
    ch.a = ch.a.slice(0, Math.max(8, ch.n + (ch.n >> 2)))
  }
}

/** Replace words [from, to) of ch with repl; growth stops at limit words unless more is needed. */
export function splice (ch: Chunk, from: number, to: number, repl: ArrayLike<number>, limit: number): void {
  const delta = repl.length - (to - from)
  if (delta > 0) grow(ch, ch.n + delta, limit)
  if (delta !== 0) ch.a.copyWithin(to + delta, to, ch.n)
  for (let k = 0; k < repl.length; k++) ch.a[from + k] = repl[k]
  ch.n += delta
}

function countRuns (a: Uint32Array, n: number): number {
  let r = n > 0 ? 1 : 0
  for (let k = 1; k < n; k++) if (a[k] !== a[k - 1] + 1) r++
  return r
}

/** Runs of a chunk as inclusive pairs, tight. */
function pairsOf (ch: Chunk): Uint32Array {
  if (ch.runs) return ch.a.slice(0, ch.n)
  const out = new Uint32Array(2 * countRuns(ch.a, ch.n))
  let w = 0
  for (let k = 0; k < ch.n; k++) {
    if (k === 0 || ch.a[k] !== ch.a[k - 1] + 1) {
      if (k > 0) out[w++] = ch.a[k - 1]
      out[w++] = ch.a[k]
    }
  }
  if (ch.n > 0) out[w++] = ch.a[ch.n - 1]
  return out
}

function valuesOf (ch: Chunk): Uint32Array {
  if (!ch.runs) return ch.a.slice(0, ch.n)
  const out = new Uint32Array(ch.card)
  let w = 0
  for (let k = 0; k < ch.n; k += 2) for (let v = ch.a[k]; v <= ch.a[k + 1]; v++) out[w++] = v
  return out
}

export function arrayChunk (values: Uint32Array): Chunk {
  return new Chunk(false, values, values.length, values.length)
}

export function runsChunk (pairs: Uint32Array, n = pairs.length): Chunk {
  let card = 0
  for (let k = 0; k < n; k += 2) card += pairs[k + 1] - pairs[k] + 1
  return new Chunk(true, pairs, n, card)
}

/**
 * A runs chunk whose array form would be clearly smaller: O(1) to check, so done on every
 * update (an array chunk's run count costs O(n), so that direction is checked on overflow).
 */
export function runsTooCostly (ch: Chunk): boolean {
  return ch.runs && ch.card * 4 < ch.n * 3
}

/** The cheaper form of the same ids; hysteresis (3/4) keeps a chunk from flapping. */
export function recode (ch: Chunk): Chunk {
  if (ch.runs) return ch.card * 4 < ch.n * 3 ? arrayChunk(valuesOf(ch)) : ch
  const r = countRuns(ch.a, ch.n)
  return 8 * r < ch.n * 3 ? runsChunk(pairsOf(ch)) : ch
}

/** Two ordered, disjoint chunks as one (joining touching runs), in the cheaper form. */
export function concat (x: Chunk, y: Chunk): Chunk {
  if (!x.runs && !y.runs) {
    const v = new Uint32Array(x.n + y.n)
    v.set(x.a.subarray(0, x.n))
    v.set(y.a.subarray(0, y.n), x.n)
    return recode(arrayChunk(v))
  }
  const px = pairsOf(x)
  const py = pairsOf(y)
  const join = px.length > 0 && py.length > 0 && px[px.length - 1] + 1 === py[0]
  const out = new Uint32Array(px.length + py.length - (join ? 2 : 0))
  out.set(px)
  if (join) {
    out[px.length - 1] = py[1]
    out.set(py.subarray(2), px.length)
  } else {
    out.set(py, px.length)
  }
  return recode(runsChunk(out))
}

/** Removes [lo, hi] inclusive from one chunk; returns how many ids went. */
export function cutRange (ch: Chunk, lo: number, hi: number, limit: number): number {
  const a = ch.a
  if (!ch.runs) {
    const p = lowerBound(a, ch.n, lo)
    const q = lowerBound(a, ch.n, hi + 1)
    splice(ch, p, q, [], limit)
    ch.card -= q - p
    return q - p
  }
  let k0 = runFloor(a, ch.n, lo)
  if (k0 < 0 || a[2 * k0 + 1] < lo) k0++
  let k1 = k0
  let removed = 0
  const keep: number[] = []
  for (; 2 * k1 < ch.n && a[2 * k1] <= hi; k1++) {
    const s = a[2 * k1]
    const e = a[2 * k1 + 1]
    removed += Math.min(e, hi) - Math.max(s, lo) + 1
    if (s < lo) keep.push(s, lo - 1)
    if (e > hi) keep.push(hi + 1, e)
  }
  splice(ch, 2 * k0, 2 * k1, keep, limit)
  ch.card -= removed
  return removed
}
