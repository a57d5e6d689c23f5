// The judge's model of a history: operations paired into Ops, grouped by VDI and object
// (vids resolved), the coverage windows in which an oid must not be held, and the small
// helpers the judgements share (quantiles, formatting). Pure data, no judging: that is
// history.ts (findings) and historyMeasures.ts (latencies, convergence, read anomalies).

import type { VdiInfo } from '../api/types.js'
import type { ContentDigest, OpF } from '../chaos/history.js'
import { HIGH_FLAG_MASK, HIGH_RESERVED_MASK, MAX_VID, parseVid } from '../oid.js'
import type { Quantiles } from './historyReport.js'

export interface Op {
  id: number
  f: OpF
  node: number
  vdi: string
  invoke: number
  /** Infinity until it completed ok/fail (info never completes) */
  complete: number
  outcome: 'ok' | 'fail' | 'info' | 'pending'
  vid?: string
  generation?: number
  index?: number
  indexes?: number[]
  /** write: written; read: returned */
  value?: ContentDigest
  objectSize?: number
}

export interface ObjModel { writes: Op[]; discards: Op[]; reads: Op[] }

export interface VdiModel {
  name: string
  vid?: number
  generation?: number
  /** first time anything was invoked on this VDI (its create, normally) */
  born: number
  objectSize?: number
  okDelete?: Op
  maybeDeleted: boolean
  objects: Map<number, ObjModel>
}

/** A window in which an oid must not be held. */
export interface Cover {
  kind: 'vdi' | 'discard'
  op: Op
  vdi: VdiModel
  vid: number
  generation: number | undefined
  ack: number
  end: number
  /** discard: the indexes it covers (after exclusions) */
  indexes?: Set<number>
}

export interface NodeSample { t0: number; t1: number; valid: boolean; held: Array<{ high: number; lows: Uint32Array }>; heldCount: number }

/** VDIs by name with their objects' operations, vids resolved (history first, then the final VDI list). */
export function buildModel (opsById: Map<number, Op>, finalVdis: VdiInfo[], notes: string[] = []): Map<string, VdiModel> {
  const vdis = new Map<string, VdiModel>()
  const ops = [...opsById.values()].sort((a, b) => a.invoke - b.invoke || a.id - b.id)
  for (const op of ops) {
    let v = vdis.get(op.vdi)
    if (v === undefined) vdis.set(op.vdi, (v = { name: op.vdi, born: op.invoke, maybeDeleted: false, objects: new Map() }))
    const known = op.vid !== undefined && (op.f !== 'create' || op.outcome === 'ok')
    if (known && (v.vid === undefined || op.f === 'create' || op.f === 'delete')) {
      const vid = parseVid(op.vid!)
      if (v.vid !== undefined && v.vid !== vid) notes.push(`VDI ${v.name}: operations disagree on its vid (${fmtVid(v.vid)}, ${op.vid})`)
      v.vid = vid
      if (op.generation !== undefined) v.generation = op.generation
    }
    if (op.f === 'create' && op.objectSize !== undefined) v.objectSize = op.objectSize
    if (op.f === 'delete') {
      if (op.outcome === 'ok') { if (v.okDelete === undefined || op.complete < v.okDelete.complete) v.okDelete = op } else if (op.outcome !== 'fail') v.maybeDeleted = true
    }
    const obj = (i: number): ObjModel => {
      let o = v!.objects.get(i)
      if (o === undefined) v!.objects.set(i, (o = { writes: [], discards: [], reads: [] }))
      return o
    }
    if (op.f === 'write' && op.index !== undefined) obj(op.index).writes.push(op)
    if (op.f === 'read' && op.index !== undefined) obj(op.index).reads.push(op)
    if (op.f === 'discard') for (const i of op.indexes ?? []) obj(i).discards.push(op)
  }
  for (const fv of finalVdis) {
    const v = vdis.get(fv.name)
    if (v === undefined || v.vid !== undefined) continue
    try { v.vid = parseVid(fv.vid); v.generation = fv.generation } catch {}
  }
  return vdis
}

