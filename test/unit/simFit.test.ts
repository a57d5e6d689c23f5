// fitLogN: the least-squares fit against log2 N printed under the simulator's figures.
import { describe, expect, it } from 'vitest'
import { fitLogN } from '../../src/sim/fit.js'

describe('fitLogN', () => {
  it('recovers an exact y = a·log2 N + b with r² = 1', () => {
    const f = fitLogN([10, 100, 1000, 10000].map((n) => [n, 3 * Math.log2(n) + 2] as const))
    expect(f.slope).toBeCloseTo(3, 10)
    expect(f.intercept).toBeCloseTo(2, 10)
    expect(f.r2).toBeCloseTo(1, 10)
    expect(f.points).toBe(4)
  })

  it('matches a hand-computed fit of noisy points', () => {
    // x = log2 N = 1, 2, 3, 4; y = 2, 3, 5, 6: slope 1.4, intercept 0.5, r² = 0.98
    const f = fitLogN([[2, 2], [4, 3], [8, 5], [16, 6]])
    expect(f.slope).toBeCloseTo(1.4, 10)
    expect(f.intercept).toBeCloseTo(0.5, 10)
    expect(f.r2).toBeCloseTo(0.98, 10)
  })

  it('a flat series has slope 0 and no r² (NaN), and NaN ys are left out', () => {
    const f = fitLogN([[10, 5], [100, 5], [1000, NaN], [10000, 5]])
    expect(f.slope).toBe(0)
    expect(f.intercept).toBe(5)
    expect(f.r2).toBeNaN()
    expect(f.points).toBe(3)
  })

  it('refuses fewer than two distinct sizes', () => {
    expect(() => fitLogN([[10, 1], [10, 2]])).toThrow(RangeError)
    expect(() => fitLogN([[10, 1], [100, NaN]])).toThrow(RangeError)
  })
})
