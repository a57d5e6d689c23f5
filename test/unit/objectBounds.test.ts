// Bounds on object frames (issue 11, part 3) on the node's object handler with a real object
// store in a temp dir, a real tombstone index and delete pipeline: a PUT whose version is more
// than the HLC's max drift (DEFAULT_MAX_DRIFT_MS) ahead of the receiver's clock, or 0, is
// refused and counted and nothing is stored; a copy stored with such a version before the
// bound existed neither blocks a real write nor survives a discard naming it; a purge hint
// whose parallel arrays disagree and a list of a vid out of range are refused and counted.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Counter } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { create } from '@bufbuild/protobuf'
import { ListObjectsSchema, PurgeHintSchema, PutObjectSchema, Status } from '../../src/wire/bellwether_pb.js'
import { NodeObjectHandler } from '../../src/node/objectHandler.js'
import { DeleteDriver } from '../../src/node/deletes.js'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { Floor } from '../../src/tombstones/floor.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { ObjectStore } from '../../src/store/objectStore.js'
import type { DeleteLog } from '../../src/tombstones/deleteLog.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { DEFAULT_MAX_DRIFT_MS, HybridClock, makeHlc } from '../../src/hlc.js'
import { vidToDataOid } from '../../src/oid.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const U64_MAX = (1n << 64n) - 1n
const WALL = 1_800_000_000_000
const counter = async (c: Counter<string>, labels: Record<string, string>): Promise<number> =>
  (await c.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0

describe('object frames are bounded where they enter', () => {
  let dir = ''
  let store: ObjectStore
  let handler: NodeObjectHandler
  let metrics: NodeMetrics
  let clock: HybridClock
  let pipeline: DeleteDriver
  const oid = vidToDataOid(7, 3)
  const data = new TextEncoder().encode('legit')
  const put = (version: bigint, generation = 1) => create(PutObjectSchema, { oid, generation, version, data })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-objbounds-'))
    store = new ObjectStore(dir, { fsync: false })
    await store.open()
    metrics = new NodeMetrics()
    clock = new HybridClock({ now: () => WALL })
    const fakeLog = {
      size: 0,
      async append (recs: DeleteRec[]) { return recs },
      records: () => [],
      has: () => false,
      nextSeq: () => 1n,
      summary: () => ({ count: 0, fingerprint: 0n, maxHlc: 0n })
    } as unknown as DeleteLog
    const replica = new DeleteReplica({ self: 'me', log: fakeLog, members: () => ['me'] })
    handler = new NodeObjectHandler(store, replica.index, clock, metrics, memoryLogger())
    pipeline = new DeleteDriver({
      replica,
      log: fakeLog,
      store,
      floorFile: new Floor(join(dir, 'floor.json')),
      metrics,
      logger: memoryLogger(),
      out: { publish: () => {}, startSession: () => {}, reject: () => {}, syncNow: async () => undefined },
      implausible: (v) => clock.implausible(v) != null
    })
  })
  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a PUT with version 2^64−1 is refused, counted, and stores nothing; later real writes land', async () => {
    const r = await handler.put(put(U64_MAX), 'peer-x', 0n)
    expect(r.status).toBe(Status.BAD_REQUEST)
    expect(r.error).toMatch(/ahead of this node's clock/)
    expect(store.has(oid)).toBe(false)
    expect(await counter(metrics.rejected, { kind: 'version' })).toBe(1)
    const ok = await handler.put(put(clock.now()), 'peer-y', 0n)
    expect(ok.status).toBe(Status.OK)
  })

  it('a put placed by another ring is refused (VIEW_MISMATCH) and stores nothing; copies past the bound are refused; a stored put reports its copies', async () => {
    const stored: Array<[bigint, number, string]> = []
    const h = new NodeObjectHandler(store, new DeleteReplica({ self: 'me', log: { nextSeq: () => 1n, records: () => [], has: () => false, summary: () => ({ count: 0, fingerprint: 0n, maxHlc: 0n }) } as unknown as DeleteLog, members: () => ['me'] }).index,
      clock, metrics, memoryLogger(), { ring: () => 0xabcn, stored: (o, c, from) => { stored.push([o, c, from]) } })
    const v = clock.now()
    const other = await h.put(create(PutObjectSchema, { oid, generation: 1, version: v, data, ring: 0xabdn, copies: 3 }), 'peer-x', 0n)
    expect(other.status).toBe(Status.VIEW_MISMATCH)
    expect(other.error).toMatch(/placement views differ: .* ring abd, this node's is abc/)
    expect(store.has(oid)).toBe(false)
    expect(await counter(metrics.rejected, { kind: 'view' })).toBe(1)
    const many = await h.put(create(PutObjectSchema, { oid, generation: 1, version: v, data, ring: 0xabcn, copies: 17 }), 'peer-x', 0n)
    expect(many.status).toBe(Status.BAD_REQUEST)
    expect(many.error).toMatch(/copies 17 .* out of range 0\.\.16/)
    expect(store.has(oid)).toBe(false)
    // the same ring, and a put that names none (0: a node's own, or an older peer's), are stored
    expect((await h.put(create(PutObjectSchema, { oid, generation: 1, version: v, data, ring: 0xabcn, copies: 3 }), 'peer-x', 0n)).status).toBe(Status.OK)
    expect((await h.put(create(PutObjectSchema, { oid, generation: 1, version: clock.now(), data }), 'me', 0n)).status).toBe(Status.OK)
    expect(stored).toEqual([[oid, 3, 'peer-x'], [oid, 0, 'me']])
  })

  it('the bound is the max clock drift: just inside is stored, just past is refused; 0 is refused', async () => {
    expect((await handler.put(put(makeHlc(WALL + DEFAULT_MAX_DRIFT_MS + 1)), 'p', 0n)).status).toBe(Status.BAD_REQUEST)
    expect((await handler.put(put(0n), 'p', 0n)).status).toBe(Status.BAD_REQUEST)
    expect(store.has(oid)).toBe(false)
    expect((await handler.put(put(makeHlc(WALL + DEFAULT_MAX_DRIFT_MS)), 'p', 0n)).status).toBe(Status.OK)
    expect(await counter(metrics.rejected, { kind: 'version' })).toBe(2)
  })

  it('a bogus copy already on disk does not block a real write', async () => {
    await store.put(oid, new TextEncoder().encode('forged'), { generation: 1, version: U64_MAX })
    const r = await handler.put(put(clock.now()), 'p', 0n)
    expect(r.status).toBe(Status.OK)
    expect(new TextDecoder().decode((await store.get(oid))!.data)).toBe('legit')
  })

  it('a discard removes a bogus copy of an object it names, whatever its version', async () => {
    await store.put(oid, new TextEncoder().encode('forged'), { generation: 1, version: U64_MAX })
    const other = vidToDataOid(7, 4)
    await store.put(other, data, { generation: 1, version: makeHlc(WALL + 1000) })
    const discard: DeleteRec = { kind: 'objects', origin: 'node-a', seq: 1n, hlc: clock.now(), vid: 7, generation: 1, indexes: Uint32Array.from([3, 4]) }
    await pipeline.ingest([discard], 'gossip')
    expect(store.has(oid)).toBe(false)
    // a version ahead of the discard but within what an honest clock can make: a write after it, kept
    expect(store.has(other)).toBe(true)
  })

  it('a purge hint with disagreeing parallel arrays and a list of an invalid vid are refused and counted', async () => {
    const r = await handler.purge(create(PurgeHintSchema, { oids: [oid, oid], generations: [1], versions: [1n, 2n] }), 'p', 0n)
    expect(r.status).toBe(Status.BAD_REQUEST)
    expect(await counter(metrics.rejected, { kind: 'purge' })).toBe(1)
    const list = async (): Promise<void> => { for await (const _ of handler.list(create(ListObjectsSchema, { hasVid: true, vid: 0x1000000 }), 'p', 0n)) { /* drain */ } }
    await expect(list()).rejects.toThrow(/invalid vid/)
    expect(await counter(metrics.rejected, { kind: 'vid' })).toBe(1)
  })

  it('hostile PUTs (edge oids, versions, generations): never a throw; a refused one stores nothing', async () => {
    const edge = fc.constantFrom(0n, 1n, (1n << 32n) - 1n, 1n << 53n, 1n << 62n, (1n << 63n), U64_MAX - 1n, U64_MAX)
    await fc.assert(fc.asyncProperty(
      fc.oneof(edge, fc.bigInt({ min: 0n, max: U64_MAX })), fc.oneof(edge, fc.bigInt({ min: 0n, max: U64_MAX })), fc.nat(), fc.uint8Array({ maxLength: 64 }),
      async (o, version, generation, bytes) => {
        const had = store.cache.size
        const r = await handler.put(create(PutObjectSchema, { oid: o, version, generation, data: bytes }), 'fuzzer', 0n)
        if (r.status !== Status.OK) expect(store.cache.size).toBe(had)
        else expect(clock.implausible(version)).toBeUndefined()
      }), { numRuns: 200 })
  })
})
