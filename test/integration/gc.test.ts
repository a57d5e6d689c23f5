// Tombstone GC (issue 3): once every member acknowledged a whole-VDI delete it folds into
// the floor and the log shrinks; a vid is reused only after that, and the old tombstone
// never purges the new generation; a node kept away past eviction comes back, takes a
// reset (the floor) and still purges. Real in-process nodes over TCP, real files. Each case
// deletes its own VDIs and looks only at their records, so any one runs alone (`-t`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, checkCluster, waitFor } from '../helpers/inproc.js'
import { parseVid } from '../../src/oid.js'
import type { StartedNode } from '../../src/node/start.js'

const OBJ = 4096

describe('tombstone GC', { timeout: 180_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(4, { copies: 2, ipBase: 110, evictAfterMs: 6000 }) }, 120_000)
  afterAll(async () => { await c?.stop() })

  /** does node n's delete log still hold a record of any of `vids`? */
  const inLog = (n: StartedNode, vids: number[]): boolean =>
    n.node.deleteLog.records().some((r) => vids.includes(r.vid))

  async function vdi (name: string, fill: number): Promise<number> {
    const r = await c.api(0, 'POST', '/vdi', { name, size: OBJ * 8, objectSize: OBJ, copies: 2 })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    expect((await c.api(1, 'PUT', `/vdi/${name}/data?offset=0`, new Uint8Array(OBJ * 8).fill(fill))).status).toBe(200)
    return parseVid(r.json.vid)
  }

  it('folds acknowledged deletes into the floor and shrinks the log', async () => {
    const vids = [await vdi('g1', 1), await vdi('g2', 2)]
    expect((await c.api(2, 'DELETE', '/vdi/g1')).status).toBe(200)
    expect((await c.api(3, 'DELETE', '/vdi/g2')).status).toBe(200)
    await waitFor(() => c.running().every((n) => !inLog(n, vids) && vids.every((v) => n.node.floor.get(v) === 1)), 60_000, 'every node to fold both records')
    for (const n of c.running()) {
      expect(n.node.floor.horizon).toBeGreaterThan(0n)
      expect(vids.every((v) => n.node.store.cache.countVid(v) === 0)).toBe(true)
      expect(n.node.tombstones.isVdiDeleted(vids[0], 1)).toBe(true)
    }
    expect((await checkCluster(c)).problems).toEqual([])
  })

  it('reuses a folded vid with a new generation, which the old tombstone never purges', async () => {
    const old = await vdi('again', 5)
    expect((await c.api(0, 'DELETE', '/vdi/again')).status).toBe(200)
    await waitFor(() => c.running().every((n) => n.node.floor.get(old) === 1), 60_000, 'the delete to fold')
    const r = await c.api(1, 'POST', '/vdi', { name: 'again', size: OBJ * 8, objectSize: OBJ, copies: 2 })
    expect(r.json.vid).toBe(old.toString(16).padStart(6, '0'))
    expect(r.json.generation).toBe(2)
    expect((await c.api(2, 'PUT', '/vdi/again/data?offset=0', new Uint8Array(OBJ * 8).fill(6))).status).toBe(200)
    // sessions between all nodes (each ships its floor when the digests differ) and two more GC
    // rounds on every node after them: the new generation is still intact
    for (let i = 0; i < 4; i++) {
      const report = await c.node(i).node.aeScheduler.syncNow(c.node((i + 1) % 4).peerId)
      expect(report?.error, `session ${i} → ${(i + 1) % 4}`).toBeUndefined()
      expect(report?.peer).toBe(c.node((i + 1) % 4).peerId)
    }
    const rounds = c.running().map((n) => n.node.gc.rounds)
    await waitFor(() => c.running().every((n, k) => n.node.gc.rounds >= rounds[k]! + 2), 30_000, 'two more GC rounds on every node')
    const count = c.running().reduce((s, n) => s + n.node.store.cache.countVid(old), 0)
    expect(count).toBe(9 * 2) // 8 data objects + the inode, 2 copies each
    const data = new Uint8Array(await (await fetch(`${c.node(3).apiUrl}/vdi/again/data?offset=0&length=${OBJ * 8}`)).arrayBuffer())
    expect(data.every((b) => b === 6)).toBe(true)
    expect((await checkCluster(c)).problems).toEqual([])
  })

  it('a node kept away past eviction takes a reset and purges what was folded without it', async () => {
    const vid = await vdi('away', 7)
    const stale = c.node(3).node.store.cache.countVid(vid)
    expect(stale).toBeGreaterThan(0)
    await c.stopNode(3)
    expect((await c.api(0, 'DELETE', '/vdi/away')).status).toBe(200)
    // the horizon waits for node 3 until it is evicted, then the record folds
    await waitFor(() => c.running().every((n) => n.node.floor.get(vid) === 1 && !inLog(n, [vid])), 90_000, 'the record to fold once node 3 is evicted')
    const back = await c.startNode(3)
    await waitFor(() => back.node.floor.get(vid) === 1 && back.node.store.cache.countVid(vid) === 0, 30_000, 'the returning node to take the floor and purge')
    expect(back.node.tombstones.isVdiDeleted(vid, 1)).toBe(true)
    // it got the floor as a reset (its ack was behind the others' horizon), not just because floor digests differed
    expect(back.node.gc.resets, 'floors node 3 received as a reset').toBeGreaterThan(0)
    await c.waitMembers()
    expect((await checkCluster(c)).problems).toEqual([])
  })
})
