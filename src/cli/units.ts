// Byte sizes as users type them, like dog: "4M" = 4 MiB, "1G", "512K", plain "4096", "0x1000".
// Suffixes are powers of 1024; an optional trailing "B" or "iB" is accepted ("4MiB", "4MB").

const SCALE: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 }

const SIZE_RE = /^([0-9]+(?:\.[0-9]+)?)\s*(?:([kKmMgGtTpP])(?:i?B)?|B)?$/
const HEX_RE = /^0[xX]([0-9a-fA-F]{1,13})$/

export class SizeError extends Error {
  override name = 'SizeError'
}

/**
 * A non-negative byte count as a safe integer. Fractions are allowed only when they come out
 * whole ("1.5K" = 1536), because a size that silently rounds is a size the user did not ask for.
 */
export function parseSize (text: string, what = 'size'): number {
  const s = String(text).trim()
  const bad = (why: string): SizeError => new SizeError(`invalid ${what} '${s}': ${why}`)
  if (s === '') throw bad('empty')
  const hex = HEX_RE.exec(s)
  if (hex !== null) {
    const v = parseInt(hex[1]!, 16)
    if (!Number.isSafeInteger(v)) throw bad('too large')
    return v
  }
  const m = SIZE_RE.exec(s)
  if (m === null) throw bad('expected a number with an optional K, M, G, T or P suffix (e.g. 4M)')
  const scale = SCALE[(m[2] ?? '').toUpperCase()]!
  const [whole, frac = ''] = m[1]!.split('.')
  // exact arithmetic: floating point would turn "0.1K" into 102.4000…01
  const numerator = BigInt(whole! + frac) * BigInt(scale)
  const denominator = 10n ** BigInt(frac.length)
  if (numerator % denominator !== 0n) throw bad('not a whole number of bytes')
  const v = numerator / denominator
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('too large')
  return Number(v)
}

/** Human-readable size, dog style: "4.0 MB", "512 B". */
export function formatSize (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB', 'PB']
  let v = bytes
  let u = -1
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}
