// The node's driver of its DeleteReplica (src/tombstones/replica.ts): executes the replica's
// effects against the real delete log, object store and floor file, in order, and reports
// each completion back; runs folds one at a time; wires the replica into the anti-entropy
// service (typed openings, relayed records and floors through admission). Everything a
// delete does on this node, whatever brought it (the API, gossip, anti-entropy, the log at
// start, a late append), goes through here: persist (fsynced) → apply → purge.
import type { Logger } from 'pino'
import type { DeleteLogApi } from '../tombstones/deleteLogApi.js'
import type { Floor } from '../tombstones/floor.js'
import { describeRecord, recordCovers, type DeleteRec } from '../tombstones/record.js'
import type { DeleteReplica } from '../tombstones/replica.js'
import type { Beacon, Effect, FloorEntry, Opening, RecordSource } from '../tombstones/replicaTypes.js'
import type { ObjectStoreApi, RemoveOptions } from '../store/objectStoreApi.js'
import type { AeHandler } from '../net/aeService.js'
import { vidToDataOid } from '../oid.js'
import { hex } from '../log.js'
import { hlcPhysical } from '../hlc.js'
import type { NodeMetrics } from './metrics.js'
import type { RecordAdmission } from './admission.js'

export type { RecordSource }

/**
 * Every purge here removes what a tombstone covers, and the tombstone is durable before the
 * purge starts (the log, or the floor file); every start purges what they cover before the
 * node serves. An unlink a power loss undoes is redone then, so purges skip the directory fsync.
 */
const PURGE: RemoveOptions = { durable: false }

/** where effects leave the delete machinery: gossip, the session scheduler, refusal counters */
export interface DeleteOutlets {
  /** DeleteGossip.publish (src/net/deleteGossip.ts); the node joins the two once the libp2p host exists */
  publish (recs: DeleteRec[]): void
  /** AeScheduler.onConnect / onBeacon (src/antientropy/aeScheduler.ts) */
  startSession (peer: string, reason: 'connected' | 'beacon', summary?: Beacon['log']): void
  reject (kind: string, reason: string, peer: string): void
  /** run a session with `peer` now (undefined: none ran) */
  syncNow (peer: string): Promise<{ error?: string } | undefined>
}

export interface DriverDeps {
  replica: DeleteReplica
  log: DeleteLogApi
  store: ObjectStoreApi
  floorFile: Floor
  metrics: NodeMetrics
  logger: Logger
  out: DeleteOutlets
  /** this node's clock (ms), for the age of arriving records */
  now?: () => number
  /**
   * True for an object version no honest clock can have made (HybridClock.implausible). A
   * discard removes such a copy of an object it names whatever the version: a discard covers
   * versions up to its HLC, and a forged version from the far future would survive every one.
   */
  implausible?: (version: bigint) => boolean
}

/** what executing some effects did */
export interface Outcome {
  /** records the log made durable that were new to it */
  fresh: DeleteRec[]
  purged: number
  /** records folded out of the log */
  dropped: number
  /** floor entries from a peer applied (and purged) */
  floorEntries: number
}

export class DeleteDriver {
  /** late batches still being applied and purged: the node does not serve until this is 0 */
  catchingUp = 0
  private folds: Promise<unknown> = Promise.resolve()
  private gcRunning: Promise<number> | undefined
  private stopped = false

  constructor (private readonly d: DriverDeps) {}

  get replica (): DeleteReplica { return this.d.replica }

  /** Start, before serving: the saved floor and every logged record applied, what they cover purged. */
  async load (): Promise<number> {
    return (await this.execute(this.d.replica.load(this.d.floorFile.state()))).purged
  }

  /** Persist, apply and purge; returns the records that were new to this node. */
  async ingest (recs: DeleteRec[], source: RecordSource): Promise<DeleteRec[]> {
    return (await this.execute(this.d.replica.onRecords(recs, source))).fresh
  }

  /** the seq of this node's next own record (the replica's allocator) */
  nextSeq (): bigint { return this.d.replica.nextSeq() }

  /** this node's own records: persisted, applied, purged, then gossiped */
  async originate (recs: DeleteRec[]): Promise<DeleteRec[]> {
    return (await this.execute(this.d.replica.originate(recs))).fresh
  }

