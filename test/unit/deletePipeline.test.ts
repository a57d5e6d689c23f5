// The delete path through DeleteDriver (src/node/deletes.ts) and a real DeleteReplica, with a
// fake delete log and object store, no disk: the GC-floor filter runs before anything reaches
// the log; a record is persisted, then applied, then (after in-flight writes settle) purged —
// never applied or purged when persisting failed, and only records new to the log are applied
// and purged.
import type { Counter } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { Logger } from 'pino'
import { DeleteDriver } from '../../src/node/deletes.js'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { FloorState, type Floor } from '../../src/tombstones/floor.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { vidToDataOid } from '../../src/oid.js'
import type { ObjectMeta } from '../../src/store/objectFile.js'
import type { ObjectStore } from '../../src/store/objectStore.js'
import type { RemoveOptions } from '../../src/store/objectStoreApi.js'
import type { DeleteLog } from '../../src/tombstones/deleteLog.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const vdiRec = (seq: number, vid: number, generation = 1): DeleteRec => ({ kind: 'vdi', origin: 'node-a', seq: BigInt(seq), hlc: 100n + BigInt(seq), vid, generation })
const discardRec = (seq: number, vid: number, indexes: number[], hlc = 500n): DeleteRec => ({ kind: 'objects', origin: 'node-a', seq: BigInt(seq), hlc, vid, generation: 1, indexes: Uint32Array.from(indexes) })

