// `bellwether chaos run`: one bounded chaos experiment, start to verdict. Cleans leftovers
// of an earlier run in the same dir, starts a cluster, runs the workload and the object-list
// sampler while a seeded nemesis schedule injects and heals faults, heals everything, waits
// for convergence, judges the history (`check --history`), writes a JSON summary and tears
// the cluster down — on failure too. Same seed → same fault schedule (the workload is seeded
// too, but its timing follows the cluster's answers, so operations differ run to run).
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { readClusterFile } from '../cluster/clusterFile.js'
import { sleep } from '../cluster/launcher.js'
import { bw, bwOk } from './bw.js'
import { NemesisExecutor, type PartitionMode } from './executor.js'
import { HistoryWriter } from './history.js'
import { describeFault, planSchedule, type Cycle, type NemesisKind } from './nemesis.js'
import { DeleteTracker, RunningNodes } from './runState.js'
import { runSampler } from './sampler.js'
import { runWorkload, type WorkloadRates } from './workload.js'

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
  cycles: { planned: number, run: number, faultsFailed: number, byKind: Record<string, number> }
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

/** sample rounds after convergence, so the checker sees the converged state for itself */
const SAMPLE_AFTER_WAIT_MS = 1500
/** plenty of cycles for any duration; the clock stops the loop first */
const CYCLES_FOR_DURATION = 100_000