  /**
   * The delete log made these durable only after it had been unavailable (their first append
   * was refused): apply and purge them now, as ingest would have; ours are gossiped.
   */
  applyLate (recs: DeleteRec[]): void {
    this.catchingUp++
    const effects = this.d.replica.appended(recs, 'late')
    if (recs.length > 0) this.applied(recs, 'late')
    this.execute(effects.filter((e) => e.type !== 'publish'))
      .catch((err) => { this.d.logger.error({ err: String(err), records: recs.length }, 'purging for late delete records failed') })
      .finally(() => {
        this.catchingUp--
        // gossiped even if a purge failed: the records are durable and must reach the peers
        this.execute(effects.filter((e) => e.type === 'publish'))
          .catch((err) => { this.d.logger.error({ err: String(err) }, 'gossiping late delete records failed') })
      })
  }

  /** One GC round (a tick of the replica), inside the fold chain. Returns the records folded. */
  async gcRound (now: () => bigint): Promise<number> {
    if (this.stopped) return 0
    if (this.gcRunning != null) { await this.gcRunning; return 0 }
    this.gcRunning = this.inFold(() => this.d.replica.tick(now())).then((o) => o.dropped)
    try { return await this.gcRunning } finally { this.gcRunning = undefined }
  }

  /**
   * Floor entries a peer sent (admission passed them): saved, only then adopted, applied and
   * purged, inside the fold chain. Resolves to the objects purged.
   */
  async takeFloor (entries: FloorEntry[], reset: boolean): Promise<number> {
    const o = await this.inFold(() => this.d.replica.takeFloor(entries, reset))
    if (o.floorEntries > 0) this.d.logger.info({ entries: o.floorEntries, purged: o.purged }, 'applied floor entries from a peer')
    return o.purged
  }

  /** no new GC rounds; resolves once folds in progress have finished (before the log closes) */
  async stop (): Promise<void> {
    this.stopped = true
    await this.gcRunning?.catch(() => {})
    await this.folds.catch(() => {})
  }

  /**
   * Purge before serve: a peer is served objects and object lists only once this node has
   * reconciled delete records with it since their connection opened (a rejoining node, or
   * one that rejoined us, may hold tombstones the other lacks). Runs a session if needed.
   */
  async reconciledWith (peer: string): Promise<string | undefined> {
    if (this.d.replica.reconciled(peer)) return undefined
    const report = await this.d.out.syncNow(peer)
    if (this.d.replica.reconciled(peer)) return undefined
    return `not serving ${peer} yet: delete records not reconciled with it (${report?.error ?? 'session did not run'})`
  }

  /**
   * A peer's tombstones cover these copies of ours. Purge what our own tombstones cover; if
   * some are not covered here, we lack a record the peer has: reconcile with it, then retry.
   */
  async readRepair (oids: bigint[], from: string): Promise<number> {
    const first = await this.purgeCovered(oids)
    if (first.uncovered.length === 0 || from === this.d.replica.self) return first.purged
    await this.d.out.syncNow(from)
    const second = await this.purgeCovered(first.uncovered)
    if (second.uncovered.length > 0) this.d.logger.warn({ from, kept: second.uncovered.length }, 'read-repair: hinted copies not covered by any tombstone here; kept')
    return first.purged + second.purged
  }

  /**
   * Read-repair: purge those of `oids` that this node's own tombstones cover (a peer only
   * hinted at them; its word alone never removes anything). Returns what was purged and
   * the oids still held that no tombstone here covers.
   */
  async purgeCovered (oids: bigint[]): Promise<{ purged: number, uncovered: bigint[] }> {
    const { store, metrics } = this.d
    const index = this.d.replica.index
    await store.settle()
    let purged = 0
    const uncovered: bigint[] = []
    for (const oid of oids) {
      if (!store.has(oid)) continue
      let covered = false
      const removed = await store.removeIf(oid, (meta) => (covered = index.covers(oid, meta.generation, meta.version) != null), PURGE)
      if (removed) purged++
      else if (!covered && store.has(oid)) uncovered.push(oid)
    }
    if (purged > 0) metrics.oidsPurged.inc(purged)
    metrics.objects.set(store.cache.size)
    return { purged, uncovered }
  }

