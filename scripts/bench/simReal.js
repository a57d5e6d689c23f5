// The simulator's `figures` scenario on 10 real node processes (127.0.14.10-19), for the
// side-by-side validation in the "sim" section: VDI deletes in a healthy cluster, timed from
// the DELETE's answer until every node knows the delete (log or floor) and lists no object of
// the VDI; then HEALS episodes of a minority partition (3 random nodes cut off through
// /chaos/partition, as the antientropy section does), 3 deletes on the majority side, the
// gossip cache waited out, heal, timed until every node knows every one of them and holds
// none of their objects. Anti-entropy bytes: bytesOut summed over the nodes' /antientropy
// totals, heal → converged, ÷ 10. Polled every POLL_MS per node, so times over-state by up to
// one poll and one request round trip.
import { performance } from 'node:perf_hooks'
import { loadavg } from 'node:os'
import { startCluster, clusterDir } from './cluster.js'
import { api, mapLimit, sleep } from './lib.js'

const NODES = 10
const IP_BASE = '127.0.14.10'
const HEALTHY = 15
const HEALS = 4
const PER_HEAL = 3
const MINORITY = 3
const OBJECTS = 8
const OBJECT_SIZE = 4096
const POLL_MS = 5
const GOSSIP_WINDOW_MS = 3000
const TIMEOUT_MS = 60_000

export async function realValidation (ctx) {
  const load0 = loadavg()[0]
  const problems = []
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, 'sim-real'), nodes: NODES, copies: 3, ipBase: IP_BASE, log: ctx.log })
  try {
    const nodes = cluster.nodes
    const vdis = await makeVdis(ctx, nodes, HEALTHY + HEALS * PER_HEAL)
    const deleteMs = []
    for (const v of vdis.slice(0, HEALTHY)) {
      try {
        await api(`${ctx.rng.pick(nodes).apiUrl}/vdi/${v.name}`, { method: 'DELETE', timeoutMs: 30_000 })
        deleteMs.push(await converged(nodes, [v]))
      } catch (err) {
        problems.push(`delete of ${v.name}: ${err?.message ?? err}`)
      }
    }
    ctx.log(`sim-real: ${deleteMs.length} healthy deletes timed`)
    const healMs = []
    const healBytes = []
    for (let e = 0; e < HEALS; e++) {
      const shuffled = [...nodes].sort(() => ctx.rng.next() - 0.5)
      const minority = shuffled.slice(0, MINORITY)
      const majority = shuffled.slice(MINORITY)
      try {
        await partition([majority, minority])
        await waitSplit(majority, minority)
        const mine = vdis.slice(HEALTHY + e * PER_HEAL, HEALTHY + (e + 1) * PER_HEAL)
        // a VDI whose inode copies all sit on the minority side is not found (404) from the majority: left out
        const deleted = (await mapLimit(mine, PER_HEAL, async (v) => await api(`${ctx.rng.pick(majority).apiUrl}/vdi/${v.name}`, { method: 'DELETE' }).then(() => v, () => null))).filter((v) => v !== null)
        await sleep(GOSSIP_WINDOW_MS)
        const before = await aeBytesOut(nodes)
        for (const n of nodes) await api(`${n.apiUrl}/chaos/heal`, { method: 'POST' })
        if (deleted.length === 0) throw new Error('none of its VDIs could be deleted from the majority side')
        healMs.push(await converged(nodes, deleted))
        healBytes.push((await aeBytesOut(nodes) - before) / NODES)
        ctx.log(`sim-real: heal ${e + 1}: ${deleted.length} deletes converged in ${healMs.at(-1).toFixed(0)} ms`)
      } catch (err) {
        problems.push(`heal episode ${e + 1}: ${err?.message ?? err}`)
        for (const n of nodes) await api(`${n.apiUrl}/chaos/heal`, { method: 'POST' }).catch(() => {})
      }
      await sleep(2000)
    }
    if (deleteMs.length === 0 && healMs.length === 0) throw new Error(`nothing measured on the real cluster: ${problems.join('; ')}`)
    return {
      deleteMs,
      healMs,
      healBytes,
      problems,
      load: [load0, loadavg()[0]],
      notes: [
        `real: ${NODES} \`bellwether node start\` processes on ${IP_BASE}+, copies 3, VDIs of ${OBJECTS} × ${OBJECT_SIZE} B written; ${HEALTHY} deletes through random nodes; ${HEALS} episodes of ${MINORITY} random nodes partitioned (/chaos/partition) until every node sees the split, ${PER_HEAL} deletes on the majority side, ${GOSSIP_WINDOW_MS / 1000} s for the gossip cache to run out, heal.`,
        `real times start at the DELETE's answer / the last /chaos/heal answer and end at the poll (every ${POLL_MS} ms per node) that finds every node knowing each delete (log or floor) and listing none of its objects; they include libp2p redial after the heal.`,
        'simulator: the same scenario at N = 10 over its 20 seeds (VDIs there are 1 object × 3 copies at N = 10; the minority is cut off for 6 s, with the deletes at random live nodes on either side).'
      ]
    }
  } finally {
    await cluster.stop()
  }
}

