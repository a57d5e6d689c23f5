// The cluster file (DIR/cluster.json): what `cluster up` launched and where — addresses,
// ports, data dirs, pids — so every later command (status, stop, start, vdi …) finds the
// nodes again. Reading validates the shape, so a hand-edited or truncated file is a clear
// error, never an undefined deep inside a command. Writes are atomic (temp file + rename).

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { isIPv4 } from 'node:net'
import { join, resolve } from 'node:path'
import { useClusterToken } from '../api/token.js'

export const CLUSTER_FILE = 'cluster.json'
export const CLUSTER_FILE_VERSION = 1
export const DEFAULT_CLUSTER_DIR = './.bellwether'
export const DEFAULT_IP_BASE = '127.0.0.10'
export const DEFAULT_COPIES = 3

/** What cluster.json records about a namespace cluster (src/chaos/netns.ts builds and tears it down). */
export interface NetnsInfo {
  /** 6 hex digits from the cluster dir; in every name netns.ts derives */
  id: string
  /** 10.a.b.0/24 */
  subnet: string
  /** the root namespace's veth into the bridge */
  hostIf: string
  /** its address, 10.a.b.254: the source of every CLI request */
  hostIp: string
}

export interface ClusterNode {
  index: number
  peerId: string
  ip: string
  p2pPort: number
  apiPort: number
  apiUrl: string
  /** full dialable address with /p2p/<peerId> */
  multiaddr: string
  /** absolute */
  dataDir: string
  /** absolute */
  logFile: string
  /** of the last launch; null when never launched or stopped through the CLI */
  pid: number | null
  zone: number
  /** network namespace the node runs in (`cluster up --netns`); absent: the root namespace */
  netns?: string
}

export interface ClusterFile {
  version: number
  createdAt: string
  copies: number
  ipBase: string
  logLevel?: string
  /** `cluster up --enable-chaos`: nodes serve /chaos/* (partition, heal, clock skew) */
  enableChaos?: boolean
  /** set by `cluster up --netns`: the namespaces, bridge and subnet of this cluster */
  netns?: NetnsInfo
  nodes: ClusterNode[]
}

export class ClusterFileError extends Error {
  override name = 'ClusterFileError'
}

export function clusterFilePath (dir: string): string {
  return join(resolve(dir), CLUSTER_FILE)
}

export function nodeDataDir (dir: string, index: number): string {
  return join(resolve(dir), `node-${index}`)
}

export function nodeLogFile (dir: string, index: number): string {
  return join(nodeDataDir(dir, index), 'node.log')
}

export function nodeMultiaddr (ip: string, port: number, peerId: string): string {
  return `/ip4/${ip}/tcp/${port}/p2p/${peerId}`
}

export function apiUrlOf (ip: string, port: number): string {
  return `http://${ip}:${port}`
}

/** base + i in the last octets (127.0.0.10 + 3 = 127.0.0.13), carrying like an integer. */
export function ipAdd (base: string, i: number): string {
  if (!isIPv4(base)) throw new ClusterFileError(`invalid IPv4 address '${base}'`)
  const n = base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + i
  if (!Number.isInteger(i) || i < 0 || n > 0xffffffff) throw new ClusterFileError(`${base} + ${i} is not an IPv4 address`)
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

/** undefined when the dir holds no cluster file; ClusterFileError when it holds a bad one. */
export async function readClusterFile (dir: string): Promise<ClusterFile | undefined> {
  const path = clusterFilePath(dir)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw new ClusterFileError(`cannot read ${path}: ${err?.message ?? err}`)
  }
  const file = parseClusterFile(text, path)
  // whoever finds the nodes through this dir talks to them: present the cluster's API token
  try {
    await useClusterToken(dir)
  } catch (err) {
    throw new ClusterFileError((err as Error).message)
  }
  return file
}

export async function writeClusterFile (dir: string, file: ClusterFile): Promise<void> {
  const path = clusterFilePath(dir)
  await mkdir(resolve(dir), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(file, null, 2) + '\n')
  await rename(tmp, path)
}

