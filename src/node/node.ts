// A bellwether node: composes the object store, delete log, tombstone index, clock,
// membership, placement and the libp2p services, and implements ClusterIO for the VDI
// layer. Start order matters: tombstones are applied and purged before the node listens,
// so it never serves an object that a tombstone it already holds covers.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import type { Connection } from '@libp2p/interface'
import { create } from '@bufbuild/protobuf'
import { GetObjectSchema, ListObjectsSchema, ObjResponseSchema, PutObjectSchema, type ObjResponse } from '../wire/bellwether_pb.js'
import { ObjectStore } from '../store/objectStore.js'
import { DeleteLog } from '../tombstones/deleteLog.js'
import { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import type { DeleteRec } from '../tombstones/record.js'
import { HybridClock } from '../hlc.js'
import { skewed, systemTime, type Timers } from '../time.js'
import { Ring } from '../placement.js'
import { MembershipView, type ViewChange } from '../membership/view.js'
import { asGossipSub, createHost, hostState, splitHostPort, type Host } from '../net/host.js'
import { ObjectService } from '../net/objectService.js'
import { DIAL_TIMEOUT_MS, FAIL_AFTER_MS, MAX_OBJECT_SIZE, MAX_PURGE_HINT_OIDS, OBJ_PROTOCOL } from '../net/constants.js'
import { loadOrCreatePeerKey, PEER_KEY_FILE } from '../net/peerKey.js'
import { AppPartition } from '../net/partition.js'
import { AntiEntropyService } from '../net/aeService.js'
import { ReconSet } from '../antientropy/reconSet.js'
import { AeScheduler, sameSummary } from './aeScheduler.js'
import { Floor, FLOOR_FILE } from '../tombstones/floor.js'
import { removeTempFiles, TEMP_SUFFIX } from '../store/atomicFile.js'
import { EpochFile, EPOCH_FILE, RECOVERED_FILE } from './epochFile.js'
import { TombstoneGc } from './gc.js'
import { Recovery, type RecoveryIO } from '../recovery/recovery.js'
import { ReplicaRepair } from '../vdi/replicaRepair.js'
import { Status } from '../wire/bellwether_pb.js'
import { create as createMsg } from '@bufbuild/protobuf'
import { FloorEntrySchema, LogSummarySchema } from '../wire/bellwether_pb.js'
import { createLogger } from '../log.js'
import { VdiService } from '../vdi/vdiService.js'
import type { ClusterIO } from '../vdi/clusterIo.js'
import { DeletePipeline } from './deletes.js'
import { DeleteGossip } from './deleteGossip.js'
import { MembershipService } from './membership.js'
import { NodeObjectHandler } from './objectHandler.js'
import { NodeMetrics } from './metrics.js'
import { Rejections } from './rejections.js'
import { SeqAllocator } from './seqAllocator.js'
import type { NodeOptions } from './options.js'
import { RecordAdmission } from './admission.js'
import { nodeAdmissionState } from './admissionState.js'
import {
  aeSnapshot, deletesSnapshot, membersSnapshot, recoverySnapshot, statusSnapshot,
  type AeSnapshot, type ChaosSnapshot, type DeletesSnapshot, type MembersSnapshot, type RecoverySnapshot, type StatusSnapshot, type PeerStateCounts
} from './snapshots.js'
import { localCheck, type LocalCheckSnapshot } from './localCheck.js'

/** view changes come in bursts (a cluster starting, a partition); recover once they settle */
const RECOVERY_DEBOUNCE_MS = 1000
const RECOVERY_RETRY_MS = 3000
const GC_INTERVAL_MS = 2000
const REPAIR_INTERVAL_MS = 500
/** a safety net under replica repair: a coordinator that crashed mid-write leaves no repair behind */
const RECOVERY_PERIOD_MS = 60_000
const DEFAULT_EVICT_AFTER_MS = 24 * 3600 * 1000
/** how often live members not yet seen serving objects are identified again (confirmMembers) */
const CONFIRM_INTERVAL_MS = 5000

export class BellwetherNode implements ClusterIO {
  readonly metrics = new NodeMetrics({ processMetrics: true })
  readonly tombstones = new TombstoneIndex()
  readonly maxObjectSize = MAX_OBJECT_SIZE
  /** the one clock and timer source every part below is given (the system's) */
  readonly time: Timers = systemTime
  readonly store: ObjectStore
  readonly deleteLog: DeleteLog
  readonly clock: HybridClock
  log: Logger
  readonly startedAt = Date.now()
  /** added to the wall clock the HLC reads (clock-skew chaos); HLCs never go backwards whatever it does */
  clockOffsetMs: number
  readonly vdis: VdiService
  readonly pipeline: DeletePipeline
  readonly partition = new AppPartition()
  /** the delete records being reconciled: a mirror of the delete log, kept sorted by (hlc, hash) */
  readonly reconSet = new ReconSet()
  ae!: AntiEntropyService
  aeScheduler!: AeScheduler
  readonly floor: Floor
  /** what start() found wrong but could start without (a bad floor entry, a bad epoch file, …), each naming file and entry */
  readonly startupProblems: string[] = []
  private readonly epochFile: EpochFile
  private logDown = false
  private readonly recoveredFile: EpochFile
  gc!: TombstoneGc
  private gcTimer: NodeJS.Timeout | undefined
  recovery!: Recovery
  repair!: ReplicaRepair
  private repairTimer: NodeJS.Timeout | undefined
  private periodicRecovery: NodeJS.Timeout | undefined
  private recoveryTimer: NodeJS.Timeout | undefined
  private recoveryAbort: AbortController | undefined
  private recoveryRun: Promise<void> | undefined
  self = ''
  zone = 0
  private host!: Host
  private objects!: ObjectService
  private handler!: NodeObjectHandler
  membership!: MembershipService
  private deleteGossip!: DeleteGossip
  /** counts and logs refused peer input (bw_rejected_total{kind}) */
  rejections!: Rejections
  /** the trust checks on delete records and floor entries from peers */
  admission!: RecordAdmission
  private ring = new Ring([])
  private stopping = false

  constructor (readonly opts: NodeOptions, log?: Logger) {
    this.log = log ?? createLogger('bellwether', opts.logLevel)
    this.clockOffsetMs = opts.clockOffsetMs ?? 0
    // the offset is read on every tick, so chaos can skew a running node's clock
    this.clock = new HybridClock(skewed(this.time, () => this.clockOffsetMs))
    this.store = new ObjectStore(join(opts.dataDir, 'obj'))
    this.deleteLog = new DeleteLog(join(opts.dataDir, 'deletes.log'), { time: this.time })
    this.pipeline = new DeletePipeline(this.deleteLog, this.tombstones, this.store, this.metrics, this.log, () => this.time.now() + this.clockOffsetMs)
    this.pipeline.onFresh = (recs) => { for (const r of recs) this.reconSet.add(r) }
    this.pipeline.implausible = (version) => this.clock.implausible(version) != null
    // a disk that refuses the delete log: refuse object I/O (unavailable()) until a retry succeeds
    this.deleteLog.hooks = {
      writeFailed: (err) => {
        this.metrics.deleteLogWriteFailures.inc()
        // once per outage, not once per retry: a full disk can last for hours
        if (this.logDown) { this.log.debug({ err: String(err) }, 'delete log retry failed'); return }
        this.logDown = true
        this.log.error({ err: String(err) }, 'delete log write failed: refusing object reads and writes until a retry succeeds')
      },
      recovered: (recs) => {
        this.logDown = false
        this.log.warn({ records: recs.length }, 'delete log writable again: applying the records that waited')
        this.pipeline.applyLate(recs)
      }
    }
    this.metrics.deleteLogState = () => ({ failing: this.unavailable() != null, pending: this.deleteLog.pending })
    this.pipeline.onLate = (recs) => {
      const mine = recs.filter((r) => r.origin === this.self)
      if (mine.length > 0) this.deleteGossip?.publish(mine)
    }
    this.epochFile = new EpochFile(opts.dataDir, EPOCH_FILE)
    this.recoveredFile = new EpochFile(opts.dataDir, RECOVERED_FILE)
    this.floor = Floor.inDataDir(opts.dataDir)
    this.vdis = new VdiService(this, opts.copies)
  }

  async start (): Promise<void> {
    const { dataDir } = this.opts
    await mkdir(dataDir, { recursive: true })
    // never acknowledged, so safe to drop: what a crash mid-write left of the small files
    for (const f of [PEER_KEY_FILE, EPOCH_FILE, RECOVERED_FILE, FLOOR_FILE]) {
      const gone = await removeTempFiles(dataDir, `${f}${TEMP_SUFFIX}`)
      if (gone.length > 0) this.log.info({ files: gone }, 'removed temp files left by a crash')
    }
    const key = await loadOrCreatePeerKey(dataDir)
    this.self = peerIdFromPrivateKey(key).toString()
    this.zone = this.opts.zone ?? zoneFromAddress(this.opts.listen)
    this.log = this.log.child({ node: this.self.slice(-8) })
    this.answerRejections = new Rejections(this.metrics, this.log)

    // purge before serve: every tombstone we hold is applied to the store before anyone can ask for anything
    await this.store.open()
    const { records, tornBytes, removedTemps } = await this.deleteLog.open()
    if (tornBytes > 0) this.log.warn({ tornBytes }, 'delete log had a torn tail (crash mid-append); truncated')
    if (removedTemps.length > 0) this.log.info({ files: removedTemps }, 'removed temp files of an interrupted delete log compaction')
    await this.floor.open(this.self)
    this.startupProblems.push(...this.floor.problems)
    let purged = 0
    for (const [vid, gen] of this.floor.entries()) {
      this.tombstones.applyFloor(vid, gen)
      purged += await this.pipeline.purgeVid(vid, gen)
    }
    purged += await this.pipeline.applyAll()
    for (const r of this.deleteLog.records()) this.reconSet.add(r)
    this.metrics.objects.set(this.store.cache.size)
    this.log.info({ records, purged, objects: this.store.cache.size, strays: this.store.strays }, 'store and delete log open')

    const recovered = await this.recoveredFile.read()
    const saved = await this.epochFile.read()
    // a lost epoch restarts from the last recovered one: peers' heartbeats lift it past theirs
    const epoch = saved.problem == null ? saved.epoch : recovered.epoch
    if (saved.problem != null) this.startupProblems.push(`${saved.problem}; starting from epoch ${epoch}`)
    if (recovered.problem != null) this.startupProblems.push(`${recovered.problem}; recovery will run as if none completed`)
    for (const p of this.startupProblems) this.log.warn({ problem: p }, 'problem found at start')
    this.host = await createHost({ privateKey: key, listen: this.opts.listen, bootstrap: this.opts.bootstrap, pubsub: this.opts.pubsub, swarmKey: this.opts.swarmKey, connectionGater: this.partition.gater() })
    // counted so tests (and operators) can tell when a missed gossip message is out of every cache
    asGossipSub(this.host)?.addEventListener('gossipsub:heartbeat', () => { this.metrics.gossipHeartbeats.inc() })
    this.metrics.hostState = () => hostState(this.host)
    const selfInfo = { peerId: this.self, addrs: [], zone: this.zone, api: `http://${this.opts.api}`, incarnation: BigInt(Date.now()) }
    const view = new MembershipView(selfInfo, { failAfterMs: FAIL_AFTER_MS, evictAfterMs: this.opts.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS }, epoch)
    this.handler = new NodeObjectHandler(this.store, this.tombstones, this.clock, this.metrics, this.log,
      async (peer) => await this.reconciledWith(peer), async (oids, from) => await this.readRepair(oids, from), () => this.unavailable())
    this.objects = new ObjectService(this.host, this.handler, this.log)
    this.membership = new MembershipService(this.host, selfInfo, view, this.clock, this.log, this.metrics, {
      objects: () => this.store.cache.size,
      logSummary: () => ({ ...this.deleteLog.summary(), ack: this.gc.ack(), gcHorizon: this.floor.horizon, floorHash: this.floor.hash() }),
      busy: () => this.busy()
    }, this.opts.bootstrap, (change) => { this.onViewChange(change) }, this.time)
    this.rejections = new Rejections(this.metrics, this.log)
    this.admission = new RecordAdmission(nodeAdmissionState({
      self: this.self,
      members: () => this.membership.view.known().map((m) => m.peerId),
      connected: (peer) => { try { return this.host.getConnections(peerIdFromString(peer)).length > 0 } catch { return false } },
      log: this.deleteLog,
      floor: this.floor,
      index: this.tombstones,
      store: this.store
    }))
    this.deleteGossip = new DeleteGossip(this.host, this.pipeline, this.metrics, this.log, this.admission, this.rejections, this.time)
    this.gc = new TombstoneGc({
      self: this.self,
      floor: this.floor,
      log: this.deleteLog,
      index: this.tombstones,
      set: this.reconSet,
      members: () => this.membership.view.known().map((m) => m.peerId),
      now: () => this.clock.now(),
      purgeVid: async (vid, gen) => await this.pipeline.purgeVid(vid, gen),
      logger: this.log
    })
    this.pipeline.filter = (recs) => this.gc.filter(recs)
    this.metrics.floorSize = () => this.floor.size
    this.metrics.foldedRecords = () => this.gc.folded
    this.ae = new AntiEntropyService(this.host, {
      set: this.reconSet,
      ingest: async (recs, peer) => await this.ingestRelayed(recs, peer),
      decorate: (frame, peer) => {
        frame.summary ??= createMsg(LogSummarySchema, {})
        frame.summary.now = this.clock.now()
        frame.summary.ack = this.gc.ack()
        frame.summary.gcHorizon = this.floor.horizon
        frame.summary.floorHash = this.floor.hash()
        frame.floorHash = this.floor.hash()
        const theirs = this.peerFloorHash.get(peer)
        frame.reset = this.gc.needsReset(peer)
        if (this.floor.size > 0 && (frame.reset || theirs !== this.floor.hash())) {
          frame.floor = this.floor.entries().map(([vid, generation]) => createMsg(FloorEntrySchema, { vid, generation }))
        }
      },
      inspect: async (frame, peer) => {
        this.peerFloorHash.set(peer, frame.floorHash)
        if (frame.summary != null) this.gc.noteAck(peer, frame.summary.ack)
        if (frame.floor.length > 0) return await this.takeFloor(frame.floor, frame.reset, peer)
      },
      rejected: (kind, reason, peer) => { this.rejections.note(kind, reason, { peer }) },
      ended: (report) => { this.metrics.aeSession(report) },
      completed: (report, peerSummary) => {
        const prev = this.syncedAt.get(report.peer) ?? 0
        if (report.startedAt > prev) this.syncedAt.set(report.peer, report.startedAt)
        if (peerSummary != null) this.gc.noteSession(report.peer, peerSummary.now)
      }
    }, this.log)
    this.aeScheduler = new AeScheduler(this.ae, {
      self: this.self,
      summary: () => ({ ...this.deleteLog.summary(), floorHash: this.floor.hash() }),
      // sessions ride existing connections; connecting is the membership redialer's job
      reachable: (peer) => !this.partition.isBlocked(peer) && this.host.getConnections(peerIdFromString(peer)).length > 0
    }, this.log, this.time)
    this.membership.onPeerState = (peer, st) => {
      this.gc.noteAck(peer, st.log.ack)
      // an identical summary means we hold every record the peer held when it beat: as good as a session
      if (sameSummary({ ...this.deleteLog.summary(), floorHash: this.floor.hash() }, st.log)) {
        this.gc.noteSession(peer, st.hlc)
      }
      this.peerFloorHash.set(peer, st.log.floorHash)
      this.aeScheduler.onBeacon(peer, st.log)
    }
    this.membership.onForget = (peers) => {
      for (const p of peers) {
        this.syncedAt.delete(p)
        this.connectedAt.delete(p)
        this.peerFloorHash.delete(p)
        this.objectPeers.delete(p)
        this.gc.forget(p)
        this.aeScheduler.forget(p)
      }
    }
    // a member is a placement target only once identify, over a direct connection, showed it
    // serving the object protocol (see objectPeers)
    this.host.addEventListener('peer:identify', (evt) => {
      try {
        const id = evt.detail.peerId.toString()
        if (this.objectPeers.has(id) || !evt.detail.protocols.includes(OBJ_PROTOCOL)) return
        this.objectPeers.add(id)
        if (this.membership.view.member(id) == null) return
        this.rebuildRing()
        this.scheduleRecovery(RECOVERY_DEBOUNCE_MS)
      } catch (err) {
        this.log.error({ err: String((err as Error)?.stack ?? err) }, 'placement update after identify failed')
      }
    })
    this.host.addEventListener('connection:open', (evt) => {
      const peer = evt.detail.remotePeer.toString()
      this.connectedAt.set(peer, Date.now())
      this.aeScheduler.onConnect(peer)
    })
    this.repair = new ReplicaRepair(this, async (vid) => (await this.vdis.inodeOf(vid))?.copies, this.log, () => { this.scheduleRecovery(0) })
    this.vdis.onPartialWrite = (oid) => { this.repair.enqueue(oid) }
    this.recovery = new Recovery(this.recoveryIO(), this.log, recovered.epoch, {
      parallel: this.opts.recoveryParallel,
      bytesPerSec: this.opts.recoveryRate,
      time: this.time
    })
    this.rebuildRing()

    await this.objects.start()
    await this.ae.start()
    this.deleteGossip.start()
    await this.host.start()
    this.membership.start()
    this.gcTimer = setInterval(() => {
      this.gc.collect().catch((err) => { this.log.error({ err: String(err) }, 'tombstone GC failed') })
    }, GC_INTERVAL_MS)
    this.scheduleRepair()
    this.confirmTimer = setInterval(() => { void this.confirmMembers() }, CONFIRM_INTERVAL_MS)
    this.periodicRecovery = setInterval(() => {
      if (!this.recovery.progress.running && this.recoveryTimer == null) this.scheduleRecovery(0)
    }, RECOVERY_PERIOD_MS)
    this.log.info({ peerId: this.self, addrs: this.multiaddrs(), epoch: view.epoch.toString() }, 'node started')
  }

  async stop (): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    if (this.gcTimer != null) clearInterval(this.gcTimer)
    if (this.repairTimer != null) clearTimeout(this.repairTimer)
    if (this.periodicRecovery != null) clearInterval(this.periodicRecovery)
    if (this.confirmTimer != null) clearInterval(this.confirmTimer)
    await this.repairRound
    await this.gc?.stop()
    if (this.recoveryTimer != null) clearTimeout(this.recoveryTimer)
    this.recoveryAbort?.abort()
    await this.recoveryRun
    this.aeScheduler?.stop()
    for (const part of [this.deleteGossip, this.membership, this.objects, this.ae, this.host]) {
      try { if (part != null) await part.stop() } catch (err) { this.log.warn({ err: String(err) }, 'error while stopping') }
    }
    // view changes write the epoch without waiting: nothing may touch the data dir after stop()
    await this.epochFile.idle()
    await this.recoveredFile.idle()
    await this.store.close()
    await this.deleteLog.close()
    this.log.info('node stopped')
  }

  /** deletes still waiting for a mesh, anti-entropy sessions, recovery, or replicas waiting for repair */
  busy (): boolean {
    return this.busyReasons().length > 0
  }

  /**
   * Why this node refuses object reads and writes right now, or undefined: while its delete
   * log cannot be written it may hold objects whose tombstones it could not store.
   */
  unavailable (): string | undefined {
    const why = this.deleteLog.unavailable()
    if (why != null) return why
    if (this.pipeline.catchingUp > 0) return 'delete log writable again: applying the delete records that waited'
    return undefined
  }

  /** why busy() is true, in words an operator can act on (`cluster wait` prints them) */
  busyReasons (): string[] {
    const out: string[] = []
    const down = this.unavailable()
    if (down != null) out.push(`refusing object reads and writes: ${down}`)
    const p = this.recovery.progress
    if (this.deleteGossip.topic.pending > 0) out.push(`${this.deleteGossip.topic.pending} delete batches waiting for a gossip mesh`)
    if (this.aeScheduler.active > 0) out.push(`${this.aeScheduler.active} anti-entropy sessions running`)
    if (p.running) out.push(`recovery of epoch ${p.epoch} running (${p.recovered}/${p.toRecover} recovered)`)
    if (this.recoveryTimer != null) {
      const why = p.finishedAt === 0 ? 'after a view change'
        : `last pass: ${p.failed} failed, ${p.peerFailures} peer failures, ${p.pendingDrops} copies kept until their new holders confirm`
      out.push(`recovery scheduled (${why})`)
    }
    if (this.repair.pending > 0) out.push(`${this.repair.pending} objects waiting for replica repair`)
    return out
  }

  private repairRound: Promise<void> | undefined

  /** replica repair rounds, one at a time, until the node stops */
  private scheduleRepair (): void {
    if (this.stopping) return
    this.repairTimer = setTimeout(() => {
      this.repairRound = this.repair.round()
        .catch((err) => { this.log.error({ err: String(err) }, 'replica repair round failed') })
        .finally(() => { this.metrics.repair(this.repair); this.scheduleRepair() })
    }, REPAIR_INTERVAL_MS)
  }

  multiaddrs (): string[] {
    return this.host.getMultiaddrs().map((a) => a.toString())
  }

  get libp2p (): Host { return this.host }

  /**
   * Purge before serve: a peer is served objects and object lists only once this node has
   * reconciled delete records with it since their connection opened (a rejoining node, or
   * one that rejoined us, may hold tombstones the other lacks). Runs a session if needed.
   */
  async reconciledWith (peer: string): Promise<string | undefined> {
    if (peer === this.self) return undefined
    const ok = (): boolean => (this.syncedAt.get(peer) ?? -1) >= (this.connectedAt.get(peer) ?? 0)
    if (ok()) return undefined
    const report = await this.aeScheduler.syncNow(peer)
    if (ok()) return undefined
    return `not serving ${peer} yet: delete records not reconciled with it (${report?.error ?? 'session did not run'})`
  }

  /**
   * A peer's tombstones cover these copies of ours. Purge what our own tombstones cover; if
   * some are not covered here, we lack a record the peer has: reconcile with it, then retry.
   */
  async readRepair (oids: bigint[], from: string): Promise<number> {
    const first = await this.pipeline.purgeCovered(oids)
    if (first.uncovered.length === 0 || from === this.self) return first.purged
    await this.aeScheduler.syncNow(from)
    const second = await this.pipeline.purgeCovered(first.uncovered)
    if (second.uncovered.length > 0) this.log.warn({ from, kept: second.uncovered.length }, 'read-repair: hinted copies not covered by any tombstone here; kept')
    return first.purged + second.purged
  }

  private onViewChange (change: ViewChange): void {
    this.epochFile.write(change.epoch).catch((err) => { this.log.warn({ err: String(err) }, 'could not persist epoch') })
    if (!change.placementChanged) {
      // nothing moves, but a member that restarted unnoticed took its in-flight writes and its
      // replica-repair queue with it: compare versions among holders (a recovery pass)
      if ((change.restarted?.length ?? 0) > 0) {
        this.log.info({ restarted: change.restarted }, 'member restarted: recovery pass to find replicas its lost writes and repairs left behind')
        this.scheduleRecovery(RECOVERY_DEBOUNCE_MS)
      }
      return
    }
    this.rebuildRing()
    this.scheduleRecovery(RECOVERY_DEBOUNCE_MS)
  }

  /** (re)start recovery for the current epoch after `delayMs`; a run in progress is aborted (its work stays on disk) */
  private scheduleRecovery (delayMs: number): void {
    if (this.stopping) return
    if (this.recoveryTimer != null) clearTimeout(this.recoveryTimer)
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined
      this.recoveryAbort?.abort()
      const ctl = this.recoveryAbort = new AbortController()
      const epoch = this.membership.view.epoch
      const prev = this.recoveryRun ?? Promise.resolve()
      this.recoveryRun = prev.then(async () => {
        if (ctl.signal.aborted) return
        const complete = await this.recovery.run(epoch, ctl.signal)
        this.metrics.recovery(this.recovery.totals)
        // incomplete, or copies kept until their new holders confirm: try again while the view stands
        // (a newer epoch with the same placement schedules nothing itself, so retry whatever the epoch)
        if (!ctl.signal.aborted && (!complete || this.recovery.progress.pendingDrops > 0)) {
          this.scheduleRecovery(RECOVERY_RETRY_MS)
        }
      }).catch((err) => { this.log.error({ err: String(err) }, 'recovery failed') })
    }, delayMs)
  }

  private recoveryIO (): RecoveryIO {
    const header = (r: { status: Status, version: bigint, generation: number }): { version: bigint, generation: number } | undefined =>
      r.status === Status.OK ? { version: r.version, generation: r.generation } : undefined
    return {
      self: this.self,
      members: () => this.members(),
      placement: (oid, copies) => this.placement(oid, copies),
      copiesOf: async (vid) => (await this.vdis.inodeOf(vid))?.copies,
      reconcile: async (peer) => { const r = await this.aeScheduler.syncNow(peer); return r == null ? 'no session (peer unreachable)' : r.error },
      list: async (peer) => {
        const oids: bigint[] = []
        const versions: bigint[] = []
        const gens: number[] = []
        const take = (o: bigint[], v: bigint[], g: number[]): void => { oids.push(...o); versions.push(...v); gens.push(...g) }
        if (peer === this.self) {
          for await (const chunk of this.handler.list(createMsg(ListObjectsSchema, {}), this.self, 0n)) {
            const h = await this.handler.headers(chunk)
            take(chunk, h.versions, h.generations)
          }
        } else {
          for await (const r of this.objects.list(peer, { withVersions: true })) take(r.oids, r.versions, r.generations)
        }
        // an object that vanished while it was listed comes back as version 0: leave it out
        const keep = versions.map((v) => v > 0n)
        return {
          peer,
          oids: BigUint64Array.from(oids.filter((_, i) => keep[i])),
          versions: BigUint64Array.from(versions.filter((_, i) => keep[i])),
          generations: Uint32Array.from(gens.filter((_, i) => keep[i]))
        }
      },
      fetch: async (peer, oid) => {
        const r = await this.get(peer, oid)
        if (r.status === Status.DELETED) return 'deleted'
        if (r.status === Status.NOT_FOUND) return 'missing'
        const h = header(r)
        if (h == null) throw new Error(`${Status[r.status]} ${r.error}`)
        return { header: h, data: r.data }
      },
      store: async (oid, h, data) => {
        const r = await this.put(this.self, { oid, generation: h.generation, version: h.version, data })
        if (r.status === Status.OK) return 'ok'
        if (r.status === Status.DELETED) return 'deleted'
        if (r.status === Status.STALE) return 'stale'
        throw new Error(`local store of ${oid.toString(16)} failed: ${r.error}`)
      },
      drop: async (oid, version) => await this.store.removeIf(oid, (m) => m.version === version),
      covered: (oid, h) => this.tombstones.covers(oid, h.generation, h.version) != null,
      tellDeleted: async (peer, hint) => {
        let purged = 0
        for (let i = 0; i < hint.oids.length; i += MAX_PURGE_HINT_OIDS) {
          const part = { oids: hint.oids.slice(i, i + MAX_PURGE_HINT_OIDS), generations: hint.generations.slice(i, i + MAX_PURGE_HINT_OIDS), versions: hint.versions.slice(i, i + MAX_PURGE_HINT_OIDS) }
          if (peer === this.self) { purged += await this.readRepair(part.oids, peer); continue }
          const r = await this.objects.purgeHint(peer, part)
          if (r.status !== Status.OK) throw new Error(`purge hint refused by ${peer}: ${r.error}`)
          purged += r.purged
        }
        return purged
      },
      completed: async (epoch) => { await this.recoveredFile.write(epoch) }
    }
  }

  private confirmTimer: NodeJS.Timeout | undefined
  private confirming = false

  /**
   * Live members not yet seen serving the object protocol are identified again over a
   * connection we have: the identify that runs when a connection opens can time out on a
   * loaded machine, and a real node must not stay out of placement for that. Never throws.
   */
  private async confirmMembers (): Promise<void> {
    if (this.confirming || this.stopping) return
    this.confirming = true
    try {
      const identify = this.host.services.identify as { identify?: (c: Connection, o: { signal: AbortSignal }) => Promise<unknown> }
      if (typeof identify.identify !== 'function') return
      for (const m of this.membership.view.members()) {
        if (m.peerId === this.self || this.objectPeers.has(m.peerId)) continue
        const conn = this.host.getConnections(peerIdFromString(m.peerId))[0]
        if (conn == null) continue
        await identify.identify(conn, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch((err) => {
          this.log.debug({ peer: m.peerId, err: String((err as Error)?.message ?? err) }, 'identify of a member failed')
        })
      }
    } catch (err) {
      this.log.warn({ err: String((err as Error)?.message ?? err) }, 'confirming members failed')
    } finally {
      this.confirming = false
    }
  }

  /**
   * Placement targets: this node and the live members seen serving the object protocol. Why
   * not every live member: membership comes from signed heartbeats, which any holder of the
   * swarm key can publish, relayed by gossip — a voice, not proof that the signer can store
   * anything. A heartbeat alone (with a new zone, it is picked for most objects, as replicas
   * go to distinct zones) made its signer a replica target that every write then failed on.
   * Identify runs on every connection, so a real node is confirmed within a round trip of
   * connecting, usually before its first heartbeat arrives; confirmation stays for the
   * process's life (a node that dies leaves the view, a restart is identified again).
   */
  private rebuildRing (): void {
    const members = (this.membership?.view.members() ?? []).filter((m) => m.peerId === this.self || this.objectPeers.has(m.peerId))
    this.ring = new Ring(members.length > 0 ? members.map((m) => ({ id: m.peerId, zone: m.zone })) : [{ id: this.self, zone: this.zone }])
  }

  // ---- ClusterIO ----

  /** the nodes that hold data: the placement ring's (see rebuildRing), sorted by peer id */
  members (): string[] { return this.ring.nodes.map((n) => n.id) }
  zones (): number { return this.ring.zoneCount() }
  placement (oid: bigint, copies: number): string[] { return this.ring.pick(oid, copies) }
  now (): bigint { return this.clock.now() }
  observe (hlc: bigint): void {
    try { this.clock.observe(hlc) } catch (err) { this.log.warn({ err: String(err) }, 'version from a drifting clock not observed') }
  }
  nextSeq (): bigint {
    return this.seqs.take()
  }

  /** entries kept per peer, by map: every one shrinks back when members are evicted (bounded state) */
  peerState (): PeerStateCounts {
    const m = this.membership.peerStateSizes()
    const g = this.gc.peerEntries
    return {
      heartbeats: m.heartbeats,
      backoffs: m.backoffs,
      synced: this.syncedAt.size,
      connected: this.connectedAt.size,
      floorHashes: this.peerFloorHash.size,
      objectPeers: this.objectPeers.size,
      gcSynced: g.synced,
      gcAcks: g.acks,
      aeSlots: this.aeScheduler.slots,
      known: this.membership.view.known().length - 1
    }
  }

  /** the vid's whole-VDI delete is folded (stable everywhere): its next generation may be created */
  stableFloor (vid: number): number | undefined {
    return this.floor.get(vid)
  }
  // folded records left the log, but their seqs stay used (the floor file remembers them)
  private readonly seqs = new SeqAllocator(() => {
    const next = this.deleteLog.nextSeq(this.self)
    const folded = this.floor.seq(this.self)
    return next > folded ? next : folded + 1n
  })
  /** per peer: when the last clean anti-entropy session with it started / its last connection opened (ms) */
  private readonly syncedAt = new Map<string, number>()
  private readonly connectedAt = new Map<string, number>()
  /** per peer: its floor digest as last announced (decides whether a session ships our floor) */
  private readonly peerFloorHash = new Map<string, bigint>()
  /** peers identify showed serving the object protocol; one entry per swarm-key holder ever connected */
  private readonly objectPeers = new Set<string>()
  /** peers' answers refused (a GET answered with an impossible version) */
  private answerRejections!: Rejections

  async put (peer: string, obj: { oid: bigint, generation: number, version: bigint, data: Uint8Array }): Promise<ObjResponse> {
    if (peer === this.self) return await this.handler.put(create(PutObjectSchema, obj), this.self, 0n)
    return await this.objects.put(peer, obj)
  }

  async get (peer: string, oid: bigint, headerOnly = false, expectBytes?: number): Promise<ObjResponse> {
    if (peer === this.self) return await this.handler.get(create(GetObjectSchema, { oid, headerOnly }), this.self, 0n)
    const r = await this.objects.get(peer, oid, headerOnly, expectBytes)
    // a peer's answer is bounded like its requests: a version from the far future would win every read
    const why = r.status === Status.OK ? this.clock.implausible(r.version) : undefined
    if (why == null) return r
    this.answerRejections.note('version', `${peer} answered version ${r.version} of ${oid.toString(16)}, which ${why}`)
    return create(ObjResponseSchema, { status: Status.ERROR, oid, error: `${peer} answered version ${r.version} of ${oid.toString(16)}, which ${why}` })
  }

  async listInodes (peer: string): Promise<bigint[]> {
    const out: bigint[] = []
    if (peer === this.self) {
      for await (const chunk of this.handler.list(create(ListObjectsSchema, { inodesOnly: true }), this.self, 0n)) out.push(...chunk)
      return out
    }
    for await (const r of this.objects.list(peer, { inodesOnly: true })) out.push(...r.oids)
    return out
  }

  /**
   * Records an anti-entropy session learned: each checked on its own (admission.ts), the
   * accepted ones made durable, applied and purged. Returns why the session is not a full
   * reconciliation when some were refused for what may be this node's lack of knowledge (a
   * record forged under our own origin is refused with certainty, and does not count).
   */
  private async ingestRelayed (recs: DeleteRec[], peer: string): Promise<string | undefined> {
    const { accepted, refused } = await this.admission.checkRelayed(recs)
    for (const r of refused) this.rejections.note(r.kind, r.reason, { peer })
    if (accepted.length > 0) await this.pipeline.ingest(accepted, 'ae')
    const unsure = refused.filter((r) => r.kind !== 'delete-own-origin')
    return unsure.length === 0 ? undefined : `${unsure.length} relayed records refused (${unsure[0]!.kind}: ${unsure[0]!.reason})`
  }

  /**
   * A peer's floor (first frame of a session). A malformed entry refuses the whole floor and
   * ends the session (throws: nothing of the frame is applied); an entry beyond what this node
   * can take is refused alone, and the session is then not a full reconciliation.
   */
  private async takeFloor (entries: Array<{ vid: number, generation: number }>, reset: boolean, peer: string): Promise<string | undefined> {
    const f = await this.admission.checkFloor(entries)
    if (f.malformed !== undefined) {
      this.rejections.note(f.malformed.kind, `floor of ${entries.length} entries refused whole: ${f.malformed.reason}`, { peer })
      throw new Error(`floor refused: ${f.malformed.reason}`)
    }
    for (const r of f.refused) this.rejections.note(r.kind, r.reason, { peer })
    const arrived = performance.now()
    if (await this.gc.applyFloor(f.accepted, reset) > 0) this.metrics.purgeSeconds.observe({ source: reset ? 'reset' : 'floor' }, (performance.now() - arrived) / 1000)
    return f.refused.length === 0 ? undefined : `${f.refused.length} floor entries refused (${f.refused[0]!.reason})`
  }

  async originate (recs: DeleteRec[]): Promise<DeleteRec[]> {
    const fresh = await this.pipeline.ingest(recs, 'local')
    this.deleteGossip.publish(fresh)
    return fresh
  }

  // ---- read-only snapshots for the admin API and status page (src/node/snapshots.ts) ----

  statusSnapshot (): StatusSnapshot { return statusSnapshot(this) }
  membersSnapshot (): MembersSnapshot { return membersSnapshot(this) }
  deletesSnapshot (): DeletesSnapshot { return deletesSnapshot(this) }
  aeSnapshot (): AeSnapshot { return aeSnapshot(this) }
  recoverySnapshot (): RecoverySnapshot { return recoverySnapshot(this) }
  chaosSnapshot (): ChaosSnapshot { return { partitioned: this.partition.peers, clockOffsetMs: this.clockOffsetMs } }
  /** the object list cache (of one vid), ascending */
  objectList (vid?: number): bigint[] { return vid === undefined ? Array.from(this.store.cache) : this.store.cache.oidsOfVid(vid) }
  async localCheck (): Promise<LocalCheckSnapshot> { return await localCheck(this) }
  async metricsText (): Promise<{ contentType: string, text: string }> {
    return { contentType: this.metrics.registry.contentType, text: await this.metrics.registry.metrics() }
  }

  /** why client I/O is refused while this node joins the cluster, or undefined once it has */
  joining (): string | undefined { return this.membership.joining() }

  // ---- chaos switches (POST /chaos/*, nodes started with --enable-chaos) ----

  setClockOffset (ms: number): void { this.clockOffsetMs = ms }
  async partitionFrom (peers: string[]): Promise<void> { await this.partition.apply(this.host, peers) }
  healPartition (): void {
    this.partition.heal()
    this.membership.redialNow()
  }
}

/** 127.0.0.X → zone X: each loopback "host" its own failure domain unless told otherwise */
function zoneFromAddress (listen: string): number {
  const { host, port } = splitHostPort(listen)
  const last = Number(host.split('.')[3])
  return host === '127.0.0.1' ? port : last
}
