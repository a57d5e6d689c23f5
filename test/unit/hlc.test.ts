// Unit and property tests for the hybrid logical clock (src/hlc.ts).
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  ClockDriftError, DEFAULT_MAX_DRIFT_MS, HLC_ZERO, HybridClock, formatHlc, hlcLogical, hlcPhysical,
  makeHlc, parseHlc
} from '../../src/hlc.js'

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0, 123)

describe('encoding', () => {
  it('packs physical ms and logical counter', () => {
    const h = makeHlc(T0, 3)
    expect(h).toBe((BigInt(T0) << 16n) | 3n)
    expect(hlcPhysical(h)).toBe(T0)
    expect(hlcLogical(h)).toBe(3)
    expect(HLC_ZERO).toBe(0n)
  })

  it('formats and parses', () => {
    expect(formatHlc(makeHlc(T0, 3))).toBe('2026-11-27T12:00:00.123Z+3')
    expect(parseHlc('2026-11-27T12:00:00.123Z+3')).toBe(makeHlc(T0, 3))
    expect(() => parseHlc('yesterday')).toThrow(RangeError)
  })

  it('rejects out-of-range parts', () => {
    expect(() => makeHlc(-1)).toThrow(RangeError)
    expect(() => makeHlc(2 ** 48)).toThrow(RangeError)
    expect(() => makeHlc(1.5)).toThrow(RangeError)
    expect(() => makeHlc(T0, 65536)).toThrow(RangeError)
  })

  it('orders by physical first, then logical (round-trip property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 65535 }),
      (p1, l1, p2, l2) => {
        const a = makeHlc(p1, l1); const b = makeHlc(p2, l2)
        expect(hlcPhysical(a)).toBe(p1)
        expect(hlcLogical(a)).toBe(l1)
        const lexi = p1 !== p2 ? Math.sign(p1 - p2) : Math.sign(l1 - l2)
        expect(Math.sign(Number(a - b))).toBe(lexi)
      }))
  })
})

