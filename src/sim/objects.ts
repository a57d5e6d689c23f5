// Every node's object list, as one compact table. Objects are data objects (vid, index) of
// generation 0; each is placed on `copies` distinct nodes drawn from the seed (placement is
// fixed for the run: members are never evicted, a crashed node stays a member). Per object a
// byte holds which of its replica slots hold a copy (the union over nodes is every node's
// object list), a byte which slots purged it for a delete (a copy coming back there is a
// revival), whether its write was acknowledged, and which delete (if any) removed it. Counters
// kept on every change make "object lists exact" an O(1) question at any tick.

import type { Rng } from '../rng.js'
import { vidToDataOid } from '../oid.js'

export interface ObjectCounters {
  /** copies of deleted objects still held, over all nodes */
  heldDeleted: number
  /** copies of live acknowledged objects a replica lacks */
  liveMissing: number
}

export class ObjectTable {
  readonly count: number
  readonly vids: number
  readonly copies: number
  /** vid (1..vids) of each object */
  readonly vidOf: Int32Array
  /** objects of vid v are [vidFirst[v], vidFirst[v + 1]) */
  readonly vidFirst: Int32Array
  /** virtual ms of the object's write (its version); -1 while unwritten */
  readonly writtenAt: Float64Array
  readonly replicas: Int32Array
  readonly held: Uint8Array
  readonly purged: Uint8Array
  /** the delete (its number) that removed the object; -1 while live */
  readonly deletedBy: Int32Array
  /** per node, its placement entries (object × copies + slot) */
  readonly nodeStart: Int32Array
  readonly nodePlace: Int32Array
  readonly counters: ObjectCounters = { heldDeleted: 0, liveMissing: 0 }
  /** per delete: copies of its objects still held (-1: not issued) */
  deleteHeld: Int32Array
  /** per delete: virtual ms its last copy went (deleteHeld reached 0; -1: not yet) — exact, not per tick */
  readonly heldZeroAt: Float64Array
  /** the virtual clock, for heldZeroAt (the simulator sets it) */
  clock: () => number = () => -1

  constructor (nodes: number, perNode: number, maxPerVdi: number, copies: number, rng: Rng, maxDeletes: number) {
    this.copies = Math.min(copies, nodes)
    this.count = Math.max(1, Math.ceil((nodes * perNode) / this.copies))
    // at least two vids per delete, so a small cluster never runs out of VDIs to delete
    const perVdi = Math.max(1, Math.min(maxPerVdi, Math.floor(this.count / (2 * Math.max(1, maxDeletes)))))
    this.vids = Math.ceil(this.count / perVdi)
    this.vidOf = new Int32Array(this.count)
    this.vidFirst = new Int32Array(this.vids + 2)
    for (let v = 1; v <= this.vids + 1; v++) this.vidFirst[v] = Math.min(this.count, (v - 1) * perVdi)
    for (let o = 0; o < this.count; o++) this.vidOf[o] = 1 + Math.floor(o / perVdi)
    this.writtenAt = new Float64Array(this.count).fill(-1)
    this.replicas = new Int32Array(this.count * this.copies)
    this.held = new Uint8Array(this.count)
    this.purged = new Uint8Array(this.count)
    this.deletedBy = new Int32Array(this.count).fill(-1)
    this.deleteHeld = new Int32Array(maxDeletes).fill(-1)
    this.heldZeroAt = new Float64Array(maxDeletes).fill(-1)
    const perNodeCount = new Int32Array(nodes + 1)
    for (let o = 0; o < this.count; o++) {
      for (let k = 0; k < this.copies; k++) {
        let q = Math.floor(rng() * nodes)
        while (this.slotOf(o, q, k) >= 0) q = Math.floor(rng() * nodes)
        this.replicas[o * this.copies + k] = q
        perNodeCount[q + 1] = perNodeCount[q + 1]! + 1
      }
    }
    this.nodeStart = new Int32Array(nodes + 1)
    for (let i = 0; i < nodes; i++) this.nodeStart[i + 1] = this.nodeStart[i]! + perNodeCount[i + 1]!
    this.nodePlace = new Int32Array(this.count * this.copies)
    const fill = this.nodeStart.slice(0, nodes)
    for (let p = 0; p < this.count * this.copies; p++) {
      const q = this.replicas[p]!
      this.nodePlace[fill[q]!] = p
      fill[q] = fill[q]! + 1
    }
  }

