// One way to inject and clear network faults on a local cluster, whatever carries them out:
// `app` asks each node to gate its own libp2p connections (no root), `os` drops packets with
// nftables in the root namespace between the nodes' loopback addresses, `netns` drops them
// with nftables inside each node's own namespace. The CLI and the nemesis schedule both call
// this, so a fault looks the same however it was requested. Heal always clears every layer:
// a heal that left an OS-level cut behind would make every later result a lie.

import { ApiClient } from '../api/client.js'
import type { ClusterFile, ClusterNode } from '../cluster/clusterFile.js'
import { isRunning } from '../cluster/launcher.js'
import {
  NftError, applyRuleset, cleanupAllTables, clusterTableName, cutRuleset, deleteTable, lossRuleset, lossTableName, planDrops,
  readTable, tableDrops, type NftTable
} from './nft.js'
import { NetnsError, cleanupAllNamespaces, listNamespaces, netnsIdOf, teardownNetns } from './netns.js'
import type { CutPlan } from './shapes.js'

export const FAULT_MODES = ['app', 'os', 'netns'] as const
export type FaultMode = typeof FAULT_MODES[number]

/** A paused node never answers; do not let it hold a whole command up for long. */
const API_TIMEOUT_MS = 5_000

/** usage: the request does not fit the cluster; env: this machine cannot do it (no nft, not root) */
export class FaultError extends Error {
  override name = 'FaultError'
  constructor (message: string, readonly kind: 'usage' | 'env' | 'failed') {
    super(message)
  }
}

export interface NodeOutcome {
  index: number
  peerId: string
  /** the nodes it no longer talks to */
  partitionedFrom: number[]
  ok: boolean
  skipped?: string
  error?: string
}

export interface PartitionOutcome {
  mode: FaultMode
  ok: boolean
  nodes: NodeOutcome[]
  /** os/netns: the nft table that holds the cuts */
  table?: string
}

/**
 * Replaces the cluster's partition in `mode` with `plan` (every index must be a node of the
 * file). Stopped nodes need nothing in app mode (the others refuse them; they restart
 * unpartitioned); in os/netns mode their addresses are cut like any other, so a restart does
 * not sneak through. os mode installs the nft table and nothing else: open connections are
 * left to notice the silence through keepalives and pings, as they would on a real network.
 */
export async function partitionCluster (dir: string, file: ClusterFile, plan: CutPlan, mode: FaultMode): Promise<PartitionOutcome> {
  const nodes = new Map(file.nodes.map((n) => [n.index, n]))
  const unknown = [...plan.entries()].flatMap(([i, cut]) => [i, ...cut]).filter((i) => !nodes.has(i))
  if (unknown.length > 0) {
    throw new FaultError(`no node ${[...new Set(unknown)].join(', ')} in the cluster (nodes: ${[...nodes.keys()].join(', ') || 'none'})`, 'usage')
  }
  checkModeFits(file, mode)
  const order = [...plan.keys()].sort((a, b) => a - b)
  const base = (i: number): NodeOutcome => ({ index: i, peerId: nodes.get(i)!.peerId, partitionedFrom: plan.get(i) ?? [], ok: true })

  if (mode === 'app') {
    const outcomes = await Promise.all(order.map(async (i): Promise<NodeOutcome> => {
      const node = nodes.get(i)!
      if (!(await isRunning(node.pid, node.dataDir))) return { ...base(i), skipped: 'not running' }
      try {
        await new ApiClient(node.apiUrl, API_TIMEOUT_MS).partition(base(i).partitionedFrom.map((j) => nodes.get(j)!.peerId))
        return base(i)
      } catch (err) {
        return { ...base(i), ok: false, error: (err as Error).message }
      }
    }))
    return { mode, ok: outcomes.every((x) => x.ok), nodes: outcomes }
  }

  const table = clusterTableName(dir)
  if (mode === 'os') {
    const drops = planDrops(plan, (i) => nodes.get(i)?.ip)
    await envAware(async () => { await applyRuleset(cutRuleset(table, drops, `bellwether cuts ${dir}`)) })
    return { mode, ok: true, nodes: order.map(base), table }
  }

  // netns: each node drops what arrives from the nodes it is cut from, in its own namespace.
  // Nodes outside the plan get an empty table, so the previous partition is gone everywhere.
  const present = new Set(await envAware(async () => await listNamespaces(`bw-${file.netns!.id}-`)))
  const targets = file.nodes.filter((n) => plan.has(n.index) || (n.netns !== undefined && present.has(n.netns)))
  const outcomes = await Promise.all(targets.map(async (n): Promise<NodeOutcome> => {
    const out = plan.has(n.index) ? base(n.index) : { index: n.index, peerId: n.peerId, partitionedFrom: [], ok: true }
    if (n.netns === undefined || !present.has(n.netns)) return { ...out, ok: false, error: `namespace ${n.netns ?? '(none)'} does not exist; run 'bellwether cluster start --node ${n.index}' or 'cluster up --netns' again` }
    const drops = out.partitionedFrom.map((j) => ({ saddr: nodes.get(j)!.ip }))
    try {
      await applyRuleset(cutRuleset(table, drops, `bellwether cuts ${dir}`), { netns: n.netns })
      return out
    } catch (err) {
      if (err instanceof NftError && err.kind !== 'failed') throw new FaultError(err.message, 'env')
      return { ...out, ok: false, error: (err as Error).message }
    }
  }))
  return { mode, ok: outcomes.every((x) => x.ok), nodes: outcomes.filter((o) => plan.has(o.index)), table }
}

