// DeleteReplica: the delete protocol of one node, sans-I/O. It owns the tombstone index, the
// reconciliation set (a mirror of the durable log), the floor / ack / GC horizon, per-peer
// sync state and seq allocation. No libp2p, files, timers or clock: time comes in as
// arguments, I/O goes out as typed effects (replicaTypes.ts) that a driver executes in order
// and reports back. The node's driver is src/node/deletes.ts; the simulator drives the same
// class. Rules this class keeps, whoever drives it:
// - a record counts (index, set, purge) only once the log made it durable: appended();
// - a floor draft is acted on only once saved: floorSaved(); a folded record's seq is saved
//   in the floor before the record leaves the log, so no seq is ever reused (nextSeq());
// - purge before serve: reconciled(peer) only after a clean session that started after the
//   peer's last connection opened;
// - GC by causal stability: ack from clean sessions (or identical heartbeats), horizon = the
//   smallest ack of all current members, never moving back.
//
// API (every event returns the effects to execute, in order):
//   constructor({ self, log, members })  log: LogView (read-only), members(): current members
//   load(floor)                       at start, before serving: adopt the saved floor, apply
//                                     floor + log → purgeVid/purge effects ('disk')
//   nextSeq()                         a seq of ours never handed out before (not even before a restart)
//   originate(recs)                   our own new records → append 'local'
//   onRecords(recs, source)           records a peer sent ('gossip' | 'ae'), admission done → append
//   appended(fresh, source)           the log made `fresh` durable → index + set, purge (+ publish ours)
//   onBeacon(peer, beacon)            a heartbeat → startSession('beacon')
//   onPeerUp(peer, atMs)              a connection opened → startSession('connected')
//   onPeerDown(peer)                  its last connection closed (a non-member is forgotten)
//   onPeerForgotten(peer)             drop every per-peer entry (eviction)
//   sessionOpening(peer, now)         our Opening for a session with peer (now: HLC)
//   onOpening(peer, opening)          the peer's Opening, once the session validated its frame
//   takeFloor(entries, reset)         its floor entries admission accepted → a fold (saveFloor …)
//   onSessionEnd(peer, end)           a session ended (clean: error undefined)
//   tick(now)                         a GC round (now: HLC): forget stale peers, maybe fold
//   floorSaved(state) / compacted(n) / foldFailed()   completions of a fold's effects
//   queries: reconciled(peer), ack(now), floor, index, set, folded, rounds, resets, peerStateSize()
// Folds (tick's and takeFloor's) run one at a time: the driver starts the next only once the
// previous one ended (its last effect reported, or foldFailed()); folding tells.
import { TombstoneIndex } from './tombstoneIndex.js'
import { ReconSet } from '../antientropy/reconSet.js'
import { FloorState } from './floor.js'
import { recordHash, type DeleteRec } from './record.js'
import { SeqAllocator } from './seqAllocator.js'
import { computeAck, computeHorizon, coveredByFloor } from './gcRules.js'
import type { Beacon, Effect, FloorEntry, LogView, Opening, RecordSource, SessionEnd } from './replicaTypes.js'

export interface ReplicaInit {
  self: string
  log: LogView
  /**
   * Current (not evicted) members, self included, read live: the ack must never count a
   * member list older than the view (a member that joined and is missing would overstate it).
   */
  members: () => readonly string[]
}

interface Fold {
  kind: 'gc' | 'floor'
  stage: 'raise' | 'seqs' | 'compact'
  /** the draft being saved */
  draft?: FloorState
  /** floor from a peer: the vids whose entry it raises, and whether it was a reset */
  raised: number[]
  reset: boolean
  /** records the saved floor stands for, leaving the log */
  gone: DeleteRec[]
}

