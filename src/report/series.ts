// Turns a soak's records into the report's plots (pure): fault bands from the history's
// nemesis events, purge latency p50/p99 per time window and heal → converged per heal from
// the history checker's series, and per-node lines from metrics.jsonl (heap, RSS, event-loop
// lag, tombstone records live vs folded, anti-entropy bytes/s, objects). The set of plots is
// fixed (PLOT_IDS), so a report always has the same plots; one without data says so.
import type { HistoryEvent, NemesisEvent } from '../chaos/history.js'
import { quantiles } from '../check/history.js'
import type { MetricsLine } from '../soak/scraper.js'
import type { Band, PlotOptions, Series } from './svg.js'

export const PLOT_IDS = ['purge', 'heal', 'heap', 'rss', 'lag', 'tombstones', 'ae', 'objects'] as const

/** a fault from its injection to its heal (a fault never healed runs to `end`) */
export function faultBands (history: HistoryEvent[], end: number): Band[] {
  const open = new Map<string, { from: number, label: string }>()
  const out: Band[] = []
  const ok = (e: NemesisEvent): boolean => e.value === undefined || typeof e.value !== 'object' || !('error' in (e.value as object))
  for (const e of history) {
    if (e.type !== 'nemesis' || !ok(e)) continue
    const v = typeof e.value === 'string' ? e.value : ''
    const close = (key: string): void => {
      const b = open.get(key)
      if (b === undefined) return
      out.push({ from: b.from, to: e.time, label: b.label })
      open.delete(key)
    }
    switch (e.f) {
      case 'partition': if (!open.has('partition')) open.set('partition', { from: e.time, label: `partition ${v}` }); break
      case 'heal': close('partition'); break
      case 'kill': open.set(`kill ${v}`, { from: e.time, label: `kill node ${v}` }); break
      case 'start': close(`kill ${v}`); break
      case 'pause': open.set(`pause ${v}`, { from: e.time, label: `pause node ${v}` }); break
      case 'resume': close(`pause ${v}`); break
    }
  }
  for (const b of open.values()) out.push({ from: b.from, to: end, label: `${b.label} (not healed)` })
  return out.sort((a, b) => a.from - b.from)
}

/** purge latencies [ack, ms] → p50 and p99 per window, at the window's middle */
export function purgeWindows (purge: Array<[number, number]>, windowMs: number): Series[] {
  const bins = new Map<number, number[]>()
  for (const [t, ms] of purge) {
    const k = Math.floor(t / windowMs)
    const l = bins.get(k)
    if (l === undefined) bins.set(k, [ms])
    else l.push(ms)
  }
  const keys = [...bins.keys()].sort((a, b) => a - b)
  const at = (k: number): number => (k + 0.5) * windowMs
  const qs = keys.map((k) => quantiles(bins.get(k)!))
  return [
    { name: 'p50', points: keys.map((k, i) => [at(k), qs[i]!.p50]) },
    { name: 'p99', points: keys.map((k, i) => [at(k), qs[i]!.p99]) }
  ]
}

type Plot = Omit<PlotOptions, 'bands' | 'xMin' | 'xMax'>

export interface CheckerSeries { purge: Array<[number, number]>, heals: Array<[number, number | null]> }

export function buildPlots (metrics: MetricsLine[], checker: CheckerSeries | undefined, spanMs: number): Plot[] {
  const nodes = [...new Set(metrics.map((l) => l.node))].sort((a, b) => a - b)
  const perNode = (key: string, name = (n: number) => `node ${n}`): Series[] =>
    nodes.map((n) => ({ name: name(n), points: metrics.filter((l) => l.node === n).flatMap((l) => { const v = family(l, key); return v === undefined ? [] : [[l.t, v] as [number, number]] }) }))
  const window = Math.max(10_000, Math.ceil(spanMs / 30 / 1000) * 1000)
  return [
    { id: 'purge', title: `purge latency (delete acked → purged on every node), p50 / p99 per ${window / 1000} s window`, unit: 'ms', series: purgeWindows(checker?.purge ?? [], window), dots: true },
    { id: 'heal', title: 'heal → converged (every heal; interrupted heals are left out)', unit: 'ms', series: [{ name: 'heal → converged', points: (checker?.heals ?? []).filter((h) => h[1] !== null) }], dots: true },
    { id: 'heap', title: 'heap used per node', unit: 'bytes', series: perNode('nodejs_heap_size_used_bytes') },
    { id: 'rss', title: 'resident memory (RSS) per node', unit: 'bytes', series: perNode('process_resident_memory_bytes') },
    { id: 'lag', title: 'event-loop lag p99 per node', unit: 's', series: perNode('nodejs_eventloop_lag_p99_seconds') },
    {
      id: 'tombstones',
      title: 'tombstone records: live (delete log) vs folded (total)',
      unit: 'count',
      series: [...perNode('bw_delete_log_records', (n) => `node ${n} live`), ...perNode('bw_tombstone_records_folded_total', (n) => `node ${n} folded`)]
    },
    { id: 'ae', title: 'anti-entropy bytes/s per node', unit: 'bytes/s', series: nodes.map((n) => ({ name: `node ${n}`, points: rate(metrics.filter((l) => l.node === n), 'bw_ae_session_bytes_sum') })) },
    { id: 'objects', title: 'objects per node', unit: 'count', series: perNode('bw_objects') }
  ]
}

/** a family's value in one scrape, summed over its label sets (`bw_ae_session_bytes_sum{role=…}`); undefined when absent */
export function family (l: MetricsLine, name: string): number | undefined {
  if (l.m === undefined) return undefined
  let sum: number | undefined
  for (const [k, v] of Object.entries(l.m)) {
    if (k === name || (k.startsWith(name) && k[name.length] === '{')) sum = (sum ?? 0) + v
  }
  return sum
}

/** per-second rate of a counter between scrapes; a restart (counter went down) breaks the line */
export function rate (lines: MetricsLine[], key: string): Array<[number, number | null]> {
  const out: Array<[number, number | null]> = []
  let prev: { t: number, v: number } | undefined
  for (const l of lines) {
    const v = family(l, key)
    if (v === undefined) continue
    if (prev !== undefined && l.t > prev.t) out.push([l.t, v < prev.v ? null : (v - prev.v) / ((l.t - prev.t) / 1000)])
    prev = { t: l.t, v }
  }
  return out
}
