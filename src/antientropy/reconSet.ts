// The set of delete records being reconciled: records keyed by (hlc, recordHash), kept in key
// order in parallel BigUint64Arrays with prefix sums of the hashes, so a range fingerprint
// (count, sum of hashes mod 2^64) is O(1) and a bound lookup O(log n) at 10^6 records.

import { recordHash, type DeleteRec } from '../tombstones/record.js'

export interface Key {
  hlc: bigint
  hash: bigint
}

const U64_MAX = (1n << 64n) - 1n

/** Past every record key: the upper bound of the last range of a frame. */
export const MAX_KEY: Key = Object.freeze({ hlc: U64_MAX, hash: U64_MAX })

export function compareKeys (a: Key, b: Key): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1
  return 0
}

export class ReconSet {
  // sorted part: indexes [0, n) of hlcs/hashes, prefix[i] = sum of hashes[0, i) mod 2^64
  private hlcs = new BigUint64Array(16)
  private hashes = new BigUint64Array(16)
  private prefix = new BigUint64Array(17)
  private n = 0
  // Out-of-order adds wait here, unsorted, until a read needs order: n adds then cost one
  // sort and one merge instead of n array shifts.
  private pendHlc: bigint[] = []
  private pendHash: bigint[] = []
  // Removals wait here as keys, applied in one filtering pass. Adds and removals are never
  // pending at the same time (switching flushes), so a re-add after a remove cannot be lost.
  private dropHlc: bigint[] = []
  private dropHash: bigint[] = []
  private readonly byHash = new Map<bigint, DeleteRec>()

  static from (records: Iterable<DeleteRec>): ReconSet {
    const s = new ReconSet()
    for (const r of records) s.add(r)
    return s
  }

  /**
   * False if a record with the same hash is already held (the first one stays).
   * `hash`, when given, must be recordHash(rec): callers that already computed it save the work.
   */
  add (rec: DeleteRec, hash: bigint = recordHash(rec)): boolean {
    if (this.byHash.has(hash)) return false
    if (this.dropHlc.length > 0) this.flush()
    this.byHash.set(hash, rec)
    const hlc = rec.hlc
    const n = this.n
    if (
      this.pendHlc.length === 0 &&
      (n === 0 || this.hlcs[n - 1]! < hlc || (this.hlcs[n - 1] === hlc && this.hashes[n - 1]! < hash))
    ) {
      this.reserve(n + 1)
      this.hlcs[n] = hlc
      this.hashes[n] = hash
      this.prefix[n + 1] = this.prefix[n]! + hash
      this.n = n + 1
    } else {
      this.pendHlc.push(hlc)
      this.pendHash.push(hash)
    }
    return true
  }

  remove (hash: bigint): boolean {
    const rec = this.byHash.get(hash)
    if (rec === undefined) return false
    if (this.pendHlc.length > 0) this.flush()
    this.byHash.delete(hash)
    this.dropHlc.push(rec.hlc)
    this.dropHash.push(hash)
    return true
  }

  has (hash: bigint): boolean {
    return this.byHash.has(hash)
  }

  get (hash: bigint): DeleteRec | undefined {
    return this.byHash.get(hash)
  }

  get size (): number {
    return this.byHash.size
  }

  /** Every record, in no particular order. */
  records (): IterableIterator<DeleteRec> {
    return this.byHash.values()
  }

  /** First index whose key is >= k (size if none). */
  lowerBound (k: Key): number {
    this.flush()
    return this.lowerBoundIn(k.hlc, k.hash, this.n)
  }

  keyAt (i: number): Key {
    this.flush()
    this.checkIndex(i, this.n - 1)
    return { hlc: this.hlcs[i]!, hash: this.hashes[i]! }
  }

  /** Hash at index i; the session's hot loops avoid allocating a Key. */
  hashAt (i: number): bigint {
    this.flush()
    this.checkIndex(i, this.n - 1)
    return this.hashes[i]!
  }

  hlcAt (i: number): bigint {
    this.flush()
    this.checkIndex(i, this.n - 1)
    return this.hlcs[i]!
  }

  /** Count and additive fingerprint of the records at indexes [lo, hi). */
  fingerprint (lo: number, hi: number): { count: number; sum: bigint } {
    this.flush()
    this.checkRange(lo, hi)
    return { count: hi - lo, sum: BigInt.asUintN(64, this.prefix[hi]! - this.prefix[lo]!) }
  }

