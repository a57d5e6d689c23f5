// What the simulator knows that no node does: every acknowledged delete, which nodes have
// learned it (and after how many hops), when it was known and purged everywhere, and the
// invariants over all of it, checked every tick:
// - no revival: a copy of a deleted object is never taken by a node that had purged it or
//   that (or whose source) had learned the delete — the tombstone gates exist for exactly that;
// - purged everywhere: purgeBoundMs after the last heal no node holds a copy of a deleted object;
// - tombstones bounded: no node's log holds more records than were ever issued, no floor more
//   entries than there are vids, and by the end every whole-VDI record is folded away;
// - object lists exact: after the bound, every replica holds every live acknowledged object
//   and nothing else.
// Per delete one byte per node (hops + 1; 0 = not known; 255 = known, hop count unknown):
// at 10,000 nodes and a few dozen deletes that is well under a megabyte.

import type { DeleteRec } from '../tombstones/record.js'
import { recordHash } from '../tombstones/record.js'
import type { ObjectTable } from './objects.js'

export type ViolationKind = 'revival' | 'purge-bound' | 'tombstones-unbounded' | 'object-lists'

export interface Violation {
  kind: ViolationKind
  at: number
  message: string
}

export interface DeleteInfo {
  n: number
  rec: DeleteRec
  origin: number
  at: number
  /** issued during the fault window */
  fault: boolean
  known: Uint8Array
  knownCount: number
  knownAllAt: number
  maxHops: number
  purgedAt: number
  /** at the last heal: was it known everywhere, and the hops counted since */
  healAt: number
  healHops: number
  knownAllAtHeal: boolean
  purgedAtHeal: boolean
}

export class Tracker {
  readonly deletes: DeleteInfo[] = []
  private readonly byHash = new Map<bigint, number>()
  private readonly vdiDeletes = new Map<number, number[]>()
  violation: Violation | undefined
  heals: number[] = []

  constructor (private readonly nodes: number, private readonly objects: ObjectTable) {}

  /** a client's delete, acknowledged by its origin: the ground truth from now on */
  issue (rec: DeleteRec, origin: number, at: number, fault: boolean): DeleteInfo {
    const d: DeleteInfo = {
      n: this.deletes.length,
      rec,
      origin,
      at,
      fault,
      known: new Uint8Array(this.nodes),
      knownCount: 0,
      knownAllAt: -1,
      maxHops: 0,
      purgedAt: -1,
      healAt: -1,
      healHops: 0,
      knownAllAtHeal: false,
      purgedAtHeal: false
    }
    this.deletes.push(d)
    this.byHash.set(recordHash(rec), d.n)
    const ob = this.objects
    if (rec.kind === 'vdi') {
      let list = this.vdiDeletes.get(rec.vid)
      if (list === undefined) this.vdiDeletes.set(rec.vid, (list = []))
      list.push(d.n)
      for (let o = ob.vidFirst[rec.vid]!; o < ob.vidFirst[rec.vid + 1]!; o++) ob.markDeleted(o, d.n)
    } else {
      for (const idx of rec.indexes) ob.markDeleted(ob.vidFirst[rec.vid]! + idx, d.n)
    }
    if (ob.deleteHeld[d.n]! < 0) ob.deleteHeld[d.n] = 0
    return d
  }

  /** records new to node's log; hops < 0: learned in a session from `from` */
  learned (node: number, recs: readonly DeleteRec[], from: number, hops: number, now: number): void {
    for (const r of recs) {
      const n = this.byHash.get(recordHash(r))
      if (n === undefined) continue
      const d = this.deletes[n]!
      let entry: number
      if (hops >= 0) entry = Math.min(hops, 253) + 1
      else {
        const e = from >= 0 ? d.known[from]! : 0
        entry = e === 0 || e === 255 ? 255 : Math.min(e, 253) + 1
      }
      this.know(d, node, entry, now)
    }
  }

  /** a floor entry raised at node: every whole-VDI delete of vid up to gen is known there */
  floorRaised (node: number, vid: number, gen: number, now: number): void {
    for (const n of this.vdiDeletes.get(vid) ?? []) {
      const d = this.deletes[n]!
      if (d.rec.generation <= gen) this.know(d, node, 255, now)
    }
  }

  private know (d: DeleteInfo, node: number, entry: number, now: number): void {
    if (d.known[node] !== 0) return
    d.known[node] = entry
    if (entry !== 255) {
      const hops = entry - 1
      if (hops > d.maxHops) d.maxHops = hops
      if (d.healAt >= 0 && hops > d.healHops) d.healHops = hops
    }
    if (++d.knownCount === this.nodes) d.knownAllAt = now
  }

