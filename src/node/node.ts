// A bellwether node: composes the object store, delete log, clock, membership, placement,
// the delete replica (tombstones, GC, seqs: src/tombstones/replica.ts, driven by
// ./deletes.ts) and the libp2p services, and implements ClusterIO for the VDI layer. Start
// order matters: tombstones are applied and purged before the node listens, so it never
// serves an object that a tombstone it already holds covers.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import type { ObjResponse } from '../wire/bellwether_pb.js'
import { ObjectStore } from '../store/objectStore.js'
import { DeleteLog } from '../tombstones/deleteLog.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { HybridClock } from '../hlc.js'
import { skewed, systemTime, type Timers } from '../time.js'
import { MembershipView } from '../membership/view.js'
import { asGossipSub, createHost, hostState, type Host } from '../net/host.js'
import { zoneFromAddress } from '../net/hostPort.js'
import { ObjectService, type PutArgs } from '../net/objectService.js'
import { FAIL_AFTER_MS, HEARTBEAT_INTERVAL_MS, MAX_OBJECT_SIZE } from '../net/constants.js'
import { failAfterMs, type RateParams } from '../membership/rate.js'
import { HEARTBEATS_PER_SEC } from '../membership/constants.js'
import { loadOrCreatePeerKey } from '../net/peerKey.js'
import { AppPartition } from '../net/partition.js'
import { AntiEntropyService } from '../net/aeService.js'
import type { ReconSet } from '../antientropy/reconSet.js'
import { AeScheduler } from '../antientropy/aeScheduler.js'
import { Floor, type FloorState } from '../tombstones/floor.js'
import { EpochFile, EPOCH_FILE, RECOVERED_FILE } from './epochFile.js'
import { Recovery } from '../recovery/recovery.js'
import { ReplicaRepair } from '../vdi/replicaRepair.js'
import { createLogger } from '../log.js'
import { VdiService } from '../vdi/vdiService.js'
import type { ClusterIO } from '../vdi/clusterIo.js'
import { DeleteDriver } from './deletes.js'
import { DeleteReplica } from '../tombstones/replica.js'
import type { Effect } from '../tombstones/replicaTypes.js'
import { nodeRecoveryIO } from './recoveryIo.js'
import { ObjectPeers } from './objectPeers.js'
import { RecoveryLoop } from './recoveryLoop.js'
import { ViewReactions } from './viewReactions.js'
import { busyReasons } from './busy.js'
import { WriteQuorum } from './quorum.js'
import { PeriodicTasks } from './periodic.js'
import { DeleteGossip } from '../net/deleteGossip.js'
import { MembershipService, type LocalState } from '../membership/membership.js'
import { NodeObjectHandler } from './objectHandler.js'
import { ObjectCalls } from './objectCalls.js'
import { NodeMetrics } from './metrics.js'
import { Rejections } from './rejections.js'
import type { NodeOptions } from './options.js'
import { RecordAdmission } from './admission.js'
import { nodeAdmissionState } from './admissionState.js'
import {
  aeSnapshot, deletesSnapshot, membersSnapshot, peerStateCounts, recoverySnapshot, statusSnapshot,
  type AeSnapshot, type ChaosSnapshot, type DeletesSnapshot, type MembersSnapshot, type RecoverySnapshot, type StatusSnapshot, type PeerStateCounts
} from './snapshots.js'
import { localCheck, type LocalCheckSnapshot } from './localCheck.js'
import { watchDeleteLog } from './logHealth.js'
import { openDurableState, removeCrashTemps } from './openState.js'
import { wirePeerEvents } from './peerEvents.js'

const DEFAULT_EVICT_AFTER_MS = 24 * 3600 * 1000

export class BellwetherNode implements ClusterIO {
  readonly metrics = new NodeMetrics({ processMetrics: true })
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
  /** the delete protocol's state (tombstones, set, floor, GC, per-peer sync, seqs), sans-I/O */
  readonly replica: DeleteReplica
  /** executes the replica's effects on the log, store and floor file */
  readonly deletes: DeleteDriver
  readonly partition = new AppPartition()
  ae!: AntiEntropyService
  aeScheduler!: AeScheduler
  private readonly floorFile: Floor
  /** what start() found wrong but could start without (a bad floor entry, a bad epoch file, …), each naming file and entry */
  readonly startupProblems: string[] = []
  private readonly epochFile: EpochFile
  private readonly recoveredFile: EpochFile
  private periodic: PeriodicTasks | undefined
  recovery!: Recovery
  repair!: ReplicaRepair
  private recoveryLoop: RecoveryLoop | undefined
  /** this node's peer id (set by start(), or by a test before it drives the delete path) */
  get self (): string { return this.replica.self }
  set self (id: string) { this.replica.self = id }
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
  private stopping = false
  /** the view's consequences on this node, and the placement ring (viewReactions.ts) */
  private readonly reactions: ViewReactions