describe('HybridClock', () => {
  it('tracks wall time when it moves forward, counts when it does not', () => {
    let wall = T0
    const c = new HybridClock({ now: () => wall })
    expect(c.last()).toBe(HLC_ZERO)
    expect(c.now()).toBe(makeHlc(T0, 0))
    expect(c.now()).toBe(makeHlc(T0, 1))
    wall = T0 - 5000 // clock stepped back
    expect(c.now()).toBe(makeHlc(T0, 2))
    wall = T0 + 1
    expect(c.now()).toBe(makeHlc(T0 + 1, 0))
    expect(c.last()).toBe(makeHlc(T0 + 1, 0))
  })

  it('observe orders the receive after the send', () => {
    const c = new HybridClock({ now: () => T0 })
    const remote = makeHlc(T0 + 60_000, 7)
    const h = c.observe(remote)
    expect(h).toBe(makeHlc(T0 + 60_000, 8))
    expect(c.now()).toBe(makeHlc(T0 + 60_000, 9))
    // an old remote does not pull us back
    expect(c.observe(makeHlc(T0 - 1000))).toBe(makeHlc(T0 + 60_000, 10))
  })

  it('carries logical overflow into physical', () => {
    const c = new HybridClock({ now: () => T0 })
    c.observe(makeHlc(T0, 65534))
    expect(c.last()).toBe(makeHlc(T0, 65535))
    const h = c.now()
    expect(h).toBe(makeHlc(T0 + 1, 0))
    expect(hlcLogical(h)).toBe(0)
    expect(hlcPhysical(h)).toBe(T0 + 1)
    // and a burst of 200k events with a frozen wall clock stays strictly increasing
    let prev = h
    for (let i = 0; i < 200_000; i++) {
      const n = c.now()
      if (n <= prev) throw new Error(`not monotone at ${i}`)
      prev = n
    }
    expect(hlcPhysical(prev)).toBe(T0 + 4)
  })

  it('rejects remote values beyond max drift and leaves the clock untouched', () => {
    const c = new HybridClock({ now: () => T0 })
    const before = c.now()
    const year3000 = makeHlc(Date.UTC(3000, 0, 1))
    expect(() => c.observe(year3000)).toThrow(ClockDriftError)
    try { c.observe(year3000) } catch (e) {
      expect(e).toBeInstanceOf(ClockDriftError)
      expect((e as ClockDriftError).remote).toBe(year3000)
      expect((e as Error).message).toMatch(/ahead of local clock/)
    }
    expect(c.last()).toBe(before)
    expect(() => c.observe(makeHlc(T0 + DEFAULT_MAX_DRIFT_MS + 1))).toThrow(ClockDriftError)
    expect(c.last()).toBe(before)
    // exactly at the limit is accepted
    expect(c.observe(makeHlc(T0 + DEFAULT_MAX_DRIFT_MS))).toBe(makeHlc(T0 + DEFAULT_MAX_DRIFT_MS, 1))
  })

  it('tolerates the 5-minute skews chaos injects by default', () => {
    const c = new HybridClock({ now: () => T0 - 5 * 60_000 })
    expect(c.observe(makeHlc(T0 + 1000))).toBe(makeHlc(T0 + 1000, 1))
  })

  it('honours a configured max drift', () => {
    const c = new HybridClock({ now: () => T0 }, { maxDriftMs: 1000 })
    expect(() => c.observe(makeHlc(T0 + 1001))).toThrow(ClockDriftError)
    expect(c.observe(makeHlc(T0 + 1000))).toBe(makeHlc(T0 + 1000, 1))
    expect(() => new HybridClock({ now: () => T0 }, { maxDriftMs: -1 })).toThrow(RangeError)
  })

  it('rejects malformed remote values', () => {
    const c = new HybridClock({ now: () => T0 })
    expect(() => c.observe(-1n)).toThrow(RangeError)
    expect(() => c.observe(1n << 64n)).toThrow(RangeError)
    expect(c.last()).toBe(HLC_ZERO)
  })

  it('clamps garbage from the physical source but stays monotone', () => {
    let wall = Number.NaN
    const c = new HybridClock({ now: () => wall })
    const a = c.now()
    wall = -5
    const b = c.now()
    wall = T0 + 0.7
    const d = c.now()
    expect(b).toBeGreaterThan(a)
    expect(d).toBe(makeHlc(T0, 0))
  })

  it('is strictly monotone under random now/observe interleavings with a jumping wall clock', () => {
    const maxDrift = 10 * 60_000
    const event = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), jump: fc.integer({ min: -600_000, max: 600_000 }) }),
      fc.record({
        kind: fc.constant('observe' as const),
        jump: fc.integer({ min: -600_000, max: 600_000 }),
        // remote relative to the local wall clock; some beyond max drift
        offset: fc.integer({ min: -1_200_000, max: 1_200_000 }),
        logical: fc.integer({ min: 0, max: 65535 })
      })
    )
    fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 300 }), (events) => {
      let wall = T0
      const c = new HybridClock({ now: () => wall }, { maxDriftMs: maxDrift })
      let prev = c.last()
      let maxObserved = HLC_ZERO
      for (const ev of events) {
        wall = Math.max(0, wall + ev.jump)
        if (ev.kind === 'now') {
          const h = c.now()
          expect(h).toBeGreaterThan(prev)
          expect(h).toBeGreaterThan(maxObserved)
          expect(hlcPhysical(h)).toBeGreaterThanOrEqual(wall)
          prev = h
        } else {
          const remote = makeHlc(Math.max(0, wall + ev.offset), ev.logical)
          if (ev.offset > maxDrift) {
            expect(() => c.observe(remote)).toThrow(ClockDriftError)
            expect(c.last()).toBe(prev)
          } else {
            const h = c.observe(remote)
            expect(h).toBeGreaterThan(prev)
            expect(h).toBeGreaterThan(remote)
            expect(hlcPhysical(h)).toBeGreaterThanOrEqual(wall)
            if (remote > maxObserved) maxObserved = remote
            prev = h
          }
        }
        expect(c.last()).toBe(prev)
      }
    }), { numRuns: 300 })
  })
})
