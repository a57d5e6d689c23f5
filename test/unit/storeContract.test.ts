// One contract, two implementations: every case here runs against the file-backed store (a
// temp dir) and the in-memory one, so the simulator's MemDeleteLog and MemObjectStore answer
// as the node's DeleteLog and ObjectStore do — dedupe, seq bookkeeping, summary, compaction,
// durable appends, open/close; the write gate, create-only, last writer by version,
// removeIf/removeVid under the lock, settle, and what a restart finds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { DeleteLog } from '../../src/tombstones/deleteLog.js'
import { MemDeleteLog } from '../../src/tombstones/memDeleteLog.js'
import { DeleteLogError, type DeleteLogApi } from '../../src/tombstones/deleteLogApi.js'
import { compareRecords, recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { ObjectStore } from '../../src/store/objectStore.js'
import { MemObjectStore } from '../../src/store/memObjectStore.js'
import { AdmitError, ExistsError, StaleWriteError, type ObjectStoreApi } from '../../src/store/objectStoreApi.js'
import { OidError, vidToDataOid, vidToVdiOid } from '../../src/oid.js'

let root: string
let n = 0
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'bw-contract-')) })
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

interface Kit<T> {
  /** a new, unopened instance with nothing stored */
  fresh (): Promise<T>
  /** close `old`, and a new unopened instance over what it made durable (a restart) */
  restart (old: T): Promise<T>
}

const fileLogs = new WeakMap<DeleteLogApi, string>()
const logKits: Array<[string, Kit<DeleteLogApi>]> = [
  ['file', {
    fresh: async () => {
      const path = join(root, `log-${n++}`)
      const l = new DeleteLog(path, { fsync: false })
      fileLogs.set(l, path)
      return l
    },
    restart: async (old) => {
      await old.close()
      const path = fileLogs.get(old)!
      const l = new DeleteLog(path, { fsync: false })
      fileLogs.set(l, path)
      return l
    }
  }],
  ['memory', {
    fresh: async () => new MemDeleteLog(),
    restart: async (old) => {
      await old.close()
      return new MemDeleteLog((old as MemDeleteLog).durable())
    }
  }]
]

const fileStores = new WeakMap<ObjectStoreApi, string>()
const storeKits: Array<[string, Kit<ObjectStoreApi>]> = [
  ['file', {
    fresh: async () => {
      const dir = join(root, `obj-${n++}`)
      const s = new ObjectStore(dir, { fsync: false })
      fileStores.set(s, dir)
      return s
    },
    restart: async (old) => {
      await old.close()
      const dir = fileStores.get(old)!
      const s = new ObjectStore(dir, { fsync: false })
      fileStores.set(s, dir)
      return s
    }
  }],
  ['memory', {
    fresh: async () => new MemObjectStore(),
    restart: async (old) => {
      await old.close()
      return new MemObjectStore((old as MemObjectStore).disk)
    }
  }]
]

const vdi = (origin: string, seq: number, hlc: number, vid = 1): DeleteRec => ({ kind: 'vdi', origin, seq: BigInt(seq), hlc: BigInt(hlc), vid, generation: 0 })
const disc = (origin: string, seq: number, hlc: number, ix: number[]): DeleteRec =>
  ({ kind: 'objects', origin, seq: BigInt(seq), hlc: BigInt(hlc), vid: 2, generation: 1, indexes: Uint32Array.from(ix) })
const ids = (recs: DeleteRec[]): string[] => recs.map((r) => `${r.origin}#${r.seq}`)

