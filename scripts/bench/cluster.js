// A benchmark cluster: N separate `bellwether node start` processes on ipBase+i, launched
// exactly as `bellwether cluster up` does (same launcher, same cluster file, so the real
// `bellwether cluster down --purge` stops and removes it), plus the one knob `cluster up`
// does not expose: extra `node start` flags (`--pubsub floodsub` for the baseline).
// Every cluster registers its own cleanup: the processes and its data dir go away even when
// the run fails or is interrupted.
import { execFileSync, spawn } from 'node:child_process'
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { api, onCleanup, sleep } from './lib.js'
import { binPath, freePorts, spawnNode, stopProcess } from '../../dist/cluster/launcher.js'
import {
  DEFAULT_IP_BASE, apiUrlOf, ipAdd, nodeDataDir, nodeLogFile, nodeMultiaddr, writeClusterFile
} from '../../dist/cluster/clusterFile.js'
import { peerIdOfDataDir } from '../../dist/net/peerKey.js'
import { ensureClusterSecrets } from '../../dist/cluster/secrets.js'
import { API_TOKEN_FILE, currentApiToken, useClusterToken, writeApiToken } from '../../dist/api/token.js'

const READY_TIMEOUT_MS = 60_000

/**
 * Starts `nodes` node processes in `dir` and resolves once every node sees all of them.
 * Returns { nodes, dir, pubsub, stop() }; stop() is idempotent and also runs on cleanup.
 */
export async function startCluster ({ dir, nodes: count = 10, copies = 3, pubsub = 'gossipsub', ipBase = DEFAULT_IP_BASE, nodeArgs = [], nodeFlags, readyTimeoutMs = READY_TIMEOUT_MS, log = () => {} }) {
  const cluster = { dir, nodes: [], pubsub, copies, file: undefined, extraArgs: [], nodeFlags, stop: async () => {} }
  // registered before anything exists, so an interrupted start is undone as well
  cluster.stop = onCleanup(`${pubsub} cluster in ${dir}`, async () => await stopCluster(cluster))
  await mkdir(dir, { recursive: true })
  const extraArgs = cluster.extraArgs = [...(pubsub === 'gossipsub' ? [] : ['--pubsub', pubsub]), ...nodeArgs]
  // every cluster of a run shares one API token: this process's clients present a single one
  // (src/api/token.ts), and the purge section runs two clusters side by side
  const token = currentApiToken()
  if (token !== undefined) await writeApiToken(join(dir, API_TOKEN_FILE), token)
  // a private cluster like `cluster up --enable-chaos` makes: the benches partition through /chaos
  const secrets = await ensureClusterSecrets(dir)
  await useClusterToken(dir)
  cluster.secrets = { ...secrets, enableChaos: true }
  // keys first: every node's full multiaddr must be known before any process starts
  const nodes = cluster.nodes = await Promise.all(Array.from({ length: count }, async (_, i) => await nodeRecord(dir, ipBase, i)))
  const file = cluster.file = { version: 1, createdAt: new Date().toISOString(), copies, ipBase, logLevel: 'warn', nodes }
  await writeClusterFile(dir, file)
  try {
    for (const n of nodes) {
      n.pid = spawnNode(n, { bootstrap: nodes.filter((x) => x !== n).map((x) => x.multiaddr), copies, logLevel: 'warn', extraArgs, nodeFlags, ...cluster.secrets })
    }
  } finally {
    await writeClusterFile(dir, file) // whatever started must be findable by `cluster down`
  }
  const t0 = Date.now()
  try {
    await waitForMembers(cluster, count, readyTimeoutMs)
  } catch (err) {
    await cluster.stop() // a cluster that did not form must not idle on for the rest of the run
    throw err
  }
  log(`${count}-node ${pubsub} cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${dir})`)
  return cluster
}

/** node I's cluster-file record (address ipBase + I, its key made now, free ports), not started */
async function nodeRecord (dir, ipBase, i) {
  const ip = ipAdd(ipBase, i)
  const dataDir = nodeDataDir(dir, i)
  const [peerId, [p2pPort, apiPort]] = await Promise.all([peerIdOfDataDir(dataDir), freePorts(ip, 2)])
  return { index: i, peerId, ip, p2pPort, apiPort, apiUrl: apiUrlOf(ip, apiPort), multiaddr: nodeMultiaddr(ip, p2pPort, peerId), dataDir, logFile: nodeLogFile(dir, i), pid: null, zone: i }
}

/**
 * One more node (index = the next one, address ipBase + index), bootstrapped from every running
 * node, as `bellwether cluster add` does; recorded in the cluster file before it starts, so
 * cleanup finds it. Resolves once it is spawned (not once it has joined). Returns the node.
 */
export async function addNode (cluster) {
  const i = cluster.nodes.reduce((m, n) => Math.max(m, n.index + 1), 0)
  const node = await nodeRecord(cluster.dir, cluster.file.ipBase, i)
  cluster.nodes.push(node)
  await startNode(cluster, node)
  return node
}

/** (Re)starts a stopped node of the cluster: same data dir, key, address and ports. */
export async function startNode (cluster, node) {
  const others = cluster.nodes.filter((x) => x !== node && x.pid !== null)
  try {
    node.pid = spawnNode(node, { bootstrap: others.map((x) => x.multiaddr), copies: cluster.copies, logLevel: 'warn', extraArgs: cluster.extraArgs, nodeFlags: cluster.nodeFlags, ...cluster.secrets })
  } finally {
    await writeClusterFile(cluster.dir, cluster.file)
  }
}

/** SIGTERM (SIGKILL after `graceMs`) one node and wait until it has exited; keeps its data. */
export async function stopNode (cluster, node, graceMs = 10_000) {
  await stopProcess(node.pid, node.dataDir, graceMs)
  node.pid = null
  await writeClusterFile(cluster.dir, cluster.file)
}