  hashesIn (lo: number, hi: number): BigUint64Array {
    this.flush()
    this.checkRange(lo, hi)
    return this.hashes.slice(lo, hi)
  }

  summary (): { count: number; fingerprint: bigint; maxHlc: bigint } {
    this.flush()
    const n = this.n
    return { count: n, fingerprint: this.prefix[n]!, maxHlc: n === 0 ? 0n : this.hlcs[n - 1]! }
  }

  private checkIndex (i: number, max: number): void {
    if (!Number.isInteger(i) || i < 0 || i > max) throw new RangeError(`index ${i} outside [0, ${max}]`)
  }

  private checkRange (lo: number, hi: number): void {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > this.n || lo > hi) {
      throw new RangeError(`range [${lo}, ${hi}) outside [0, ${this.n}]`)
    }
  }

  private reserve (cap: number): void {
    if (cap <= this.hlcs.length) return
    let c = this.hlcs.length * 2
    while (c < cap) c *= 2
    const h = new BigUint64Array(c)
    h.set(this.hlcs.subarray(0, this.n))
    const s = new BigUint64Array(c)
    s.set(this.hashes.subarray(0, this.n))
    const p = new BigUint64Array(c + 1)
    p.set(this.prefix.subarray(0, this.n + 1))
    this.hlcs = h
    this.hashes = s
    this.prefix = p
  }

  private flush (): void {
    if (this.dropHlc.length > 0) this.applyDrops()
    if (this.pendHlc.length > 0) this.applyAdds()
  }

  private applyDrops (): void {
    const order = sortedOrder(this.dropHlc, this.dropHash)
    const dh = this.dropHlc
    const ds = this.dropHash
    this.dropHlc = []
    this.dropHash = []
    const first = this.lowerBoundRaw(dh[order[0]!]!, ds[order[0]!]!)
    // one compaction pass from the first dropped position: both sides are in key order
    let w = first
    let j = 0
    for (let r = first; r < this.n; r++) {
      const h = this.hlcs[r]!
      const s = this.hashes[r]!
      while (j < order.length) {
        const k = order[j]!
        if (dh[k]! < h || (dh[k] === h && ds[k]! < s)) j++
        else break
      }
      if (j < order.length && dh[order[j]!] === h && ds[order[j]!] === s) {
        j++
        continue
      }
      this.hlcs[w] = h
      this.hashes[w] = s
      w++
    }
    this.n = w
    this.rebuildPrefix(first)
  }

  private applyAdds (): void {
    const order = sortedOrder(this.pendHlc, this.pendHash)
    const ph = this.pendHlc
    const ps = this.pendHash
    this.pendHlc = []
    this.pendHash = []
    const k = order.length
    const n = this.n
    this.reserve(n + k)
    // Merge from the back: each pending key shifts the block of larger keys in one memmove,
    // so the cost is O(k log n) compares plus the bytes moved, not O(n) bigint compares.
    let i = n // main keys [0, i) not yet placed
    let minPos = n
    for (let j = k - 1; j >= 0; j--) {
      const hlc = ph[order[j]!]!
      const hash = ps[order[j]!]!
      const p = this.lowerBoundIn(hlc, hash, i)
      if (p < i) {
        this.hlcs.copyWithin(p + j + 1, p, i)
        this.hashes.copyWithin(p + j + 1, p, i)
      }
      this.hlcs[p + j] = hlc
      this.hashes[p + j] = hash
      i = p
      minPos = p + j
    }
    this.n = n + k
    this.rebuildPrefix(Math.min(minPos, n))
  }

  private rebuildPrefix (from: number): void {
    const p = this.prefix
    const s = this.hashes
    for (let i = from; i < this.n; i++) p[i + 1] = p[i]! + s[i]!
  }

  private lowerBoundRaw (hlc: bigint, hash: bigint): number {
    return this.lowerBoundIn(hlc, hash, this.n)
  }

  private lowerBoundIn (hlc: bigint, hash: bigint, end: number): number {
    let lo = 0
    let hi = end
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const h = this.hlcs[mid]!
      if (h < hlc || (h === hlc && this.hashes[mid]! < hash)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** Indexes of parallel key arrays in key order. */
function sortedOrder (hlc: bigint[], hash: bigint[]): Uint32Array {
  const order = new Uint32Array(hlc.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  order.sort((a, b) => {
    const x = hlc[a]!
    const y = hlc[b]!
    if (x !== y) return x < y ? -1 : 1
    const u = hash[a]!
    const v = hash[b]!
    return u < v ? -1 : u > v ? 1 : 0
  })
  return order
}
