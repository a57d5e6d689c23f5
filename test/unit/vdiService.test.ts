// VdiService's namespace (issue 10 part 1, issue 15 item 5) over a fake cluster: probe chains,
// hash collisions, several deleted generations of one name, re-create after a fold, MAX_PROBES,
// members that cannot answer, and creates racing for one vid through different nodes. The fake
// holds each member's objects in memory; a "node" is a VdiService over it (a fresh one has no
// cached inodes, like a node restarted after the fold). Tombstones are shared by all nodes.
import { describe, expect, it } from 'vitest'
import { Status, type ObjResponse } from '../../src/wire/bellwether_pb.js'
import { create } from '@bufbuild/protobuf'
import { ObjResponseSchema } from '../../src/wire/bellwether_pb.js'
import { isVdiObj, nextVid, oidToVid, sdHashVdi, vidToDataOid, vidToVdiOid } from '../../src/oid.js'
import { TombstoneIndex } from '../../src/tombstones/tombstoneIndex.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import type { ClusterIO, DeleteOrigin } from '../../src/vdi/clusterIo.js'
import { VdiError, encodeInode, type Inode } from '../../src/vdi/inode.js'
import { MAX_PROBES, classifySlot, firstVid, walkChain, type Slot } from '../../src/vdi/namespace.js'
import { VdiService } from '../../src/vdi/vdiService.js'

const OBJ = 1024
const MAX_OBJECT = 1 << 20

interface Stored { generation: number, version: bigint, data: Uint8Array }

const res = (fields: Partial<Omit<ObjResponse, '$typeName'>>): ObjResponse => create(ObjResponseSchema, fields)
const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

/** the members' object stores, the shared tombstones, and which members fail every request */
class FakeCluster {
  readonly members = ['n0', 'n1', 'n2', 'n3', 'n4']
  readonly stores = new Map(this.members.map((m) => [m, new Map<bigint, Stored>()]))
  readonly tombstones = new TombstoneIndex()
  readonly folded = new Map<number, number>()
  /** members that are in the view but answer nothing (their requests reject) */
  readonly silent = new Set<string>()
  /** oids no member can read (every get of one rejects) */
  readonly dark = new Set<bigint>()
  /** every create-only put: who got it, for which oid, and the answer */
  readonly createOnly: Array<{ peer: string, oid: bigint, status: Status }> = []
  /** vids whose inode some node asked for, in order */
  readonly inodeGets: number[] = []
  /** why the writer may not write now (its view lacks a majority), or undefined */
  refusal: string | undefined = undefined
  /** members whose view differs from the writer's: they refuse puts (VIEW_MISMATCH) */
  readonly otherView = new Set<string>()
  /** each wait a writer made for views to agree; the hook may make them agree */
  sleeps = 0
  onSleep: () => void = () => {}
  private clock = 1n
  private seq = 1n

  node (self = 'n0'): VdiService { const io = this.io(self); return new VdiService(io, io, 3) }

  now (): bigint { return this.clock++ }

  placement (oid: bigint, copies: number): string[] {
    const start = oidToVid(oid) % this.members.length
    return Array.from({ length: Math.min(copies, this.members.length) }, (_, i) => this.members[(start + i) % this.members.length])
  }

  /** an inode written to its placement, as a create long ago would have */
  seed (vid: number, name: string, generation = 1): void {
    const inode: Inode = { name, vid, size: OBJ * 4, copies: 3, objectSize: OBJ, generation, created: this.now() }
    const oid = vidToVdiOid(vid)
    for (const p of this.placement(oid, 3)) this.stores.get(p)!.set(oid, { generation, version: this.now(), data: encodeInode(inode) })
  }

  /** a whole-VDI delete every node has applied (its objects purged), not yet folded */
  delete (vid: number, generation: number): void {
    this.apply([{ kind: 'vdi', origin: 'n0', seq: this.seq++, hlc: this.now(), vid, generation }])
  }

  /** the vid's delete becomes stable: folded into every node's floor */
  fold (vid: number): void {
    const g = this.tombstones.deletedGeneration(vid)
    if (g === undefined) throw new Error(`no delete of vid ${vid} to fold`)
    this.folded.set(vid, g)
  }

