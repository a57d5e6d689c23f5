// A replica repair (src/vdi/replicaRepair.ts) and a recovery pass (src/recovery/recovery.ts)
// both look the object's VDI up (VdiService.inodeOf) and drop their work when it is gone. A
// VDI whose inode holders merely do not answer (cut off from the coordinator, restarting) is
// not gone: the repair must stay queued and the pass must count the object as failed (so it is
// retried), or a replica that missed a write keeps its old version for good. The fake cluster
// holds each member's objects in memory; `silent` members reject every request.
import { describe, expect, it } from 'vitest'
import type { Logger } from 'pino'
import pino from 'pino'
import { create } from '@bufbuild/protobuf'
import { ObjResponseSchema, Status, type ObjResponse } from '../../src/wire/bellwether_pb.js'
import { vidToDataOid, vidToVdiOid } from '../../src/oid.js'
import { TombstoneIndex } from '../../src/tombstones/tombstoneIndex.js'
import type { ClusterIO, DeleteOrigin } from '../../src/vdi/clusterIo.js'
import { encodeInode, VdiError, type Inode } from '../../src/vdi/inode.js'
import { VdiService } from '../../src/vdi/vdiService.js'
import { ReplicaRepair } from '../../src/vdi/replicaRepair.js'
import { Recovery, type RecoveryIO } from '../../src/recovery/recovery.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const VID = 0x10c338
const INODE = vidToVdiOid(VID)
const OID = vidToDataOid(VID, 4)
const res = (f: Partial<Omit<ObjResponse, '$typeName'>>): ObjResponse => create(ObjResponseSchema, f)

interface Stored { generation: number, version: bigint, data: Uint8Array }

/** five members; the inode lives on n2..n4, the data object on n0, n1, n2 */
function cluster () {
  const members = ['n0', 'n1', 'n2', 'n3', 'n4']
  const stores = new Map(members.map((m) => [m, new Map<bigint, Stored>()]))
  const silent = new Set<string>()
  const tombstones = new TombstoneIndex()
  const placement = (oid: bigint): string[] => oid === INODE ? ['n2', 'n3', 'n4'] : ['n0', 'n1', 'n2']
  const inode: Inode = { name: 'w2', vid: VID, size: 1 << 20, copies: 3, objectSize: 4096, generation: 1, created: 1n }
  for (const p of placement(INODE)) stores.get(p)!.set(INODE, { generation: 1, version: 1n, data: encodeInode(inode) })
  const io: ClusterIO & DeleteOrigin = {
    self: 'n0',
    maxObjectSize: 1 << 20,
    tombstones,
    members: () => members.slice(),
    zones: () => 5,
    placement: (oid) => placement(oid),
    ringHash: () => 1n,
    writeRefusal: () => undefined,
    async put (peer, obj) {
      if (silent.has(peer)) throw new Error(`${peer} does not answer`)
      const s = stores.get(peer)!
      const cur = s.get(obj.oid)
      if (cur != null && cur.version > obj.version) return res({ status: Status.STALE, version: cur.version })
      s.set(obj.oid, { generation: obj.generation, version: obj.version, data: obj.data.slice() })
      return res({ status: Status.OK, oid: obj.oid, version: obj.version, generation: obj.generation })
    },
    async get (peer, oid, headerOnly) {
      if (silent.has(peer)) throw new Error(`${peer} does not answer`)
      const o = stores.get(peer)!.get(oid)
      if (o == null) return res({ status: Status.NOT_FOUND, oid })
      return res({ status: Status.OK, oid, generation: o.generation, version: o.version, data: headerOnly === true ? new Uint8Array(0) : o.data })
    },
    listInodes: async () => [],
    stableFloor: () => undefined,
    sleep: async () => {},
    now: () => 1n,
    observe: () => {},
    nextSeq: () => 1n,
    originate: async (recs) => recs
  }
  return { members, stores, silent, tombstones, io, vdis: new VdiService(io, io, 3) }
}

async function outcome (p: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await p }
  } catch (err) {
    return { error: err instanceof VdiError ? err.code : String(err) }
  }
}