async function makeVdis (ctx, nodes, count) {
  const data = new Uint8Array(OBJECTS * OBJECT_SIZE).fill(5)
  return await mapLimit(Array.from({ length: count }, (_, i) => `simreal-${i}`), 4, async (name) => {
    const via = ctx.rng.pick(nodes)
    const info = await api(`${via.apiUrl}/vdi`, { method: 'POST', body: { name, size: data.length, copies: 3, objectSize: OBJECT_SIZE }, timeoutMs: 60_000 })
    await api(`${via.apiUrl}/vdi/${name}/data?offset=0`, { method: 'PUT', body: data, type: 'application/octet-stream', timeoutMs: 60_000 })
    return { name, vid: info.vid }
  })
}

async function partition (groups) {
  for (const g of groups) {
    const others = groups.filter((o) => o !== g).flat().map((n) => n.peerId)
    for (const n of g) await api(`${n.apiUrl}/chaos/partition`, { method: 'POST', body: { peers: others } })
  }
}

async function waitSplit (majority, minority) {
  const deadline = Date.now() + 30_000
  for (;;) {
    const sizes = await Promise.all([...majority, ...minority].map(async (n) => (await api(`${n.apiUrl}/status`)).members.length))
    if (sizes.every((s, i) => s === (i < majority.length ? majority.length : minority.length))) return
    if (Date.now() > deadline) throw new Error(`partition not seen within 30 s: member counts ${sizes.join(',')}`)
    await sleep(200)
  }
}

async function aeBytesOut (nodes) {
  const t = await Promise.all(nodes.map(async (n) => (await api(`${n.apiUrl}/antientropy`)).totals))
  return t.reduce((s, x) => s + x.bytesOut, 0)
}

/** ms until every node knows every delete of `vdis` (log or floor) and lists none of their objects */
async function converged (nodes, vdis) {
  const t0 = performance.now()
  await Promise.all(nodes.map(async (n) => {
    for (;;) {
      if (await doneAt(n, vdis)) return
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`node ${n.index} not converged within ${TIMEOUT_MS / 1000} s`)
      await sleep(POLL_MS)
    }
  }))
  return performance.now() - t0
}

async function doneAt (n, vdis) {
  for (const v of vdis) if ((await api(`${n.apiUrl}/objlist?vid=${v.vid}`)).count > 0) return false
  const del = await api(`${n.apiUrl}/deletes`)
  const known = new Set([...del.records.map((r) => r.vid), ...del.floor.map(([vid]) => vid.toString(16).padStart(6, '0'))])
  return vdis.every((v) => known.has(v.vid))
}
