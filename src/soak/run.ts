// `bellwether soak`: a long run under load and gentle faults, watched the whole time. The
// cluster's life (own addresses, workload, sampler, final heal, convergence, `check --history`,
// teardown) is src/chaos/session.ts's, as for `chaos run`; on top of it a soak runs a sparse
// seeded nemesis (by default a fault about every minute: hold 5–15 s, gap 40–80 s, skews within
// ±30 s), the periodic check (src/soak/liveCheck.ts), the metrics scraper (DIR/metrics.jsonl),
// a progress line, and at the end writes DIR/summary.json and DIR/report.html. Before anything
// runs it writes DIR/soak.json (the parameters), and every periodic check appends a line to
// DIR/checks.jsonl, so a run killed halfway still leaves what `bellwether report DIR` needs.
import { appendFileSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadavg } from 'node:os'
import type { PartitionMode } from '../chaos/executor.js'
import { planSchedule, type NemesisKind } from '../chaos/nemesis.js'
import { abortableSleep } from '../chaos/sampler.js'
import { runCycles, runSession, type CycleStats, type LiveSession } from '../chaos/session.js'
import type { ChaosRunOptions } from '../chaos/run.js'
import { buildReport } from '../report/build.js'
import { LiveCheck, type LiveVerdict } from './liveCheck.js'
import { Progress, type ProgressOut } from './progress.js'
import { Scraper } from './scraper.js'
import { DEFAULT_CHECK_EVERY_MS, SOAK_GAP_MS, SOAK_HOLD_MS, SOAK_MAX_SKEW_MS } from './constants.js'

/** as for `chaos run`: the cluster, the faults, the load */
type SharedOptions = Pick<ChaosRunOptions, 'nodes' | 'copies' | 'ipBase' | 'seed' | 'mode' | 'holdMs' | 'gapMs' | 'maxSkewMs' | 'rates' | 'keep' | 'waitTimeoutS' | 'signal'>

export interface SoakOptions extends SharedOptions {
  out: string
  /** the cluster dir (default OUT/cluster) */
  dir?: string
  /** empty: no faults */
  nemeses: NemesisKind[]
  durationMs: number
  checkEveryMs?: number
  checkLagMs?: number
  scrapeEveryMs?: number
  /** where the progress line goes (stderr) */
  progress: ProgressOut
  log: (line: string) => void
}

export interface SoakSummary {
  ok: boolean
  seed: string
  nodes: number
  mode: PartitionMode
  nemeses: NemesisKind[]
  durationMs: number
  elapsedMs: number
  /** ended before its duration (Ctrl-C, SIGTERM) */
  interrupted: boolean
  cycles: CycleStats
  converged: boolean
  convergeMs?: number
  /** the final check's report (`check --history --json`) */
  check?: any
  live: { checks: number, lagMs: number, maxRevived: number, maxOverdue: number, last?: LiveVerdict }
  scrapes: number
  workload?: unknown
  sampler?: unknown
  files: { history: string, metrics: string, checks: string, summary: string, report: string }
  errors: string[]
}

