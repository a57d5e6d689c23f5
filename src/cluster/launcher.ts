// Node processes of a local cluster: find free ports, spawn `bellwether node start` detached
// with its output in a log file, and signal/await processes by pid. A pid from the cluster
// file may have been reused by an unrelated process since, so nothing is signalled unless
// /proc shows it is a bellwether node for that very data dir.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, closeSync, writeSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClusterNode } from './clusterFile.js'
import { findTool } from './exec.js'

/** Set in every spawned node's environment: a second way to recognise it if its argv changes. */
export const DATA_DIR_ENV = 'BELLWETHER_DATA_DIR'

export const DEFAULT_STOP_GRACE_MS = 10_000
const KILL_WAIT_MS = 5_000
const EMPTY_CMDLINE_RETRIES = 10
const EMPTY_CMDLINE_RETRY_MS = 10
const POLL_MS = 50

let rootCache: string | undefined

/** The package root: works from src/ (tests, tsx) and from dist/ alike. */
export function packageRoot (): string {
  if (rootCache !== undefined) return rootCache
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'bellwether') return (rootCache = dir)
      } catch {}
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the bellwether package root above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}

export function binPath (): string {
  return join(packageRoot(), 'bin', 'bellwether.js')
}

/**
 * n distinct free TCP ports on `ip`. All listeners are open at once so the kernel cannot hand
 * out the same port twice; another process may still take one before the node binds it.
 */
export async function freePorts (ip: string, n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer()
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen({ host: ip, port: 0, exclusive: true }, () => resolve())
      })
    }
    return servers.map((s) => {
      const a = s.address()
      if (a === null || typeof a === 'string') throw new Error(`no port for ${ip}`)
      return a.port
    })
  } catch (err) {
    throw new Error(`cannot bind a port on ${ip}: ${(err as Error).message}`)
  } finally {
    await Promise.all(servers.map(async (s) => await new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}

export interface LaunchOptions {
  bootstrap: string[]
  copies?: number
  logLevel?: string
  /** extra `node start` flags (benchmarks: `--pubsub floodsub`; chaos: `--clock-offset`) */
  extraArgs?: string[]
  /** the cluster's swarm key; absent: the node runs on an open network (`--open-network`) */
  swarmKeyFile?: string
  /** the cluster's admin API token */
  apiTokenFile?: string
  /** serve /chaos/* (chaos runs and tests) */
  enableChaos?: boolean
  /** node (V8) flags before the script; default NODE_FLAGS (benchmarks pass [] for the baseline) */
  nodeFlags?: string[]
}

/**
 * V8 flags every launched node runs with. None: of those tried for an idle node's RSS (issue
 * 14), a smaller young generation (--max-semi-space-size=1/2/4) saves ~20 MB and
 * --optimize-for-size ~32 MB of ~130 MB at 10 nodes, but each costs 15-35 % more CPU, and
 * idle CPU is the first target (docs/BENCHMARKS.md, idle section, has both next to each other).
 */
export const NODE_FLAGS: readonly string[] = []

export function nodeStartArgs (node: ClusterNode, opts: LaunchOptions): string[] {
  const args = [
    'node', 'start',
    '--data', node.dataDir,
    '--listen', `${node.ip}:${node.p2pPort}`,
    '--api', `${node.ip}:${node.apiPort}`,
    '--zone', String(node.zone)
  ]
  if (opts.copies !== undefined) args.push('--copies', String(opts.copies))
  if (opts.logLevel !== undefined) args.push('--log-level', opts.logLevel)
  args.push(...(opts.swarmKeyFile !== undefined ? ['--swarm-key', opts.swarmKeyFile] : ['--open-network']))
  if (opts.apiTokenFile !== undefined) args.push('--api-token-file', opts.apiTokenFile)
  if (opts.enableChaos === true) args.push('--enable-chaos')
  if (opts.extraArgs !== undefined) args.push(...opts.extraArgs)
  // last: --bootstrap is variadic and would swallow any flag after it
  if (opts.bootstrap.length > 0) args.push('--bootstrap', ...opts.bootstrap)
  return args
}

/**
 * Starts the node detached (it outlives the CLI) with stdout+stderr appended to its log file.
 * A node of a namespace cluster starts through `ip netns exec`, which execs in place: the pid
 * we get is the node's own, so stop/kill/pause work the same in both kinds of cluster.
 */
export function spawnNode (node: ClusterNode, opts: LaunchOptions): number {
  mkdirSync(node.dataDir, { recursive: true })
  let cmd = process.execPath
  let argv = [...(opts.nodeFlags ?? NODE_FLAGS), binPath(), ...nodeStartArgs(node, opts)]
  if (node.netns !== undefined) {
    const ip = findTool('ip')
    if (ip === null) throw new Error(`cannot start node ${node.index} in netns ${node.netns}: the ip command (iproute2) is not installed`)
    argv = ['netns', 'exec', node.netns, cmd, ...argv]
    cmd = ip
  }
  const fd = openSync(node.logFile, 'a')
  try {
    writeSync(fd, `--- bellwether node ${node.index} launched at ${new Date().toISOString()}${node.netns !== undefined ? ` in netns ${node.netns}` : ''} ---\n`)
    const child = spawn(cmd, argv, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, [DATA_DIR_ENV]: node.dataDir }
    })
    // spawn failures arrive as an event; without a listener they would crash the CLI
    child.on('error', () => {})
    if (child.pid === undefined) throw new Error(`cannot start node ${node.index}: spawn of ${cmd} failed`)
    child.unref()
    return child.pid
  } finally {
    closeSync(fd)
  }
}

