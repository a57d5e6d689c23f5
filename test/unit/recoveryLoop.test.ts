// When recovery passes run (src/node/recoveryLoop.ts), in virtual time over a stand-in driver
// that records when each pass starts: a view change gives one debounced pass and aborts one in
// progress; a nudge never aborts a pass, and one that came while a pass ran gets a pass of its
// own after it.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { RecoveryLoop } from '../../src/node/recoveryLoop.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import type { Recovery } from '../../src/recovery/recovery.js'
import { VirtualTime } from '../../src/time.js'

function standIn (vt: VirtualTime, passMs: number) {
  const starts: number[] = []
  const aborted: number[] = []
  const progress = { running: false, pendingDrops: 0 }
  const recovery = {
    progress,
    totals: { recovered: 0, failed: 0, deletedSkipped: 0, dropped: 0, handedOff: 0, racedDeletes: 0, readRepaired: 0, bytes: 0 },
    async run (_epoch: bigint, signal: AbortSignal): Promise<boolean> {
      starts.push(vt.now())
      progress.running = true
      try {
        await vt.sleep(passMs, signal)
        return true
      } catch {
        aborted.push(vt.now())
        return false
      } finally { progress.running = false }
    }
  } as unknown as Recovery
  return { recovery, starts, aborted }
}

describe('recovery loop', () => {
  it('a view change: one debounced pass; another change aborts a pass in progress and starts over', async () => {
    const vt = new VirtualTime(0)
    const s = standIn(vt, 500)
    const loop = new RecoveryLoop(s.recovery, () => 7n, new NodeMetrics(), pino({ level: 'silent' }), vt)
    loop.schedule(1000)
    expect(loop.scheduled).toBe(true)
    await vt.runUntilAsync(60_000)
    expect(s.starts).toEqual([1000])
    expect(loop.scheduled).toBe(false)
    loop.schedule(1000)
    await vt.runUntilAsync(61_200)
    loop.schedule(100)
    await vt.runUntilAsync(120_000)
    expect(s.starts).toEqual([1000, 61_000, 61_300])
    expect(s.aborted).toEqual([61_300])
    await loop.stop()
  })

  it('a nudge while a pass runs neither aborts it nor is lost: one more pass follows; a nudge with a pass already due adds none', async () => {
    const vt = new VirtualTime(0)
    const s = standIn(vt, 500)
    const loop = new RecoveryLoop(s.recovery, () => 7n, new NodeMetrics(), pino({ level: 'silent' }), vt)
    loop.nudge(0)
    await vt.runUntilAsync(100)
    expect(s.starts).toEqual([1])
    loop.nudge()
    loop.nudge()
    await vt.runUntilAsync(20_000)
    expect(s.aborted).toEqual([])
    // the retry after the nudged pass (3 s), and nothing else: a nudge is no view change
    expect(s.starts).toEqual([1, 3501])
    loop.nudge(1000)
    loop.nudge(1000)
    await vt.runUntilAsync(40_000)
    expect(s.starts).toEqual([1, 3501, 21_000])
    await loop.stop()
  })
})
