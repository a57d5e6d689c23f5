// What every command group shares: the common flags (--dir, --json, --node, --api), argument
// parsers that turn bad values into usage errors (exit 64), loading the cluster file, and
// choosing which node to talk to. Commands return their exit code; they never exit.

import { InvalidArgumentError, type Command } from 'commander'
import { isIPv4 } from 'node:net'
import { ApiClient } from '../../api/client.js'
import { CliError, EXIT, Printer, type CliIo } from '../output.js'
import { parseSize } from '../units.js'
import { DEFAULT_CLUSTER_DIR, readClusterFile, type ClusterFile, type ClusterNode } from '../../cluster/clusterFile.js'
import { isRunning } from '../../cluster/launcher.js'

/** pino's levels */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface CommonOpts {
  dir: string
  json?: boolean
  node?: number
  api?: string
}

/** Shared by every action of one main() call: the streams, and where the exit code lands. */
export interface Ctx {
  io: CliIo
  code: number
}

/** Wraps an action so its returned exit code reaches main(); thrown errors pass through to it. */
export function action<A extends unknown[]> (ctx: Ctx, fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => { ctx.code = await fn(...args) }
}

export function printerFor (ctx: Ctx, opts: { json?: boolean }): Printer {
  return new Printer(ctx.io, opts.json === true)
}

export function defaultDir (): string {
  return process.env.BELLWETHER_DIR ?? DEFAULT_CLUSTER_DIR
}

export function addDirJson (cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'cluster file folder', defaultDir())
    .option('--json', 'print JSON instead of a table')
}

/** For commands that talk to one node. */
export function addNodeSelect (cmd: Command): Command {
  return addDirJson(cmd)
    .option('--node <i>', 'node index in the cluster file (default: first running node)', intArg('node index', 0, 65535))
    .option('--api <url>', 'talk to this admin API URL instead of a node from the cluster file')
}

export function intArg (what: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const v = /^-?[0-9]+$/.test(value.trim()) ? Number(value) : NaN
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(`${what} must be an integer in ${min}..${max}`)
    }
    return v
  }
}

export function sizeArg (what: string, min = 0): (value: string) => number {
  return (value: string) => {
    let v: number
    try {
      v = parseSize(value, what)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
    if (v < min) throw new InvalidArgumentError(`${what} must be at least ${min}`)
    return v
  }
}

export function hostPortArg (what: string): (value: string) => string {
  return (value: string) => {
    const m = /^(.+):([0-9]{1,5})$/.exec(value)
    if (m === null || Number(m[2]) > 65535 || m[1]!.trim() === '') {
      throw new InvalidArgumentError(`${what} must be host:port (e.g. 127.0.0.1:7000)`)
    }
    return value
  }
}

export function ipv4Arg (what: string): (value: string) => string {
  return (value: string) => {
    if (!isIPv4(value)) throw new InvalidArgumentError(`${what} must be an IPv4 address`)
    return value
  }
}

export async function loadCluster (dir: string): Promise<ClusterFile> {
  const file = await readClusterFile(dir)
  if (file === undefined) {
    throw new CliError(`no cluster in ${dir} (no cluster.json); start one with 'bellwether cluster up --nodes N'`, EXIT.UNREACHABLE)
  }
  return file
}

export function findNode (file: ClusterFile, index: number): ClusterNode {
  const n = file.nodes.find((x) => x.index === index)
  if (n === undefined) {
    throw new CliError(`no node ${index} in the cluster (nodes: ${file.nodes.map((x) => x.index).join(', ') || 'none'})`, EXIT.NOT_FOUND)
  }
  return n
}

export async function runningNodes (file: ClusterFile): Promise<ClusterNode[]> {
  const alive = await Promise.all(file.nodes.map(async (n) => await isRunning(n.pid, n.dataDir)))
  return file.nodes.filter((_, i) => alive[i])
}

export interface Target {
  client: ApiClient
  /** undefined when --api named the node directly */
  node?: ClusterNode
  file?: ClusterFile
}

/** --api URL, else --node I, else the first running node of the cluster file. */
export async function pickNode (opts: CommonOpts, timeoutMs?: number): Promise<Target> {
  if (opts.api !== undefined) {
    const url = /^https?:\/\//.test(opts.api) ? opts.api : `http://${opts.api}`
    return { client: new ApiClient(url, timeoutMs), file: await readClusterFile(opts.dir).catch(() => undefined) }
  }
  const file = await loadCluster(opts.dir)
  if (opts.node !== undefined) {
    const node = findNode(file, opts.node)
    if (!(await isRunning(node.pid, node.dataDir))) throw new CliError(`node ${node.index} is not running`, EXIT.UNREACHABLE)
    return { client: new ApiClient(node.apiUrl, timeoutMs), node, file }
  }
  const running = await runningNodes(file)
  if (running.length === 0) throw new CliError(`no running node in the cluster at ${opts.dir}`, EXIT.UNREACHABLE)
  return { client: new ApiClient(running[0]!.apiUrl, timeoutMs), node: running[0], file }
}
