// Section "purge": how long a VDI delete takes to reach and purge every node, and how many
// gossip payload bytes it costs, on a 10-node cluster of separate node processes.
//
// For each pubsub implementation (gossipsub = the product, floodsub = the baseline, run one
// after the other in the same run with the same workload): start the cluster, create VDIs of
// 16 objects × 4 KiB with copies 3 and write them, delete warm-up VDIs, then for each measured
// VDI send DELETE /vdi/NAME to a random node and, from the moment its answer arrives, poll all
// nodes in parallel (each node every POLL_MS after its previous answer) until
//   - its /objlist?vid= is empty → "purged"
//   - its bw_delete_records_applied_total (/metrics) has grown by the records the delete made
//     → "has the record" (covers nodes that never held an object of that VDI). This counter
//     rather than the /deletes summary count: it is monotonic (tombstone GC may shrink the
//     log) and its answer does not grow with the log.
// The figure for one delete is the time of the LAST node; we report median and p99 over the
// deletes. Times are taken when a poll's answer arrives, so they over-state by up to one
// poll period plus one request round trip. Wire bytes come from each node's /metrics
// (bw_gossip_bytes_total{topic="deletes"}: payload bytes handed to / received from pubsub,
// without libp2p framing, signatures or forwarding duplicates).
import { performance } from 'node:perf_hooks'
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { startCluster, clusterDir, idleCpuPercent } from './cluster.js'
import {
  api, fmtBytes, fmtMs, fmtRatio, int, isClosing, nodeMetrics, percentile, sleep, sumMetric
} from './lib.js'

const OBJECTS = 16
const OBJECT_SIZE = 4096
const COPIES = 3
const WARMUP = 3
const POLL_MS = 2
const DELETE_TIMEOUT_MS = 10_000
/** a cluster whose deletes keep failing or timing out is broken: stop measuring it after this many */
const MAX_BAD_DELETES = 3
const PAUSE_BETWEEN_MS = 50
/** the fewest deletes measured per cluster, whatever the time budgets say */
const MIN_DELETES = 20
/**
 * Time budgets per cluster, so the whole run stays near 10 minutes on a busy machine: no new
 * VDI is created after CREATE_BUDGET_MS, and no new delete started after DELETE_BUDGET_MS,
 * once MIN_DELETES (+ warm-ups) are reached.
 */
const CREATE_BUDGET_MS = 60_000
const DELETE_BUDGET_MS = 90_000

export default {
  name: 'purge',
  title: 'Purge latency and wire bytes per deleted VDI (10 node processes; gossipsub vs floodsub)',
  async run (ctx) {
    const deletes = Math.max(MIN_DELETES, ctx.opts.deletes ?? 100)
    const runs = {}
    for (const pubsub of ['gossipsub', 'floodsub']) {
      try {
        runs[pubsub] = await measureCluster(ctx, pubsub, deletes)
      } catch (err) {
        if (isClosing()) throw err
        // keep the other cluster's figures: this one shows as n/a with the reason
        ctx.log(`${pubsub}: FAILED: ${err?.message ?? err}`)
        runs[pubsub] = failedRun(pubsub, err)
      }
    }
    if (runs.gossipsub.n === 0 && runs.floodsub.n === 0) throw new Error(runs.gossipsub.errors.concat(runs.floodsub.errors).join('; '))
    return [latencyTable(runs), wireTable(runs)]
  }
}

