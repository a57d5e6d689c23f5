// Section "idle": what an idle cluster costs per node (issue 14: ≤ 1 % of a core per node at
// 10 nodes and flat from 10 to 50; RSS ≤ 80 MB per node), at 10, 25 and 50 nodes, each size
// twice in this run: the product, and the baseline — the same build with every node
// heartbeating once a second whatever the cluster size (`node start --heartbeats-per-sec 0`)
// and no V8 flags (what the launcher started before). Per cluster: start, wait until quiet
// (same epoch and members everywhere, not busy), let it settle, then read every node's CPU
// time (/proc/PID/stat) over a window and its RSS (VmRSS) at the end. Then the real CLI:
// `bellwether cluster up --nodes 50` timed to its return (every node sees all 50) and on to
// `cluster wait` (same epoch, members, delete log). Clusters on 127.0.14.100-149, one at a time.
import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { promisify } from 'node:util'
import { clusterDir, cpuSeconds, rssBytes, startCluster, waitQuiet } from './cluster.js'
import { onCleanup, sleep } from './lib.js'
import { binPath } from '../../dist/cluster/launcher.js'

const IP_BASE = '127.0.14.100'
const SETTLE_MS = 10_000
const WINDOW_MS = 20_000
const run = promisify(execFile)

const VARIANTS = [
  { label: 'baseline: 1 s beats, no V8 flags', nodeArgs: ['--heartbeats-per-sec', '0'], nodeFlags: [] },
  { label: 'product', nodeArgs: [], nodeFlags: undefined },
  // what a lower budget buys (slower failure detection: 4 periods of N/2 s): smallest size only
  { label: 'product, --heartbeats-per-sec 2', nodeArgs: ['--heartbeats-per-sec', '2'], nodeFlags: undefined, smallestOnly: true },
  // V8 flags that shrink the young generation: RSS against CPU (src/cluster/launcher.ts NODE_FLAGS)
  { label: 'product + node --max-semi-space-size=4', nodeArgs: [], nodeFlags: ['--max-semi-space-size=4'], smallestOnly: true },
  { label: 'product + node --optimize-for-size', nodeArgs: [], nodeFlags: ['--optimize-for-size'], smallestOnly: true }
]

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
const pct = (x) => Number.isFinite(x) ? `${x.toFixed(2)} %` : 'n/a'
const mb = (b) => Number.isFinite(b) ? `${(b / 1e6).toFixed(0)} MB` : 'n/a'
const secs = (ms) => Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a'
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ')

export default {
  name: 'idle',
  title: 'Idle cost per node at 10, 25, 50 nodes (CPU, RSS) and cluster up --nodes 50',
  async run (ctx) {
    const sizes = ctx.opts.idleSizes ?? [10, 25, 50]
    const rows = []
    const notes = []
    let problems = 0
    // the main rows first, then the real cluster up, then the extra rows at the smallest size
    // (a run cut short by the watchdog still has the figures that matter most in its log)
    const plan = [
      ...sizes.flatMap((n) => VARIANTS.filter((v) => v.smallestOnly !== true).map((v) => [n, v])),
      ...VARIANTS.filter((v) => v.smallestOnly === true).map((v) => [Math.min(...sizes), v])
    ]
    const row = async (n, v) => await measure(ctx, n, v).catch((err) => {
      problems++
      notes.push(`${n} nodes, ${v.label}: ${String(err?.message ?? err).split('\n')[0]}`)
      return [String(n), v.label, 'failed', '', '', '', '', '', '', load()]
    })
    const main = plan.filter(([, v]) => v.smallestOnly !== true)
    for (const [n, v] of main) rows.push(await row(n, v))
    const up = await clusterUp(ctx, Math.max(...sizes)).catch((err) => {
      problems++
      return [[`cluster up --nodes ${Math.max(...sizes)}`, `failed: ${String(err?.message ?? err).split('\n')[0]}`, '', '']]
    })
    for (const [n, v] of plan.slice(main.length)) rows.push(await row(n, v))
    notes.push(
      `CPU: user+system time of each node process over ${WINDOW_MS / 1000} s, after quiet + ${SETTLE_MS / 1000} s; % of one core.`,
      'up: until every node lists all members; quiet: then until same epoch, members and not busy on every node.',
      'baseline: the same build with --heartbeats-per-sec 0 (each node beats every 1 s, fails peers after 5 s) and no node flags; gossipsub duplicate skipping and key caching are in both.'
    )
    return [
      { title: 'Idle cluster cost per node', columns: ['nodes', 'variant', 'up', 'quiet', 'CPU/node mean', 'CPU/node max', 'CPU cluster', 'RSS/node mean', 'RSS/node max', 'load avg 1/5/15 (end)'], rows, notes, problems },
      { title: 'bellwether cluster up (real CLI, product defaults)', columns: ['command', 'time', 'then cluster wait', 'load avg 1/5/15'], rows: up }
    ]
  }
}

async function measure (ctx, n, v) {
  const t0 = Date.now()
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, `idle-${n}-${VARIANTS.indexOf(v)}`), nodes: n, ipBase: IP_BASE, nodeArgs: v.nodeArgs, nodeFlags: v.nodeFlags, readyTimeoutMs: 180_000, log: ctx.log })
  try {
    const upMs = Date.now() - t0
    const quietMs = await waitQuiet(cluster, { timeoutMs: 90_000 }).catch((err) => { ctx.log(`not quiet: ${err.message}`); return NaN })
    await sleep(SETTLE_MS)
    const a = await cpuSeconds(cluster)
    await sleep(WINDOW_MS)
    const b = await cpuSeconds(cluster)
    const rss = await rssBytes(cluster)
    const cpu = b.map((x, i) => (x - a[i]) / (WINDOW_MS / 1000) * 100)
    ctx.log(`${n} nodes, ${v.label}: CPU/node ${pct(mean(cpu))}, RSS/node ${mb(mean(rss))}, load ${load()}`)
    return [String(n), v.label, secs(upMs), secs(quietMs), pct(mean(cpu)), pct(Math.max(...cpu)), pct(cpu.reduce((s, x) => s + x, 0)), mb(mean(rss)), mb(Math.max(...rss)), load()]
  } finally {
    await cluster.stop()
  }
}

/** `bellwether cluster up --nodes n` timed to its return, then `cluster wait`; always torn down */
async function clusterUp (ctx, n) {
  const dir = clusterDir(ctx.tmp, `up-${n}`)
  const cli = async (...args) => await run(process.execPath, [binPath(), 'cluster', ...args, '--dir', dir], { maxBuffer: 16 << 20 })
  const stop = onCleanup(`cluster up --nodes ${n} in ${dir}`, async () => { await cli('down', '--purge').catch(() => {}) })
  try {
    const t0 = Date.now()
    await cli('up', '--nodes', String(n), '--ip-base', IP_BASE, '--timeout', '120', '--log-level', 'warn')
    const upMs = Date.now() - t0
    const t1 = Date.now()
    const waited = await cli('wait', '--timeout', '120').then(() => Date.now() - t1, (err) => { ctx.log(`cluster wait: ${err.message.split('\n')[0]}`); return NaN })
    ctx.log(`cluster up --nodes ${n}: ${secs(upMs)}, then wait ${secs(waited)}`)
    return [[`cluster up --nodes ${n}`, secs(upMs), `+ ${secs(waited)}`, load()]]
  } finally {
    await stop()
  }
}
