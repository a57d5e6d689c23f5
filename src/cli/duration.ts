// Durations as users type them on the command line: `90` (seconds), `90s`, `15m`, `2h`, `1d`,
// with an optional fraction that comes out in whole milliseconds (`1.5h`, `0.5s`). One parser for
// every flag that takes a duration (`chaos run --duration`, `soak --duration`, …), so they all
// accept and refuse the same words.
import { InvalidArgumentError } from 'commander'

const UNIT_MS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION_RE = /^([0-9]{1,12})(?:\.([0-9]{1,6}))?\s*(s|m|h|d)?$/

export class DurationError extends Error {
  override name = 'DurationError'
}

/** milliseconds; throws DurationError naming the text and the accepted forms */
export function parseDuration (text: string, what = 'duration'): number {
  const s = String(text).trim().toLowerCase()
  const m = DURATION_RE.exec(s)
  if (m === null) throw new DurationError(`invalid ${what} '${String(text).trim()}': expected seconds or a number with s, m, h or d (e.g. 90, 90s, 15m, 2h)`)
  const scale = UNIT_MS[m[3] ?? '']!
  const frac = m[2] ?? ''
  // exact arithmetic: 0.1h must be 360000 ms, not 359999.99…
  const num = BigInt(m[1]! + frac) * BigInt(scale)
  const den = 10n ** BigInt(frac.length)
  if (num % den !== 0n) throw new DurationError(`invalid ${what} '${String(text).trim()}': not a whole number of milliseconds`)
  const ms = num / den
  if (ms > BigInt(Number.MAX_SAFE_INTEGER)) throw new DurationError(`invalid ${what} '${String(text).trim()}': too long`)
  return Number(ms)
}

/** "2h" → "2 h", 90_000 → "1 min 30 s": for progress lines and reports */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  const total = Math.round(ms / 1000)
  const h = Math.floor(total / 3600)
  const min = Math.floor((total % 3600) / 60)
  const sec = total % 60
  if (h > 0) return `${h} h${min > 0 ? ` ${min} min` : ''}`
  if (min > 0) return `${min} min${sec > 0 ? ` ${sec} s` : ''}`
  return `${sec} s`
}

/** a commander argument parser: a duration in [minMs, maxMs], as milliseconds */
export function durationArg (what: string, minMs: number, maxMs: number): (value: string) => number {
  return (value: string) => {
    let ms: number
    try {
      ms = parseDuration(value, what)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
    if (ms < minMs || ms > maxMs) throw new InvalidArgumentError(`${what} must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}; got '${value.trim()}'`)
    return ms
  }
}
