// How a session answers a range where the two sides differ: with its own ids when it holds
// few items there, else by splitting the range into `branch` fingerprinted parts at the
// shortest bounds that separate neighbouring items. Pure: reads the set, builds ranges.
import { AeMode } from '../wire/bellwether_pb.js'
import type { Key, ReconSet } from './reconSet.js'
import type { OutRange } from './frame.js'

/** My answer for a range ending at `upper` holding my items [a, b): my ids when few, else a split. */
export function answerFor (set: ReconSet, a: number, b: number, upper: Key, threshold: number, branch: number): OutRange[] {
  const m = b - a
  // a single item cannot be split: "splitting" it would re-send the same range forever
  if (m <= threshold || m === 1) {
    const ids = set.hashesIn(a, b).sort()
    return [{ upper, mode: AeMode.ID_LIST, count: m, fp: 0n, ids }]
  }
  const parts = Math.min(branch, m)
  const out: OutRange[] = []
  let s = a
  for (let i = 1; i <= parts; i++) {
    const e = a + Math.floor((m * i) / parts)
    const fp = set.fingerprint(s, e)
    out.push({ upper: i === parts ? upper : boundBefore(set, e), mode: AeMode.FINGERPRINT, count: fp.count, fp: fp.sum })
    s = e
  }
  return out
}

/**
 * The shortest bound separating item i-1 from item i: (hlc_i, 0) when their hlcs differ,
 * which encodes without the hash (≈ 9 bytes less per range).
 */
function boundBefore (set: ReconSet, i: number): Key {
  const hlc = set.hlcAt(i)
  if (set.hlcAt(i - 1) < hlc) return { hlc, hash: 0n }
  return { hlc, hash: set.hashAt(i) }
}
