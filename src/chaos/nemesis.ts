// The nemesis schedule: which fault, on which nodes, for how long, cycle after cycle. Pure
// and seeded — the same seed and node count give the same schedule on any machine, so a run
// that found a bug can be replayed fault for fault. One fault is active at a time and is
// healed before the next starts; clock skews are the exception: a skewed node keeps its
// offset until a later skew cycle moves it, so skew overlaps every other fault, and the final
// heal of a run resets every clock.
import { SHAPES, cutPairs, seededRng, shapePlan, type Rng, type Shape } from './shapes.js'

export const NEMESES = ['partition', 'kill', 'pause', 'skew'] as const
export type NemesisKind = typeof NEMESES[number]

export type Fault =
  | { kind: 'partition', shape: Shape, cuts: Array<[number, number]> }
  | { kind: 'kill', node: number }
  | { kind: 'pause', node: number }
  | { kind: 'skew', node: number, offsetMs: number }

export interface Cycle {
  index: number
  fault: Fault
  /** how long the fault stays before it is healed */
  holdMs: number
  /** quiet time after the heal, before the next fault */
  gapMs: number
}

export interface ScheduleOptions {
  seed: number | bigint
  /** node indexes of the cluster */
  nodes: number[]
  kinds: readonly NemesisKind[]
  cycles: number
  holdMs?: [number, number]
  gapMs?: [number, number]
  /** skews are drawn in ±maxSkewMs */
  maxSkewMs?: number
}

export const DEFAULT_HOLD_MS: [number, number] = [1000, 4000]
export const DEFAULT_GAP_MS: [number, number] = [500, 2000]
export const DEFAULT_MAX_SKEW_MS = 3 * 60 * 1000

/** Unknown nemesis names and impossible schedules: the user's input, never a bug. */
export class NemesisError extends Error {
  override name = 'NemesisError'
}

/** "partition,kill" → ['partition', 'kill'], in the canonical order so the schedule depends only on the set */
export function parseNemeses (spec: string): NemesisKind[] {
  const names = spec.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (names.length === 0) throw new NemesisError(`no nemesis given; choose from ${NEMESES.join(', ')}`)
  for (const n of names) {
    if (!(NEMESES as readonly string[]).includes(n)) throw new NemesisError(`unknown nemesis '${n}'; choose from ${NEMESES.join(', ')}`)
  }
  return NEMESES.filter((k) => names.includes(k))
}

export function planSchedule (o: ScheduleOptions): Cycle[] {
  const nodes = [...new Set(o.nodes)].sort((a, b) => a - b)
  if (nodes.length < 2) throw new NemesisError('a nemesis needs a cluster of at least 2 nodes')
  if (o.kinds.length === 0) throw new NemesisError('no nemesis kinds to schedule')
  if (!Number.isInteger(o.cycles) || o.cycles < 0) throw new NemesisError(`cycles must be a non-negative integer: ${o.cycles}`)
  const rng = seededRng(o.seed)
  const hold = o.holdMs ?? DEFAULT_HOLD_MS
  const gap = o.gapMs ?? DEFAULT_GAP_MS
  const maxSkew = o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
  const shapes = SHAPES.filter((s) => fits(s, nodes))
  const out: Cycle[] = []
  for (let i = 0; i < o.cycles; i++) {
    const kind = pick(o.kinds, rng)
    let fault: Fault
    switch (kind) {
      case 'partition': {
        const shape = pick(shapes, rng)
        fault = { kind, shape, cuts: cutPairs(shapePlan(shape, nodes, rng)) }
        break
      }
      case 'skew': {
        const offsetMs = Math.round((rng() * 2 - 1) * maxSkew)
        fault = { kind, node: pick(nodes, rng), offsetMs }
        break
      }
      default:
        fault = { kind, node: pick(nodes, rng) }
    }
    out.push({ index: i, fault, holdMs: between(hold, rng), gapMs: between(gap, rng) })
  }
  return out
}

/** one line per fault, for logs and the history file */
export function describeFault (f: Fault): string {
  switch (f.kind) {
    case 'partition': return `partition ${f.shape}: cut ${f.cuts.map(([a, b]) => `${a}-${b}`).join(' ')}`
    case 'skew': return `skew node ${f.node} by ${f.offsetMs >= 0 ? '+' : ''}${f.offsetMs} ms`
    default: return `${f.kind} node ${f.node}`
  }
}

/** whether the shape can be cut from this many nodes (shapes.ts owns the rule) */
function fits (shape: Shape, nodes: number[]): boolean {
  try {
    shapePlan(shape, nodes, null)
    return true
  } catch {
    return false
  }
}

function pick<T> (xs: readonly T[], rng: Rng): T {
  return xs[Math.floor(rng() * xs.length)]
}

function between ([lo, hi]: [number, number], rng: Rng): number {
  return Math.round(lo + rng() * Math.max(0, hi - lo))
}
