// RecentPuts (src/node/recentPuts.ts): an oid stored at t is known at least until t + window and
// forgotten by t + 2 windows, held in compact id sets that take turns.
import { describe, expect, it } from 'vitest'
import { RecentPuts } from '../../src/node/recentPuts.js'

describe('recent puts', () => {
  it('remembers an oid for at least one window and at most two, then forgets it', () => {
    let t = 1000
    const r = new RecentPuts(10_000, () => t)
    r.add(5n)
    t = 10_999
    expect(r.has(5n)).toBe(true)
    t = 11_000
    r.add(6n)
    expect(r.has(5n)).toBe(true)
    t = 20_999
    expect([r.has(5n), r.has(6n)]).toEqual([true, true])
    t = 21_000
    expect([r.has(5n), r.has(6n)]).toEqual([false, true])
    // idle for longer than two windows: everything goes at once
    t = 60_000
    expect([r.has(6n), r.size]).toEqual([false, 0])
    expect(r.has(7n)).toBe(false)
  })
})
