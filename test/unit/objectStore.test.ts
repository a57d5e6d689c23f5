// Tests for the on-disk object format and the object store: round trips, atomic
// overwrite, the admit gate, open() recovery, corruption detection, and the central
// invariant that the object list cache always equals the set of files on disk.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OidError, formatOid, vidToAttrOid, vidToDataOid, vidToVdiOid, vidToVmstateOid } from '../../src/oid.js'
import type { OidSet } from '../../src/idset.js'
import {
  CorruptObjectError, HEADER_SIZE, decodeHeader, encodeObject, verifyData
} from '../../src/store/objectFile.js'
import { AdmitError, ObjectStore, StaleWriteError } from '../../src/store/objectStore.js'
import type { ObjectMeta } from '../../src/store/objectStore.js'
import { KeyedMutex } from '../../src/store/keyedMutex.js'

const dataOid = vidToDataOid
const inodeOid = vidToVdiOid
const vmstateOid = vidToVmstateOid
const attrOid = vidToAttrOid

const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const sorted = (xs: Iterable<bigint>): bigint[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

let root: string
let n = 0
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'bw-objstore-')) })
afterAll(async () => { await rm(root, { recursive: true, force: true }) })
const freshDir = async (): Promise<string> => await mkdtemp(join(root, `s${n++}-`))

async function openStore (dir?: string, fsync = true): Promise<ObjectStore> {
  const store = new ObjectStore(dir ?? await freshDir(), { fsync })
  await store.open()
  return store
}

async function tempFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(name => name.startsWith('.tmp-'))
}

/** The invariant: cache == fresh directory scan (and, when given, == the model's oids). */
async function expectConsistent (store: ObjectStore, model?: Iterable<bigint>): Promise<void> {
  const disk: OidSet = await store.scanDisk()
  const cached = [...store.cache]
  expect(cached).toEqual(sorted(cached)) // iteration is ascending
  expect(cached).toEqual([...disk])
  expect(store.cache.size).toBe(disk.size)
  if (model !== undefined) expect(cached).toEqual(sorted(model))
}

