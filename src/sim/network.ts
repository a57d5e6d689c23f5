// The simulated network: every message between two nodes goes through send(), which draws its
// fate from the seeded random source — dropped (loss), delivered twice (duplication), held back
// (reorder), each copy after a delay drawn from the latency distribution — and schedules its
// delivery on the event queue. Partitions are groups: a message crosses only between nodes of
// the same group, judged when it is sent and again when it arrives (a cut drops what is in
// flight, as an input-hook packet filter does). A crashed node receives nothing, and a message
// sent to an earlier life of a node (before its restart) is dropped on arrival.
//
// Streams (anti-entropy sessions) are FIFO and never duplicated, as over TCP: a stream message
// arrives no earlier than the one sent before it on the same stream, and loss costs it a
// retransmission timeout instead of the message. Only a cut or a crash loses a stream's frames
// (the session then runs into its timeout). Everything else (heartbeats, gossip, control, list
// requests) is lost outright at the loss rate, standing for a message dropped with its stream.

import type { Rng } from '../rng.js'
import type { EventQueue } from './eventQueue.js'
import type { LatencyDist } from './params.js'

const RTO_MS = 200

export interface NetStats {
  sent: number
  delivered: number
  lost: number
  retransmitted: number
  cut: number
  duplicated: number
  bytes: number
}

export class Network {
  /** partition group of each node; messages cross only within a group */
  readonly group: Uint16Array
  /** 1 while the node runs */
  readonly up: Uint8Array
  /** bumped on every restart: a message addressed to an earlier life is dropped */
  readonly life: Int32Array
  readonly stats: NetStats = { sent: 0, delivered: 0, lost: 0, retransmitted: 0, cut: 0, duplicated: 0, bytes: 0 }
  private readonly mean: number

  constructor (
    n: number,
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    private readonly latency: LatencyDist,
    private readonly loss: number,
    private readonly dup: number,
    private readonly reorder: number
  ) {
    this.group = new Uint16Array(n)
    this.up = new Uint8Array(n).fill(1)
    this.life = new Int32Array(n)
    this.mean = latency.kind === 'fixed' ? latency.ms : latency.kind === 'uniform' ? (latency.min + latency.max) / 2 : latency.mean + latency.min
  }

  /** one-way delay of one message, ms */
  delay (): number {
    const l = this.latency
    if (l.kind === 'fixed') return l.ms
    if (l.kind === 'uniform') return l.min + this.rng() * (l.max - l.min)
    return l.min - l.mean * Math.log(1 - this.rng())
  }

  reachable (from: number, to: number): boolean {
    return this.up[to] === 1 && this.group[from] === this.group[to]
  }

  /**
   * Sends message `kind` from → to with integers c, e and payload `obj` of `bytes` bytes.
   * Returns the arrival time of the (first) copy, or -1 if it is lost. `notBefore` keeps a
   * stream's messages in order.
   */
  send (kind: number, from: number, to: number, c: number, e: number, obj: unknown, bytes: number, stream = false, notBefore = 0): number {
    const s = this.stats
    s.sent++
    s.bytes += bytes
    if (this.up[from] !== 1) return -1
    if (this.group[from] !== this.group[to]) { s.cut++; return -1 }
    const now = this.queue.now
    let at = now + this.delay()
    if (this.loss > 0 && this.rng() < this.loss) {
      // a stream retransmits (TCP): a lost segment costs a retransmission timeout, not the message
      if (!stream) { s.lost++; return -1 }
      s.retransmitted++
      at += RTO_MS + this.delay()
    }
    if (!stream && this.reorder > 0 && this.rng() < this.reorder) at += this.rng() * 4 * this.mean
    if (at < notBefore) at = notBefore
    this.queue.push(at, kind, from, to, c, this.life[to]!, e, obj)
    if (!stream && this.dup > 0 && this.rng() < this.dup) {
      s.duplicated++
      this.queue.push(now + this.delay(), kind, from, to, c, this.life[to]!, e, obj)
    }
    return at
  }

  /** Called for a popped message event: may it be delivered? (counts it either way) */
  admit (from: number, to: number, life: number): boolean {
    if (this.up[to] !== 1 || this.life[to] !== life || this.group[from] !== this.group[to]) {
      this.stats.cut++
      return false
    }
    this.stats.delivered++
    return true
  }
}
