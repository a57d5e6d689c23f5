// `bellwether report DIR` and the end of every soak: reads the soak's files (src/report/load.ts),
// judges what can be judged, draws the plots and writes DIR/report.html. A finished run's
// verdict is its summary.json's (the final check after the final heal). A run that never got
// there (killed, crashed) has only its history: the history checker is run here without a
// final state, so revived, overdue (past the periodic check's lag), purge latency and
// heal → converged are known, while lost, unpurged, stale and falsely purged are shown as not
// judged and the verdict is INCOMPLETE (FAILED if what was judged already failed).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HistoryJudge, type HistoryReport } from '../check/history.js'
import { DEFAULT_CHECK_LAG_MS } from '../soak/constants.js'
import { formatDuration } from '../cli/duration.js'
import { renderReport, type ReportRow, type Verdict } from './html.js'
import { loadSoakDir } from './load.js'
import { buildPlots, faultBands, PLOT_IDS } from './series.js'
import { growth, MIN_FIT_MS, WARMUP_MS, type NodeGrowth } from './growth.js'
import { linePlot } from './svg.js'

export interface ReportResult { file: string, verdict: Verdict, plots: number, complete: boolean }

const FAULT_KINDS = new Set(['partition', 'kill', 'pause', 'skew'])
const COUNTS = [['lost', 'lost'], ['revived', 'revived'], ['unpurged', 'unpurged'], ['stale', 'stale caches'], ['falselyPurged', 'falsely purged']] as const

