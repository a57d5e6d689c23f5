// `bellwether cluster up|down|add|stop|start|kill`: launching and stopping the node processes
// of a local cluster described by DIR/cluster.json. (status and wait: clusterStatus.ts.)
// With --netns each node runs in a network namespace of its own (src/chaos/netns.ts); down
// removes every OS-level fault and namespace of the cluster, so nothing outlives it.

import { Command, Option } from 'commander'
import { readFile, rm, rmdir } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { ApiClient } from '../../api/client.js'
import { CliError, EXIT, type Printer, shortPeerId } from '../output.js'
import {
  DEFAULT_COPIES, DEFAULT_IP_BASE, apiUrlOf, clusterFilePath, ipAdd, nodeDataDir, nodeLogFile, nodeMultiaddr,
  readClusterFile, writeClusterFile, type ClusterFile, type ClusterNode, type NetnsInfo
} from '../../cluster/clusterFile.js'
import { freePorts, isRunning, killProcess, sleep, spawnNode, stopProcess, type LaunchOptions, type StopResult } from '../../cluster/launcher.js'
import { clusterSecrets, ensureClusterSecrets, nextSwarmKeyFile } from '../../cluster/secrets.js'
import { useClusterToken } from '../../api/token.js'
import { FaultError, cleanupClusterFaults, type CleanupOutcome } from '../../chaos/faults.js'
import {
  MAX_NETNS_NODES, NETNS_API_PORT, NETNS_P2P_PORT, NetnsError, ensureNetns, netnsInfoFor, nodeIpOf, nodeNsName, takenSubnets
} from '../../chaos/netns.js'
import { LOG_LEVELS, action, addDirJson, findNode, intArg, ipv4Arg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'
import { clusterStatusCommands } from './clusterStatus.js'
import { rotateKeyCommand } from './clusterKey.js'

const STATUS_TIMEOUT_MS = 2_000
const POLL_MS = 250

interface DirOpts { dir: string; json?: boolean }
interface UpOpts extends DirOpts { nodes: number; copies: number; ipBase: string; timeout: number; logLevel?: string; netns?: boolean; enableChaos?: boolean }

export function clusterCommand (ctx: Ctx): Command {
  const cluster = new Command('cluster').description('a local cluster of node processes (DIR/cluster.json)')

  addDirJson(cluster.command('up'))
    .description('start N nodes, each on its own loopback address, and wait until they all see each other')
    .requiredOption('--nodes <n>', 'number of nodes', intArg('--nodes', 1, 200))
    .option('--copies <c>', 'default copies for VDIs', intArg('--copies', 1, 255), DEFAULT_COPIES)
    .option('--ip-base <ip>', 'address of node 0; node i gets ip-base + i', ipv4Arg('--ip-base'), DEFAULT_IP_BASE)
    .option('--timeout <s>', 'seconds to wait for full membership', intArg('--timeout', 1, 3600), 60)
    .addOption(new Option('--log-level <level>', 'node log level').choices(LOG_LEVELS))
    .addOption(new Option('--netns', 'each node in a network namespace of its own, on a bridge in a namespace of ours ' +
      '(root; for chaos --mode netns)').conflicts('ipBase'))
    .option('--enable-chaos', 'nodes serve /chaos/* (partition, heal, clock skew) for chaos runs and tests')
    .action(action(ctx, async (o: UpOpts) => await up(ctx, o)))

  addDirJson(cluster.command('down'))
    .description('stop every node (SIGTERM, SIGKILL after 10 s); data is kept unless --purge')
    .option('--purge', 'also delete the data dirs and the cluster file')
    .action(action(ctx, async (o: DirOpts & { purge?: boolean }) => await down(ctx, o)))

  addDirJson(cluster.command('add'))
    .description('start one more node, bootstrapped from all current ones')
    .option('--zone <n>', 'failure domain (default: its index)', intArg('--zone', 0, 0xffffffff))
    .option('--timeout <s>', 'seconds to wait until it sees the running nodes', intArg('--timeout', 1, 3600), 60)
    .action(action(ctx, async (o: DirOpts & { zone?: number; timeout: number }) => await add(ctx, o)))

  addDirJson(cluster.command('stop'))
    .description('stop one node (SIGTERM), keeping its data; waits until it has exited')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .option('--timeout <s>', 'seconds before SIGKILL', intArg('--timeout', 1, 3600), 10)
    .action(action(ctx, async (o: DirOpts & { node: number; timeout: number }) =>
      await stopOne(ctx, o, async (n) => await stopProcess(n.pid, n.dataDir, o.timeout * 1000))))

  addDirJson(cluster.command('kill'))
    .description('SIGKILL one node')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .action(action(ctx, async (o: DirOpts & { node: number }) =>
      await stopOne(ctx, o, async (n) => await killProcess(n.pid, n.dataDir))))

  addDirJson(cluster.command('start'))
    .description('start a stopped node again: same data dir, key, address and ports')
    .requiredOption('--node <i>', 'node index', intArg('--node', 0, 65535))
    .option('--timeout <s>', 'seconds to wait for its API and for it to join the cluster', intArg('--timeout', 1, 3600), 30)
    .action(action(ctx, async (o: DirOpts & { node: number; timeout: number }) => await startOne(ctx, o)))

  for (const c of clusterStatusCommands(ctx)) cluster.addCommand(c)
  cluster.addCommand(rotateKeyCommand(ctx))
  return cluster
}

async function up (ctx: Ctx, o: UpOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const old = await readClusterFile(dir)
  if (old !== undefined) {
    const alive = await runningNodes(old)
    if (alive.length > 0) {
      throw new CliError(`a cluster is already running in ${dir} (nodes ${alive.map((n) => n.index).join(', ')}); ` +
        "run 'bellwether cluster down' first", EXIT.EXISTS)
    }
  }
  // a crashed earlier run may have left nft tables or namespaces for this dir: they would cut
  // (or hold the names of) the new cluster
  const leftovers = await osLevel(async () => await cleanupClusterFaults(dir, { namespaces: true }))
  if (!o.json) noteCleanup(p, leftovers, 'leftovers of an earlier run')
  let netns: NetnsInfo | undefined
  let ipBase = o.ipBase
  if (o.netns === true) {
    if (o.nodes > MAX_NETNS_NODES) throw new CliError(`--netns takes at most ${MAX_NETNS_NODES} nodes (one /24)`, EXIT.USAGE)
    netns = await osLevel(async () => netnsInfoFor(dir, await takenSubnets()))
    await osLevel(async () => { await ensureNetns(netns!, Array.from({ length: o.nodes }, (_, i) => i)) })
    ipBase = nodeIpOf(netns, 0)
  } else {
    ipAdd(o.ipBase, o.nodes - 1) // fail on a bad base before minting anything
  }

  // keys first: every node's full multiaddr must be known before any process starts
  await ensureClusterSecrets(dir)
  await useClusterToken(dir)
  const nodes: ClusterNode[] = await Promise.all(Array.from({ length: o.nodes }, async (_, i) => await newNode(dir, ipBase, i, i, netns)))
  const file: ClusterFile = {
    version: 1, createdAt: new Date().toISOString(), copies: o.copies, ipBase, nodes
  }
  if (o.logLevel !== undefined) file.logLevel = o.logLevel
  if (o.enableChaos === true) file.enableChaos = true
  if (netns !== undefined) file.netns = netns
  await writeClusterFile(dir, file)
  try {
    for (const n of nodes) n.pid = spawnNode(n, launchOpts(dir, file, nodes.filter((x) => x !== n)))
  } finally {
    // whatever did start must be findable by `cluster down`
    await writeClusterFile(dir, file)
  }
  if (!o.json) p.note(`started ${nodes.length} nodes in ${dir}; waiting for membership…`)

  const lag = await waitForMembers(nodes, nodes.length, o.timeout * 1000)
  if (lag.length > 0) {
    p.error(`cluster did not form within ${o.timeout} s:`)
    for (const l of lag) p.error('  ' + l)
    return EXIT.FAILURE
  }
  if (o.json) p.printJson(file)
  else {
    p.table(['NODE', 'PEER', 'ADDRESS', 'API', 'PID'], nodes.map((n) =>
      [String(n.index), shortPeerId(n.peerId), `${n.ip}:${n.p2pPort}`, n.apiUrl, String(n.pid)]))
    p.line(`cluster of ${nodes.length} nodes is up (copies ${o.copies}${netns !== undefined ? `; namespaces bw-${netns.id}-*, subnet ${netns.subnet}` : ''})`)
  }
  return EXIT.OK
}

async function newNode (dir: string, ipBase: string, index: number, zone: number, netns?: NetnsInfo): Promise<ClusterNode> {
  // in a namespace the node has the whole port range to itself, and its address is not ours to bind
  const ip = netns === undefined ? ipAdd(ipBase, index) : await osLevel(async () => nodeIpOf(netns, index))
  const dataDir = nodeDataDir(dir, index)
  // libp2p's crypto is loaded here, by the commands that make nodes, not by every cluster command
  const { peerIdOfDataDir } = await import('../../net/peerKey.js')
  const [peerId, [p2pPort, apiPort]] = await Promise.all([
    peerIdOfDataDir(dataDir),
    netns === undefined ? freePorts(ip, 2) : Promise.resolve([NETNS_P2P_PORT, NETNS_API_PORT])
  ])
  const node: ClusterNode = {
    index,
    peerId,
    ip,
    p2pPort: p2pPort!,
    apiPort: apiPort!,
    apiUrl: apiUrlOf(ip, apiPort!),
    multiaddr: nodeMultiaddr(ip, p2pPort!, peerId),
    dataDir,
    logFile: nodeLogFile(dir, index),
    pid: null,
    zone
  }
  if (netns !== undefined) node.netns = nodeNsName(netns.id, index)
  return node
}

/** nft/ip failures (not installed, not root) as one-line CLI errors. */
async function osLevel<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof NetnsError || err instanceof FaultError) throw new CliError(err.message, EXIT.FAILURE)
    throw err
  }
}

