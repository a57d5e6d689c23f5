// One simulated bellwether node: the glue a real node is, around the real protocol cores. The
// delete protocol is the real sans-I/O DeleteReplica (src/tombstones/replica.ts): events go in
// (records from gossip and sessions, beacons, connections, session ends, GC ticks), effects
// come out and are executed here against in-memory state — the delete log (MemLog), the floor
// file (the last saved FloorState) and this node's slots of the object table. Membership is
// the real MembershipView fed by heartbeats from the node's overlay neighbours; anti-entropy
// is the real ReconSession (aeSessions.ts). What survives a crash: the log, the floor, the
// objects, the seq counter (through the log and floor); everything else is rebuilt by start().
// Recovery of object lists, with its tombstone gates, is recovery.ts.

import { MembershipView, type HeartbeatIn, type ViewChange } from '../membership/view.js'
import { failAfterMs, heartbeatIntervalMs, type RateParams } from '../membership/rate.js'
import { DeleteReplica } from '../tombstones/replica.js'
import { FloorState } from '../tombstones/floor.js'
import { recordCovers, type DeleteRec } from '../tombstones/record.js'
import type { Beacon, Effect, Opening, RecordSource, SessionEnd } from '../tombstones/replicaTypes.js'
import { MemLog } from './memLog.js'
import { NodeAe, type AeStats } from './aeSessions.js'
import { HEARTBEAT, T_GC, T_GOSSIP, T_HEARTBEAT, T_RECOVERY } from './kinds.js'
import { NodeRecovery } from './recovery.js'
import type { EventQueue } from './eventQueue.js'
import type { Network } from './network.js'
import type { GossipMesh } from './mesh.js'
import type { ObjectTable } from './objects.js'
import type { SimParams } from './params.js'
import type { Rng } from '../rng.js'

/** a heartbeat as it travels: the membership part and the delete-log beacon */
export interface HeartbeatMsg {
  hb: HeartbeatIn
  beacon: Beacon
}

const HEARTBEAT_BYTES = 160

/** what a node reaches of the simulated world */
export interface NodeWorld {
  readonly p: SimParams
  readonly queue: EventQueue
  readonly net: Network
  readonly mesh: GossipMesh
  readonly objects: ObjectTable
  readonly ids: readonly string[]
  readonly idIndex: ReadonlyMap<string, number>
  readonly adjStart: Int32Array
  readonly adj: Int32Array
  readonly rng: Rng
  readonly aeStats: AeStats
  /** bumped at every partition and heal: connections across it are new afterwards */
  readonly cutEpoch: number
  nextId: () => number
  publish: (node: number, recs: DeleteRec[]) => void
  /** records new to `node`'s log; `from`/`hops`: who brought them (hops < 0: an anti-entropy session) */
  learned: (node: number, recs: readonly DeleteRec[], from: number, hops: number) => void
  floorRaised: (node: number, vid: number, generation: number) => void
  /** a recovery pull: node takes a copy of object o (slot k) from `from` */
  copied: (node: number, o: number, k: number, from: number) => void
  aeBytes: (n: number) => void
}

export interface NodeStats {
  purged: number
  refusedPulls: number
  servedLists: number
  gatedLists: number
  recoveries: number
  rejected: number
  badHeartbeats: number
  /** heartbeats this node heard (accepted by its view) */
  heartbeatsHeard: number
}

interface Conn { life: number, cut: number }

export class SimNode {
  readonly id: string
  /** durable: survives a crash */
  readonly log = new MemLog()
  private floorFile = new FloorState()
  private incarnation = 0n
  replica!: DeleteReplica
  view!: MembershipView
  private members: string[] = []
  private ae!: NodeAe
  private conns = new Map<number, Conn>()
  private recovery!: NodeRecovery
  private lastHlc = 0n
  /** who brought the records being appended: for the tracker */
  private from = -1
  private hops = 0
  /** when this node heartbeats next: the period stretches with its member count (src/membership/rate.ts) */
  private nextBeat = 0
  readonly stats: NodeStats = { purged: 0, refusedPulls: 0, servedLists: 0, gatedLists: 0, recoveries: 0, rejected: 0, badHeartbeats: 0, heartbeatsHeard: 0 }

