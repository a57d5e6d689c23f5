// Delete records: wire round trips at the edges, validation, splitting big discards, the
// reconciliation order and hash, and what a record covers.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { create, toBinary } from '@bufbuild/protobuf'
import { DeleteKind, DeleteRecordSchema } from '../../src/wire/bellwether_pb.js'
import { MAX_VID, vidToAttrOid, vidToDataOid, vidToVdiOid, vidToVmstateOid } from '../../src/oid.js'
import { encodeIndexes } from '../../src/codec/deltaVarint.js'
import { MAX_INDEXES_PER_RECORD, MAX_ORIGIN_LENGTH } from '../../src/tombstones/constants.js'
import { RecordError, compareRecords, describeRecord, makeDiscardRecords, recordCovers, recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { decodeRecord, encodeRecord, fromWire, toWire } from '../../src/tombstones/recordWire.js'

const ORIGIN = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const U64_MAX = (1n << 64n) - 1n

const vdi = (over: Partial<DeleteRec> = {}): DeleteRec =>
  ({ kind: 'vdi', origin: ORIGIN, seq: 1n, hlc: 1000n, vid: 0x7c2b25, generation: 1, ...over }) as DeleteRec
const objs = (indexes: number[], over: Partial<DeleteRec> = {}): DeleteRec =>
  ({
    kind: 'objects',
    origin: ORIGIN,
    seq: 2n,
    hlc: 2000n,
    vid: 0x7c2b25,
    generation: 1,
    indexes: Uint32Array.from(indexes),
    ...over
  }) as DeleteRec

const wireBytes = (over: Record<string, unknown>): Uint8Array =>
  toBinary(
    DeleteRecordSchema,
    create(DeleteRecordSchema, { origin: ORIGIN, seq: 1n, hlc: 1n, kind: DeleteKind.VDI, vid: 1, generation: 0, ...over })
  )

describe('wire round trip', () => {
  for (const hlc of [0n, 1n, (1n << 63n) - 1n, 1n << 63n, U64_MAX]) {
    for (const seq of [1n, 2n ** 32n, 1n << 63n, U64_MAX]) {
      it(`hlc ${hlc} seq ${seq}`, () => {
        for (const rec of [vdi({ hlc, seq }), objs([0, 1, 0xffff_ffff], { hlc, seq })]) {
          const back = decodeRecord(encodeRecord(rec))
          expect(back).toEqual(rec)
          expect(back.hlc).toBe(hlc)
          expect(back.seq).toBe(seq)
          expect(fromWire(toWire(rec))).toEqual(rec)
        }
      })
    }
  }

  it('keeps vid and generation at their limits', () => {
    const rec = vdi({ vid: MAX_VID, generation: 0xffff_ffff })
    expect(decodeRecord(encodeRecord(rec))).toEqual(rec)
  })

  it('round-trips random records (property)', () => {
    const arbRec: fc.Arbitrary<DeleteRec> = fc
      .record({
        origin: fc.string({ minLength: 1, maxLength: 40 }),
        seq: fc.bigInt({ min: 1n, max: U64_MAX }),
        hlc: fc.bigInt({ min: 0n, max: U64_MAX }),
        vid: fc.integer({ min: 1, max: MAX_VID }),
        generation: fc.nat(),
        ix: fc.option(fc.uniqueArray(fc.nat({ max: 0xffff_ffff }), { minLength: 1, maxLength: 200 }), { nil: undefined })
      })
      .map(({ ix, ...b }) =>
        ix === undefined
          ? { kind: 'vdi' as const, ...b }
          : { kind: 'objects' as const, ...b, indexes: Uint32Array.from(ix.sort((x, y) => x - y)) }
      )
    fc.assert(fc.property(arbRec, (rec) => {
      expect(decodeRecord(encodeRecord(rec))).toEqual(rec)
    }))
  })
})

describe('validation', () => {
  const bad: Array<[string, DeleteRec, RegExp]> = [
    ['seq 0', vdi({ seq: 0n }), /seq 0/],
    ['negative hlc', vdi({ hlc: -1n }), /hlc/],
    ['hlc over 2^64', vdi({ hlc: 1n << 64n }), /hlc/],
    ['empty origin', vdi({ origin: '' }), /empty origin/],
    ['long origin', vdi({ origin: 'x'.repeat(MAX_ORIGIN_LENGTH + 1) }), /origin of 129 bytes/],
    ['vid 0', vdi({ vid: 0 }), /vid 0/],
    ['vid too big', vdi({ vid: MAX_VID + 1 }), /vid 16777216/],
    ['no indexes', objs([]), /no indexes/],
    ['unsorted', objs([3, 2]), /strictly increasing/],
    ['duplicate', objs([2, 2]), /strictly increasing/],
    ['unknown kind', { ...vdi(), kind: 'bogus' } as unknown as DeleteRec, /unknown record kind/]
  ]
  for (const [name, rec, msg] of bad) {
    it(`rejects ${name} on encode`, () => {
      expect(() => encodeRecord(rec)).toThrow(RecordError)
      expect(() => encodeRecord(rec)).toThrow(msg)
    })
  }

  it('accepts an origin of exactly the limit', () => {
    const rec = vdi({ origin: 'x'.repeat(MAX_ORIGIN_LENGTH) })
    expect(decodeRecord(encodeRecord(rec))).toEqual(rec)
  })

  it('rejects too many indexes', () => {
    const ix = Array.from({ length: MAX_INDEXES_PER_RECORD + 1 }, (_, i) => i)
    expect(() => encodeRecord(objs(ix))).toThrow(/limit 50000/)
  })

  const badWire: Array<[string, Record<string, unknown>, RegExp]> = [
    ['seq 0', { seq: 0n }, /seq 0/],
    ['vid 0', { vid: 0 }, /vid 0/],
    ['unspecified kind', { kind: DeleteKind.UNSPECIFIED }, /unknown record kind 0/],
    ['kind 9', { kind: 9 }, /unknown record kind 9/],
    ['empty origin', { origin: '' }, /empty origin/],
    ['vdi with ids', { indexes: encodeIndexes(Uint32Array.of(1)), count: 1 }, /vdi record carries indexes/],
    ['objects count 0', { kind: DeleteKind.OBJECTS, indexes: encodeIndexes(Uint32Array.of(1)), count: 0 }, /count 0/],
    ['objects count too big', { kind: DeleteKind.OBJECTS, indexes: new Uint8Array(0), count: MAX_INDEXES_PER_RECORD + 1 }, /count 50001/],
    ['count mismatch', { kind: DeleteKind.OBJECTS, indexes: encodeIndexes(Uint32Array.of(1, 5, 9)), count: 2 }, /indexes/],
    ['truncated indexes', { kind: DeleteKind.OBJECTS, indexes: encodeIndexes(Uint32Array.of(1, 300000)).subarray(0, 2), count: 2 }, /indexes/]
  ]
  for (const [name, over, msg] of badWire) {
    it(`rejects ${name} on decode`, () => {
      const bytes = wireBytes(over)
      expect(() => decodeRecord(bytes)).toThrow(RecordError)
      expect(() => decodeRecord(bytes)).toThrow(msg)
    })
  }

  it('rejects garbage bytes', () => {
    expect(() => decodeRecord(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(RecordError)
    expect(() => decodeRecord(Uint8Array.of(0x0a, 0x10, 0x41))).toThrow(/malformed delete record/)
    expect(() => decodeRecord(new Uint8Array(0))).toThrow(RecordError) // all defaults: empty origin
  })
})

const bytesOf = (a: Uint32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

describe('makeDiscardRecords', () => {
  it('splits 120k indexes into 3 records that each round-trip', () => {
    const ix = new Uint32Array(120_000)
    for (let i = 0; i < ix.length; i++) ix[i] = i * 7 + 3
    let seq = 10n
    const recs = makeDiscardRecords({ origin: ORIGIN, hlc: 99n, vid: 5, generation: 2 }, () => seq++, ix)
    expect(recs.map((r) => (r.kind === 'objects' ? r.indexes.length : -1))).toEqual([50_000, 50_000, 20_000])
    expect(recs.map((r) => r.seq)).toEqual([10n, 11n, 12n])
    const joined = new Uint32Array(ix.length)
    let at = 0
    for (const r of recs) {
      expect(r.hlc).toBe(99n)
      const back = decodeRecord(encodeRecord(r))
      if (back.kind !== 'objects' || r.kind !== 'objects') throw new Error('kind changed')
      // typed arrays this big are compared as bytes: deep equality walks them slowly
      expect({ ...back, indexes: undefined }).toEqual({ ...r, indexes: undefined })
      expect(bytesOf(back.indexes).equals(bytesOf(r.indexes))).toBe(true)
      joined.set(back.indexes, at)
      at += back.indexes.length
    }
    expect(at).toBe(ix.length)
    expect(bytesOf(joined).equals(bytesOf(ix))).toBe(true)
    // slices are copies: the caller's big array is not kept alive by the records
    expect(recs[0]!.kind === 'objects' && recs[0]!.indexes.buffer).not.toBe(ix.buffer)
  })

  it('returns nothing for no indexes and rejects unsorted input', () => {
    const seqs = (): bigint => 1n
    expect(makeDiscardRecords({ origin: ORIGIN, hlc: 1n, vid: 5, generation: 0 }, seqs, new Uint32Array(0))).toEqual([])
    expect(() => makeDiscardRecords({ origin: ORIGIN, hlc: 1n, vid: 5, generation: 0 }, seqs, Uint32Array.of(4, 1))).toThrow(
      RecordError
    )
  })
})

describe('covers', () => {
  const vid = 0x7c2b25
  it('whole-VDI: every object kind of that vid up to the generation', () => {
    const rec = vdi({ vid, generation: 3 })
    for (const oid of [vidToDataOid(vid, 0), vidToDataOid(vid, 0xffff_ffff), vidToVdiOid(vid), vidToVmstateOid(vid, 2), vidToAttrOid(vid, 1)]) {
      expect(recordCovers(rec, oid, 3, U64_MAX)).toBe(true)
      expect(recordCovers(rec, oid, 0, 0n)).toBe(true)
      expect(recordCovers(rec, oid, 4, 0n)).toBe(false)
    }
    expect(recordCovers(rec, vidToDataOid(vid + 1, 0), 1, 0n)).toBe(false)
    expect(recordCovers(rec, vidToVdiOid(vid - 1), 1, 0n)).toBe(false)
  })

  it('discard: listed data objects of exactly that generation, version ≤ hlc', () => {
    const rec = objs([1, 5, 1000], { vid, generation: 2, hlc: 500n })
    expect(recordCovers(rec, vidToDataOid(vid, 5), 2, 500n)).toBe(true)
    expect(recordCovers(rec, vidToDataOid(vid, 1000), 2, 0n)).toBe(true)
    expect(recordCovers(rec, vidToDataOid(vid, 5), 2, 501n)).toBe(false) // rewritten after the discard
    expect(recordCovers(rec, vidToDataOid(vid, 5), 1, 0n)).toBe(false)
    expect(recordCovers(rec, vidToDataOid(vid, 5), 3, 0n)).toBe(false)
    expect(recordCovers(rec, vidToDataOid(vid, 4), 2, 0n)).toBe(false)
    expect(recordCovers(rec, vidToDataOid(vid + 1, 5), 2, 0n)).toBe(false)
    expect(recordCovers(rec, vidToVmstateOid(vid, 5), 2, 0n)).toBe(false)
    expect(recordCovers(rec, vidToVdiOid(vid), 2, 0n)).toBe(false)
  })
})

describe('order, hash, description', () => {
  it('orders by hlc, then origin, then seq', () => {
    const a = vdi({ hlc: 1n, origin: 'b', seq: 9n })
    const b = vdi({ hlc: 2n, origin: 'a', seq: 1n })
    const c = vdi({ hlc: 2n, origin: 'b', seq: 1n })
    const d = vdi({ hlc: 2n, origin: 'b', seq: 2n })
    expect([d, c, b, a].sort(compareRecords)).toEqual([a, b, c, d])
    expect(compareRecords(c, vdi({ hlc: 2n, origin: 'b', seq: 1n, vid: 9 }))).toBe(0)
  })

  it('hashes identity only, 64-bit, deterministic', () => {
    const h = recordHash(vdi({ seq: 7n }))
    expect(h).toBe(recordHash(objs([1], { seq: 7n, hlc: 5n })))
    expect(h).not.toBe(recordHash(vdi({ seq: 8n })))
    expect(h).not.toBe(recordHash(vdi({ seq: 7n, origin: 'other' })))
    expect(h >= 0n && h <= U64_MAX).toBe(true)
  })

  it('additive fingerprints of different seq sets differ (no FNV linearity)', () => {
    const M = (1n << 64n) - 1n
    const fp = (seqs: bigint[]): bigint => seqs.reduce((s, q) => (s + recordHash(vdi({ seq: q }))) & M, 0n)
    expect(fp([1n, 4n])).not.toBe(fp([2n, 3n]))
    expect(fp([1n, 6n])).not.toBe(fp([2n, 5n]))
    const seen = new Map<bigint, string>()
    for (let a = 1n; a <= 40n; a++) {
      for (let b = a + 1n; b <= 40n; b++) {
        const f = fp([a, b])
        expect(seen.get(f)).toBeUndefined()
        seen.set(f, `${a},${b}`)
      }
    }
  })

  it('describes records', () => {
    expect(describeRecord(vdi({ vid: 0x7c2b25, generation: 1 }))).toBe('vdi 7c2b25 gen 1')
    expect(describeRecord(objs([1, 2, 3], { vid: 0x7c2b25, generation: 1 }))).toBe('discard 7c2b25 gen 1: 3 objects')
    expect(describeRecord(objs([1], { vid: 1, generation: 0 }))).toBe('discard 000001 gen 0: 1 object')
  })
})
