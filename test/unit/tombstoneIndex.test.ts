// TombstoneIndex against a naive model (a list of records; covered = any record covers),
// plus the canonical-entry behaviour that keeps per-vid discard lists short. How fast covers()
// answers is a figure for `npm run bench -- --only micro`, not a test.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { formatVid, vidToAttrOid, vidToDataOid, vidToVdiOid, vidToVmstateOid } from '../../src/oid.js'
import { recordCovers, type DeleteRec } from '../../src/tombstones/record.js'
import { TombstoneIndex } from '../../src/tombstones/tombstoneIndex.js'

// small domains so random probes actually hit records
const arbRec: fc.Arbitrary<DeleteRec> = fc
  .record({
    seq: fc.bigInt({ min: 1n, max: 1000n }),
    hlc: fc.bigInt({ min: 0n, max: 20n }),
    vid: fc.integer({ min: 1, max: 3 }),
    generation: fc.integer({ min: 0, max: 3 }),
    ix: fc.option(fc.uniqueArray(fc.nat({ max: 15 }), { minLength: 1, maxLength: 12 }), { nil: undefined, freq: 3 })
  })
  .map(({ ix, ...b }) =>
    ix === undefined
      ? { kind: 'vdi' as const, origin: 'n1', ...b }
      : { kind: 'objects' as const, origin: 'n1', ...b, indexes: Uint32Array.from(ix.sort((x, y) => x - y)) }
  )

const arbProbe = fc.record({
  kind: fc.constantFrom('data', 'data', 'data', 'inode', 'vmstate', 'attr'),
  vid: fc.integer({ min: 1, max: 4 }),
  idx: fc.nat({ max: 16 }),
  generation: fc.integer({ min: 0, max: 4 }),
  version: fc.bigInt({ min: 0n, max: 21n })
})

function probeOid (p: { kind: string; vid: number; idx: number }): bigint {
  switch (p.kind) {
    case 'inode':
      return vidToVdiOid(p.vid)
    case 'vmstate':
      return vidToVmstateOid(p.vid, p.idx)
    case 'attr':
      return vidToAttrOid(p.vid, p.idx)
    default:
      return vidToDataOid(p.vid, p.idx)
  }
}

/**
 * What covers() must answer, from the records alone: the whole-VDI delete names the highest
 * deleted generation; otherwise the discard that decides is the covering one with the highest hlc.
 */
function modelReason (recs: DeleteRec[], oid: bigint, p: { vid: number; idx: number; generation: number; version: bigint }): string | undefined {
  const covering = recs.filter((r) => recordCovers(r, oid, p.generation, p.version))
  if (covering.some((r) => r.kind === 'vdi')) {
    // every whole-VDI record of the vid raises the floor, covering this probe or not
    const floor = Math.max(...recs.flatMap((r) => (r.kind === 'vdi' && r.vid === p.vid ? [r.generation] : [])))
    return `vdi ${formatVid(p.vid)} deleted through generation ${floor}`
  }
  if (covering.length === 0) return undefined
  const hlc = covering.reduce((m, r) => (r.hlc > m ? r.hlc : m), covering[0]!.hlc)
  return `object ${formatVid(p.vid)}:${p.idx} generation ${p.generation} discarded at hlc ${hlc}`
}

describe('TombstoneIndex vs naive model', () => {
  it('covers() agrees with "any record covers" (property)', () => {
    fc.assert(
      fc.property(fc.array(arbRec, { maxLength: 40 }), fc.array(arbProbe, { minLength: 1, maxLength: 80 }), (recs, probes) => {
        const ix = new TombstoneIndex()
        for (const r of recs) ix.apply(r)
        for (const p of probes) {
          const oid = probeOid(p)
          const got = ix.covers(oid, p.generation, p.version)
          expect(got, `probe ${JSON.stringify({ ...p, version: String(p.version) })}`).toBe(modelReason(recs, oid, p))
        }
        for (let vid = 1; vid <= 4; vid++) {
          const gens = recs.filter((r) => r.kind === 'vdi' && r.vid === vid).map((r) => r.generation)
          const floor = gens.length > 0 ? Math.max(...gens) : undefined
          expect(ix.deletedGeneration(vid)).toBe(floor)
          for (let g = 0; g <= 4; g++) expect(ix.isVdiDeleted(vid, g)).toBe(floor !== undefined && g <= floor)
        }
        expect(ix.vids()).toEqual([...new Set(recs.map((r) => r.vid))].sort((a, b) => a - b))
        expect(ix.recordCount).toBe(recs.length)
      }),
      { numRuns: 500 }
    )
  })

  it('is order-independent: any apply order gives the same answers (property)', () => {
    fc.assert(
      fc.property(fc.array(arbRec, { maxLength: 30 }).chain((recs) => fc.tuple(fc.constant(recs), fc.shuffledSubarray(recs, { minLength: recs.length, maxLength: recs.length }))), ([a, b]) => {
        const x = new TombstoneIndex()
        const y = new TombstoneIndex()
        a.forEach((r) => x.apply(r))
        b.forEach((r) => y.apply(r))
        for (let vid = 1; vid <= 3; vid++) {
          for (let g = 0; g <= 3; g++) {
            for (let i = 0; i <= 15; i++) {
              for (const v of [0n, 5n, 10n, 20n]) {
                const oid = vidToDataOid(vid, i)
                expect(x.covers(oid, g, v) !== undefined).toBe(y.covers(oid, g, v) !== undefined)
              }
            }
          }
        }
      }),
      { numRuns: 200 }
    )
  })
})

