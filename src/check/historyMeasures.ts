// The measures of a judged history that are not findings against the invariants: stale caches
// at the end, purge latency per acknowledged delete/discard, heal → converged, and read
// anomalies during the run (reported, not judged). Each takes the model history.ts built.

import type { NemesisEvent, SampleEvent } from '../chaos/history.js'
import { zeroDigest } from '../chaos/history.js'
import { formatOid, vidToDataOid } from '../oid.js'
import type { FinalNodeState, HistoryFinding, HistoryReport } from './historyReport.js'
import { firstAfter, holdsAny, quantiles, round3, type Cover, type NodeSample, type VdiModel } from './historyModel.js'

const HEALS = new Set(['heal', 'resume', 'start'])

/** Per node, every oid in the cache but not on disk or on disk but not in the cache (GET /check). */
export function staleCaches (answered: FinalNodeState[]): HistoryFinding[] {
  const stale: HistoryFinding[] = []
  for (const n of answered) {
    const c = n.check!
    for (const oid of c.onlyInCache) stale.push({ oid, node: n.node, detail: `node ${n.node}: in the object list cache, not on disk` })
    for (const oid of c.onlyOnDisk) stale.push({ oid, node: n.node, detail: `node ${n.node}: on disk, not in the object list cache` })
    if (!c.cacheEqualsDisk && c.onlyInCache.length === 0 && c.onlyOnDisk.length === 0) {
      stale.push({ oid: '', node: n.node, detail: `node ${n.node} reports cache != disk without naming an oid` })
    }
  }
  return stale
}

/** Per cover, ack → the first complete sample showing none of its oids, slowest node. */
export function purgeLatencies (covers: Cover[], byNode: Map<number, NodeSample[]>): { latencies: number[], purgeSeries: Array<[number, number]>, notPurged: number, unobserved: number } {
  const latencies: number[] = []
  const purgeSeries: Array<[number, number]> = []
  let notPurged = 0
  let unobserved = 0
  for (const c of covers) {
    let worst = -1
    let seen = false
    let never = false
    for (const list of byNode.values()) {
      let any = false
      let at: number | undefined
      for (let k = firstAfter(list, c.ack); k < list.length; k++) {
        const s = list[k]!
        if (s.t0 >= c.end) break
        if (!s.valid) continue
        any = true
        if (!holdsAny(s, c)) { at = s.t1; break }
      }
      if (!any) continue
      seen = true
      if (at === undefined) never = true
      else worst = Math.max(worst, at - c.ack)
    }
    if (!seen) unobserved++
    else if (never) notPurged++
    else {
      latencies.push(worst)
      purgeSeries.push([c.ack, round3(worst)])
    }
  }
  purgeSeries.sort((a, b) => a[0] - b[0])
  return { latencies, purgeSeries, notPurged, unobserved }
}

/**
 * When a delete acked at `ack` is stable: the end of the first sample round at or after `ack` in
 * which every node answered completely (none down, paused or cut short) and all agree on the
 * delete log, so every node holds the record; Infinity if no such round came.
 */
export function stabilityTimes (rounds: SampleEvent[]): (ack: number) => number {
  const ends: Array<[number, number]> = []
  for (const s of rounds) {
    if (s.nodes.length === 0) continue
    if (!s.nodes.every((n) => n.down !== true && n.error === undefined && n.truncated !== true && n.count !== undefined)) continue
    if (new Set(s.nodes.map((n) => n.fp ?? '')).size !== 1) continue
    ends.push([s.time, Math.max(...s.nodes.map((n) => n.t1))])
  }
  return (ack) => {
    let lo = 0
    let hi = ends.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (ends[mid]![0] < ack) lo = mid + 1
      else hi = mid
    }
    return lo < ends.length ? ends[lo]![1] : Infinity
  }
}

