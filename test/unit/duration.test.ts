// The one duration parser of the CLI: plain seconds and s/m/h/d suffixes, exact fractions,
// clear errors on anything else, and the commander wrapper's bounds.
import { InvalidArgumentError } from 'commander'
import { describe, expect, it } from 'vitest'
import { durationArg, DurationError, formatDuration, parseDuration } from '../../src/cli/duration.js'

describe('parseDuration', () => {
  it('reads seconds and the s, m, h, d suffixes', () => {
    expect(parseDuration('90')).toBe(90_000)
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('2h')).toBe(7_200_000)
    expect(parseDuration('1d')).toBe(86_400_000)
    expect(parseDuration(' 2H ')).toBe(7_200_000)
    expect(parseDuration('0')).toBe(0)
  })

  it('takes fractions only when they come out in whole milliseconds', () => {
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('0.1h')).toBe(360_000)
    expect(parseDuration('0.25s')).toBe(250)
    expect(() => parseDuration('0.0001s')).toThrow(/whole number of milliseconds/)
  })

  it('refuses anything else, naming the text and the forms it takes', () => {
    for (const bad of ['', 'abc', '15 min', '-5', '1h30m', '5ms', '1e3', '.5s', '5x', 'h']) {
      expect(() => parseDuration(bad, '--duration'), bad).toThrow(DurationError)
    }
    expect(() => parseDuration('15min', '--duration')).toThrow("invalid --duration '15min': expected seconds or a number with s, m, h or d (e.g. 90, 90s, 15m, 2h)")
  })
})

describe('durationArg', () => {
  const arg = durationArg('--duration', 1000, 3_600_000)
  it('returns milliseconds inside the bounds', () => {
    expect(arg('1')).toBe(1000)
    expect(arg('1h')).toBe(3_600_000)
  })
  it('turns bad input and out-of-bounds values into usage errors', () => {
    expect(() => arg('0')).toThrow(InvalidArgumentError)
    expect(() => arg('0')).toThrow(/between 1 s and 1 h/)
    expect(() => arg('2h')).toThrow(InvalidArgumentError)
    expect(() => arg('soon')).toThrow(InvalidArgumentError)
  })
})

describe('formatDuration', () => {
  it('prints the largest units', () => {
    expect(formatDuration(90_000)).toBe('1 min 30 s')
    expect(formatDuration(7_200_000)).toBe('2 h')
    expect(formatDuration(5_460_000)).toBe('1 h 31 min')
    expect(formatDuration(4_000)).toBe('4 s')
  })
})
