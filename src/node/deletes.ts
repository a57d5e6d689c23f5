// The delete pipeline: every delete record, whatever brought it (this node's API, gossip,
// anti-entropy, the log at start), goes through ingest(): persist (fsynced) → apply to the
// tombstone index → purge covered objects from disk and cache. Applying before purging
// means the store's write gate refuses covered writes from that moment on; purging after
// the in-flight writes settle means none slips past between the gate and the purge.
import type { Logger } from 'pino'
import type { DeleteLogApi } from '../tombstones/deleteLogApi.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { describeRecord, recordCovers, type DeleteRec } from '../tombstones/record.js'
import type { ObjectStoreApi } from '../store/objectStoreApi.js'
import { vidToDataOid } from '../oid.js'
import { hex } from '../log.js'
import { hlcPhysical } from '../hlc.js'
import type { NodeMetrics } from './metrics.js'

/** `late`: refused while the delete log could not be written, durable since its retry succeeded */
export type RecordSource = 'local' | 'gossip' | 'ae' | 'disk' | 'late'

export class DeletePipeline {
  /** told of every record newly persisted here (the anti-entropy set mirrors the log) */
  onFresh?: (recs: DeleteRec[]) => void
  /** drops records the GC floor already stands for, before they reach the log */
  filter?: (recs: DeleteRec[]) => DeleteRec[]
  /** told of late records once they are applied and purged (the node gossips its own) */
  onLate?: (recs: DeleteRec[]) => void
  /**
   * True for an object version no honest clock can have made (HybridClock.implausible). A
   * discard removes such a copy of an object it names whatever the version: a discard covers
   * versions up to its HLC, and a forged version from the far future would survive every one.
   */
  implausible?: (version: bigint) => boolean
  /** late batches still being applied and purged: the node does not serve until this is 0 */
  catchingUp = 0

  constructor (
    private readonly log: DeleteLogApi,
    private readonly index: TombstoneIndex,
    private readonly store: ObjectStoreApi,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
    /** this node's clock (ms), for the age of arriving records */
    private readonly now: () => number = Date.now
  ) {}

  /** Persist, apply and purge; returns the records that were new to this node. */
  async ingest (recs: DeleteRec[], source: RecordSource): Promise<DeleteRec[]> {
    const arrived = performance.now()
    if (this.filter != null) recs = this.filter(recs)
    if (recs.length === 0) return []
    return await this.applyFresh(await this.log.append(recs), source, arrived)
  }

  /**
   * The delete log made these durable only after it had been unavailable (their first append
   * was refused): apply and purge them now, as ingest would have.
   */
  applyLate (recs: DeleteRec[]): void {
    this.catchingUp++
    this.applyFresh(recs, 'late', performance.now())
      .catch((err) => { this.logger.error({ err: String(err), records: recs.length }, 'purging for late delete records failed') })
      .finally(() => {
        this.catchingUp--
        // applied even if a purge failed: the records are durable and must reach the peers
        try { this.onLate?.(recs) } catch (err) { this.logger.error({ err: String(err) }, 'gossiping late delete records failed') }
      })
  }

  /** apply (synchronously, before the first await) → purge; `fresh` are durable and new here */
  private async applyFresh (fresh: DeleteRec[], source: RecordSource, arrived: number): Promise<DeleteRec[]> {
    for (const rec of fresh) this.index.apply(rec)
    if (fresh.length === 0) return fresh
    this.onFresh?.(fresh)
    this.metrics.recordsApplied.inc({ source }, fresh.length)
    this.metrics.deleteLogRecords.set(this.log.size)
    const now = this.now()
    // a record from a clock running ahead of ours has no meaningful age: counted as 0
    for (const rec of fresh) this.metrics.recordAge.observe({ source }, Math.max(0, now - hlcPhysical(rec.hlc)) / 1000)
    await this.store.settle()
    let purged = 0
    for (const rec of fresh) purged += await this.purge(rec)
    const took = (performance.now() - arrived) / 1000
    for (let i = 0; i < fresh.length; i++) this.metrics.purgeSeconds.observe({ source }, took)
    this.logger.info({ source, records: fresh.length, purged, first: describeRecord(fresh[0]), hlc: hex(fresh[0].hlc) }, 'delete records applied')
    return fresh
  }

  /** At start, before serving anyone: every tombstone applied, every covered object purged. */
  async applyAll (): Promise<number> {
    const recs = this.log.records()
    for (const rec of recs) this.index.apply(rec)
    this.metrics.deleteLogRecords.set(this.log.size)
    let purged = 0
    for (const rec of recs) purged += await this.purge(rec)
    return purged
  }

  /** every object of vid with generation <= gen (a whole-VDI record, or a floor entry) */
  async purgeVid (vid: number, gen: number): Promise<number> {
    await this.store.settle()
    const n = await this.store.removeVid(vid, (meta) => meta.generation > gen)
    if (n > 0) this.metrics.oidsPurged.inc(n)
    this.metrics.objects.set(this.store.cache.size)
    return n
  }

  /**
   * Read-repair: purge those of `oids` that this node's own tombstones cover (a peer only
   * hinted at them; its word alone never removes anything). Returns what was purged and
   * the oids still held that no tombstone here covers.
   */
  async purgeCovered (oids: bigint[]): Promise<{ purged: number, uncovered: bigint[] }> {
    await this.store.settle()
    let purged = 0
    const uncovered: bigint[] = []
    for (const oid of oids) {
      if (!this.store.has(oid)) continue
      let covered = false
      const removed = await this.store.removeIf(oid, (meta) => (covered = this.index.covers(oid, meta.generation, meta.version) != null))
      if (removed) purged++
      else if (!covered && this.store.has(oid)) uncovered.push(oid)
    }
    if (purged > 0) this.metrics.oidsPurged.inc(purged)
    this.metrics.objects.set(this.store.cache.size)
    return { purged, uncovered }
  }

  private async purge (rec: DeleteRec): Promise<number> {
    let n = 0
    if (rec.kind === 'vdi') {
      n = await this.store.removeVid(rec.vid, (meta) => meta.generation > rec.generation)
    } else {
      for (const idx of rec.indexes) {
        const oid = vidToDataOid(rec.vid, idx)
        if (!this.store.has(oid)) continue
        if (await this.store.removeIf(oid, (meta) => recordCovers(rec, oid, meta.generation, meta.version) ||
          (meta.generation === rec.generation && this.implausible?.(meta.version) === true))) n++
      }
    }
    if (n > 0) this.metrics.oidsPurged.inc(n)
    this.metrics.objects.set(this.store.cache.size)
    return n
  }
}
