// The numbers a run ends with: rounds (gossip or anti-entropy hops) and virtual time until a
// delete is known and purged everywhere, after a delete in a healthy cluster and after the
// last heal; anti-entropy bytes per node since that heal; tombstone state per node (log
// records, floor entries, per-peer entries) at the end and its peak over the run.

import type { AeStats } from './aeSessions.js'
import type { MeshStats } from './mesh.js'
import type { NetStats } from './network.js'
import type { SimNode } from './simNode.js'
import type { Tracker } from './tracker.js'

export interface Dist { n: number, median: number, p90: number, max: number }

/** one healthy delete: hops to the farthest node, and ms until known everywhere and purged everywhere (NaN: never) */
export interface DeleteSample { rounds: number, knownMs: number, purgedMs: number, convergedMs: number }

export interface SimSummary {
  virtualMs: number
  afterDelete: { deletes: number, notKnownEverywhere: number, knownMs: Dist, rounds: Dist, purgedMs: Dist, samples: DeleteSample[] }
  afterHeal: {
    at: number | null
    deletes: number
    notKnownEverywhere: number
    knownMs: Dist
    rounds: Dist
    purgedMs: Dist
    aeBytesPerNode: number
    /** heal → every delete pending at the heal known and purged everywhere (NaN: never, or no heal) */
    convergedMs: number
    /** the most hops since the heal over those deletes */
    maxRounds: number
    /** anti-entropy bytes per node from the heal to that tick (NaN: never converged) */
    aeBytesPerNodeToConverge: number
  }
  tombstones: { maxLog: number, meanLog: number, maxFloor: number, meanFloor: number, maxPeerState: number, meanPeerState: number, peakLog: number }
  gc: { folded: number, rounds: number, resets: number }
  nodes: { purged: number, refusedPulls: number, gatedLists: number, servedLists: number, recoveries: number, rejected: number }
  ae: AeStats
  net: NetStats
  mesh: MeshStats
}

/** what summarize reads of the simulator */
export interface SummarySource {
  queue: { now: number }
  nodes: readonly SimNode[]
  tracker: Tracker
  aeStats: AeStats
  aeBytesTotal: number
  aeBytesAtHeal: number
  aeBytesAtHealConverged: number
  net: { stats: NetStats }
  mesh: { stats: MeshStats }
  tombstoneSeries: ReadonlyArray<{ maxLog: number }>
}

export function dist (xs: number[]): Dist {
  if (xs.length === 0) return { n: 0, median: NaN, p90: NaN, max: NaN }
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { n: s.length, median: at(0.5), p90: at(0.9), max: s[s.length - 1]! }
}

export function summarize (w: SummarySource): SimSummary {
  const n = w.nodes.length
  const healthy = w.tracker.deletes.filter((d) => !d.fault)
  const lastHeal = w.tracker.heals.length > 0 ? w.tracker.heals[w.tracker.heals.length - 1]! : null
  const pending = lastHeal === null ? [] : w.tracker.deletes.filter((d) => d.healAt === lastHeal && !d.knownAllAtHeal)
  const samples = healthy.map((d): DeleteSample => {
    const knownMs = d.knownAllAt >= 0 ? d.knownAllAt - d.at : NaN
    const purgedMs = d.purgedAt >= 0 ? Math.max(0, d.purgedAt - d.at) : NaN
    return { rounds: d.maxHops, knownMs, purgedMs, convergedMs: Math.max(knownMs, purgedMs) }
  })
  // NaN when a pending delete never converged (Math.max of a NaN is NaN)
  const healConverged = lastHeal === null || pending.length === 0
    ? (lastHeal === null ? NaN : 0)
    : Math.max(...pending.map((d) => Math.max(d.knownAllAt >= 0 ? d.knownAllAt : NaN, d.purgedAtHeal ? d.knownAllAt : d.purgedAt >= 0 ? d.purgedAt : NaN) - lastHeal))
  let maxLog = 0; let sumLog = 0; let maxFloor = 0; let sumFloor = 0; let maxPeers = 0; let sumPeers = 0
  const gc = { folded: 0, rounds: 0, resets: 0 }
  const ns = { purged: 0, refusedPulls: 0, gatedLists: 0, servedLists: 0, recoveries: 0, rejected: 0 }
  for (const node of w.nodes) {
    const t = node.tombstones()
    maxLog = Math.max(maxLog, t.log); sumLog += t.log
    maxFloor = Math.max(maxFloor, t.floor); sumFloor += t.floor
    maxPeers = Math.max(maxPeers, t.peers); sumPeers += t.peers
    gc.folded += node.replica.folded; gc.rounds += node.replica.rounds; gc.resets += node.replica.resets
    for (const k of Object.keys(ns) as Array<keyof typeof ns>) ns[k] += node.stats[k]
  }
  return {
    virtualMs: w.queue.now,
    afterDelete: {
      deletes: healthy.length,
      notKnownEverywhere: healthy.filter((d) => d.knownAllAt < 0).length,
      knownMs: dist(healthy.filter((d) => d.knownAllAt >= 0).map((d) => d.knownAllAt - d.at)),
      rounds: dist(healthy.map((d) => d.maxHops)),
      purgedMs: dist(healthy.filter((d) => d.purgedAt >= 0).map((d) => d.purgedAt - d.at)),
      samples
    },
    afterHeal: {
      at: lastHeal,
      deletes: pending.length,
      notKnownEverywhere: pending.filter((d) => d.knownAllAt < 0).length,
      knownMs: dist(pending.filter((d) => d.knownAllAt >= 0).map((d) => d.knownAllAt - lastHeal!)),
      rounds: dist(pending.map((d) => d.healHops)),
      purgedMs: dist(pending.filter((d) => !d.purgedAtHeal && d.purgedAt >= 0).map((d) => d.purgedAt - lastHeal!)),
      aeBytesPerNode: lastHeal === null ? 0 : (w.aeBytesTotal - w.aeBytesAtHeal) / n,
      convergedMs: healConverged,
      maxRounds: pending.reduce((m, d) => Math.max(m, d.healHops), 0),
      aeBytesPerNodeToConverge: lastHeal === null || w.aeBytesAtHealConverged < 0 ? NaN : (w.aeBytesAtHealConverged - w.aeBytesAtHeal) / n
    },
    tombstones: {
      maxLog,
      meanLog: sumLog / n,
      maxFloor,
      meanFloor: sumFloor / n,
      maxPeerState: maxPeers,
      meanPeerState: sumPeers / n,
      peakLog: w.tombstoneSeries.reduce((m, s) => Math.max(m, s.maxLog), maxLog)
    },
    gc,
    nodes: ns,
    ae: { ...w.aeStats },
    net: { ...w.net.stats },
    mesh: { ...w.mesh.stats }
  }
}