export async function soak (o: SoakOptions): Promise<SoakSummary> {
  const out = resolve(o.out)
  await mkdir(out, { recursive: true })
  const files = { history: join(out, 'history.jsonl'), metrics: join(out, 'metrics.jsonl'), checks: join(out, 'checks.jsonl'), summary: join(out, 'summary.json'), report: join(out, 'report.html') }
  const dir = o.dir ?? join(out, 'cluster')
  const hold = o.holdMs ?? SOAK_HOLD_MS
  const gap = o.gapMs ?? SOAK_GAP_MS
  const checkEvery = o.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS
  const live = new LiveCheck(o.checkLagMs)
  const cycles: CycleStats = { planned: 0, run: 0, faultsFailed: 0, byKind: {} }
  const liveStats: SoakSummary['live'] = { checks: 0, lagMs: live.lagMs, maxRevived: 0, maxOverdue: 0 }
  const progress = new Progress(o.progress)
  const log = (line: string): void => { progress.log(line); o.log(line) }
  let scraper: Scraper | undefined
  let scraping: Promise<void> | undefined
  const stopScrape = new AbortController()
  let interrupted = false
  writeFileSync(join(out, 'soak.json'), JSON.stringify({
    seed: o.seed.toString(),
    nodes: o.nodes,
    copies: o.copies,
    mode: o.mode,
    nemeses: o.nemeses,
    durationMs: o.durationMs,
    holdMs: hold,
    gapMs: gap,
    checkEveryMs: checkEvery,
    checkLagMs: live.lagMs,
    startedAt: new Date().toISOString(),
    clusterDir: resolve(dir)
  }, null, 2) + '\n')
  writeFileSync(files.checks, '')
  log(`soak: seed ${o.seed}, ${o.nodes} nodes, ${o.durationMs / 1000} s, nemesis ${o.nemeses.join(',') || 'none'} (hold ${hold.join('-')} ms, gap ${gap.join('-')} ms), mode ${o.mode}; cluster in ${resolve(dir)}, files in ${out}`)

  const during = async (s: LiveSession): Promise<void> => {
    const started = Date.now()
    const deadline = started + o.durationMs
    scraper = new Scraper({ file: files.metrics, nodes: s.nodes, now: s.history.now, signal: stopScrape.signal, intervalMs: o.scrapeEveryMs })
    scraping = scraper.run().catch((e) => { s.note(`scraper: ${(e as Error).message}`) })
    const judge = (): void => {
      const v = live.check(s.history.now())
      liveStats.checks++
      liveStats.last = v
      liveStats.maxRevived = Math.max(liveStats.maxRevived, v.revived)
      liveStats.maxOverdue = Math.max(liveStats.maxOverdue, v.overdue)
      try { appendFileSync(files.checks, JSON.stringify(v) + '\n') } catch {}
      if (v.error !== undefined) s.note(`periodic check: ${v.error}`)
      if (v.revived + v.overdue > 0) log(`periodic check at ${Math.round(v.t / 1000)} s: ${v.revived} revived, ${v.overdue} overdue (lag ${live.lagMs} ms); first: ${v.findings[0]?.detail ?? '?'}`)
    }
    const show = (): void => {
      progress.update({
        elapsedMs: Date.now() - started,
        totalMs: o.durationMs,
        ops: live.ops,
        deletesConverged: live.last?.deletesConverged ?? 0,
        deletesAcked: live.last?.deletesAcked ?? 0,
        violations: live.violations,
        faults: cycles.run,
        worstHeap: scraper?.worstHeap(),
        load: loadavg()[0]
      })
    }
    const ticker = setInterval(show, 1000)
    const checker = setInterval(judge, checkEvery)
    try {
      if (o.nemeses.length === 0) {
        await abortableSleep(o.durationMs, o.signal)
      } else {
        const schedule = planSchedule({
          seed: o.seed,
          nodes: Array.from({ length: o.nodes }, (_, i) => i),
          kinds: o.nemeses,
          cycles: Math.ceil(o.durationMs / Math.max(1, gap[0] + hold[0])) + 1,
          holdMs: hold,
          gapMs: gap,
          maxSkewMs: o.maxSkewMs ?? SOAK_MAX_SKEW_MS
        })
        cycles.planned = schedule.length
        await runCycles(schedule, s.exec, { stats: cycles, note: s.note, deadline, signal: o.signal, log, started })
        // the schedule may end early: the load goes on to the end of the duration
        await abortableSleep(deadline - Date.now(), o.signal)
      }
    } finally {
      clearInterval(ticker)
      clearInterval(checker)
      interrupted = o.signal?.aborted === true && Date.now() < deadline
      judge()
      show()
      progress.done()
      log(interrupted ? 'soak: interrupted: final heal, final check, report, teardown' : 'soak: duration reached: final heal, final check, report, teardown')
    }
  }

  const r = await runSession({
    dir,
    out,
    nodes: o.nodes,
    copies: o.copies,
    ipBase: o.ipBase,
    seed: o.seed,
    mode: o.mode,
    rates: o.rates,
    keep: o.keep,
    waitTimeoutS: o.waitTimeoutS,
    log,
    info: { soak: { nodes: o.nodes, copies: o.copies, mode: o.mode, nemeses: o.nemeses, durationMs: o.durationMs } },
    tap: (e) => { live.add(e) },
    // the scraper watches the final heal and convergence too, and stops before the nodes do
    beforeTeardown: async () => {
      if (scraper !== undefined) await scraper.round()
      stopScrape.abort()
      await scraping
    }
  }, during)
  const summary: SoakSummary = {
    ok: r.checkExit === 0 && r.converged && cycles.faultsFailed === 0 && r.errors.length === 0 && liveStats.maxOverdue === 0 && liveStats.last?.error === undefined,
    seed: o.seed.toString(),
    nodes: o.nodes,
    mode: o.mode,
    nemeses: o.nemeses,
    durationMs: o.durationMs,
    elapsedMs: r.elapsedMs,
    interrupted,
    cycles,
    converged: r.converged,
    convergeMs: r.convergeMs,
    check: r.check,
    live: liveStats,
    scrapes: scraper?.rounds ?? 0,
    workload: r.workload,
    sampler: r.sampler,
    files,
    errors: r.errors
  }
  writeFileSync(files.summary, JSON.stringify(summary, null, 2) + '\n')
  try {
    await buildReport(out)
  } catch (err) {
    summary.errors.push(`report: ${(err as Error).message}`)
    summary.ok = false
    writeFileSync(files.summary, JSON.stringify(summary, null, 2) + '\n')
  }
  return summary
}
