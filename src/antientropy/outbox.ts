// What a session owes its peer and has not sent yet: records to push (explicit hashes it
// asked for, or "my records in [from, to) except these ids") and hashes we want from it,
// queued lazily and drained into each frame within its record and byte limits. Its weight
// (ids + one per range) is what session.ts bounds against a peer that asks faster than frames
// drain.

import type { DeleteRecord } from '../wire/bellwether_pb.js'
import { sortedIndexOf } from '../sorted.js'
import type { Key, ReconSet } from './reconSet.js'
import { MAX_WANTS_PER_FRAME, WANT_BYTES_BUDGET } from './constants.js'
import { WANT_BYTES, recordWireSize, wireOrUndefined } from './frame.js'

/** Records queued for the peer: explicit hashes (wants), or "my records in [from, to) except these". */
export type Push =
  | { kind: 'ids'; ids: BigUint64Array; pos: number; weight: number }
  | { kind: 'range'; from: Key; to: Key; except: BigUint64Array; weight: number }

export class Outbox {
  /** what the queued pushes hold (ids + one per range) */
  pushWeight = 0
  private readonly pushes: Push[] = []
  private pushHead = 0
  private wants: bigint[] = []
  private wantHead = 0

  constructor (private readonly set: ReconSet, private readonly maxRecords: number) {}

  /** wanted hashes queued and not yet sent */
  get pendingWants (): number {
    return this.wants.length - this.wantHead
  }

  /** nothing queued: no records to push, no wants to send */
  get empty (): boolean {
    return this.pushHead >= this.pushes.length && this.wantHead >= this.wants.length
  }

  queuePush (p: Push): void {
    this.pushes.push(p)
    this.pushWeight += p.weight
  }

  want (h: bigint): void {
    this.wants.push(h)
  }

  drainWants (): bigint[] {
    const limit = Math.min(MAX_WANTS_PER_FRAME, Math.floor(WANT_BYTES_BUDGET / WANT_BYTES))
    const take: bigint[] = []
    while (this.wantHead < this.wants.length && take.length < limit) {
      const h = this.wants[this.wantHead++]!
      // learned meanwhile (from this peer or elsewhere): no need to ask
      if (!this.set.has(h)) take.push(h)
    }
    if (this.wantHead >= this.wants.length) {
      this.wants = []
      this.wantHead = 0
    }
    const sorted = BigUint64Array.from(take).sort()
    const out: bigint[] = []
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) out.push(sorted[i]!)
    return out
  }

  drainRecords (budget: number): DeleteRecord[] {
    const out: DeleteRecord[] = []
    let bytes = 0
    const fits = (w: DeleteRecord): boolean => {
      const sz = recordWireSize(w)
      if (out.length >= this.maxRecords || bytes + sz > budget) return false
      bytes += sz
      out.push(w)
      return true
    }
    while (this.pushHead < this.pushes.length) {
      if (out.length >= this.maxRecords) break
      const p = this.pushes[this.pushHead]!
      if (p.kind === 'ids') {
        while (p.pos < p.ids.length) {
          const rec = this.set.get(p.ids[p.pos]!)
          // gone (GC) or never held: a want we cannot answer is skipped, not waited on
          const w = rec === undefined ? undefined : wireOrUndefined(rec)
          if (w !== undefined && !fits(w)) break
          p.pos++
        }
        if (p.pos < p.ids.length) break
      } else {
        let i = this.set.lowerBound(p.from)
        const end = this.set.lowerBound(p.to)
        let full = false
        for (; i < end; i++) {
          const h = this.set.hashAt(i)
          if (contains(p.except, h)) continue
          const w = wireOrUndefined(this.set.get(h)!)
          if (w === undefined) continue
          if (!fits(w)) {
            full = true
            break
          }
        }
        if (full) {
          p.from = this.set.keyAt(i)
          break
        }
      }
      this.pushWeight -= p.weight
      this.pushHead++
    }
    if (this.pushHead >= this.pushes.length) {
      this.pushes.length = 0
      this.pushHead = 0
      this.pushWeight = 0
    }
    return out
  }
}

function contains (sorted: BigUint64Array, h: bigint): boolean {
  return sortedIndexOf(sorted, h) >= 0
}