  constructor (readonly opts: NodeOptions, log?: Logger) {
    this.log = log ?? createLogger('bellwether', opts.logLevel)
    this.clockOffsetMs = opts.clockOffsetMs ?? 0
    // the offset is read on every tick, so chaos can skew a running node's clock
    this.clock = new HybridClock(skewed(this.time, () => this.clockOffsetMs))
    this.store = new ObjectStore(join(opts.dataDir, 'obj'))
    this.deleteLog = new DeleteLog(join(opts.dataDir, 'deletes.log'), { time: this.time })
    this.floorFile = Floor.inDataDir(opts.dataDir)
    this.reactions = new ViewReactions({
      self: () => this.self,
      zone: () => this.zone,
      view: () => this.membership?.view,
      serving: (peer) => this.objectPeers?.has(peer) ?? false,
      epochFile: () => this.epochFile,
      quorum: () => this.quorum,
      recovery: () => this.recoveryLoop,
      stopping: () => this.stopping,
      metrics: this.metrics,
      log: this.log
    })
    this.replica = new DeleteReplica({ self: '', log: this.deleteLog, members: () => this.membership?.view.known().map((m) => m.peerId) ?? [this.self] })
    this.deletes = new DeleteDriver({
      replica: this.replica,
      log: this.deleteLog,
      store: this.store,
      floorFile: this.floorFile,
      metrics: this.metrics,
      logger: this.log,
      now: () => this.time.now() + this.clockOffsetMs,
      implausible: (version) => this.clock.implausible(version) != null,
      out: {
        publish: (recs) => { this.deleteGossip?.publish(recs) },
        startSession: (peer, reason, summary) => {
          if (reason === 'connected') this.aeScheduler?.onConnect(peer)
          else if (summary !== undefined) this.aeScheduler?.onBeacon(peer, summary)
        },
        reject: (kind, reason, peer) => { this.rejections?.note(kind, reason, { peer }) },
        syncNow: async (peer) => await this.aeScheduler?.syncNow(peer)
      }
    })
    watchDeleteLog(this.deleteLog, this.metrics, () => this.log, (recs) => { this.deletes.applyLate(recs) }, () => this.unavailable())
    this.epochFile = new EpochFile(opts.dataDir, EPOCH_FILE)
    this.recoveredFile = new EpochFile(opts.dataDir, RECOVERED_FILE)
    this.vdis = new VdiService(this, this.deletes, opts.copies)
  }