export function coversOf (vdis: Map<string, VdiModel>): Cover[] {
  const out: Cover[] = []
  const byVid = new Map<number, VdiModel[]>()
  for (const v of vdis.values()) if (v.vid !== undefined) push(byVid, v.vid, v)
  for (const v of vdis.values()) {
    if (v.vid === undefined) continue
    if (v.okDelete !== undefined) {
      // a later VDI at the same vid ends the window when its create was invoked
      let end = Infinity
      for (const u of byVid.get(v.vid)!) {
        if (u === v || u.born <= v.born) continue
        if (u.generation !== undefined && v.generation !== undefined && u.generation <= v.generation) continue
        end = Math.min(end, u.born)
      }
      out.push({ kind: 'vdi', op: v.okDelete, vdi: v, vid: v.vid, generation: v.okDelete.generation ?? v.generation, ack: v.okDelete.complete, end })
      continue
    }
    // discards of a VDI that was not deleted (a deleted one covers them all)
    const byOp = new Map<Op, Set<number>>()
    for (const [index, o] of v.objects) {
      for (const d of o.discards) {
        if (d.outcome !== 'ok') continue
        // a write in flight (or of unknown outcome) when the discard began may win: not covered
        if (o.writes.some((w) => w.outcome !== 'fail' && w.invoke < d.invoke && w.complete > d.invoke)) continue
        let s = byOp.get(d)
        if (s === undefined) byOp.set(d, (s = new Set()))
        s.add(index)
      }
    }
    for (const [d, indexes] of byOp) {
      let end = Infinity
      for (const i of indexes) {
        for (const w of v.objects.get(i)!.writes) if (w.outcome !== 'fail' && w.invoke >= d.invoke) end = Math.min(end, w.invoke)
      }
      out.push({ kind: 'discard', op: d, vdi: v, vid: v.vid, generation: v.generation, ack: d.complete, end, indexes })
    }
  }
  return out
}

/** The non-failed writes that count for the object's final content, or undefined when a discard of unknown outcome makes it unjudgeable. */
export function considered (o: ObjModel): Op[] | undefined {
  let after = -Infinity
  for (const d of o.discards) {
    if (d.outcome === 'fail') continue
    if (d.outcome !== 'ok') return undefined
    after = Math.max(after, d.complete)
  }
  return o.writes.filter((w) => w.outcome !== 'fail' && w.invoke > after && w.value !== undefined)
}

/**
 * When absence of data object `index` of a deleted VDI proves a purge: after the ack and after
 * every write to it completed (failed ones too: cheap caution; unknown ones never complete).
 */
export function writesSettled (v: VdiModel, index: number, ack: number): number {
  let t = ack
  for (const w of v.objects.get(index)?.writes ?? []) t = Math.max(t, w.complete)
  return t
}

/** index of the first sample with t0 > t (samples sorted by t0) */
export function firstAfter (list: NodeSample[], t: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.t0 > t) hi = mid
    else lo = mid + 1
  }
  return lo
}

export function holdsAny (s: NodeSample, c: Cover): boolean {
  for (const g of s.held) {
    if ((g.high & MAX_VID) !== c.vid || (g.high & HIGH_RESERVED_MASK) !== 0) continue
    if (c.kind === 'vdi') return true
    if ((g.high & HIGH_FLAG_MASK) !== 0) continue
    for (const low of g.lows) if (c.indexes!.has(low)) return true
  }
  return false
}

/**
 * For triage: a node that held the oid after the ack and then dropped it had learned the delete
 * (a purge undone); one first seen without it may simply not have held it yet (e.g. a copy
 * between two nodes that both missed the delete, on the minority side of a partition).
 */
export function howBack (list: NodeSample[], prev: number, c: Cover): string {
  return prev >= 0 && list[prev]!.t0 > c.ack
    ? `; it had held it at ${ms(list[prev]!.t0)} after the ack and purged it (a purge undone)`
    : '; it was not seen holding it after the ack before (a copy from a node that missed the delete?)'
}

export function describe (c: Cover): string {
  return c.kind === 'vdi'
    ? `delete of VDI ${c.vdi.name} (op ${c.op.id}, acked at ${ms(c.ack)})`
    : `discard of VDI ${c.vdi.name} objects ${[...c.indexes!].join(',')} (op ${c.op.id}, acked at ${ms(c.ack)})`
}

export function quantiles (values: number[]): Quantiles {
  const a = [...values].sort((x, y) => x - y)
  const q = (p: number): number => a.length === 0 ? 0 : round3(a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))]!)
  return { count: a.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: a.length === 0 ? 0 : round3(a[a.length - 1]!) }
}

export function oidKey (high: number, low: number): string {
  return (high >>> 0).toString(16).padStart(8, '0') + (low >>> 0).toString(16).padStart(8, '0')
}

export function fmtVid (vid: number): string {
  return vid.toString(16).padStart(6, '0')
}

export function ms (t: number): string {
  return `${round3(t)} ms`
}

export function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}

export function push<K, V> (m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k)
  if (l === undefined) m.set(k, [v])
  else l.push(v)
}