/** The CLI talks to the admin APIs from 127.0.0.1: a node there would take the CLI down with it. */
const CLI_SOURCE_IP = '127.0.0.1'

function checkModeFits (file: ClusterFile, mode: FaultMode): void {
  const clash = file.nodes.find((n) => n.ip === CLI_SOURCE_IP)
  if (mode === 'os' && clash !== undefined) {
    throw new FaultError(`node ${clash.index} listens on ${CLI_SOURCE_IP}, the source address of the CLI's own requests: ` +
      'os-mode drops would cut the CLI off from the nodes too; start the cluster with another --ip-base (default 127.0.0.10)', 'usage')
  }
  if (mode === 'os' && file.netns !== undefined) {
    throw new FaultError('this cluster runs in network namespaces, whose traffic the root namespace firewall never sees; ' +
      'use --mode netns (or --mode app)', 'usage')
  }
  if (mode === 'netns' && file.netns === undefined) {
    throw new FaultError("--mode netns needs a cluster started with 'bellwether cluster up --netns'; use --mode os (or app) for this one", 'usage')
  }
}

/** nft/ip that are missing or not permitted are the machine's problem, not the request's. */
async function envAware<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if ((err instanceof NftError || err instanceof NetnsError) && err.kind !== 'failed') throw new FaultError(err.message, 'env')
    if (err instanceof NftError || err instanceof NetnsError) throw new FaultError(err.message, 'failed')
    throw err
  }
}

export interface HealOutcome {
  ok: boolean
  /** the application-level heal of each running node */
  nodes: Array<{ index: number; peerId: string; ok: boolean; error?: string }>
  /** nft tables removed (root namespace, or "<netns>:<table>") */
  removed: string[]
  /** why the OS level was not looked at (no nft, not root): only tolerated in app mode */
  osSkipped?: string
  errors: string[]
}

/**
 * Ends every partition and every loss the cluster has, at every layer: the nft tables (root
 * namespace and node namespaces) and each running node's application-level gate. Idempotent.
 * In app mode a machine without nft (or without root) only skips the OS layer, since nothing
 * can have been installed there by us; in os/netns mode that is an error.
 */
export async function healCluster (dir: string, file: ClusterFile, mode: FaultMode = 'app'): Promise<HealOutcome> {
  const removed: string[] = []
  const errors: string[] = []
  let osSkipped: string | undefined
  const tables = [clusterTableName(dir), lossTableName(dir)]
  try {
    for (const t of tables) if (await deleteTable(t)) removed.push(t)
    if (file.netns !== undefined) {
      const present = new Set(await listNamespaces(`bw-${file.netns.id}-`))
      await Promise.all(file.nodes.map(async (n) => {
        if (n.netns === undefined || !present.has(n.netns)) return
        for (const t of tables) {
          try {
            if (await deleteTable(t, { netns: n.netns })) removed.push(`${n.netns}:${t}`)
          } catch (err) {
            if ((err as NftError).kind !== 'failed') throw err
            errors.push(`node ${n.index}: ${(err as Error).message}`)
          }
        }
      }))
    }
  } catch (err) {
    if (!(err instanceof NftError || err instanceof NetnsError) || err.kind === 'failed') throw err
    if (mode !== 'app') throw new FaultError(err.message, 'env')
    osSkipped = err.message
  }
  const running = await runningOf(file)
  const nodes = await Promise.all(running.map(async (n) => {
    try {
      await new ApiClient(n.apiUrl, API_TIMEOUT_MS).heal()
      return { index: n.index, peerId: n.peerId, ok: true }
    } catch (err) {
      return { index: n.index, peerId: n.peerId, ok: false, error: (err as Error).message }
    }
  }))
  const out: HealOutcome = { ok: errors.length === 0 && nodes.every((x) => x.ok), nodes, removed: removed.sort(), errors }
  if (osSkipped !== undefined) out.osSkipped = osSkipped
  return out
}

