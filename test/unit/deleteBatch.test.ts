// Gossip batches: pack/decode round trips under size limits, rejection of oversized,
// malformed and invalid input, and the measured wire cost of deletes.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { DeleteBatchSchema, DeleteKind, DeleteRecordSchema } from '../../src/wire/bellwether_pb.js'
import { MAX_BATCH_BYTES, MAX_RECORDS_PER_BATCH } from '../../src/tombstones/constants.js'
import { BatchError, decodeBatch, packBatches } from '../../src/tombstones/batch.js'
import { makeDiscardRecords, type DeleteRec } from '../../src/tombstones/record.js'
import { encodeRecord } from '../../src/tombstones/recordWire.js'

const ORIGIN = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' // a real-length peer id
const U64_MAX = (1n << 64n) - 1n

const arbRec: fc.Arbitrary<DeleteRec> = fc
  .record({
    origin: fc.string({ minLength: 1, maxLength: 60 }),
    seq: fc.bigInt({ min: 1n, max: U64_MAX }),
    hlc: fc.bigInt({ min: 0n, max: U64_MAX }),
    vid: fc.integer({ min: 1, max: 0xffffff }),
    generation: fc.nat(),
    ix: fc.option(fc.uniqueArray(fc.nat({ max: 0xffff_ffff }), { minLength: 1, maxLength: 40 }), { nil: undefined })
  })
  .map(({ ix, ...b }) =>
    ix === undefined
      ? { kind: 'vdi' as const, ...b }
      : { kind: 'objects' as const, ...b, indexes: Uint32Array.from(ix.sort((x, y) => x - y)) }
  )

