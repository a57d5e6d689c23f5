// A simulated node's durable delete log, in memory: what DeleteReplica reads through LogView
// (records, has, nextSeq, summary) and what the node's append and compact effects write. It
// survives a simulated crash (the node object is rebuilt around it), as the file does.
// DeleteReplica's unit tests drive it too. It is not MemDeleteLog (src/tombstones): after a
// compaction its has() and nextSeq() forget the dropped records, where the file log and
// MemDeleteLog keep their seqs taken; DeleteReplica.compacted() drops a folded record from its
// set only when has() is false, so the two behave differently and stay apart until one
// semantics is chosen.

import { recordHash, type DeleteRec } from '../tombstones/record.js'
import type { LogView } from '../tombstones/replicaTypes.js'

const U64 = (1n << 64n) - 1n

export class MemLog implements LogView {
  private readonly byHash = new Map<bigint, DeleteRec>()
  private cache: DeleteRec[] | undefined
  private sum = 0n
  private maxHlc = 0n
  /** highest seq held per origin (recomputed after a compaction) */
  private readonly maxSeq = new Map<string, bigint>()

  get size (): number { return this.byHash.size }

  records (): DeleteRec[] {
    this.cache ??= [...this.byHash.values()]
    return this.cache
  }

  has (origin: string, seq: bigint): boolean {
    return this.byHash.has(idHash(origin, seq))
  }

  nextSeq (origin: string): bigint {
    return (this.maxSeq.get(origin) ?? 0n) + 1n
  }

  summary (): { count: number, fingerprint: bigint, maxHlc: bigint } {
    return { count: this.byHash.size, fingerprint: this.sum, maxHlc: this.maxHlc }
  }

  /** appends the records not held yet (by origin and seq); returns those */
  append (recs: DeleteRec[]): DeleteRec[] {
    const fresh: DeleteRec[] = []
    for (const r of recs) {
      const h = recordHash(r)
      if (this.byHash.has(h)) continue
      this.byHash.set(h, r)
      this.sum = (this.sum + h) & U64
      if (r.hlc > this.maxHlc) this.maxHlc = r.hlc
      if (r.seq > (this.maxSeq.get(r.origin) ?? 0n)) this.maxSeq.set(r.origin, r.seq)
      fresh.push(r)
    }
    if (fresh.length > 0) this.cache = undefined
    return fresh
  }

  /** drops these records; returns how many were held */
  compact (drop: DeleteRec[]): number {
    let n = 0
    for (const r of drop) {
      const h = recordHash(r)
      if (!this.byHash.delete(h)) continue
      this.sum = (this.sum - h) & U64
      n++
    }
    if (n === 0) return 0
    this.cache = undefined
    this.maxHlc = 0n
    this.maxSeq.clear()
    for (const r of this.byHash.values()) {
      if (r.hlc > this.maxHlc) this.maxHlc = r.hlc
      if (r.seq > (this.maxSeq.get(r.origin) ?? 0n)) this.maxSeq.set(r.origin, r.seq)
    }
    return n
  }
}

function idHash (origin: string, seq: bigint): bigint {
  // recordHash reads only the identity (origin, seq)
  return recordHash({ kind: 'vdi', origin, seq, hlc: 0n, vid: 1, generation: 0 })
}
