// `bellwether chaos run`: one bounded chaos experiment, start to verdict. The cluster's life
// (leftover cleanup, start, workload and sampler, final heal, convergence, `check --history`,
// teardown — on failure too) is src/chaos/session.ts's; this file plans the seeded nemesis
// schedule, runs it, and writes the JSON summary. Same seed → same fault schedule (the workload
// is seeded too, but its timing follows the cluster's answers, so operations differ run to run).
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { PartitionMode } from './executor.js'
import { planSchedule, type NemesisKind } from './nemesis.js'
import { runCycles, runSession, type CycleStats } from './session.js'
import type { WorkloadRates } from './workloadConfig.js'

export interface ChaosRunOptions {
  dir: string
  nodes: number
  copies: number
  ipBase: string
  seed: bigint
  nemeses: NemesisKind[]
  mode: PartitionMode
  /** stop scheduling faults after this long (ms); with `cycles` whichever comes first */
  durationMs?: number
  cycles?: number
  holdMs?: [number, number]
  gapMs?: [number, number]
  maxSkewMs?: number
  rates?: Partial<WorkloadRates>
  /** where the history and summary go (default: the run dir) */
  out: string
  /** leave the cluster running after the verdict (default: tear it down) */
  keep?: boolean
  waitTimeoutS?: number
  /** stops scheduling faults early (Ctrl-C): the run still heals, checks and tears down */
  signal?: AbortSignal
  log: (line: string) => void
}

export interface ChaosSummary {
  ok: boolean
  seed: string
  nodes: number
  mode: PartitionMode
  nemeses: NemesisKind[]
  cycles: CycleStats
  elapsedMs: number
  historyFile: string
  summaryFile: string
  workload?: unknown
  sampler?: unknown
  converged: boolean
  convergeMs?: number
  /** the checker's report (`check --history --json`) */
  check?: any
  errors: string[]
}

/** plenty of cycles for any duration; the clock stops the loop first */
const CYCLES_FOR_DURATION = 100_000

export async function chaosRun (o: ChaosRunOptions): Promise<ChaosSummary> {
  const summaryFile = join(resolve(o.out), 'summary.json')
  const schedule = planSchedule({
    seed: o.seed,
    nodes: Array.from({ length: o.nodes }, (_, i) => i),
    kinds: o.nemeses,
    cycles: o.cycles ?? CYCLES_FOR_DURATION,
    holdMs: o.holdMs,
    gapMs: o.gapMs,
    maxSkewMs: o.maxSkewMs
  })
  const cycles: CycleStats = { planned: o.cycles ?? schedule.length, run: 0, faultsFailed: 0, byKind: {} }
  o.log(`chaos run: seed ${o.seed}, ${o.nodes} nodes, nemesis ${o.nemeses.join(',')}, mode ${o.mode}; cluster in ${resolve(o.dir)}`)
  const r = await runSession({
    dir: o.dir,
    out: o.out,
    nodes: o.nodes,
    copies: o.copies,
    ipBase: o.ipBase,
    seed: o.seed,
    mode: o.mode,
    rates: o.rates,
    keep: o.keep,
    waitTimeoutS: o.waitTimeoutS,
    log: o.log,
    info: { chaos: { nodes: o.nodes, copies: o.copies, mode: o.mode, nemeses: o.nemeses, cycles: o.cycles, durationMs: o.durationMs } }
  }, async (s) => {
    // the clock of --duration starts with the faults, not with the cluster start
    const started = Date.now()
    await runCycles(schedule, s.exec, { stats: cycles, note: s.note, deadline: o.durationMs === undefined ? Infinity : started + o.durationMs, signal: o.signal, log: o.log, started })
  })
  const summary: ChaosSummary = {
    ok: r.checkExit === 0 && r.converged && cycles.faultsFailed === 0 && r.errors.length === 0,
    seed: o.seed.toString(),
    nodes: o.nodes,
    mode: o.mode,
    nemeses: o.nemeses,
    cycles,
    elapsedMs: r.elapsedMs,
    historyFile: r.historyFile,
    summaryFile,
    workload: r.workload,
    sampler: r.sampler,
    converged: r.converged,
    convergeMs: r.convergeMs,
    check: r.check,
    errors: r.errors
  }
  await writeFile(summaryFile, JSON.stringify(summary, null, 2) + '\n')
  return summary
}