function noteCleanup (p: Printer, c: CleanupOutcome, what: string): void {
  const parts = [
    c.tables.length > 0 ? `nft tables ${c.tables.join(', ')}` : '',
    c.namespaces.length > 0 ? `namespaces ${c.namespaces.join(', ')}` : '',
    c.killed.length > 0 ? `killed pids ${c.killed.join(', ')} left in them` : ''
  ].filter((x) => x !== '')
  if (parts.length > 0) p.note(`removed ${what}: ${parts.join('; ')}`)
}

export function launchOpts (dir: string, file: ClusterFile, others: ClusterNode[], swarmKeyFile?: string): LaunchOptions {
  const secrets = clusterSecrets(dir)
  return {
    bootstrap: others.map((x) => x.multiaddr),
    copies: file.copies,
    logLevel: file.logLevel,
    swarmKeyFile: swarmKeyFile ?? secrets.swarmKeyFile,
    apiTokenFile: secrets.apiTokenFile,
    enableChaos: file.enableChaos
  }
}

/**
 * Polls until each node's /status lists at least `want` members. Returns one line per node
 * that still lags at the deadline (empty when all made it); a node whose process died is
 * reported at once with the end of its log.
 */
export async function waitForMembers (nodes: ClusterNode[], want: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  const done = new Set<number>()
  for (;;) {
    const lag: string[] = []
    await Promise.all(nodes.filter((n) => !done.has(n.index)).map(async (n) => {
      if (!(await isRunning(n.pid, n.dataDir))) {
        lag.push(`node ${n.index} (pid ${n.pid}) exited; end of ${n.logFile}:\n${await logTail(n.logFile)}`)
        return
      }
      try {
        const s = await new ApiClient(n.apiUrl, STATUS_TIMEOUT_MS).status()
        if (s.members.length >= want && s.joined !== false) done.add(n.index)
        else if (s.members.length >= want) lag.push(`node ${n.index} (${n.apiUrl}) sees all ${want} members but has not joined yet`)
        else lag.push(`node ${n.index} (${n.apiUrl}) sees ${s.members.length} of ${want} members`)
      } catch (err) {
        lag.push(`node ${n.index} (${n.apiUrl}) not answering: ${(err as Error).message}`)
      }
    }))
    if (lag.length === 0) return []
    if (lag.some((l) => l.includes(' exited; ')) || Date.now() >= deadline) return lag.sort()
    await sleep(POLL_MS)
  }
}

