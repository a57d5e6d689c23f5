// A tombstone's purge skips the directory fsync (its record is durable first and every start
// purges again), every other removal keeps it: counted on the real store with the fsync seam
// (atomicFile.syncDir) spied on, and on what each removal leaves on disk.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { vidToDataOid, vidToVdiOid } from '../../src/oid.js'

const synced = vi.hoisted(() => ({ dirs: 0 }))
vi.mock('../../src/store/atomicFile.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/store/atomicFile.js')>()
  return { ...orig, syncDir: async (dir: string) => { synced.dirs++; await orig.syncDir(dir) } }
})
const { ObjectStore } = await import('../../src/store/objectStore.js')

let root: string
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'bw-purgesync-')) })
afterAll(async () => { await rm(root, { recursive: true, force: true }) })
beforeEach(() => { synced.dirs = 0 })

async function storeWith (oids: bigint[]): Promise<InstanceType<typeof ObjectStore>> {
  const s = new ObjectStore(await mkdtemp(join(root, 's-')), { fsync: true })
  await s.open()
  for (const oid of oids) await s.put(oid, new Uint8Array(8).fill(1), { generation: 1, version: 5n })
  return s
}

describe('object store removals and the directory fsync', () => {
  it('removeVid and removeIf with durable: false remove the same objects and fsync no directory', async () => {
    const s = await storeWith([vidToDataOid(7, 0), vidToDataOid(7, 1), vidToVdiOid(7), vidToDataOid(8, 0)])
    synced.dirs = 0
    expect(await s.removeVid(7, undefined, { durable: false })).toBe(3)
    expect(await s.removeIf(vidToDataOid(8, 0), () => true, { durable: false })).toBe(true)
    expect(synced.dirs).toBe(0)
    expect(s.cache.size).toBe(0)
    expect((await s.scanDisk()).size).toBe(0)
    await s.close()
  })

  it('by default every removal that removed something fsyncs the directory once', async () => {
    const s = await storeWith([vidToDataOid(7, 0), vidToDataOid(7, 1), vidToDataOid(8, 0), vidToDataOid(9, 0)])
    synced.dirs = 0
    expect(await s.removeVid(7)).toBe(2)
    expect(synced.dirs).toBe(1)
    expect(await s.removeIf(vidToDataOid(8, 0), () => true)).toBe(true)
    expect(synced.dirs).toBe(2)
    // nothing removed, nothing to make durable
    expect(await s.removeIf(vidToDataOid(9, 0), () => false)).toBe(false)
    expect(synced.dirs).toBe(2)
    await s.close()
  })
})
