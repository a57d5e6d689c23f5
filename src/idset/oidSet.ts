// OidSet: a compact set of uint64 oids as a map from the oid's high 32 bits (flags + vid) to
// an IndexSet of low words, so a vid's objects share buckets and deleteVid is four map deletes.
// Never a JS Set of bigints (≈ 45 B/id); see indexSet.ts for the per-bucket representation.

import {
  HIGH_VDI_ATTR_BIT, HIGH_VDI_BIT, HIGH_VMSTATE_BIT, MAX_VID, OidError, U64_MAX,
  assertVid, formatOid, isValidHigh, oidHigh, oidToIndex
} from '../oid.js'
import { SET_OVERHEAD } from './chunk.js'
import { IndexSet } from './indexSet.js'

const BUCKET_OVERHEAD = 80
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** The four buckets a vid can own, in ascending oid order: data, attr, vmstate, inode. */
function vidBuckets (vid: number): number[] {
  return [vid, (HIGH_VDI_ATTR_BIT | vid) >>> 0, (HIGH_VMSTATE_BIT | vid) >>> 0, (HIGH_VDI_BIT | vid) >>> 0]
}

function inU64 (oid: bigint): boolean {
  return typeof oid === 'bigint' && oid >= 0n && oid <= U64_MAX
}

/**
 * Set of uint64 oids: Map<oidHigh, IndexSet>. Only valid oids (isValidOid) can be added, so
 * every member belongs to exactly one of the four buckets of its vid and deleteVid is exact.
 */
export class OidSet {
  private m = new Map<number, IndexSet>()

  add (oid: bigint): boolean {
    if (!inU64(oid)) throw new OidError(`invalid oid ${String(oid)}: not a uint64`)
    const high = oidHigh(oid)
    if (!isValidHigh(high)) throw new OidError(`invalid oid ${formatOid(oid)}: reserved bits or several flag bits set`)
    let b = this.m.get(high)
    if (b === undefined) {
      b = new IndexSet()
      this.m.set(high, b)
    }
    return b.add(oidToIndex(oid))
  }

  delete (oid: bigint): boolean {
    if (!inU64(oid)) return false
    const high = oidHigh(oid)
    const b = this.m.get(high)
    if (b === undefined || !b.delete(oidToIndex(oid))) return false
    if (b.size === 0) this.m.delete(high)
    return true
  }

  has (oid: bigint): boolean {
    if (!inU64(oid)) return false
    const b = this.m.get(oidHigh(oid))
    return b !== undefined && b.has(oidToIndex(oid))
  }

  /** Adds indexes [lo, hiExclusive) under one high word (e.g. a vid's data objects). */
  addIndexRange (high: number, lo: number, hiExclusive: number): void {
    if (!isValidHigh(high)) throw new OidError(`invalid oid high word ${String(high)}`)
    let b = this.m.get(high)
    if (b === undefined) {
      b = new IndexSet()
      this.m.set(high, b)
    }
    b.addRange(lo, hiExclusive)
    if (b.size === 0) this.m.delete(high)
  }

  /** Removes indexes [lo, hiExclusive) under one high word; returns how many went. */
  deleteIndexRange (high: number, lo: number, hiExclusive: number): number {
    const b = this.m.get(high)
    if (b === undefined) return 0
    const n = b.deleteRange(lo, hiExclusive)
    if (b.size === 0) this.m.delete(high)
    return n
  }

  get size (): number {
    let n = 0
    for (const b of this.m.values()) n += b.size
    return n
  }

  /** Removes every oid of the vid (data, inode, vmstate, attr): four map deletes. */
  deleteVid (vid: number): number {
    assertVid(vid)
    let n = 0
    for (const h of vidBuckets(vid)) {
      const b = this.m.get(h)
      if (b !== undefined) {
        n += b.size
        this.m.delete(h)
      }
    }
    return n
  }

  oidsOfVid (vid: number): bigint[] {
    assertVid(vid)
    const out: bigint[] = []
    for (const h of vidBuckets(vid)) {
      const b = this.m.get(h)
      if (b === undefined) continue
      const base = BigInt(h) << 32n
      for (const i of b) out.push(base | BigInt(i))
    }
    return out
  }

  /** one oid of the vid, preferring its inode (undefined if none is held); no allocation per oid */
  anyOfVid (vid: number): bigint | undefined {
    assertVid(vid)
    for (const h of vidBuckets(vid).reverse()) {
      const b = this.m.get(h)
      if (b === undefined) continue
      for (const i of b) return (BigInt(h) << 32n) | BigInt(i)
    }
    return undefined
  }

  countVid (vid: number): number {
    assertVid(vid)
    let n = 0
    for (const h of vidBuckets(vid)) n += this.m.get(h)?.size ?? 0
    return n
  }

  /** Vids with at least one oid, ascending. */
  vids (): number[] {
    const seen = new Uint32Array([...this.m.entries()].filter(([, b]) => b.size > 0).map(([h]) => h & MAX_VID)).sort()
    const out: number[] = []
    for (let k = 0; k < seen.length; k++) if (k === 0 || seen[k] !== seen[k - 1]) out.push(seen[k])
    return out
  }

  /** Bucket keys (oid high words), ascending. */
  highs (): number[] {
    return Array.from(Uint32Array.from(this.m.keys()).sort())
  }

  * [Symbol.iterator] (): IterableIterator<bigint> {
    for (const h of this.highs()) {
      const b = this.m.get(h)
      if (b === undefined) continue
      const base = BigInt(h) << 32n
      for (const i of b) yield base | BigInt(i)
    }
  }

  toBigUint64Array (): BigUint64Array {
    const out = new BigUint64Array(this.size)
    // write both halves through a 32-bit view: no bigint per id
    const w32 = new Uint32Array(out.buffer)
    const hiOff = LITTLE_ENDIAN ? 1 : 0
    let w = 0
    for (const h of this.highs()) {
      const b = this.m.get(h)
      if (b === undefined) continue
      const idx = b.toArray()
      for (let k = 0; k < idx.length; k++, w++) {
        w32[2 * w + hiOff] = h
        w32[2 * w + 1 - hiOff] = idx[k]
      }
    }
    return out
  }

  /** Approximate bytes of memory held. */
  byteSize (): number {
    let n = SET_OVERHEAD
    for (const b of this.m.values()) n += BUCKET_OVERHEAD + b.byteSize()
    return n
  }

  clear (): void {
    this.m.clear()
  }

  /**
   * The live bucket for a high word, if any: mutations through it show in this set, but a
   * bucket emptied through this set's own delete is dropped from the map.
   */
  bucket (high: number): IndexSet | undefined {
    return this.m.get(high)
  }

  clone (): OidSet {
    const s = new OidSet()
    for (const [h, b] of this.m) s.m.set(h, b.clone())
    return s
  }

  static from (oids: Iterable<bigint>): OidSet {
    const s = new OidSet()
    for (const o of oids) s.add(o)
    return s
  }
}
