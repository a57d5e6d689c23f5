// Section "purge": how long a VDI delete takes to reach and purge every node, and how many
// gossip payload bytes it costs, on 10-node clusters of separate node processes.
//
// Two clusters run side by side: the product (gossipsub, on 127.0.0.10-19) and the baseline
// (floodsub, `node start --pubsub floodsub`, on 127.0.0.30-39). On each: VDIs of 16 objects
// × 4 KiB with copies 3, written. Then the deletes ALTERNATE between the clusters (g f, f g,
// f g, g f, …), so both see the same machine load — on a shared 2-core machine the load
// drifts far more over a minute than the difference being measured. For one delete: DELETE /vdi/NAME
// through a random node of that cluster and, from the moment its answer arrives, poll all 10
// nodes in parallel (each node every POLL_MS after its previous answer) until
//   - its /objlist?vid= is empty → "purged"
//   - its bw_delete_records_applied_total (/metrics) has grown by the records the delete made
//     → "has the record" (covers nodes that never held an object of that VDI). This counter
//     rather than the /deletes summary count: it is monotonic (tombstone GC may shrink the
//     log) and its answer does not grow with the log.
// The figure for one delete is the time of the LAST node; the table gives median and p99 over
// the deletes, and of the DELETE call itself (request sent → answer). Times are taken when a
// poll's answer arrives, so they over-state by up to one poll period plus one request round
// trip. Wire bytes come from each node's /metrics
// (bw_gossip_bytes_total{topic="deletes"}: payload bytes handed to / received from pubsub,
// without libp2p framing, signatures or forwarding duplicates).
import { performance } from 'node:perf_hooks'
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { startCluster, clusterDir, idleCpuPercent } from './cluster.js'
import {
  api, fmtBytes, fmtMs, fmtRatio, int, isClosing, nodeMetrics, percentile, sleep, sumMetric
} from './lib.js'

/** the product first, the baseline second (table columns follow this order) */
const VARIANTS = [
  { pubsub: 'gossipsub', ipBase: '127.0.0.10' },
  { pubsub: 'floodsub', ipBase: '127.0.0.30' }
]
const NODES = 10
const OBJECTS = 16
const OBJECT_SIZE = 4096
const COPIES = 3
const WARMUP = 3
const POLL_MS = 2
const DELETE_TIMEOUT_MS = 10_000
/** a cluster whose deletes keep failing or timing out is broken: stop measuring it after this many */
const MAX_BAD = 3
const PAUSE_BETWEEN_MS = 50
/** the fewest deletes measured per cluster, whatever the time budgets say */
const MIN_DELETES = 20
/**
 * Time budgets, so the whole run stays near 10 minutes on a busy machine: no new VDI is
 * created after CREATE_BUDGET_MS, and no new delete started after DELETE_BUDGET_MS, once
 * MIN_DELETES (+ warm-ups) per cluster are reached.
 */
const CREATE_BUDGET_MS = 60_000
const DELETE_BUDGET_MS = 120_000

export default {
  name: 'purge',
  title: `Purge latency and wire bytes per deleted VDI (${NODES} node processes; gossipsub vs floodsub)`,
  async run (ctx) {
    const wanted = WARMUP + Math.max(MIN_DELETES, ctx.opts.deletes ?? 100)
    const sides = VARIANTS.map((v) => newSide(v.pubsub))
    try {
      for (const [k, v] of VARIANTS.entries()) {
        try {
          sides[k].cluster = await startCluster({ dir: clusterDir(ctx.tmp, `purge-${v.pubsub}`), nodes: NODES, copies: COPIES, pubsub: v.pubsub, ipBase: v.ipBase, log: ctx.log })
        } catch (err) {
          if (isClosing()) throw err
          broken(ctx, sides[k], `cluster failed: ${err?.message ?? err}`)
        }
      }
      await createVdis(ctx, sides.filter((s) => !s.broken), wanted)
      await Promise.all(sides.filter((s) => !s.broken).map(async (s) => { s.idleCpu = await idleCpuPercent(s.cluster, 2000) }))
      const load = loadavg()[0]
      await deleteAlternating(ctx, sides)
      if (sides.every((s) => s.measured.length === 0)) throw new Error(sides.flatMap((s) => s.errors).join('; '))
      const [g, f] = sides.map(summarise)
      return [latencyTable(g, f, load), wireTable(g, f)]
    } finally {
      await Promise.all(sides.map(async (s) => await s.cluster?.stop()))
    }
  }
}

function newSide (pubsub) {
  return {
    pubsub,
    cluster: undefined,
    vdis: [],
    measured: [],
    errors: [],
    timeouts: 0,
    failed: 0,
    broken: false,
    budgetHit: false,
    idleCpu: NaN,
    before: undefined,
    after: undefined
  }
}