  /**
   * The node's side of anti-entropy: the replica's set, its opening, and what a session
   * brings (records, the peer's opening and floor) through the trust checks.
   */
  aeHandler (admission: Pick<RecordAdmission, 'checkRelayed' | 'checkFloor'> | undefined, hlcNow: () => bigint): AeHandler {
    const r = this.d.replica
    return {
      set: r.set,
      ingest: async (recs, peer) => await this.relayed(recs, peer, admission),
      opening: (peer) => r.sessionOpening(peer, hlcNow()),
      onOpening: async (peer, o) => {
        r.onOpening(peer, o)
        if (o.floor.length > 0) return await this.floorFrom(peer, o, admission)
      },
      rejected: (kind, reason, peer) => { this.d.out.reject(kind, reason, peer) },
      ended: (report, theirs) => {
        this.d.metrics.aeSession(report)
        r.onSessionEnd(report.peer, { startedAt: report.startedAt, error: report.error, theirs })
      }
    }
  }

  /**
   * Records an anti-entropy session learned: each checked on its own (admission.ts), the
   * accepted ones made durable, applied and purged. Returns why the session is not a full
   * reconciliation when some were refused for what may be this node's lack of knowledge (a
   * record forged under our own origin is refused with certainty, and does not count).
   */
  private async relayed (recs: DeleteRec[], peer: string, admission: Pick<RecordAdmission, 'checkRelayed'> | undefined): Promise<string | undefined> {
    if (admission === undefined) { await this.ingest(recs, 'ae'); return undefined }
    const { accepted, refused } = await admission.checkRelayed(recs)
    for (const x of refused) this.d.out.reject(x.kind, x.reason, peer)
    if (accepted.length > 0) await this.ingest(accepted, 'ae')
    const unsure = refused.filter((x) => x.kind !== 'delete-own-origin')
    return unsure.length === 0 ? undefined : `${unsure.length} relayed records refused (${unsure[0]!.kind}: ${unsure[0]!.reason})`
  }

  /**
   * A peer's floor (its opening). A malformed entry refuses the whole floor and ends the
   * session (throws: nothing of the frame is applied); an entry beyond what this node can take
   * is refused alone, and the session is then not a full reconciliation.
   */
  private async floorFrom (peer: string, o: Opening, admission: Pick<RecordAdmission, 'checkFloor'> | undefined): Promise<string | undefined> {
    let accepted: FloorEntry[] = o.floor
    let refused: Array<{ kind: string, reason: string }> = []
    if (admission !== undefined) {
      const f = await admission.checkFloor(o.floor)
      if (f.malformed !== undefined) {
        this.d.out.reject(f.malformed.kind, `floor of ${o.floor.length} entries refused whole: ${f.malformed.reason}`, peer)
        throw new Error(`floor refused: ${f.malformed.reason}`)
      }
      for (const x of f.refused) this.d.out.reject(x.kind, x.reason, peer)
      accepted = f.accepted
      refused = f.refused
    }
    const arrived = performance.now()
    const purged = await this.takeFloor(accepted, o.reset)
    if (purged > 0) this.d.metrics.purgeSeconds.observe({ source: o.reset ? 'reset' : 'floor' }, (performance.now() - arrived) / 1000)
    return refused.length === 0 ? undefined : `${refused.length} floor entries refused (${refused[0]!.reason})`
  }

  /**
   * Begins a fold (`begin`: the replica's tick or takeFloor) once every earlier fold has
   * finished, and runs it to its end: folds rewrite the same floor and log. A fold that fails
   * midway (a save, a purge, a compaction) is abandoned: the floor stays as last saved.
   */
  private async inFold (begin: () => Effect[]): Promise<Outcome> {
    const run = this.folds.then(async () => {
      try {
        return await this.execute(begin())
      } finally {
        if (this.d.replica.folding) this.d.replica.foldFailed()
      }
    })
    this.folds = run.catch(() => {})
    return await run
  }

