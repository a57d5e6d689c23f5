// `bellwether chaos partition|heal|status|loss|cleanup|pause|resume`: fault injection on a
// local cluster. The faults themselves live in src/chaos/ (shapes, nft, netns, faults); this
// file only turns flags into a cut plan, calls them, and prints what happened.
//
// Modes: app (each node's libp2p connection gater through its admin API, no root), os (nft
// drops between the nodes' loopback addresses, root), netns (nft drops inside each node's
// namespace, for `cluster up --netns`). heal clears every mode at once. pause/resume send
// SIGSTOP/SIGCONT to a node's pid from the cluster file, only after /proc shows that pid is
// the bellwether node of that data dir.

import { Command, InvalidArgumentError, Option } from 'commander'
import { resolve } from 'node:path'
import { ApiClient } from '../../api/client.js'
import { CliError, EXIT, shortPeerId } from '../output.js'
import { readClusterFile } from '../../cluster/clusterFile.js'
import { pausedState, processState, sleep } from '../../cluster/launcher.js'
import {
  FAULT_MODES, FaultError, cleanupClusterFaults, cleanupEverything, healCluster, lossCluster, osFaultStatus, partitionCluster,
  type CleanupOutcome, type FaultMode, type OsStatus
} from '../../chaos/faults.js'
import {
  SHAPES, ShapeError, checkGroups, cutPairs, groupsPlan, pairsPlan, parseCutSpec, parseGroupSpec, seededRng, shapePlan, type CutPlan, type Shape
} from '../../chaos/shapes.js'
import { action, addDirJson, findNode, intArg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'
import { chaosRunCommand } from './chaosRun.js'

/** A paused node never answers; do not let it hold a whole command up for long. */
const CHAOS_TIMEOUT_MS = 5_000
const SIGNAL_WAIT_MS = 3_000
const POLL_MS = 20

export const PARTITION_MODES = FAULT_MODES
export type PartitionMode = FaultMode

interface DirOpts { dir: string; json?: boolean }
interface PartitionOpts extends DirOpts {
  groups?: number[][]
  cuts?: Array<[number, number]>
  shape?: Shape
  node?: number
  seed?: number
  mode: PartitionMode
}

export function chaosCommand (ctx: Ctx): Command {
  const chaos = new Command('chaos').description('fault injection on a local cluster: partitions, packet loss, pauses')

  addDirJson(chaos.command('partition'))
    .description('cut the cluster: nodes stop talking to the nodes they are cut from (replaces any earlier partition of that mode)')
    .addOption(new Option('--groups <spec>', 'node indexes, groups separated by "/", e.g. 0,1,2/3,4 ' +
      '(every running node exactly once)').argParser(parseGroups).conflicts(['shape', 'cuts']))
    .addOption(new Option('--cuts <pairs>', 'explicit cut pairs, e.g. 0-3,1-4 (as chaos run and --json print them: any shape can be replayed)')
      .argParser(parseCuts).conflicts('shape'))
    .addOption(new Option('--shape <shape>', 'a named shape over the running nodes: halves (majority first), isolate (one node ' +
      'alone), majorities-ring (each node sees a different majority), bridge (two halves and one node that sees both)').choices(SHAPES))
    .option('--node <i>', 'isolate: the node cut off (default: the last); bridge: the bridge node (default: the middle one)',
      intArg('--node', 0, 65535))
    .option('--seed <s>', 'draw the sides at random from this seed (default: fixed sides, by index)', intArg('--seed', 0, Number.MAX_SAFE_INTEGER))
    .addOption(new Option('--mode <mode>', 'app: libp2p connection gater in each node; os: nftables drops between the ' +
      'nodes\' addresses (root); netns: nftables inside each node\'s namespace (cluster up --netns, root)')
      .choices(PARTITION_MODES).default('app'))
    .action(action(ctx, async (o: PartitionOpts) => await partition(ctx, o)))

  addDirJson(chaos.command('heal'))
    .description('end every partition and packet loss, in every mode: nft tables removed, each running node forgets its blocked peers')
    .action(action(ctx, async (o: DirOpts) => await heal(ctx, o)))

  addDirJson(chaos.command('status'))
    .description('per node: paused or not, which nodes it is partitioned from (app level and, read back from nft, OS level), packet loss')
    .action(action(ctx, async (o: DirOpts) => await status(ctx, o)))

  addDirJson(chaos.command('loss'))
    .description('drop a random share of the packets between nodes, on arrival (nftables, root); --percent 0 removes it')
    .requiredOption('--percent <p>', 'share of packets to drop, 0..100', intArg('--percent', 0, 100))
    .option('--node <i>', 'only the packets arriving at this node (default: every node)', intArg('--node', 0, 65535))
    .addOption(new Option('--mode <mode>', 'os (loopback cluster) or netns (cluster up --netns); default: the one that fits the cluster')
      .choices(['os', 'netns']))
    .action(action(ctx, async (o: DirOpts & { percent: number; node?: number; mode?: 'os' | 'netns' }) => await loss(ctx, o)))

  addDirJson(chaos.command('cleanup'))
    .description("remove leftovers of crashed runs: this cluster dir's nft tables (and its namespaces when none of its nodes runs)")
    .option('--all', 'every bellwether_ nft table and every bw- network namespace on this machine, whichever cluster made them')
    .action(action(ctx, async (o: DirOpts & { all?: boolean }) => await cleanup(ctx, o)))

  addDirJson(chaos.command('pause'))
    .description('SIGSTOP one node (it keeps its sockets but answers nothing)')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .action(action(ctx, async (o: DirOpts & { node: number }) => await signalNode(ctx, o, 'pause')))

  addDirJson(chaos.command('resume'))
    .description('SIGCONT a paused node')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .action(action(ctx, async (o: DirOpts & { node: number }) => await signalNode(ctx, o, 'resume')))

  chaos.addCommand(chaosRunCommand(ctx))
  return chaos
}

function parseGroups (value: string): number[][] {
  try {
    return parseGroupSpec(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

function parseCuts (value: string): Array<[number, number]> {
  try {
    return parseCutSpec(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

/** ShapeError / FaultError → the CLI's exit codes; anything else passes through. */
async function cli<T> (fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof ShapeError) throw new CliError(err.message, EXIT.USAGE)
    if (err instanceof FaultError) throw new CliError(err.message, err.kind === 'usage' ? EXIT.USAGE : EXIT.FAILURE)
    throw err
  }
}

async function partition (ctx: Ctx, o: PartitionOpts): Promise<number> {
  const p = printerFor(ctx, o)
  if ([o.groups, o.shape, o.cuts].filter((x) => x !== undefined).length !== 1) {
    throw new CliError('give exactly one of --groups SPEC, --cuts PAIRS and --shape halves|isolate|majorities-ring|bridge', EXIT.USAGE)
  }
  if (o.shape === undefined && (o.node !== undefined || o.seed !== undefined)) {
    throw new CliError('--node and --seed go with --shape, not with --groups or --cuts', EXIT.USAGE)
  }
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const running = (await runningNodes(file)).map((n) => n.index)
  if (running.length === 0) throw new CliError(`no running node in the cluster at ${dir}`, EXIT.UNREACHABLE)
  const plan: CutPlan = await cli(() => {
    if (o.groups !== undefined) {
      checkGroups(o.groups, file.nodes.map((n) => n.index), running)
      return groupsPlan(o.groups)
    }
    if (o.cuts !== undefined) return pairsPlan(o.cuts, file.nodes.map((n) => n.index))
    return shapePlan(o.shape!, running, o.seed === undefined ? null : seededRng(o.seed), { node: o.node })
  })
  const result = await cli(async () => await partitionCluster(dir, file, plan, o.mode))
  const failed = result.nodes.filter((x) => !x.ok)
  const what = o.groups !== undefined
    ? o.groups.map((g) => g.join(',')).join(' / ')
    : o.cuts !== undefined
      ? `cuts ${o.cuts.map(([a, b]) => `${a}-${b}`).join(',')}`
      : `${o.shape!}${o.seed !== undefined ? ` (seed ${o.seed})` : ''}`
  if (o.json === true) {
    p.printJson({
      mode: o.mode,
      ...(o.groups !== undefined ? { groups: o.groups } : o.cuts !== undefined ? {} : { shape: o.shape, seed: o.seed ?? null }),
      ok: result.ok,
      cuts: cutPairs(plan),
      ...(result.table !== undefined ? { table: result.table } : {}),
      nodes: result.nodes
    })
  } else {
    p.table(['NODE', 'PEER', 'CUT FROM', 'RESULT'], result.nodes.map((x) => [
      String(x.index), shortPeerId(x.peerId), x.partitionedFrom.join(',') || '-',
      x.ok ? (x.skipped ?? 'partitioned') : `FAILED: ${x.error ?? ''}`
    ]))
    p.line(`partition (${o.mode}${result.table !== undefined ? `, nft table ${result.table}` : ''}): ${what}` +
      (failed.length > 0 ? ` — INCOMPLETE, ${failed.length} node(s) failed; run 'bellwether chaos heal' or retry` : ''))
  }
  return failed.length === 0 ? EXIT.OK : EXIT.UNREACHABLE
}

async function heal (ctx: Ctx, o: DirOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const result = await cli(async () => await healCluster(dir, file, 'app'))
  if (o.json === true) {
    p.printJson(result)
  } else {
    for (const x of result.nodes) if (!x.ok) p.error(`node ${x.index}: ${x.error ?? 'failed'}`)
    for (const e of result.errors) p.error(e)
    if (result.removed.length > 0) p.line(`removed nft table${result.removed.length === 1 ? '' : 's'} ${result.removed.join(', ')}`)
    const n = result.nodes.length
    const bad = result.nodes.filter((x) => !x.ok).length
    p.line(result.ok
      ? `healed: ${n} running node${n === 1 ? '' : 's'} talk to everyone again`
      : `heal INCOMPLETE: ${bad} of ${n} running nodes did not answer${result.errors.length > 0 ? `, ${result.errors.length} nft error(s)` : ''}`)
  }
  return result.ok ? EXIT.OK : EXIT.UNREACHABLE
}

interface ChaosNodeView {
  index: number
  peerId: string
  running: boolean
  paused: boolean
  reachable: boolean
  /** indexes of the cluster nodes this node is partitioned from (application level) */
  partitionedFrom: number[]
  /** blocked peer ids that are not in the cluster file */
  partitionedOther: string[]
  /** nodes it exchanges no packets with per the nft tables; null when nft could not be read */
  osCutFrom: number[] | null
  /** random loss on packets arriving at it, in % */
  lossPercent?: number
  error?: string
}

async function status (ctx: Ctx, o: DirOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const byPeer = new Map(file.nodes.map((n) => [n.peerId, n.index]))
  const osView: Promise<OsStatus> = cli(async () => await osFaultStatus(dir, file))
  const views = await Promise.all(file.nodes.map(async (n): Promise<Omit<ChaosNodeView, 'osCutFrom'>> => {
    const base = { index: n.index, peerId: n.peerId, partitionedFrom: [] as number[], partitionedOther: [] as string[] }
    if ((await processState(n.pid, n.dataDir)) !== 'ours') return { ...base, running: false, paused: false, reachable: false }
    const paused = (await pausedState(n.pid!)) === true
    // a stopped process cannot answer; asking would only wait for the timeout
    if (paused) return { ...base, running: true, paused, reachable: false }
    try {
      const { partitioned } = await new ApiClient(n.apiUrl, CHAOS_TIMEOUT_MS).chaos()
      const from: number[] = []
      const other: string[] = []
      for (const id of partitioned) {
        const i = byPeer.get(id)
        if (i !== undefined) from.push(i)
        else other.push(id)
      }
      return { ...base, running: true, paused, reachable: true, partitionedFrom: from.sort((a, b) => a - b), partitionedOther: other }
    } catch (err) {
      return { ...base, running: true, paused, reachable: false, error: (err as Error).message }
    }
  }))
  const os = await osView
  const full: ChaosNodeView[] = views.map((v) => {
    const ov = os.nodes?.find((x) => x.index === v.index)
    const out: ChaosNodeView = { ...v, osCutFrom: ov?.cutFrom ?? null }
    if (ov?.lossPercent !== undefined) out.lossPercent = ov.lossPercent
    return out
  })
  if (o.json === true) {
    p.printJson({ nodes: full, os: { mode: os.mode, tables: os.tables, foreign: os.foreign, ...(os.reason !== undefined ? { reason: os.reason } : {}) } })
    return EXIT.OK
  }
  p.table(['NODE', 'PEER', 'STATE', 'PARTITIONED FROM', `${os.mode.toUpperCase()} CUT FROM`, 'LOSS'], full.map((v) => [
    String(v.index),
    shortPeerId(v.peerId),
    !v.running ? 'down' : v.paused ? 'paused' : v.reachable ? 'up' : 'no answer',
    v.reachable
      ? [v.partitionedFrom.map(String).join(','), ...v.partitionedOther.map(shortPeerId)].filter((x) => x !== '').join(',') || '-'
      : '?',
    v.osCutFrom === null ? '?' : v.osCutFrom.join(',') || '-',
    v.lossPercent !== undefined ? `${v.lossPercent}%` : os.nodes === null ? '?' : '-'
  ]))
  for (const v of full) if (v.error !== undefined) p.note(`node ${v.index}: ${v.error}`)
  if (os.reason !== undefined) p.note(`OS-level faults unknown: ${os.reason}`)
  if (os.tables.length > 0) p.note(`nft tables: ${os.tables.join(', ')}`)
  if (os.foreign.length > 0) p.note(`nft drops addresses of no node of this cluster: ${os.foreign.join(', ')}`)
  return EXIT.OK
}

async function loss (ctx: Ctx, o: DirOpts & { percent: number; node?: number; mode?: 'os' | 'netns' }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const mode = o.mode ?? (file.netns !== undefined ? 'netns' : 'os')
  const result = await cli(async () => await lossCluster(dir, file, o.percent, mode, o.node))
  if (o.json === true) {
    p.printJson(result)
  } else {
    for (const x of result.nodes) if (!x.ok) p.error(`node ${x.index}: ${x.error ?? 'failed'}`)
    const where = o.node !== undefined ? `arriving at node ${o.node}` : 'between all nodes'
    p.line(o.percent === 0 ? `loss (${mode}): removed (${where})` : `loss (${mode}): ${o.percent}% of packets ${where} dropped (nft table ${result.table})`)
  }
  return result.ok ? EXIT.OK : EXIT.FAILURE
}

async function cleanup (ctx: Ctx, o: DirOpts & { all?: boolean }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  let result: CleanupOutcome
  let running: number[] = []
  if (o.all === true) {
    result = await cleanupEverything()
  } else {
    // namespaces with a live node are not leftovers: keep them (their faults still go)
    const file = await readClusterFile(dir)
    running = file === undefined ? [] : (await runningNodes(file)).map((n) => n.index)
    result = await cleanupClusterFaults(dir, { namespaces: running.length === 0 })
  }
  if (o.json === true) {
    p.printJson(result)
  } else {
    const say = (what: string, xs: Array<string | number>): void => { if (xs.length > 0) p.line(`removed ${what}: ${xs.join(', ')}`) }
    say('nft tables', result.tables)
    say('namespaces', result.namespaces)
    say('root veths', result.links)
    if (result.killed.length > 0) p.line(`killed processes still running in them: ${result.killed.join(', ')}`)
    if (result.kept.length > 0) {
      p.note(`namespaces kept: node(s) ${running.join(', ')} still run in them; 'bellwether cluster down' removes them`)
    }
    for (const s of result.skipped) p.note(`skipped: ${s}`)
    if (result.tables.length + result.namespaces.length + result.links.length === 0) p.line('nothing to clean up')
  }
  return EXIT.OK
}

async function signalNode (ctx: Ctx, o: DirOpts & { node: number }, what: 'pause' | 'resume'): Promise<number> {
  const p = printerFor(ctx, o)
  const file = await loadCluster(resolve(o.dir))
  const node = findNode(file, o.node)
  const state = await processState(node.pid, node.dataDir)
  if (state === 'foreign') {
    throw new CliError(`node ${node.index}: pid ${node.pid} now belongs to another process; not signalling it`, EXIT.FAILURE)
  }
  if (state === 'gone' || node.pid === null) throw new CliError(`node ${node.index} is not running`, EXIT.UNREACHABLE)
  const pid = node.pid
  const want = what === 'pause'
  let result: 'paused' | 'resumed' | 'already paused' | 'not paused'
  const before = await pausedState(pid)
  if (before === want) {
    result = want ? 'already paused' : 'not paused'
  } else {
    try {
      process.kill(pid, want ? 'SIGSTOP' : 'SIGCONT')
    } catch (err) {
      throw new CliError(`node ${node.index}: cannot send ${want ? 'SIGSTOP' : 'SIGCONT'} to pid ${pid}: ${(err as Error).message}`, EXIT.FAILURE)
    }
    // signals are delivered asynchronously: return once /proc shows the new state
    const deadline = Date.now() + SIGNAL_WAIT_MS
    while (before !== undefined && (await pausedState(pid)) !== want) {
      if (Date.now() >= deadline) {
        throw new CliError(`node ${node.index} (pid ${pid}) did not ${want ? 'stop' : 'continue'} within ${SIGNAL_WAIT_MS} ms`, EXIT.FAILURE)
      }
      await sleep(POLL_MS)
    }
    result = want ? 'paused' : 'resumed'
  }
  if (o.json === true) p.printJson({ index: node.index, pid, result })
  else p.line(`node ${node.index}: ${result} (pid ${pid})`)
  return EXIT.OK
}