  oid (o: number): bigint {
    return vidToDataOid(this.vidOf[o]!, o - this.vidFirst[this.vidOf[o]!]!)
  }

  /** version (HLC) of the object's write */
  version (o: number): bigint {
    return BigInt(Math.floor(this.writtenAt[o]!)) << 16n
  }

  /** replica slot of node q for object o among the first `upTo` slots, or -1 */
  slotOf (o: number, q: number, upTo = this.copies): number {
    const base = o * this.copies
    for (let k = 0; k < upTo; k++) if (this.replicas[base + k] === q) return k
    return -1
  }

  holds (o: number, slot: number): boolean {
    return (this.held[o]! & (1 << slot)) !== 0
  }

  /** acknowledged write of o at `now` to the given slots (a bit mask) */
  write (o: number, now: number, slots: number): void {
    this.writtenAt[o] = now
    for (let k = 0; k < this.copies; k++) {
      if ((slots & (1 << k)) !== 0) this.held[o] = this.held[o]! | (1 << k)
      else this.counters.liveMissing++
    }
  }

  /** a copy arrives in slot k (a recovery pull); returns true if that slot purged it before */
  add (o: number, k: number): boolean {
    const bit = 1 << k
    if ((this.held[o]! & bit) !== 0) return false
    this.held[o] = this.held[o]! | bit
    const d = this.deletedBy[o]!
    if (d >= 0) {
      this.counters.heldDeleted++
      this.deleteHeld[d] = this.deleteHeld[d]! + 1
    } else if (this.writtenAt[o]! >= 0) this.counters.liveMissing--
    return (this.purged[o]! & bit) !== 0
  }

  /** slot k drops its copy for a tombstone; returns true if it held one */
  purge (o: number, k: number): boolean {
    const bit = 1 << k
    if ((this.held[o]! & bit) === 0) return false
    this.held[o] = this.held[o]! & ~bit
    this.purged[o] = this.purged[o]! | bit
    const d = this.deletedBy[o]!
    if (d >= 0) {
      this.counters.heldDeleted--
      this.deleteHeld[d] = this.deleteHeld[d]! - 1
      if (this.deleteHeld[d] === 0) this.heldZeroAt[d] = this.clock()
    } else if (this.writtenAt[o]! >= 0) this.counters.liveMissing++
    return true
  }

  /** the client's acknowledged delete `d` covers o (ground truth for the checker) */
  markDeleted (o: number, d: number): void {
    if (this.deletedBy[o]! >= 0) return
    this.deletedBy[o] = d
    if (this.deleteHeld[d]! < 0) this.deleteHeld[d] = 0
    for (let k = 0; k < this.copies; k++) {
      if (this.holds(o, k)) {
        this.counters.heldDeleted++
        this.deleteHeld[d] = this.deleteHeld[d]! + 1
      } else if (this.writtenAt[o]! >= 0) this.counters.liveMissing--
    }
    if (this.deleteHeld[d] === 0) this.heldZeroAt[d] = this.clock()
  }

  /** number of objects placed on node q */
  placedOn (q: number): number {
    return this.nodeStart[q + 1]! - this.nodeStart[q]!
  }

  /** copies node q holds */
  heldBy (q: number): number {
    let n = 0
    for (let i = this.nodeStart[q]!; i < this.nodeStart[q + 1]!; i++) {
      const p = this.nodePlace[i]!
      if (this.holds(Math.floor(p / this.copies), p % this.copies)) n++
    }
    return n
  }
}
