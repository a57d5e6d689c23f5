// The soak's metrics scraper: every `intervalMs` (default 5 s) it fetches each running node's
// /metrics, keeps the families the report plots (SOAK_METRICS), and appends one JSON line per
// node to DIR/metrics.jsonl: { t (the history's clock, ms), time (ISO wall clock), node,
// load (1-minute load average), m: { key: value } } (key = name and sorted labels: `bw_rejected_total{kind="gossip"}`) or,
// for a node that did not answer or served text that does not parse, { t, time, node, error }. Lines are
// written once per round with one append, so a run killed at any moment leaves whole lines
// (at worst a torn last one, which readers skip). It remembers each node's latest sample for
// the progress line (worst heap). Never throws for a node's failure.
import { appendFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { ApiClient } from '../api/client.js'
import type { RunningNodes } from '../chaos/runState.js'
import { abortableSleep } from '../chaos/sampler.js'
import { parsePromText, type Exposition } from '../check/promText.js'
import { DEFAULT_SCRAPE_INTERVAL_MS } from './constants.js'

/** families scraped; a family a node does not serve is simply absent from its lines */
export const SOAK_METRICS = [
  'process_resident_memory_bytes',
  // a killed and restarted node is a new process: growth.ts cuts its heap series there
  'process_start_time_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'bw_objects',
  'bw_delete_log_records',
  'bw_tombstone_records_folded_total',
  'bw_floor_entries',
  'bw_ae_session_bytes',
  'bw_purge_seconds',
  'bw_record_age_seconds',
  'bw_rejected_total',
  'bw_writes_refused_total'
] as const

const SCRAPE_TIMEOUT_MS = 3_000
/** samples kept per node and scrape (label sets that grow without bound must not grow the file without bound) */
export const MAX_SAMPLES = 500

export interface MetricsLine {
  t: number
  time: string
  node: number
  /** the machine's 1-minute load average when the round started: a latency figure means little without it */
  load?: number
  m?: Record<string, number>
  error?: string
}

export interface ScraperOptions {
  file: string
  nodes: RunningNodes
  now: () => number
  signal: AbortSignal
  intervalMs?: number
}

export class Scraper {
  readonly latest = new Map<number, MetricsLine>()
  rounds = 0

  constructor (private readonly o: ScraperOptions) {
    writeFileSync(o.file, '')
  }

  /** rounds until the signal aborts */
  async run (): Promise<void> {
    const interval = this.o.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS
    while (!this.o.signal.aborted) {
      const started = Date.now()
      await this.round()
      await abortableSleep(interval - (Date.now() - started), this.o.signal)
    }
  }

  async round (): Promise<MetricsLine[]> {
    const running = await this.o.nodes.get()
    const load = Math.round(loadavg()[0]! * 100) / 100
    const lines = await Promise.all(running.map(async (n) => {
      const t = this.o.now()
      const time = new Date().toISOString()
      try {
        const text = await new ApiClient(n.apiUrl, SCRAPE_TIMEOUT_MS).metrics()
        return { t, time, node: n.index, load, m: pickSamples(parsePromText(text), SOAK_METRICS) } satisfies MetricsLine
      } catch (err) {
        return { t, time, node: n.index, load, error: String((err as Error)?.message ?? err).slice(0, 200) } satisfies MetricsLine
      }
    }))
    for (const l of lines) if (l.m !== undefined) this.latest.set(l.node, l)
    if (lines.length > 0) {
      try {
        appendFileSync(this.o.file, lines.map((l) => JSON.stringify(l) + '\n').join(''))
      } catch {
        // a full disk loses metrics lines, not the run
      }
    }
    this.rounds++
    return lines
  }

  /** the node with the largest heap in its latest sample */
  worstHeap (): { node: number, bytes: number } | undefined {
    let best: { node: number, bytes: number } | undefined
    for (const l of this.latest.values()) {
      const v = l.m?.nodejs_heap_size_used_bytes
      if (v !== undefined && (best === undefined || v > best.bytes)) best = { node: l.node, bytes: v }
    }
    return best
  }
}

/**
 * The samples of the wanted families, keyed by name and sorted labels. A family brings its
 * `_sum`, `_count` and `_total` samples, not its histogram buckets; NaN and infinite values are
 * left out; at most MAX_SAMPLES are kept.
 */
export function pickSamples (e: Exposition, wanted: readonly string[]): Record<string, number> {
  const want = new Set(wanted)
  const out: Record<string, number> = {}
  let kept = 0
  for (const s of e.samples) {
    if (kept >= MAX_SAMPLES) break
    if (!want.has(s.name) && !want.has(s.name.replace(/_(sum|count|total)$/, ''))) continue
    if (!Number.isFinite(s.value)) continue
    const labels = Object.keys(s.labels).sort().map((k) => `${k}="${s.labels[k]!.replace(/["\\]/g, '\\$&')}"`)
    out[s.name + (labels.length === 0 ? '' : `{${labels.join(',')}}`)] = s.value
    kept++
  }
  return out
}