describe.each(logKits)('delete log contract (%s)', (_name, kit) => {
  async function opened (): Promise<DeleteLogApi> {
    const l = await kit.fresh()
    expect(await l.open()).toEqual({ records: 0, tornBytes: 0, removedTemps: [] })
    return l
  }

  it('opens once; appends before open or after close reject with DeleteLogError', async () => {
    const l = await kit.fresh()
    await expect(l.append([vdi('a', 1, 10)])).rejects.toThrow(DeleteLogError)
    await l.open()
    await expect(l.open()).rejects.toThrow(DeleteLogError)
    await l.close()
    await expect(l.append([vdi('a', 1, 10)])).rejects.toThrow(DeleteLogError)
  })

  it('resolves with the records new to it: deduped by (origin, seq) within a call and across calls', async () => {
    const l = await opened()
    expect(ids(await l.append([vdi('a', 1, 10), vdi('a', 1, 99), vdi('b', 1, 11)]))).toEqual(['a#1', 'b#1'])
    expect(ids(await l.append([vdi('b', 1, 11), vdi('a', 2, 12)]))).toEqual(['a#2'])
    expect(await l.append([])).toEqual([])
    expect(l.size).toBe(3)
    expect(l.has('a', 1n)).toBe(true)
    expect(l.has('a', 3n)).toBe(false)
    expect(l.has('c', 1n)).toBe(false)
    expect(l.unavailable()).toBeUndefined()
    expect(l.pending).toBe(0)
    await l.close()
  })

  it('concurrent appends of one record: exactly the first call gets it', async () => {
    const l = await opened()
    const [x, y, z] = await Promise.all([l.append([vdi('a', 1, 10)]), l.append([vdi('a', 1, 10), vdi('a', 2, 11)]), l.append([vdi('a', 2, 11)])])
    expect([ids(x), ids(y), ids(z)]).toEqual([['a#1'], ['a#2'], []])
    expect(l.size).toBe(2)
    await l.close()
  })

  it('a malformed record rejects its own call only', async () => {
    const l = await opened()
    const bad = l.append([vdi('a', 1, 10), { ...vdi('a', 2, 11), vid: 0 }])
    const good = l.append([vdi('b', 1, 12)])
    await expect(bad).rejects.toThrow(/vid/)
    expect(ids(await good)).toEqual(['b#1'])
    expect(l.has('a', 1n)).toBe(false)
    await l.close()
  })

  it('keeps seq bookkeeping, summary and order', async () => {
    const l = await opened()
    expect(l.nextSeq('a')).toBe(1n)
    expect(l.summary()).toEqual({ count: 0, fingerprint: 0n, maxHlc: 0n })
    const recs = [vdi('a', 5, 30), vdi('a', 1, 50), disc('a', 2, 10, [1, 2]), vdi('b', 3, 20, 3)]
    await l.append(recs)
    expect(l.nextSeq('a')).toBe(6n)
    expect(l.nextSeq('b')).toBe(4n)
    expect(l.perOrigin()).toEqual(new Map([['a', { contiguous: 2n, max: 5n }], ['b', { contiguous: 0n, max: 3n }]]))
    await l.append([vdi('a', 4, 31), vdi('a', 3, 32)])
    expect(l.perOrigin().get('a')).toEqual({ contiguous: 5n, max: 5n })
    const all = l.records()
    expect(all).toHaveLength(6)
    expect([...all].sort(compareRecords)).toEqual(all)
    const fp = all.reduce((s, r) => (s + recordHash(r)) & ((1n << 64n) - 1n), 0n)
    expect(l.summary()).toEqual({ count: 6, fingerprint: fp, maxHlc: 50n })
    all.pop()
    expect(l.records()).toHaveLength(6) // a fresh array each time
    await l.close()
  })

  it('compaction drops what it selects; the seqs stay taken until a restart', async () => {
    const l = await opened()
    await l.append([vdi('a', 1, 10), vdi('a', 2, 20), vdi('a', 3, 30), vdi('b', 1, 15)])
    expect(await l.compact((r) => r.origin === 'a' && r.seq >= 2n)).toBe(2)
    expect(await l.compact(() => false)).toBe(0)
    expect(ids(l.records())).toEqual(['a#1', 'b#1'])
    expect(l.summary().count).toBe(2)
    expect(l.summary().fingerprint).toBe((recordHash(vdi('a', 1, 10)) + recordHash(vdi('b', 1, 15))) & ((1n << 64n) - 1n))
    expect(l.has('a', 3n)).toBe(true)
    expect(l.nextSeq('a')).toBe(4n)
    // a folded record coming back (gossip, a late session) is not new
    expect(await l.append([vdi('a', 3, 30)])).toEqual([])
    const again = await kit.restart(l)
    expect((await again.open()).records).toBe(2)
    expect(ids(again.records())).toEqual(['a#1', 'b#1'])
    expect(again.has('a', 3n)).toBe(false)
    expect(again.nextSeq('a')).toBe(2n)
    await again.close()
  })

  it('an append made before close is durable: a restart finds it', async () => {
    const l = await opened()
    const p = l.append([vdi('a', 1, 10), disc('b', 1, 11, [7])])
    await l.close()
    expect(ids(await p)).toEqual(['a#1', 'b#1'])
    const again = await kit.restart(l)
    expect((await again.open()).records).toBe(2)
    expect(again.records().find((r) => r.origin === 'b')).toEqual(disc('b', 1, 11, [7]))
    await again.close()
  })

  it('appends racing a compaction land whole, after it', async () => {
    const l = await opened()
    await l.append([vdi('a', 1, 10), vdi('a', 2, 20)])
    const c = l.compact((r) => r.seq === 1n)
    const p = l.append([vdi('a', 3, 30)])
    expect(await c).toBe(1)
    expect(ids(await p)).toEqual(['a#3'])
    expect(ids(l.records())).toEqual(['a#2', 'a#3'])
    await l.close()
  })
})