export class DeleteReplica {
  readonly index = new TombstoneIndex()
  /** the delete records being reconciled: a mirror of the delete log, sorted by (hlc, hash) */
  readonly set = new ReconSet()
  /** records folded out of the log, GC rounds run to their end, floors received as resets */
  folded = 0
  rounds = 0
  resets = 0
  self: string
  private cur = new FloorState()
  private readonly log: LogView
  private readonly members: () => readonly string[]
  private readonly seqs: SeqAllocator
  private fold: Fold | undefined
  // per peer, each dropped by onPeerForgotten (and by tick for peers no longer members or connected)
  /** its clock at the start of my last clean session with it */
  private readonly synced = new Map<string, bigint>()
  /** the ack it last announced (heartbeat or session) */
  private readonly acks = new Map<string, bigint>()
  /** when (ms) the last clean session with it started / its last connection opened */
  private readonly syncedAt = new Map<string, number>()
  private readonly connectedAt = new Map<string, number>()
  /** its floor digest as last announced: decides whether a session ships our floor */
  private readonly floorHashes = new Map<string, bigint>()
  /** connected now (onPeerUp … onPeerDown) */
  private readonly up = new Set<string>()

  constructor (init: ReplicaInit) {
    this.self = init.self
    this.log = init.log
    this.members = init.members
    // folded records left the log, but their seqs stay used (the floor remembers them)
    this.seqs = new SeqAllocator(() => {
      const next = this.log.nextSeq(this.self)
      const folded = this.cur.seq(this.self)
      return next > folded ? next : folded + 1n
    })
  }

  /** the floor as saved: read-only, a fold replaces it */
  get floor (): Readonly<FloorState> { return this.cur }
  get folding (): boolean { return this.fold !== undefined }

  // ---- start ----

  /**
   * Adopts the floor as read from its file and applies it and every record of the log:
   * the effects purge what they cover. Run before the node serves anyone (purge before serve).
   */
  load (floor: FloorState): Effect[] {
    floor.changed = false
    this.cur = floor
    const out: Effect[] = []
    for (const [vid, gen] of floor.entries()) {
      this.index.applyFloor(vid, gen)
      out.push({ type: 'purgeVid', vid, generation: gen, source: 'disk' })
    }
    const recs = this.log.records()
    for (const r of recs) this.index.apply(r)
    if (recs.length > 0) out.push({ type: 'purge', recs, source: 'disk' })
    for (const r of recs) this.set.add(r)
    return out
  }

  nextSeq (): bigint { return this.seqs.take() }

  // ---- records ----

  originate (recs: DeleteRec[]): Effect[] { return this.onRecords(recs, 'local') }

  /** Records to make durable. Those the floor already stands for are dropped (and leave the set). */
  onRecords (recs: DeleteRec[], source: RecordSource): Effect[] {
    const keep: DeleteRec[] = []
    for (const r of recs) {
      if (coveredByFloor(r, this.cur.get(r.vid))) this.set.remove(recordHash(r))
      else keep.push(r)
    }
    return keep.length === 0 ? [] : [{ type: 'append', recs: keep, source }]
  }

  /**
   * The log made `fresh` durable (new to it): applied to the index before anything else
   * (the store's write gate refuses covered writes from now on), added to the set, then
   * purged. Ours made here, or late, are gossiped once purged.
   */
  appended (fresh: DeleteRec[], source: RecordSource): Effect[] {
    for (const r of fresh) this.index.apply(r)
    if (fresh.length === 0) return []
    for (const r of fresh) this.set.add(r)
    const out: Effect[] = [{ type: 'purge', recs: fresh, source }]
    const mine = source === 'local' ? fresh : source === 'late' ? fresh.filter((r) => r.origin === this.self) : []
    if (mine.length > 0) out.push({ type: 'publish', recs: mine })
    return out
  }

  // ---- peers ----

  onBeacon (peer: string, b: Beacon): Effect[] {
    this.noteAck(peer, b.log.ack)
    // an identical summary means we hold every record the peer held when it beat: as good as a session
    const mine = this.log.summary()
    if (BigInt(mine.count) === b.log.count && mine.fingerprint === b.log.fingerprint && this.cur.hash() === b.log.floorHash) {
      this.noteSynced(peer, b.hlc)
    }
    this.floorHashes.set(peer, b.log.floorHash)
    return [{ type: 'startSession', peer, reason: 'beacon', summary: b.log }]
  }