async function runningOf (file: ClusterFile): Promise<ClusterNode[]> {
  const alive = await Promise.all(file.nodes.map(async (n) => await isRunning(n.pid, n.dataDir)))
  return file.nodes.filter((_, i) => alive[i])
}

export interface LossOutcome {
  mode: 'os' | 'netns'
  percent: number
  /** the nodes whose incoming traffic from the other nodes is thinned */
  nodes: Array<{ index: number; ok: boolean; error?: string }>
  ok: boolean
  table: string
}

/**
 * Drops `percent` % of the packets between the cluster's nodes, at random, on arrival (both
 * directions, so a round trip loses about twice that); with `node`, only the packets arriving
 * at that node. 0 removes the loss. The CLI's own requests are never dropped.
 */
export async function lossCluster (dir: string, file: ClusterFile, percent: number, mode: 'os' | 'netns', node?: number): Promise<LossOutcome> {
  checkModeFits(file, mode)
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new FaultError('loss must be an integer percent in 0..100', 'usage')
  const targets = node === undefined ? file.nodes : file.nodes.filter((n) => n.index === node)
  if (targets.length === 0) throw new FaultError(`no node ${node} in the cluster (nodes: ${file.nodes.map((n) => n.index).join(', ')})`, 'usage')
  const table = lossTableName(dir)
  if (mode === 'os') {
    const ips = file.nodes.map((n) => n.ip)
    await envAware(async () => {
      if (percent === 0) await deleteTable(table)
      else await applyRuleset(lossRuleset(table, { percent, saddr: ips, daddr: targets.map((n) => n.ip) }, `bellwether loss ${dir}`))
    })
    return { mode, percent, nodes: targets.map((n) => ({ index: n.index, ok: true })), ok: true, table }
  }
  const info = file.netns!
  const nodes = await Promise.all(targets.map(async (n) => {
    try {
      if (n.netns === undefined) throw new Error('not in a namespace')
      if (percent === 0) await deleteTable(table, { netns: n.netns })
      else await applyRuleset(lossRuleset(table, { percent, saddr: [info.subnet], saddrNot: [info.hostIp] }, `bellwether loss ${dir}`), { netns: n.netns })
      return { index: n.index, ok: true }
    } catch (err) {
      if (err instanceof NftError && err.kind !== 'failed') throw new FaultError(err.message, 'env')
      return { index: n.index, ok: false, error: (err as Error).message }
    }
  }))
  return { mode, percent, nodes, ok: nodes.every((x) => x.ok), table }
}

export interface OsNodeView {
  index: number
  /** nodes it cannot exchange packets with, per the nft tables (either direction) */
  cutFrom: number[]
  /** random loss on packets arriving at it, in % (absent: none) */
  lossPercent?: number
}

export interface OsStatus {
  mode: 'os' | 'netns'
  /** null when nft could not be asked (then reason says why) */
  nodes: OsNodeView[] | null
  reason?: string
  /** the tables that exist now ("<netns>:<table>" inside namespaces) */
  tables: string[]
  /** dropped addresses that belong to no node of the cluster */
  foreign: string[]
}

