// Validation of a peer's anti-entropy frame before a session acts on it: the shape (bounds,
// modes, orderings, per-frame limits) and its records (decodable, and not a different record
// under an (origin, seq) already held). Every problem is a Violation: the peer's fault, which
// ends the session as a rejection. The session's own queue bounds stay in session.ts, as
// they depend on what it has queued.

import type { AeFrame } from '../wire/bellwether_pb.js'
import { AeMode } from '../wire/bellwether_pb.js'
import { recordHash, type DeleteRec } from '../tombstones/record.js'
import { fromWire } from '../tombstones/recordWire.js'
import { MAX_KEY, compareKeys, type Key, type ReconSet } from './reconSet.js'
import { MAX_IDS_PER_FRAME, MAX_WANTS_PER_FRAME } from './constants.js'
import { MAX_RANGE_COUNT, ZERO_KEY } from './frame.js'

export class Violation extends Error {}

/** Throws Violation unless the frame's ranges and want list are well formed and within limits. */
export function checkShape (f: AeFrame, maxRanges: number, maxRecords: number): void {
  if (f.ranges.length > maxRanges) throw new Violation(`frame has ${f.ranges.length} ranges, limit ${maxRanges}`)
  if (f.records.length > maxRecords) {
    throw new Violation(`frame has ${f.records.length} records, limit ${maxRecords}`)
  }
  if (f.want.length > MAX_WANTS_PER_FRAME) throw new Violation(`frame wants ${f.want.length} ids, limit ${MAX_WANTS_PER_FRAME}`)
  for (let i = 1; i < f.want.length; i++) {
    if (f.want[i]! <= f.want[i - 1]!) throw new Violation(`want list not strictly increasing at ${i}`)
  }
  let lower = ZERO_KEY
  let ids = 0
  for (let i = 0; i < f.ranges.length; i++) {
    const r = f.ranges[i]!
    if (r.upper === undefined) throw new Violation(`range ${i} has no upper bound`)
    const upper: Key = { hlc: r.upper.hlc, hash: r.upper.hash }
    if (compareKeys(upper, lower) <= 0) throw new Violation(`range ${i}: bounds not strictly increasing`)
    lower = upper
    if (r.mode === AeMode.SKIP) {
      if (r.count !== 0n || r.fingerprint !== 0n || r.ids.length > 0) throw new Violation(`range ${i}: skip range carries data`)
    } else if (r.mode === AeMode.FINGERPRINT) {
      if (r.ids.length > 0) throw new Violation(`range ${i}: fingerprint range carries ids`)
      if (r.count > MAX_RANGE_COUNT) throw new Violation(`range ${i}: count ${r.count} is not plausible`)
      if (r.count === 0n && r.fingerprint !== 0n) throw new Violation(`range ${i}: empty range with a nonzero fingerprint`)
    } else if (r.mode === AeMode.ID_LIST) {
      if (r.fingerprint !== 0n) throw new Violation(`range ${i}: id list carries a fingerprint`)
      if (r.count !== 0n && r.count !== BigInt(r.ids.length)) throw new Violation(`range ${i}: count disagrees with its ids`)
      ids += r.ids.length
      if (ids > MAX_IDS_PER_FRAME) throw new Violation(`frame lists more than ${MAX_IDS_PER_FRAME} ids`)
      for (let j = 1; j < r.ids.length; j++) {
        if (r.ids[j]! <= r.ids[j - 1]!) throw new Violation(`range ${i}: ids not strictly increasing at ${j}`)
      }
    } else {
      throw new Violation(`range ${i}: unknown mode ${String(r.mode)}`)
    }
  }
  if (f.ranges.length > 0 && compareKeys(lower, MAX_KEY) !== 0) throw new Violation('last range does not end at MAX_KEY')
}

/** Decodes the frame's records against the set; throws Violation on a bad or conflicting one. Returns each new-to-the-frame record with its hash. */
export function readRecords (f: AeFrame, set: ReconSet): Array<[DeleteRec, bigint]> {
  const out: Array<[DeleteRec, bigint]> = []
  const inFrame = new Map<bigint, DeleteRec>()
  for (let i = 0; i < f.records.length; i++) {
    let rec: DeleteRec
    try {
      rec = fromWire(f.records[i]!)
    } catch (e) {
      throw new Violation(`record ${i}: ${(e as Error).message}`)
    }
    const hash = recordHash(rec)
    // same (origin, seq) must mean the same record: a different one is forged or corrupt,
    // and accepting either silently would let two nodes disagree forever
    const held = set.get(hash) ?? inFrame.get(hash)
    if (held !== undefined && !sameRecord(held, rec)) {
      throw new Violation(`record ${i} (${rec.origin}/${rec.seq}) conflicts with the record held for that origin and seq`)
    }
    // the same record twice in one frame is learned once
    if (inFrame.has(hash)) continue
    inFrame.set(hash, rec)
    out.push([rec, hash])
  }
  return out
}

function sameRecord (a: DeleteRec, b: DeleteRec): boolean {
  if (a.kind !== b.kind || a.origin !== b.origin || a.seq !== b.seq || a.hlc !== b.hlc) return false
  if (a.vid !== b.vid || a.generation !== b.generation) return false
  if (a.kind === 'vdi' || b.kind === 'vdi') return true
  if (a.indexes.length !== b.indexes.length) return false
  for (let i = 0; i < a.indexes.length; i++) if (a.indexes[i] !== b.indexes[i]) return false
  return true
}