  onPeerUp (peer: string, atMs: number): Effect[] {
    this.connectedAt.set(peer, atMs)
    this.up.add(peer)
    return [{ type: 'startSession', peer, reason: 'connected' }]
  }

  /** Its last connection closed. A member's state stays (it comes back); anyone else's goes. */
  onPeerDown (peer: string): Effect[] {
    this.up.delete(peer)
    if (!this.members().includes(peer)) this.onPeerForgotten(peer)
    return []
  }

  onPeerForgotten (peer: string): Effect[] {
    this.synced.delete(peer)
    this.acks.delete(peer)
    this.syncedAt.delete(peer)
    this.connectedAt.delete(peer)
    this.floorHashes.delete(peer)
    this.up.delete(peer)
    return []
  }

  /** per-peer entries held, all maps together (bounded by members + connected peers) */
  peerStateSize (): number {
    return Object.values(this.peerStateSizes()).reduce((a, b) => a + b, 0)
  }

  /** per-peer entries held, by map */
  peerStateSizes (): { synced: number, acks: number, syncedAt: number, connectedAt: number, floorHashes: number, up: number } {
    return { synced: this.synced.size, acks: this.acks.size, syncedAt: this.syncedAt.size, connectedAt: this.connectedAt.size, floorHashes: this.floorHashes.size, up: this.up.size }
  }

  /**
   * Purge before serve: a peer is served objects only once this node reconciled delete
   * records with it in a session that started after their connection opened (a rejoining
   * node, or one that rejoined us, may hold tombstones the other lacks).
   */
  reconciled (peer: string): boolean {
    if (peer === this.self) return true
    return (this.syncedAt.get(peer) ?? -1) >= (this.connectedAt.get(peer) ?? 0)
  }

  // ---- sessions ----

  ack (now: bigint): bigint { return computeAck(this.self, this.members(), this.synced, now) }

  /** ours; a peer behind our horizon may lack records we folded: it gets the floor (a reset) */
  sessionOpening (peer: string, now: bigint): Opening {
    const hash = this.cur.hash()
    const reset = this.cur.horizon > 0n && (this.acks.get(peer) ?? 0n) < this.cur.horizon
    const ship = this.cur.size > 0 && (reset || this.floorHashes.get(peer) !== hash)
    return {
      now,
      ack: this.ack(now),
      gcHorizon: this.cur.horizon,
      floorHash: hash,
      reset,
      floor: ship ? this.cur.entries().map(([vid, generation]) => ({ vid, generation })) : []
    }
  }

  /** The peer's, once the session validated the frame carrying it; its floor goes through admission, then takeFloor(). */
  onOpening (peer: string, o: Opening): Effect[] {
    this.floorHashes.set(peer, o.floorHash)
    this.noteAck(peer, o.ack)
    return []
  }

  onSessionEnd (peer: string, end: SessionEnd): Effect[] {
    if (end.error !== undefined) return []
    if (end.startedAt > (this.syncedAt.get(peer) ?? 0)) this.syncedAt.set(peer, end.startedAt)
    if (end.theirs !== undefined) this.noteSynced(peer, end.theirs.now)
    return []
  }

  private noteSynced (peer: string, peerNow: bigint): void {
    if (peerNow > (this.synced.get(peer) ?? 0n)) this.synced.set(peer, peerNow)
  }

  private noteAck (peer: string, ack: bigint): void {
    if (ack > (this.acks.get(peer) ?? 0n)) this.acks.set(peer, ack)
  }

  // ---- GC and floors ----

  /**
   * A GC round: forgets per-peer state of peers neither members nor connected, advances the
   * horizon if every member acknowledged more, and folds what it covers. Begins a fold (or
   * ends the round at once: rounds counts it).
   */
  tick (now: bigint): Effect[] {
    this.sweep()
    this.mustNotFold()
    const members = this.members()
    const acks = new Map(this.acks)
    acks.set(this.self, this.ack(now))
    const h = computeHorizon(members, acks, this.cur.horizon)
    if (h <= this.cur.horizon && !this.hasFoldable()) { this.rounds++; return [] }
    const draft = this.cur.copy()
    draft.advance(h)
    for (const r of this.log.records()) if (r.kind === 'vdi' && r.hlc <= h) draft.raise(r.vid, r.generation)
    this.fold = { kind: 'gc', stage: 'raise', raised: [], reset: false, gone: [] }
    if (!draft.changed) return this.dropStep()
    this.fold.draft = draft
    return [{ type: 'saveFloor', state: draft, why: 'gc' }]
  }