export function parseClusterFile (text: string, path = CLUSTER_FILE): ClusterFile {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ClusterFileError(`${path} is not valid JSON: ${(err as Error).message}`)
  }
  const bad = (why: string): ClusterFileError => new ClusterFileError(`${path}: ${why}`)
  if (!isObj(raw)) throw bad('not a JSON object')
  if (raw.version !== CLUSTER_FILE_VERSION) throw bad(`unsupported version ${JSON.stringify(raw.version)} (expected ${CLUSTER_FILE_VERSION})`)
  const str = (o: Record<string, unknown>, k: string, where: string): string => {
    if (typeof o[k] !== 'string' || o[k] === '') throw bad(`${where}${k} must be a non-empty string`)
    return o[k]
  }
  const int = (o: Record<string, unknown>, k: string, where: string, min: number, max: number): number => {
    const v = o[k]
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${where}${k} must be an integer in ${min}..${max}`)
    return v
  }
  if (!Array.isArray(raw.nodes)) throw bad('nodes must be an array')
  const nodes: ClusterNode[] = raw.nodes.map((n: unknown, i: number) => {
    const where = `nodes[${i}].`
    if (!isObj(n)) throw bad(`nodes[${i}] is not an object`)
    const pid = n.pid
    if (pid !== null && (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0)) throw bad(`${where}pid must be a positive integer or null`)
    const ip = str(n, 'ip', where)
    if (!isIPv4(ip)) throw bad(`${where}ip '${ip}' is not an IPv4 address`)
    const node: ClusterNode = {
      index: int(n, 'index', where, 0, 65535),
      peerId: str(n, 'peerId', where),
      ip,
      p2pPort: int(n, 'p2pPort', where, 1, 65535),
      apiPort: int(n, 'apiPort', where, 1, 65535),
      apiUrl: str(n, 'apiUrl', where),
      multiaddr: str(n, 'multiaddr', where),
      dataDir: str(n, 'dataDir', where),
      logFile: str(n, 'logFile', where),
      pid: pid as number | null,
      zone: int(n, 'zone', where, 0, 0xffffffff)
    }
    if (n.netns !== undefined) {
      node.netns = str(n, 'netns', where)
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(node.netns)) throw bad(`${where}netns '${node.netns}' is not a namespace name`)
    }
    return node
  })
  const seen = new Set<number>()
  for (const n of nodes) {
    if (seen.has(n.index)) throw bad(`node index ${n.index} appears twice`)
    seen.add(n.index)
  }
  const ipBase = str(raw, 'ipBase', '')
  if (!isIPv4(ipBase)) throw bad(`ipBase '${ipBase}' is not an IPv4 address`)
  const file: ClusterFile = {
    version: CLUSTER_FILE_VERSION,
    createdAt: str(raw, 'createdAt', ''),
    copies: int(raw, 'copies', '', 1, 255),
    ipBase,
    nodes: nodes.sort((a, b) => a.index - b.index)
  }
  if (raw.logLevel !== undefined) file.logLevel = str(raw, 'logLevel', '')
  if (raw.enableChaos !== undefined) {
    if (typeof raw.enableChaos !== 'boolean') throw bad('enableChaos must be true or false')
    file.enableChaos = raw.enableChaos
  }
  if (raw.netns !== undefined) {
    const ns = raw.netns
    if (!isObj(ns)) throw bad('netns must be an object')
    const subnet = str(ns, 'subnet', 'netns.')
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(subnet) || !isIPv4(subnet.split('/')[0]!)) throw bad(`netns.subnet '${subnet}' is not an IPv4 CIDR`)
    const hostIp = str(ns, 'hostIp', 'netns.')
    if (!isIPv4(hostIp)) throw bad(`netns.hostIp '${hostIp}' is not an IPv4 address`)
    file.netns = { id: str(ns, 'id', 'netns.'), subnet, hostIf: str(ns, 'hostIf', 'netns.'), hostIp }
  }
  return file
}

function isObj (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
