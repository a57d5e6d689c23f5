// Network namespaces for `cluster up --netns`: each node in a namespace of its own with one
// veth into a Linux bridge that lives in a namespace of ours, so a node's traffic really leaves
// it (its own stack, its own firewall) while the host's interfaces stay untouched. The only
// thing in the root namespace is one veth into the bridge with a .254 address, so the CLI can
// reach each node's admin API. Names are derived from the cluster dir, so a crashed run's
// leftovers are found and removed by the next one with the same dir.
//
//   bw-<id>-br  bridge br0; ports v<i> (to node i) and host (to the root namespace)
//   bw-<id>-<i> eth0 = 10.a.b.(i+1)/24, lo
//   root        bw-<id> = 10.a.b.254/24
//
// `ip netns del` does not kill what runs inside: every teardown kills first, then deletes.

import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { deniedRun, firstLine, runTool } from '../cluster/exec.js'
import type { NetnsInfo } from '../cluster/clusterFile.js'

export const NS_PREFIX = 'bw-'
const BRIDGE = 'br0'
const BRIDGE_HOST_PORT = 'host'
const NODE_IF = 'eth0'
const HOST_OCTET = 254
/** .1 … .253: node i is .(i+1), .254 is the root namespace */
export const MAX_NETNS_NODES = 253
/** a namespace has its ports to itself: every node uses the same two */
export const NETNS_P2P_PORT = 7000
export const NETNS_API_PORT = 7001
const KILL_WAIT_MS = 5_000
const POLL_MS = 50

export type NetnsFailure = 'missing' | 'denied' | 'failed'

export class NetnsError extends Error {
  override name = 'NetnsError'
  constructor (message: string, readonly kind: NetnsFailure) {
    super(message)
  }
}

export function netnsIdOf (dir: string): string {
  return createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 6)
}

export function bridgeNsName (id: string): string {
  return `${NS_PREFIX}${id}-br`
}

export function nodeNsName (id: string, index: number): string {
  return `${NS_PREFIX}${id}-${index}`
}

/** ≤ 15 characters (IFNAMSIZ): bw- + 6 hex */
export function hostIfName (id: string): string {
  return `${NS_PREFIX}${id}`
}

/** "10.a.b" of "10.a.b.0/24" */
export function subnetPrefix (info: NetnsInfo): string {
  return info.subnet.split('.').slice(0, 3).join('.')
}

export function nodeIpOf (info: NetnsInfo, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_NETNS_NODES) {
    throw new NetnsError(`node index ${index} does not fit in a namespace cluster (0..${MAX_NETNS_NODES - 1})`, 'failed')
  }
  return `${subnetPrefix(info)}.${index + 1}`
}

/**
 * The first free 10.a.b.0/24, starting at a place derived from the id so two clusters rarely
 * even probe the same subnets. `taken` are the CIDRs already routed in the root namespace
 * (host networks, other bw clusters); a subnet overlapping any of them is skipped. Pure.
 */
export function pickSubnet (id: string, taken: string[]): string {
  const h = Number.parseInt(id.slice(0, 6).padEnd(6, '0'), 16)
  const span = 112 * 256 // 10.128.0.0 … 10.239.255.0
  const start = h % span
  const nets = taken.map(parseCidr).filter((x): x is [number, number] => x !== null && x[1] > 0)
  for (let k = 0; k < span; k++) {
    const slot = (start + k) % span
    const base = ipToInt(`10.${128 + (slot >> 8)}.${slot & 255}.0`)
    if (!nets.some(([net, len]) => overlaps(base, 24, net, len))) return `${intToIp(base)}/24`
  }
  throw new NetnsError('no free 10.x.y.0/24 subnet for the namespace cluster (all of 10.128-239.x.y overlap existing routes)', 'failed')
}

export function netnsInfoFor (dir: string, taken: string[]): NetnsInfo {
  const id = netnsIdOf(dir)
  const subnet = pickSubnet(id, taken)
  return { id, subnet, hostIf: hostIfName(id), hostIp: `${subnet.split('.').slice(0, 3).join('.')}.${HOST_OCTET}` }
}

function parseCidr (c: string): [number, number] | null {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(c)
  if (m === null) return null
  const len = m[2] === undefined ? 32 : Number(m[2])
  return [ipToInt(m[1]!), len]
}

function overlaps (a: number, alen: number, b: number, blen: number): boolean {
  const len = Math.min(alen, blen)
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0
  return ((a & mask) >>> 0) === ((b & mask) >>> 0)
}

function ipToInt (ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
}

function intToIp (n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

// ---- running ip ----------------------------------------------------------------------------

async function ip (args: string[], stdin?: string): Promise<string> {
  const r = await runTool('ip', args, { stdin })
  if (r.missing === true) throw new NetnsError('the ip command (iproute2) is not installed', 'missing')
  if (r.code !== 0) {
    const why = firstLine(r.stderr) || `exit ${r.code}`
    if (deniedRun(r)) throw new NetnsError(`network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN): ip ${args.join(' ')}: ${why}`, 'denied')
    throw new NetnsError(`ip ${args.join(' ')}: ${why}`, 'failed')
  }
  return r.stdout
}

/** Runs many ip commands in one process (-batch), in the root namespace or in `ns`. */
async function ipBatch (lines: string[], ns?: string): Promise<void> {
  if (lines.length === 0) return
  await ip([...(ns === undefined ? [] : ['-n', ns]), '-batch', '-'], lines.join('\n') + '\n')
}

/** Names of every network namespace (or those starting with `prefix`). */
export async function listNamespaces (prefix = NS_PREFIX): Promise<string[]> {
  const out = (await ip(['-j', 'netns', 'list'])).trim()
  if (out === '') return []
  const list = JSON.parse(out) as Array<{ name?: string }>
  return list.map((x) => x.name ?? '').filter((n) => n.startsWith(prefix)).sort()
}

/** CIDRs routed in the root namespace, for pickSubnet. */
export async function takenSubnets (): Promise<string[]> {
  const out = (await ip(['-j', '-4', 'route', 'show', 'table', 'all'])).trim()
  if (out === '') return []
  const routes = JSON.parse(out) as Array<{ dst?: string; type?: string }>
  return routes.map((r) => r.dst ?? '').filter((d) => d !== '' && d !== 'default' && !d.startsWith('127.'))
}

async function linkExists (name: string): Promise<boolean> {
  const r = await runTool('ip', ['link', 'show', 'dev', name])
  return r.code === 0
}

export async function pidsIn (ns: string): Promise<number[]> {
  const r = await runTool('ip', ['netns', 'pids', ns])
  if (r.code !== 0) return []
  return r.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number)
}

