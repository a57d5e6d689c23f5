// `bellwether cluster status|wait`: what every node of the cluster file reports, and whether
// they have converged — same epoch, member set = exactly the running nodes, not busy,
// identical delete logs (count + fingerprint) and identical tombstone floors (floor hash).
// status also shows each node's GC horizon, floor size and anti-entropy session counters.

import { Command } from 'commander'
import { resolve } from 'node:path'
import { ApiClient } from '../../api/client.js'
import type { NodeStatus } from '../../api/types.js'
import { EXIT, shortPeerId } from '../output.js'
import type { ClusterFile, ClusterNode } from '../../cluster/clusterFile.js'
import { isRunning, sleep, pausedState } from '../../cluster/launcher.js'
import { action, addDirJson, intArg, loadCluster, printerFor, type Ctx } from './shared.js'

const STATUS_TIMEOUT_MS = 2_000
const POLL_MS = 250

export interface NodeView {
  node: ClusterNode
  running: boolean
  /** stopped by SIGSTOP (`chaos pause`): running, but it cannot answer */
  paused?: boolean
  status?: NodeStatus
  /** why a running node gave no status */
  error?: string
}

export function clusterStatusCommands (ctx: Ctx): Command[] {
  const status = addDirJson(new Command('status'))
    .description('per node: process, epoch, members, objects, delete log, agreement')
    .action(action(ctx, async (o: { dir: string; json?: boolean }) => await showStatus(ctx, o)))
  const wait = addDirJson(new Command('wait'))
    .description('wait until all running nodes agree (epoch, members, not busy, delete log)')
    .option('--timeout <s>', 'seconds', intArg('--timeout', 1, 86400), 60)
    .action(action(ctx, async (o: { dir: string; json?: boolean; timeout: number }) => await waitConverged(ctx, o)))
  return [status, wait]
}

export async function observe (file: ClusterFile): Promise<NodeView[]> {
  return await Promise.all(file.nodes.map(async (node): Promise<NodeView> => {
    if (!(await isRunning(node.pid, node.dataDir))) return { node, running: false }
    // asking a stopped process would only wait for the timeout
    if ((await pausedState(node.pid!)) === true) {
      return { node, running: true, paused: true, error: `paused (SIGSTOP); resume it with 'bellwether chaos resume --node ${node.index}'` }
    }
    try {
      return { node, running: true, status: await new ApiClient(node.apiUrl, STATUS_TIMEOUT_MS).status() }
    } catch (err) {
      return { node, running: true, error: (err as Error).message }
    }
  }))
}

/** What must be identical on converged nodes. */
export function agreementKey (s: NodeStatus): string {
  return [s.epoch, [...s.members].sort().join(','), s.log.count, s.log.fingerprint, s.gc?.floorHash ?? ''].join('|')
}

/** Each node's agreement with the most common key among answering nodes; undefined if silent. */
function agreements (views: NodeView[]): Map<number, boolean> {
  const counts = new Map<string, number>()
  for (const v of views) if (v.status !== undefined) counts.set(agreementKey(v.status), (counts.get(agreementKey(v.status)) ?? 0) + 1)
  let best = ''
  let bestN = 0
  for (const [k, n] of counts) if (n > bestN) { best = k; bestN = n }
  const out = new Map<number, boolean>()
  for (const v of views) if (v.status !== undefined) out.set(v.node.index, agreementKey(v.status) === best)
  return out
}