export type ProcessState = 'ours' | 'gone' | 'foreign'

/** Whether `pid` is alive and is the bellwether node of `dataDir`. */
export async function processState (pid: number | null, dataDir: string): Promise<ProcessState> {
  if (pid === null || !Number.isInteger(pid) || pid <= 0) return 'gone'
  if (!existsSync('/proc/self/stat')) return aliveBySignal(pid) ? 'ours' : 'gone'
  // an exiting process has released its memory (empty cmdline) before it shows as a zombie;
  // so has one in the middle of execve (`ip netns exec` execs the node after we spawned it).
  // Look again shortly: the first becomes a zombie or vanishes, the second gets its cmdline.
  for (let attempt = 0; ; attempt++) {
    let stat: string
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    } catch {
      return 'gone'
    }
    // the state letter follows the parenthesised command name, which may itself contain ')'
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    if (state === 'Z' || state === 'X') return 'gone'
    let cmdline: string
    try {
      cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      return 'gone'
    }
    if (cmdline === '') {
      if (attempt >= EMPTY_CMDLINE_RETRIES) return 'gone'
      await sleep(EMPTY_CMDLINE_RETRY_MS)
      continue
    }
    if (cmdline.split('\0').includes(dataDir)) return 'ours'
    break
  }
  try {
    const env = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
    if (env.includes(`${DATA_DIR_ENV}=${dataDir}`)) return 'ours'
  } catch {}
  return 'foreign'
}

export async function isRunning (pid: number | null, dataDir: string): Promise<boolean> {
  return (await processState(pid, dataDir)) === 'ours'
}

function aliveBySignal (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err?.code === 'EPERM'
  }
}

function sendSignal (pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch (err: any) {
    if (err?.code !== 'ESRCH') throw err
  }
}

/** true once the process is gone, false if it is still running after timeoutMs. */
export async function waitForExit (pid: number, dataDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!(await isRunning(pid, dataDir))) return true
    if (Date.now() >= deadline) return false
    await sleep(POLL_MS)
  }
}

export type StopResult = 'stopped' | 'killed' | 'not-running' | 'stuck'

/** SIGTERM, then SIGKILL after graceMs. Only signals a verified bellwether process. */
export async function stopProcess (pid: number | null, dataDir: string, graceMs = DEFAULT_STOP_GRACE_MS): Promise<StopResult> {
  if (pid === null || !(await isRunning(pid, dataDir))) return 'not-running'
  sendSignal(pid, 'SIGTERM')
  // a node paused by chaos (SIGSTOP) would sit on the SIGTERM until the grace period ends
  sendSignal(pid, 'SIGCONT')
  if (await waitForExit(pid, dataDir, graceMs)) return 'stopped'
  sendSignal(pid, 'SIGKILL')
  return (await waitForExit(pid, dataDir, KILL_WAIT_MS)) ? 'killed' : 'stuck'
}

export async function killProcess (pid: number | null, dataDir: string): Promise<StopResult> {
  if (pid === null || !(await isRunning(pid, dataDir))) return 'not-running'
  sendSignal(pid, 'SIGKILL')
  return (await waitForExit(pid, dataDir, KILL_WAIT_MS)) ? 'killed' : 'stuck'
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
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
