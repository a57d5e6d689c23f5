// The node's periodic work, on the injected Timers (virtual in tests and the simulator):
// tombstone GC rounds, replica-repair rounds (one at a time: the next is scheduled when the
// last one ends, so a slow round never overlaps itself) and re-identifying live members not
// yet seen serving objects. A task's failure is logged here, never thrown into a timer.
import type { Logger } from 'pino'
import type { TimerHandle, Timers } from '../time.js'

export const GC_INTERVAL_MS = 2000
export const REPAIR_INTERVAL_MS = 500
/** how often live members not yet seen serving objects are identified again (objectPeers.confirm) */
export const CONFIRM_INTERVAL_MS = 5000

export interface PeriodicWork {
  /** one tombstone GC round (deletes.ts gcRound) */
  gc (): Promise<unknown>
  /** one replica-repair round (src/vdi/replicaRepair.ts) */
  repair (): Promise<void>
  /** after each repair round, failed or not (metrics) */
  repaired (): void
  /** re-identify members not yet seen serving objects */
  confirm (): void
}

export class PeriodicTasks {
  private gcTimer: TimerHandle | undefined
  private repairTimer: TimerHandle | undefined
  private confirmTimer: TimerHandle | undefined
  private repairRound: Promise<void> | undefined
  private stopped = false

  constructor (private readonly work: PeriodicWork, private readonly time: Timers, private readonly log: Logger) {}

  start (): void {
    this.gcTimer = this.time.setInterval(() => {
      this.work.gc().catch((err) => { this.log.error({ err: String(err) }, 'tombstone GC failed') })
    }, GC_INTERVAL_MS)
    this.scheduleRepair()
    this.confirmTimer = this.time.setInterval(() => {
      if (!this.stopped) this.work.confirm()
    }, CONFIRM_INTERVAL_MS)
  }

  /** no new rounds; resolves once the repair round in flight (if any) has ended */
  async stop (): Promise<void> {
    this.stopped = true
    this.time.clearInterval(this.gcTimer)
    this.time.clearTimeout(this.repairTimer)
    this.time.clearInterval(this.confirmTimer)
    await this.repairRound
  }

  private scheduleRepair (): void {
    if (this.stopped) return
    this.repairTimer = this.time.setTimeout(() => {
      this.repairRound = this.work.repair()
        .catch((err) => { this.log.error({ err: String(err) }, 'replica repair round failed') })
        .finally(() => { this.work.repaired(); this.scheduleRepair() })
    }, REPAIR_INTERVAL_MS)
  }
}
