// Anti-entropy end to end (issue 3): nodes that were partitioned away, stopped, or
// restarted while VDIs were deleted converge after they come back — purged from cache and
// disk — and `check` passes. Real in-process nodes over TCP on 127.0.0.X, real files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, checkCluster, heal, partition, waitFor } from '../helpers/inproc.js'
import { outlastGossipCache } from '../helpers/gossip.js'
import { formatVid, parseVid } from '../../src/oid.js'
import { Status } from '../../src/wire/bellwether_pb.js'

const OBJ = 4096

async function makeVdi (c: InprocCluster, via: number, name: string, objects: number, copies = 3): Promise<number> {
  const r = await c.api(via, 'POST', '/vdi', { name, size: OBJ * objects, objectSize: OBJ, copies })
  expect(r.status, JSON.stringify(r.json)).toBe(200)
  const w = await c.api(via, 'PUT', `/vdi/${name}/data?offset=0`, new Uint8Array(OBJ * objects).fill(1))
  expect(w.status, JSON.stringify(w.json)).toBe(200)
  return parseVid(r.json.vid)
}

/** delete records a node newly applied, by how they arrived (bw_delete_records_applied_total) */
async function appliedBySource (c: InprocCluster, i: number): Promise<{ ae: number, gossip: number }> {
  const { values } = await c.node(i).node.metrics.recordsApplied.get()
  const of = (source: string): number => values.find((v) => v.labels.source === source)?.value ?? 0
  return { ae: of('ae'), gossip: of('gossip') }
}

function holders (c: InprocCluster, vid: number, nodes: number[]): number {
  return nodes.reduce((s, i) => s + (c.nodes[i]?.node.store.cache.countVid(vid) ?? 0), 0)
}

describe('anti-entropy after a partition heals', { timeout: 180_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(10, { copies: 3, ipBase: 70 }) }, 120_000)
  afterAll(async () => { await c?.stop() })

  it('the minority side purges deletes it missed: whole VDIs and explicit discards', async () => {
    const vids: number[] = []
    for (let k = 0; k < 4; k++) vids.push(await makeVdi(c, k, `p${k}`, 24))
    const minority = [7, 8, 9]
    const majority = [0, 1, 2, 3, 4, 5, 6]
    // this case's records (other cases' deletes share the cluster): in the log or, once GC folded them, the floor
    const mine = new Set(vids.slice(0, 3))
    const held = (i: number): number => c.node(i).node.deleteLog.records().filter((r) => mine.has(r.vid)).length +
      c.node(i).node.floor.entries().filter(([vid]) => mine.has(vid)).length
    let before: Array<{ ae: number, gossip: number }>
    await partition(c, [majority, minority])
    try {
      await waitFor(() => minority.every((i) => c.node(i).node.members().length === 3) && majority.every((i) => c.node(i).node.members().length === 7), 30_000, 'both sides to see the split')
      expect(holders(c, vids[0], minority)).toBeGreaterThan(0)
      // deletes on the majority side only
      expect((await c.api(0, 'DELETE', '/vdi/p0')).status).toBe(200)
      expect((await c.api(3, 'DELETE', '/vdi/p1')).status).toBe(200)
      expect((await c.api(5, 'POST', '/vdi/p2/discard', { objects: '0-9,20' })).status).toBe(200)
      await waitFor(() => majority.every((i) => held(i) === 3), 15_000, 'majority to apply the deletes')
      // the minority did not hear of them
      expect(minority.map(held)).toEqual([0, 0, 0])
      expect(holders(c, vids[0], minority)).toBeGreaterThan(0)
      // every majority node holds the records (so has the gossip messages, if any, in its cache):
      // once each has run past its gossip cache, gossip cannot deliver them after the heal, only anti-entropy
      await outlastGossipCache(majority.map((i) => c.node(i).apiUrl))
      before = await Promise.all(minority.map(async (i) => await appliedBySource(c, i)))
    } finally {
      await heal(c) // also when an expectation failed: the next case needs a whole cluster
    }
    await waitFor(() => c.specs.every((_, i) => c.nodes[i] == null || held(i) === 3), 30_000, 'every node to hold every delete record')
    await waitFor(() => holders(c, vids[0], minority) === 0 && holders(c, vids[1], minority) === 0, 30_000, 'the minority to purge')
    await c.waitMembers()
    // each minority node got all three records through anti-entropy, none through gossip
    for (const [k, i] of minority.entries()) {
      const now = await appliedBySource(c, i)
      const gained = { ae: now.ae - before[k]!.ae, gossip: now.gossip - before[k]!.gossip }
      expect(gained, `records node ${i} applied since the heal, by source`).toEqual({ ae: 3, gossip: 0 })
    }
    const report = await checkCluster(c)
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('a node stopped during deletes purges after it restarts, before serving them', async () => {
    const vid = await makeVdi(c, 1, 'stopped', 32)
    const stale = c.node(6).node.store.cache.oidsOfVid(vid)
    expect(stale.length).toBeGreaterThan(0)
    await c.stopNode(6)
    await c.waitMembers()
    expect((await c.api(1, 'DELETE', '/vdi/stopped')).status).toBe(200)
    await waitFor(() => c.running().every((n) => n.node.store.cache.countVid(vid) === 0), 20_000, 'live nodes to purge')
    const restarted = await c.startNode(6)
    // ask for its stale copies at once, from several peers: it must never hand one out. It answers each
    // asker only once it has reconciled delete records with it, and every asker holds the delete: so the
    // answer is NOT_FOUND (learned and purged) or DELETED with the tombstone's reason (learned, purge still
    // running). A failed request, a refusal for another reason or any other answer is no evidence and fails the test.
    const asks = await Promise.all([0, 2, 4].flatMap((i) => stale.slice(0, 4).map(async (oid) =>
      await c.node(i).node.get(restarted.peerId, oid).then((r) => ({ status: r.status, error: r.error }), (err) => ({ status: -1, error: String(err) })))))
    expect(asks).toHaveLength(12)
    const refusals = [{ status: Status.NOT_FOUND, error: '' }, { status: Status.DELETED, error: `vdi ${formatVid(vid)} deleted through generation 1` }]
    for (const a of asks) expect(refusals, `${a.status === -1 ? 'request failed' : Status[a.status]}: ${a.error}`).toContainEqual(a)
    // its own copies survive on disk until it learns the record; it must learn it and purge
    await waitFor(() => restarted.node.tombstones.isVdiDeleted(vid, 1) && restarted.node.store.cache.countVid(vid) === 0, 30_000, 'the restarted node to purge')
    await c.waitMembers()
    expect((await checkCluster(c)).problems).toEqual([])
  })
})