function broken (ctx, side, why) {
  side.broken = true
  side.errors.push(why)
  ctx.log(`${side.pubsub}: ${why}`)
}

/** Up to `wanted` VDIs per cluster, both clusters at once (2 writers each), within the budget. */
async function createVdis (ctx, sides, wanted) {
  const data = new Uint8Array(OBJECTS * OBJECT_SIZE)
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff
  const t0 = Date.now()
  await Promise.all(sides.map(async (side) => {
    const nodes = side.cluster.nodes
    let next = 0
    let createErrors = 0
    const writer = async () => {
      while (next < wanted && !side.broken && !(Date.now() - t0 > CREATE_BUDGET_MS && side.vdis.length >= WARMUP + MIN_DELETES)) {
        const name = `bench-${side.pubsub}-${next++}`
        const via = ctx.rng.pick(nodes)
        try {
          // generous timeouts: on a busy 2-core machine a create or write can take seconds
          const info = await api(`${via.apiUrl}/vdi`, { method: 'POST', body: { name, size: data.length, copies: COPIES, objectSize: OBJECT_SIZE }, timeoutMs: 60_000 })
          await api(`${via.apiUrl}/vdi/${encodeURIComponent(name)}/data?offset=0`, { method: 'PUT', body: data, type: 'application/octet-stream', timeoutMs: 60_000 })
          side.vdis.push({ name, vid: info.vid })
        } catch (err) {
          // a VDI that could not be made is not measured, but it is a problem to report
          side.errors.push(`create of ${name} through node ${via.index}: ${err?.message ?? err}`)
          if (++createErrors >= MAX_BAD) broken(ctx, side, `giving up creating VDIs after ${createErrors} failures`)
        }
      }
    }
    await Promise.all([writer(), writer()])
    if (side.vdis.length < wanted) side.budgetHit = true
    ctx.log(`${side.pubsub}: ${side.vdis.length} VDIs of ${OBJECTS} × ${OBJECT_SIZE} B (copies ${COPIES}) created and written in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }))
}

/** Delete i of every cluster, then delete i+1, …; the order within a round alternates. */
async function deleteAlternating (ctx, sides) {
  const rounds = Math.min(...sides.filter((s) => !s.broken).map((s) => s.vdis.length))
  const t0 = Date.now()
  for (let i = 0; i < rounds; i++) {
    const live = sides.filter((s) => !s.broken)
    if (live.length === 0) break
    if (Date.now() - t0 > DELETE_BUDGET_MS && live.every((s) => s.measured.length >= MIN_DELETES)) {
      for (const s of live) if (i < s.vdis.length) s.budgetHit = true
      break
    }
    for (const side of i % 4 === 1 || i % 4 === 2 ? [...live].reverse() : live) {
      const nodes = side.cluster.nodes
      if (i === WARMUP) side.before = await Promise.all(nodes.map(nodeMetrics))
      const origin = ctx.rng.pick(nodes)
      const vdi = side.vdis[i]
      try {
        const r = await measureDelete(nodes, origin, vdi)
        if (i >= WARMUP) side.measured.push(r)
        if (!Number.isFinite(r.recordMs) || !Number.isFinite(r.purgedMs)) {
          side.timeouts++
          side.errors.push(`delete of ${vdi.name} not complete within ${DELETE_TIMEOUT_MS / 1000} s on node(s) ${r.lagging.map((n) => n.index).join(', ')}`)
          for (const n of r.lagging) ctx.log(`${side.pubsub}: node ${n.index} lags; end of its log:\n${await logTail(n.logFile)}`)
        }
      } catch (err) {
        side.failed++
        side.errors.push(`delete of ${vdi.name} through node ${origin.index}: ${err?.message ?? err}`)
        ctx.log(`${side.pubsub}: delete through node ${origin.index} failed (${err?.message ?? err}); end of its log:\n${await logTail(origin.logFile)}`)
      }
      if (side.timeouts + side.failed >= MAX_BAD) broken(ctx, side, `stopped measuring after ${side.timeouts + side.failed} failed deletes`)
      await sleep(PAUSE_BETWEEN_MS)
    }
  }
  await sleep(300) // let stragglers (forwarded duplicates, late applies) land in the counters
  for (const s of sides) {
    if (s.before !== undefined) s.after = await Promise.all(s.cluster.nodes.map(nodeMetrics))
    if (s.cluster !== undefined) ctx.log(`${s.pubsub}: ${s.measured.length} deletes measured, ${s.timeouts} timed out, ${s.failed} failed`)
  }
}

/** Delete records this node has newly persisted and applied, from any source (monotonic). */
async function appliedTotal (node) {
  return sumMetric(await nodeMetrics(node), 'bw_delete_records_applied_total')
}

async function measureDelete (nodes, origin, vdi) {
  const base = await Promise.all(nodes.map(appliedTotal))
  const sent = performance.now()
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
    callMs: t0 - sent,
    purgedMs: Math.max(...perNode.map((p) => p.purgedMs)),
    recordMs: Math.max(...perNode.map((p) => p.recordMs)),
    lagging: nodes.filter((_, k) => !Number.isFinite(perNode[k].purgedMs) || !Number.isFinite(perNode[k].recordMs))
  }
}

async function logTail (path, lines = 5) {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).map((l) => '    ' + l.slice(0, 400)).join('\n')
  } catch {
    return '    (no log)'
  }
}

/** One cluster's figures; NaN where nothing could be measured. */
function summarise (s) {
  const n = s.measured.length
  const delta = (name, labels) => s.after === undefined
    ? NaN
    : s.after.reduce((sum, m, k) => sum + sumMetric(m, name, labels) - sumMetric(s.before[k], name, labels), 0)
  return {
    ...s,
    n,
    callMs: s.measured.map((m) => m.callMs),
    recordMs: s.measured.map((m) => m.recordMs),
    purgedMs: s.measured.map((m) => m.purgedMs),
    outBytes: delta('bw_gossip_bytes_total', { topic: 'deletes', direction: 'out' }) / n,
    inBytes: delta('bw_gossip_bytes_total', { topic: 'deletes', direction: 'in' }) / n,
    appliedBySource: ['local', 'gossip', 'ae'].map((src) => `${src} ${int(delta('bw_delete_records_applied_total', { source: src }))}`).join(', '),
    purged: delta('bw_oids_purged_total'),
    receivers: NODES - 1
  }
}

function latencyTable (g, f, load) {
  const row = (label, pick, p) => {
    const a = percentile(pick(g), p)
    const b = percentile(pick(f), p)
    return [label, fmtMs(a), fmtMs(b), fmtRatio(a, b)]
  }
  const purgedNote = (r) => `${r.pubsub} ${int(r.purged)} of ${int(r.n * (OBJECTS + 1) * COPIES)}`
  return {
    title: `Purge latency: from DELETE /vdi answered to the last of ${NODES} nodes`,
    problems: g.errors.length + f.errors.length,
    columns: ['measure', 'gossipsub', 'floodsub (baseline)', 'gossipsub / floodsub'],
    rows: [
      row(`all ${NODES} have the record, median`, (r) => r.recordMs, 50),
      row(`all ${NODES} have the record, p99`, (r) => r.recordMs, 99),
      row(`all ${NODES} purged (objlist empty), median`, (r) => r.purgedMs, 50),
      row(`all ${NODES} purged (objlist empty), p99`, (r) => r.purgedMs, 99),
      row('the DELETE call itself, median', (r) => r.callMs, 50),
      row('the DELETE call itself, p99', (r) => r.callMs, 99),
      ['deletes measured (timed out, failed)', `${g.n} (${g.timeouts}, ${g.failed})`, `${f.n} (${f.timeouts}, ${f.failed})`, '']
    ],
    notes: [
      `VDIs of ${OBJECTS} objects × ${OBJECT_SIZE} B, copies ${COPIES}, written; each deleted through a random node; ${WARMUP} warm-up deletes per cluster not counted.`,
      `Both clusters run during the measurement and the deletes alternate between them, so both see the same machine load (1-min load average when the deletes began: ${load.toFixed(1)}; idle CPU of each cluster's 10 nodes: gossipsub ${g.idleCpu.toFixed(0)} %, floodsub ${f.idleCpu.toFixed(0)} % of one core; this machine has ${cpus().length} cores).`,
      ...[g, f].filter((r) => r.budgetHit).map((r) => `${r.pubsub}: fewer deletes than asked for: the time budget (${CREATE_BUDGET_MS / 1000} s to create VDIs, ${DELETE_BUDGET_MS / 1000} s to delete them) ran out first.`),
      `Polled every ${POLL_MS} ms per node after each answer: figures over-state by ≤ one poll period + one round trip. p99 is nearest-rank (with < 100 deletes it is the maximum).`,
      'The DELETE call: request sent → answer, through the bench\'s HTTP client (the node looks the VDI up on every member, then makes the record durable and purges its own copies before it answers).',
      `records applied during the measured deletes (${NODES} nodes × records): gossipsub ${g.appliedBySource}; floodsub ${f.appliedBySource}.`,
      `oids purged (disk + cache) over all nodes, of deletes × ${OBJECTS + 1} objects × ${COPIES} copies: ${purgedNote(g)}; ${purgedNote(f)}.`,
      ...[g, f].filter((r) => r.errors.length > 0).map((r) => `${r.pubsub} PROBLEMS (a timed-out delete counts as infinitely slow in the percentiles; a failed one, or a VDI that could not be created, is left out): ${r.errors.join('; ')}`)
    ]
  }
}

function wireTable (g, f) {
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