/** What keeps the running nodes from having converged; empty when they have. */
export function judgeConvergence (views: NodeView[]): string[] {
  const running = views.filter((v) => v.running)
  if (running.length === 0) return ['no node is running']
  const problems: string[] = []
  for (const v of running) if (v.status === undefined) problems.push(`node ${v.node.index}: not answering (${v.error ?? 'no status'})`)
  const up = running.filter((v): v is NodeView & { status: NodeStatus } => v.status !== undefined)

  const epochs = new Set(up.map((v) => v.status.epoch))
  if (epochs.size > 1) problems.push('epochs differ: ' + up.map((v) => `node ${v.node.index} ${v.status.epoch}`).join(', '))

  const expected = new Set(running.map((v) => v.node.peerId))
  for (const v of up) {
    const seen = new Set(v.status.members)
    const missing = [...expected].filter((id) => !seen.has(id)).map((id) => nodeName(views, id))
    const extra = [...seen].filter((id) => !expected.has(id)).map((id) => nodeName(views, id))
    if (missing.length > 0 || extra.length > 0) {
      problems.push(`node ${v.node.index} members: ` +
        [missing.length > 0 ? `missing ${missing.join(', ')}` : '', extra.length > 0 ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; '))
    }
  }

  for (const v of up) if (v.status.busy) problems.push(`node ${v.node.index} is busy: ${v.status.busyReasons?.join('; ') ?? 'recovery or transfers running'}`)

  const logs = new Set(up.map((v) => `${v.status.log.count}/${v.status.log.fingerprint}`))
  if (logs.size > 1) {
    problems.push('delete logs differ: ' + up.map((v) => `node ${v.node.index} ${v.status.log.count} records fp ${v.status.log.fingerprint}`).join(', '))
  }

  // equal logs but different floors: one node folded (or was reset with) a delete another lacks
  const floors = new Set(up.map((v) => v.status.gc?.floorHash ?? ''))
  if (floors.size > 1) {
    problems.push('GC floors differ: ' + up.map((v) => `node ${v.node.index} ${v.status.gc?.floor ?? '?'} entries hash ${v.status.gc?.floorHash ?? '?'}`).join(', '))
  }
  return problems
}

function nodeName (views: NodeView[], peerId: string): string {
  const v = views.find((x) => x.node.peerId === peerId)
  return v !== undefined ? `node ${v.node.index}` : shortPeerId(peerId)
}

/** A horizon (HLC hex) in 8 digits — its low bits, which differ between nearby horizons — or "-" when 0. */
export function shortHorizon (hex: string | undefined): string {
  if (hex === undefined) return '?'
  const t = hex.replace(/^0+/, '')
  return t === '' ? '-' : t.padStart(8, '0').slice(-8)
}

/** Peer ids share their first characters ("12D3KooW…"): the tail tells them apart. */
function peerTail (id: string): string {
  return id.length <= 8 ? id : `…${id.slice(-6)}`
}

async function showStatus (ctx: Ctx, o: { dir: string; json?: boolean }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const views = await observe(file)
  const agree = agreements(views)
  const indexOf = new Map(file.nodes.map((n) => [n.peerId, n.index]))
  const cutFrom = (s: NodeStatus | undefined): Array<number | string> | null =>
    s?.partitioned === undefined
      ? null
      : s.partitioned.map((id) => indexOf.get(id) ?? id).sort((a, b) => typeof a === typeof b ? (a < b ? -1 : a > b ? 1 : 0) : typeof a === 'number' ? -1 : 1)
  if (o.json === true) {
    p.printJson({
      dir,
      copies: file.copies,
      nodes: views.map((v) => ({
        index: v.node.index,
        peerId: v.node.peerId,
        multiaddrs: v.status?.addrs ?? [v.node.multiaddr],
        apiUrl: v.node.apiUrl,
        dataDir: v.node.dataDir,
        logFile: v.node.logFile,
        zone: v.status?.zone ?? v.node.zone,
        pid: v.running ? v.node.pid : null,
        running: v.running,
        paused: v.paused === true,
        reachable: v.status !== undefined,
        epoch: v.status?.epoch ?? null,
        members: v.status?.members ?? null,
        busy: v.status?.busy ?? null,
        busyReasons: v.status?.busyReasons ?? null,
        objects: v.status?.objects ?? null,
        log: v.status?.log ?? null,
        gc: v.status?.gc ?? null,
        ae: v.status?.ae ?? null,
        recovery: v.status?.recovery ?? null,
        partitioned: v.status?.partitioned ?? null,
        partitionedFrom: cutFrom(v.status),
        agrees: agree.get(v.node.index) ?? null,
        ...(v.error !== undefined ? { error: v.error } : {})
      }))
    })
    return EXIT.OK
  }
  // ~100 columns: addresses and full ids are in --json (and in `cluster up`'s table)
  p.table(
    ['NODE', 'PEER', 'PID', 'STATE', 'EPOCH', 'MEMBERS', 'OBJECTS', 'LOG', 'GC', 'FLOOR', 'AE OK/ERR', 'LEARNED', 'AGREE'],
    views.map((v) => {
      const s = v.status
      return [
        String(v.node.index),
        peerTail(v.node.peerId),
        v.running ? String(v.node.pid) : '-',
        !v.running ? 'down' : v.paused === true ? 'paused' : s !== undefined ? 'up' : 'silent',
        s?.epoch ?? '-',
        s !== undefined ? String(s.members.length) : '-',
        s !== undefined ? String(s.objects) : '-',
        s !== undefined ? `${s.log.count}/${s.log.fingerprint.slice(0, 8)}` : '-',
        s !== undefined ? shortHorizon(s.gc?.horizon) : '-',
        s?.gc !== undefined ? String(s.gc.floor) : '-',
        s?.ae !== undefined ? `${s.ae.completed}/${s.ae.failed}` : '-',
        s?.ae !== undefined ? String(s.ae.recordsLearned) : '-',
        s !== undefined ? (agree.get(v.node.index) === true ? 'yes' : 'NO') : '-'
      ]
    })
  )
  for (const v of views) {
    const cut = cutFrom(v.status)
    if (cut !== null && cut.length > 0) {
      p.note(`node ${v.node.index}: partitioned from ${cut.map((x) => typeof x === 'number' ? `node ${x}` : shortPeerId(x)).join(', ')}`)
    }
  }
  for (const v of views) {
    const r = v.status?.recovery
    if (r === undefined) continue
    if (r.running || r.failed > 0 || (r.peerFailures ?? 0) > 0 || r.toRecover > r.recovered) {
      p.note(`node ${v.node.index}: recovery epoch ${r.epoch}${r.running ? ' running' : ''}: ${r.recovered}/${r.toRecover} objects recovered, ${r.failed} failed, ${r.deletedSkipped} deleted skipped` +
        `${(r.peerFailures ?? 0) > 0 ? `, ${r.peerFailures} member(s) not reconciled or listed (retrying)` : ''} (last complete epoch ${r.lastCompleteEpoch})`)
    }
  }
  for (const v of views) if (v.error !== undefined) p.note(`node ${v.node.index}: ${v.error}`)
  return EXIT.OK
}

async function waitConverged (ctx: Ctx, o: { dir: string; json?: boolean; timeout: number }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const started = Date.now()
  const deadline = started + o.timeout * 1000
  for (;;) {
    // re-read each round: a concurrent `cluster stop/start` changes who should be a member
    const views = await observe(await loadCluster(dir))
    const problems = judgeConvergence(views)
    const done = problems.length === 0
    if (done || Date.now() >= deadline) {
      const up = views.filter((v) => v.status !== undefined)
      if (o.json === true) {
        p.printJson({
          converged: done,
          waitedMs: Date.now() - started,
          running: views.filter((v) => v.running).map((v) => v.node.index),
          epoch: done ? up[0]?.status?.epoch ?? null : null,
          log: done ? up[0]?.status?.log ?? null : null,
          problems
        })
      } else if (done) {
        const s = up[0]!.status!
        p.line(`converged: ${up.length} nodes, epoch ${s.epoch}, delete log ${s.log.count} records fp ${s.log.fingerprint} (${Date.now() - started} ms)`)
      } else {
        p.error(`not converged after ${o.timeout} s:`)
        for (const x of problems) p.error('  ' + x)
      }
      return done ? EXIT.OK : EXIT.FAILURE
    }
    await sleep(POLL_MS)
  }
}
