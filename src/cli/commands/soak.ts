// `bellwether soak`: a long run under load and gentle faults (src/soak/run.ts does the work).
// This file turns flags into options, picks the partition mode the machine allows, shows the
// progress line on stderr, prints the verdict and maps it to the exit code: 0 only when OK.
import { Command, Option } from 'commander'
import { resolve } from 'node:path'
import { durationArg, formatDuration } from '../duration.js'
import { parseNemeses, type NemesisKind } from '../../chaos/nemesis.js'
import { DEFAULT_CHECK_EVERY_MS, DEFAULT_CHECK_LAG_MS, DEFAULT_SCRAPE_INTERVAL_MS, SOAK_GAP_MS, SOAK_HOLD_MS, SOAK_MAX_SKEW_MS } from '../../soak/constants.js'
import type { SoakSummary } from '../../soak/run.js'
import { addExperimentOptions, experimentOptions, stopOnSignals, verdictExit, type ExperimentOpts } from './chaosRun.js'
import { action, printerFor, type Ctx } from './shared.js'

/** apart from `cluster up`'s and `chaos run`'s defaults, so a soak can run beside either */
const SOAK_IP_BASE = '127.0.2.10'
const DAY_MS = 24 * 3600 * 1000

interface SoakOpts extends ExperimentOpts {
  out: string
  dir?: string
  duration: number
  checkEvery: number
  checkLag: number
  scrapeEvery: number
}

export function soakCommand (ctx: Ctx): Command {
  const cmd = new Command('soak')
    .description('run a cluster for a long time under load and gentle seeded faults, check it as it goes, scrape every node\'s metrics, write a report')
    .requiredOption('--out <dir>', 'where history.jsonl, metrics.jsonl, checks.jsonl, summary.json and report.html go (the cluster lives in DIR/cluster)')
    .requiredOption('--duration <d>', 'how long: 90, 90s, 15m, 2h', durationArg('--duration', 1000, 7 * DAY_MS))
  return addExperimentOptions(cmd, {
    ipBase: SOAK_IP_BASE,
    ipHelp: 'apart from `cluster up`\'s and `chaos run`\'s defaults',
    nemesis: nemesesOrNone,
    nemesisHelp: 'faults to draw from: partition,kill,pause,skew, or none',
    hold: SOAK_HOLD_MS,
    gap: SOAK_GAP_MS,
    gapHelp: ' (the default makes about one fault a minute)',
    maxSkewMs: SOAK_MAX_SKEW_MS
  })
    .addOption(opt('--check-every <d>', 'periodic check interval', durationArg('--check-every', 1000, DAY_MS), DEFAULT_CHECK_EVERY_MS, formatDuration(DEFAULT_CHECK_EVERY_MS)))
    .addOption(opt('--check-lag <d>', 'the periodic check counts a deleted object still held this long after the ack as overdue', durationArg('--check-lag', 1000, DAY_MS), DEFAULT_CHECK_LAG_MS, formatDuration(DEFAULT_CHECK_LAG_MS)))
    .addOption(opt('--scrape-every <d>', 'metrics scrape interval', durationArg('--scrape-every', 1000, 3_600_000), DEFAULT_SCRAPE_INTERVAL_MS, formatDuration(DEFAULT_SCRAPE_INTERVAL_MS)))
    .option('--dir <dir>', 'cluster dir (default: OUT/cluster)')
    .action(action(ctx, async (o: SoakOpts) => await run(ctx, o)))
}

/** an option whose default is shown as people type it (15 s, 5000-15000), not as its parsed value */
function opt<T> (flags: string, description: string, parse: (v: string) => T, value: T, shown: string): Option {
  return new Option(flags, description).argParser(parse).default(value, shown)
}

function nemesesOrNone (v: string): NemesisKind[] {
  return v.trim() === 'none' ? [] : parseNemeses(v)
}

async function run (ctx: Ctx, o: SoakOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const shared = experimentOptions(o)
  const stop = stopOnSignals(p)
  let summary: SoakSummary
  try {
    // the soak (chaos session, checker, report) loads only for a run, not for --help
    const { soak } = await import('../../soak/run.js')
    summary = await soak({
      ...shared,
      out: resolve(o.out),
      dir: o.dir,
      durationMs: o.duration,
      checkEveryMs: o.checkEvery,
      checkLagMs: o.checkLag,
      scrapeEveryMs: o.scrapeEvery,
      signal: stop.signal,
      progress: ctx.io.stderr as { isTTY?: boolean, write: (s: string) => unknown },
      log: () => {}
    })
  } finally {
    stop.release()
  }
  return verdictExit(p, o.json, summary, printSummary)
}

function printSummary (p: ReturnType<typeof printerFor>, s: SoakSummary): void {
  const c = s.check?.history
  p.line(`seed ${s.seed} · ${s.nodes} nodes · mode ${s.mode} · ${formatDuration(s.elapsedMs)}${s.interrupted ? ' (interrupted)' : ''} · ${s.cycles.run} faults (${Object.entries(s.cycles.byKind).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}), ${s.cycles.faultsFailed} failed`)
  if (c?.counts !== undefined) {
    p.line(`lost ${c.counts.lost} · revived ${c.counts.revived} · unpurged ${c.counts.unpurged} · stale caches ${c.counts.stale} · falsely purged ${c.counts.falselyPurged} · overdue (periodic) ${s.live.maxOverdue}`)
    const q = c.purgeLatency
    if (q != null) p.line(`purge latency: p50 ${q.p50} ms · p99 ${q.p99} ms · max ${q.max} ms over ${q.count}`)
  }
  p.line(`converged after final heal: ${s.converged ? `yes (${s.convergeMs} ms)` : 'NO'} · ${s.live.checks} periodic checks · ${s.scrapes} scrape rounds`)
  for (const e of s.errors.slice(0, 20)) p.error(e)
  p.line(`report ${s.files.report} · summary ${s.files.summary}`)
  p.line(s.ok ? 'VERDICT: OK' : 'VERDICT: FAILED')
}
