// The life of one chaos experiment's cluster, shared by `chaos run` and `soak`: clean leftovers
// of an earlier run in the dir, start the cluster on its own addresses (with --enable-chaos),
// open the history, start the object-list sampler and the workload, hand the live pieces to the
// caller's `during` (the nemesis loop, and for a soak the scraper and periodic checks), then —
// whatever happened — stop the load, heal every fault, wait for convergence (the sampler keeps
// watching: that is heal → converged), judge the history (`check --history`) and tear down.
// Also the nemesis loop itself (runCycles): fault, hold, heal, gap, until the deadline or abort.
import { join, resolve } from 'node:path'
import { copyFile, mkdir } from 'node:fs/promises'
import { readClusterFile, type ClusterFile } from '../cluster/clusterFile.js'
import { sleep } from '../cluster/launcher.js'
import { bw, bwOk } from './bw.js'
import { NemesisExecutor, type PartitionMode } from './executor.js'
import type { HistoryEvent, HistorySink } from './history.js'
import { HistoryWriter } from './historyWriter.js'
import { describeFault, type Cycle } from './nemesis.js'
import { DeleteTracker, RunningNodes } from './runState.js'
import { abortableSleep, runSampler, type SamplerStats } from './sampler.js'
import { runWorkload } from './workload.js'
import type { WorkloadRates, WorkloadStats } from './workloadConfig.js'

export interface SessionOptions {
  /** the cluster dir */
  dir: string
  /** where history.jsonl goes */
  out: string
  nodes: number
  copies: number
  ipBase: string
  seed: bigint
  mode: PartitionMode
  rates?: Partial<WorkloadRates>
  /** stored in the history's meta record */
  info: Record<string, unknown>
  /** every history record, as it is appended (a soak's live checker) */
  tap?: (e: HistoryEvent) => void
  /** runs after the final check, before the teardown (a soak stops its scraper there) */
  beforeTeardown?: () => Promise<void>
  keep?: boolean
  waitTimeoutS?: number
  log: (line: string) => void
}

/** what `during` gets: the running cluster and its instruments */
export interface LiveSession {
  dir: string
  file: ClusterFile
  history: HistorySink
  exec: NemesisExecutor
  nodes: RunningNodes
  tracker: DeleteTracker
  /** errors worth reporting that do not stop the run */
  note: (error: string) => void
}

export interface SessionResult {
  historyFile: string
  workload?: WorkloadStats
  sampler?: SamplerStats
  converged: boolean
  convergeMs?: number
  /** the checker's report (`check --history --json`), absent when it gave none */
  check?: any
  checkExit?: number
  errors: string[]
  elapsedMs: number
}

/** sample rounds after convergence, so the checker sees the converged state for itself */
const SAMPLE_AFTER_WAIT_MS = 1500
export const MAX_ERRORS = 100
/** the load runs until `during` ends; a bound that still fits Node's 32-bit timers (a longer one fires at once) */
const LOAD_UNTIL_STOPPED_MS = 8 * 24 * 3600 * 1000

/**
 * Starts the cluster and runs `during` under load; throws only when the cluster cannot be
 * started (after taking down whatever part of it did start). Everything later ends in the result.
 */
