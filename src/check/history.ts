// The history checker (Jepsen's "checker"): judges a chaos run's operation history
// (src/chaos/history.ts) together with the cluster's final state (gathered after heal and
// quiescence: every running node's /check and live VDI list, plus a final read of every object
// the history needs). Pure: no I/O; gathering is src/check/gather.ts's business.
//
// Definitions (counts are of distinct oids unless said otherwise; every finding names its oid
// in hex, as formatOid prints it):
//   - an operation "happened" if it ended `ok`; `fail` certainly had no effect; `info` (or no
//     completion at all) may have taken effect at any time after its invoke.
//   - LOST: an object of a VDI that was not deleted (no `ok` delete; an `info` delete only if
//     the VDI is still live at the end) and not discarded since its acknowledged writes (writes
//     are considered only when invoked after every non-failed discard of the object completed;
//     an `info` discard excludes the object) with at least one acknowledged write, whose final
//     read does not return an ALLOWED content. Allowed: the value of an acknowledged write that
//     no other acknowledged write followed in real time (W is superseded by W2 when W2 was
//     invoked after W completed), or the value of any write of unknown outcome (it may have
//     landed last). Zeros (never written), an older acknowledged value, foreign content and an
//     unreadable object are all lost. Counted per object; the finding lists the acked writes.
//   - FALSELY PURGED ⊆ LOST: lost objects that no checked node holds at all (neither on disk
//     nor in its object list cache) although no delete or discard covered them: a purge (or the
//     loss of every replica) nobody asked for. Nodes that could not be asked do not count, so
//     an unanswered node turns a would-be "falsely purged" into a plain "lost" (with a note).
//   - COVERED: an oid of a VDI (vid, generation) whose delete was acknowledged, from the ack
//     until a later VDI reuses the vid (its create's invoke); or an object whose discard was
//     acknowledged, from the ack until the next write to it is invoked, unless a write to it
//     was in flight or of unknown outcome when the discard was invoked (such a write may carry
//     a newer version and legitimately bring it back).
//   - REVIVED: a covered oid that a node was observed WITHOUT (a complete sample whose request
//     was sent after the delete was STABLE and after every write to that object had completed —
//     an unknown write never completes) and then observed WITH (a later sample, or the final
//     state). Stable: the end of the first sample round after the ack in which every node
//     answered completely (none down) and all agree on the delete log (count, fingerprint,
//     floor hash), so every node holds the record. Before that no checker can ask for more: a
//     delete acknowledged by a node that is cut off right after the ack is known to it alone,
//     and two nodes that both lack it may pass a copy between them (recovery on the far side of
//     the cut) until the record reaches them, then both purge; a node never takes a copy its own
//     tombstones cover (the gate on every data path, tested on its own), and UNPURGED below
//     holds every acked delete to the end. Counted per oid; the finding names the node and both
//     times, and whether the node had held it after the ack (a purge undone) or not.
//   - UNPURGED: a covered oid still held at the end by some checked node, on disk (with a
//     generation the delete covers) or in its object list cache. A revived oid still held at
//     the end counts in both.
//   - STALE (caches): per node, every oid in the cache but not on disk or on disk but not in the
//     cache at the end (GET /check); counted per (node, oid).
//   - purge latency: per acknowledged delete/discard, from the ack to the answer of the first
//     complete sample showing none of its oids, taking the slowest node (only nodes sampled
//     inside the window count); resolution is the sample interval.
//   - heal → converged: from the last heal/resume/start nemesis event to the end of the first
//     sample round in which every running node answered completely, all agree on the delete log
//     (same count, fingerprint and floor hash) and none holds a covered oid.
//   - read anomalies (reported, not judged: reads during faults may be stale by design):
//     `unexpected` = an ok read returned content never written to that object (nor zeros);
//     `stale` = it returned zeros or a value superseded before the read was invoked.
// ok ⇔ lost, revived, unpurged, stale and falselyPurged are all zero.

import { decodeOidGroup, type HistoryEvent, HistoryError, isOpEvent, type NemesisEvent, type OpEvent, OP_FUNCTIONS, type SampleEvent, zeroDigest } from '../chaos/history.js'
import { formatOid, HIGH_FLAG_MASK, HIGH_RESERVED_MASK, MAX_VID, oidHigh, oidToIndex, tryParseOid, vidToDataOid } from '../oid.js'
import { DEFAULT_MAX_FINDINGS, type FinalState, type HistoryFinding, type HistoryReport, type OpCounts, type ReadPlanItem } from './historyReport.js'
import {
  buildModel, considered, coversOf, quantiles, describe, fmtVid, howBack, ms, oidKey, push, writesSettled,
  type Cover, type NodeSample, type Op
} from './historyModel.js'
import { healConvergence, purgeLatencies, readAnomalies, stabilityTimes, staleCaches } from './historyMeasures.js'