/** The last heal → converged, and every heal's time to converge before the next fault. */
export function healConvergence (rounds: SampleEvent[], nemesis: NemesisEvent[]): Pick<HistoryReport, 'healToConverged' | 'healsConverged'> & { healSeries: Array<[number, number | null]> } {
  // a round is converged when every running node answered completely, all agree on the
  // delete log, and none holds a covered oid
  const convergedEnd = (s: SampleEvent): number | null => {
    const up = s.nodes.filter((n) => n.down !== true)
    const complete = up.length > 0 && up.every((n) => n.error === undefined && n.truncated !== true && n.count !== undefined)
    if (!complete) return null
    if (new Set(up.map((n) => n.fp ?? '')).size !== 1) return null
    if (up.some((n) => (n.heldCount ?? 0) > 0)) return null
    return Math.max(...up.map((n) => n.t1))
  }
  let healToConverged: HistoryReport['healToConverged'] = null
  const heals = nemesis.filter((e) => HEALS.has(e.f)).sort((a, b) => a.time - b.time)
  if (heals.length > 0) {
    const lastHeal = heals[heals.length - 1]!.time
    let convergedAt: number | null = null
    for (const s of rounds) {
      if (s.time < lastHeal) continue
      convergedAt = convergedEnd(s)
      if (convergedAt !== null) break
    }
    healToConverged = { lastHeal, convergedAt, ms: convergedAt === null ? null : round3(convergedAt - lastHeal) }
  }
  // every heal of the run: converged before the next fault began, or interrupted by it
  const faults = nemesis.filter((e) => !HEALS.has(e.f) && e.f !== 'skew').map((e) => e.time).sort((a, b) => a - b)
  const healMs: number[] = []
  const healSeries: Array<[number, number | null]> = []
  let interrupted = 0
  let r = 0
  let fi = 0
  for (const h of heals) {
    while (fi < faults.length && faults[fi]! <= h.time) fi++
    const nextFault = faults[fi] ?? Infinity
    while (r < rounds.length && rounds[r]!.time < h.time) r++
    let done: number | null = null
    for (let k = r; k < rounds.length && rounds[k]!.time < nextFault; k++) {
      done = convergedEnd(rounds[k]!)
      if (done !== null) break
    }
    if (done === null) interrupted++
    else healMs.push(round3(done - h.time))
    healSeries.push([h.time, done === null ? null : round3(done - h.time)])
  }
  const healsConverged = heals.length === 0 ? null : { ...quantiles(healMs), interrupted }
  return { healToConverged, healsConverged, healSeries }
}

/** ok reads that returned content never written (unexpected) or a superseded value (stale). */
export function readAnomalies (vdis: Map<string, VdiModel>): { readFindings: HistoryFinding[], readsChecked: number, unexpected: number, staleReads: number } {
  const readFindings: HistoryFinding[] = []
  let readsChecked = 0
  let unexpected = 0
  let staleReads = 0
  for (const v of vdis.values()) {
    if (v.vid === undefined) continue
    for (const [index, o] of v.objects) {
      for (const r of o.reads) {
        if (r.outcome !== 'ok' || r.value === undefined) continue
        readsChecked++
        const oid = formatOid(vidToDataOid(v.vid, index))
        const cands = o.writes.filter((w) => w.outcome !== 'fail' && w.invoke < r.complete)
        const okBefore = o.writes.filter((w) => w.outcome === 'ok' && w.complete < r.invoke)
        const w = cands.find((x) => x.value!.digest === r.value!.digest)
        if (w !== undefined) {
          const over = okBefore.find((w2) => w2.invoke > w.complete)
          if (over !== undefined) {
            staleReads++
            readFindings.push({ oid, node: r.node, vdi: v.name, detail: `read op ${r.id} returned op ${w.id}'s value, superseded by op ${over.id} before the read began` })
          }
          continue
        }
        if (r.value.digest === zeroDigest(r.value.length)) {
          const discarded = o.discards.some((d) => d.outcome !== 'fail' && d.invoke < r.complete)
          if (okBefore.length > 0 && !discarded) {
            staleReads++
            readFindings.push({ oid, node: r.node, vdi: v.name, detail: `read op ${r.id} returned zeros after op ${okBefore[0]!.id} was acknowledged` })
          }
          continue
        }
        unexpected++
        readFindings.push({ oid, node: r.node, vdi: v.name, detail: `read op ${r.id} returned content never written to this object (${r.value.digest.slice(0, 12)}…)` })
      }
    }
  }
  return { readFindings, readsChecked, unexpected, staleReads }
}
