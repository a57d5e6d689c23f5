// Does anything grow? From a soak's metrics lines, per node: the slope of the heap's floor
// (MiB/h), heap and RSS at start and end, tombstone records live and floor entries at the
// end, and the machine's load average over the run. Why the floor: heap used is a sawtooth
// between collections (30 → 140 MiB and back on a busy node), so a fit through every sample
// swings by tens of MiB/h with where the run happened to stop; what a leak raises is the low
// point after each collection — the minimum per WINDOW_MS, fitted by least squares after
// warm-up. A node's series is cut where its process changed (process_start_time_seconds
// moved; in files without that metric, wherever the node stopped answering) — a killed node
// restarts with a fresh heap, and a fit across the restart would read the drop as shrinking;
// the slope is the one of its longest piece, which must span MIN_FIT_MS.
import type { MetricsLine } from '../soak/scraper.js'

/** the first part of a run (or of a restarted process) is start-up, not growth */
export const WARMUP_MS = 10 * 60_000
/** a fit over less than this says nothing about an hour */
export const MIN_FIT_MS = 10 * 60_000
/** the heap's floor is its minimum over this long (many collections at soak load) */
export const WINDOW_MS = 5 * 60_000
/** a window with fewer samples than this (the run's last minutes) has no meaningful minimum */
const MIN_WINDOW_SAMPLES = 3

const MIB = 1024 * 1024

export interface NodeGrowth {
  node: number
  /** heap floor (minimum per WINDOW_MS), least-squares slope over the longest piece after warm-up, MiB per hour (undefined: no piece long enough) */
  heapSlopeMiBPerHour?: number
  /** the span that slope was fitted over, ms */
  fitMs: number
  /** processes seen (1 + restarts) */
  processes: number
  heapStartMiB?: number
  heapEndMiB?: number
  rssStartMiB?: number
  rssEndMiB?: number
  /** delete-log records (live tombstones) and floor entries at the last sample */
  tombstonesEnd?: number
  floorEnd?: number
  foldedEnd?: number
}

export interface Growth {
  nodes: NodeGrowth[]
  load?: { min: number, median: number, max: number }
}

/** slope (y per x) of the least-squares line through the points; undefined for fewer than 2 distinct x */
export function lsSlope (pts: Array<[number, number]>): number | undefined {
  if (pts.length < 2) return undefined
  let sx = 0; let sy = 0
  for (const [x, y] of pts) { sx += x; sy += y }
  const mx = sx / pts.length; const my = sy / pts.length
  let num = 0; let den = 0
  for (const [x, y] of pts) { num += (x - mx) * (y - my); den += (x - mx) * (x - mx) }
  return den === 0 ? undefined : num / den
}

export function growth (lines: MetricsLine[]): Growth {
  const byNode = new Map<number, MetricsLine[]>()
  for (const l of lines) {
    const xs = byNode.get(l.node) ?? []
    xs.push(l)
    byNode.set(l.node, xs)
  }
  const nodes = [...byNode.entries()].sort((a, b) => a[0] - b[0]).map(([node, ls]) => nodeGrowth(node, ls.sort((a, b) => a.t - b.t)))
  const loads = lines.map((l) => l.load).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  return { nodes, load: loads.length === 0 ? undefined : { min: loads[0]!, median: loads[Math.floor(loads.length / 2)]!, max: loads[loads.length - 1]! } }
}

function nodeGrowth (node: number, ls: MetricsLine[]): NodeGrowth {
  const pieces: MetricsLine[][] = []
  let cur: MetricsLine[] = []
  let start: number | undefined
  // with start times a pause (no answer, same process) does not cut the series
  const hasStart = ls.some((l) => l.m?.process_start_time_seconds !== undefined)
  for (const l of ls) {
    const s = l.m?.process_start_time_seconds
    const restarted = hasStart ? (s !== undefined && start !== undefined && s !== start) : l.m === undefined
    if (restarted && cur.length > 0) { pieces.push(cur); cur = [] }
    if (l.m === undefined) continue
    if (s !== undefined) start = s
    cur.push(l)
  }
  if (cur.length > 0) pieces.push(cur)
  const samples = pieces.flat()
  const heap = (l: MetricsLine | undefined): number | undefined => mib(l?.m?.nodejs_heap_size_used_bytes)
  const first = samples[0]; const last = samples[samples.length - 1]
  let best: { slope: number, span: number } | undefined
  for (const p of pieces) {
    const from = p[0]!.t + WARMUP_MS
    const kept = p.filter((l) => l.t >= from && l.m?.nodejs_heap_size_used_bytes !== undefined)
    if (kept.length < 2) continue
    const span = kept[kept.length - 1]!.t - kept[0]!.t
    const slope = lsSlope(floorPoints(kept, from))
    if (slope === undefined || span < MIN_FIT_MS) continue
    if (best === undefined || span > best.span) best = { slope, span }
  }
  return {
    node,
    heapSlopeMiBPerHour: best?.slope,
    fitMs: best?.span ?? 0,
    processes: countProcesses(samples),
    heapStartMiB: heap(first),
    heapEndMiB: heap(last),
    rssStartMiB: mib(first?.m?.process_resident_memory_bytes),
    rssEndMiB: mib(last?.m?.process_resident_memory_bytes),
    tombstonesEnd: last?.m?.bw_delete_log_records,
    floorEnd: last?.m?.bw_floor_entries,
    foldedEnd: last?.m?.bw_tombstone_records_folded_total
  }
}

/** [hours, MiB]: the lowest heap of each WINDOW_MS from `from`, at the window's middle */
function floorPoints (samples: MetricsLine[], from: number): Array<[number, number]> {
  const windows = new Map<number, { min: number, n: number }>()
  for (const l of samples) {
    const k = Math.floor((l.t - from) / WINDOW_MS)
    const h = l.m!.nodejs_heap_size_used_bytes!
    const w = windows.get(k)
    if (w === undefined) windows.set(k, { min: h, n: 1 })
    else { w.n++; if (h < w.min) w.min = h }
  }
  return [...windows.entries()].filter(([, w]) => w.n >= MIN_WINDOW_SAMPLES)
    .map(([k, w]): [number, number] => [(from + (k + 0.5) * WINDOW_MS) / 3_600_000, w.min / MIB])
}

/** distinct process start times; without that metric, a series that never stopped answering is one process */
function countProcesses (samples: MetricsLine[]): number {
  const starts = new Set(samples.map((l) => l.m?.process_start_time_seconds).filter((s) => s !== undefined))
  return Math.max(1, starts.size)
}

function mib (bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / MIB
}