  constructor (readonly i: number, private readonly w: NodeWorld) {
    this.id = w.ids[i]!
  }

  get life (): number { return this.w.net.life[this.i]! }

  /** (re)start: fresh volatile state around the durable log and floor, purge before serve, timers */
  start (): void {
    const w = this.w
    const now = w.queue.now
    this.incarnation = BigInt(Math.floor(now)) + 1n
    this.view = new MembershipView({ peerId: this.id, addrs: [], zone: 0, api: '', incarnation: this.incarnation }, { failAfterMs: w.p.failAfterMs, failAfterFor: (n) => failAfterMs(n, this.rate()) })
    this.nextBeat = 0
    this.members = [this.id]
    this.conns = new Map()
    const self = this
    this.recovery = new NodeRecovery({
      i: this.i,
      get life () { return self.life },
      reconciled: (q) => this.replica.reconciled(w.ids[q]!),
      covers: (o) => this.covers(o),
      urgentSession: (q) => { this.ae.consider(q, 'urgent') }
    }, w, this.stats)
    this.replica = new DeleteReplica({ self: this.id, log: this.log, members: () => this.members })
    this.ae = new NodeAe({
      i: this.i,
      id: this.id,
      get life () { return self.life },
      set: () => this.replica.set,
      peerId: (q) => w.ids[q]!,
      nowHlc: () => this.nowHlc(),
      opening: (q) => this.replica.sessionOpening(w.ids[q]!, this.nowHlc()),
      onOpening: (q, o) => { this.onOpening(q, o) },
      learn: (recs, q) => { this.ingest(recs, 'ae', q, -1) },
      sameSummary: (s) => this.sameSummary(s),
      reachable: (q) => { const st = this.view.status(w.ids[q]!); return st !== 'dead' && st !== 'left' },
      ended: (q, end) => { this.sessionEnded(q, end) },
      bytesSent: (n) => { w.aeBytes(n) }
    }, {
      queue: w.queue,
      net: w.net,
      nextId: w.nextId,
      minIntervalMs: w.p.aeMinIntervalMs,
      maxConcurrent: w.p.aeMaxConcurrent,
      timeoutMs: w.p.aeTimeoutMs
    }, w.aeStats)
    this.from = this.i
    this.hops = 0
    this.run(this.replica.load(this.floorFile.copy()))
    const life = this.life
    const at = (period: number): number => now + w.rng() * period
    w.queue.push(at(w.p.heartbeatMs), T_HEARTBEAT, this.i, 0, 0, life)
    w.queue.push(at(w.p.gossipHeartbeatMs), T_GOSSIP, this.i, 0, 0, life)
    w.queue.push(at(w.p.gcIntervalMs), T_GC, this.i, 0, 0, life)
    w.queue.push(at(w.p.recoveryPeriodMs), T_RECOVERY, this.i, 0, 1, life)
    // a restarted node looks for what it missed once its view has settled
    if (now > 0) this.recovery.schedule(this.w.p.recoveryDebounceMs)
  }

  nowHlc (): bigint {
    let h = BigInt(Math.floor(this.w.queue.now)) << 16n
    if (h <= this.lastHlc) h = this.lastHlc + 1n
    this.lastHlc = h
    return h
  }

  /** this node's own new record (the client's delete, acknowledged once appended) */
  originate (rec: DeleteRec): void {
    this.from = this.i
    this.hops = 0
    this.run(this.replica.originate([rec]))
  }

  nextSeq (): bigint { return this.replica.nextSeq() }

  covers (o: number): boolean {
    const ob = this.w.objects
    return this.replica.index.covers(ob.oid(o), 0, ob.version(o)) !== undefined
  }