// the report types and quantiles are public through this module too (callers predate the split)
export { DEFAULT_MAX_FINDINGS } from './historyReport.js'
export type { FinalNodeState, FinalRead, FinalState, HistoryFinding, HistoryReport, OpCounts, Quantiles, ReadPlanItem } from './historyReport.js'
export { quantiles } from './historyModel.js'

export class HistoryJudge {
  private readonly ops = new Map<number, Op>()
  private readonly samples: SampleEvent[] = []
  private readonly nemesis: NemesisEvent[] = []
  private seed: string | undefined

  constructor (private readonly opts: { maxFindings?: number } = {}) {}

  /** Takes records in file order. Throws HistoryError when operations do not pair up. */
  add (e: HistoryEvent): void {
    if (isOpEvent(e)) return this.addOp(e)
    if (e.type === 'sample') this.samples.push(e)
    else if (e.type === 'nemesis') this.nemesis.push(e)
    else if (e.type === 'meta' && e.seed !== undefined) this.seed ??= e.seed
  }

  get runSeed (): string | undefined { return this.seed }

  private addOp (e: OpEvent): void {
    const cur = this.ops.get(e.id)
    if (e.type === 'invoke') {
      if (cur !== undefined) throw new HistoryError(`operation ${e.id} is invoked twice`)
      this.ops.set(e.id, {
        id: e.id,
        f: e.f,
        node: e.node,
        vdi: e.vdi,
        invoke: e.time,
        complete: Infinity,
        outcome: 'pending',
        vid: e.vid,
        generation: e.generation,
        index: e.index,
        indexes: e.indexes,
        value: e.f === 'write' ? e.value : undefined,
        objectSize: e.objectSize
      })
      return
    }
    if (cur === undefined) throw new HistoryError(`operation ${e.id} completes (${e.type}) without an invoke before it`)
    if (cur.outcome !== 'pending') throw new HistoryError(`operation ${e.id} completes twice (${cur.outcome}, then ${e.type})`)
    if (cur.f !== e.f || cur.vdi !== e.vdi) throw new HistoryError(`operation ${e.id}: completion (${e.f} ${e.vdi}) does not match its invoke (${cur.f} ${cur.vdi})`)
    if (e.time < cur.invoke) throw new HistoryError(`operation ${e.id} completes before it was invoked`)
    cur.outcome = e.type as Op['outcome']
    if (e.type !== 'info') cur.complete = e.time
    if (e.vid !== undefined) cur.vid = e.vid
    if (e.generation !== undefined) cur.generation = e.generation
    if (cur.f === 'read' && e.type === 'ok') {
      if (e.value === undefined) throw new HistoryError(`read ${e.id} is ok without a value`)
      cur.value = e.value
    }
  }

  /** The objects whose final content the judgement needs (read them all, through any node). */
  readPlan (): ReadPlanItem[] {
    const out: ReadPlanItem[] = []
    for (const v of buildModel(this.ops, []).values()) {
      if (v.vid === undefined || v.okDelete !== undefined) continue
      for (const [index, o] of v.objects) {
        const c = considered(o)
        if (c === undefined || !c.some((w) => w.outcome === 'ok')) continue
        const length = v.objectSize ?? c[0]!.value!.length
        out.push({ vdi: v.name, vid: fmtVid(v.vid), index, oid: formatOid(vidToDataOid(v.vid, index)), offset: index * length, length })
      }
    }
    return out
  }

