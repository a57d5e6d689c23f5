// Replica repair with real in-process nodes over TCP: a write that reaches only some of its
// replicas (one target partitioned away) is not acknowledged, and once the partition heals
// every target ends up with the newest version without any membership change; a write cut
// short on an object whose VDI is then deleted is never brought back by the repair.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, checkCluster, heal, partition, waitFor } from '../helpers/inproc.js'
import { formatOid, parseVid, vidToDataOid } from '../../src/oid.js'

const OBJ = 4096

/** the answer to a write that reached every replica but node 2's, which was cut off */
function missedNode2 (c: InprocCluster, oid: bigint): object {
  return { error: expect.stringMatching(new RegExp(`^write of ${formatOid(oid)} failed on 1/3 replicas: ${c.node(2).peerId}: `)), code: 'UNAVAILABLE' }
}

describe('replica repair after partial writes', { timeout: 180_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(3, { copies: 3, ipBase: 160 }) }, 120_000)
  afterAll(async () => { await c?.stop() })

  it('a write that missed a partitioned replica is pushed to it after the heal', async () => {
    await c.waitMembers()
    const r = await c.api(0, 'POST', '/vdi', { name: 'rep', size: OBJ * 4, objectSize: OBJ, copies: 3 })
    expect(r.status).toBe(200)
    const vid = parseVid(r.json.vid)
    expect((await c.api(0, 'PUT', '/vdi/rep/data?offset=0', new Uint8Array(OBJ).fill(1))).status).toBe(200)
    // cut node 2 off (app level) and write again through node 0: node 2 misses it
    const oid = vidToDataOid(vid, 0)
    await partition(c, [[0, 1], [2]])
    try {
      const w = await c.api(0, 'PUT', '/vdi/rep/data?offset=0', new Uint8Array(OBJ).fill(2))
      expect(w).toEqual({ status: 503, json: missedNode2(c, oid) })
      expect(c.node(0).node.repair.pending).toBeGreaterThan(0)
    } finally {
      await heal(c) // also when an expectation failed: the next case needs a whole cluster
    }
    await waitFor(() => c.node(0).node.repair.pending === 0, 60_000, 'the repair queue to drain')
    const versions = await Promise.all([0, 1, 2].map(async (i) => (await c.node(i).node.store.stat(oid))?.version))
    expect(new Set(versions).size).toBe(1)
    const data = await c.node(2).node.store.get(oid)
    expect(Array.from(data!.data.subarray(0, 4))).toEqual([2, 2, 2, 2])
    expect(c.node(0).node.repair.totals.pushed).toBeGreaterThan(0)
    await waitFor(() => c.running().every((n) => !n.node.busy()), 60_000, 'quiet')
    expect((await checkCluster(c)).problems).toEqual([])
  })

  it('a partial write to a VDI deleted before the repair is dropped, never pushed', async () => {
    await c.waitMembers()
    const r = await c.api(1, 'POST', '/vdi', { name: 'gone', size: OBJ * 4, objectSize: OBJ, copies: 3 })
    expect(r.status).toBe(200)
    const vid = parseVid(r.json.vid)
    const pushed = c.node(1).node.repair.totals.pushed
    let dropped: number
    await partition(c, [[0, 1], [2]])
    try {
      const w = await c.api(1, 'PUT', '/vdi/gone/data?offset=0', new Uint8Array(OBJ).fill(7))
      expect(w).toEqual({ status: 503, json: missedNode2(c, vidToDataOid(vid, 0)) })
      expect(c.node(1).node.repair.pending).toBeGreaterThan(0)
      expect((await c.api(1, 'DELETE', '/vdi/gone')).status).toBe(200)
      dropped = c.node(1).node.repair.totals.dropped
    } finally {
      await heal(c)
    }
    await waitFor(() => c.node(1).node.repair.pending === 0, 60_000, 'the repair queue to drain')
    expect(c.node(1).node.repair.totals.dropped).toBeGreaterThan(dropped)
    expect(c.node(1).node.repair.totals.pushed, 'objects the repair pushed to a replica').toBe(pushed)
    await waitFor(() => c.running().every((n) => !n.node.busy()), 60_000, 'quiet')
    expect(c.running().reduce((s, n) => s + n.node.store.cache.countVid(vid), 0)).toBe(0)
    expect((await checkCluster(c)).problems).toEqual([])
  })

  it('objects past 4 MiB replicate to every target (the frame encoder once refused them)', async () => {
    await c.waitMembers()
    const MIB = 1024 * 1024
    const r = await c.api(2, 'POST', '/vdi', { name: 'big6', size: 8 * MIB, objectSize: 8 * MIB, copies: 3 })
    expect(r.status).toBe(200)
    const data = new Uint8Array(6 * MIB).map((_, i) => (i * 7) & 0xff)
    expect((await c.api(2, 'PUT', '/vdi/big6/data?offset=0', data)).status).toBe(200)
    const oid = vidToDataOid(parseVid(r.json.vid), 0)
    for (const n of c.running()) expect((await n.node.store.stat(oid))?.length, `on ${n.peerId}`).toBe(8 * MIB)
    const back = new Uint8Array(await (await fetch(`${c.node(0).apiUrl}/vdi/big6/data?offset=0&length=${6 * MIB}`)).arrayBuffer())
    expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0)
  })
})
