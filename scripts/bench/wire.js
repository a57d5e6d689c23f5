// Section "wire": bytes on the deletes topic per explicitly deleted oid (a discard).
//
// (1) Encoding only: N sparse random indexes of one VDI → makeDiscardRecords → packBatches,
//     exactly what a node publishes; total bytes of all batches / N. Indexes are uniform over
//     2^20 (every object of a maximal 4 TiB Sheepdog VDI of 4 MiB objects) and over the whole
//     2^32 index space (the worst case for the delta+varint encoding), plus one dense case.
// (2) End to end: on a 10-node gossipsub cluster, a 4 GiB VDI of 4 KiB objects (2^20 indexes)
//     with 1,000 sparse random objects written, then one POST /vdi/NAME/discard of them;
//     payload bytes from every node's /metrics (out at the origin, in summed over the others).
// Baselines, computed on the same ids: the plain list of 8-byte oids that Sheepdog's one-shot
// notification sends, and a JSON array of hex oids (what an HTTP/JSON API would carry).
import { performance } from 'node:perf_hooks'
import { startCluster, clusterDir } from './cluster.js'
import {
  api, fmtBytes, fmtMs, fmtPerId, fmtRatio, int, mapLimit, nodeMetrics, sleep, sparseIndexes, sumMetric
} from './lib.js'
import { packBatches } from '../../dist/tombstones/batch.js'
import { makeDiscardRecords } from '../../dist/tombstones/record.js'
import { formatOid, vidToDataOid } from '../../dist/oid.js'

const VID = 0x7c2b25
const E2E_OBJECTS = 1000
const E2E_RANGE = 2 ** 20
const E2E_OBJECT_SIZE = 4096
const E2E_TIMEOUT_MS = 60_000

export default {
  name: 'wire',
  title: 'Wire bytes per explicitly deleted oid (discard batches; 8-byte oid list and JSON baselines)',
  async run (ctx) {
    const tables = [encodingTable(ctx)]
    tables.push(await endToEnd(ctx))
    return tables
  }
}

const listBytes = (idx) => idx.length * 8
const jsonBytes = (vid, idx) => JSON.stringify(Array.from(idx, (i) => formatOid(vidToDataOid(vid, i)))).length

/** What a node publishes for one discard of `idx` (sorted) of `vid`. */
function encodeDiscard (origin, vid, idx) {
  let seq = 0n
  const recs = makeDiscardRecords({ origin, hlc: BigInt(Date.now()) << 16n, vid, generation: 1 }, () => ++seq, idx)
  const batches = packBatches(recs)
  return { records: recs.length, batches: batches.length, bytes: batches.reduce((s, b) => s + b.byteLength, 0) }
}

/** A peer-id-shaped origin (an Ed25519 libp2p peer id string is 52 characters). */
function fakePeerId (rng) {
  const b58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let s = '12D3KooW'
  while (s.length < 52) s += b58[rng.int(b58.length)]
  return s
}

function encodingTable (ctx) {
  const origin = fakePeerId(ctx.rng)
  const cases = [
    { label: '1,000 sparse of 2^20', idx: sparseIndexes(ctx.rng, 1000, 2 ** 20) },
    { label: '100,000 sparse of 2^20', idx: sparseIndexes(ctx.rng, 100_000, 2 ** 20) },
    { label: '1,000 sparse of 2^32', idx: sparseIndexes(ctx.rng, 1000, 2 ** 32) },
    { label: '100,000 sparse of 2^32', idx: sparseIndexes(ctx.rng, 100_000, 2 ** 32) },
    { label: '100,000 consecutive', idx: Uint32Array.from({ length: 100_000 }, (_, i) => 5000 + i) }
  ]
  const rows = cases.map(({ label, idx }) => {
    const e = encodeDiscard(origin, VID, idx)
    const n = idx.length
    const list = listBytes(idx)
    const json = jsonBytes(VID, idx)
    return [
      label, `${e.records} / ${e.batches}`, fmtPerId(e.bytes / n), fmtPerId(list / n), fmtPerId(json / n),
      fmtRatio(e.bytes, list), fmtRatio(e.bytes, json)
    ]
  })
  return {
    title: 'Encoded discard bytes per oid (packBatches(makeDiscardRecords(…)), what a node publishes)',
    columns: ['ids (uniform random indexes of one VDI)', 'records / batches', 'bellwether', '8-B oid list', 'JSON hex oids', 'bw / list', 'bw / JSON'],
    rows,
    notes: [
      'Bytes per oid including each record\'s header (52-character origin peer id, seq, HLC, vid, generation, count) and the batch framing.',
      '2^20 = every object index of a maximal (4 TiB) Sheepdog VDI of 4 MiB objects; 2^32 = the whole index space (largest gaps, worst case for delta+varint).'
    ]
  }
}

