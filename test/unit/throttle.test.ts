// The recovery throttle in virtual time (src/time.ts): transfers are paced to the byte rate,
// to the millisecond, and the long-run rate holds whatever the transfer sizes.
import { describe, expect, it } from 'vitest'
import { Throttle } from '../../src/recovery/throttle.js'
import { VirtualTime, type Timers } from '../../src/time.js'

describe('recovery throttle', () => {
  it('paces transfers: the burst goes at once, then one 500-byte transfer per 500 ms at 1000 B/s', async () => {
    const vt = new VirtualTime()
    const th = new Throttle(1000, 1000, vt)
    const starts: number[] = []
    await vt.drive((async () => {
      for (let i = 0; i < 6; i++) {
        await th.admit()
        starts.push(vt.now())
        th.pay(500)
      }
    })())
    // 1000 tokens cover two; the third waits for the balance to turn positive (1 ms), each
    // later one for the 500-byte debt to clear
    expect(starts).toEqual([0, 0, 1, 501, 1001, 1501])
    expect(th.moved).toBe(3000)
  })

  it('holds the configured byte rate over many transfers of mixed sizes', async () => {
    const vt = new VirtualTime()
    const rate = 10 * 1024 * 1024
    const th = new Throttle(rate, rate / 10, vt)
    const sizes = [4096, 4 << 20, 65536, 1 << 20, 4096, 8 << 20]
    let bytes = 0
    await vt.drive((async () => {
      for (let i = 0; i < 200; i++) {
        await th.admit()
        const n = sizes[i % sizes.length]
        th.pay(n)
        bytes += n
      }
    })())
    // the last transfer is paid but not yet waited for: the clock is at most one transfer behind
    const elapsed = vt.now() / 1000
    const expected = (bytes - rate / 10 - (8 << 20)) / rate
    expect(elapsed).toBeGreaterThanOrEqual(expected)
    expect(elapsed).toBeLessThanOrEqual(bytes / rate + 1)
    expect(th.moved).toBe(bytes)
  })

  it('rate 0 never waits', async () => {
    const vt = new VirtualTime()
    const th = new Throttle(0, 1, vt)
    for (let i = 0; i < 100; i++) { await th.admit(); th.pay(1 << 20) }
    expect(vt.now()).toBe(0)
    expect(vt.pending).toBe(0)
  })

  it('an aborted wait rejects instead of hanging, and leaves no timer', async () => {
    const vt = new VirtualTime()
    const th = new Throttle(1, 1, vt)
    th.pay(1_000_000)
    const ctl = new AbortController()
    const p = th.admit(ctl.signal)
    await vt.advanceAsync(10)
    expect(vt.pending).toBe(1)
    ctl.abort(new Error('view changed'))
    await expect(p).rejects.toThrow('view changed')
    expect(vt.pending).toBe(0)
  })

  it('a wall clock stepped back costs nothing', async () => {
    const vt = new VirtualTime(10_000)
    let back = 0
    const clock: Timers = {
      now: () => vt.now() - back,
      setTimeout: (f, ms) => vt.setTimeout(f, ms),
      setInterval: (f, ms) => vt.setInterval(f, ms),
      clearTimeout: (h) => { vt.clearTimeout(h) },
      clearInterval: (h) => { vt.clearInterval(h) },
      sleep: async (ms, s) => { await vt.sleep(ms, s) }
    }
    const th = new Throttle(1000, 1000, clock)
    th.pay(500)
    back = 10_000
    th.pay(400)
    // 1000 - 500 - 400 left: the step back is no 10 s debt to wait out
    await vt.drive(th.admit())
    expect(vt.now()).toBe(10_000)
  })
})