  onTimer (kind: number, c: number): void {
    const w = this.w
    const now = w.queue.now
    const life = this.life
    if (kind === T_HEARTBEAT) {
      // the failure check runs every base period; the beat only when this node's (stretched) period is up
      const ch = this.view.tick(now)
      if (ch !== undefined) this.onViewChange(ch)
      if (now >= this.nextBeat) {
        this.beat()
        this.nextBeat = now + heartbeatIntervalMs(this.view.members().length, this.rate()) - w.p.heartbeatMs / 2
      }
      w.queue.push(now + w.p.heartbeatMs, T_HEARTBEAT, this.i, 0, 0, life)
    } else if (kind === T_GOSSIP) {
      w.mesh.heartbeat(this.i)
      w.queue.push(now + w.p.gossipHeartbeatMs, T_GOSSIP, this.i, 0, 0, life)
    } else if (kind === T_GC) {
      this.run(this.replica.tick(this.nowHlc()))
      w.queue.push(now + w.p.gcIntervalMs, T_GC, this.i, 0, 0, life)
    } else if (kind === T_RECOVERY) {
      this.recovery.onTimer(c)
    }
  }

  onSessionTimeout (sid: number): void { this.ae.onTimeout(sid) }
  onFrame (from: number, sid: number, frameNo: number, bytes: Uint8Array): void {
    this.contact(from)
    this.ae.onFrame(from, sid, frameNo, bytes)
  }

  onHeartbeat (from: number, msg: HeartbeatMsg): void {
    this.contact(from)
    let ch: ViewChange | undefined
    try {
      ch = this.view.onHeartbeat(msg.hb, this.w.queue.now)
    } catch {
      this.stats.badHeartbeats++
      return
    }
    this.stats.heartbeatsHeard++
    if (ch !== undefined) this.onViewChange(ch)
    this.run(this.replica.onBeacon(msg.hb.peerId, msg.beacon))
  }

  /** a gossip message new to this node */
  onGossip (recs: readonly DeleteRec[], from: number, hops: number): void {
    this.ingest(recs, 'gossip', from, hops)
  }

  onListReq (from: number, reqId: number): void {
    this.contact(from)
    this.recovery.onListReq(from, reqId)
  }

  onListResp (from: number, ok: boolean, objs: Int32Array | undefined): void {
    this.contact(from)
    this.recovery.onListResp(from, ok, objs)
  }

  private beat (): void {
    const s = this.log.summary()
    const msg: HeartbeatMsg = {
      hb: this.view.heartbeat(),
      beacon: {
        hlc: this.nowHlc(),
        log: { count: BigInt(s.count), fingerprint: s.fingerprint, ack: this.replica.ack(this.lastHlc), floorHash: this.replica.floor.hash() }
      }
    }
    const { adjStart, adj, net } = this.w
    for (let j = adjStart[this.i]!; j < adjStart[this.i + 1]!; j++) net.send(HEARTBEAT, this.i, adj[j]!, 0, 0, msg, HEARTBEAT_BYTES)
  }

  private rate (): RateParams {
    const p = this.w.p
    return { baseIntervalMs: p.heartbeatMs, baseFailAfterMs: p.failAfterMs, perSec: p.heartbeatsPerSec }
  }

  private sameSummary (s: Beacon['log']): boolean {
    const mine = this.log.summary()
    return BigInt(mine.count) === s.count && mine.fingerprint === s.fingerprint && this.replica.floor.hash() === s.floorHash
  }

  /** any message from `from`: a connection is new after either side restarted or a cut came or went */
  private contact (from: number): void {
    const life = this.w.net.life[from]!
    const c = this.conns.get(from)
    if (c !== undefined && c.life === life && c.cut === this.w.cutEpoch) return
    this.conns.set(from, { life, cut: this.w.cutEpoch })
    this.run(this.replica.onPeerUp(this.w.ids[from]!, this.w.queue.now))
  }