export async function buildReport (dir: string): Promise<ReportResult> {
  const f = await loadSoakDir(dir)
  const s = f.summary
  const p = f.params ?? {}
  const notes = [...f.notes]
  const complete = s?.check?.history !== undefined
  let h: HistoryReport | undefined = complete ? s.check.history : undefined
  let overdue: number | undefined = s?.live?.maxOverdue
  if (h === undefined) {
    // no final check: judge the history as the periodic check does
    const j = new HistoryJudge({ maxFindings: 5 })
    try {
      for (const e of f.history) j.add(e)
      h = j.finish({ nodes: [], vdis: [], reads: [] })
      overdue = j.overdue(p.checkLagMs ?? DEFAULT_CHECK_LAG_MS).count
    } catch (err) {
      notes.push(`the history could not be judged: ${(err as Error).message}`)
    }
  }
  const end = Math.max(0, ...f.history.map((e) => e.time), ...f.metrics.map((l) => l.t))
  const bands = faultBands(f.history, end)
  const plots = buildPlots(f.metrics, h?.series, end).map((pl) => linePlot({ ...pl, bands, xMin: 0, xMax: end }))

  const nemesis = f.history.filter((e) => e.type === 'nemesis')
  const failedEvents = nemesis.filter((e) => typeof e.value === 'object' && e.value !== null && 'error' in (e.value as object)).length
  const faults = complete
    ? { injected: Object.values(s.cycles?.byKind ?? {}).reduce((a: number, b) => a + (b as number), 0), failed: s.cycles?.faultsFailed ?? 0, byKind: s.cycles?.byKind ?? {} }
    : { injected: nemesis.filter((e) => FAULT_KINDS.has(e.f)).length - failedEvents, failed: failedEvents, byKind: countBy(nemesis.filter((e) => FAULT_KINDS.has(e.f)).map((e) => e.f)) }

  const rows: ReportRow[] = []
  for (const [k, label] of COUNTS) {
    const judged = complete || k === 'revived'
    const v = judged && h !== undefined ? h.counts[k] : 'not judged'
    rows.push({ id: k, label, value: v, bad: typeof v === 'number' && v > 0, hint: judged ? undefined : 'needs the final check (the run ended before it)' })
  }
  rows.push({ id: 'overdue', label: 'overdue deletes (periodic check)', value: overdue ?? 'not judged', bad: (overdue ?? 0) > 0, hint: `covered oids still held more than ${formatDuration(p.checkLagMs ?? s?.live?.lagMs ?? DEFAULT_CHECK_LAG_MS)} after the ack` })
  if (complete) {
    rows.push({ id: 'endstate', label: 'end-state check', value: s.check.check?.ok === false ? 'FAILED' : 'ok', bad: s.check.check?.ok === false })
    rows.push({ id: 'converged', label: 'converged after the final heal', value: s.converged === true ? `yes (${formatDuration(s.convergeMs ?? 0)})` : 'NO', bad: s.converged !== true })
  }
  rows.push({ id: 'faults', label: 'faults injected', value: faults.injected, hint: Object.entries(faults.byKind).map(([k, n]) => `${k} ${String(n)}`).join(', ') })
  rows.push({ id: 'faults-failed', label: 'faults failed (inject or heal)', value: faults.failed, bad: faults.failed > 0 })
  const q = h?.purgeLatency
  rows.push({ id: 'purge', label: 'purge latency p50 / p99 / max', value: q == null || q.count === 0 ? 'no data' : `${q.p50} / ${q.p99} / ${q.max} ms`, hint: q == null ? undefined : `${q.count} deletes/discards purged everywhere, ${q.notPurged} not yet, ${q.unobserved} unobserved` })
  const hc = h?.healsConverged
  rows.push({ id: 'heals', label: 'heal → converged p50 / p99 / max', value: hc == null || hc.count === 0 ? 'no data' : `${hc.p50} / ${hc.p99} / ${hc.max} ms`, hint: hc == null ? undefined : `${hc.count} heals, ${hc.interrupted} interrupted by the next fault` })
  const g = growth(f.metrics)
  const slopes = g.nodes.filter((n) => n.heapSlopeMiBPerHour !== undefined)
  const worst = slopes.sort((a, b) => b.heapSlopeMiBPerHour! - a.heapSlopeMiBPerHour!)[0]
  rows.push({ id: 'heap-slope', label: 'heap floor growth, worst node', value: worst === undefined ? `no data (needs ${formatDuration(WARMUP_MS + MIN_FIT_MS)} of one process)` : `${fix(worst.heapSlopeMiBPerHour)} MiB/h (node ${worst.node})`, hint: 'least-squares slope of the lowest heap per 5 min after warm-up (a leak raises it; the sawtooth between collections does not); per node below' })
  if (g.load !== undefined) rows.push({ id: 'load', label: 'load average (1 min) min / median / max', value: `${g.load.min} / ${g.load.median} / ${g.load.max}`, hint: 'the machine under the run: latencies mean little on a loaded machine' })
  if (complete && s.errors?.length > 0) rows.push({ id: 'errors', label: 'errors', value: s.errors.length, bad: true, hint: String(s.errors[0]).slice(0, 300) })

  const judgedBad = rows.some((r) => r.bad === true)
  const verdict: Verdict = complete ? (s.ok === true ? 'OK' : 'FAILED') : (judgedBad ? 'FAILED' : 'INCOMPLETE')
  const reasons = verdict === 'OK'
    ? ['nothing lost, nothing came back, every delete purged']
    : [...rows.filter((r) => r.bad === true).map((r) => `${r.label}: ${r.value}`), ...(complete ? [] : ['the run ended before its final check (killed?): lost, unpurged, stale and falsely purged were not judged'])]
  const ops = h === undefined ? [] : Object.entries(h.ops).map(([k, c]) => ({ f: k, ...c }))
  const params: Array<[string, string]> = [
    ['directory', dir],
    ['seed', String(p.seed ?? s?.seed ?? '?')],
    ['nodes', String(p.nodes ?? s?.nodes ?? '?')],
    ['partition mode', String(p.mode ?? s?.mode ?? '?')],
    ['nemesis', (p.nemeses ?? s?.nemeses ?? []).join(', ') || 'none'],
    ['duration asked', p.durationMs === undefined ? '?' : formatDuration(p.durationMs)],
    ['ran', complete ? formatDuration(s.elapsedMs) : `${formatDuration(end)} recorded`],
    ['started', String(p.startedAt ?? '?')],
    ['interrupted', complete ? (s.interrupted === true ? 'yes (Ctrl-C / SIGTERM)' : 'no') : 'no final check'],
    ['metrics lines', String(f.metrics.length)],
    ['history records', String(f.history.length)],
    ['periodic checks', String(f.checks.length)]
  ]
  const html = renderReport({
    title: `bellwether soak, seed ${params[1]![1]}, ${params[2]![1]} nodes`,
    verdict,
    reasons,
    rows,
    ops,
    plots,
    perNode: { head: PER_NODE_HEAD, rows: g.nodes.map(perNodeRow) },
    params,
    notes: [...notes, ...(h?.notes ?? []).slice(0, 20)],
    data: {
      verdict,
      complete,
      counts: complete || h === undefined ? h?.counts : { revived: h.counts.revived },
      overdue,
      faults,
      ops: h?.ops,
      purgeLatency: h?.purgeLatency ?? null,
      healsConverged: h?.healsConverged ?? null,
      growth: g,
      plots: PLOT_IDS
    }
  })
  const file = join(dir, 'report.html')
  writeFileSync(file, html)
  return { file, verdict, plots: plots.length, complete }
}

const PER_NODE_HEAD = ['node', 'heap floor slope MiB/h', 'fitted over', 'processes', 'heap start → end MiB', 'RSS start → end MiB', 'tombstones live at end', 'floor entries', 'folded']

function perNodeRow (n: NodeGrowth): string[] {
  return [String(n.node), fix(n.heapSlopeMiBPerHour), n.fitMs > 0 ? formatDuration(n.fitMs) : '-', String(n.processes),
    `${fix(n.heapStartMiB)} → ${fix(n.heapEndMiB)}`, `${fix(n.rssStartMiB)} → ${fix(n.rssEndMiB)}`,
    String(n.tombstonesEnd ?? '-'), String(n.floorEnd ?? '-'), String(n.foldedEnd ?? '-')]
}

function fix (x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(1)
}

function countBy (xs: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const x of xs) out[x] = (out[x] ?? 0) + 1
  return out
}