async function logTail (path: string, lines = 8): Promise<string> {
  try {
    const text = await readFile(path, 'utf8')
    return text.trimEnd().split('\n').slice(-lines).map((l) => '    ' + l).join('\n')
  } catch {
    return '    (no log)'
  }
}

async function down (ctx: Ctx, o: DirOpts & { purge?: boolean }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await readClusterFile(dir)
  if (file === undefined) {
    const cleaned = await osLevel(async () => await cleanupClusterFaults(dir, { namespaces: true }))
    if (o.json) p.printJson({ nodes: [], purged: false, cleanup: cleaned })
    else {
      noteCleanup(p, cleaned, 'leftovers')
      p.line(`no cluster in ${dir}; nothing to stop`)
    }
    return EXIT.OK
  }
  // lift OS-level faults first: a node that cannot reach its peers may not stop within the grace
  const healed = await osLevel(async () => await cleanupClusterFaults(dir, { namespaces: false }))
  const results = await Promise.all(file.nodes.map(async (n) => ({ n, pid: n.pid, result: await stopProcess(n.pid, n.dataDir) })))
  // the namespaces go with the cluster (killing anything still inside them)
  const cleaned = await osLevel(async () => await cleanupClusterFaults(dir, { namespaces: true }))
  cleaned.tables.unshift(...healed.tables)
  cleaned.skipped = [...new Set([...healed.skipped, ...cleaned.skipped])]
  const stuck = results.filter((r) => r.result === 'stuck')
  for (const r of results) if (r.result !== 'stuck') r.n.pid = null
  let purged = false
  if (o.purge === true && stuck.length === 0) {
    await purge(dir, file, p)
    purged = true
  } else {
    await writeClusterFile(dir, file)
  }
  if (o.json) {
    p.printJson({ nodes: results.map((r) => ({ index: r.n.index, pid: r.pid, result: r.result })), purged, cleanup: cleaned })
  } else {
    for (const r of results) p.line(`node ${r.n.index}: ${r.result}${r.pid !== null ? ` (pid ${r.pid})` : ''}`)
    noteCleanup(p, cleaned, 'OS-level faults')
    if (purged) p.line(`purged ${dir}`)
  }
  if (stuck.length > 0) {
    p.error(`could not stop node(s) ${stuck.map((r) => r.n.index).join(', ')}${o.purge === true ? '; nothing purged' : ''}`)
    return EXIT.FAILURE
  }
  return EXIT.OK
}

