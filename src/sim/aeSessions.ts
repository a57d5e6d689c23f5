// One simulated node's anti-entropy: when to reconcile with whom (the rules of
// src/antientropy/aeScheduler.ts: a session at once when a connection opens, on a beacon mismatch
// only the smaller peer id starts unless the mismatch outlives a grace period, one session per
// peer, a global cap that demand-driven sessions skip, a minimum interval after success and
// backoff after failure), and the sessions themselves: the real ReconSession on each side,
// each frame encoded with the real encoder and carried as bytes over the simulated network on
// a FIFO stream, each side's GC opening written on its first frame with aeService's
// writeOpening / read with readOpening. A stream cut by a partition or a crash leaves the
// session to its timeout.

import { ReconSession, encodeFrame } from '../antientropy/session.js'
import { readOpening, writeOpening } from '../net/aeService.js'
import type { Beacon, Opening, SessionEnd } from '../tombstones/replicaTypes.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { ReconSet } from '../antientropy/reconSet.js'
import { AE_FRAME, T_SESSION } from './kinds.js'
import type { EventQueue } from './eventQueue.js'
import type { Network } from './network.js'

const TIE_BREAK_GRACE_MS = 3000
const MAX_BACKOFF_MS = 15_000

/** what the sessions need of their node */
export interface AeNode {
  readonly i: number
  readonly id: string
  readonly life: number
  set: () => ReconSet
  peerId: (q: number) => string
  nowHlc: () => bigint
  opening: (peer: number) => Opening
  /** the peer's opening arrived (validated): apply it (ack, floor digest, floor entries) */
  onOpening: (peer: number, o: Opening) => void
  /** records a frame brought that the set lacks: make them durable and add them to the set */
  learn: (recs: DeleteRec[], peer: number) => void
  /** does our beacon summary equal this one? */
  sameSummary: (s: Beacon['log']) => boolean
  reachable: (peer: number) => boolean
  ended: (peer: number, end: SessionEnd) => void
  bytesSent: (n: number) => void
}

export interface AeEnv {
  queue: EventQueue
  net: Network
  nextId: () => number
  minIntervalMs: number
  maxConcurrent: number
  timeoutMs: number
}

interface Session {
  id: number
  peer: number
  initiator: boolean
  rs: ReconSession
  startedAt: number
  nextIn: number
  nextOut: number
  /** arrival time of the last frame sent: the next one arrives no earlier (FIFO stream) */
  lastAt: number
  sentOpening: boolean
  theirs?: Opening
}

interface Slot {
  running: boolean
  queued: boolean
  urgent: boolean
  notBefore: number
  mismatchSince: number
  failures: number
}

export interface AeStats {
  started: number
  clean: number
  failed: number
  frames: number
}

export class NodeAe {
  private readonly sessions = new Map<number, Session>()
  private readonly slots = new Map<number, Slot>()
  private readonly waiting: number[] = []
  private running = 0

  constructor (private readonly node: AeNode, private readonly env: AeEnv, private readonly stats: AeStats) {}

  get active (): number { return this.sessions.size }

  /** a replica's startSession effect, or the serve gate asking for one (`urgent`) */
  consider (peer: number, reason: 'connected' | 'beacon' | 'urgent', summary?: Beacon['log']): void {
    const slot = this.slot(peer)
    const now = this.env.queue.now
    if (reason === 'connected') {
      slot.notBefore = 0
      this.request(peer, false)
    } else if (reason === 'urgent') {
      this.request(peer, true)
    } else if (summary !== undefined) {
      if (this.node.sameSummary(summary)) {
        slot.mismatchSince = -1
        return
      }
      if (slot.mismatchSince < 0) slot.mismatchSince = now
      const ours = this.node.id < this.node.peerId(peer) || now - slot.mismatchSince > TIE_BREAK_GRACE_MS
      if (ours && now >= slot.notBefore) this.request(peer, false)
    }
  }

