// One place that turns a rejected untrusted input into what issue 11 asks of every rejection:
// a `bw_rejected_total{kind}` count and a reason in the log. The log is rate-limited per kind
// (a peer sending garbage in a loop must not flood the log or the disk): the first rejection
// of a kind is logged at once, later ones at most once per interval, with the number
// suppressed since the last line.
import type { Logger } from 'pino'
import type { NodeMetrics } from './metrics.js'

/** at most one log line per kind of rejection this often */
export const REJECT_LOG_INTERVAL_MS = 5_000

export class Rejections {
  private readonly lastLogged = new Map<string, { at: number, suppressed: number }>()

  constructor (
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now
  ) {}

  /** counts the rejection and logs `reason` (rate-limited per kind) */
  reject (kind: string, reason: string, fields: Record<string, unknown> = {}): void {
    this.metrics.rejected.inc({ kind })
    const now = this.now()
    const last = this.lastLogged.get(kind)
    if (last !== undefined && now - last.at < REJECT_LOG_INTERVAL_MS) {
      last.suppressed++
      return
    }
    const suppressed = last?.suppressed ?? 0
    this.lastLogged.set(kind, { at: now, suppressed: 0 })
    this.log.warn({ kind, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, `rejected ${kind}: ${reason}`)
  }
}