  holders (oid: bigint): string[] { return this.members.filter((m) => this.stores.get(m)!.has(oid)) }

  apply (recs: DeleteRec[]): DeleteRec[] {
    for (const r of recs) this.tombstones.apply(r)
    for (const store of this.stores.values()) {
      for (const [oid, s] of store) if (this.tombstones.covers(oid, s.generation, s.version) != null) store.delete(oid)
    }
    return recs
  }

  io (self: string): ClusterIO & DeleteOrigin {
    const c = this
    return {
      self,
      maxObjectSize: MAX_OBJECT,
      tombstones: c.tombstones,
      members: () => c.members.slice(),
      zones: () => 1,
      placement: (oid, copies) => c.placement(oid, copies),
      ringHash: () => 1n,
      writeRefusal: () => c.refusal,
      async put (peer, obj) {
        await tick()
        if (c.silent.has(peer)) throw new Error(`${peer} does not answer`)
        const store = c.stores.get(peer)!
        const answer = ((): ObjResponse => {
          if (c.otherView.has(peer)) return res({ status: Status.VIEW_MISMATCH, error: 'placement views differ' })
          if (c.tombstones.covers(obj.oid, obj.generation, obj.version) != null) return res({ status: Status.DELETED, error: 'deleted' })
          const cur = store.get(obj.oid)
          // what ObjectStore's createOnly does (its own unit test pins that)
          if (obj.createOnly === true && cur !== undefined && cur.generation >= obj.generation) return res({ status: Status.EXISTS, generation: cur.generation, version: cur.version })
          if (cur !== undefined && cur.version > obj.version) return res({ status: Status.STALE, version: cur.version })
          store.set(obj.oid, { generation: obj.generation, version: obj.version, data: obj.data.slice() })
          return res({ status: Status.OK, oid: obj.oid, generation: obj.generation, version: obj.version })
        })()
        if (obj.createOnly === true) c.createOnly.push({ peer, oid: obj.oid, status: answer.status })
        return answer
      },
      async get (peer, oid, headerOnly) {
        if (isVdiObj(oid) && peer === c.members[0]) c.inodeGets.push(oidToVid(oid))
        await tick()
        if (c.silent.has(peer) || c.dark.has(oid)) throw new Error(`${peer} does not answer`)
        const s = c.stores.get(peer)!.get(oid)
        if (s === undefined) return res({ status: Status.NOT_FOUND, oid })
        if (c.tombstones.covers(oid, s.generation, s.version) != null) return res({ status: Status.DELETED, oid })
        return res({ status: Status.OK, oid, generation: s.generation, version: s.version, length: s.data.byteLength, data: headerOnly === true ? new Uint8Array(0) : s.data })
      },
      async listInodes (peer) {
        await tick()
        return [...c.stores.get(peer)!.keys()].filter(isVdiObj)
      },
      stableFloor: (vid) => c.folded.get(vid),
      sleep: async () => { c.sleeps++; c.onSleep() },
      now: () => c.now(),
      observe: () => {},
      nextSeq: () => c.seq++,
      originate: async (recs) => c.apply(recs)
    }
  }
}

async function code (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (err instanceof VdiError) return err.code
    throw err
  }
}

const req = (name: string): { name: string, size: number, objectSize: number } => ({ name, size: OBJ * 4, objectSize: OBJ })
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

/** two names with the same sd_hash_vdi (a birthday search: a few thousand names) */
function collidingPair (prefix: string): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const name = `${prefix}${i}`
    const h = sdHashVdi(name)
    const other = seen.get(h)
    if (other !== undefined && h !== 0 && h < 0xfff000) return [other, name]
    seen.set(h, name)
  }
}

/** the vid `k` steps along `name`'s chain */
function along (name: string, k: number): number {
  let vid = firstVid(name)
  for (let i = 0; i < k; i++) vid = nextVid(vid)
  return vid
}