/** Deterministic sparse indexes: `n` distinct values below `range`, sorted. */
function sparse (n: number, range: number, seed: number): Uint32Array {
  let s = seed >>> 0 || 1
  const next = (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
  const vals = new Set<number>()
  while (vals.size < n) vals.add(Math.floor((next() / 0x1_0000_0000) * range))
  return Uint32Array.from([...vals].sort((a, b) => a - b))
}

function discardOf (indexes: Uint32Array): DeleteRec[] {
  let seq = 1n
  return makeDiscardRecords({ origin: ORIGIN, hlc: 1n << 62n, vid: 0x7c2b25, generation: 1 }, () => seq++, indexes)
}

describe('packBatches / decodeBatch', () => {
  it('round-trips any records under any limit that fits them (property)', () => {
    fc.assert(
      fc.property(fc.array(arbRec, { minLength: 1, maxLength: 60 }), fc.integer({ min: 400, max: 4000 }), (recs, maxBytes) => {
        const batches = packBatches(recs, maxBytes)
        for (const b of batches) expect(b.length).toBeLessThanOrEqual(maxBytes)
        expect(batches.flatMap((b) => decodeBatch(b, maxBytes))).toEqual(recs)
        // the hand-written framing is a plain DeleteBatch to any protobuf decoder
        expect(batches.reduce((s, b) => s + fromLib(b), 0)).toBe(recs.length)
      }),
      { numRuns: 300 }
    )
  })

  it('splits 100k sparse indexes so every batch fits, and loses nothing', () => {
    const ix = sparse(100_000, 0x1_0000_0000, 7)
    const recs = discardOf(ix)
    expect(recs).toHaveLength(2)
    for (const maxBytes of [MAX_BATCH_BYTES, 300 * 1024]) {
      const batches = packBatches(recs, maxBytes)
      for (const b of batches) expect(b.length).toBeLessThanOrEqual(maxBytes)
      const back = batches.flatMap((b) => decodeBatch(b, maxBytes))
      expect(back).toHaveLength(recs.length)
      back.forEach((r, i) => {
        const want = recs[i]!
        if (r.kind !== 'objects' || want.kind !== 'objects') throw new Error('kind changed')
        // typed arrays this big are compared as bytes: deep equality walks them slowly
        expect({ ...r, indexes: undefined }).toEqual({ ...want, indexes: undefined })
        expect(Buffer.from(r.indexes.buffer, r.indexes.byteOffset, r.indexes.byteLength)
          .equals(Buffer.from(want.indexes.buffer, want.indexes.byteOffset, want.indexes.byteLength))).toBe(true)
      })
    }
  })

  it('puts at most MAX_RECORDS_PER_BATCH records in one batch', () => {
    const recs: DeleteRec[] = Array.from({ length: MAX_RECORDS_PER_BATCH + 10 }, (_, i) => ({
      kind: 'vdi', origin: 'a', seq: BigInt(i + 1), hlc: 1n, vid: 1 + (i % 1000), generation: 0
    }))
    const batches = packBatches(recs, 10 * 1024 * 1024)
    expect(batches.map((b) => decodeBatch(b, 10 * 1024 * 1024).length)).toEqual([MAX_RECORDS_PER_BATCH, 10])
  })

  it('packs nothing into no batches', () => {
    expect(packBatches([])).toEqual([])
  })

  it('refuses a record that cannot fit any batch', () => {
    const recs = discardOf(sparse(1000, 0x1_0000_0000, 3))
    expect(() => packBatches(recs, 1000)).toThrow(BatchError)
    expect(() => packBatches(recs, 1000)).toThrow(/cannot fit a batch of 1000 bytes/)
  })
})

function fromLib (bytes: Uint8Array): number {
  // the generated schema directly, bypassing decodeBatch's validation
  return fromBinary(DeleteBatchSchema, bytes).records.length
}

describe('decodeBatch rejects bad input', () => {
  it('oversized', () => {
    const big = new Uint8Array(MAX_BATCH_BYTES + 1)
    expect(() => decodeBatch(big)).toThrow(BatchError)
    expect(() => decodeBatch(big)).toThrow(`batch of ${MAX_BATCH_BYTES + 1} bytes exceeds limit ${MAX_BATCH_BYTES}`)
    const [ok] = packBatches([{ kind: 'vdi', origin: 'a', seq: 1n, hlc: 1n, vid: 1, generation: 0 }])
    expect(() => decodeBatch(ok!, ok!.length - 1)).toThrow(/exceeds limit/)
  })

  it('garbage bytes', () => {
    for (const g of [Uint8Array.of(0xff, 0xff, 0xff), Uint8Array.of(0x0a, 0x50, 1, 2), Uint8Array.of(0x0a, 0x02, 0x12, 0x05)]) {
      expect(() => decodeBatch(g)).toThrow(BatchError)
    }
    expect(() => decodeBatch(Uint8Array.of(0x0a, 0x50, 1, 2))).toThrow(/malformed batch/)
  })

  it('an empty batch', () => {
    expect(() => decodeBatch(new Uint8Array(0))).toThrow('empty batch')
    expect(() => decodeBatch(toBinary(DeleteBatchSchema, create(DeleteBatchSchema, {})))).toThrow(BatchError)
  })

  it('an invalid record, naming it', () => {
    const good = { origin: 'a', seq: 1n, hlc: 1n, kind: DeleteKind.VDI, vid: 1 }
    const bytes = toBinary(
      DeleteBatchSchema,
      create(DeleteBatchSchema, {
        records: [create(DeleteRecordSchema, good), create(DeleteRecordSchema, { ...good, seq: 0n })]
      })
    )
    expect(() => decodeBatch(bytes)).toThrow(BatchError)
    expect(() => decodeBatch(bytes)).toThrow(/record 1 of 2: seq 0/)
  })

  it('too many records', () => {
    const one = create(DeleteRecordSchema, { origin: 'a', seq: 1n, hlc: 1n, kind: DeleteKind.VDI, vid: 1 })
    const bytes = toBinary(DeleteBatchSchema, create(DeleteBatchSchema, { records: Array(MAX_RECORDS_PER_BATCH + 1).fill(one) }))
    expect(bytes.length).toBeLessThan(MAX_BATCH_BYTES)
    expect(() => decodeBatch(bytes)).toThrow(`batch of ${MAX_RECORDS_PER_BATCH + 1} records exceeds limit ${MAX_RECORDS_PER_BATCH}`)
  })
})

describe('wire cost of deletes', () => {
  it('a whole-VDI delete is one record of a few tens of bytes', () => {
    const rec: DeleteRec = { kind: 'vdi', origin: ORIGIN, seq: 123_456n, hlc: BigInt(Date.now()) << 16n, vid: 0x7c2b25, generation: 3 }
    const bytes = encodeRecord(rec).length
    const [batch] = packBatches([rec])
    console.log(`whole-VDI delete: 1 record, ${bytes} B encoded, ${batch!.length} B as a one-record batch (origin ${ORIGIN.length} B)`)
    expect(bytes).toBeLessThan(100)
    // 100 VDI deletes in one message: the per-record cost
    const many = Array.from({ length: 100 }, (_, i): DeleteRec => ({ ...rec, seq: rec.seq + BigInt(i), vid: i + 1 }))
    const packed = packBatches(many)
    expect(packed).toHaveLength(1)
    console.log(`100 VDI deletes: ${packed[0]!.length} B in one batch, ${(packed[0]!.length / 100).toFixed(1)} B per VDI`)
  })

  for (const [n, range, label] of [
    [1000, 0x1_0000_0000, 'uniform over 2^32 indexes'],
    [100_000, 0x1_0000_0000, 'uniform over 2^32 indexes'],
    [1000, 1 << 20, 'in a 4 TiB VDI of 4 MiB objects (2^20 indexes)'],
    [100_000, 1 << 20, 'in a 4 TiB VDI of 4 MiB objects (2^20 indexes)']
  ] as const) {
    it(`${n} sparse ids ${label}`, () => {
      const recs = discardOf(sparse(n, range, n + range))
      const batches = packBatches(recs)
      const total = batches.reduce((s, b) => s + b.length, 0)
      console.log(`${n} sparse ids ${label}: ${recs.length} records, ${batches.length} batches, ${total} B, ${(total / n).toFixed(2)} B per id`)
      expect(total / n).toBeLessThanOrEqual(range > 1 << 20 ? 5.1 : 3.1)
      for (const b of batches) expect(b.length).toBeLessThanOrEqual(MAX_BATCH_BYTES)
    })
  }
})