  private onViewChange (ch: ViewChange): void {
    this.members = this.view.known().map((m) => m.peerId)
    for (const peer of ch.left) {
      const q = this.w.idIndex.get(peer)
      if (q !== undefined) this.conns.delete(q)
      this.run(this.replica.onPeerDown(peer))
    }
    if (ch.joined.length > 0 || (ch.restarted?.length ?? 0) > 0) this.recovery.schedule(this.w.p.recoveryDebounceMs)
  }

  private onOpening (peer: number, o: Opening): void {
    const id = this.w.ids[peer]!
    this.run(this.replica.onOpening(id, o))
    if (o.floor.length > 0) {
      this.from = peer
      this.hops = -1
      this.run(this.replica.takeFloor(o.floor, o.reset))
    }
  }

  private sessionEnded (peer: number, end: SessionEnd): void {
    this.run(this.replica.onSessionEnd(this.w.ids[peer]!, end))
    this.recovery.sessionEnded(peer)
  }

  private ingest (recs: readonly DeleteRec[], source: RecordSource, from: number, hops: number): void {
    // a node never takes a record of its own origin that it did not write (admission)
    const theirs = recs.filter((r) => r.origin !== this.id)
    if (theirs.length === 0) return
    this.from = from
    this.hops = hops
    this.run(this.replica.onRecords(theirs, source))
  }

  /** executes the replica's effects in order, reporting completions back at once */
  private run (effects: Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'append': {
          const fresh = this.log.append(e.recs)
          if (fresh.length > 0) this.w.learned(this.i, fresh, this.from, this.hops)
          this.run(this.replica.appended(fresh, e.source))
          break
        }
        case 'purge':
          for (const r of e.recs) this.purgeRecord(r)
          break
        case 'purgeVid':
          this.purgeVid(e.vid, e.generation)
          if (e.source !== 'disk') this.w.floorRaised(this.i, e.vid, e.generation)
          break
        case 'publish':
          this.w.publish(this.i, e.recs)
          break
        case 'saveFloor':
          this.floorFile = e.state.copy()
          this.run(this.replica.floorSaved(e.state))
          break
        case 'compact':
          this.run(this.replica.compacted(this.log.compact(e.drop)))
          break
        case 'startSession': {
          const q = this.w.idIndex.get(e.peer)
          if (q !== undefined) this.ae.consider(q, e.reason, e.summary)
          break
        }
        case 'reject':
          this.stats.rejected++
          break
      }
    }
  }

  private purgeRecord (r: DeleteRec): void {
    const ob = this.w.objects
    if (r.vid < 1 || r.vid > ob.vids) return
    if (r.kind === 'vdi') {
      this.purgeVid(r.vid, r.generation)
      return
    }
    const first = ob.vidFirst[r.vid]!
    const end = ob.vidFirst[r.vid + 1]!
    for (const idx of r.indexes) {
      const o = first + idx
      if (o >= end) continue
      const k = ob.slotOf(o, this.i)
      if (k < 0 || !ob.holds(o, k)) continue
      if (recordCovers(r, ob.oid(o), 0, ob.version(o)) && ob.purge(o, k)) this.stats.purged++
    }
  }

  /** every copy here of vid's objects with generation <= gen (all are generation 0) */
  private purgeVid (vid: number, gen: number): void {
    const ob = this.w.objects
    if (vid < 1 || vid > ob.vids || gen < 0) return
    for (let o = ob.vidFirst[vid]!; o < ob.vidFirst[vid + 1]!; o++) {
      const k = ob.slotOf(o, this.i)
      if (k >= 0 && ob.purge(o, k)) this.stats.purged++
    }
  }

  /** tombstone state held: log records and floor entries */
  tombstones (): { log: number, floor: number, peers: number } {
    return { log: this.log.size, floor: this.replica.floor.size, peers: this.replica.peerStateSize() }
  }
}
