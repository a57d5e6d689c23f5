// What a delete log holds, in memory: the records, dedupe by (origin, seq), per-origin
// sequence bookkeeping (1..contiguous all held, plus the few held above a gap) and the
// additive summary. Shared by the file-backed log and the in-memory one, so the two agree on
// every answer by construction; neither durability nor I/O lives here.
import { compareRecords, recordHash, type DeleteRec } from './record.js'
import { sortedIndexOf } from '../sorted.js'

const U64_MASK = (1n << 64n) - 1n

/** Seqs held for one origin: 1..contiguous all held, plus the few held above a gap. */
interface OriginSeqs {
  contiguous: bigint
  above: bigint[] // sorted ascending, every element > contiguous + 1
}

export class HeldRecords {
  private readonly origins = new Map<string, OriginSeqs>()
  private held: DeleteRec[] = []
  private sorted = true
  private fingerprint = 0n
  private maxHlc = 0n

  get size (): number {
    return this.held.length
  }

  has (origin: string, seq: bigint): boolean {
    const o = this.origins.get(origin)
    if (o == null) return false
    if (seq <= o.contiguous) return seq >= 1n
    return sortedIndexOf(o.above, seq) >= 0
  }

  /** the highest seq ever held for `origin` (0n for an unknown one); survives compaction */
  maxSeq (origin: string): bigint {
    const o = this.origins.get(origin)
    return o == null ? 0n : o.above.length > 0 ? o.above[o.above.length - 1] : o.contiguous
  }

  /** fingerprint = sum of recordHash mod 2^64; maxHlc = 0n when empty. */
  summary (): { count: number, fingerprint: bigint, maxHlc: bigint } {
    return { count: this.held.length, fingerprint: this.fingerprint, maxHlc: this.maxHlc }
  }

  /** Every record held, ascending by compareRecords (a fresh array). */
  records (): DeleteRec[] {
    if (!this.sorted) {
      this.held.sort(compareRecords)
      this.sorted = true
    }
    return this.held.slice()
  }

  /** Per origin: contiguous = highest s with 1..s all held; max = highest seq held. */
  perOrigin (): Map<string, { contiguous: bigint, max: bigint }> {
    const m = new Map<string, { contiguous: bigint, max: bigint }>()
    for (const [origin, o] of this.origins) {
      m.set(origin, { contiguous: o.contiguous, max: o.above.length > 0 ? o.above[o.above.length - 1] : o.contiguous })
    }
    return m
  }

  /** the caller has checked `has(r.origin, r.seq)` is false */
  hold (r: DeleteRec): void {
    let o = this.origins.get(r.origin)
    if (o == null) this.origins.set(r.origin, (o = { contiguous: 0n, above: [] }))
    if (r.seq === o.contiguous + 1n) {
      o.contiguous = r.seq
      // absorb the run above the gap that this seq just closed
      let k = 0
      while (k < o.above.length && o.above[k] === o.contiguous + 1n) o.contiguous = o.above[k++]
      if (k > 0) o.above.splice(0, k)
    } else {
      const at = sortedIndexOf(o.above, r.seq)
      o.above.splice(-(at + 1), 0, r.seq)
    }
    const last = this.held[this.held.length - 1]
    if (last != null && compareRecords(last, r) > 0) this.sorted = false
    this.held.push(r)
    this.fingerprint = (this.fingerprint + recordHash(r)) & U64_MASK
    if (r.hlc > this.maxHlc) this.maxHlc = r.hlc
  }

  /**
   * Compaction: keep only `kept` (sorted, a subset of what is held). The seq bookkeeping
   * stays as it was (a dropped seq is still taken), and so does maxHlc (it only grows).
   */
  keepOnly (kept: DeleteRec[]): void {
    this.held = kept
    this.sorted = true
    this.fingerprint = 0n
    for (const r of kept) this.fingerprint = (this.fingerprint + recordHash(r)) & U64_MASK
  }
}
