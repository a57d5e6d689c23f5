// The recovery throttle on a virtual clock: the long-run rate holds whatever the transfer sizes.
import { describe, expect, it } from 'vitest'
import { Throttle, type ThrottleClock } from '../../src/recovery/throttle.js'

function virtualClock (): ThrottleClock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => { c.t += ms }
  }
  return c
}

describe('recovery throttle', () => {
  it('holds the configured byte rate over many transfers of mixed sizes', async () => {
    const clock = virtualClock()
    const rate = 10 * 1024 * 1024
    const th = new Throttle(rate, rate / 10, clock)
    const sizes = [4096, 4 << 20, 65536, 1 << 20, 4096, 8 << 20]
    let bytes = 0
    for (let i = 0; i < 200; i++) {
      await th.admit()
      const n = sizes[i % sizes.length]
      th.pay(n)
      bytes += n
    }
    // the last transfer is paid but not yet waited for: the clock is at most one transfer behind
    const elapsed = clock.t / 1000
    const expected = (bytes - rate / 10 - (8 << 20)) / rate
    expect(elapsed).toBeGreaterThanOrEqual(expected)
    expect(elapsed).toBeLessThanOrEqual(bytes / rate + 1)
    expect(th.moved).toBe(bytes)
  })

  it('rate 0 never waits', async () => {
    const clock = virtualClock()
    const th = new Throttle(0, 1, clock)
    for (let i = 0; i < 100; i++) { await th.admit(); th.pay(1 << 20) }
    expect(clock.t).toBe(0)
  })

  it('an aborted wait rejects instead of hanging', async () => {
    const th = new Throttle(1, 1)
    th.pay(1_000_000)
    const ctl = new AbortController()
    const p = th.admit(ctl.signal)
    ctl.abort(new Error('view changed'))
    await expect(p).rejects.toThrow('view changed')
  })
})