describe('walkChain over described chains', () => {
  const chain = (name: string, slots: Array<Slot<string>>) => async (vid: number): Promise<Slot<string>> => {
    let k = 0
    for (let v = firstVid(name); v !== vid; v = nextVid(v)) k++
    return slots[k] ?? { kind: 'unused' }
  }

  it('classifies a vid: live wins; no tombstone is unused; a folded delete is reusable with the next generation; an unfolded one is pending', () => {
    expect(classifySlot({ name: 'a', inode: 'i' }, 3, 3)).toEqual({ kind: 'live', name: 'a', inode: 'i' })
    expect(classifySlot(undefined, undefined, undefined)).toEqual({ kind: 'unused' })
    expect(classifySlot(undefined, 2, 2)).toEqual({ kind: 'reusable', generation: 3 })
    expect(classifySlot(undefined, 2, undefined)).toEqual({ kind: 'pending' })
    // a newer delete than the folded one is not stable yet
    expect(classifySlot(undefined, 3, 2)).toEqual({ kind: 'pending' })
  })

  it('a lookup walks past reusable and pending vids and other names to the name; a create then has nowhere to go', async () => {
    const w = await walkChain('x', chain('x', [{ kind: 'reusable', generation: 2 }, { kind: 'live', name: 'y', inode: 'Y' }, { kind: 'pending' }, { kind: 'reusable', generation: 5 }, { kind: 'live', name: 'x', inode: 'X' }]))
    expect(w).toEqual({ found: { vid: along('x', 4), inode: 'X' }, probed: 5 })
  })

  it('without the name, a create goes to the first reusable vid, and only after the walk reached an unused one', async () => {
    const w = await walkChain('x', chain('x', [{ kind: 'pending' }, { kind: 'reusable', generation: 4 }, { kind: 'reusable', generation: 2 }, { kind: 'live', name: 'y', inode: 'Y' }]))
    expect(w).toEqual({ free: { vid: along('x', 1), generation: 4 }, probed: 5 })
    expect(await walkChain('x', chain('x', [{ kind: 'live', name: 'y', inode: 'Y' }]))).toEqual({ free: { vid: along('x', 1), generation: 1 }, probed: 2 })
  })

  it('stops after MAX_PROBES vids: a reusable one is still offered to a create, and nothing is found', async () => {
    let asked = 0
    const full = await walkChain('x', async () => { asked++; return { kind: 'live', name: 'y', inode: 'Y' } })
    expect(full).toEqual({ probed: MAX_PROBES })
    expect(asked).toBe(MAX_PROBES)
    const slots: Array<Slot<string>> = Array.from({ length: MAX_PROBES }, (_, i) => i === 700 ? { kind: 'reusable', generation: 9 } : { kind: 'pending' })
    expect(await walkChain('x', chain('x', slots))).toEqual({ free: { vid: along('x', 700), generation: 9 }, probed: MAX_PROBES })
  })

  it('an inspect that fails ends the walk with its error (an unknown vid proves nothing)', async () => {
    await expect(walkChain('x', async (vid) => {
      if (vid === along('x', 1)) throw new VdiError('nobody answered', 'UNAVAILABLE')
      return { kind: 'reusable', generation: 2 }
    })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })
})

describe('VdiService namespace over a fake cluster', () => {
  it('a VDI beyond another name\'s live VDI is found by a node that never cached it', async () => {
    const c = new FakeCluster()
    c.seed(firstVid('disk'), 'other')
    const made = await c.node('n0').create(req('disk'))
    expect(made.vid).toBe(along('disk', 1))
    expect((await c.node('n3').lookup('disk')).vid).toBe(made.vid)
    expect(await code(c.node('n2').lookup('nothing-here'))).toBe('NOT_FOUND')
  })

  it('two names whose hashes collide take consecutive vids and both stay reachable by name', async () => {
    const c = new FakeCluster()
    const [a, b] = collidingPair('col')
    const va = (await c.node('n0').create(req(a))).vid
    const vb = (await c.node('n1').create(req(b))).vid
    expect([va, vb]).toEqual([firstVid(a), nextVid(firstVid(a))])
    expect((await c.node('n2').lookup(a)).vid).toBe(va)
    expect((await c.node('n3').lookup(b)).vid).toBe(vb)
  })

  it('issue 10: a VDI re-created while its old delete was pending stays reachable after that delete folds; write/read/create/delete behave', async () => {
    const c = new FakeCluster()
    const first = await c.node('n0').create(req('phoenix'))
    await c.node('n1').delete('phoenix')
    // the delete is not stable yet: the old vid is skipped, the next one taken
    const again = await c.node('n2').create(req('phoenix'))
    expect(again.vid).toBe(nextVid(first.vid))
    expect(again.generation).toBe(1)
    await c.node('n2').write('phoenix', 0, bytes(OBJ * 4, 7))
    c.fold(first.vid)
    // nodes that never cached the new inode (as after a restart)
    for (const m of c.members) {
      const n = c.node(m)
      expect((await n.lookup('phoenix')).vid, `lookup through ${m}`).toBe(again.vid)
      expect((await n.read('phoenix', 0, OBJ * 4)).every((x) => x === 7)).toBe(true)
    }
    await c.node('n3').write('phoenix', OBJ, bytes(OBJ, 9))
    expect((await c.node('n4').read('phoenix', OBJ, OBJ)).every((x) => x === 9)).toBe(true)
    // no second VDI of that name on the reusable vid
    expect(await code(c.node('n4').create(req('phoenix')))).toBe('EXISTS')
    expect((await c.node('n0').list()).map((i) => [i.name, i.vid])).toEqual([['phoenix', again.vid]])
    const gone = await c.node('n4').delete('phoenix')
    expect(gone.inode.vid).toBe(again.vid)
    expect(await code(c.node('n1').lookup('phoenix'))).toBe('NOT_FOUND')
  })

  it('a chain of several deleted generations (folded and not) still leads to the live VDI; the next create takes the first reusable vid', async () => {
    const c = new FakeCluster()
    const vids: number[] = []
    for (let g = 0; g < 4; g++) {
      const made = await c.node(`n${g}`).create(req('many'))
      vids.push(made.vid)
      if (g < 3) await c.node(`n${g + 1}`).delete('many')
    }
    expect(vids).toEqual([0, 1, 2, 3].map((k) => along('many', k)))
    await c.node('n3').write('many', 0, bytes(OBJ, 5))
    // the second delete folds first; the first and third are still pending
    c.fold(vids[1])
    expect((await c.node('n4').lookup('many')).vid).toBe(vids[3])
    c.fold(vids[0])
    c.fold(vids[2])
    for (const m of c.members) expect((await c.node(m).lookup('many')).vid, `lookup through ${m}`).toBe(vids[3])
    expect((await c.node('n1').read('many', 0, OBJ)).every((x) => x === 5)).toBe(true)
    expect(await code(c.node('n2').create(req('many')))).toBe('EXISTS')
    // once the live one is gone too, a create reuses the chain's first vid, next generation
    await c.node('n0').delete('many')
    const reborn = await c.node('n1').create(req('many'))
    expect([reborn.vid, reborn.generation]).toEqual([vids[0], 2])
    expect((await c.node('n4').lookup('many')).vid).toBe(vids[0])
  })

  it('re-create after a fold: the vid is reused with the next generation, and the old tombstone does not cover it', async () => {
    const c = new FakeCluster()
    const old = await c.node('n0').create(req('again'))
    await c.node('n0').write('again', 0, bytes(OBJ * 4, 1))
    await c.node('n1').delete('again')
    // not folded: never reused
    const pendingVid = (await c.node('n2').create(req('again'))).vid
    expect(pendingVid).not.toBe(old.vid)
    await c.node('n2').delete('again')
    c.fold(old.vid)
    c.fold(pendingVid)
    const made = await c.node('n3').create(req('again'))
    expect([made.vid, made.generation]).toEqual([old.vid, 2])
    // the new generation's objects are never the old one's: it reads as zeros until written
    expect((await c.node('n4').read('again', 0, OBJ * 4)).every((x) => x === 0)).toBe(true)
    await c.node('n3').write('again', 0, bytes(OBJ * 4, 2))
    expect((await c.node('n0').read('again', 0, OBJ * 4)).every((x) => x === 2)).toBe(true)
  })

  it('MAX_PROBES: a chain full of other VDIs refuses a create (UNAVAILABLE) and a lookup ends NOT_FOUND after exactly MAX_PROBES vids', async () => {
    const c = new FakeCluster()
    for (let k = 0; k < MAX_PROBES; k++) c.seed(along('crowd', k), `other${k}`)
    expect(await code(c.node('n0').create(req('crowd')))).toBe('UNAVAILABLE')
    c.inodeGets.length = 0
    expect(await code(c.node('n1').lookup('crowd'))).toBe('NOT_FOUND')
    expect(c.inodeGets).toEqual(Array.from({ length: MAX_PROBES }, (_, k) => along('crowd', k)))
    // a deleted-and-folded vid deep in the chain is where the next create goes
    c.delete(along('crowd', 900), 1)
    c.fold(along('crowd', 900))
    const made = await c.node('n3').create(req('crowd'))
    expect([made.vid, made.generation]).toEqual([along('crowd', 900), 2])
    expect((await c.node('n4').lookup('crowd')).vid).toBe(made.vid)
  })

  it('UNAVAILABLE: no member answers at all: lookup and create fail UNAVAILABLE', async () => {
    const c = new FakeCluster()
    await c.node('n0').create(req('mute'))
    for (const m of c.members) c.silent.add(m)
    expect(await code(c.node('n1').lookup('mute'))).toBe('UNAVAILABLE')
    expect(await code(c.node('n1').create(req('mute')))).toBe('UNAVAILABLE')
  })

  it('UNAVAILABLE: a vid nobody can answer for, past a reusable one, fails the lookup and the create instead of the walk stopping short', async () => {
    const c = new FakeCluster()
    const old = await c.node('n0').create(req('dark'))
    await c.node('n0').delete('dark')
    c.fold(old.vid)
    c.dark.add(vidToVdiOid(nextVid(old.vid)))
    expect(await code(c.node('n1').lookup('dark'))).toBe('UNAVAILABLE')
    expect(await code(c.node('n1').create(req('dark')))).toBe('UNAVAILABLE')
    expect(c.holders(vidToVdiOid(old.vid))).toEqual([])
    c.dark.clear()
    const made = await c.node('n1').create(req('dark'))
    expect([made.vid, made.generation]).toEqual([old.vid, 2])
  })

  it('the arbiter of a new inode cannot answer: the create fails UNAVAILABLE and no other replica got the inode', async () => {
    const c = new FakeCluster()
    const oid = vidToVdiOid(firstVid('lonely'))
    const [arbiter] = c.placement(oid, 3)
    // in the view, but its requests fail: the walk still sees the vid as unused through the others
    c.silent.add(arbiter)
    expect(await code(c.node('n0').create(req('lonely')))).toBe('UNAVAILABLE')
    expect(c.holders(oid)).toEqual([])
    c.silent.clear()
    expect((await c.node('n0').create(req('lonely'))).vid).toBe(firstVid('lonely'))
  })

  it('a replica with another view refuses a write: the writer waits, places it again once views agree, and every replica ends on one version', async () => {
    const c = new FakeCluster()
    const svc = c.node('n0')
    const { vid } = await svc.create(req('moving'))
    const oid = vidToDataOid(vid, 1)
    const [, second] = c.placement(oid, 3)
    c.otherView.add(second)
    c.onSleep = () => { if (c.sleeps === 2) c.otherView.clear() }
    const partial: bigint[] = []
    svc.onPartialWrite = (o) => { partial.push(o) }
    await svc.write('moving', OBJ, new Uint8Array(OBJ).fill(4))
    expect(c.sleeps).toBe(2)
    const copies = c.placement(oid, 3).map((p) => c.stores.get(p)!.get(oid))
    expect(copies.every((s) => s !== undefined && s.data[0] === 4)).toBe(true)
    expect(new Set(copies.map((s) => s!.version)).size).toBe(1)
    // the first attempt left copies on the other two: repair knows, in case the write had died there
    expect(partial).toContain(oid)
    // views that never agree: the write fails UNAVAILABLE (not acknowledged) after a bounded wait
    c.otherView.add(second)
    c.sleeps = 0
    c.onSleep = () => {}
    expect(await code(svc.write('moving', OBJ, new Uint8Array(OBJ).fill(5)))).toBe('UNAVAILABLE')
    expect(c.sleeps).toBe(16)
  })

  it('a node whose view lacks a majority writes and creates nothing: UNAVAILABLE with the reason, no replica touched', async () => {
    const c = new FakeCluster()
    const svc = c.node('n0')
    const { vid } = await svc.create(req('minor'))
    const oid = vidToDataOid(vid, 0)
    c.refusal = 'this node sees 2 of the 5 members it knows'
    await expect(svc.write('minor', 0, new Uint8Array(OBJ).fill(1))).rejects.toThrow(/refused: this node sees 2 of the 5/)
    expect(c.holders(oid)).toEqual([])
    expect(await code(svc.create(req('other')))).toBe('UNAVAILABLE')
    expect(await code(svc.discard('minor', Uint32Array.of(0)))).toBe('UNAVAILABLE')
    expect(c.holders(vidToVdiOid(firstVid('other')))).toEqual([])
    c.refusal = undefined
    await svc.write('minor', 0, new Uint8Array(OBJ).fill(1))
    expect(c.holders(oid).length).toBe(3)
    // a whole-VDI delete covers every version of its generation: no quorum needed
    c.refusal = 'this node sees 2 of the 5 members it knows'
    expect(await code(svc.delete('minor'))).toBe('OK')
    expect(c.holders(oid)).toEqual([])
  })

  it('creates of one name racing through every node: exactly one wins, the others get EXISTS, all contending for one inode', async () => {
    const c = new FakeCluster()
    const results = await Promise.all(c.members.map(async (m) => await code(c.node(m).create(req('race')))))
    expect(results.filter((r) => r === 'OK')).toHaveLength(1)
    expect(results.filter((r) => r === 'EXISTS')).toHaveLength(c.members.length - 1)
    // every create probed to the same vid and asked the same node, its first placement target
    const oid = vidToVdiOid(firstVid('race'))
    expect(new Set(c.createOnly.map((p) => p.oid))).toEqual(new Set([oid]))
    expect(new Set(c.createOnly.map((p) => p.peer))).toEqual(new Set([c.placement(oid, 3)[0]]))
    expect(c.createOnly.filter((p) => p.status === Status.OK)).toHaveLength(1)
    expect((await c.node('n0').list()).map((i) => i.name)).toEqual(['race'])
  })

  it('creates of two colliding names racing for one vid: both win, on different vids, and each stays reachable by its name', async () => {
    const c = new FakeCluster()
    const [a, b] = collidingPair('duel')
    const [ia, ib] = await Promise.all([c.node('n0').create(req(a)), c.node('n3').create(req(b))])
    expect(new Set([ia.vid, ib.vid])).toEqual(new Set([firstVid(a), nextVid(firstVid(a))]))
    expect((await c.node('n1').lookup(a)).vid).toBe(ia.vid)
    expect((await c.node('n4').lookup(b)).vid).toBe(ib.vid)
  })
})

describe('VdiService inode cache', () => {
  it('holds at most its bound, dropping the oldest; a dropped name is probed again and still found', async () => {
    const c = new FakeCluster()
    const names = Array.from({ length: 20 }, (_, i) => `cache-${i}`)
    for (const name of names) c.seed(firstVid(name), name)
    const io = c.io('n0')
    const node = new VdiService(io, io, 3, 8)
    for (const name of names) expect((await node.lookup(name)).name).toBe(name)
    expect(node.cachedInodes).toBe(8)
    // the newest 8 answer from the cache: no inode read at all
    const reads = c.inodeGets.length
    for (const name of names.slice(-8)) expect((await node.lookup(name)).vid).toBe(firstVid(name))
    expect(c.inodeGets.length).toBe(reads)
    // the oldest was dropped: found again by a probe walk, and it is the newest entry now
    expect((await node.lookup(names[0])).vid).toBe(firstVid(names[0]))
    expect(c.inodeGets.length).toBeGreaterThan(reads)
    expect(node.cachedInodes).toBe(8)
  })
})