describe('canonical discard entries', () => {
  const disc = (hlc: bigint, ix: number[], generation = 1, vid = 9): DeleteRec => ({
    kind: 'objects', origin: 'n1', seq: hlc + 1n, hlc, vid, generation, indexes: Uint32Array.from(ix)
  })

  it('merges records of the same discard (same hlc and generation) into one entry', () => {
    const ix = new TombstoneIndex()
    for (let k = 0; k < 100; k++) ix.apply(disc(50n, [k * 10, k * 10 + 1]))
    expect(ix.discardsOf(9)).toHaveLength(1)
    expect(ix.discardsOf(9)[0]!.indexes.size).toBe(200)
    expect(ix.recordCount).toBe(100)
  })

  it('drops an older discard fully re-discarded later, and keeps the newer hlc per index', () => {
    const ix = new TombstoneIndex()
    ix.apply(disc(10n, [1, 2, 3]))
    ix.apply(disc(20n, [1, 2, 3, 4]))
    expect(ix.discardsOf(9).map((e) => e.hlc)).toEqual([20n])
    ix.apply(disc(15n, [2, 3])) // arrives late, adds nothing
    expect(ix.discardsOf(9).map((e) => e.hlc)).toEqual([20n])
    expect(ix.covers(vidToDataOid(9, 2), 1, 20n)).toBe('object 000009:2 generation 1 discarded at hlc 20')
    expect(ix.covers(vidToDataOid(9, 2), 1, 21n)).toBeUndefined()
  })

  it('a whole-VDI delete subsumes discards at or below its generation', () => {
    const ix = new TombstoneIndex()
    ix.apply(disc(10n, [1], 1))
    ix.apply(disc(10n, [1], 2))
    ix.apply(disc(10n, [1], 3))
    ix.apply({ kind: 'vdi', origin: 'n1', seq: 99n, hlc: 30n, vid: 9, generation: 2 })
    expect(ix.discardsOf(9).map((e) => e.generation)).toEqual([3])
    ix.apply(disc(40n, [5], 2)) // below the floor: nothing to add
    expect(ix.discardsOf(9)).toHaveLength(1)
    expect(ix.covers(vidToVdiOid(9), 2, 0n)).toBe('vdi 000009 deleted through generation 2')
    expect(ix.covers(vidToVdiOid(9), 3, 0n)).toBeUndefined()
    expect(ix.covers(vidToDataOid(9, 1), 3, 10n)).toBe('object 000009:1 generation 3 discarded at hlc 10')
  })

  it('misses on an unrelated vid and on an object newer than every discard of its vid', () => {
    const ix = new TombstoneIndex()
    for (let v = 1; v <= 1000; v++) ix.apply({ kind: 'vdi', origin: 'n1', seq: BigInt(v), hlc: 1n, vid: v, generation: 0 })
    for (let k = 0; k < 200; k++) ix.apply(disc(BigInt(k), [k], 0, 2000))
    expect(ix.covers(vidToDataOid(5000, 3), 1, 5n)).toBeUndefined()
    // newer than every discard of vid 2000 (the newest is at hlc 199)
    expect(ix.covers(vidToDataOid(2000, 3), 0, 1000n)).toBeUndefined()
    // and the same index at an older version is covered: the entries are there
    expect(ix.covers(vidToDataOid(2000, 3), 0, 3n)).toBe('object 0007d0:3 generation 0 discarded at hlc 3')
    expect(ix.covers(vidToDataOid(500, 3), 0, 5n)).toBe('vdi 0001f4 deleted through generation 0')
  })
})
