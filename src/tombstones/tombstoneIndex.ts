// What is deleted, as a query structure for the data paths: every write, transfer and
// recovery pull asks covers() first. Pure: records in, answers out; no I/O, no clock.
//
// Shape: per vid a whole-VDI generation floor (one Map lookup), and per vid a short list of
// discard entries sorted by hlc descending. Entries are kept canonical so the list stays
// short: one entry per (generation, hlc), each index held only by the entry with the highest
// hlc that discarded it (a lower one would never decide anything), and nothing at or below
// the floor (the whole-VDI delete already covers it).

import { IndexSet } from '../idset.js'
import { formatVid, isDataObj, oidToIndex, oidToVid } from '../oid.js'
import type { DeleteRec } from './record.js'

export interface DiscardEntry {
  readonly generation: number
  readonly hlc: bigint
  /** treat as read-only: the index owns it */
  readonly indexes: IndexSet
}

interface Entry {
  generation: number
  hlc: bigint
  indexes: IndexSet
}

export class TombstoneIndex {
  private readonly floors = new Map<number, number>()
  private readonly discards = new Map<number, Entry[]>()
  private applied = 0

  apply (rec: DeleteRec): void {
    this.applied++
    if (rec.kind === 'vdi') this.applyVdi(rec.vid, rec.generation)
    else this.applyDiscard(rec.vid, rec.generation, rec.hlc, rec.indexes)
  }

  /** A folded whole-VDI delete (a floor entry): same effect as its record had. */
  applyFloor (vid: number, generation: number): void {
    this.applyVdi(vid, generation)
  }

  /**
   * A reason string if the object (oid, its generation, its version = HLC of its last write)
   * is covered by a tombstone; undefined if not. The common miss costs one Map lookup, or for
   * a vid with discards, stops at the first entry older than `version`.
   */
  covers (oid: bigint, generation: number, version: bigint): string | undefined {
    const vid = oidToVid(oid)
    const floor = this.floors.get(vid)
    if (floor !== undefined && generation <= floor) {
      return `vdi ${formatVid(vid)} deleted through generation ${floor}`
    }
    const list = this.discards.get(vid)
    if (list === undefined) return undefined
    let idx = -1
    for (const e of list) {
      // sorted by hlc descending: no later entry can cover a version this one doesn't
      if (version > e.hlc) return undefined
      if (e.generation !== generation) continue
      if (idx < 0) {
        if (!isDataObj(oid)) return undefined
        idx = oidToIndex(oid)
      }
      if (e.indexes.has(idx)) {
        return `object ${formatVid(vid)}:${idx} generation ${generation} discarded at hlc ${e.hlc}`
      }
    }
    return undefined
  }

  /** Highest whole-VDI deleted generation of `vid`. */
  deletedGeneration (vid: number): number | undefined {
    return this.floors.get(vid)
  }

  isVdiDeleted (vid: number, generation: number): boolean {
    const f = this.floors.get(vid)
    return f !== undefined && generation <= f
  }

  /** The canonical discard entries of `vid`, hlc descending (not one per record). */
  discardsOf (vid: number): ReadonlyArray<DiscardEntry> {
    return this.discards.get(vid) ?? []
  }

  /** Vids with any tombstone, ascending. */
  vids (): number[] {
    const s = new Set<number>(this.floors.keys())
    for (const v of this.discards.keys()) s.add(v)
    return [...s].sort((a, b) => a - b)
  }

  /** Records applied (including ones that added nothing new). */
  get recordCount (): number {
    return this.applied
  }

  private applyVdi (vid: number, generation: number): void {
    const old = this.floors.get(vid)
    if (old !== undefined && old >= generation) return
    this.floors.set(vid, generation)
    const list = this.discards.get(vid)
    if (list === undefined) return
    const kept = list.filter((e) => e.generation > generation)
    if (kept.length === 0) this.discards.delete(vid)
    else this.discards.set(vid, kept)
  }

  /** Costs O(|indexes| × entries of the vid): applies are rare next to covers() calls. */
  private applyDiscard (vid: number, generation: number, hlc: bigint, indexes: Uint32Array): void {
    const floor = this.floors.get(vid)
    if (indexes.length === 0 || (floor !== undefined && generation <= floor)) return
    let list = this.discards.get(vid)
    if (list === undefined) this.discards.set(vid, (list = []))

    // drop indexes a newer discard of this generation already holds
    let incoming = indexes
    for (const e of list) {
      if (e.hlc <= hlc) break
      if (e.generation === generation) incoming = without(incoming, e.indexes)
      if (incoming.length === 0) return
    }

    const same = list.find((e) => e.hlc === hlc && e.generation === generation)
    const fresh = IndexSet.fromSorted(incoming)

    // take those indexes away from older discards of this generation
    let emptied = false
    for (const e of list) {
      if (e.hlc >= hlc || e.generation !== generation) continue
      if (!intersects(e.indexes, fresh)) continue
      e.indexes = IndexSet.fromSorted(without(e.indexes.toArray(), fresh))
      if (e.indexes.size === 0) emptied = true
    }
    if (emptied) {
      list = list.filter((e) => e.indexes.size > 0)
      this.discards.set(vid, list)
    }

    if (same !== undefined) {
      same.indexes = IndexSet.fromSorted(union(same.indexes.toArray(), incoming))
      return
    }
    const entry: Entry = { generation, hlc, indexes: fresh }
    let at = list.findIndex((e) => e.hlc < hlc)
    if (at < 0) at = list.length
    list.splice(at, 0, entry)
  }
}

/** Elements of sorted `a` not in `s`, sorted (or `a` itself when nothing is removed). */
function without (a: Uint32Array, s: IndexSet): Uint32Array {
  let n = 0
  for (let i = 0; i < a.length; i++) if (!s.has(a[i]!)) n++
  if (n === a.length) return a
  const out = new Uint32Array(n)
  let k = 0
  for (let i = 0; i < a.length; i++) if (!s.has(a[i]!)) out[k++] = a[i]!
  return out
}

function intersects (a: IndexSet, b: IndexSet): boolean {
  const [small, big] = a.size <= b.size ? [a, b] : [b, a]
  for (const i of small) if (big.has(i)) return true
  return false
}

function union (a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length)
  let i = 0
  let j = 0
  let k = 0
  while (i < a.length && j < b.length) {
    const x = a[i]!
    const y = b[j]!
    if (x < y) {
      out[k++] = x
      i++
    } else if (y < x) {
      out[k++] = y
      j++
    } else {
      out[k++] = x
      i++
      j++
    }
  }
  while (i < a.length) out[k++] = a[i++]!
  while (j < b.length) out[k++] = b[j++]!
  return out.slice(0, k)
}