/** What the nft tables of this cluster really hold, read back from the kernel. */
export async function osFaultStatus (dir: string, file: ClusterFile): Promise<OsStatus> {
  const mode = file.netns === undefined ? 'os' : 'netns'
  const byIp = new Map(file.nodes.map((n) => [n.ip, n.index]))
  const cut = new Map(file.nodes.map((n) => [n.index, new Set<number>()]))
  const loss = new Map<number, number>()
  const tables: string[] = []
  const foreign = new Set<string>()
  const link = (a: string, b: number | undefined): void => {
    const i = byIp.get(a)
    if (i === undefined || b === undefined) { if (i === undefined) foreign.add(a); return }
    if (i === b) return
    cut.get(i)?.add(b)
    cut.get(b)?.add(i)
  }
  const lossOf = (t: NftTable): number | undefined => t.rules.find((r) => r.verdict === 'drop' && r.other !== true)?.percent
  const cutName = clusterTableName(dir)
  const lossName = lossTableName(dir)
  try {
    if (mode === 'os') {
      const t = await readTable(cutName)
      if (t !== null) {
        tables.push(cutName)
        for (const d of tableDrops(t)) link(d.saddr, d.daddr === undefined ? undefined : byIp.get(d.daddr))
      }
      const l = await readTable(lossName)
      if (l !== null) {
        tables.push(lossName)
        const p = lossOf(l)
        const to = l.rules.flatMap((r) => r.daddr ?? [])
        if (p !== undefined) for (const ip of to) { const i = byIp.get(ip); if (i !== undefined) loss.set(i, p) }
      }
    } else {
      const present = new Set(await listNamespaces(`bw-${file.netns!.id}-`))
      await Promise.all(file.nodes.map(async (n) => {
        if (n.netns === undefined || !present.has(n.netns)) return
        const t = await readTable(cutName, { netns: n.netns })
        if (t !== null) {
          tables.push(`${n.netns}:${cutName}`)
          for (const d of tableDrops(t)) link(d.saddr, n.index)
        }
        const l = await readTable(lossName, { netns: n.netns })
        if (l !== null) {
          tables.push(`${n.netns}:${lossName}`)
          const p = lossOf(l)
          if (p !== undefined) loss.set(n.index, p)
        }
      }))
    }
  } catch (err) {
    if ((err instanceof NftError || err instanceof NetnsError) && err.kind !== 'failed') return { mode, nodes: null, reason: err.message, tables: [], foreign: [] }
    throw err
  }
  const nodes = file.nodes.map((n): OsNodeView => {
    const v: OsNodeView = { index: n.index, cutFrom: [...cut.get(n.index)!].sort((a, b) => a - b) }
    const p = loss.get(n.index)
    if (p !== undefined) v.lossPercent = p
    return v
  })
  return { mode, nodes, tables: tables.sort(), foreign: [...foreign].sort() }
}

export interface CleanupOutcome {
  tables: string[]
  namespaces: string[]
  links: string[]
  /** pids that were still running inside the namespaces and were killed */
  killed: number[]
  /** namespaces left in place because the caller said nodes still run there */
  kept: string[]
  /** layers not looked at, and why (no nft, no ip, not root) */
  skipped: string[]
}

/**
 * Leftovers of one cluster dir: its nft tables, and (with namespaces) its namespaces and root
 * veth, killing whatever still runs inside. Works without a cluster file (names come from the
 * dir), and never fails for a machine without nft or ip: there is nothing of ours there then.
 */
export async function cleanupClusterFaults (dir: string, opts: { namespaces: boolean }): Promise<CleanupOutcome> {
  const out: CleanupOutcome = { tables: [], namespaces: [], links: [], killed: [], kept: [], skipped: [] }
  const tables = [clusterTableName(dir), lossTableName(dir)]
  await tolerant(out, async () => {
    for (const t of tables) if (await deleteTable(t)) out.tables.push(t)
  })
  const id = netnsIdOf(dir)
  await tolerant(out, async () => {
    const mine = await listNamespaces(`bw-${id}-`)
    if (!opts.namespaces) {
      // keep the namespaces (nodes run there), but no fault may stay behind inside them
      out.kept.push(...mine)
      for (const ns of mine) {
        for (const t of tables) if (await deleteTable(t, { netns: ns })) out.tables.push(`${ns}:${t}`)
      }
      return
    }
    const td = await teardownNetns(id)
    out.namespaces.push(...td.namespaces)
    out.links.push(...td.links)
    out.killed.push(...td.killed)
  })
  return out
}

/** Every bellwether_ table and every bw- namespace and root veth on this machine. */
export async function cleanupEverything (): Promise<CleanupOutcome> {
  const out: CleanupOutcome = { tables: [], namespaces: [], links: [], killed: [], kept: [], skipped: [] }
  await tolerant(out, async () => { out.tables.push(...await cleanupAllTables()) })
  await tolerant(out, async () => {
    const td = await cleanupAllNamespaces()
    out.namespaces.push(...td.namespaces)
    out.links.push(...td.links)
    out.killed.push(...td.killed)
  })
  return out
}

async function tolerant (out: CleanupOutcome, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if ((err instanceof NftError || err instanceof NetnsError) && err.kind !== 'failed') out.skipped.push(err.message)
    else throw err
  }
}
