// `bellwether chaos partition|heal|status|pause|resume`: fault injection on a local cluster.
//
// partition/heal drive each node's application-level partition through its admin API
// (POST /chaos/partition, POST /chaos/heal: a libp2p connection gater plus hang-up), so no
// root is needed. `--mode os` (nftables/netns) is reserved for a later issue; the flags and
// the output stay the same. pause/resume send SIGSTOP/SIGCONT to a node's pid from the
// cluster file, only after /proc shows that pid is the bellwether node of that data dir.

import { Command, InvalidArgumentError, Option } from 'commander'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ApiClient } from '../apiClient.js'
import { CliError, EXIT, shortPeerId } from '../output.js'
import type { ClusterFile, ClusterNode } from '../../cluster/clusterFile.js'
import { processState, sleep } from '../../cluster/launcher.js'
import { action, addDirJson, findNode, intArg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'

/** A paused node never answers; do not let it hold a whole command up for long. */
const CHAOS_TIMEOUT_MS = 5_000
const SIGNAL_WAIT_MS = 3_000
const POLL_MS = 20

export const PARTITION_MODES = ['app', 'os'] as const
export type PartitionMode = typeof PARTITION_MODES[number]

interface DirOpts { dir: string; json?: boolean }
interface PartitionOpts extends DirOpts { groups: number[][]; mode: PartitionMode }

export function chaosCommand (ctx: Ctx): Command {
  const chaos = new Command('chaos').description('fault injection on a local cluster: partitions, pauses')

  addDirJson(chaos.command('partition'))
    .description('cut the cluster into groups of nodes; nodes in different groups stop talking to each other')
    .requiredOption('--groups <spec>', 'node indexes, groups separated by "/", e.g. 0,1,2/3,4 ' +
      '(every running node exactly once)', parseGroups)
    .addOption(new Option('--mode <mode>', 'app: libp2p connection gater in each node; os: firewall (not implemented yet)')
      .choices(PARTITION_MODES).default('app'))
    .action(action(ctx, async (o: PartitionOpts) => await partition(ctx, o)))

  addDirJson(chaos.command('heal'))
    .description('end every partition: each running node forgets its blocked peers and redials at once')
    .action(action(ctx, async (o: DirOpts) => await heal(ctx, o)))

  addDirJson(chaos.command('status'))
    .description('per node: paused or not, and which nodes it is partitioned from')
    .action(action(ctx, async (o: DirOpts) => await status(ctx, o)))

  addDirJson(chaos.command('pause'))
    .description('SIGSTOP one node (it keeps its sockets but answers nothing)')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .action(action(ctx, async (o: DirOpts & { node: number }) => await signalNode(ctx, o, 'pause')))

  addDirJson(chaos.command('resume'))
    .description('SIGCONT a paused node')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .action(action(ctx, async (o: DirOpts & { node: number }) => await signalNode(ctx, o, 'resume')))

  return chaos
}

/**
 * "0,1,2/3,4" → [[0,1,2],[3,4]]. At least two non-empty groups of non-negative integers, no
 * index twice. Whether the indexes exist is checked against the cluster file later.
 */
export function parseGroupSpec (spec: string): number[][] {
  const s = spec.replace(/\s+/g, '')
  if (s === '') throw new InvalidArgumentError('empty; expected groups of node indexes like 0,1,2/3,4')
  const groups = s.split('/').map((g, gi) => {
    if (g === '') throw new InvalidArgumentError(`group ${gi + 1} is empty; expected groups of node indexes like 0,1,2/3,4`)
    return g.split(',').map((x) => {
      if (x === '') throw new InvalidArgumentError(`group ${gi + 1} has an empty entry (two commas?); expected groups like 0,1,2/3,4`)
      if (!/^[0-9]{1,5}$/.test(x) || Number(x) > 65535) {
        throw new InvalidArgumentError(`'${x}' in group ${gi + 1} is not a node index; expected groups like 0,1,2/3,4`)
      }
      return Number(x)
    })
  })
  if (groups.length < 2) throw new InvalidArgumentError('a partition needs at least two groups separated by "/", e.g. 0,1,2/3,4')
  const where = new Map<number, number>()
  groups.forEach((g, gi) => {
    for (const i of g) {
      const prev = where.get(i)
      if (prev !== undefined) {
        throw new InvalidArgumentError(prev === gi
          ? `node ${i} appears twice in group ${gi + 1}`
          : `node ${i} is in group ${prev + 1} and in group ${gi + 1}; each node belongs to one group`)
      }
      where.set(i, gi)
    }
  })
  return groups
}

function parseGroups (value: string): number[][] {
  return parseGroupSpec(value)
}

/**
 * For each node of the groups, the peer ids of the nodes in every other group. Throws a
 * usage error for an index the cluster file does not know or a running node left out.
 */
export function partitionPlan (file: ClusterFile, running: ClusterNode[], groups: number[][]): Map<number, ClusterNode[]> {
  const known = new Set(file.nodes.map((n) => n.index))
  const unknown = groups.flat().filter((i) => !known.has(i))
  if (unknown.length > 0) {
    throw new CliError(`no node ${unknown.join(', ')} in the cluster (nodes: ${[...known].join(', ') || 'none'})`, EXIT.USAGE)
  }
  const listed = new Set(groups.flat())
  const left = running.filter((n) => !listed.has(n.index)).map((n) => n.index)
  if (left.length > 0) {
    throw new CliError(`running node${left.length === 1 ? '' : 's'} ${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} in no group; ` +
      'list every running node exactly once (e.g. --groups 0,1,2/3,4)', EXIT.USAGE)
  }
  const plan = new Map<number, ClusterNode[]>()
  groups.forEach((g, gi) => {
    const others = groups.flatMap((h, hi) => hi === gi ? [] : h).map((i) => findNode(file, i))
    for (const i of g) plan.set(i, others)
  })
  return plan
}

interface NodeOutcome { index: number; peerId: string; ok: boolean; skipped?: string; error?: string }

async function partition (ctx: Ctx, o: PartitionOpts): Promise<number> {
  const p = printerFor(ctx, o)
  if (o.mode === 'os') throw new CliError('mode os is not implemented yet; use --mode app', EXIT.USAGE)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const running = await runningNodes(file)
  if (running.length === 0) throw new CliError(`no running node in the cluster at ${dir}`, EXIT.UNREACHABLE)
  const plan = partitionPlan(file, running, o.groups)
  const isRunning = new Set(running.map((n) => n.index))

  const outcomes = await Promise.all(o.groups.flat().sort((a, b) => a - b).map(async (i): Promise<NodeOutcome & { partitionedFrom: number[] }> => {
    const node = findNode(file, i)
    const others = plan.get(i) ?? []
    const base = { index: i, peerId: node.peerId, partitionedFrom: others.map((n) => n.index) }
    // a stopped node needs nothing: the running ones refuse it, and it starts unpartitioned
    if (!isRunning.has(i)) return { ...base, ok: true, skipped: 'not running' }
    try {
      await new ApiClient(node.apiUrl, CHAOS_TIMEOUT_MS).partition(others.map((n) => n.peerId))
      return { ...base, ok: true }
    } catch (err) {
      return { ...base, ok: false, error: (err as Error).message }
    }
  }))
  const failed = outcomes.filter((x) => !x.ok)
  if (o.json === true) {
    p.printJson({ mode: o.mode, groups: o.groups, ok: failed.length === 0, nodes: outcomes })
  } else {
    p.table(['NODE', 'PEER', 'CUT FROM', 'RESULT'], outcomes.map((x) => [
      String(x.index), shortPeerId(x.peerId), x.partitionedFrom.join(','),
      x.ok ? (x.skipped ?? 'partitioned') : `FAILED: ${x.error ?? ''}`
    ]))
    p.line(`partition (${o.mode}): ${o.groups.map((g) => g.join(',')).join(' / ')}` +
      (failed.length > 0 ? ` — INCOMPLETE, ${failed.length} node(s) failed; run 'bellwether chaos heal' or retry` : ''))
  }
  return failed.length === 0 ? EXIT.OK : EXIT.UNREACHABLE
}

async function heal (ctx: Ctx, o: DirOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const running = await runningNodes(file)
  if (running.length === 0) throw new CliError(`no running node in the cluster at ${dir}`, EXIT.UNREACHABLE)
  const outcomes = await Promise.all(running.map(async (n): Promise<NodeOutcome> => {
    try {
      await new ApiClient(n.apiUrl, CHAOS_TIMEOUT_MS).heal()
      return { index: n.index, peerId: n.peerId, ok: true }
    } catch (err) {
      return { index: n.index, peerId: n.peerId, ok: false, error: (err as Error).message }
    }
  }))
  const failed = outcomes.filter((x) => !x.ok)
  if (o.json === true) {
    p.printJson({ ok: failed.length === 0, nodes: outcomes })
  } else {
    for (const x of failed) p.error(`node ${x.index}: ${x.error ?? 'failed'}`)
    p.line(failed.length === 0
      ? `healed: ${outcomes.length} running node${outcomes.length === 1 ? '' : 's'} talk to everyone again`
      : `heal INCOMPLETE: ${failed.length} of ${outcomes.length} running nodes did not answer`)
  }
  return failed.length === 0 ? EXIT.OK : EXIT.UNREACHABLE
}

interface ChaosNodeView {
  index: number
  peerId: string
  running: boolean
  paused: boolean
  reachable: boolean
  /** indexes of the cluster nodes this node is partitioned from */
  partitionedFrom: number[]
  /** blocked peer ids that are not in the cluster file */
  partitionedOther: string[]
  error?: string
}

async function status (ctx: Ctx, o: DirOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const byPeer = new Map(file.nodes.map((n) => [n.peerId, n.index]))
  const views = await Promise.all(file.nodes.map(async (n): Promise<ChaosNodeView> => {
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
  if (o.json === true) {
    p.printJson({ nodes: views })
    return EXIT.OK
  }
  p.table(['NODE', 'PEER', 'STATE', 'PARTITIONED FROM'], views.map((v) => [
    String(v.index),
    shortPeerId(v.peerId),
    !v.running ? 'down' : v.paused ? 'paused' : v.reachable ? 'up' : 'no answer',
    v.reachable
      ? [v.partitionedFrom.map(String).join(','), ...v.partitionedOther.map(shortPeerId)].filter((x) => x !== '').join(',') || '-'
      : '?'
  ]))
  for (const v of views) if (v.error !== undefined) p.note(`node ${v.index}: ${v.error}`)
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

/**
 * Whether the process is stopped by a signal (state T in /proc/PID/stat); undefined where
 * there is no /proc (not Linux): then pause/resume just send the signal.
 */
export async function pausedState (pid: number): Promise<boolean | undefined> {
  if (!existsSync('/proc/self/stat')) return undefined
  let stat: string
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false
  }
  // the state letter follows the parenthesised command name, which may itself contain ')'
  const at = stat.lastIndexOf(')')
  return stat.slice(at + 2, at + 3) === 'T'
}
