// Issue 2's end-to-end story on a real 5-node cluster (in-process nodes, real TCP on
// 127.0.0.X, real files): objects land on `copies` nodes, a VDI delete purges every
// node's cache and disk, writes to deleted oids are refused, restarts keep identity and
// tombstones, gossip is judged by its signed author, and bad input is refused without
// harming the node. The cases share the cluster but nothing else: each makes its own VDIs
// under its own names, so any one of them runs alone (`-t`) and in any order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { peerIdFromString } from '@libp2p/peer-id'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { HeartbeatSchema, LogSummarySchema, Status } from '../../src/wire/bellwether_pb.js'
import { vidToDataOid, formatOid, formatVid, parseVid } from '../../src/oid.js'
import { hlcPhysical } from '../../src/hlc.js'
import { TOPIC_DELETES, TOPIC_MEMBERS } from '../../src/net/constants.js'

const OBJ = 4096
const NOBJ = 64

async function diskOids (dataDir: string): Promise<string[]> {
  return (await readdir(join(dataDir, 'obj'))).filter((f) => /^[0-9a-f]{16}$/.test(f))
}

describe('a 5-node cluster purges gossiped deletes', { timeout: 120_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(5, { copies: 3, ipBase: 40 }) })
  afterAll(async () => { await c?.stop() })

  /** a VDI of `objects` objects of OBJ bytes, all written (with `fill`) through node `via`; its vid */
  async function vdi (name: string, objects: number, copies: number, fill = 1, via = 0): Promise<number> {
    const r = await c.api(via, 'POST', '/vdi', { name, size: OBJ * objects, objectSize: OBJ, copies })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    const w = await c.api(via, 'PUT', `/vdi/${name}/data?offset=0`, new Uint8Array(OBJ * objects).fill(fill))
    expect(w.status, JSON.stringify(w.json)).toBe(200)
    return parseVid(r.json.vid)
  }

  /** `name` deleted through node `via`, and every running node holds the tombstone */
  async function deleted (name: string, vid: number, via = 0): Promise<void> {
    expect((await c.api(via, 'DELETE', `/vdi/${name}`)).status).toBe(200)
    await waitFor(() => c.running().every((n) => n.node.tombstones.isVdiDeleted(vid, 1)), 20_000, `every node to hold the delete of ${name}`)
  }

  /** bw_rejected_total{kind} on node i */
  async function rejectedCount (i: number, kind: string): Promise<number> {
    const { values } = await c.node(i).node.metrics.rejected.get()
    return values.find((v) => v.labels.kind === kind)?.value ?? 0
  }

  it('places every object of a copies-3 VDI on exactly 3 nodes, on disk and in cache', async () => {
    const created = await c.api(0, 'POST', '/vdi', { name: 'alpha', size: OBJ * NOBJ, objectSize: OBJ, copies: 3 })
    expect(created.status).toBe(200)
    const vid = parseVid(created.json.vid)
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
    const vid = await vdi('doomed', NOBJ, 3, 3, 1)
    expect(c.running().reduce((s, n) => s + n.node.store.cache.countVid(vid), 0)).toBe((NOBJ + 1) * 3)
    const del = await c.api(2, 'DELETE', '/vdi/doomed')
    expect(del.status).toBe(200)
    await waitFor(async () => {
      for (const n of c.running()) if (n.node.store.cache.countVid(vid) > 0) return false
      for (const s of c.specs) if ((await diskOids(s.dataDir)).some((o) => o.slice(2, 8) === formatVid(vid))) return false
      return true
    }, 20_000, 'every node to purge the deleted VDI')
    // the one record is in every log, or already folded into every floor by tombstone GC
    for (const n of c.running()) {
      const records = n.node.deleteLog.records().filter((r) => r.vid === vid).length + (n.node.floor.get(vid) === undefined ? 0 : 1)
      expect(records, `records of vid ${formatVid(vid)} on ${n.peerId}`).toBe(1)
    }
    expect((await c.api(0, 'GET', '/vdi/doomed')).status).toBe(404)
    expect((await c.api(0, 'DELETE', '/vdi/doomed')).status).toBe(404)
  })

  it('refuses a write to a deleted VDI\'s oid on every node', async () => {
    const vid = await vdi('refused', 8, 3)
    await deleted('refused', vid, 1)
    const oid = vidToDataOid(vid, 5)
    const why = `object ${formatOid(oid)} is deleted: vdi ${formatVid(vid)} deleted through generation 1`
    for (const n of c.running()) {
      const r = await n.node.put(n.peerId, { oid, generation: 1, version: n.node.now(), data: new Uint8Array(OBJ) })
      expect(r.status).toBe(Status.DELETED)
      expect(r.error).toBe(why)
    }
    // and over the wire, from another node
    const r = await c.node(0).node.put(c.node(3).peerId, { oid, generation: 1, version: c.node(0).node.now(), data: new Uint8Array(OBJ) })
    expect(r.status).toBe(Status.DELETED)
    expect(r.error).toBe(why)
    expect(c.running().every((n) => !n.node.store.cache.has(oid))).toBe(true)
  })

  it('discards explicit objects of a live VDI everywhere, and later writes re-create them', async () => {
    const bvid = await vdi('beta', 16, 2, 9)
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
    it(`a discard of ${whole ? 'a range of 6000 objects' : 'one object'} covers a write acked just before it through a node whose clock runs ahead`, async () => {
      expect((await c.api(0, 'POST', '/vdi', { name, size: OBJ * objects, objectSize: OBJ, copies: 2 })).status).toBe(200)
      const svid = parseVid((await c.api(0, 'GET', `/vdi/${name}`)).json.vid)
      // an object node 1 (the discarder) does not hold, so the write itself does not carry node 3's clock to it
      let index = 0
      while (c.node(1).node.placement(vidToDataOid(svid, index), 2).includes(c.node(1).peerId)) index++
      const oid = vidToDataOid(svid, index)
      const holder = c.running().find((n) => n.node.placement(oid, 2).includes(n.peerId))!
      const discarder = c.node(1).node
      // node 1 knows the VDI already, so its discard looks nothing up (answers to a lookup carry clocks too)
      expect((await c.api(1, 'GET', `/vdi/${name}`)).status).toBe(200)
      const indexes = whole ? Uint32Array.from({ length: objects }, (_, k) => k) : Uint32Array.of(index)
      let discard: ReturnType<typeof discarder.vdis.discard> | undefined
      let version = 0n
      let behind = 0n
      try {
        // The write's version comes from node 3's clock, set ahead of every clock in the cluster. The
        // discard must start before node 1 has absorbed that clock: any heartbeat from a node that has
        // (node 3, the replicas) carries it over, so when one got there first the write is repeated a
        // little further ahead. Checked and started in one synchronous step, nothing can arrive between.
        for (let attempt = 1; attempt <= 5 && discard === undefined; attempt++) {
          const ahead = Math.max(...c.running().map((n) => hlcPhysical(n.node.clock.last()))) - Date.now()
          c.node(3).node.clockOffsetMs = Math.max(0, ahead) + 30_000
          expect((await c.api(3, 'PUT', `/vdi/${name}/data?offset=${index * OBJ}`, new Uint8Array(OBJ).fill(7))).status).toBe(200)
          version = (await holder.node.store.stat(oid))!.version
          behind = discarder.clock.last()
          if (behind < version) discard = discarder.vdis.discard(name, indexes)
        }
        expect(behind < version, `node 1's clock ${behind} had absorbed node 3's write version ${version} before every attempt`).toBe(true)
        const { records } = await discard!
        expect(records.length).toBeGreaterThan(0)
        await waitFor(() => c.running().every((n) => !n.node.store.cache.has(oid)), 20_000, 'the discarded object purged everywhere')
        const r = await fetch(`${c.node(2).apiUrl}/vdi/${name}/data?offset=${index * OBJ}&length=${OBJ}`)
        expect(new Uint8Array(await r.arrayBuffer()).every((b) => b === 0)).toBe(true)
      } finally {
        c.node(3).node.clockOffsetMs = 0
      }
    })
  }

  it('a restarted node keeps its identity and its tombstones', async () => {
    const vid = await vdi('kept', 8, 3)
    await deleted('kept', vid, 2)
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
    const before = await rejectedCount(1, 'delete-batch')
    const ps = c.node(0).node.libp2p.services.pubsub
    await ps.publish(TOPIC_DELETES, new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))
    await ps.publish(TOPIC_DELETES, new Uint8Array(300 * 1024).fill(0x0a))
    await waitFor(async () => (await rejectedCount(1, 'delete-batch')) - before >= 2, 15_000, 'receivers to count both bad batches')
    expect(await rejectedCount(1, 'delete-batch') - before).toBe(2)
    // still serving, and still purging real deletes
    const gamma = await c.api(1, 'POST', '/vdi', { name: 'gamma', size: OBJ * 4, objectSize: OBJ, copies: 2 })
    expect(gamma.status, JSON.stringify(gamma.json)).toBe(200)
    expect((await c.api(1, 'DELETE', '/vdi/gamma')).status).toBe(200)
    const gvid = parseVid(gamma.json.vid)
    await waitFor(() => c.running().every((n) => n.node.tombstones.isVdiDeleted(gvid, 1)), 15_000, 'the next delete to reach everyone')
  })

  it('judges heartbeats by their signed author: forwarded honest ones are accepted, a forged one is rejected and counted', async () => {
    const [p0, p1, p4] = [0, 1, 4].map((i) => c.node(i).peerId)
    const direct = (): number => c.node(0).node.libp2p.getConnections(peerIdFromString(p4)).length + c.node(4).node.libp2p.getConnections(peerIdFromString(p0)).length
    const before = await Promise.all([0, 1, 2, 3, 4].map(async (i) => await rejectedCount(i, 'heartbeat')))
    const rejected = (): number[] => [0, 1, 2, 3, 4].map((i) => c.node(i).node.membership.topic.counters.rejected)
    const rejectedBefore = rejected()
    // nodes 0 and 4 stop talking to each other: node 0's heartbeats reach node 4 only as the others forward them
    expect((await c.api(0, 'POST', '/chaos/partition', { peers: [p4] })).status).toBe(200)
    expect((await c.api(4, 'POST', '/chaos/partition', { peers: [p0] })).status).toBe(200)
    try {
      await waitFor(() => direct() === 0, 10_000, 'nodes 0 and 4 to hang up on each other')
      // a heartbeat node 0 makes from now on can reach node 4 only through a forwarder
      const since = c.node(0).node.clock.last()
      await waitFor(() => (c.node(4).node.membership.peers.get(p0)?.hlc ?? 0n) > since, 15_000, 'node 4 to accept a heartbeat of node 0 that others forwarded')
      expect(direct(), 'a direct connection between nodes 0 and 4').toBe(0)
      expect(await rejectedCount(4, 'heartbeat'), 'heartbeats node 4 rejected while it heard node 0 only through others').toBe(before[4])

      // node 0 signs a well-formed heartbeat that claims to be node 1's
      const real = c.node(1).node
      const forged = create(HeartbeatSchema, {
        peerId: p1,
        addrs: real.multiaddrs(),
        zone: real.zone,
        api: 'http://127.0.0.1:9/forged',
        epoch: real.membership.view.epoch,
        membersHash: real.membership.view.membersHash(),
        memberCount: real.membership.view.members().length,
        objects: 0n,
        log: create(LogSummarySchema, {}),
        leaving: false,
        hlc: c.node(0).node.now(),
        busy: false,
        incarnation: BigInt(Date.now())
      })
      await c.node(0).node.libp2p.services.pubsub.publish(TOPIC_MEMBERS, toBinary(HeartbeatSchema, forged))
      // each node connected to node 0 rejects it once and counts it; a rejected message is not
      // forwarded, so node 4 never sees it
      await waitFor(async () => (await Promise.all([1, 2, 3].map(async (i) => await rejectedCount(i, 'heartbeat') - before[i]!))).every((d) => d >= 1), 15_000, 'nodes 1, 2 and 3 to reject the forged heartbeat')
      expect(await Promise.all([0, 1, 2, 3, 4].map(async (i) => await rejectedCount(i, 'heartbeat') - before[i]!))).toEqual([0, 1, 1, 1, 0])
      expect(rejected().map((n, i) => n - rejectedBefore[i]!), 'heartbeats each node\'s validator rejected').toEqual([0, 1, 1, 1, 0])
      for (const i of [2, 3, 4]) expect(c.node(i).node.membership.view.member(p1)?.api, `node ${i}'s record of node 1`).toBe(`http://${c.specs[1]!.ip}:${c.specs[1]!.api}`)
    } finally {
      for (const i of [0, 4]) await c.api(i, 'POST', '/chaos/heal')
    }
    await waitFor(() => direct() > 0, 30_000, 'nodes 0 and 4 to reconnect')
    await c.waitMembers()
  })

  it('answers bad oids, unknown VDIs and bad requests with clear errors', async () => {
    expect((await c.api(0, 'POST', '/vdi', { name: 'bounds', size: OBJ * 16, objectSize: OBJ, copies: 2 })).status).toBe(200)
    const bad = (1n << 58n) | 5n // reserved bit set
    const r = await c.node(0).node.put(c.node(1).peerId, { oid: bad, generation: 1, version: 1n, data: new Uint8Array(1) })
    expect(r.status).toBe(Status.BAD_REQUEST)
    expect(r.error).toMatch(/invalid oid/)
    expect((await c.api(0, 'GET', '/vdi/nope')).json).toEqual({ error: "VDI 'nope' not found", code: 'NOT_FOUND' })
    expect((await c.api(0, 'PUT', '/vdi/nope/data?offset=0', new Uint8Array(4))).status).toBe(404)
    expect((await c.api(0, 'POST', '/vdi', { name: 'x', size: -1 })).json.code).toBe('BAD_REQUEST')
    expect((await c.api(0, 'POST', '/vdi', { name: 'x', size: 4096, objectSize: 1000 })).json.error).toMatch(/power of two/)
    expect((await c.api(0, 'POST', '/vdi/bounds/discard', { objects: '3-1' })).status).toBe(400)
    expect((await c.api(0, 'POST', '/vdi/bounds/discard', { objects: '9999' })).json.error).toMatch(/out of range/)
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