  /** a recovery pull: node took a copy of o (slot k) from `from` */
  copied (node: number, o: number, k: number, from: number, now: number): void {
    const ob = this.objects
    const purgedHere = ob.add(o, k)
    const n = ob.deletedBy[o]!
    if (n < 0) return
    const d = this.deletes[n]!
    if (purgedHere || d.known[node] !== 0 || d.known[from] !== 0) {
      const why = purgedHere ? 'it had purged that copy' : d.known[node] !== 0 ? 'it held the tombstone' : 'its source held the tombstone'
      this.fail('revival', now, `node ${node} took a copy of object ${ob.oid(o).toString(16)} from node ${from} after delete #${n} (${describe(d.rec)}) was acknowledged, although ${why}`)
    }
  }

  /** a heal (the last one counts for the summary): hop counts restart from the nodes that know */
  heal (now: number): void {
    this.heals.push(now)
    for (const d of this.deletes) {
      d.healAt = now
      d.healHops = 0
      d.knownAllAtHeal = d.knownCount === this.nodes
      d.purgedAtHeal = this.objects.deleteHeld[d.n] === 0
      if (d.knownAllAtHeal) continue
      for (let i = 0; i < this.nodes; i++) if (d.known[i] !== 0) d.known[i] = 1
    }
  }

  /** since the last heal, every delete not known everywhere then is known and purged everywhere (true without a heal) */
  healConverged (): boolean {
    const ob = this.objects
    for (const d of this.deletes) {
      if (d.healAt < 0 || d.knownAllAtHeal) continue
      if (d.knownAllAt < 0 || ob.deleteHeld[d.n]! > 0) return false
    }
    return true
  }

  /**
   * The per-tick checks. `boundFrom`: the time after which everything must be purged and exact
   * (last heal + purge bound); `logSizes(i)` and `floorSizes(i)` read node i's tombstone state.
   */
  tick (now: number, boundFrom: number, maxLog: number, logSize: (i: number) => number, floorSize: (i: number) => number): void {
    const ob = this.objects
    // the exact time the last copy went when the table knows it, else this tick's
    for (const d of this.deletes) if (d.purgedAt < 0 && ob.deleteHeld[d.n] === 0) d.purgedAt = ob.heldZeroAt[d.n]! >= 0 ? ob.heldZeroAt[d.n]! : now
    if (this.violation !== undefined) return
    for (let i = 0; i < this.nodes; i++) {
      const l = logSize(i)
      if (l > maxLog) return this.fail('tombstones-unbounded', now, `node ${i} holds ${l} delete records, more than the ${maxLog} ever issued`)
      const f = floorSize(i)
      if (f > ob.vids) return this.fail('tombstones-unbounded', now, `node ${i} has ${f} floor entries for ${ob.vids} vids`)
    }
    if (now < boundFrom) return
    const c = ob.counters
    if (c.heldDeleted > 0) {
      const late = this.deletes.filter((d) => ob.deleteHeld[d.n]! > 0).map((d) => `#${d.n} (${ob.deleteHeld[d.n]} copies)`)
      return this.fail('purge-bound', now, `${c.heldDeleted} copies of deleted objects still held ${((now - boundFrom) / 1000 + 0).toFixed(1)} s past the purge bound: deletes ${late.slice(0, 5).join(', ')}`)
    }
    if (c.liveMissing > 0) return this.fail('object-lists', now, `${c.liveMissing} copies of live acknowledged objects missing from their replicas past the purge bound`)
  }

  /** at the end of the run: every whole-VDI record folded into the floor everywhere */
  final (now: number, vdiRecords: (i: number) => number): void {
    if (this.violation !== undefined) return
    for (let i = 0; i < this.nodes; i++) {
      const v = vdiRecords(i)
      if (v > 0) return this.fail('tombstones-unbounded', now, `node ${i} still holds ${v} whole-VDI delete records at the end: GC never folded them`)
    }
  }

  private fail (kind: ViolationKind, at: number, message: string): void {
    this.violation ??= { kind, at, message }
  }
}

export function describe (r: DeleteRec): string {
  return r.kind === 'vdi' ? `vdi ${r.vid} gen ${r.generation} by ${r.origin}/${r.seq}` : `discard vid ${r.vid} [${Array.from(r.indexes).join(',')}] by ${r.origin}/${r.seq}`
}
