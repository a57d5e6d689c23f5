// The injected clock (src/time.ts): virtual time fires timers in (due, creation) order, only
// when told to, deterministically; sleep and intervals behave as on Node's timers; the system
// implementation is a thin shell over Node's.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { VirtualTime, skewed, systemTime, type TimerHandle } from '../../src/time.js'

describe('VirtualTime', () => {
  it('stands still until advanced, then fires what is due in due order', () => {
    const vt = new VirtualTime(1000)
    const got: string[] = []
    vt.setTimeout(() => got.push(`b@${vt.now()}`), 20)
    vt.setTimeout(() => got.push(`a@${vt.now()}`), 10)
    expect(vt.now()).toBe(1000)
    expect(vt.pending).toBe(2)
    expect(vt.advance(9)).toBe(0)
    expect(got).toEqual([])
    expect(vt.advance(1)).toBe(1)
    expect(got).toEqual(['a@1010'])
    expect(vt.advance(100)).toBe(1)
    expect(got).toEqual(['a@1010', 'b@1020'])
    expect(vt.now()).toBe(1110)
    expect(vt.pending).toBe(0)
  })

  it('breaks ties by creation order', () => {
    const vt = new VirtualTime()
    const got: number[] = []
    for (let i = 0; i < 10; i++) vt.setTimeout(() => got.push(i), 5)
    vt.advance(5)
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('fires timers set by a firing timer when they fall in the window, at their own time', () => {
    const vt = new VirtualTime()
    const got: Array<[string, number]> = []
    vt.setTimeout(() => {
      got.push(['first', vt.now()])
      vt.setTimeout(() => got.push(['chained', vt.now()]), 3)
      vt.setTimeout(() => got.push(['late', vt.now()]), 50)
    }, 2)
    vt.advance(10)
    expect(got).toEqual([['first', 2], ['chained', 5]])
    vt.advance(100)
    expect(got[2]).toEqual(['late', 52])
  })

  it('runs intervals every period until cleared, also from their own callback', () => {
    const vt = new VirtualTime()
    const at: number[] = []
    const h: TimerHandle = vt.setInterval(() => { at.push(vt.now()); if (at.length === 4) vt.clearInterval(h) }, 100)
    vt.advance(1000)
    expect(at).toEqual([100, 200, 300, 400])
    expect(vt.pending).toBe(0)
  })

  it('clearTimeout cancels; undefined and fired handles are ignored', () => {
    const vt = new VirtualTime()
    let n = 0
    const h = vt.setTimeout(() => n++, 10)
    const k = vt.setTimeout(() => n++, 20)
    vt.clearTimeout(h)
    vt.clearTimeout(undefined)
    vt.advance(30)
    vt.clearTimeout(k)
    expect(n).toBe(1)
    expect(vt.nextDue()).toBeUndefined()
  })

  it('clamps delays below 1 ms (and NaN) to 1 ms, as Node does', () => {
    const vt = new VirtualTime()
    const at: number[] = []
    vt.setTimeout(() => at.push(vt.now()), 0)
    vt.setTimeout(() => at.push(vt.now()), -5)
    vt.setTimeout(() => at.push(vt.now()), Number.NaN)
    const h = vt.setInterval(() => at.push(vt.now()), 0)
    vt.advance(3)
    vt.clearInterval(h)
    expect(at).toEqual([1, 1, 1, 1, 2, 3])
  })

  it('never goes back', () => {
    const vt = new VirtualTime(50)
    expect(() => vt.runUntil(49)).toThrow(RangeError)
    expect(() => vt.advance(-1)).toThrow(RangeError)
    expect(vt.runUntil(50)).toBe(0)
    expect(vt.now()).toBe(50)
  })

  it('sleep resolves at its time and rejects at once on abort, leaving no timer behind', async () => {
    const vt = new VirtualTime()
    let woke = -1
    const p = vt.sleep(250).then(() => { woke = vt.now() })
    await vt.advanceAsync(249)
    expect(woke).toBe(-1)
    await vt.advanceAsync(1)
    await p
    expect(woke).toBe(250)
    const ctl = new AbortController()
    const q = vt.sleep(1000, ctl.signal)
    expect(vt.pending).toBe(1)
    ctl.abort(new Error('stop'))
    await expect(q).rejects.toThrow('stop')
    expect(vt.pending).toBe(0)
    await expect(vt.sleep(1, ctl.signal)).rejects.toThrow('stop')
  })

  it('drive moves time until the promise settles, and refuses a promise nothing will settle', async () => {
    const vt = new VirtualTime()
    const work = async (): Promise<number> => {
      for (let i = 0; i < 5; i++) await vt.sleep(1000)
      return vt.now()
    }
    expect(await vt.drive(work())).toBe(5000)
    await expect(vt.drive(new Promise(() => {}))).rejects.toThrow(/no timer left/)
    vt.setTimeout(() => {}, 10_000)
    await expect(vt.drive(new Promise(() => {}), 5000)).rejects.toThrow(/after 5000 virtual ms/)
  })

  it('keeps the order when most timers are cleared long before they are due (the heap is rebuilt)', () => {
    const vt = new VirtualTime()
    const out: number[] = []
    const hs = Array.from({ length: 5000 }, (_, i) => vt.setTimeout(() => out.push(i), 1 + ((i * 7919) % 1000)))
    for (let i = 0; i < 5000; i++) if (i % 5 !== 0) vt.clearTimeout(hs[i])
    expect(vt.pending).toBe(1000)
    vt.advance(1000)
    const want = Array.from({ length: 1000 }, (_, k) => k * 5).sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000) || a - b)
    expect(out).toEqual(want)
  })

  it('is deterministic: the same schedule gives the same firing order, sorted by (due, creation)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.boolean()), { maxLength: 60 }), (plan) => {
      const run = (): Array<[number, number]> => {
        const vt = new VirtualTime()
        const out: Array<[number, number]> = []
        const hs = plan.map(([d], i) => vt.setTimeout(() => out.push([vt.now(), i]), d))
        plan.forEach(([, cancel], i) => { if (cancel) vt.clearTimeout(hs[i]) })
        vt.advance(100)
        return out
      }
      const a = run()
      expect(run()).toEqual(a)
      const want = plan.map(([d, cancel], i) => ({ d, cancel, i })).filter((x) => !x.cancel)
        .sort((x, y) => x.d - y.d || x.i - y.i).map((x): [number, number] => [x.d, x.i])
      expect(a).toEqual(want)
    }))
  })
})

describe('systemTime and skewed', () => {
  it('reads the wall clock and runs real timers', async () => {
    const t0 = Date.now()
    expect(Math.abs(systemTime.now() - t0)).toBeLessThan(1000)
    await systemTime.sleep(5)
    let fired = false
    const h = systemTime.setTimeout(() => { fired = true }, 1, { unref: true })
    systemTime.clearTimeout(h)
    await systemTime.sleep(10)
    expect(fired).toBe(false)
  })

  it('skewed adds an offset read on every call', () => {
    const vt = new VirtualTime(1000)
    let off = 0
    const c = skewed(vt, () => off)
    expect(c.now()).toBe(1000)
    off = -300
    expect(c.now()).toBe(700)
  })
})
