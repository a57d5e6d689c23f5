// The delete path (DeleteDriver + DeleteReplica) over the in-memory delete log and object store, as
// the simulator will run it: persist → apply → settle → purge holds on MemDeleteLog and
// MemObjectStore too — a put racing a delete never leaves a covered object behind, a record
// already held is not applied twice, and a restart over the kept "disk" purges what the log
// covers before anything is served.
import { describe, expect, it } from 'vitest'
import { DeleteDriver } from '../../src/node/deletes.js'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { FloorState, type Floor } from '../../src/tombstones/floor.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { vidToDataOid, vidToVdiOid } from '../../src/oid.js'
import { MemObjectStore } from '../../src/store/memObjectStore.js'
import { MemDeleteLog } from '../../src/tombstones/memDeleteLog.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { VirtualTime } from '../../src/time.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const vdiRec = (seq: number, vid: number, hlc = 1000n): DeleteRec => ({ kind: 'vdi', origin: 'node-a', seq: BigInt(seq), hlc, vid, generation: 1 })

async function node (log = new MemDeleteLog(), store = new MemObjectStore()) {
  const vt = new VirtualTime(1_800_000_000_000)
  await store.open()
  await log.open()
  const replica = new DeleteReplica({ self: 'node-b', log, members: () => ['node-a', 'node-b'] })
  const index = replica.index
  // nothing here folds: the floor file is never written, only read at load
  const floorFile = { state: () => new FloorState() } as unknown as Floor
  const pipeline = new DeleteDriver({
    replica,
    log,
    store,
    floorFile,
    metrics: new NodeMetrics(),
    logger: memoryLogger(),
    now: () => vt.now(),
    out: { publish: () => {}, startSession: () => {}, reject: () => {}, syncNow: async () => undefined }
  })
  const put = async (oid: bigint, version: bigint): Promise<void> => {
    await store.put(oid, new Uint8Array([1]), { generation: 1, version, admit: (o, m) => index.covers(o, m.generation, m.version) })
  }
  return { log, store, index, pipeline, put }
}

describe('DeleteDriver on the in-memory stores', () => {
  it('persists, applies and purges a VDI delete once; other VDIs are untouched', async () => {
    const n = await node()
    for (const oid of [vidToVdiOid(3), vidToDataOid(3, 0), vidToDataOid(3, 1), vidToDataOid(4, 0)]) await n.put(oid, 10n)
    expect(await n.pipeline.ingest([vdiRec(1, 3)], 'local')).toHaveLength(1)
    expect(Array.from(n.store.cache.toBigUint64Array())).toEqual([vidToDataOid(4, 0)])
    expect(n.log.has('node-a', 1n)).toBe(true)
    expect(await n.pipeline.ingest([vdiRec(1, 3)], 'gossip')).toEqual([])
    // the gate refuses a covered write from now on
    await expect(n.put(vidToDataOid(3, 7), 20n)).rejects.toThrow(/refused/)
  })

  it('a put racing the delete of its VDI never leaves the object behind, whichever wins', async () => {
    for (let delay = 0; delay < 8; delay++) {
      const n = await node()
      const oid = vidToDataOid(5, delay)
      const put = n.put(oid, 10n).then(() => 'landed', () => 'refused')
      for (let k = 0; k < delay; k++) await Promise.resolve()
      await n.pipeline.ingest([vdiRec(1, 5)], 'gossip')
      await put
      expect(n.store.has(oid)).toBe(false)
    }
  })

  it('a restart over the kept disk and log purges what the log covers before serving', async () => {
    const first = await node()
    await first.pipeline.ingest([vdiRec(1, 6)], 'local')
    await first.log.close()
    await first.store.close()
    // a copy that reached the disk without passing this node's gate (an old replica's leftover)
    first.store.disk.set(vidToDataOid(6, 2), { meta: { oid: vidToDataOid(6, 2), generation: 1, version: 5n, length: 1, checksum: 0 }, data: new Uint8Array([1]) })
    const again = await node(new MemDeleteLog(first.log.durable()), new MemObjectStore(first.store.disk))
    expect(again.store.has(vidToDataOid(6, 2))).toBe(true)
    expect(await again.pipeline.load()).toBe(1)
    expect(again.store.has(vidToDataOid(6, 2))).toBe(false)
    expect(again.log.nextSeq('node-a')).toBe(2n)
  })
})