export async function chaosRun (o: ChaosRunOptions): Promise<ChaosSummary> {
  const dir = resolve(o.dir)
  const out = resolve(o.out)
  await mkdir(out, { recursive: true })
  const historyFile = join(out, 'history.jsonl')
  const summaryFile = join(out, 'summary.json')
  const started = Date.now()
  const errors: string[] = []
  const summary: ChaosSummary = {
    ok: false, seed: o.seed.toString(), nodes: o.nodes, mode: o.mode, nemeses: o.nemeses,
    cycles: { planned: 0, run: 0, faultsFailed: 0, byKind: {} }, elapsedMs: 0, historyFile, summaryFile, converged: false, errors
  }
  const schedule = planSchedule({
    seed: o.seed,
    nodes: Array.from({ length: o.nodes }, (_, i) => i),
    kinds: o.nemeses,
    cycles: o.cycles ?? CYCLES_FOR_DURATION,
    holdMs: o.holdMs,
    gapMs: o.gapMs,
    maxSkewMs: o.maxSkewMs
  })
  summary.cycles.planned = o.cycles ?? schedule.length

  // leftovers of a crashed run in this dir (processes, nft tables, namespaces) must not break this one
  await bw(['cluster', 'down', '--purge', '--dir', dir])
  await bw(['chaos', 'cleanup', '--dir', dir])
  o.log(`chaos run: seed ${o.seed}, ${o.nodes} nodes, nemesis ${o.nemeses.join(',')}, mode ${o.mode}; cluster in ${dir}`)
  try {
    await bwOk(['cluster', 'up', '--nodes', String(o.nodes), '--copies', String(o.copies), '--ip-base', o.ipBase, '--enable-chaos', '--dir', dir])
  } catch (err) {
    // whatever part of the cluster did start must not outlive the run
    await bw(['cluster', 'down', '--purge', '--dir', dir])
    throw err
  }
  const history = HistoryWriter.open(historyFile)
  const exec = new NemesisExecutor(dir, o.mode, (e) => {
    history.append({ type: 'nemesis', f: e.f, value: e.ok ? e.value : { value: e.value, error: e.error }, time: history.now() })
  })
  // bounded whatever happens: the finally below stops both loops
  const stopLoad = new AbortController()
  const stopSampler = new AbortController()
  try {
    const file = await readClusterFile(dir)
    if (file === undefined) throw new Error(`cluster up left no cluster file in ${dir}`)
    history.append({ type: 'meta', time: history.now(), format: 1, seed: o.seed.toString(), info: { chaos: { nodes: o.nodes, copies: o.copies, mode: o.mode, nemeses: o.nemeses, cycles: o.cycles, durationMs: o.durationMs } } })
    const tracker = new DeleteTracker()
    const nodes = new RunningNodes(file, { dir })
    const sampler = runSampler({ file, history, tracker, nodes, clusterDir: dir, signal: stopSampler.signal })
    const workload = runWorkload({
      file, history, tracker, nodes, clusterDir: dir, seed: o.seed, rates: o.rates, signal: stopLoad.signal,
      // the nemesis loop decides when the load stops
      durationMs: o.durationMs ?? 24 * 3600 * 1000
    })
    // on an early failure nobody awaits them: their errors must not crash the run
    sampler.catch(() => {})
    workload.catch(() => {})
    try {
      // the clock of --duration starts with the faults, not with the cluster start
      await runCycles(schedule, o, exec, summary, Date.now())
    } finally {
      stopLoad.abort()
      summary.workload = await workload.catch((e) => { errors.push(`workload: ${(e as Error).message}`); return undefined })
      const healErrors = await exec.healAll()
      errors.push(...healErrors.map((e) => `final heal: ${e}`))
    }
    // the sampler keeps watching until the cluster has converged: that is the heal → converged time
    const t0 = Date.now()
    const wait = await bw(['cluster', 'wait', '--timeout', String(o.waitTimeoutS ?? 180), '--dir', dir], { timeoutMs: ((o.waitTimeoutS ?? 180) + 30) * 1000 })
    summary.converged = wait.code === 0
    summary.convergeMs = Date.now() - t0
    if (!summary.converged) errors.push(`cluster did not converge after the final heal: ${(wait.stderr.trim() || wait.stdout.trim()).slice(0, 1000)}`)
    await sleep(SAMPLE_AFTER_WAIT_MS)
    stopSampler.abort()
    summary.sampler = await sampler.catch((e) => { errors.push(`sampler: ${(e as Error).message}`); return undefined })
    await history.close()
    const check = await bw(['check', '--history', historyFile, '--json', '--dir', dir], { timeoutMs: 600_000 })
    try {
      summary.check = JSON.parse(check.stdout)
    } catch {
      errors.push(`check --history gave no report (exit ${check.code}): ${check.stderr.trim().slice(0, 1000)}`)
    }
    summary.ok = check.code === 0 && summary.converged && summary.cycles.faultsFailed === 0 && errors.length === 0
  } catch (err) {
    errors.push(String((err as Error).message ?? err))
    await exec.healAll().catch(() => [])
  } finally {
    stopLoad.abort()
    stopSampler.abort()
    await history.close()
    summary.elapsedMs = Date.now() - started
    if (o.keep !== true) {
      const down = await bw(['cluster', 'down', '--purge', '--dir', dir])
      if (down.code !== 0) { errors.push(`cluster down: ${down.stderr.trim()}`); summary.ok = false }
      await bw(['chaos', 'cleanup', '--dir', dir])
    }
    await writeFile(summaryFile, JSON.stringify(summary, null, 2) + '\n')
  }
  return summary
}

const MAX_ERRORS = 100

async function runCycles (schedule: Cycle[], o: ChaosRunOptions, exec: NemesisExecutor, summary: ChaosSummary, started: number): Promise<void> {
  const note = (e: string): void => { if (summary.errors.length < MAX_ERRORS) summary.errors.push(e) }
  const deadline = o.durationMs === undefined ? Infinity : started + o.durationMs
  for (const c of schedule) {
    if (Date.now() >= deadline || o.signal?.aborted === true) break
    summary.cycles.byKind[c.fault.kind] = (summary.cycles.byKind[c.fault.kind] ?? 0) + 1
    try {
      await exec.apply(c.fault)
      await sleep(c.holdMs)
    } catch (err) {
      summary.cycles.faultsFailed++
      note(`cycle ${c.index} (${describeFault(c.fault)}): ${(err as Error).message}`)
    }
    try {
      await exec.heal(c.fault)
    } catch (err) {
      summary.cycles.faultsFailed++
      note(`cycle ${c.index} heal (${describeFault(c.fault)}): ${(err as Error).message}`)
    }
    summary.cycles.run++
    if ((c.index + 1) % 25 === 0) o.log(`  ${c.index + 1} cycles, ${Math.round((Date.now() - started) / 1000)} s`)
    await sleep(c.gapMs)
  }
}