  async start (): Promise<void> {
    const { dataDir } = this.opts
    await mkdir(dataDir, { recursive: true })
    await removeCrashTemps(dataDir, this.log)
    const key = await loadOrCreatePeerKey(dataDir)
    this.self = peerIdFromPrivateKey(key).toString()
    this.quorum = new WriteQuorum(dataDir, this.self)
    const known = await this.quorum.load()
    if (known != null) this.startupProblems.push(known)
    this.zone = this.opts.zone ?? zoneFromAddress(this.opts.listen)
    this.log = this.log.child({ node: this.self.slice(-8) })

    // purge before serve: every tombstone we hold is applied to the store before anyone can ask for anything
    const { epoch, recoveredEpoch } = await openDurableState({
      store: this.store, deleteLog: this.deleteLog, floorFile: this.floorFile, deletes: this.deletes, metrics: this.metrics, epochFile: this.epochFile, recoveredFile: this.recoveredFile
    }, this.self, this.startupProblems, this.log)
    this.host = await createHost({ privateKey: key, listen: this.opts.listen, bootstrap: this.opts.bootstrap, pubsub: this.opts.pubsub, swarmKey: this.opts.swarmKey, connectionGater: this.partition.gater() })
    // counted so tests (and operators) can tell when a missed gossip message is out of every cache
    asGossipSub(this.host)?.addEventListener('gossipsub:heartbeat', () => { this.metrics.gossipHeartbeats.inc() })
    this.metrics.hostState = () => hostState(this.host)
    const selfInfo = { peerId: this.self, addrs: [], zone: this.zone, api: `http://${this.opts.api}`, incarnation: BigInt(Date.now()) }
    const rate: RateParams = { baseIntervalMs: HEARTBEAT_INTERVAL_MS, baseFailAfterMs: FAIL_AFTER_MS, perSec: this.opts.heartbeatsPerSec ?? HEARTBEATS_PER_SEC }
    const view = new MembershipView(selfInfo, { failAfterMs: FAIL_AFTER_MS, failAfterFor: (n) => failAfterMs(n, rate), evictAfterMs: this.opts.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS }, epoch)
    this.handler = new NodeObjectHandler(this.store, this.tombstones, this.clock, this.metrics, this.log, {
      gate: async (peer) => await this.reconciledWith(peer),
      repair: async (oids, from) => await this.readRepair(oids, from),
      unavailable: () => this.unavailable(),
      ring: () => this.reactions.ring.hash,
      stored: (oid, copies, from) => { this.reactions.storedFrom(oid, copies, from) }
    })
    this.objects = new ObjectService({ host: this.host, handler: this.handler, logger: this.log })
    this.calls = new ObjectCalls(() => this.self, this.handler, this.objects, this.clock, new Rejections(this.metrics, this.log), () => this.reactions.ring.hash)
    const state: LocalState = {
      objects: () => this.store.cache.size,
      logSummary: () => ({ ...this.deleteLog.summary(), ack: this.replica.ack(this.clock.now()), gcHorizon: this.floor.horizon, floorHash: this.floor.hash() }),
      busy: () => this.busy()
    }
    this.membership = new MembershipService({ host: this.host, view, clock: this.clock, logger: this.log, metrics: this.metrics, timers: this.time, state },
      { self: selfInfo, bootstrap: this.opts.bootstrap, onChange: (change) => { this.reactions.onViewChange(change) }, rate })
    this.rejections = new Rejections(this.metrics, this.log)
    this.admission = new RecordAdmission(nodeAdmissionState({
      self: this.self,
      members: () => this.membership.view.known().map((m) => m.peerId),
      connected: (peer) => { try { return this.host.getConnections(peerIdFromString(peer)).length > 0 } catch { return false } },
      log: this.deleteLog,
      floor: { get: (vid) => this.floor.get(vid), seq: (origin) => this.floor.seq(origin) },
      index: this.tombstones,
      store: this.store
    }))
    this.deleteGossip = new DeleteGossip({ host: this.host, pipeline: this.deletes, metrics: this.metrics, logger: this.log, admission: this.admission, rejections: this.rejections, timers: this.time })
    this.metrics.floorSize = () => this.floor.size
    this.metrics.foldedRecords = () => this.replica.folded
    this.ae = new AntiEntropyService({ host: this.host, handler: this.deletes.aeHandler(this.admission, () => this.clock.now()), logger: this.log, timers: this.time })
    this.aeScheduler = new AeScheduler(this.ae, {
      self: this.self,
      summary: () => ({ ...this.deleteLog.summary(), floorHash: this.floor.hash() }),
      // sessions ride existing connections; connecting is the membership redialer's job
      reachable: (peer) => !this.partition.isBlocked(peer) && this.host.getConnections(peerIdFromString(peer)).length > 0
    }, this.log, this.time)
    // a member is a placement target only once identify showed it serving objects (objectPeers.ts)
    this.objectPeers = new ObjectPeers(this.host, this.log, (id) => {
      if (this.membership.view.member(id) == null) return
      this.reactions.placementChanged()
    })
    wirePeerEvents({ host: this.host, membership: this.membership, replica: this.replica, objectPeers: this.objectPeers, aeScheduler: this.aeScheduler, time: this.time, fire: (effects) => { this.fire(effects) }, quorum: this.quorum, log: this.log })
    this.repair = new ReplicaRepair(this, async (vid) => (await this.vdis.inodeOf(vid))?.copies, this.log, () => { this.reactions.scheduleRecovery(0) })
    this.vdis.onPartialWrite = (oid) => { this.repair.enqueue(oid) }
    this.recovery = new Recovery(nodeRecoveryIO({
      self: this.self,
      members: () => this.members(),
      placement: (oid, copies) => this.placement(oid, copies),
      ringHash: () => this.reactions.ring.hash,
      copiesOf: async (vid) => (await this.vdis.inodeOf(vid))?.copies,
      syncNow: async (peer) => await this.aeScheduler.syncNow(peer),
      handler: this.handler,
      objects: this.objects,
      get: async (peer, oid) => await this.get(peer, oid),
      put: async (peer, obj) => await this.put(peer, obj),
      store: this.store,
      tombstones: this.tombstones,
      readRepair: async (oids, from) => await this.readRepair(oids, from),
      completed: async (epoch) => { await this.recoveredFile.write(epoch) }
    }), this.log, recoveredEpoch, {
      parallel: this.opts.recoveryParallel,
      bytesPerSec: this.opts.recoveryRate,
      time: this.time
    })
    this.recoveryLoop = new RecoveryLoop(this.recovery, () => this.membership.view.epoch, this.metrics, this.log, this.time)
    this.reactions.rebuildRing()

    await this.objects.start()
    await this.ae.start()
    this.deleteGossip.start()
    await this.host.start()
    this.membership.start()
    this.periodic = new PeriodicTasks({
      gc: async () => await this.deletes.gcRound(() => this.clock.now()),
      repair: async () => await this.repair.round(),
      repaired: () => { this.metrics.repair(this.repair) },
      confirm: () => { void this.objectPeers.confirm(this.membership.view.members().map((m) => m.peerId).filter((p) => p !== this.self)) }
    }, this.time, this.log)
    this.periodic.start()
    this.recoveryLoop?.startPeriodic()
    this.log.info({ peerId: this.self, addrs: this.multiaddrs(), epoch: view.epoch.toString() }, 'node started')
  }

