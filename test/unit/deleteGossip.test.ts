// DeleteGossip (src/net/deleteGossip.ts) on a fake pubsub and a fake delete pipeline, no
// sockets: records published within the coalescing window leave as one batch; stop() sends
// what is still waiting before it unsubscribes and waits for ingests in progress; a batch from
// a peer is validated (malformed: rejected and counted), and a failing ingest is logged
// without breaking the ones after it (ingests run one at a time, in arrival order).
import type { Counter } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { TOPIC_DELETES } from '../../src/net/constants.js'
import { DeleteGossip } from '../../src/net/deleteGossip.js'
import type { RecordIngest } from '../../src/net/deleteGossip.js'
import type { RecordSource } from '../../src/tombstones/replicaTypes.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { decodeBatch, packBatches } from '../../src/tombstones/batch.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { FakePubsub, fakeHost, memoryLogger, signed } from '../helpers/fakePubsub.js'
import { RecordAdmission, type AdmissionState } from '../../src/node/admission.js'
import { VirtualTime } from '../../src/time.js'

const rec = (seq: number, vid = 7): DeleteRec => ({ kind: 'vdi', origin: 'node-a', seq: BigInt(seq), hlc: BigInt(1000 + seq), vid, generation: 1 })

/** a pipeline whose ingest the test controls: each call waits for `release` (or fails) */
class FakePipeline {
  readonly calls: Array<{ recs: DeleteRec[], source: RecordSource }> = []
  active = 0
  maxActive = 0
  gate: Promise<void> = Promise.resolve()
  failNext: Error | undefined
  async ingest (recs: DeleteRec[], source: RecordSource): Promise<DeleteRec[]> {
    this.calls.push({ recs, source })
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    try {
      await this.gate
      const err = this.failNext
      this.failNext = undefined
      if (err !== undefined) throw err
      return recs
    } finally {
      this.active--
    }
  }
}

/** a node that knows vid 7 at generation 1 and has seen node-a's records up to seq 10 */
const knows: AdmissionState = {
  self: 'me',
  isMember: () => true,
  highestSeq: (o) => o === 'node-a' ? 10n : 0n,
  holds: () => false,
  coveredByFloor: () => false,
  knownGeneration: async (vid) => vid === 7 ? 1 : undefined
}

function setup () {
  const ps = new FakePubsub()
  ps.mesh = true
  const pipeline = new FakePipeline()
  const metrics = new NodeMetrics()
  const log = memoryLogger()
  // the coalescing window and the outbox flush run in virtual time: nothing here waits on a real timer
  const vt = new VirtualTime()
  const dg = new DeleteGossip({ host: fakeHost(ps), pipeline: pipeline as unknown as RecordIngest, metrics, logger: log, admission: new RecordAdmission(knows), timers: vt })
  dg.start()
  return { ps, pipeline, metrics, log, dg, vt }
}

