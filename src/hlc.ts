// Hybrid logical clock (Kulkarni et al.): timestamps that track wall time but never go
// backwards and always order a receive after its send, even across skewed node clocks.
// Sans-I/O: the physical time source is an injected Clock (src/time.ts), so the simulator
// and chaos tests can skew or freeze a node's clock.
//
// Encoding: an Hlc is a bigint `(physicalMs << 16n) | logical` — 48 bits of milliseconds
// (good until year 10889) and a 16-bit counter. Because the counter sits in the low bits,
// "the next timestamp" is simply `last + 1n`, and a counter overflow carries into the
// physical part for free, so the clock stays strictly monotone under any event storm.

import type { Clock } from './time.js'

export type Hlc = bigint

export const HLC_ZERO: Hlc = 0n

const LOGICAL_BITS = 16n
const LOGICAL_MASK = (1n << LOGICAL_BITS) - 1n
const MAX_LOGICAL = Number(LOGICAL_MASK)
const MAX_PHYSICAL_MS = 2 ** 48 - 1
const MAX_HLC = (1n << 64n) - 1n

/** Default tolerance for remote timestamps ahead of local wall time: 10 minutes. Chaos skews
 *  clocks by several minutes, so this must comfortably exceed that. */
export const DEFAULT_MAX_DRIFT_MS = 10 * 60 * 1000

/** A remote timestamp is further ahead of our wall clock than we are willing to jump. The
 *  caller should drop the message (and count it) rather than adopt the timestamp: one
 *  peer with a clock in year 3000 must not drag every node's clock there. */
export class ClockDriftError extends Error {
  override readonly name = 'ClockDriftError'
  constructor (
    readonly remote: Hlc,
    readonly localMs: number,
    readonly maxDriftMs: number
  ) {
    super(`remote HLC ${formatHlc(remote)} is ${hlcPhysical(remote) - localMs} ms ahead of local clock ` +
      `(${new Date(localMs).toISOString()}); max drift is ${maxDriftMs} ms`)
  }
}

export function makeHlc (ms: number, logical = 0): Hlc {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_PHYSICAL_MS) {
    throw new RangeError(`HLC physical time must be an integer in [0, 2^48): ${ms}`)
  }
  if (!Number.isInteger(logical) || logical < 0 || logical > MAX_LOGICAL) {
    throw new RangeError(`HLC logical counter must be an integer in [0, ${MAX_LOGICAL}]: ${logical}`)
  }
  return (BigInt(ms) << LOGICAL_BITS) | BigInt(logical)
}

export function hlcPhysical (h: Hlc): number {
  return Number(h >> LOGICAL_BITS)
}

export function hlcLogical (h: Hlc): number {
  return Number(h & LOGICAL_MASK)
}

/** ISO-8601 physical time plus the logical counter, e.g. "2026-11-27T12:00:00.123Z+3". */
export function formatHlc (h: Hlc): string {
  return `${new Date(hlcPhysical(h)).toISOString()}+${hlcLogical(h)}`
}

/** Inverse of formatHlc (for the CLI and logs). */
export function parseHlc (s: string): Hlc {
  const plus = s.lastIndexOf('+')
  if (plus <= 0) throw new RangeError(`not an HLC string: ${JSON.stringify(s)}`)
  const ms = Date.parse(s.slice(0, plus))
  const logicalText = s.slice(plus + 1)
  if (Number.isNaN(ms) || !/^\d+$/.test(logicalText)) {
    throw new RangeError(`not an HLC string: ${JSON.stringify(s)}`)
  }
  return makeHlc(ms, Number(logicalText))
}

export interface HybridClockOptions {
  /** Remote timestamps more than this far ahead of local wall time are rejected. */
  maxDriftMs: number
}

export class HybridClock {
  private readonly maxDriftMs: number
  private lastValue: Hlc = HLC_ZERO

  constructor (private readonly physical: Clock, opts: Partial<HybridClockOptions> = {}) {
    this.maxDriftMs = opts.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS
    if (!(this.maxDriftMs >= 0)) throw new RangeError(`maxDriftMs must be >= 0: ${this.maxDriftMs}`)
  }

  /** Local or send event: strictly greater than everything returned or observed before. */
  now (): Hlc {
    return this.advance(HLC_ZERO, this.wallMs())
  }

  /** Receive event: merge a remote timestamp; the result exceeds both it and our last value.
   *  Throws ClockDriftError (leaving the clock untouched) if the remote is implausibly far
   *  ahead, and RangeError if it is not a 64-bit unsigned value at all. */
  observe (remote: Hlc): Hlc {
    if (typeof remote !== 'bigint' || remote < 0n || remote > MAX_HLC) {
      throw new RangeError(`malformed remote HLC: ${String(remote)}`)
    }
    const wall = this.wallMs()
    if (hlcPhysical(remote) - wall > this.maxDriftMs) {
      throw new ClockDriftError(remote, wall, this.maxDriftMs)
    }
    return this.advance(remote, wall)
  }

  last (): Hlc {
    return this.lastValue
  }

  /**
   * Why `h` cannot have come from an honest clock, or undefined: it is more than maxDriftMs
   * ahead of this node's wall clock (the bound observe() enforces), or not a u64. Changes
   * nothing; for timestamps that are stored rather than merged (object versions, the HLCs a
   * heartbeat reports).
   */
  implausible (h: Hlc): string | undefined {
    if (typeof h !== 'bigint' || h < 0n || h > MAX_HLC) return `not a 64-bit HLC: ${String(h)}`
    const ahead = hlcPhysical(h) - this.wallMs()
    if (ahead > this.maxDriftMs) return `${ahead} ms ahead of this node's clock (at most ${this.maxDriftMs})`
    return undefined
  }

  // max(wall<<16, last+1, remote+1) is exactly the HLC update rule: a fresh wall tick resets
  // the counter, otherwise the counter of whichever of last/remote is ahead is bumped.
  private advance (remote: Hlc, wall: number): Hlc {
    let next = makeHlc(wall, 0)
    if (this.lastValue >= next) next = this.lastValue + 1n
    if (remote >= next) next = remote + 1n
    this.lastValue = next
    return next
  }

  // The injected source may be skewed, fractional or garbage (chaos); clamp it into the
  // encodable range instead of throwing, since monotonicity is guaranteed by `last + 1` anyway.
  private wallMs (): number {
    const t = Math.floor(this.physical.now())
    if (!(t > 0)) return 0
    return t > MAX_PHYSICAL_MS ? MAX_PHYSICAL_MS : t
  }
}