  async stop (): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    await this.periodic?.stop()
    await this.deletes.stop()
    await this.recoveryLoop?.stop()
    this.aeScheduler?.stop()
    for (const part of [this.deleteGossip, this.membership, this.objects, this.ae, this.host]) {
      try { if (part != null) await part.stop() } catch (err) { this.log.warn({ err: String(err) }, 'error while stopping') }
    }
    // view changes write the epoch without waiting: nothing may touch the data dir after stop()
    await this.epochFile.idle()
    await this.recoveredFile.idle()
    await this.quorum?.idle()
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
    if (this.deletes.catchingUp > 0) return 'delete log writable again: applying the delete records that waited'
    return undefined
  }

  /** why busy() is true, in words an operator can act on (busy.ts) */
  busyReasons (): string[] {
    return busyReasons({
      unavailable: this.unavailable(),
      recovery: this.recovery.progress,
      recoveryScheduled: this.recoveryLoop?.scheduled === true,
      gossipPending: this.deleteGossip.topic.pending,
      aeSessions: this.aeScheduler.active,
      repairPending: this.repair.pending
    })
  }

  multiaddrs (): string[] {
    return this.host.getMultiaddrs().map((a) => a.toString())
  }

  get libp2p (): Host { return this.host }

  /** purge before serve (the delete driver's gate): undefined once reconciled with `peer`, else why not */
  async reconciledWith (peer: string): Promise<string | undefined> { return await this.deletes.reconciledWith(peer) }

  /** a peer's tombstones cover these copies of ours: purge what ours cover (deletes.ts) */
  async readRepair (oids: bigint[], from: string): Promise<number> { return await this.deletes.readRepair(oids, from) }

  // ---- ClusterIO ----

  /** the nodes that hold data: the placement ring's (viewReactions.ts), sorted by peer id */
  members (): string[] { return this.reactions.ring.nodes.map((n) => n.id) }
  zones (): number { return this.reactions.ring.zoneCount() }
  placement (oid: bigint, copies: number): string[] { return this.reactions.ring.pick(oid, copies) }
  ringHash (): bigint { return this.reactions.ring.hash }
  writeRefusal (): string | undefined { return this.quorum.refusal(this.membership.view.members().length) }
  now (): bigint { return this.clock.now() }
  observe (hlc: bigint): void {
    try { this.clock.observe(hlc) } catch (err) { this.log.warn({ err: String(err) }, 'version from a drifting clock not observed') }
  }

  /** entries kept per peer, by map: every one shrinks back when members are evicted (bounded state) */
  peerState (): PeerStateCounts { return peerStateCounts(this.membership, this.replica, this.objectPeers, this.aeScheduler) }

  async sleep (ms: number): Promise<void> { await new Promise<void>((resolve) => { this.time.setTimeout(resolve, ms) }) }

  /** the vid's whole-VDI delete is folded (stable everywhere): its next generation may be created */
  stableFloor (vid: number): number | undefined {
    return this.floor.get(vid)
  }

  /** the tombstones this node holds (the replica's index): every data path asks covers() */
  get tombstones (): TombstoneIndex { return this.replica.index }
  /** the delete records being reconciled: a mirror of the delete log */
  get reconSet (): ReconSet { return this.replica.set }
  /** the dead-generation floor as saved */
  get floor (): Readonly<FloorState> { return this.replica.floor }
  /** GC figures the admin API shows */
  get gc (): { ack: () => bigint, folded: number, rounds: number, resets: number } {
    const r = this.replica
    return { ack: () => r.ack(this.clock.now()), folded: r.folded, rounds: r.rounds, resets: r.resets }
  }

  private objectPeers!: ObjectPeers
  /** put/get/list to this node or a peer (objectCalls.ts) */
  private calls!: ObjectCalls
  private quorum!: WriteQuorum

  async put (peer: string, obj: PutArgs): Promise<ObjResponse> { return await this.calls.put(peer, obj) }
  async get (peer: string, oid: bigint, headerOnly = false, expectBytes?: number): Promise<ObjResponse> { return await this.calls.get(peer, oid, headerOnly, expectBytes) }
  async listInodes (peer: string): Promise<bigint[]> { return await this.calls.listInodes(peer) }

  /** effects of an event nobody waits on (they start sessions): failures are logged */
  private fire (effects: Effect[]): void {
    if (effects.length > 0) this.deletes.execute(effects).catch((err) => { this.log.error({ err: String(err) }, 'delete effects failed') })
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