const data = (...b: number[]): Uint8Array => Uint8Array.from(b)

describe.each(storeKits)('object store contract (%s)', (_name, kit) => {
  async function opened (): Promise<ObjectStoreApi> {
    const s = await kit.fresh()
    await s.open()
    return s
  }
  const o1 = vidToDataOid(5, 1)
  const o2 = vidToDataOid(5, 2)
  const inode = vidToVdiOid(5)
  const other = vidToDataOid(6, 1)

  it('refuses operations before open and after close; opens once', async () => {
    const s = await kit.fresh()
    await expect(s.get(o1)).rejects.toThrow(/not open/)
    await s.open()
    await expect(s.open()).rejects.toThrow(/already opened/)
    await s.close()
    await expect(s.put(o1, data(1), { generation: 1, version: 1n })).rejects.toThrow(/closed/)
  })

  it('stores, reads and stats whole objects; an invalid oid is refused', async () => {
    const s = await opened()
    const meta = await s.put(o1, data(1, 2, 3), { generation: 2, version: 100n })
    expect(meta).toMatchObject({ oid: o1, generation: 2, version: 100n, length: 3 })
    expect(s.has(o1)).toBe(true)
    expect(s.cache.size).toBe(1)
    const got = await s.get(o1)
    expect(got?.meta).toEqual(meta)
    expect(Array.from(got!.data)).toEqual([1, 2, 3])
    expect(await s.stat(o1)).toEqual(meta)
    expect(await s.get(o2)).toBeUndefined()
    expect(await s.stat(o2)).toBeUndefined()
    await expect(s.put(1n << 60n, data(1), { generation: 1, version: 1n })).rejects.toThrow(OidError)
    expect(Array.from((await s.scanDisk()).toBigUint64Array())).toEqual([o1])
    await s.close()
  })

  it('the last writer by version wins; a tie by content, whatever the order; a bogus stored copy never outranks', async () => {
    const s = await opened()
    await s.put(o1, data(1), { generation: 1, version: 100n })
    await expect(s.put(o1, data(2), { generation: 1, version: 99n })).rejects.toThrow(StaleWriteError)
    expect(Array.from((await s.get(o1))!.data)).toEqual([1])
    // the same version and bytes again (a retry, a repair): taken
    await s.put(o1, data(1), { generation: 1, version: 100n })
    // two writers stamped one version with other bytes: both orders keep the same one, and the
    // other is told stale (two replicas that saw them in opposite orders still agree)
    const [lo, hi] = [data(3), data(5)].sort((a, b) => crc32(a) - crc32(b))
    const o3 = o2 + 1n
    await s.put(o2, lo, { generation: 1, version: 100n })
    await s.put(o2, hi, { generation: 1, version: 100n })
    await expect(s.put(o2, lo, { generation: 1, version: 100n })).rejects.toThrow(StaleWriteError)
    expect(Array.from((await s.get(o2))!.data)).toEqual(Array.from(hi))
    await s.put(o3, hi, { generation: 1, version: 100n })
    await expect(s.put(o3, lo, { generation: 1, version: 100n })).rejects.toThrow(StaleWriteError)
    expect(Array.from((await s.get(o3))!.data)).toEqual(Array.from(hi))
    await s.put(o1, data(4), { generation: 1, version: 99n, bogus: (cur) => cur.version === 100n })
    expect((await s.stat(o1))?.version).toBe(99n)
    await s.close()
  })

  it('create-only: refused over this generation or a newer one, an older leftover is overwritten; of two racing, exactly one lands', async () => {
    const s = await opened()
    await s.put(inode, data(1), { generation: 2, version: 10n })
    await expect(s.put(inode, data(2), { generation: 2, version: 20n, createOnly: true })).rejects.toThrow(ExistsError)
    await expect(s.put(inode, data(2), { generation: 1, version: 20n, createOnly: true })).rejects.toThrow(ExistsError)
    await s.put(inode, data(3), { generation: 3, version: 30n, createOnly: true })
    expect((await s.stat(inode))?.generation).toBe(3)
    const race = await Promise.allSettled([
      s.put(o2, data(7), { generation: 1, version: 1n, createOnly: true }),
      s.put(o2, data(8), { generation: 1, version: 2n, createOnly: true })
    ])
    expect(race.map((r) => r.status)).toEqual(['fulfilled', 'rejected'])
    expect(Array.from((await s.get(o2))!.data)).toEqual([7])
    await s.close()
  })

  it('the write gate is asked before and again just before the write lands; a refusal leaves the old copy', async () => {
    const s = await opened()
    await s.put(o1, data(1), { generation: 1, version: 1n })
    await expect(s.put(o1, data(2), { generation: 1, version: 2n, admit: () => 'deleted' })).rejects.toThrow(AdmitError)
    const asked: number[] = []
    // a delete that lands while the write is in flight: passes the first check, refused at the second
    await expect(s.put(o1, data(3), { generation: 1, version: 3n, admit: () => { asked.push(1); return asked.length === 2 ? 'deleted meanwhile' : undefined } }))
      .rejects.toThrow(/deleted meanwhile/)
    expect(asked).toHaveLength(2)
    expect((await s.get(o1))?.meta.version).toBe(1n)
    await expect(s.put(o2, data(2), { generation: 1, version: 2n, admit: () => 'no' })).rejects.toThrow(AdmitError)
    expect(s.has(o2)).toBe(false)
    expect(s.cache.size).toBe(1)
    await s.close()
  })

  it('removes: remove, removeMany, removeIf judged on the stored header, removeVid keeping what `keep` accepts', async () => {
    const s = await opened()
    for (const [oid, gen] of [[o1, 1], [o2, 2], [inode, 2], [other, 1]] as Array<[bigint, number]>) await s.put(oid, data(gen), { generation: gen, version: 10n })
    expect(await s.removeIf(o1, (m) => m.version > 10n)).toBe(false)
    expect(s.has(o1)).toBe(true)
    expect(await s.removeIf(vidToDataOid(5, 9), () => true)).toBe(false)
    expect(await s.removeVid(5, (m) => m.generation > 1)).toBe(1)
    expect([s.has(o1), s.has(o2), s.has(inode), s.has(other)]).toEqual([false, true, true, true])
    await expect(s.removeVid(-1)).rejects.toThrow(OidError)
    expect(await s.removeMany([o2, o1, other])).toBe(2)
    expect(await s.remove(inode)).toBe(true)
    expect(await s.remove(inode)).toBe(false)
    expect(s.cache.size).toBe(0)
    expect((await s.scanDisk()).size).toBe(0)
    await s.close()
  })

  it('settle: a put in flight when it is called has landed once it resolves', async () => {
    const s = await opened()
    const p = s.put(o1, data(9), { generation: 1, version: 1n })
    await s.settle()
    expect(s.has(o1)).toBe(true)
    await p
    await s.close()
  })

  it('knows the highest generation stored per vid without a read: from puts, then headers read after a restart; forgets a vid whose objects all left', async () => {
    const s = await opened()
    expect(s.generationOf(5)).toBeUndefined()
    await s.put(o1, data(1), { generation: 3, version: 1n })
    await s.put(o2, data(2), { generation: 2, version: 2n })
    await s.put(other, data(3), { generation: 7, version: 3n })
    expect(s.generationOf(5)).toBe(3)
    expect(s.generationOf(6)).toBe(7)
    await s.remove(o1)
    expect(s.generationOf(5)).toBe(3) // o2 still holds the vid: what it saw stays an upper bound
    await s.remove(o2)
    expect(s.generationOf(5)).toBeUndefined()
    const again = await kit.restart(s)
    await again.open()
    expect(again.generationOf(6)).toBeUndefined() // nothing read yet: the caller reads a header
    await again.stat(other)
    expect(again.generationOf(6)).toBe(7)
    await again.removeMany([other])
    expect(again.generationOf(6)).toBeUndefined()
    await again.close()
  })

  it('headersOf: the version and generation of each oid as stored, through overwrites, every kind of removal and a restart; 0 for one not stored', async () => {
    const s = await opened()
    const ask = [o1, o2, inode, other, vidToDataOid(5, 9)]
    await s.put(o1, data(1), { generation: 1, version: 10n })
    await s.put(o2, data(2), { generation: 2, version: 20n })
    await s.put(inode, data(3), { generation: 2, version: 30n })
    await s.put(other, data(4), { generation: 7, version: 40n })
    expect(await s.headersOf(ask)).toEqual({ versions: [10n, 20n, 30n, 40n, 0n], generations: [1, 2, 2, 7, 0] })
    await s.put(o1, data(5), { generation: 3, version: 50n })
    await expect(s.put(o2, data(6), { generation: 2, version: 5n })).rejects.toThrow(StaleWriteError)
    await expect(s.put(inode, data(7), { generation: 2, version: 60n, admit: () => 'deleted' })).rejects.toThrow(AdmitError)
    expect(await s.headersOf(ask)).toEqual({ versions: [50n, 20n, 30n, 40n, 0n], generations: [3, 2, 2, 7, 0] })
    expect(await s.removeIf(o1, () => true)).toBe(true)
    expect(await s.removeVid(6)).toBe(1)
    expect(await s.headersOf(ask)).toEqual({ versions: [0n, 20n, 30n, 0n, 0n], generations: [0, 2, 2, 0, 0] })
    await s.removeMany([o2])
    await s.put(o1, data(8), { generation: 4, version: 70n })
    const again = await kit.restart(s)
    await again.open()
    expect(await again.headersOf(ask)).toEqual({ versions: [70n, 0n, 30n, 0n, 0n], generations: [4, 0, 2, 0, 0] })
    await again.remove(inode)
    expect(await again.headersOf([inode, o1])).toEqual({ versions: [0n, 70n], generations: [0, 4] })
    await expect(again.headersOf([1n << 60n])).rejects.toThrow(OidError)
    await again.close()
  })

  it('headersOf racing puts never answers older than a put that resolved', async () => {
    let s = await opened()
    const oids = Array.from({ length: 64 }, (_, i) => vidToDataOid(5, i))
    for (let round = 0; round < 4; round++) {
      const old = BigInt(10 * round + 1)
      const newer = old + 5n
      for (const oid of oids) await s.put(oid, data(round), { generation: 1, version: old })
      // a restart leaves nothing in memory: headersOf reads the disk while the newer puts land
      s = await kit.restart(s)
      await s.open()
      const [early] = await Promise.all([s.headersOf(oids), ...oids.map(async (oid) => await s.put(oid, data(round + 100), { generation: 1, version: newer }))])
      for (const v of early.versions) expect([old, newer]).toContain(v)
      expect((await s.headersOf(oids)).versions).toEqual(oids.map(() => newer))
    }
    await s.close()
  })

  it('a restart finds exactly the puts that resolved and not the removed objects', async () => {
    const s = await opened()
    await s.put(o1, data(1), { generation: 1, version: 1n })
    await s.put(o2, data(2), { generation: 1, version: 2n })
    await s.remove(o1)
    const again = await kit.restart(s)
    await again.open()
    expect(Array.from(again.cache.toBigUint64Array())).toEqual([o2])
    expect(Array.from((await again.get(o2))!.data)).toEqual([2])
    expect(again.strays).toBe(0)
    await again.close()
  })
})