/** a counter's value for the given labels (0 before the first inc) */
const counter = async (c: Counter<string>, labels: Record<string, string>): Promise<number> =>
  (await c.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0

const flushMicrotasks = async (): Promise<void> => { for (let k = 0; k < 20; k++) await Promise.resolve() }

describe('DeleteGossip: publishing', () => {
  it('coalesces records published within the window into one batch, sent when the window ends', async () => {
    const { ps, metrics, dg, vt } = setup()
    dg.publish([rec(1)])
    dg.publish([rec(2), rec(3)])
    await flushMicrotasks()
    expect(ps.attempts).toBe(0) // the window is still open
    await vt.advanceAsync(5)
    expect(ps.published).toHaveLength(1)
    expect(ps.published[0]!.topic).toBe(TOPIC_DELETES)
    expect(decodeBatch(ps.published[0]!.data)).toEqual([rec(1), rec(2), rec(3)])
    expect(await counter(metrics.gossipBytes, { topic: 'deletes', direction: 'out' })).toBe(ps.published[0]!.data.byteLength)

    // a record after the window is a new batch
    dg.publish([rec(4)])
    await vt.advanceAsync(5)
    expect(ps.published.map((p) => decodeBatch(p.data).map((r) => Number(r.seq)))).toEqual([[1, 2, 3], [4]])
    await dg.stop()
  })

  it('stop() sends what is waiting in the window before it unsubscribes, and nothing after', async () => {
    const { ps, dg, vt } = setup()
    dg.publish([rec(1), rec(2)])
    await dg.stop()
    expect(vt.pending).toBe(0)
    expect(ps.published.map((p) => decodeBatch(p.data).map((r) => Number(r.seq)))).toEqual([[1, 2]])
    expect(ps.subscribed.has(TOPIC_DELETES)).toBe(false)
    await vt.advanceAsync(1000) // the window's timer and the flush interval are gone
    expect(ps.attempts).toBe(1)
  })

  it('a batch that finds no mesh waits in the outbox and goes out on the periodic flush', async () => {
    const { ps, dg, log, vt } = setup()
    ps.mesh = false
    dg.publish([rec(1)])
    await vt.advanceAsync(5)
    expect(dg.topic.pending).toBe(1)
    expect(log.lines.some((l) => l.msg === 'no mesh peers yet: delete batch queued')).toBe(true)
    ps.mesh = true
    await vt.advanceAsync(250)
    expect(dg.topic.pending).toBe(0)
    expect(ps.published.map((p) => decodeBatch(p.data).map((r) => Number(r.seq)))).toEqual([[1]])
    await dg.stop()
  })
})

describe('DeleteGossip: receiving', () => {
  it('accepts a well-formed batch and rejects a malformed one, counting it as bad input', async () => {
    const { ps, metrics, log, dg } = setup()
    const good = packBatches([rec(1)])[0]!
    expect(await ps.validate(signed(TOPIC_DELETES, good, 'node-a'))).toBe('accept')
    expect(await ps.validate(signed(TOPIC_DELETES, Uint8Array.of(0x0a, 0x05, 1, 2), 'peer-B'))).toBe('reject')
    expect(await counter(metrics.rejected, { kind: 'delete-batch' })).toBe(1)
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ msg: 'rejected delete-batch: malformed delete batch', obj: expect.objectContaining({ kind: 'delete-batch', from: 'peer-B', bytes: 4 }) })])
    await dg.stop()
  })

  it('rejects a whole batch when one record names an origin other than its signed author', async () => {
    const { ps, metrics, log, dg } = setup()
    const forged: DeleteRec = { ...rec(2), origin: 'victim' }
    expect(await ps.validate(signed(TOPIC_DELETES, packBatches([rec(1), forged, rec(3)])[0]!, 'node-a'))).toBe('reject')
    // every record its own author's, but signed by someone else
    expect(await ps.validate(signed(TOPIC_DELETES, packBatches([rec(1)])[0]!, 'peer-B'))).toBe('reject')
    expect(await counter(metrics.rejected, { kind: 'delete-origin' })).toBe(2)
    expect(log.lines.find((l) => l.level === 'warn')?.msg).toMatch(/batch of 3 records refused whole: record .*names origin victim, not its signed author/)
    await dg.stop()
  })

  it('rejects a whole batch with a generation or seq beyond what honest nodes can produce', async () => {
    const { ps, metrics, dg } = setup()
    const batch = (r: DeleteRec): Uint8Array => packBatches([rec(1), r])[0]!
    // vid 7 is known at generation 1: 2 is the next one, 3 (or 2^32-1) nobody can have made
    expect(await ps.validate(signed(TOPIC_DELETES, batch({ ...rec(2), generation: 2 }), 'node-a'))).toBe('accept')
    expect(await ps.validate(signed(TOPIC_DELETES, batch({ ...rec(2), generation: 3 }), 'node-a'))).toBe('reject')
    expect(await ps.validate(signed(TOPIC_DELETES, batch({ ...rec(2), generation: 0xffff_ffff }), 'node-a'))).toBe('reject')
    expect(await counter(metrics.rejected, { kind: 'delete-generation' })).toBe(2)
    // node-a's highest seq seen is 10: 10 + 2^32 is the bound
    expect(await ps.validate(signed(TOPIC_DELETES, batch({ ...rec(2), seq: 10n + (1n << 32n) }), 'node-a'))).toBe('accept')
    expect(await ps.validate(signed(TOPIC_DELETES, batch({ ...rec(2), seq: (1n << 64n) - 1n }), 'node-a'))).toBe('reject')
    expect(await counter(metrics.rejected, { kind: 'delete-seq' })).toBe(1)
    await dg.stop()
  })

  it('ingests delivered batches one at a time in arrival order, as gossip', async () => {
    const { ps, pipeline, metrics, dg } = setup()
    let release!: () => void
    pipeline.gate = new Promise((resolve) => { release = resolve })
    const a = packBatches([rec(1)])[0]!
    const b = packBatches([rec(2), rec(3)])[0]!
    ps.deliver(signed(TOPIC_DELETES, a, 'peer-B'))
    ps.deliver(signed(TOPIC_DELETES, b, 'peer-C'))
    await flushMicrotasks()
    expect(pipeline.calls.map((c) => c.recs.map((r) => Number(r.seq)))).toEqual([[1]]) // b waits for a
    release()
    await dg.stop() // waits for both
    expect(pipeline.calls).toEqual([{ recs: [rec(1)], source: 'gossip' }, { recs: [rec(2), rec(3)], source: 'gossip' }])
    expect(pipeline.maxActive).toBe(1)
    expect(await counter(metrics.gossipBytes, { topic: 'deletes', direction: 'in' })).toBe(a.byteLength + b.byteLength)
  })

  it('a failing ingest is logged with its sender, and the next batch is still ingested', async () => {
    const { ps, pipeline, log, dg } = setup()
    pipeline.failNext = new Error('disk full')
    ps.deliver(signed(TOPIC_DELETES, packBatches([rec(1)])[0]!, 'peer-B'))
    ps.deliver(signed(TOPIC_DELETES, packBatches([rec(2)])[0]!, 'peer-C'))
    await dg.stop()
    expect(pipeline.calls.map((c) => Number(c.recs[0]!.seq))).toEqual([1, 2])
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([
      { level: 'error', obj: { from: 'peer-B', err: 'Error: disk full' }, msg: 'ingesting gossiped deletes failed' }
    ])
  })

  it('stop() waits for an ingest in progress', async () => {
    const { ps, pipeline, dg } = setup()
    let release!: () => void
    pipeline.gate = new Promise((resolve) => { release = resolve })
    ps.deliver(signed(TOPIC_DELETES, packBatches([rec(1)])[0]!, 'peer-B'))
    let stopped = false
    const stopping = dg.stop().then(() => { stopped = true })
    await flushMicrotasks()
    expect(pipeline.active).toBe(1)
    expect(stopped).toBe(false)
    release()
    await stopping
    expect(pipeline.active).toBe(0)
  })
})