describe('objectFile codec', () => {
  it('round-trips header fields and verifies data', () => {
    fc.assert(fc.property(
      fc.nat({ max: 0xffff_ffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uint8Array({ maxLength: 64 }),
      (generation, version, data) => {
        const { header, meta } = encodeObject({ generation, version }, data)
        expect(header.byteLength).toBe(HEADER_SIZE)
        expect(decodeHeader(header)).toEqual(meta)
        expect(meta).toMatchObject({ generation, version, length: data.byteLength })
        verifyData(meta, data)
      }))
  })

  it('rejects bad magic, unknown format, short header, bad length and bad crc', () => {
    const data = bytes(10)
    const { header, meta } = encodeObject({ generation: 1, version: 5n }, data)
    const badMagic = header.slice(); badMagic[0] = 0x58
    const badFormat = header.slice(); badFormat[4] = 2
    expect(() => decodeHeader(badMagic)).toThrow(CorruptObjectError)
    expect(() => decodeHeader(badFormat)).toThrow(/unknown format 2/)
    expect(() => decodeHeader(header.subarray(0, HEADER_SIZE - 1))).toThrow(/short header/)
    expect(() => verifyData(meta, data.subarray(1))).toThrow(CorruptObjectError)
    const flipped = data.slice(); flipped[3] ^= 1
    expect(() => verifyData(meta, flipped)).toThrow(/crc32/)
  })

  it('refuses fields that do not fit the header', () => {
    expect(() => encodeObject({ generation: -1, version: 0n }, bytes(1))).toThrow(RangeError)
    expect(() => encodeObject({ generation: 2 ** 32, version: 0n }, bytes(1))).toThrow(RangeError)
    expect(() => encodeObject({ generation: 0, version: 1n << 64n }, bytes(1))).toThrow(RangeError)
  })
})

describe('KeyedMutex', () => {
  it('serialises one key in call order, survives failures, and forgets idle keys', async () => {
    const m = new KeyedMutex<bigint>()
    const log: string[] = []
    const task = (tag: string, fail = false) => async (): Promise<string> => {
      log.push(`${tag}+`)
      await new Promise(resolve => setTimeout(resolve, 5))
      log.push(`${tag}-`)
      if (fail) throw new Error(tag)
      return tag
    }
    const a = m.run(1n, task('a', true))
    const b = m.run(1n, task('b'))
    const c = m.run(2n, task('c'))
    expect(m.size).toBe(2)
    await expect(a).rejects.toThrow('a')
    expect(await b).toBe('b')
    expect(await c).toBe('c')
    expect(log.indexOf('a-')).toBeLessThan(log.indexOf('b+'))
    expect(log.indexOf('c+')).toBeLessThan(log.indexOf('a-')) // other keys run alongside
    await new Promise(resolve => setTimeout(resolve, 0))
    expect(m.size).toBe(0)
  })
})

describe('ObjectStore', () => {
  it('round-trips put/get/stat with header fields', async () => {
    const store = await openStore()
    const oid = dataOid(7, 3)
    const data = bytes(1000)
    const meta = await store.put(oid, data, { generation: 4, version: 123n })
    expect(meta).toMatchObject({ oid, generation: 4, version: 123n, length: 1000 })
    expect(store.has(oid)).toBe(true)

    const got = await store.get(oid)
    expect(got?.meta).toEqual(meta)
    expect(got?.data).toEqual(data)
    expect(await store.stat(oid)).toEqual(meta)

    const raw = await readFile(join(store.dir, formatOid(oid)))
    expect(raw.byteLength).toBe(HEADER_SIZE + 1000)
    expect({ oid, ...decodeHeader(raw) }).toEqual(meta)
    await expectConsistent(store, [oid])
    await store.close()
  })

  it('stores empty objects and reports missing ones as undefined', async () => {
    const store = await openStore()
    await store.put(dataOid(1, 0), new Uint8Array(0), { generation: 0, version: 0n })
    expect((await store.get(dataOid(1, 0)))?.data.byteLength).toBe(0)
    expect(await store.get(dataOid(1, 1))).toBeUndefined()
    expect(await store.stat(dataOid(1, 1))).toBeUndefined()
    expect(await store.remove(dataOid(1, 1))).toBe(false)
    await expect(store.get(1n << 64n)).rejects.toThrow(OidError)
    await expect(store.put(0x1f00_0000_0000_0000n, bytes(1), { generation: 0, version: 0n })).rejects.toThrow(/reserved/)
    await store.close()
  })

  it('overwrite replaces the object atomically and leaves no temp file', async () => {
    const store = await openStore()
    const oid = inodeOid(9)
    await store.put(oid, bytes(50, 1), { generation: 1, version: 10n })
    const second = await store.put(oid, bytes(20, 2), { generation: 2, version: 11n })
    const got = await store.get(oid)
    expect(got?.meta).toEqual(second)
    expect(got?.meta.version).toBe(11n)
    expect(got?.data).toEqual(bytes(20, 2))
    expect(await tempFiles(store.dir)).toEqual([])
    await expectConsistent(store, [oid])

    // Readers racing writers always see one whole version, never a mix.
    const writes = Array.from({ length: 20 }, (_, i) =>
      store.put(oid, bytes(100 + i, i), { generation: 3, version: BigInt(100 + i) }))
    const reads = Array.from({ length: 20 }, async () => await store.get(oid))
    await Promise.all(writes)
    for (const r of await Promise.all(reads)) {
      expect(r).toBeDefined()
      expect(r?.data).toEqual(bytes(r!.meta.length, r!.meta.length === 20 ? 2 : r!.meta.length - 100))
    }
    expect((await store.stat(oid))?.version).toBe(119n)
    await store.close()
  })

  it('admit refusal before writing leaves no file, no temp file and no cache entry', async () => {
    const store = await openStore()
    const oid = dataOid(3, 1)
    const calls: Array<Omit<ObjectMeta, 'oid'>> = []
    const err = await store.put(oid, bytes(10), {
      generation: 1,
      version: 1n,
      admit: (o, meta) => { calls.push(meta); return o === oid ? 'tombstoned' : undefined }
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AdmitError)
    expect((err as AdmitError).oid).toBe(oid)
    expect((err as AdmitError).reason).toBe('tombstoned')
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ generation: 1, version: 1n, length: 10 })
    expect(await readdir(store.dir)).toEqual([])
    expect(store.has(oid)).toBe(false)
    await store.close()
  })

  it('a delete that lands during the transfer is caught at the rename', async () => {
    const store = await openStore()
    const oid = dataOid(3, 2)
    await store.put(oid, bytes(10, 1), { generation: 1, version: 1n })
    let tombstoned = false
    let calls = 0
    const admit = (): string | undefined => { calls++; const r = tombstoned ? 'deleted' : undefined; tombstoned = true; return r }
    await expect(store.put(oid, bytes(10, 2), { generation: 1, version: 2n, admit })).rejects.toBeInstanceOf(AdmitError)
    expect(calls).toBe(2)
    expect(await tempFiles(store.dir)).toEqual([])
    // the refused write did not replace the older version
    expect((await store.get(oid))?.meta.version).toBe(1n)
    await expectConsistent(store, [oid])

    // an admit that throws is a failure too: the temp file goes, nothing changes
    const boom = (): string | undefined => { if (++calls > 3) throw new Error('boom'); return undefined }
    await expect(store.put(dataOid(3, 3), bytes(5), { generation: 1, version: 3n, admit: boom })).rejects.toThrow('boom')
    expect(await tempFiles(store.dir)).toEqual([])
    await expectConsistent(store, [oid])
    await store.close()
  })

  it('a put that fails midway (rename refused) leaves cache and disk in agreement', async () => {
    const store = await openStore()
    const oid = dataOid(4, 0)
    // A non-empty directory in the object's place makes the rename fail after the
    // temp file is written, as a full disk or I/O error would.
    await mkdir(join(store.dir, formatOid(oid), 'x'), { recursive: true })
    // refused at the rename, after the temp file was written
    await expect(store.put(oid, bytes(10), { generation: 1, version: 1n })).rejects.toMatchObject({ code: 'EISDIR', syscall: 'rename' })
    expect(store.has(oid)).toBe(false)
    expect(await tempFiles(store.dir)).toEqual([])
    await expectConsistent(store, [])
    await store.close()
  })

  it('a remove concurrent with a put of the same oid ends consistent, in call order', async () => {
    const store = await openStore(undefined, false)
    const oid = dataOid(5, 5)
    const put = store.put(oid, bytes(4000), { generation: 1, version: 1n })
    const removed = store.remove(oid)
    await put
    expect(await removed).toBe(true)
    expect(store.has(oid)).toBe(false)
    await expectConsistent(store, [])

    const removed2 = store.remove(oid)
    const put2 = store.put(oid, bytes(4000), { generation: 1, version: 2n })
    expect(await removed2).toBe(false)
    await put2
    expect(store.has(oid)).toBe(true)
    await expectConsistent(store, [oid])
    await store.close()
  })

  it('racing writes of one object end with the newest version whatever order they land in; older ones are refused as stale', async () => {
    const store = await openStore(undefined, false)
    const oid = dataOid(6, 1)
    const versions = [7n, 3n, 12n, 1n, 9n, 12n, 5n, 11n, 2n, 8n]
    const results = await Promise.allSettled(versions.map(async (v) => await store.put(oid, bytes(512, Number(v)), { generation: 1, version: v })))
    expect((await store.stat(oid))!.version).toBe(12n)
    expect((await store.get(oid))!.data).toEqual(bytes(512, 12))
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StaleWriteError)
    // in call order 7 lands, 3 is stale, 12 lands, every later one but the second 12 is stale
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'rejected', 'rejected', 'rejected'])
    await expectConsistent(store, [oid])
    await store.close()
  })

  it('open() removes stale temp files, ignores and counts strays, rebuilds the cache', async () => {
    const dir = await freshDir()
    const first = await openStore(dir)
    const oids = [dataOid(1, 0), inodeOid(1), attrOid(2, 7)]
    for (const oid of oids) await first.put(oid, bytes(8), { generation: 1, version: 1n })
    await first.close()
    await expect(first.get(oids[0])).rejects.toThrow(/closed/)

    const stale = `.tmp-${formatOid(dataOid(1, 1))}-deadbeef`
    await writeFile(join(dir, stale), 'half a write')
    const strays = ['README', formatOid(dataOid(0xab, 2)).toUpperCase(), formatOid(dataOid(1, 3)).slice(1), `${formatOid(dataOid(1, 4))}.bak`]
    for (const s of strays) await writeFile(join(dir, s), 'x')
    await mkdir(join(dir, formatOid(dataOid(1, 5)))) // a directory is not an object

    const store = await openStore(dir)
    expect(store.strays).toBe(strays.length + 1)
    expect(sorted(store.cache)).toEqual(sorted(oids))
    const left = await readdir(dir)
    expect(left).not.toContain(stale)
    for (const s of strays) expect(left).toContain(s)
    expect(left).toContain(formatOid(dataOid(1, 5)))
    await expectConsistent(store, oids)
    await expect(store.open()).rejects.toThrow(/already opened/)
    await store.close()
  })

  it('reports a flipped data byte, a truncation and a bad header as CorruptObjectError naming the oid', async () => {
    const store = await openStore()
    const a = dataOid(6, 1)
    const b = dataOid(6, 2)
    const c = dataOid(6, 3)
    for (const oid of [a, b, c]) await store.put(oid, bytes(64), { generation: 1, version: 1n })

    const pa = join(store.dir, formatOid(a))
    const raw = await readFile(pa)
    raw[HEADER_SIZE + 10] ^= 0x40
    await writeFile(pa, raw)
    const err = await store.get(a).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CorruptObjectError)
    expect((err as CorruptObjectError).oid).toBe(a)
    expect((err as Error).message).toContain(formatOid(a))
    expect((await store.stat(a))?.length).toBe(64) // stat reads the header only

    const pb = join(store.dir, formatOid(b))
    await writeFile(pb, (await readFile(pb)).subarray(0, HEADER_SIZE + 10))
    await expect(store.get(b)).rejects.toBeInstanceOf(CorruptObjectError)
    await expect(store.stat(b)).rejects.toThrow(/header says/)

    const pc = join(store.dir, formatOid(c))
    await writeFile(pc, 'not an object at all, definitely')
    await expect(store.stat(c)).rejects.toThrow(/bad magic/)
    await store.close()
  })

  it('removeVid removes data, inode, vmstate and attr objects of one vid, honouring keep', async () => {
    const store = await openStore()
    const vid = 0xabcdef
    const mine = [dataOid(vid, 0), dataOid(vid, 1), inodeOid(vid), vmstateOid(vid, 0), attrOid(vid, 3)]
    const other = [dataOid(vid + 1, 0), inodeOid(vid - 1)]
    for (const [i, oid] of mine.entries()) await store.put(oid, bytes(4), { generation: i % 2, version: 1n })
    for (const oid of other) await store.put(oid, bytes(4), { generation: 0, version: 1n })

    const seen: bigint[] = []
    const keptGen1 = await store.removeVid(vid, meta => { seen.push(meta.oid); return meta.generation === 1 })
    expect(sorted(seen)).toEqual(sorted(mine))
    expect(keptGen1).toBe(3)
    await expectConsistent(store, [...other, mine[1], mine[3]])
    expect(await store.removeVid(vid)).toBe(2)
    await expectConsistent(store, other)
    expect(await store.removeVid(vid)).toBe(0)
    await store.close()
  })

  it('removeMany over the cache itself removes everything', async () => {
    const store = await openStore(undefined, false)
    for (let i = 0; i < 100; i++) await store.put(dataOid(1 + (i % 3), i), bytes(2), { generation: 0, version: 1n })
    expect(await store.removeMany(store.cache)).toBe(100)
    await expectConsistent(store, [])
    expect(await readdir(store.dir)).toEqual([])
    await store.close()
  })

  it('close() waits for in-flight operations and refuses new ones', async () => {
    const store = await openStore()
    const puts = Array.from({ length: 10 }, (_, i) => store.put(dataOid(2, i), bytes(10_000), { generation: 0, version: 1n }))
    await store.close()
    // every put had reached the disk and the cache by the time close() resolved
    expect(store.cache.size).toBe(10)
    expect(await readdir(store.dir)).toHaveLength(10)
    await Promise.all(puts)
    await expect(store.put(dataOid(2, 99), bytes(1), { generation: 0, version: 1n })).rejects.toThrow(/closed/)
  })
})