  finish (final: FinalState): HistoryReport {
    const max = this.opts.maxFindings ?? DEFAULT_MAX_FINDINGS
    const notes: string[] = []
    const vdis = buildModel(this.ops, final.vdis, notes)
    const answered = final.nodes.filter((n) => n.check !== undefined)
    for (const n of final.nodes) if (n.check === undefined) notes.push(`node ${n.node} was not checked: ${n.error ?? 'no answer'}`)

    // who holds what at the end: oid → nodes (disk / cache)
    const heldAtEnd = new Map<string, Array<{ node: number; where: 'disk' | 'cache'; generation?: number }>>()
    const hold = (oid: string, h: { node: number; where: 'disk' | 'cache'; generation?: number }): void => {
      let l = heldAtEnd.get(oid)
      if (l === undefined) heldAtEnd.set(oid, (l = []))
      l.push(h)
    }
    for (const n of answered) {
      for (const o of n.check!.objects) hold(o.oid, { node: n.node, where: 'disk', generation: o.generation })
      for (const oid of n.check!.onlyInCache) hold(oid, { node: n.node, where: 'cache' })
    }

    // ---- lost / falsely purged ----
    const reads = new Map(final.reads.map((r) => [`${r.vdi}\0${r.index}`, r]))
    const lost: HistoryFinding[] = []
    const falselyPurged: HistoryFinding[] = []
    let objects = 0
    let ackedWrites = 0
    const liveAtEnd = new Map(final.vdis.map((v) => [v.name, v]))
    for (const v of vdis.values()) {
      if (v.okDelete !== undefined) continue
      const withAcked = [...v.objects].filter(([, o]) => o.writes.some((w) => w.outcome === 'ok'))
      if (withAcked.length === 0) continue
      if (v.vid === undefined) {
        notes.push(`VDI ${v.name}: vid unknown, ${withAcked.length} acknowledged object(s) not checked`)
        continue
      }
      if (v.maybeDeleted) {
        const end = liveAtEnd.get(v.name)
        if (end === undefined || end.vid !== fmtVid(v.vid)) continue // its delete of unknown outcome took effect
      }
      for (const [index, o] of withAcked) {
        const c = considered(o)
        if (c === undefined) continue
        const okW = c.filter((w) => w.outcome === 'ok')
        if (okW.length === 0) continue
        objects++
        ackedWrites += okW.length
        const last = okW.filter((w) => !okW.some((w2) => w2.invoke > w.complete))
        const allowed = new Set([...last, ...c.filter((w) => w.outcome !== 'ok')].map((w) => w.value!.digest))
        const oid = formatOid(vidToDataOid(v.vid, index))
        const r = reads.get(`${v.name}\0${index}`)
        if (r?.value !== undefined && allowed.has(r.value.digest)) continue
        const expect = `acked write${last.length > 1 ? 's' : ''} ${last.map((w) => `op ${w.id} (${w.value!.digest.slice(0, 12)}…)`).join(', ')}`
        let why: string
        if (r === undefined) why = 'was not read at the end'
        else if (r.value === undefined) why = `is unreadable at the end (${r.code ?? 'error'}: ${r.error ?? '?'})`
        else if (r.value.digest === zeroDigest(r.value.length)) why = 'reads as zeros (never written, or gone)'
        else {
          const older = o.writes.find((w) => w.value?.digest === r.value!.digest)
          why = older !== undefined
            ? `returns the older value of op ${older.id} (${older.outcome})`
            : `returns content never written to it (${r.value.digest.slice(0, 12)}…)`
        }
        const holders = heldAtEnd.get(oid) ?? []
        const f: HistoryFinding = { oid, vdi: v.name, detail: `VDI ${v.name} object ${index} ${why}; expected ${expect}; held by ${holders.length === 0 ? 'no checked node' : 'nodes ' + [...new Set(holders.map((x) => x.node))].join(',')}` }
        lost.push(f)
        if (holders.length === 0) {
          if (answered.length === final.nodes.length && answered.length > 0) falselyPurged.push(f)
          else notes.push(`${oid}: lost and held by no checked node, but not every node was checked`)
        }
      }
    }

    // ---- coverage windows ----
    const covers = coversOf(vdis)
    const vdiCovers = new Map<number, Cover[]>()
    const discardCovers = new Map<string, Cover[]>()
    for (const c of covers) {
      if (c.kind === 'vdi') push(vdiCovers, c.vid, c)
      else for (const i of c.indexes!) push(discardCovers, `${c.vid}:${i}`, c)
    }
    /** t is inside a window ending at `end` (t = Infinity is the end of the run: inside open windows) */
    const before = (t: number, end: number): boolean => end === Infinity || t < end
    /** the cover of (high, low) active at time t (Infinity: at the end), and the time from which absence counts */
    const coverAt = (high: number, low: number, t: number, generation?: number): { c: Cover; from: number } | undefined => {
      if ((high & HIGH_RESERVED_MASK) !== 0) return undefined
      const vid = high & MAX_VID
      const data = (high & HIGH_FLAG_MASK) === 0
      for (const c of vdiCovers.get(vid) ?? []) {
        if (generation !== undefined) {
          // an object on disk at the end: its own generation says whether the delete covers it
          // (a later VDI reusing the vid writes a newer one)
          if (c.generation !== undefined && generation > c.generation) continue
        } else if (t < c.ack || !before(t, c.end)) {
          continue
        }
        return { c, from: data ? writesSettled(c.vdi, low, c.ack) : c.ack }
      }
      if (!data) return undefined
      for (const c of discardCovers.get(`${vid}:${low}`) ?? []) {
        if (!before(t, c.end)) continue
        if (generation !== undefined && c.generation !== undefined && generation !== c.generation) continue
        return { c, from: c.ack }
      }
      return undefined
    }

    // ---- revived, from samples (and the final state) ----
    const byNode = new Map<number, NodeSample[]>()
    const rounds = [...this.samples].sort((a, b) => a.time - b.time)
    const stableAfter = stabilityTimes(rounds)
    /** absence counts from here: past the cover's own start and the delete's stability */
    const revivalFrom = (cv: { c: Cover, from: number }): number => Math.max(cv.from, stableAfter(cv.c.ack))
    for (const s of rounds) {
      for (const n of s.nodes) {
        const valid = n.down !== true && n.error === undefined && n.truncated !== true && n.count !== undefined
        const ns: NodeSample = { t0: n.t0, t1: n.t1, valid, held: (n.held ?? []).map(decodeOidGroup), heldCount: n.heldCount ?? 0 }
        push(byNode, n.node, ns)
      }
    }
    for (const l of byNode.values()) l.sort((a, b) => a.t0 - b.t0)
    const revived = new Map<string, HistoryFinding>()
    const lastHeldByNode = new Map<number, Map<string, number>>()
    for (const [node, list] of byNode) {
      const lastHeld = new Map<string, number>()
      lastHeldByNode.set(node, lastHeld)
      let lastValid = -1
      for (let k = 0; k < list.length; k++) {
        const s = list[k]!
        for (const g of s.held) {
          for (const low of g.lows) {
            const key = oidKey(g.high, low)
            const prev = lastHeld.get(key) ?? -1
            lastHeld.set(key, k)
            const cv = coverAt(g.high, low, s.t0)
            if (cv === undefined || lastValid <= prev) continue
            const m = list[lastValid]!
            if (m.t0 > revivalFrom(cv) && m.t0 < cv.c.end && !revived.has(key)) {
              revived.set(key, { oid: key, node, vdi: cv.c.vdi.name, detail: `node ${node} did not hold it at ${ms(m.t0)} (after the ${describe(cv.c)}), held it again at ${ms(s.t0)}${howBack(list, prev, cv.c)}` })
            }
          }
        }
        if (s.valid) lastValid = k
      }
    }

    // ---- unpurged (and revived at the end) ----
    const unpurged = new Map<string, HistoryFinding>()
    for (const [oid, holders] of heldAtEnd) {
      const parsed = tryParseOid(oid)
      if (parsed === undefined) continue
      const high = oidHigh(parsed)
      const low = oidToIndex(parsed)
      for (const h of holders) {
        const cv = coverAt(high, low, Infinity, h.generation)
        if (cv === undefined) continue
        const f = unpurged.get(oid)
        const where = `node ${h.node} (${h.where})`
        if (f === undefined) unpurged.set(oid, { oid, node: h.node, vdi: cv.c.vdi.name, detail: `still held at the end by ${where} after the ${describe(cv.c)}` })
        else f.detail += `, ${where}`
        const list = byNode.get(h.node) ?? []
        const prev = lastHeldByNode.get(h.node)?.get(oid) ?? -1
        let lastValid = -1
        for (let k = list.length - 1; k > prev; k--) if (list[k]!.valid && list[k]!.t0 < cv.c.end) { lastValid = k; break }
        if (lastValid > prev && list[lastValid]!.t0 > revivalFrom(cv) && !revived.has(oid)) {
          revived.set(oid, { oid, node: h.node, vdi: cv.c.vdi.name, detail: `node ${h.node} did not hold it at ${ms(list[lastValid]!.t0)} (after the ${describe(cv.c)}), holds it at the end${howBack(list, prev, cv.c)}` })
        }
      }
    }

    const stale = staleCaches(answered)
    const { latencies, purgeSeries, notPurged, unobserved } = purgeLatencies(covers, byNode)
    const { healToConverged, healsConverged, healSeries } = healConvergence(rounds, this.nemesis)
    const { readFindings, readsChecked, unexpected, staleReads } = readAnomalies(vdis)

    const counts = { lost: lost.length, revived: revived.size, unpurged: unpurged.size, stale: stale.length, falselyPurged: falselyPurged.length }
    const cap = <T>(a: Iterable<T>): T[] => [...a].slice(0, max)
    return {
      ok: Object.values(counts).every((n) => n === 0),
      counts,
      lost: cap(lost),
      falselyPurged: cap(falselyPurged),
      revived: cap(revived.values()),
      unpurged: cap(unpurged.values()),
      stale: cap(stale),
      ops: this.opCounts(),
      checked: {
        objects,
        ackedWrites,
        deletes: covers.filter((c) => c.kind === 'vdi').length,
        discards: covers.filter((c) => c.kind === 'discard').length,
        sampleRounds: rounds.length,
        nodes: final.nodes.length,
        nodesAnswered: answered.length
      },
      reads: { checked: readsChecked, unexpected, stale: staleReads, findings: cap(readFindings) },
      purgeLatency: latencies.length + notPurged + unobserved === 0 ? null : { ...quantiles(latencies), notPurged, unobserved },
      healToConverged,
      healsConverged,
      series: { purge: purgeSeries, heals: healSeries },
      notes: cap(notes)
    }
  }