/** Deletes only what the cluster created: node dirs inside DIR, and the cluster file. */
async function purge (dir: string, file: ClusterFile, p: Printer): Promise<void> {
  for (const n of file.nodes) {
    const d = resolve(n.dataDir)
    if (!d.startsWith(dir + sep)) {
      p.error(`not purging ${d}: outside ${dir}`)
      continue
    }
    await rm(d, { recursive: true, force: true })
  }
  await rm(clusterFilePath(dir), { force: true })
  const secrets = clusterSecrets(dir)
  for (const f of [secrets.swarmKeyFile, secrets.apiTokenFile, nextSwarmKeyFile(dir)]) await rm(f, { force: true })
  await rmdir(dir).catch(() => {}) // only if now empty
}

async function add (ctx: Ctx, o: DirOpts & { zone?: number; timeout: number }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const index = file.nodes.reduce((m, n) => Math.max(m, n.index + 1), 0)
  const node = await newNode(dir, file.ipBase, index, o.zone ?? index, file.netns)
  if (file.netns !== undefined) await osLevel(async () => { await ensureNetns(file.netns!, [index]) })
  const others = [...file.nodes]
  file.nodes.push(node)
  await writeClusterFile(dir, file)
  node.pid = spawnNode(node, launchOpts(dir, file, others))
  await writeClusterFile(dir, file)
  const want = (await runningNodes(file)).length
  const lag = await waitForMembers([node], want, o.timeout * 1000)
  if (lag.length > 0) {
    p.error(`node ${index} did not join within ${o.timeout} s: ${lag.join('; ')}`)
    return EXIT.FAILURE
  }
  if (o.json) p.printJson(node)
  else p.line(`node ${index} added: peer ${node.peerId} at ${node.ip}:${node.p2pPort}, api ${node.apiUrl}, pid ${node.pid}`)
  return EXIT.OK
}

