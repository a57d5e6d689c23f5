// The object header cache's table against a plain Map: random sets, overwrites and deletes
// (backward-shift deletion must keep every other key findable), growth and shrinking, and the
// entry limit (new oids left out, known ones still updated).
import { describe, expect, it } from 'vitest'
import { HeaderCache } from '../../src/store/headerCache.js'
import { seededRng } from '../../src/rng.js'
import { vidToDataOid, vidToVdiOid } from '../../src/oid.js'

describe('HeaderCache', () => {
  it('agrees with a Map through 20,000 random sets and deletes, growing and shrinking', () => {
    const rng = seededRng(7)
    const c = new HeaderCache()
    const ref = new Map<bigint, { version: bigint, generation: number }>()
    // oids of a few vids, dense low words: the shape a real store has, and many probe collisions
    const pool = Array.from({ length: 3000 }, (_, i) => i % 7 === 0 ? vidToVdiOid(1 + i) : vidToDataOid(1 + (i % 5), i))
    let maxSlots = 0
    for (let step = 0; step < 20_000; step++) {
      const oid = pool[Math.floor(rng() * pool.length)]
      // phases of mostly inserts, then mostly deletes, so the table both grows and shrinks
      const insertBias = Math.floor(step / 5000) % 2 === 0 ? 0.8 : 0.2
      if (rng() < insertBias) {
        const h = { version: BigInt(step) << 20n, generation: step % 1000 }
        c.set(oid, h.version, h.generation)
        ref.set(oid, h)
      } else {
        c.delete(oid)
        ref.delete(oid)
      }
      maxSlots = Math.max(maxSlots, c.byteSize() / 21)
      if (step % 997 === 0) for (const o of pool) expect(c.get(o)).toEqual(ref.get(o))
    }
    for (const o of pool) expect(c.get(o)).toEqual(ref.get(o))
    expect(c.size).toBe(ref.size)
    expect(maxSlots).toBeGreaterThanOrEqual(2048)
    for (const o of pool) c.delete(o)
    expect(c.size).toBe(0)
    expect(c.byteSize()).toBe(64 * 21)
  })

  it('past its limit takes no new oid but still updates and deletes the ones it holds', () => {
    const c = new HeaderCache(3)
    const [a, b, d, e] = [1n, 2n, 3n, 4n].map((i) => vidToDataOid(9, Number(i)))
    c.set(a, 1n, 1)
    c.set(b, 2n, 1)
    c.set(d, 3n, 1)
    c.set(e, 4n, 1)
    expect(c.get(e)).toBeUndefined()
    expect(c.size).toBe(3)
    c.set(a, 10n, 2)
    expect(c.get(a)).toEqual({ version: 10n, generation: 2 })
    c.delete(b)
    c.set(e, 4n, 1)
    expect(c.get(e)).toEqual({ version: 4n, generation: 1 })
    expect(c.get(b)).toBeUndefined()
  })

  it('holds oid 0 and the largest valid oids like any other', () => {
    const c = new HeaderCache()
    const big = vidToVdiOid((1 << 24) - 1)
    c.set(0n, 5n, 1)
    c.set(big, (1n << 64n) - 1n, 0xffff_ffff)
    expect(c.get(0n)).toEqual({ version: 5n, generation: 1 })
    expect(c.get(big)).toEqual({ version: (1n << 64n) - 1n, generation: 0xffff_ffff })
    c.clear()
    expect(c.get(0n)).toBeUndefined()
    expect(c.size).toBe(0)
  })
})