  /**
   * Mid-run judgement for a soak, which cannot stop the workload for a consistent cut: the
   * covered oids still held in a node's latest complete sample although the delete/discard
   * covering them was acknowledged (and every write to the object settled) more than `lagMs`
   * before that sample was taken. One finding per (oid, node).
   */
  overdue (lagMs: number, max = DEFAULT_MAX_FINDINGS): { count: number; findings: HistoryFinding[] } {
    const covers = coversOf(buildModel(this.ops, []))
    const byVid = new Map<number, Cover[]>()
    for (const c of covers) push(byVid, c.vid, c)
    const latest = new Map<number, SampleEvent['nodes'][number]>()
    for (const s of this.samples) {
      for (const n of s.nodes) {
        if (n.down === true || n.error !== undefined || n.truncated === true || n.count === undefined) continue
        const cur = latest.get(n.node)
        if (cur === undefined || n.t0 > cur.t0) latest.set(n.node, n)
      }
    }
    const findings: HistoryFinding[] = []
    let count = 0
    for (const n of latest.values()) {
      for (const g of (n.held ?? []).map(decodeOidGroup)) {
        if ((g.high & HIGH_RESERVED_MASK) !== 0) continue
        const data = (g.high & HIGH_FLAG_MASK) === 0
        for (const low of g.lows) {
          const c = (byVid.get(g.high & MAX_VID) ?? []).find((c) => n.t0 >= c.ack && n.t0 < c.end && (c.kind === 'vdi' || (data && c.indexes!.has(low))))
          if (c === undefined) continue
          const from = c.kind === 'vdi' && data ? writesSettled(c.vdi, low, c.ack) : c.ack
          if (n.t0 - from <= lagMs) continue
          count++
          if (findings.length < max) findings.push({ oid: oidKey(g.high, low), node: n.node, vdi: c.vdi.name, detail: `node ${n.node} still held it at ${ms(n.t0)}, ${ms(n.t0 - from)} after the ${describe(c)} (lag allowed ${lagMs} ms)` })
        }
      }
    }
    return { count, findings }
  }

  private opCounts (): OpCounts {
    const out = Object.fromEntries(OP_FUNCTIONS.map((f) => [f, { invoked: 0, ok: 0, fail: 0, info: 0 }])) as OpCounts
    for (const op of this.ops.values()) {
      const c = out[op.f]
      c.invoked++
      c[op.outcome === 'pending' ? 'info' : op.outcome]++
    }
    return out
  }
}

/** Judges a whole history at once (see HistoryJudge for streaming). */
export function judgeHistory (events: Iterable<HistoryEvent>, final: FinalState, opts: { maxFindings?: number } = {}): HistoryReport {
  const j = new HistoryJudge(opts)
  for (const e of events) j.add(e)
  return j.finish(final)
}
