// The run's script, drawn from the seed: which objects are written late, when the healthy
// deletes come, when partitions cut which groups off and heal, which nodes crash and when they
// restart, and the deletes issued while the faults last. Everything heals and restarts by
// faultWindowEnd(p); the purge bound counts from there.

import type { Rng } from '../rng.js'
import { faultWindowEnd, faultWindowStart, type SimParams } from './params.js'
import { W_CRASH, W_DELETE, W_HEAL, W_PARTITION, W_RESTART, W_WRITE } from './kinds.js'

export interface ScriptEvent { at: number, kind: number, c: number }

export interface Scenario {
  events: ScriptEvent[]
  /** partition group of every node, per partition episode */
  groups: Uint16Array[]
  /** objects written at the start (the rest are written late, by W_WRITE events) */
  initial: Uint8Array
  lastHealAt: number
}

export function buildScenario (p: SimParams, rng: Rng, objectCount: number): Scenario {
  const events: ScriptEvent[] = []
  const n = p.nodes
  const start = faultWindowStart(p)
  const end = faultWindowEnd(p)
  const initial = new Uint8Array(objectCount).fill(1)
  for (let o = 0; o < objectCount; o++) {
    if (p.lateWrites > 0 && rng() < p.lateWrites) {
      initial[o] = 0
      events.push({ at: 1000 + rng() * (end - 1000), kind: W_WRITE, c: o })
    }
  }
  for (let k = 0; k < p.deletes; k++) events.push({ at: p.warmupMs + k * 1000, kind: W_DELETE, c: 0 })

  const groups: Uint16Array[] = []
  const windows: Array<[number, number]> = []
  for (let e = 0; e < p.partitions; e++) {
    const g = new Uint16Array(n)
    const cut = p.partitionMode === 'isolate' ? 1 : p.partitionMode === 'minority' ? Math.max(1, Math.floor(n / 3)) : Math.floor(n / 2)
    for (const i of sample(rng, n, cut)) g[i] = 1
    groups.push(g)
    const from = start + e * (p.partitionMs + 5000)
    events.push({ at: from, kind: W_PARTITION, c: e })
    events.push({ at: from + p.partitionMs, kind: W_HEAL, c: e })
    windows.push([from, from + p.partitionMs])
  }
  const crashWindow = Math.max(1, end - start - p.crashDownMs - 1000)
  for (const node of sample(rng, n, Math.min(p.crashes, n - 1))) {
    const at = start + rng() * crashWindow
    events.push({ at, kind: W_CRASH, c: node })
    events.push({ at: at + p.crashDownMs, kind: W_RESTART, c: node })
    windows.push([at, at + p.crashDownMs])
  }
  // deletes while something is broken: that is when the repair paths matter
  for (let k = 0; k < p.faultDeletes; k++) {
    const w = windows.length > 0 ? windows[k % windows.length]! : [start, end] as [number, number]
    events.push({ at: w[0] + (0.1 + 0.8 * rng()) * (w[1] - w[0]), kind: W_DELETE, c: 1 })
  }
  events.sort((a, b) => a.at - b.at)
  return { events, groups, initial, lastHealAt: end }
}

/** k distinct numbers of 0..n-1 */
function sample (rng: Rng, n: number, k: number): number[] {
  const picked = new Set<number>()
  while (picked.size < k) picked.add(Math.floor(rng() * n))
  return [...picked]
}