describe('a VDI whose inode holders do not answer is unknown, not gone', () => {
  it('inodeOf: UNAVAILABLE while every holder is silent and the others say NOT_FOUND; undefined only when all answered', async () => {
    const c = cluster()
    expect(await c.vdis.inodeOf(VID)).toMatchObject({ name: 'w2', copies: 3 })
    for (const p of ['n2', 'n3', 'n4']) c.silent.add(p)
    expect(await outcome(c.vdis.inodeOf(VID))).toEqual({ error: 'UNAVAILABLE' })
    c.silent.clear()
    for (const p of ['n2', 'n3', 'n4']) c.stores.get(p)!.delete(INODE)
    expect(await outcome(c.vdis.inodeOf(VID))).toEqual({ value: undefined })
    // a delete of the VDI's generation: gone, whoever still holds the inode
    const d = cluster()
    d.tombstones.apply({ kind: 'vdi', origin: 'n1', seq: 1n, hlc: 5n, vid: VID, generation: 1 })
    expect(await outcome(d.vdis.inodeOf(VID))).toEqual({ value: undefined })
  })

  it('replica repair keeps the oid queued while the inode is out of reach, and pushes the newest version once it answers', async () => {
    const c = cluster()
    // a partial write: n0 and n1 hold version 9, n2 (cut off from the coordinator) still 5
    c.stores.get('n0')!.set(OID, { generation: 1, version: 9n, data: new Uint8Array([9]) })
    c.stores.get('n1')!.set(OID, { generation: 1, version: 9n, data: new Uint8Array([9]) })
    c.stores.get('n2')!.set(OID, { generation: 1, version: 5n, data: new Uint8Array([5]) })
    const repair = new ReplicaRepair(c.io, async (vid) => (await c.vdis.inodeOf(vid))?.copies, memoryLogger() as unknown as Logger)
    repair.enqueue(OID)
    for (const p of ['n2', 'n3', 'n4']) c.silent.add(p)
    await repair.round()
    expect(repair.pending).toBe(1)
    expect(repair.totals.dropped).toBe(0)
    c.silent.clear()
    await repair.round()
    expect(repair.pending).toBe(0)
    expect(repair.totals).toMatchObject({ repaired: 1, pushed: 1, dropped: 0 })
    expect(c.stores.get('n2')!.get(OID)?.version).toBe(9n)
  })

  it('recovery: an object whose VDI cannot be looked up fails (the pass is retried), the others still recover', async () => {
    const peers = ['a', 'b']
    const other = vidToDataOid(VID + 1, 0)
    const stores = new Map(peers.map((p) => [p, new Map<bigint, Stored>()]))
    for (const oid of [OID, other]) {
      stores.get('a')!.set(oid, { generation: 1, version: 5n, data: new Uint8Array([5]) })
      stores.get('b')!.set(oid, { generation: 1, version: 9n, data: new Uint8Array([9]) })
    }
    const io: RecoveryIO = {
      self: 'a',
      members: () => peers,
      placement: () => peers,
      ringHash: () => 1n,
      copiesOf: async (vid) => {
        if (vid === VID) throw new VdiError(`VDI ${vid} unknown: its inode holders did not answer`, 'UNAVAILABLE')
        return 2
      },
      reconcile: async () => undefined,
      list: async (peer) => {
        const e = [...stores.get(peer)!].sort((x, y) => (x[0] < y[0] ? -1 : 1))
        return { peer, oids: BigUint64Array.from(e.map((x) => x[0])), versions: BigUint64Array.from(e.map((x) => x[1].version)), generations: Uint32Array.from(e.map((x) => x[1].generation)) }
      },
      fetch: async (peer, oid) => {
        const o = stores.get(peer)!.get(oid)!
        return { header: { version: o.version, generation: o.generation }, data: o.data }
      },
      store: async (oid, h, data) => { stores.get('a')!.set(oid, { ...h, data }); return 'ok' },
      drop: async () => false,
      handOff: async () => 'gone',
      covered: () => false,
      tellDeleted: async () => 0,
      completed: async () => {}
    }
    const r = new Recovery(io, pino({ level: 'silent' }))
    expect(await r.run(7n, new AbortController().signal)).toBe(false)
    expect(r.progress).toMatchObject({ failed: 1, recovered: 1, peerFailures: 0, lastCompleteEpoch: '0' })
    expect(r.progress.errors).toEqual([expect.stringContaining('unknown: its inode holders did not answer')])
    expect(stores.get('a')!.get(other)?.version).toBe(9n)
    expect(stores.get('a')!.get(OID)?.version).toBe(5n)
  })
})
