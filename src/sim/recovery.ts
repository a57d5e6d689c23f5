// One simulated node's recovery of object lists: a pass asks every co-replica for its copies
// of the objects both are placed on and pulls what this node lacks — after a view change
// (debounced), after a restart, on a failed answer (retry) and periodically. Two tombstone
// gates guard it, as in the real node: a node serves its list only to a peer it has
// reconciled delete records with since their connection opened (DeleteReplica.reconciled; a
// session runs first if needed, and the answer waits for it), and a pulled copy a tombstone
// here covers is refused (the store's write gate). The test-only planted bug
// 'skip-purge-gate' turns both off. Lists travel as stream messages: the real node asks over
// a libp2p stream, where TCP retransmits a lost segment, and a request that cannot be sent
// (peer down or cut off) fails the pass, which is retried.

import { LIST_REQ, LIST_RESP, T_RECOVERY } from './kinds.js'
import type { EventQueue } from './eventQueue.js'
import type { Network } from './network.js'
import type { ObjectTable } from './objects.js'
import type { SimParams } from './params.js'

const LIST_REQ_BYTES = 48
const RECOVERY_RETRY_MS = 3000

/** what recovery needs of its node */
export interface RecoveryNode {
  readonly i: number
  readonly life: number
  /** purge before serve: reconciled with the peer since their connection opened? */
  reconciled: (peer: number) => boolean
  /** does a tombstone here cover object o? */
  covers: (o: number) => boolean
  /** run a session with the peer now (the answer to its list request waits for it) */
  urgentSession: (peer: number) => void
}

export interface RecoveryWorld {
  readonly p: SimParams
  readonly queue: EventQueue
  readonly net: Network
  readonly objects: ObjectTable
  nextId: () => number
  copied: (node: number, o: number, k: number, from: number) => void
}

export interface RecoveryStats {
  refusedPulls: number
  servedLists: number
  gatedLists: number
  recoveries: number
}

export class NodeRecovery {
  private readonly pending = new Map<number, number[]>()
  private due = -1

  constructor (private readonly node: RecoveryNode, private readonly w: RecoveryWorld, private readonly stats: RecoveryStats) {}

  private get bug (): boolean { return this.w.p.plantBug === 'skip-purge-gate' }

  /** a pass in `delay` ms, unless one is due already */
  schedule (delay: number): void {
    const now = this.w.queue.now
    if (this.due >= now) return
    this.due = now + delay
    this.w.queue.push(this.due, T_RECOVERY, this.node.i, 0, 0, this.node.life)
  }

  /** T_RECOVERY: c = 1 the periodic pass (and the next one is set), c = 0 a scheduled one */
  onTimer (c: number): void {
    const now = this.w.queue.now
    if (c === 1) {
      this.w.queue.push(now + this.w.p.recoveryPeriodMs, T_RECOVERY, this.node.i, 0, 1, this.node.life)
      this.pass()
    } else if (now === this.due) {
      this.due = -1
      this.pass()
    }
  }

  onListReq (from: number, reqId: number): void {
    if (this.bug || this.node.reconciled(from)) {
      this.answer(from, reqId)
      return
    }
    this.stats.gatedLists++
    let q = this.pending.get(from)
    if (q === undefined) this.pending.set(from, (q = []))
    q.push(reqId)
    this.node.urgentSession(from)
  }

  onListResp (from: number, ok: boolean, objs: Int32Array | undefined): void {
    if (!ok || objs === undefined) {
      this.schedule(RECOVERY_RETRY_MS)
      return
    }
    const ob = this.w.objects
    const i = this.node.i
    for (const o of objs) {
      const k = ob.slotOf(o, i)
      if (k < 0 || ob.holds(o, k)) continue
      // the transfer reads the source as it is now: a copy it purged since it listed it is gone
      const ks = ob.slotOf(o, from)
      if (ks < 0 || !ob.holds(o, ks)) continue
      if (!this.bug && this.node.covers(o)) {
        this.stats.refusedPulls++
        continue
      }
      this.w.copied(i, o, k, from)
    }
  }

  /** a session with `peer` ended: answer the list requests that waited for it */
  sessionEnded (peer: number): void {
    const waiting = this.pending.get(peer)
    if (waiting === undefined) return
    this.pending.delete(peer)
    const ok = this.node.reconciled(peer)
    for (const reqId of waiting) {
      if (ok) this.answer(peer, reqId)
      else this.w.net.send(LIST_RESP, this.node.i, peer, reqId, 0, undefined, LIST_REQ_BYTES, true)
    }
  }

  /** ask every co-replica for its copies of the objects both are placed on */
  private pass (): void {
    const ob = this.w.objects
    const i = this.node.i
    const peers = new Set<number>()
    for (let j = ob.nodeStart[i]!; j < ob.nodeStart[i + 1]!; j++) {
      const o = Math.floor(ob.nodePlace[j]! / ob.copies)
      for (let k = 0; k < ob.copies; k++) {
        const q = ob.replicas[o * ob.copies + k]!
        if (q !== i) peers.add(q)
      }
    }
    this.stats.recoveries++
    let failed = false
    for (const q of peers) {
      if (this.w.net.send(LIST_REQ, i, q, this.w.nextId(), 0, undefined, LIST_REQ_BYTES, true) < 0) failed = true
    }
    if (failed) this.schedule(RECOVERY_RETRY_MS)
  }

  private answer (to: number, reqId: number): void {
    const ob = this.w.objects
    const i = this.node.i
    const out: number[] = []
    for (let j = ob.nodeStart[i]!; j < ob.nodeStart[i + 1]!; j++) {
      const pl = ob.nodePlace[j]!
      const o = Math.floor(pl / ob.copies)
      if (ob.holds(o, pl % ob.copies) && ob.slotOf(o, to) >= 0) out.push(o)
    }
    this.stats.servedLists++
    this.w.net.send(LIST_RESP, i, to, reqId, 1, Int32Array.from(out), LIST_REQ_BYTES + 8 * out.length, true)
  }
}
