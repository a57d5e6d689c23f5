// Issue 2's end-to-end story on a real 5-node cluster (in-process nodes, real TCP on
// 127.0.0.X, real files): objects land on `copies` nodes, a VDI delete purges every
// node's cache and disk, writes to deleted oids are refused, restarts keep identity and
// tombstones, and bad input is refused without harming the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { Status } from '../../src/wire/bellwether_pb.js'
import { vidToDataOid, formatOid, parseVid } from '../../src/oid.js'
import { TOPIC_DELETES } from '../../src/net/constants.js'

const OBJ = 4096
const NOBJ = 64

async function diskOids (dataDir: string): Promise<string[]> {
  return (await readdir(join(dataDir, 'obj'))).filter((f) => /^[0-9a-f]{16}$/.test(f))
}

describe('a 5-node cluster purges gossiped deletes', { timeout: 120_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(5, { copies: 3, ipBase: 40 }) })
  afterAll(async () => { await c?.stop() })

  let vid = 0
  it('places every object of a copies-3 VDI on exactly 3 nodes, on disk and in cache', async () => {
    const created = await c.api(0, 'POST', '/vdi', { name: 'alpha', size: OBJ * NOBJ, objectSize: OBJ, copies: 3 })
    expect(created.status).toBe(200)
    vid = parseVid(created.json.vid)
    const data = new Uint8Array(OBJ * NOBJ).map((_, i) => i % 251)
    const w = await c.api(1, 'PUT', '/vdi/alpha/data?offset=0', data)
    expect(w.json).toEqual({ written: OBJ * NOBJ, objects: NOBJ })
    for (let idx = 0; idx < NOBJ; idx++) {
      const oid = vidToDataOid(vid, idx)
      const inCache = c.running().filter((n) => n.node.store.cache.has(oid)).length
      const onDisk = (await Promise.all(c.specs.map(async (s) => (await diskOids(s.dataDir)).includes(formatOid(oid))))).filter(Boolean).length
      expect(inCache, `object ${idx} in cache`).toBe(3)
      expect(onDisk, `object ${idx} on disk`).toBe(3)
    }
    const r = await fetch(`${c.node(4).apiUrl}/vdi/alpha/data?offset=${OBJ - 3}&length=6`)
    expect(Array.from(new Uint8Array(await r.arrayBuffer()))).toEqual(Array.from(data.subarray(OBJ - 3, OBJ + 3)))
  })

  it('delete → every node purges the vid from cache and disk', async () => {
    const del = await c.api(2, 'DELETE', '/vdi/alpha')
    expect(del.status).toBe(200)
    await waitFor(async () => {
      for (const n of c.running()) if (n.node.store.cache.countVid(vid) > 0) return false
      for (const s of c.specs) if ((await diskOids(s.dataDir)).some((o) => o.slice(2, 8) === vid.toString(16).padStart(6, '0'))) return false
      return true
    }, 20_000, 'every node to purge the deleted VDI')
    // the record is in every log, or already folded into every floor by tombstone GC
    for (const n of c.running()) expect(n.node.deleteLog.size + n.node.floor.size).toBe(1)
    expect((await c.api(0, 'GET', '/vdi/alpha')).status).toBe(404)
    expect((await c.api(0, 'DELETE', '/vdi/alpha')).status).toBe(404)
  })

  it('refuses a write to the deleted VDI\'s oid on every node', async () => {
    const oid = vidToDataOid(vid, 5)
    for (const n of c.running()) {
      const r = await n.node.put(n.peerId, { oid, generation: 1, version: n.node.now(), data: new Uint8Array(OBJ) })
      expect(r.status).toBe(Status.DELETED)
      expect(r.error).toMatch(/deleted/)
    }
    // and over the wire, from another node
    const r = await c.node(0).node.put(c.node(3).peerId, { oid, generation: 1, version: c.node(0).node.now(), data: new Uint8Array(OBJ) })
    expect(r.status).toBe(Status.DELETED)
    expect(c.running().every((n) => !n.node.store.cache.has(oid))).toBe(true)
  })

  it('discards explicit objects of a live VDI everywhere, and later writes re-create them', async () => {
    expect((await c.api(0, 'POST', '/vdi', { name: 'beta', size: OBJ * 16, objectSize: OBJ, copies: 2 })).status).toBe(200)
    expect((await c.api(0, 'PUT', '/vdi/beta/data?offset=0', new Uint8Array(OBJ * 16).fill(9))).status).toBe(200)
    const bvid = parseVid((await c.api(0, 'GET', '/vdi/beta')).json.vid)
    const d = await c.api(3, 'POST', '/vdi/beta/discard', { objects: '0-3,9' })
    expect(d.json.discarded).toBe(5)
    const gone = [0, 1, 2, 3, 9].map((i) => vidToDataOid(bvid, i))
    await waitFor(() => c.running().every((n) => gone.every((o) => !n.node.store.cache.has(o))), 20_000, 'discarded objects purged')
    expect(c.running().reduce((s, n) => s + n.node.store.cache.countVid(bvid), 0)).toBe((16 - 5) * 2 + 2) // + 2 inode copies
    const r = await fetch(`${c.node(1).apiUrl}/vdi/beta/data?offset=0&length=${OBJ}`)
    expect(new Uint8Array(await r.arrayBuffer()).every((b) => b === 0)).toBe(true)
    expect((await c.api(1, 'PUT', '/vdi/beta/data?offset=0', new Uint8Array(OBJ).fill(4))).status).toBe(200)
    const again = await fetch(`${c.node(2).apiUrl}/vdi/beta/data?offset=0&length=${OBJ}`)
    expect(new Uint8Array(await again.arrayBuffer()).every((b) => b === 4)).toBe(true)
  })

  // one object, and a range far larger than any per-object probing would cover
  for (const [name, objects, whole] of [['skewed', 16, false], ['skewed-big', 6000, true]] as const) {
    it(`a discard of ${whole ? 'a range of 6000 objects' : 'one object'} covers a write acked just before it through a node whose clock runs minutes ahead`, async () => {
      expect((await c.api(0, 'POST', '/vdi', { name, size: OBJ * objects, objectSize: OBJ, copies: 2 })).status).toBe(200)
      const svid = parseVid((await c.api(0, 'GET', `/vdi/${name}`)).json.vid)
      // an object node 1 (the discarder) does not hold, so the write itself does not carry node 3's clock to it
      let index = 0
      while (c.node(1).node.placement(vidToDataOid(svid, index), 2).includes(c.node(1).peerId)) index++
      const oid = vidToDataOid(svid, index)
      try {
        // the write's version comes from node 3's clock, 3 minutes ahead; node 1 discards at once,
        // before a heartbeat is likely to carry node 3's clock over
        c.node(3).node.clockOffsetMs = 180_000
        expect((await c.api(3, 'PUT', `/vdi/${name}/data?offset=${index * OBJ}`, new Uint8Array(OBJ).fill(7))).status).toBe(200)
        const d = await c.api(1, 'POST', `/vdi/${name}/discard`, { objects: whole ? `0-${objects - 1}` : String(index) })
        expect(d.status, JSON.stringify(d.json)).toBe(200)
        await waitFor(() => c.running().every((n) => !n.node.store.cache.has(oid)), 20_000, 'the discarded object purged everywhere')
        const r = await fetch(`${c.node(2).apiUrl}/vdi/${name}/data?offset=${index * OBJ}&length=${OBJ}`)
        expect(new Uint8Array(await r.arrayBuffer()).every((b) => b === 0)).toBe(true)
      } finally {
        c.node(3).node.clockOffsetMs = 0
      }
    })
  }

  it('a restarted node keeps its identity and its tombstones', async () => {
    const before = c.node(4).peerId
    const records = c.node(4).node.deleteLog.records().length
    const floor = c.node(4).node.floor.entries()
    await c.stopNode(4)
    await c.startNode(4)
    expect(c.node(4).peerId).toBe(before)
    // (GC may fold records between the stop and the check; the sum is what survives)
    expect(c.node(4).node.deleteLog.size + c.node(4).node.floor.size).toBe(records + floor.length)
    expect(c.node(4).node.tombstones.isVdiDeleted(vid, 1)).toBe(true)
    const r = await c.node(4).node.put(c.node(4).peerId, { oid: vidToDataOid(vid, 1), generation: 1, version: c.node(4).node.now(), data: new Uint8Array(8) })
    expect(r.status).toBe(Status.DELETED)
    await c.waitMembers()
  })

  it('rejects a malformed and an oversized gossip batch, counts them, and keeps running', async () => {
    const ps = c.node(0).node.libp2p.services.pubsub
    await ps.publish(TOPIC_DELETES, new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))
    await ps.publish(TOPIC_DELETES, new Uint8Array(300 * 1024).fill(0x0a))
    await waitFor(async () => {
      const text = await (await fetch(`${c.node(1).apiUrl}/metrics`)).text()
      const m = /bw_bad_input_total\{kind="delete-batch"\} (\d+)/.exec(text)
      return m != null && Number(m[1]) >= 2
    }, 15_000, 'receivers to count both bad batches')
    // still serving, and still purging real deletes
    const gamma = await c.api(1, 'POST', '/vdi', { name: 'gamma', size: OBJ * 4, objectSize: OBJ, copies: 2 })
    expect(gamma.status, JSON.stringify(gamma.json)).toBe(200)
    expect((await c.api(1, 'DELETE', '/vdi/gamma')).status).toBe(200)
    const gvid = parseVid(gamma.json.vid)
    await waitFor(() => c.running().every((n) => n.node.tombstones.isVdiDeleted(gvid, 1)), 15_000, 'the next delete to reach everyone')
  })

  it('never rejects honest gossip: forwarded heartbeats are judged by their author', async () => {
    for (let i = 0; i < c.specs.length; i++) {
      const text = await (await fetch(`${c.node(i).apiUrl}/metrics`)).text()
      expect(text).not.toMatch(/bw_bad_input_total\{kind="heartbeat"\} [1-9]/)
    }
  })

  it('answers bad oids, unknown VDIs and bad requests with clear errors', async () => {
    const bad = (1n << 58n) | 5n // reserved bit set
    const r = await c.node(0).node.put(c.node(1).peerId, { oid: bad, generation: 1, version: 1n, data: new Uint8Array(1) })
    expect(r.status).toBe(Status.BAD_REQUEST)
    expect(r.error).toMatch(/invalid oid/)
    expect((await c.api(0, 'GET', '/vdi/nope')).json).toEqual({ error: "VDI 'nope' not found", code: 'NOT_FOUND' })
    expect((await c.api(0, 'PUT', '/vdi/nope/data?offset=0', new Uint8Array(4))).status).toBe(404)
    expect((await c.api(0, 'POST', '/vdi', { name: 'x', size: -1 })).json.code).toBe('BAD_REQUEST')
    expect((await c.api(0, 'POST', '/vdi', { name: 'x', size: 4096, objectSize: 1000 })).json.error).toMatch(/power of two/)
    expect((await c.api(0, 'POST', '/vdi/beta/discard', { objects: '3-1' })).status).toBe(400)
    expect((await c.api(0, 'POST', '/vdi/beta/discard', { objects: '9999' })).json.error).toMatch(/out of range/)
    expect((await c.api(0, 'GET', '/objlist?vid=zz')).status).toBe(400)
    expect((await c.api(0, 'POST', '/vdi', undefined)).status).toBe(400)
    const post = await fetch(`${c.node(0).apiUrl}/vdi`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } })
    expect(post.status).toBe(400)
    // a browser page may POST text/plain anywhere without a preflight: refused before parsing
    const plain = await fetch(`${c.node(0).apiUrl}/vdi`, { method: 'POST', body: '{"name":"web","size":4096}' })
    expect(plain.status).toBe(415)
    expect((await plain.json()).code).toBe('UNSUPPORTED_MEDIA_TYPE')
    expect((await c.api(0, 'GET', '/status')).status).toBe(200)
  })
})