  /**
   * Floor entries from a peer (admission accepted them): saved, only then adopted, applied and
   * purged; then the records they stand for leave the log. `reset`: the peer found us behind its horizon.
   */
  takeFloor (entries: FloorEntry[], reset: boolean): Effect[] {
    this.mustNotFold()
    if (reset) this.resets++
    const draft = this.cur.copy()
    const raised: number[] = []
    for (const e of entries) {
      // admission refuses a malformed floor whole; an entry out of range is skipped all the same
      try { if (draft.raise(e.vid, e.generation)) raised.push(e.vid) } catch {}
    }
    if (raised.length === 0) return []
    this.fold = { kind: 'floor', stage: 'raise', draft, raised: [...new Set(raised)], reset, gone: [] }
    return [{ type: 'saveFloor', state: draft, why: 'floor' }]
  }

  floorSaved (state: FloorState): Effect[] {
    const f = this.fold
    if (f === undefined || f.draft !== state) throw new Error('floorSaved: not the draft this replica is waiting for')
    state.changed = false
    this.cur = state
    f.draft = undefined
    if (f.stage === 'seqs') {
      f.stage = 'compact'
      return [{ type: 'compact', drop: f.gone }]
    }
    const out: Effect[] = []
    for (const vid of f.raised) {
      const gen = this.cur.get(vid)!
      this.index.applyFloor(vid, gen)
      out.push({ type: 'purgeVid', vid, generation: gen, source: f.reset ? 'reset' : 'floor' })
    }
    return [...out, ...this.dropStep()]
  }

  compacted (dropped: number): Effect[] {
    const f = this.fold
    if (f === undefined || f.stage !== 'compact') throw new Error('compacted: no compaction was asked for')
    // the compaction dropped every record of f.gone (it was asked to drop exactly those): they
    // leave the set too. Not gated on log.has(): the log keeps a dropped record's seq taken, so
    // has() stays true and the set would keep every folded record until a restart
    for (const r of f.gone) this.set.remove(recordHash(r))
    this.folded += dropped
    this.endFold()
    return []
  }

  /** a fold's save or compaction failed: the floor and log stay as they were saved */
  foldFailed (): void { this.fold = undefined }

  /**
   * Records the saved floor stands for leave the log: each one's seq saved in the floor first
   * (so a restart can never reuse it), then compacted away.
   */
  private dropStep (): Effect[] {
    const f = this.fold!
    f.gone = this.log.records().filter((r) => coveredByFloor(r, this.cur.get(r.vid)))
    if (f.gone.length === 0) { this.endFold(); return [] }
    const draft = this.cur.copy()
    for (const r of f.gone) draft.noteSeq(r.origin, r.seq)
    if (!draft.changed) {
      f.stage = 'compact'
      return [{ type: 'compact', drop: f.gone }]
    }
    f.stage = 'seqs'
    f.draft = draft
    return [{ type: 'saveFloor', state: draft, why: 'seqs' }]
  }

  private endFold (): void {
    if (this.fold?.kind === 'gc') this.rounds++
    this.fold = undefined
  }

  private mustNotFold (): void {
    if (this.fold !== undefined) throw new Error('a fold is in progress: the driver runs one at a time')
  }

  private hasFoldable (): boolean {
    const h = this.cur.horizon
    return this.log.records().some((r) => r.kind === 'vdi' && r.hlc <= h)
  }

  /** per-peer state of peers that are neither members nor connected goes */
  private sweep (): void {
    const members = new Set(this.members())
    for (const m of [this.synced, this.acks, this.syncedAt, this.connectedAt, this.floorHashes]) {
      for (const peer of m.keys()) if (!members.has(peer) && !this.up.has(peer)) this.onPeerForgotten(peer)
    }
  }
}
