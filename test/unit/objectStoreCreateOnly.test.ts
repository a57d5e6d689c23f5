// ObjectStore's create-only put (the arbiter of VDI creates): of many racing for one object
// exactly one lands; a copy of the same or a newer generation refuses it; an older
// generation's leftover (a reused vid) does not. Real files in a temp dir.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vidToVdiOid } from '../../src/oid.js'
import { ExistsError, ObjectStore } from '../../src/store/objectStore.js'

let root: string
let n = 0
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'bw-createonly-')) })
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

async function openStore (): Promise<ObjectStore> {
  const store = new ObjectStore(await mkdtemp(join(root, `s${n++}-`)), { fsync: false })
  await store.open()
  return store
}

const oid = vidToVdiOid(0x7c2b25)
const data = (x: number): Uint8Array => new Uint8Array(64).fill(x)

describe('ObjectStore createOnly', () => {
  it('of 20 create-only puts racing for one object exactly one lands; the others reject with ExistsError naming what is stored', async () => {
    const store = await openStore()
    const results = await Promise.allSettled(Array.from({ length: 20 }, async (_, i) =>
      await store.put(oid, data(i), { generation: 1, version: BigInt(100 + i), createOnly: true })))
    const won = results.flatMap((r, i) => r.status === 'fulfilled' ? [i] : [])
    expect(won).toHaveLength(1)
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(ExistsError)
        expect(r.reason.current).toMatchObject({ oid, generation: 1, version: BigInt(100 + won[0]) })
      }
    }
    const got = await store.get(oid)
    expect(got?.data).toEqual(data(won[0]))
    expect((await readdir(store.dir)).filter((f) => f.startsWith('.tmp-'))).toEqual([])
    await store.close()
  })

  it('refuses over the same or a newer generation, even with a newer version; overwrites an older generation', async () => {
    const store = await openStore()
    await store.put(oid, data(1), { generation: 2, version: 10n })
    await expect(store.put(oid, data(2), { generation: 2, version: 99n, createOnly: true })).rejects.toBeInstanceOf(ExistsError)
    await expect(store.put(oid, data(3), { generation: 1, version: 99n, createOnly: true })).rejects.toBeInstanceOf(ExistsError)
    expect((await store.get(oid))?.data).toEqual(data(1))
    const meta = await store.put(oid, data(4), { generation: 3, version: 11n, createOnly: true })
    expect(meta).toMatchObject({ generation: 3, version: 11n })
    expect((await store.get(oid))?.data).toEqual(data(4))
    // without createOnly the same put is an ordinary overwrite
    await store.put(oid, data(5), { generation: 3, version: 12n })
    expect((await store.get(oid))?.data).toEqual(data(5))
    await store.close()
  })
})
