// Reporting untrusted input that was refused: every refusal is counted by kind in
// bw_rejected_total{kind}, and logged with its reason — at most one line per kind per
// interval, so a peer flooding forged input cannot flood the log too (the next line says how
// many were left out).
import type { Logger } from 'pino'
import type { NodeMetrics } from './metrics.js'

/** one warn line per kind per this many ms */
export const REJECT_LOG_INTERVAL_MS = 1000

export class Rejections {
  private readonly lastLog = new Map<string, { at: number, suppressed: number }>()

  constructor (
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = REJECT_LOG_INTERVAL_MS
  ) {}

  /** counts one refusal of `kind` (or `n`), and logs `reason` unless this kind logged recently */
  note (kind: string, reason: string, fields: Record<string, unknown> = {}, n = 1): void {
    this.metrics.rejected.inc({ kind }, n)
    const t = this.now()
    const last = this.lastLog.get(kind)
    if (last !== undefined && t - last.at < this.intervalMs) { last.suppressed += n; return }
    const suppressed = last?.suppressed ?? 0
    this.lastLog.set(kind, { at: t, suppressed: 0 })
    this.log.warn({ kind, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, `rejected ${kind}: ${reason}`)
  }
}