function setup (objects: Array<[bigint, number, bigint]> = [], floor = new FloorState()) {
  const trace: string[] = []
  const held = new Set<string>()
  const log = {
    failWith: undefined as Error | undefined,
    size: 0,
    records: (): DeleteRec[] => [],
    has: (origin: string, seq: bigint) => held.has(`${origin}/${seq}`),
    nextSeq: () => 1n,
    summary: () => ({ count: held.size, fingerprint: 0n, maxHlc: 0n }),
    async append (recs: DeleteRec[]): Promise<DeleteRec[]> {
      trace.push(`append ${recs.map((r) => r.seq).join(',')}`)
      await Promise.resolve()
      if (this.failWith !== undefined) throw this.failWith
      const fresh = recs.filter((r) => !held.has(`${r.origin}/${r.seq}`))
      for (const r of fresh) held.add(`${r.origin}/${r.seq}`)
      this.size = held.size
      return fresh
    }
  }
  const replica = new DeleteReplica({ self: 'node-a', log, members: () => ['node-a'] })
  const index = replica.index
  const apply = index.apply.bind(index)
  index.apply = (rec: DeleteRec) => { trace.push(`apply ${rec.seq}`); return apply(rec) }
  // oid → header of the copy on "disk"
  const disk = new Map<bigint, ObjectMeta>(objects.map(([oid, generation, version]) => [oid, { oid, generation, version, length: 0, checksum: 0 }]))
  const store = {
    cache: { get size () { return disk.size } },
    has: (oid: bigint) => disk.has(oid),
    async settle () { trace.push('settle'); await Promise.resolve() },
    async removeVid (vid: number, keep?: (m: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<number> {
      trace.push(`removeVid ${vid}${opts?.durable === false ? '' : ' +dirsync'}`)
      let n = 0
      for (const [oid, m] of disk) {
        if (Number(oid >> 32n) === vid && !(keep?.(m) ?? false)) { disk.delete(oid); n++ }
      }
      return n
    },
    async removeIf (oid: bigint, pred: (m: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<boolean> {
      trace.push(`removeIf ${oid.toString(16)}${opts?.durable === false ? '' : ' +dirsync'}`)
      const m = disk.get(oid)
      if (m === undefined || !pred(m)) return false
      disk.delete(oid)
      return true
    }
  }
  const metrics = new NodeMetrics()
  const logger = memoryLogger()
  const fresh: DeleteRec[][] = []
  const floorFile = { state: () => floor.copy() } as unknown as Floor
  const p = new DeleteDriver({
    replica,
    log: log as unknown as DeleteLog,
    store: store as unknown as ObjectStore,
    floorFile,
    metrics,
    logger: logger as unknown as Logger,
    out: { publish: (recs) => { trace.push('publish'); fresh.push(recs) }, startSession: () => {}, reject: () => {}, syncNow: async () => undefined }
  })
  // what the anti-entropy set learns: every record the log made durable, once applied
  const add = replica.set.add.bind(replica.set)
  replica.set.add = (rec, hash) => { trace.push(`set ${rec.seq}`); return add(rec, hash) }
  return { p, trace, log, index, disk, metrics, fresh, replica }
}

/** a counter's value for the given labels (0 before the first inc) */
const value = async (c: Counter<string>, labels: Record<string, string> = {}): Promise<number> =>
  (await c.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0

describe('DeleteDriver.ingest', () => {
  it('persists, then applies, then purges after in-flight writes settle (no directory fsync), then gossips ours', async () => {
    const o1 = vidToDataOid(7, 0)
    const o2 = vidToDataOid(8, 2)
    const { p, trace, disk, index } = setup([[o1, 1, 10n], [o2, 1, 10n]])
    const recs = [vdiRec(1, 7), discardRec(2, 8, [2, 3])]
    expect(await p.ingest(recs, 'local')).toEqual(recs)
    expect(trace).toEqual(['append 1,2', 'apply 1', 'apply 2', 'set 1', 'set 2', 'settle', 'removeVid 7', `removeIf ${o2.toString(16)}`, 'publish'])
    expect(disk.size).toBe(0)
    expect(index.covers(o1, 1, 10n)).toBe('vdi 000007 deleted through generation 1')
  })

  it('purges only what the record covers: later generations and newer versions stay', async () => {
    const older = vidToDataOid(7, 0)
    const newerGen = vidToDataOid(7, 1)
    const discarded = vidToDataOid(8, 1)
    const rewritten = vidToDataOid(8, 2)
    const { p, disk, metrics } = setup([[older, 1, 10n], [newerGen, 2, 10n], [discarded, 1, 400n], [rewritten, 1, 600n]])
    await p.ingest([vdiRec(1, 7, 1), discardRec(2, 8, [1, 2], 500n)], 'gossip')
    expect([...disk.keys()].sort()).toEqual([newerGen, rewritten].sort())
    expect(await value(metrics.oidsPurged)).toBe(2)
    expect(await value(metrics.recordsApplied, { source: 'gossip' })).toBe(2)
  })

  it('when persisting fails nothing is applied or purged, and the error reaches the caller', async () => {
    const o = vidToDataOid(7, 0)
    const { p, trace, log, disk, index } = setup([[o, 1, 10n]])
    log.failWith = new Error('fsync failed')
    await expect(p.ingest([vdiRec(1, 7)], 'ae')).rejects.toThrow('fsync failed')
    expect(trace).toEqual(['append 1'])
    expect(index.recordCount).toBe(0)
    expect(disk.has(o)).toBe(true)
  })

  it('applies and purges only records new to the log', async () => {
    const { p, trace, replica } = setup([[vidToDataOid(9, 0), 1, 10n]])
    await p.ingest([vdiRec(1, 7)], 'gossip')
    trace.length = 0
    expect(await p.ingest([vdiRec(1, 7), vdiRec(2, 9)], 'ae')).toEqual([vdiRec(2, 9)])
    expect(trace).toEqual(['append 1,2', 'apply 2', 'set 2', 'settle', 'removeVid 9'])
    trace.length = 0
    expect(await p.ingest([vdiRec(2, 9)], 'ae')).toEqual([])
    expect(trace).toEqual(['append 2']) // nothing new: no apply, no settle, no purge
    expect(replica.set.size).toBe(2)
  })

  it('the floor filter drops records before they reach the log', async () => {
    const o = vidToDataOid(5, 0)
    // vid 5 is already folded into the GC floor (generation 1): its records must not come back into the log
    const floor = new FloorState()
    floor.raise(5, 1)
    const { p, trace, disk } = setup([[o, 2, 10n]], floor)
    await p.load()
    trace.length = 0
    expect(await p.ingest([vdiRec(1, 5), vdiRec(2, 7)], 'ae')).toEqual([vdiRec(2, 7)])
    expect(trace[0]).toBe('append 2')
    expect(trace).not.toContain('apply 1')
    trace.length = 0
    expect(await p.ingest([vdiRec(3, 5)], 'gossip')).toEqual([])
    expect(trace).toEqual([])
    expect(disk.has(o)).toBe(true)
  })
})