/**
 * Resolves once every running node answers /status with the same epoch, exactly the running
 * nodes as members, and not busy (recovery, transfers, gossip backlog) — `bellwether cluster
 * wait` without the delete-log comparison — on `stable` polls in a row. Returns the ms waited.
 */
export async function waitQuiet (cluster, { timeoutMs = 120_000, pollMs = 100, stable = 2 } = {}) {
  const t0 = Date.now()
  let good = 0
  let last = ''
  for (;;) {
    const running = cluster.nodes.filter((n) => n.pid !== null)
    const want = new Set(running.map((n) => n.peerId))
    const st = await Promise.all(running.map(async (n) => {
      try { return await api(`${n.apiUrl}/status`, { timeoutMs: 3000 }) } catch (err) { return { error: err?.message ?? String(err) } }
    }))
    const bad = st.map((s, k) => {
      if (s.error !== undefined) return `node ${running[k].index}: ${s.error}`
      if (s.members.length !== want.size || !s.members.every((m) => want.has(m))) return `node ${running[k].index} sees ${s.members.length} members`
      if (s.busy) return `node ${running[k].index} busy`
      return ''
    }).filter(Boolean)
    if (bad.length === 0 && new Set(st.map((s) => s.epoch)).size > 1) bad.push(`epochs differ: ${st.map((s) => s.epoch).join(',')}`)
    good = bad.length === 0 ? good + 1 : 0
    if (good >= stable) return Date.now() - t0
    last = bad.join('; ')
    if (Date.now() - t0 > timeoutMs) {
      // what keeps them busy: recovery progress and anti-entropy sessions of the busy ones
      const why = await Promise.all(running.filter((n, k) => st[k]?.busy === true).map(async (n) => {
        const [r, ae] = await Promise.all([api(`${n.apiUrl}/recovery`).catch((e) => e.message), api(`${n.apiUrl}/antientropy`).then((a) => a.active, (e) => e.message)])
        return `node ${n.index}: recovery ${JSON.stringify(r?.progress ?? r)}; ae active ${ae}`
      }))
      throw new Error(`cluster in ${cluster.dir} not quiet within ${timeoutMs / 1000} s: ${last}${why.length > 0 ? '\n  ' + why.join('\n  ') : ''}`)
    }
    await sleep(pollMs)
  }
}

async function waitForMembers (cluster, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const seen = await Promise.all(cluster.nodes.map(async (n) => {
      try { return (await api(`${n.apiUrl}/status`, { timeoutMs: 2000 })).members.length } catch { return NO_ANSWER }
    }))
    if (seen.every((s) => s !== NO_ANSWER && s >= want)) return
    if (Date.now() > deadline) {
      const kept = await keepLogs(cluster)
      throw new Error(`${cluster.pubsub} cluster did not form within ${timeoutMs / 1000} s: members seen ${seen.join(',')} (${NO_ANSWER}: /status not answered within 2 s); node logs kept in ${kept}`)
    }
    await sleep(200)
  }
}

const NO_ANSWER = '-'

/** copies the nodes' logs out of the run's temp dir (which cleanup removes), so a failure can be read afterwards; returns where */
async function keepLogs (cluster) {
  const dest = join(tmpdir(), `bellwether-bench-logs-${process.pid}`, basename(cluster.dir))
  await mkdir(dest, { recursive: true })
  await Promise.all(cluster.nodes.map(async (n) => await copyFile(n.logFile, join(dest, `node-${n.index}.log`)).catch(() => {})))
  return dest
}

/**
 * `bellwether cluster down --purge --dir DIR` (the product's own teardown); if that fails,
 * signal our pids directly and remove the dir ourselves.
 */
async function stopCluster (cluster) {
  await new Promise((resolve) => {
    const child = spawn(process.execPath, [binPath(), 'cluster', 'down', '--purge', '--dir', cluster.dir], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => { err += d })
    child.on('error', () => resolve(-1))
    child.on('exit', (c) => {
      if (c !== 0) process.stderr.write(`cluster down in ${cluster.dir} exited ${c}: ${err.trim()}\n`)
      resolve(c)
    })
  })
  // our own pids as well: a process spawned after the cluster file was last written is not in it
  await Promise.all(cluster.nodes.map(async (n) => await stopProcess(n.pid, n.dataDir, 3000)))
  await rm(cluster.dir, { recursive: true, force: true })
}

let clkTck
/** CPU seconds (user + system) used so far by each node process; NaN for one that is gone. */
export async function cpuSeconds (cluster) {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return await Promise.all(cluster.nodes.map(async (n) => {
    try {
      const stat = await readFile(`/proc/${n.pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(f[11]) + Number(f[12])) / clkTck // fields 14 and 15: utime, stime
    } catch {
      return NaN
    }
  }))
}

/** resident set size of each node process (bytes, /proc/PID/status VmRSS); NaN for one that is gone */
export async function rssBytes (cluster) {
  return await Promise.all(cluster.nodes.map(async (n) => {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${n.pid}/status`, 'utf8'))
      return m === null ? NaN : Number(m[1]) * 1024
    } catch {
      return NaN
    }
  }))
}

/**
 * CPU the whole cluster uses while idle, over `ms`, in percent of one core (summed over
 * nodes): context for latency figures taken on a machine with few cores.
 */
export async function idleCpuPercent (cluster, ms = 3000) {
  const a = await cpuSeconds(cluster)
  await sleep(ms)
  const b = await cpuSeconds(cluster)
  return (b.reduce((s, x, i) => s + x - a[i], 0) / (ms / 1000)) * 100
}

/** Path for a cluster's dir under the run's temp root. */
export function clusterDir (root, name) {
  return join(root, name)
}
