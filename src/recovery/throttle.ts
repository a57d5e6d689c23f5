// The recovery throttle: a token bucket on bytes moved, so a node recovering after a long
// absence does not starve the foreground reads and writes it serves meanwhile. Transfers
// learn their size only when they land, so the bucket may go into debt: a transfer starts
// while the balance is positive and pays afterwards; the next one waits for the debt to
// clear. Time is injected (src/time.ts) so the schedule runs in virtual time.
import { systemTime, type Timers } from '../time.js'

export class Throttle {
  private tokens: number
  private last: number
  /** bytes moved since construction, for progress and benchmarks */
  moved = 0

  /** `bytesPerSec` 0 disables the throttle; `burst` is how far the bucket fills while idle */
  constructor (readonly bytesPerSec: number, readonly burst = Math.max(bytesPerSec, 1), private readonly clock: Timers = systemTime) {
    this.tokens = burst
    this.last = clock.now()
  }

  private refill (): void {
    const t = this.clock.now()
    // a wall clock stepped back earns nothing rather than a debt
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, t - this.last) * this.bytesPerSec / 1000)
    this.last = t
  }

  /** resolves once a transfer may start */
  async admit (signal?: AbortSignal): Promise<void> {
    if (this.bytesPerSec <= 0) return
    for (;;) {
      signal?.throwIfAborted()
      this.refill()
      if (this.tokens > 0) return
      await this.clock.sleep(Math.ceil(-this.tokens * 1000 / this.bytesPerSec) + 1, signal)
    }
  }

  /** charge a finished transfer */
  pay (bytes: number): void {
    this.moved += bytes
    if (this.bytesPerSec <= 0) return
    this.refill()
    this.tokens -= bytes
  }
}
