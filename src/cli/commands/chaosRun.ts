// `bellwether chaos run`: the whole chaos experiment in one command (src/chaos/run.ts does
// the work). This file turns flags into options, picks the partition mode the machine allows,
// prints progress and the verdict, and maps the verdict to the exit code.
import { Command, InvalidArgumentError, Option } from 'commander'
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CliError, EXIT } from '../output.js'
import { durationArg } from '../duration.js'
import { DEFAULT_GAP_MS, DEFAULT_HOLD_MS, DEFAULT_MAX_SKEW_MS, NemesisError, parseNemeses, type NemesisKind } from '../../chaos/nemesis.js'
import { parseRates, WorkloadError, type WorkloadRates } from '../../chaos/workloadConfig.js'
import { findTool } from '../../cluster/exec.js'
import type { ChaosRunOptions, ChaosSummary } from '../../chaos/run.js'
import type { PartitionMode } from '../../chaos/executor.js'
import { action, intArg, ipv4Arg, printerFor, type Ctx } from './shared.js'

/** OS-level cuts drop by address pair: a chaos run keeps off the addresses `cluster up` uses by default */
const CHAOS_IP_BASE = '127.0.1.10'

/** the flags `chaos run` and `soak` share: the cluster, the faults, the load, the output */
export interface ExperimentOpts {
  nodes: number
  copies: number
  ipBase: string
  nemesis: NemesisKind[]
  seed?: bigint
  mode: PartitionMode | 'auto'
  hold: [number, number]
  gap: [number, number]
  maxSkew: number
  rates?: Partial<WorkloadRates>
  keep?: boolean
  json?: boolean
}

interface RunOpts extends ExperimentOpts {
  dir?: string
  out?: string
  /** ms */
  duration?: number
  cycles?: number
}

/** Adds the shared flags with each command's defaults. */
export function addExperimentOptions (cmd: Command, d: {
  ipBase: string
  ipHelp: string
  nemesis: (v: string) => NemesisKind[]
  nemesisHelp: string
  hold: [number, number]
  gap: [number, number]
  gapHelp: string
  maxSkewMs: number
}): Command {
  return cmd
    .option('--nodes <n>', 'cluster size', intArg('--nodes', 2, 50), 5)
    .option('--copies <c>', 'copies of the workload VDIs', intArg('--copies', 1, 255), 3)
    .option('--ip-base <ip>', `address of node 0 (node i gets ip-base + i); ${d.ipHelp}`, ipv4Arg('--ip-base'), d.ipBase)
    .option('--nemesis <list>', d.nemesisHelp, wrap(d.nemesis), ['partition', 'kill', 'pause', 'skew'])
    .option('--seed <n>', 'seed of the fault schedule and the workload (default: random, printed)', seedArg)
    .addOption(new Option('--mode <mode>', 'partitions: os (nftables, needs root), app (libp2p gater), auto = os when possible')
      .choices(['auto', 'os', 'app']).default('auto'))
    .addOption(new Option('--hold <ms>', 'how long each fault lasts, MIN-MAX').argParser(rangeArg('--hold')).default(d.hold, d.hold.join('-')))
    .addOption(new Option('--gap <ms>', `quiet time after each heal, MIN-MAX${d.gapHelp}`).argParser(rangeArg('--gap')).default(d.gap, d.gap.join('-')))
    .option('--max-skew <ms>', 'clock skews are drawn within ±this', intArg('--max-skew', 0, 4 * 60 * 1000), d.maxSkewMs)
    .option('--rates <spec>', 'workload ops/s, e.g. write=8,read=6,create=0.5,discard=0.5,delete=0.3', wrap(parseRates))
    .option('--keep', 'leave the cluster running after the verdict')
    .option('--json', 'print the summary as JSON')
}

/**
 * The run options both commands build from the shared flags: the partition mode the machine
 * allows (usage error when --mode os cannot work), a random seed when none was given.
 */
export function experimentOptions (o: ExperimentOpts): Pick<ChaosRunOptions, 'nodes' | 'copies' | 'ipBase' | 'seed' | 'nemeses' | 'mode' | 'holdMs' | 'gapMs' | 'maxSkewMs' | 'rates' | 'keep'> {
  const mode = o.mode === 'auto' ? (canUseNft() ? 'os' : 'app') : o.mode
  if (mode === 'os' && !canUseNft()) throw new CliError('--mode os needs root and the nft tool (apt install nftables); use --mode app', EXIT.USAGE)
  return {
    nodes: o.nodes,
    copies: Math.min(o.copies, o.nodes),
    ipBase: o.ipBase,
    seed: o.seed ?? BigInt.asUintN(32, BigInt('0x' + randomBytes(4).toString('hex'))),
    nemeses: o.nemesis,
    mode,
    holdMs: o.hold,
    gapMs: o.gap,
    maxSkewMs: o.maxSkew,
    rates: o.rates,
    keep: o.keep
  }
}

/** prints the summary (JSON or the command's text) and maps the verdict to the exit code */
export function verdictExit<S extends { ok: boolean }> (p: ReturnType<typeof printerFor>, json: boolean | undefined, s: S, print: (p: ReturnType<typeof printerFor>, s: S) => void): number {
  if (json === true) p.printJson(s)
  else print(p, s)
  return s.ok ? EXIT.OK : EXIT.FAILURE
}

