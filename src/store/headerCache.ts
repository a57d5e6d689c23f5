// The object header cache: each stored object's version and generation, kept beside the
// object list cache so an object list with versions (what recovery asks every member for
// after each view change) is answered from memory. Read from disk, a 200-object list took
// 20 ms to 1.4 s on a node serving the lists of nine peers at once while one joined, and held
// every joiner's first pull behind them. Only the store fills it, under each oid's lock, so
// an entry is always the header on disk; an oid without an entry is simply read from disk.
//
// Compact: one open-addressing table in typed arrays (linear probing, backward-shift
// deletion), 21 bytes a slot, never a Map of bigints. Bounded: past `limit` entries it
// stops taking new ones (they are read from disk, as before) rather than grow without end.

/** entries past which new oids are not cached: 2^20 (≤ 2^21 slots, 44 MB) */
export const MAX_CACHED_HEADERS = 1 << 20
const MIN_SLOTS = 64

export interface CachedHeader { version: bigint, generation: number }

export class HeaderCache {
  private keys = new BigUint64Array(MIN_SLOTS)
  private versions = new BigUint64Array(MIN_SLOTS)
  private generations = new Uint32Array(MIN_SLOTS)
  private used = new Uint8Array(MIN_SLOTS)
  private count = 0

  constructor (private readonly limit = MAX_CACHED_HEADERS) {}

  get size (): number { return this.count }

  get (oid: bigint): CachedHeader | undefined {
    const i = this.find(oid)
    return i < 0 ? undefined : { version: this.versions[i], generation: this.generations[i] }
  }

  /** the header now on disk for `oid`; a new oid past the limit is left out (a miss costs a disk read, nothing else) */
  set (oid: bigint, version: bigint, generation: number): void {
    let i = this.find(oid)
    if (i < 0) {
      if (this.count >= this.limit) return
      if ((this.count + 1) * 4 > this.keys.length * 3) this.resize(this.keys.length * 2)
      i = this.slotFor(oid)
      this.used[i] = 1
      this.keys[i] = oid
      this.count++
    }
    this.versions[i] = version
    this.generations[i] = generation
  }

  delete (oid: bigint): void {
    let i = this.find(oid)
    if (i < 0) return
    const mask = this.keys.length - 1
    // backward shift: pull later members of the probe run into the hole, so lookups need no tombstones
    for (let j = (i + 1) & mask; this.used[j] === 1; j = (j + 1) & mask) {
      const home = hash(this.keys[j]) & mask
      // j's entry may move to i only if i lies on its probe path, home .. j (cyclically)
      if (((j - home) & mask) >= ((j - i) & mask)) {
        this.keys[i] = this.keys[j]
        this.versions[i] = this.versions[j]
        this.generations[i] = this.generations[j]
        i = j
      }
    }
    this.used[i] = 0
    this.count--
    if (this.keys.length > MIN_SLOTS && this.count * 8 < this.keys.length) this.resize(this.keys.length / 2)
  }

  clear (): void {
    this.allocate(MIN_SLOTS)
    this.count = 0
  }

  /** bytes held by the table */
  byteSize (): number { return this.keys.length * 21 }

  private find (oid: bigint): number {
    const mask = this.keys.length - 1
    for (let i = hash(oid) & mask; this.used[i] === 1; i = (i + 1) & mask) {
      if (this.keys[i] === oid) return i
    }
    return -1
  }

  /** the first free slot on `oid`'s probe path (the table always has one: load ≤ 3/4) */
  private slotFor (oid: bigint): number {
    const mask = this.keys.length - 1
    let i = hash(oid) & mask
    while (this.used[i] === 1) i = (i + 1) & mask
    return i
  }

  private resize (slots: number): void {
    const { keys, versions, generations, used } = this
    this.allocate(slots)
    for (let k = 0; k < keys.length; k++) {
      if (used[k] !== 1) continue
      const i = this.slotFor(keys[k])
      this.used[i] = 1
      this.keys[i] = keys[k]
      this.versions[i] = versions[k]
      this.generations[i] = generations[k]
    }
  }

  private allocate (slots: number): void {
    this.keys = new BigUint64Array(slots)
    this.versions = new BigUint64Array(slots)
    this.generations = new Uint32Array(slots)
    this.used = new Uint8Array(slots)
  }
}

/** mixes both 32-bit halves: a vid's objects differ only in the low word, vids only in the high one */
function hash (oid: bigint): number {
  const lo = Number(oid & 0xffff_ffffn)
  const hi = Number(oid >> 32n)
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e37_79b1), 0x85eb_ca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2_ae35)
  return (h ^ (h >>> 16)) >>> 0
}
