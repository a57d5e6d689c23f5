// The one seeded random source: simulations, chaos schedules, partition shapes and the chaos
// workload all draw from it, so a seed means the same sequence everywhere it is used.

export type Rng = () => number

/**
 * mulberry32: tiny, fast, and the same sequence on every platform for a given seed. The seed
 * is reduced to 32 bits (a 64-bit run seed folds both halves in).
 */
export function seededRng (seed: number | bigint): Rng {
  const big = BigInt.asUintN(64, BigInt(seed))
  let a = Number((big & 0xffffffffn) ^ (big >> 32n)) >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