  /** an AE_FRAME message: c = session id, e = frame number */
  onFrame (from: number, sid: number, frameNo: number, bytes: Uint8Array): void {
    let s = this.sessions.get(sid)
    if (s === undefined) {
      if (frameNo !== 0) return // a session this life of the node never had, or one already over
      s = this.open(sid, from, false, new ReconSession('responder', this.node.set()))
    }
    if (s.peer !== from) return
    if (frameNo !== s.nextIn) {
      this.end(s, `frame ${frameNo} where ${s.nextIn} was due`)
      return
    }
    s.nextIn++
    const step = s.rs.acceptBytes(bytes)
    if (step.done) {
      if (step.reply !== undefined) this.send(s, step.reply)
      this.end(s, step.error ?? 'ended by the peer')
      return
    }
    if (s.theirs === undefined) {
      s.theirs = readOpening(s.rs.acceptedFrame!)
      this.node.onOpening(from, s.theirs)
    }
    if (step.learned.length > 0) this.node.learn(step.learned, from)
    const st = s.rs.answer()
    if (st.reply !== undefined) this.send(s, st.reply)
    if (st.done) this.end(s, st.error)
  }

  /** T_SESSION: the session's deadline passed */
  onTimeout (sid: number): void {
    const s = this.sessions.get(sid)
    if (s !== undefined) this.end(s, `no end within ${this.env.timeoutMs} ms`)
  }

  private slot (peer: number): Slot {
    let s = this.slots.get(peer)
    if (s === undefined) {
      s = { running: false, queued: false, urgent: false, notBefore: 0, mismatchSince: -1, failures: 0 }
      this.slots.set(peer, s)
    }
    return s
  }

  private request (peer: number, urgent: boolean): void {
    if (peer === this.node.i) return
    const slot = this.slot(peer)
    if (urgent) slot.urgent = true
    if (slot.queued) return
    slot.queued = true
    this.waiting.push(peer)
    this.pump()
  }

  private pump (): void {
    while (this.waiting.length > 0) {
      let i = this.waiting.findIndex((p) => !this.slot(p).running && this.slot(p).urgent)
      if (i < 0 && this.running < this.env.maxConcurrent) i = this.waiting.findIndex((p) => !this.slot(p).running)
      if (i < 0) return
      const peer = this.waiting.splice(i, 1)[0]!
      const slot = this.slot(peer)
      slot.queued = false
      slot.urgent = false
      if (!this.node.reachable(peer)) {
        this.node.ended(peer, { startedAt: this.env.queue.now, error: 'not reachable' })
        continue
      }
      slot.running = true
      this.running++
      this.stats.started++
      const rs = new ReconSession('initiator', this.node.set())
      const s = this.open(this.env.nextId(), peer, true, rs)
      this.send(s, rs.start())
    }
  }

  private open (sid: number, peer: number, initiator: boolean, rs: ReconSession): Session {
    const s: Session = { id: sid, peer, initiator, rs, startedAt: this.env.queue.now, nextIn: 0, nextOut: 0, lastAt: 0, sentOpening: false }
    this.sessions.set(sid, s)
    this.env.queue.push(this.env.queue.now + this.env.timeoutMs, T_SESSION, this.node.i, 0, sid, this.node.life)
    return s
  }

  private send (s: Session, frame: Parameters<typeof encodeFrame>[0]): void {
    // each side's first frame carries its GC opening
    if (!s.sentOpening && frame.error === '') {
      writeOpening(frame, this.node.opening(s.peer))
      s.sentOpening = true
    }
    const bytes = encodeFrame(frame)
    this.stats.frames++
    this.node.bytesSent(bytes.length)
    const at = this.env.net.send(AE_FRAME, this.node.i, s.peer, s.id, s.nextOut++, bytes, bytes.length, true, s.lastAt)
    if (at >= 0) s.lastAt = at
  }

  private end (s: Session, error: string | undefined): void {
    if (!this.sessions.delete(s.id)) return
    if (error === undefined) this.stats.clean++
    else this.stats.failed++
    const end: SessionEnd = { startedAt: s.startedAt }
    if (error !== undefined) end.error = error
    if (s.theirs !== undefined) end.theirs = s.theirs
    if (s.initiator) {
      const slot = this.slot(s.peer)
      slot.running = false
      this.running--
      const now = this.env.queue.now
      if (error === undefined) {
        slot.failures = 0
        slot.mismatchSince = -1
        slot.notBefore = now + this.env.minIntervalMs
      } else {
        slot.failures++
        slot.notBefore = now + Math.min(MAX_BACKOFF_MS, 250 * 2 ** slot.failures)
      }
    }
    this.node.ended(s.peer, end)
    if (s.initiator) this.pump()
  }
}
