// When recovery passes run on this node: debounced after view changes, retried while a pass
// is incomplete or keeps copies for new holders to confirm, soon after a copy arrives that
// placement does not give this node (a nudge), and periodically as a safety net. One pass at
// a time; a new schedule aborts the one in progress (its work stays on disk), a nudge never does.
import type { Logger } from 'pino'
import type { Recovery } from '../recovery/recovery.js'
import type { NodeMetrics } from './metrics.js'
import { systemTime, type TimerHandle, type Timers } from '../time.js'

const RECOVERY_RETRY_MS = 3000
/** a nudge waits this long, so the copies one writer's stale view sent here share a pass */
const NUDGE_DELAY_MS = 1000
/** a safety net under replica repair: a coordinator that crashed mid-write leaves no repair behind */
const RECOVERY_PERIOD_MS = 60_000

export class RecoveryLoop {
  private timer: TimerHandle | undefined
  private periodic: TimerHandle | undefined
  private abort: AbortController | undefined
  private running: Promise<void> | undefined
  private stopped = false
  /** nudged while a pass ran: that pass may have listed this node before the nudge's cause */
  private again = false

  /** `epoch()`: the membership view's current epoch */
  constructor (private readonly recovery: Recovery, private readonly epoch: () => bigint, private readonly metrics: NodeMetrics, private readonly log: Logger, private readonly time: Timers = systemTime) {}

  /** a pass is scheduled and has not started yet */
  get scheduled (): boolean { return this.timer != null }

  startPeriodic (): void {
    this.periodic = this.time.setInterval(() => { this.nudge(0) }, RECOVERY_PERIOD_MS)
  }

  /** a pass soon, never aborting one in progress (then one more follows it) */
  nudge (delayMs = NUDGE_DELAY_MS): void {
    if (this.stopped || this.timer != null) return
    if (this.recovery.progress.running) { this.again = true; return }
    this.schedule(delayMs)
  }

  /** (re)start recovery for the current epoch after `delayMs`; a run in progress is aborted */
  schedule (delayMs: number): void {
    if (this.stopped) return
    this.time.clearTimeout(this.timer)
    this.timer = this.time.setTimeout(() => {
      this.timer = undefined
      this.abort?.abort()
      const ctl = this.abort = new AbortController()
      const epoch = this.epoch()
      const prev = this.running ?? Promise.resolve()
      this.running = prev.then(async () => {
        if (ctl.signal.aborted) return
        const complete = await this.recovery.run(epoch, ctl.signal)
        this.metrics.recovery(this.recovery.totals)
        const again = this.again
        this.again = false
        // incomplete, or copies kept until their new holders confirm, or nudged meanwhile: try
        // again while the view stands (a newer epoch with the same placement schedules nothing
        // itself, so retry whatever the epoch)
        if (ctl.signal.aborted) return
        if (!complete || again || this.recovery.progress.pendingDrops > 0) this.schedule(RECOVERY_RETRY_MS)
      }).catch((err) => { this.log.error({ err: String(err) }, 'recovery failed') })
    }, delayMs)
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.time.clearInterval(this.periodic)
    this.time.clearTimeout(this.timer)
    this.timer = undefined
    this.abort?.abort()
    await this.running
  }
}