async function stopOne (ctx: Ctx, o: DirOpts & { node: number }, how: (n: ClusterNode) => Promise<StopResult>): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const node = findNode(file, o.node)
  const pid = node.pid
  const result = await how(node)
  if (result !== 'stuck') {
    // re-read: another command may have changed other nodes meanwhile
    const fresh = await loadCluster(dir)
    findNode(fresh, o.node).pid = null
    await writeClusterFile(dir, fresh)
  }
  if (o.json) p.printJson({ index: node.index, pid, result })
  else p.line(`node ${node.index}: ${result}${pid !== null ? ` (pid ${pid})` : ''}`)
  return result === 'stuck' ? EXIT.FAILURE : EXIT.OK
}

async function startOne (ctx: Ctx, o: DirOpts & { node: number; timeout: number }): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const node = findNode(file, o.node)
  if (await isRunning(node.pid, node.dataDir)) {
    throw new CliError(`node ${node.index} is already running (pid ${node.pid})`, EXIT.EXISTS)
  }
  // after `cluster down` the namespaces are gone; bring back what this node needs
  if (file.netns !== undefined) await osLevel(async () => { await ensureNetns(file.netns!, [node.index]) })
  node.pid = spawnNode(node, launchOpts(dir, file, file.nodes.filter((x) => x !== node)))
  // re-read before writing back: a start or stop of another node may have run meanwhile,
  // and writing our stale copy would erase its pid (the window left is one read and one rename)
  const fresh = await loadCluster(dir)
  findNode(fresh, o.node).pid = node.pid
  await writeClusterFile(dir, fresh)
  const deadline = Date.now() + o.timeout * 1000
  for (;;) {
    if (!(await isRunning(node.pid, node.dataDir))) {
      p.error(`node ${node.index} exited during start; end of ${node.logFile}:\n${await logTail(node.logFile)}`)
      return EXIT.FAILURE
    }
    try {
      // joined: the node serves client I/O (it waits for a peer to agree on the member set, at most JOIN_TIMEOUT_MS)
      if ((await new ApiClient(node.apiUrl, STATUS_TIMEOUT_MS).status()).joined !== false) break
      if (Date.now() >= deadline) {
        p.error(`node ${node.index} API is up but the node did not join the cluster within ${o.timeout} s`)
        return EXIT.FAILURE
      }
    } catch (err) {
      if (Date.now() >= deadline) {
        p.error(`node ${node.index} API did not come up within ${o.timeout} s: ${(err as Error).message}`)
        return EXIT.FAILURE
      }
    }
    await sleep(POLL_MS)
  }
  if (o.json) p.printJson(node)
  else p.line(`node ${node.index} started: pid ${node.pid}, api ${node.apiUrl}`)
  return EXIT.OK
}