const ms = (x: number): string => (Number.isNaN(x) ? '-' : `${(x / 1000).toFixed(2)} s`)
const num = (x: number): string => (Number.isNaN(x) ? '-' : String(x))

export function formatSummary (s: SimSummary): string[] {
  const d = s.afterDelete
  const h = s.afterHeal
  const t = s.tombstones
  return [
    `summary (virtual ${(s.virtualMs / 1000).toFixed(1)} s):`,
    `  after a delete (${d.deletes} in a healthy cluster): known everywhere in median ${ms(d.knownMs.median)} / p90 ${ms(d.knownMs.p90)} / max ${ms(d.knownMs.max)}, ` +
      `rounds (hops) median ${num(d.rounds.median)} / max ${num(d.rounds.max)}, purged everywhere in median ${ms(d.purgedMs.median)} / max ${ms(d.purgedMs.max)}` +
      (d.notKnownEverywhere > 0 ? `, ${d.notKnownEverywhere} never known everywhere` : ''),
    h.at === null
      ? '  after a heal: no heal in this run'
      : `  after the last heal (t=${(h.at / 1000).toFixed(1)} s, ${h.deletes} deletes not yet known everywhere): known everywhere in median ${ms(h.knownMs.median)} / max ${ms(h.knownMs.max)}, ` +
        `rounds (hops since the heal) median ${num(h.rounds.median)} / max ${num(h.rounds.max)}, purged everywhere in median ${ms(h.purgedMs.median)} / max ${ms(h.purgedMs.max)}, ` +
        `anti-entropy ${(h.aeBytesPerNode / 1024).toFixed(2)} KiB per node since the heal`,
    `  tombstones per node at the end: log max ${t.maxLog} / mean ${t.meanLog.toFixed(2)} (peak ${t.peakLog}), floor max ${t.maxFloor} / mean ${t.meanFloor.toFixed(2)}, per-peer entries max ${t.maxPeerState} / mean ${t.meanPeerState.toFixed(1)}`,
    `  gc: ${s.gc.folded} records folded, ${s.gc.rounds} rounds, ${s.gc.resets} resets; purged ${s.nodes.purged} copies; recovery: ${s.nodes.recoveries} passes, ${s.nodes.gatedLists} lists held for a session first, ${s.nodes.refusedPulls} covered pulls refused`,
    `  anti-entropy: ${s.ae.started} sessions started, ${s.ae.clean} sides ended clean, ${s.ae.failed} failed, ${s.ae.frames} frames; ` +
      `gossip: ${s.mesh.published} published, ${s.mesh.forwarded} forwarded, ${s.mesh.duplicates} duplicates, ${s.mesh.ihave} IHAVE, ${s.mesh.iwant} IWANT`,
    `  network: ${s.net.sent} sent, ${s.net.delivered} delivered, ${s.net.lost} lost, ${s.net.cut} cut, ${s.net.duplicated} duplicated, ${(s.net.bytes / 1048576).toFixed(1)} MiB`
  ]
}