async function measureCluster (ctx, pubsub, deletes) {
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, `purge-${pubsub}`), nodes: 10, copies: COPIES, pubsub, log: ctx.log })
  try {
    const { nodes } = cluster
    const wanted = WARMUP + deletes
    const data = new Uint8Array(OBJECTS * OBJECT_SIZE)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff
    const t0 = Date.now()
    const vdis = []
    const errors = []
    const createErrors = []
    let next = 0
    const creator = async () => {
      while (next < wanted && !(Date.now() - t0 > CREATE_BUDGET_MS && vdis.length >= WARMUP + MIN_DELETES)) {
        if (createErrors.length >= MAX_BAD_DELETES) throw new Error(`cannot create VDIs: ${createErrors.join('; ')}`)
        const name = `bench-${pubsub}-${next++}`
        const via = ctx.rng.pick(nodes)
        try {
          // generous timeouts: on a busy 2-core machine a create or write can take seconds
          const info = await api(`${via.apiUrl}/vdi`, { method: 'POST', body: { name, size: data.length, copies: COPIES, objectSize: OBJECT_SIZE }, timeoutMs: 60_000 })
          await api(`${via.apiUrl}/vdi/${encodeURIComponent(name)}/data?offset=0`, { method: 'PUT', body: data, type: 'application/octet-stream', timeoutMs: 60_000 })
          vdis.push({ name, vid: info.vid })
        } catch (err) {
          createErrors.push(`${name} through node ${via.index}: ${err?.message ?? err}`)
        }
      }
    }
    await Promise.all([creator(), creator(), creator(), creator()])
    const total = vdis.length
    ctx.log(`${pubsub}: ${total} VDIs of ${OBJECTS} × ${OBJECT_SIZE} B (copies ${COPIES}) created and written in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    // a VDI that failed to create is not measured, but the failure is a problem to report
    errors.push(...createErrors.map((e) => `create of ${e}`))

    const idleCpu = await idleCpuPercent(cluster, 2000)
    const load = loadavg()[0]
    const measured = []
    let timeouts = 0
    let failed = 0
    let before
    const tDeletes = Date.now()
    let budgetHit = total < wanted
    for (let i = 0; i < total; i++) {
      if (Date.now() - tDeletes > DELETE_BUDGET_MS && measured.length >= MIN_DELETES) {
        budgetHit = true
        break
      }
      if (i === WARMUP) before = await Promise.all(nodes.map(nodeMetrics))
      const origin = ctx.rng.pick(nodes)
      try {
        const r = await measureDelete(nodes, origin, vdis[i])
        if (i >= WARMUP) measured.push(r)
        if (!Number.isFinite(r.recordMs) || !Number.isFinite(r.purgedMs)) {
          timeouts++
          errors.push(`delete of ${vdis[i].name} not complete within ${DELETE_TIMEOUT_MS / 1000} s on node(s) ${r.lagging.map((n) => n.index).join(', ')}`)
          for (const n of r.lagging) ctx.log(`${pubsub}: node ${n.index} lags; end of its log:\n${await logTail(n.logFile)}`)
        }
      } catch (err) {
        failed++
        errors.push(`delete of ${vdis[i].name} through node ${origin.index}: ${err?.message ?? err}`)
      }
      if (timeouts + failed >= MAX_BAD_DELETES) {
        ctx.log(`${pubsub}: stopping after ${timeouts + failed} failed deletes: ${errors[createErrors.length]}`)
        break
      }
      await sleep(PAUSE_BETWEEN_MS)
    }
    if (before === undefined || measured.length === 0) throw new Error(`${pubsub}: no delete could be measured: ${errors.join('; ')}`)
    await sleep(300) // let stragglers (forwarded duplicates, late applies) land in the counters
    const after = await Promise.all(nodes.map(nodeMetrics))
    const delta = (name, labels) => after.reduce((s, m, k) => s + sumMetric(m, name, labels) - sumMetric(before[k], name, labels), 0)
    ctx.log(`${pubsub}: ${measured.length} deletes measured, ${timeouts} timed out, ${failed} failed`)
    return {
      pubsub,
      idleCpu,
      load,
      budgetHit,
      n: measured.length,
      timeouts,
      failed,
      errors,
      recordMs: measured.map((m) => m.recordMs),
      purgedMs: measured.map((m) => m.purgedMs),
      outBytes: delta('bw_gossip_bytes_total', { topic: 'deletes', direction: 'out' }) / measured.length,
      inBytes: delta('bw_gossip_bytes_total', { topic: 'deletes', direction: 'in' }) / measured.length,
      applied: delta('bw_delete_records_applied_total'),
      appliedBySource: ['local', 'gossip', 'ae'].map((s) => `${s} ${int(delta('bw_delete_records_applied_total', { source: s }))}`).join(', '),
      purged: delta('bw_oids_purged_total'),
      receivers: nodes.length - 1
    }
  } finally {
    await cluster.stop()
  }
}

async function logTail (path, lines = 5) {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).map((l) => '    ' + l.slice(0, 400)).join('\n')
  } catch {
    return '    (no log)'
  }
}

function failedRun (pubsub, err) {
  return {
    pubsub, idleCpu: NaN, load: NaN, n: 0, timeouts: 0, failed: 0, errors: [`cluster failed: ${err?.message ?? err}`],
    recordMs: [], purgedMs: [], outBytes: NaN, inBytes: NaN, applied: NaN, appliedBySource: 'n/a', purged: NaN, receivers: 9
  }
}

/** Delete records this node has newly persisted and applied, from any source (monotonic). */
async function appliedTotal (node) {
  return sumMetric(await nodeMetrics(node), 'bw_delete_records_applied_total')
}

async function measureDelete (nodes, origin, vdi) {
  const base = await Promise.all(nodes.map(appliedTotal))
  const res = await api(`${origin.apiUrl}/vdi/${encodeURIComponent(vdi.name)}`, { method: 'DELETE', timeoutMs: 30_000 })
  const t0 = performance.now()
  const deadline = t0 + DELETE_TIMEOUT_MS
  const perNode = await Promise.all(nodes.map(async (n, k) => {
    let purgedMs = Infinity
    let recordMs = Infinity
    while ((purgedMs === Infinity || recordMs === Infinity) && performance.now() < deadline) {
      const [ol, applied] = await Promise.all([
        purgedMs === Infinity ? api(`${n.apiUrl}/objlist?vid=${vdi.vid}`) : undefined,
        recordMs === Infinity ? appliedTotal(n) : undefined
      ])
      const t = performance.now() - t0
      if (ol !== undefined && ol.count === 0) purgedMs = t
      if (applied !== undefined && applied >= base[k] + res.records) recordMs = t
      if (purgedMs === Infinity || recordMs === Infinity) await sleep(POLL_MS)
    }
    return { purgedMs, recordMs }
  }))
  return {
    purgedMs: Math.max(...perNode.map((p) => p.purgedMs)),
    recordMs: Math.max(...perNode.map((p) => p.recordMs)),
    lagging: nodes.filter((_, k) => !Number.isFinite(perNode[k].purgedMs) || !Number.isFinite(perNode[k].recordMs))
  }
}

function latencyTable ({ gossipsub: g, floodsub: f }) {
  const row = (label, pick, p) => {
    const a = percentile(pick(g), p)
    const b = percentile(pick(f), p)
    return [label, fmtMs(a), fmtMs(b), fmtRatio(a, b)]
  }
  return {
    title: 'Purge latency: from DELETE /vdi answered to the last of 10 nodes',
    problems: g.errors.length + f.errors.length,
    columns: ['measure', 'gossipsub', 'floodsub (baseline)', 'gossipsub / floodsub'],
    rows: [
      row('all 10 have the record, median', (r) => r.recordMs, 50),
      row('all 10 have the record, p99', (r) => r.recordMs, 99),
      row('all 10 purged (objlist empty), median', (r) => r.purgedMs, 50),
      row('all 10 purged (objlist empty), p99', (r) => r.purgedMs, 99),
      ['deletes measured (timed out, failed)', `${g.n} (${g.timeouts}, ${g.failed})`, `${f.n} (${f.timeouts}, ${f.failed})`, '']
    ],
    notes: [
      `VDIs of ${OBJECTS} objects × ${OBJECT_SIZE} B, copies ${COPIES}, written; each deleted through a random node; ${WARMUP} warm-up deletes not counted.`,
      ...[g, f].filter((r) => r.budgetHit).map((r) => `${r.pubsub}: fewer deletes than asked for: the time budget (${CREATE_BUDGET_MS / 1000} s to create VDIs, ${DELETE_BUDGET_MS / 1000} s to delete them) ran out first.`),
      `Polled every ${POLL_MS} ms per node after each answer: figures over-state by ≤ one poll period + one round trip. p99 is nearest-rank (with < 100 deletes it is the maximum).`,
      `Just before the deletes: CPU of the 10 idle node processes (% of one core; this machine has ${cpus().length}) gossipsub ${g.idleCpu.toFixed(0)} %, floodsub ${f.idleCpu.toFixed(0)} %; machine load average (1 min) gossipsub ${g.load.toFixed(1)}, floodsub ${f.load.toFixed(1)}.`,
      `records applied during the measured deletes (10 nodes × records): gossipsub ${g.appliedBySource}; floodsub ${f.appliedBySource}.`,
      `oids purged (disk + cache), all nodes: gossipsub ${int(g.purged)}, floodsub ${int(f.purged)} (expected ${int(g.n * (OBJECTS + 1) * COPIES)} = deletes × ${OBJECTS + 1} objects × ${COPIES} copies).`,
      ...[g, f].filter((r) => r.errors.length > 0).map((r) => `${r.pubsub} PROBLEMS (a timed-out delete counts as infinitely slow in the percentiles; a failed one, or a VDI that could not be created, is left out): ${r.errors.join('; ')}`)
    ]
  }
}

function wireTable ({ gossipsub: g, floodsub: f }) {
  // Sheepdog's one-shot notification lists every deleted data object as an 8-byte oid
  const list = OBJECTS * 8
  const json = JSON.stringify(Array.from({ length: OBJECTS }, (_, i) => (0x7c2b2500000000n + BigInt(i)).toString(16).padStart(16, '0'))).length
  const row = (label, pick, mult) => [
    label, fmtBytes(pick(g)), fmtBytes(pick(f)), fmtBytes(list * mult), fmtBytes(json * mult), fmtRatio(pick(g), list * mult), fmtRatio(pick(g), json * mult)
  ]
  return {
    title: `Wire bytes per deleted VDI (${OBJECTS} data objects), from the nodes' /metrics in the purge run`,
    columns: ['deletes-topic payload', 'gossipsub', 'floodsub', '8-B oid list', 'JSON hex oids', 'gossipsub / list', 'gossipsub / JSON'],
    rows: [
      row('out, at the origin', (r) => r.outBytes, 1),
      row(`in, summed over the ${g.receivers} other nodes`, (r) => r.inBytes, g.receivers)
    ],
    notes: [
      'bellwether sends one whole-VDI record (origin peer id, seq, HLC, vid, generation) whatever the VDI size; the baselines list the VDI\'s data oids, so they grow with it (a 4 TiB VDI of 4 MiB objects: 8 MiB as an oid list).',
      'Payload only: pubsub framing, signatures and gossipsub/floodsub forwarding duplicates are not counted (the metric counts what the application publishes and accepts).',
      `batches handed to each receiver's application per batch published (1.00 = exactly once): gossipsub ${(g.inBytes / (g.outBytes * g.receivers)).toFixed(2)}, floodsub ${(f.inBytes / (f.outBytes * f.receivers)).toFixed(2)}.`
    ]
  }
}