/**
 * Creates what is missing of the topology for `indexes`, keeping what exists, so it serves a
 * fresh `cluster up` (after teardown) as well as `cluster add`/`start` on a live cluster.
 */
export async function ensureNetns (info: NetnsInfo, indexes: number[]): Promise<void> {
  const have = new Set(await listNamespaces(`${NS_PREFIX}${info.id}-`))
  const br = bridgeNsName(info.id)
  const prefixLen = info.subnet.split('/')[1] ?? '24'
  const root: string[] = []
  const inBridge: string[] = []
  if (!have.has(br)) {
    root.push(`netns add ${br}`)
    inBridge.push(`link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`, 'link set lo up')
  }
  const fresh = indexes.filter((i) => !have.has(nodeNsName(info.id, i)))
  for (const i of fresh) root.push(`netns add ${nodeNsName(info.id, i)}`)
  await ipBatch(root)
  if (!(await linkExists(info.hostIf))) {
    // the peer may survive in an old bridge namespace; a new one needs its own port
    await runTool('ip', ['-n', br, 'link', 'del', BRIDGE_HOST_PORT])
    await ipBatch([
      `link add ${info.hostIf} type veth peer name ${BRIDGE_HOST_PORT} netns ${br}`,
      `addr add ${info.hostIp}/${prefixLen} dev ${info.hostIf}`,
      `link set ${info.hostIf} up`
    ])
    inBridge.push(`link set ${BRIDGE_HOST_PORT} master ${BRIDGE}`, `link set ${BRIDGE_HOST_PORT} up`)
  }
  for (const i of fresh) {
    inBridge.push(
      `link add v${i} type veth peer name ${NODE_IF} netns ${nodeNsName(info.id, i)}`,
      `link set v${i} master ${BRIDGE}`,
      `link set v${i} up`
    )
  }
  await ipBatch(inBridge, br)
  await Promise.all(fresh.map(async (i) => await ipBatch([
    `addr add ${nodeIpOf(info, i)}/${prefixLen} dev ${NODE_IF}`,
    `link set ${NODE_IF} up`,
    'link set lo up'
  ], nodeNsName(info.id, i))))
}

export interface Teardown {
  namespaces: string[]
  /** processes that were still running inside and had to be killed */
  killed: number[]
  links: string[]
}

/**
 * Removes every namespace and the root veth of cluster `id`, killing whatever still runs in
 * them first (a node left by a crashed run, a stuck one). Idempotent.
 */
export async function teardownNetns (id: string): Promise<Teardown> {
  return await teardownNamespaces(await listNamespaces(`${NS_PREFIX}${id}-`), [hostIfName(id)])
}

/** Every bw- namespace and bw- root veth on the machine, whichever cluster made them. */
export async function cleanupAllNamespaces (): Promise<Teardown> {
  const links = await ourRootLinks()
  return await teardownNamespaces(await listNamespaces(NS_PREFIX), links)
}

async function ourRootLinks (): Promise<string[]> {
  const out = (await ip(['-j', 'link', 'show', 'type', 'veth'])).trim()
  if (out === '') return []
  return (JSON.parse(out) as Array<{ ifname?: string }>)
    .map((l) => l.ifname ?? '')
    .filter((n) => n.startsWith(NS_PREFIX))
}

async function teardownNamespaces (namespaces: string[], links: string[]): Promise<Teardown> {
  const killed: number[] = []
  for (const ns of namespaces) {
    for (const pid of await pidsIn(ns)) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.push(pid)
      } catch {}
    }
  }
  const deadline = Date.now() + KILL_WAIT_MS
  for (const ns of namespaces) {
    while ((await pidsIn(ns)).length > 0) {
      if (Date.now() >= deadline) throw new NetnsError(`processes in ${ns} did not die within ${KILL_WAIT_MS} ms: ${(await pidsIn(ns)).join(', ')}`, 'failed')
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }
  // deleting a namespace frees its veth ends asynchronously; delete the root end ourselves so
  // a new cluster can take the name at once
  const gone: string[] = []
  for (const l of links) {
    const r = await runTool('ip', ['link', 'del', 'dev', l])
    if (r.code === 0) gone.push(l)
    else if (deniedRun(r)) throw new NetnsError(`cannot delete ${l}: ${firstLine(r.stderr)} (needs root)`, 'denied')
  }
  // node namespaces first: their veths hang off the bridge
  const order = [...namespaces].sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')))
  if (order.length > 0) await ipBatch(order.map((ns) => `netns del ${ns}`))
  return { namespaces: order, killed, links: gone }
}