export async function runSession (o: SessionOptions, during: (s: LiveSession) => Promise<void>): Promise<SessionResult> {
  const dir = resolve(o.dir)
  const out = resolve(o.out)
  await mkdir(out, { recursive: true })
  const started = Date.now()
  const errors: string[] = []
  const note = (e: string): void => { if (errors.length < MAX_ERRORS) errors.push(e) }
  const result: SessionResult = { historyFile: join(out, 'history.jsonl'), converged: false, errors, elapsedMs: 0 }

  // leftovers of a crashed run in this dir (processes, nft tables, namespaces) must not break this one
  await bw(['cluster', 'down', '--purge', '--dir', dir])
  await bw(['chaos', 'cleanup', '--dir', dir])
  try {
    await bwOk(['cluster', 'up', '--nodes', String(o.nodes), '--copies', String(o.copies), '--ip-base', o.ipBase, '--enable-chaos', '--dir', dir])
  } catch (err) {
    await bw(['cluster', 'down', '--purge', '--dir', dir])
    throw err
  }
  const writer = HistoryWriter.open(result.historyFile)
  const history: HistorySink = o.tap === undefined
    ? writer
    : { now: writer.now, append: (e) => { writer.append(e); o.tap!(e) } }
  const exec = new NemesisExecutor(dir, o.mode, (e) => {
    history.append({ type: 'nemesis', f: e.f, value: e.ok ? e.value : { value: e.value, error: e.error }, time: history.now() })
  })
  // bounded whatever happens: the finally below stops both loops
  const stopLoad = new AbortController()
  const stopSampler = new AbortController()
  try {
    const file = await readClusterFile(dir)
    if (file === undefined) throw new Error(`cluster up left no cluster file in ${dir}`)
    history.append({ type: 'meta', time: history.now(), format: 1, seed: o.seed.toString(), info: o.info })
    const tracker = new DeleteTracker()
    const nodes = new RunningNodes(file, { dir })
    const sampler = runSampler({ file, history, tracker, nodes, clusterDir: dir, signal: stopSampler.signal })
    // `during` decides when the load stops
    const workload = runWorkload({ file, history, tracker, nodes, clusterDir: dir, seed: o.seed, rates: o.rates, signal: stopLoad.signal, durationMs: LOAD_UNTIL_STOPPED_MS })
    // on an early failure nobody awaits them: their errors must not crash the run
    sampler.catch(() => {})
    workload.catch(() => {})
    try {
      await during({ dir, file, history, exec, nodes, tracker, note })
    } finally {
      stopLoad.abort()
      result.workload = await workload.catch((e) => { note(`workload: ${(e as Error).message}`); return undefined })
      const healErrors = await exec.healAll()
      errors.push(...healErrors.map((e) => `final heal: ${e}`))
    }
    const t0 = Date.now()
    const waitS = o.waitTimeoutS ?? 180
    const wait = await bw(['cluster', 'wait', '--timeout', String(waitS), '--dir', dir], { timeoutMs: (waitS + 30) * 1000 })
    result.converged = wait.code === 0
    result.convergeMs = Date.now() - t0
    if (!result.converged) errors.push(`cluster did not converge after the final heal: ${(wait.stderr.trim() || wait.stdout.trim()).slice(0, 1000)}`)
    await sleep(SAMPLE_AFTER_WAIT_MS)
    stopSampler.abort()
    result.sampler = await sampler.catch((e) => { note(`sampler: ${(e as Error).message}`); return undefined })
    await writer.close()
    const check = await bw(['check', '--history', result.historyFile, '--json', '--dir', dir], { timeoutMs: 600_000 })
    result.checkExit = check.code
    try {
      result.check = JSON.parse(check.stdout)
    } catch {
      errors.push(`check --history gave no report (exit ${check.code}): ${check.stderr.trim().slice(0, 1000)}`)
    }
  } catch (err) {
    errors.push(String((err as Error).message ?? err))
    await exec.healAll().catch(() => [])
  } finally {
    stopLoad.abort()
    stopSampler.abort()
    await writer.close()
    if (o.beforeTeardown !== undefined) await o.beforeTeardown().catch((e) => { note(`before teardown: ${(e as Error).message}`) })
    result.elapsedMs = Date.now() - started
    if (o.keep !== true) {
      // a failed run's cluster is torn down, but its node logs are what explains the failure
      const failed = !result.converged || result.checkExit !== 0 || errors.length > 0
      if (failed) await keepNodeLogs(dir, out, note)
      const down = await bw(['cluster', 'down', '--purge', '--dir', dir])
      if (down.code !== 0) errors.push(`cluster down: ${down.stderr.trim()}`)
      await bw(['chaos', 'cleanup', '--dir', dir])
    }
  }
  return result
}

/** copies every node's log to OUT/logs/node-I.log (best effort: a missing log is noted, not fatal) */
async function keepNodeLogs (dir: string, out: string, note: (e: string) => void): Promise<void> {
  const file = await readClusterFile(dir).catch(() => undefined)
  if (file === undefined) return
  await mkdir(join(out, 'logs'), { recursive: true })
  for (const n of file.nodes) {
    await copyFile(n.logFile, join(out, 'logs', `node-${n.index}.log`)).catch((e) => { note(`keeping node ${n.index}'s log: ${(e as Error).message}`) })
  }
}

export interface CycleStats { planned: number, run: number, faultsFailed: number, byKind: Record<string, number> }

/** The nemesis loop: each cycle injects, holds, heals and rests; stops at the deadline or on abort. */
export async function runCycles (schedule: Cycle[], exec: NemesisExecutor, o: {
  stats: CycleStats
  note: (e: string) => void
  deadline: number
  signal?: AbortSignal
  log: (line: string) => void
  started: number
}): Promise<void> {
  for (const c of schedule) {
    if (Date.now() >= o.deadline || o.signal?.aborted === true) break
    o.stats.byKind[c.fault.kind] = (o.stats.byKind[c.fault.kind] ?? 0) + 1
    try {
      await exec.apply(c.fault)
      await abortableSleep(c.holdMs, o.signal)
    } catch (err) {
      o.stats.faultsFailed++
      o.note(`cycle ${c.index} (${describeFault(c.fault)}): ${(err as Error).message}`)
    }
    try {
      await exec.heal(c.fault)
    } catch (err) {
      o.stats.faultsFailed++
      o.note(`cycle ${c.index} heal (${describeFault(c.fault)}): ${(err as Error).message}`)
    }
    o.stats.run++
    if ((c.index + 1) % 25 === 0) o.log(`  ${c.index + 1} cycles, ${Math.round((Date.now() - o.started) / 1000)} s`)
    await abortableSleep(Math.min(c.gapMs, Math.max(0, o.deadline - Date.now())), o.signal)
  }
}