// ---- cache == disk == model, under random operation sequences ----

const VIDS = [1, 2, 0x00ff00]
const UNIVERSE: bigint[] = VIDS.flatMap(v => [dataOid(v, 0), dataOid(v, 1), dataOid(v, 2), inodeOid(v), vmstateOid(v, 0), attrOid(v, 0)])

type Op =
  | { op: 'put', oid: bigint, generation: number, len: number }
  | { op: 'remove', oid: bigint }
  | { op: 'removeMany', oids: bigint[] }
  | { op: 'removeVid', vid: number, keepFromGen?: number }
  | { op: 'race', steps: Array<{ put: boolean, oid: bigint }> }
  | { op: 'reopen' }

const oidArb = fc.constantFrom(...UNIVERSE)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), oid: oidArb, generation: fc.nat({ max: 3 }), len: fc.nat({ max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), oid: oidArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeMany' as const), oids: fc.array(oidArb, { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeVid' as const), vid: fc.constantFrom(...VIDS), keepFromGen: fc.option(fc.nat({ max: 3 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('race' as const), steps: fc.array(fc.record({ put: fc.boolean(), oid: oidArb }), { minLength: 2, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) }
)

/** Naive model: oid hex → what was last written (a Map keyed by string, not a bigint set). */
type Model = Map<string, { oid: bigint, generation: number, version: bigint, data: Uint8Array }>

describe('object list cache', () => {
  it('equals the disk and a naive model after every operation', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async ops => {
      const dir = await freshDir()
      let store = await openStore(dir, false)
      const model: Model = new Map()
      let version = 0n
      const putModel = async (oid: bigint, generation: number, len: number): Promise<void> => {
        const v = ++version
        const data = bytes(len, Number(v))
        const meta = await store.put(oid, data, { generation, version: v })
        expect(meta.version).toBe(v)
        model.set(formatOid(oid), { oid, generation, version: v, data })
      }
      try {
        for (const op of ops) {
          switch (op.op) {
            case 'put':
              await putModel(op.oid, op.generation, op.len)
              break
            case 'remove':
              expect(await store.remove(op.oid)).toBe(model.delete(formatOid(op.oid)))
              break
            case 'removeMany': {
              const before = model.size
              for (const oid of op.oids) model.delete(formatOid(oid))
              expect(await store.removeMany(op.oids)).toBe(before - model.size)
              break
            }
            case 'removeVid': {
              const before = model.size
              for (const [k, e] of model) {
                if (Number((e.oid >> 32n) & 0xff_ffffn) !== op.vid) continue
                if (op.keepFromGen === undefined || e.generation < op.keepFromGen) model.delete(k)
              }
              const keep = op.keepFromGen === undefined ? undefined : (m: ObjectMeta) => m.generation >= op.keepFromGen!
              expect(await store.removeVid(op.vid, keep)).toBe(before - model.size)
              break
            }
            case 'race': {
              // Started together; same-oid operations must take effect in call order.
              const pending: Array<Promise<unknown>> = []
              for (const step of op.steps) {
                if (step.put) {
                  const v = ++version
                  const data = bytes(17, Number(v))
                  pending.push(store.put(step.oid, data, { generation: 0, version: v }))
                  model.set(formatOid(step.oid), { oid: step.oid, generation: 0, version: v, data })
                } else {
                  pending.push(store.remove(step.oid))
                  model.delete(formatOid(step.oid))
                }
              }
              await Promise.all(pending)
              break
            }
            case 'reopen':
              await store.close()
              store = await openStore(dir, false)
              expect(store.strays).toBe(0)
              break
          }
          await expectConsistent(store, [...model.values()].map(e => e.oid))
        }
        for (const e of model.values()) {
          const got = await store.get(e.oid)
          expect(got?.meta).toMatchObject({ generation: e.generation, version: e.version })
          expect(got?.data).toEqual(e.data)
        }
        expect(await tempFiles(dir)).toEqual([])
      } finally {
        await store.close()
        await rm(dir, { recursive: true, force: true })
      }
    }), { numRuns: 30 })
  })
})