  /**
   * Executes effects in order, each one's follow-ups (what the replica answered to its
   * completion) before the rest. After a failure only `publish` effects still run (records
   * durable here must reach the peers even if a purge failed); then the failure is thrown.
   */
  async execute (effects: Effect[]): Promise<Outcome> {
    const out: Outcome = { fresh: [], purged: 0, dropped: 0, floorEntries: 0 }
    const arrived = performance.now()
    const queue = [...effects]
    let failure: { err: unknown } | undefined
    while (queue.length > 0) {
      const e = queue.shift()!
      if (failure !== undefined && e.type !== 'publish') continue
      try {
        queue.unshift(...await this.run(e, out, arrived))
      } catch (err) {
        failure ??= { err }
      }
    }
    if (failure !== undefined) throw failure.err
    return out
  }

  private async run (e: Effect, out: Outcome, arrived: number): Promise<Effect[]> {
    const { replica, metrics, logger } = this.d
    switch (e.type) {
      case 'append': {
        const fresh = await this.d.log.append(e.recs)
        // applied synchronously, before anything else may run (the store's write gate)
        const next = replica.appended(fresh, e.source)
        out.fresh.push(...fresh)
        if (fresh.length > 0) this.applied(fresh, e.source)
        return next
      }
      case 'purge': {
        await this.d.store.settle()
        let purged = 0
        for (const rec of e.recs) purged += await this.purge(rec)
        out.purged += purged
        if (e.source !== 'disk') {
          const took = (performance.now() - arrived) / 1000
          for (let i = 0; i < e.recs.length; i++) metrics.purgeSeconds.observe({ source: e.source }, took)
          logger.info({ source: e.source, records: e.recs.length, purged, first: describeRecord(e.recs[0]!), hlc: hex(e.recs[0]!.hlc) }, 'delete records applied')
        }
        return []
      }
      case 'purgeVid': {
        out.purged += await this.purgeVid(e.vid, e.generation)
        if (e.source !== 'disk') out.floorEntries++
        return []
      }
      case 'publish':
        this.d.out.publish(e.recs)
        return []
      case 'saveFloor':
        await this.d.floorFile.save(e.state)
        return replica.floorSaved(e.state)
      case 'compact': {
        const drop = new Set(e.drop.map((r) => `${r.origin}/${r.seq}`))
        const dropped = await this.d.log.compact((r) => drop.has(`${r.origin}/${r.seq}`))
        out.dropped += dropped
        const f = replica.floor
        logger.info({ dropped, horizon: f.horizon.toString(16), floor: f.size, log: this.d.log.size }, 'tombstones folded into the floor')
        return replica.compacted(dropped)
      }
      case 'startSession':
        this.d.out.startSession(e.peer, e.reason, e.summary)
        return []
      case 'reject':
        this.d.out.reject(e.kind, e.reason, e.peer)
        return []
    }
  }

  private applied (fresh: DeleteRec[], source: RecordSource): void {
    const { metrics } = this.d
    metrics.recordsApplied.inc({ source }, fresh.length)
    metrics.deleteLogRecords.set(this.d.log.size)
    const now = (this.d.now ?? Date.now)()
    // a record from a clock running ahead of ours has no meaningful age: counted as 0
    for (const rec of fresh) metrics.recordAge.observe({ source }, Math.max(0, now - hlcPhysical(rec.hlc)) / 1000)
  }

  /** every object of vid with generation <= gen (a whole-VDI record, or a floor entry) */
  private async purgeVid (vid: number, gen: number): Promise<number> {
    const { store, metrics } = this.d
    await store.settle()
    const n = await store.removeVid(vid, (meta) => meta.generation > gen, PURGE)
    if (n > 0) metrics.oidsPurged.inc(n)
    metrics.objects.set(store.cache.size)
    return n
  }

  private async purge (rec: DeleteRec): Promise<number> {
    const { store, metrics } = this.d
    let n = 0
    if (rec.kind === 'vdi') {
      n = await store.removeVid(rec.vid, (meta) => meta.generation > rec.generation, PURGE)
    } else {
      for (const idx of rec.indexes) {
        const oid = vidToDataOid(rec.vid, idx)
        if (!store.has(oid)) continue
        if (await store.removeIf(oid, (meta) => recordCovers(rec, oid, meta.generation, meta.version) ||
          (meta.generation === rec.generation && this.d.implausible?.(meta.version) === true), PURGE)) n++
      }
    }
    if (n > 0) metrics.oidsPurged.inc(n)
    metrics.objects.set(store.cache.size)
    return n
  }
}
