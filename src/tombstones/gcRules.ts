// The GC rules as pure functions (the replica applies them): tombstone GC by causal
// stability, never by a clock. A node's ack is the HLC up to which it holds every delete
// record of every current member: the oldest "peer clock at the start of my last clean
// session with it" over all members. The GC horizon is the smallest ack of all current
// members (evicted ones no longer count). Whole-VDI records at or below the horizon fold into
// the floor (one entry per vid, kept forever); discards of a folded generation go with them.
import type { DeleteRec } from './record.js'

/** the smallest peer snapshot time over all other members; 0 if any member was never reconciled */
export function computeAck (self: string, members: readonly string[], synced: ReadonlyMap<string, bigint>, now: bigint): bigint {
  let ack = now
  for (const m of members) {
    if (m === self) continue
    const t = synced.get(m)
    if (t == null) return 0n
    if (t < ack) ack = t
  }
  return ack
}

/** the smallest ack over all members; never moves back */
export function computeHorizon (members: readonly string[], acks: ReadonlyMap<string, bigint>, previous: bigint): bigint {
  let h: bigint | undefined
  for (const m of members) {
    const a = acks.get(m) ?? 0n
    if (h == null || a < h) h = a
  }
  return h != null && h > previous ? h : previous
}

/** is `rec` subsumed by the floor (so it must neither be kept nor re-learned)? */
export function coveredByFloor (rec: DeleteRec, floorGen: number | undefined): boolean {
  return floorGen != null && rec.generation <= floorGen
}