export function chaosRunCommand (ctx: Ctx): Command {
  const cmd = new Command('run')
    .description('start a cluster, run a workload under a seeded nemesis schedule, heal, check the history, tear down')
  return addExperimentOptions(cmd, {
    ipBase: CHAOS_IP_BASE,
    ipHelp: 'apart from `cluster up`\'s default so OS-level cuts never touch your own cluster',
    nemesis: parseNemeses,
    nemesisHelp: 'faults to draw from: partition,kill,pause,skew',
    hold: DEFAULT_HOLD_MS,
    gap: DEFAULT_GAP_MS,
    gapHelp: '',
    maxSkewMs: DEFAULT_MAX_SKEW_MS
  })
    .option('--duration <d>', 'how long faults are injected: 90, 90s, 15m, 2h (with --cycles: whichever ends first)', durationArg('--duration', 1000, 7 * 24 * 3600 * 1000))
    .option('--cycles <n>', 'nemesis cycles (fault, hold, heal, gap)', intArg('--cycles', 0, 1_000_000))
    .option('--dir <dir>', 'cluster dir for the run (default: a new temp dir)')
    .option('--out <dir>', 'where history.jsonl and summary.json go (default: the cluster dir\'s parent run dir)')
    .action(action(ctx, async (o: RunOpts) => await run(ctx, o)))
}

async function run (ctx: Ctx, o: RunOpts): Promise<number> {
  const p = printerFor(ctx, o)
  if (o.duration === undefined && o.cycles === undefined) throw new CliError('give --duration D (90, 15m, 2h) or --cycles N (or both): a chaos run is always bounded', EXIT.USAGE)
  const shared = experimentOptions(o)
  const runDir = o.dir === undefined ? await mkdtemp(join(tmpdir(), 'bw-chaos-')) : resolve(o.dir)
  const stop = stopOnSignals(p)
  // the run (chaos session, checker) loads only for a run, not for --help
  const { chaosRun } = await import('../../chaos/run.js')
  const summary = await chaosRun({
    ...shared,
    signal: stop.signal,
    dir: join(runDir, 'cluster'),
    out: o.out ?? runDir,
    durationMs: o.duration,
    cycles: o.cycles,
    log: (line) => { if (o.json !== true) p.note(line) }
  })
  stop.release()
  return verdictExit(p, o.json, summary, printSummary)
}

function printSummary (p: ReturnType<typeof printerFor>, s: ChaosSummary): void {
  const c = s.check?.history
  p.line(`seed ${s.seed} · ${s.nodes} nodes · mode ${s.mode} · ${s.cycles.run} cycles (${Object.entries(s.cycles.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}) · ${Math.round(s.elapsedMs / 1000)} s`)
  if (c?.counts !== undefined) {
    p.line(`acked writes ${c.checked?.ackedWrites ?? '?'} · lost ${c.counts.lost} · revived ${c.counts.revived} · unpurged ${c.counts.unpurged} · stale caches ${c.counts.stale} · falsely purged ${c.counts.falselyPurged}`)
    const q = c.purgeLatency
    if (q != null) p.line(`purge latency (delete acked → last node purged): p50 ${q.p50} ms · p90 ${q.p90} ms · p99 ${q.p99} ms · max ${q.max} ms over ${q.count}`)
    const hs = c.healsConverged
    if (hs != null) p.line(`heal → converged over ${hs.count + hs.interrupted} heals: p50 ${hs.p50} ms · p90 ${hs.p90} ms · p99 ${hs.p99} ms · max ${hs.max} ms; ${hs.interrupted} interrupted by the next fault`)
    const h = c.healToConverged
    if (h != null) p.line(`final heal → converged: ${h.ms === null ? 'not observed' : `${Math.round(h.ms)} ms`}`)
  }
  if (s.check?.check?.problems?.length > 0) p.line(`end-state check: ${s.check.check.problems.length} problem(s), first: ${JSON.stringify(s.check.check.problems[0])}`)
  p.line(`converged after final heal: ${s.converged ? `yes (${s.convergeMs} ms)` : 'NO'}`)
  for (const e of s.errors.slice(0, 20)) p.error(e)
  if (s.errors.length > 20) p.error(`… and ${s.errors.length - 20} more errors (summary.json has them all)`)
  p.line(`history ${s.historyFile} · summary ${s.summaryFile}`)
  p.line(s.ok ? 'VERDICT: OK — nothing lost, nothing came back' : 'VERDICT: FAILED')
}

/**
 * Ctrl-C or SIGTERM ends the faults early; the run still heals, judges and tears down (a second
 * one exits at once). `release` removes the handlers.
 */
export function stopOnSignals (p: ReturnType<typeof printerFor>): { signal: AbortSignal, release: () => void } {
  const stop = new AbortController()
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130)
    p.error('stopping: healing every fault, checking, tearing down (interrupt again to exit at once)')
    stop.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return { signal: stop.signal, release: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal) } }
}

export function canUseNft (): boolean {
  return process.getuid?.() === 0 && findTool('nft') !== null
}

export function seedArg (v: string): bigint {
  if (!/^[0-9]{1,20}$/.test(v.trim())) throw new InvalidArgumentError('--seed must be a non-negative integer')
  return BigInt.asUintN(64, BigInt(v.trim()))
}

export function rangeArg (what: string): (v: string) => [number, number] {
  return (v) => {
    const m = /^\s*([0-9]{1,9})\s*(?:-\s*([0-9]{1,9}))?\s*$/.exec(v)
    if (m === null) throw new InvalidArgumentError(`${what} must be MS or MIN-MAX in milliseconds, e.g. 1000-4000`)
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    if (hi < lo) throw new InvalidArgumentError(`${what}: MIN ${lo} is above MAX ${hi}`)
    return [lo, hi]
  }
}

/** commander shows InvalidArgumentError messages as usage errors; our parsers throw their own types */
export function wrap<T> (parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v)
    } catch (err) {
      if (err instanceof NemesisError || err instanceof WorkloadError) throw new InvalidArgumentError(err.message)
      throw err
    }
  }
}