async function endToEnd (ctx) {
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, 'wire-gossipsub'), nodes: 10, copies: 3, pubsub: 'gossipsub', log: ctx.log })
  try {
    const { nodes } = cluster
    const origin = ctx.rng.pick(nodes)
    const name = 'bench-sparse'
    const info = await api(`${origin.apiUrl}/vdi`, { method: 'POST', body: { name, size: E2E_RANGE * E2E_OBJECT_SIZE, copies: 3, objectSize: E2E_OBJECT_SIZE }, timeoutMs: 60_000 })
    const idx = sparseIndexes(ctx.rng, E2E_OBJECTS, E2E_RANGE)
    const t0 = Date.now()
    const block = new Uint8Array(E2E_OBJECT_SIZE).fill(0x5a)
    await mapLimit(Array.from(idx), 8, async (i) => {
      await api(`${origin.apiUrl}/vdi/${name}/data?offset=${i * E2E_OBJECT_SIZE}`, { method: 'PUT', body: block, type: 'application/octet-stream', timeoutMs: 60_000 })
    })
    ctx.log(`wire: ${int(E2E_OBJECTS)} sparse objects of a ${fmtBytes(E2E_RANGE * E2E_OBJECT_SIZE)} VDI written in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

    const before = await Promise.all(nodes.map(nodeMetrics))
    const res = await api(`${origin.apiUrl}/vdi/${name}/discard`, { method: 'POST', body: { objects: Array.from(idx).join(',') }, timeoutMs: 60_000 })
    const tDiscard = performance.now()
    const want = E2E_OBJECTS * 3
    let after
    let purged = 0
    let purgedMs = NaN
    for (;;) {
      after = await Promise.all(nodes.map(nodeMetrics))
      purged = after.reduce((s, m, k) => s + sumMetric(m, 'bw_oids_purged_total') - sumMetric(before[k], 'bw_oids_purged_total'), 0)
      if (purged >= want && Number.isNaN(purgedMs)) purgedMs = performance.now() - tDiscard
      const inSum = after.reduce((s, m) => s + sumMetric(m, 'bw_gossip_bytes_total', { topic: 'deletes', direction: 'in' }), 0)
      const inBefore = before.reduce((s, m) => s + sumMetric(m, 'bw_gossip_bytes_total', { topic: 'deletes', direction: 'in' }), 0)
      const outDelta = sumMetric(after[origin.index], 'bw_gossip_bytes_total', { topic: 'deletes', direction: 'out' }) -
        sumMetric(before[origin.index], 'bw_gossip_bytes_total', { topic: 'deletes', direction: 'out' })
      // done when every replica is purged and every other node has received what was sent
      if (purged >= want && outDelta > 0 && inSum - inBefore >= outDelta * (nodes.length - 1)) break
      if (performance.now() - tDiscard > E2E_TIMEOUT_MS) {
        throw new Error(`discard did not converge within ${E2E_TIMEOUT_MS / 1000} s: ${purged} of ${want} replicas purged`)
      }
      await sleep(20)
    }
    await sleep(300)
    after = await Promise.all(nodes.map(nodeMetrics))
    const delta = (m0, m1, dir) => sumMetric(m1, 'bw_gossip_bytes_total', { topic: 'deletes', direction: dir }) - sumMetric(m0, 'bw_gossip_bytes_total', { topic: 'deletes', direction: dir })
    const out = after.reduce((s, m, k) => s + delta(before[k], m, 'out'), 0)
    const inb = after.reduce((s, m, k) => s + delta(before[k], m, 'in'), 0)
    const offline = encodeDiscard(origin.peerId, parseInt(info.vid, 16), idx)
    const receivers = nodes.length - 1
    const list = listBytes(idx)
    const json = jsonBytes(parseInt(info.vid, 16), idx)
    return {
      title: `End to end: one discard of ${int(E2E_OBJECTS)} sparse objects of a 4 GiB VDI (2^20 objects of 4 KiB), 10-node gossipsub cluster`,
      columns: ['deletes-topic payload per oid', 'bellwether (metrics)', '8-B oid list', 'JSON hex oids', 'bw / list', 'bw / JSON'],
      rows: [
        ['out, at the origin', fmtPerId(out / E2E_OBJECTS), fmtPerId(list / E2E_OBJECTS), fmtPerId(json / E2E_OBJECTS), fmtRatio(out, list), fmtRatio(out, json)],
        [`in, summed over the ${receivers} other nodes`, fmtPerId(inb / E2E_OBJECTS), fmtPerId(receivers * list / E2E_OBJECTS), fmtPerId(receivers * json / E2E_OBJECTS), fmtRatio(inb, receivers * list), fmtRatio(inb, receivers * json)]
      ],
      notes: [
        `${res.records} record(s), ${fmtBytes(out)} published; offline encoding of the same ids by the same origin: ${fmtBytes(offline.bytes)} in ${offline.batches} batch(es).`,
        `${int(purged)} of ${int(want)} replicas purged (disk + cache) ${fmtMs(purgedMs)} after the discard answered (metrics polled every 20 ms).`
      ]
    }
  } finally {
    await cluster.stop()
  }
}
