// Wire format: 64-bit fields must come out as exact bigints (protons corrupted uint64 in
// [2^31, 2^32) and read fixed64 ≥ 2^63 as negative), and repeated ids must be packed.
import { describe, expect, it } from 'vitest'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { DeleteRecordSchema, HeartbeatSchema, ObjResponseSchema, DeleteKind, AeFrameSchema } from '../../src/wire/bellwether_pb.js'

const EDGES = [0n, 1n << 31n, (1n << 32n) - 1n, 1n << 63n, (1n << 64n) - 1n]

describe('protobuf wire (bufbuild)', () => {
  it('round-trips fixed64 and uint64 edge values exactly, as bigint', () => {
    for (const v of EDGES) {
      const rec = create(DeleteRecordSchema, { origin: 'o', seq: v, hlc: v, kind: DeleteKind.VDI, vid: 1, generation: 1 })
      const back = fromBinary(DeleteRecordSchema, toBinary(DeleteRecordSchema, rec))
      expect(typeof back.seq).toBe('bigint')
      expect(back.seq).toBe(v) // uint64 varint
      expect(back.hlc).toBe(v) // fixed64
      const hb = fromBinary(HeartbeatSchema, toBinary(HeartbeatSchema, create(HeartbeatSchema, { objects: v, epoch: v, membersHash: v })))
      expect([hb.objects, hb.epoch, hb.membersHash]).toEqual([v, v, v])
    }
  })

  it('packs repeated fixed64 ids and reads them back in order', () => {
    const msg = create(ObjResponseSchema, { oids: EDGES })
    const bytes = toBinary(ObjResponseSchema, msg)
    // packed: one tag (field 10, wire type 2), one length, 5 × 8 bytes
    expect(bytes[0]).toBe((10 << 3) | 2)
    expect(bytes[1]).toBe(EDGES.length * 8)
    expect(bytes.byteLength).toBe(2 + EDGES.length * 8)
    expect(fromBinary(ObjResponseSchema, bytes).oids).toEqual(EDGES)
  })

  it('reads unpacked repeated fixed64 too (proto3 parsers must accept both)', () => {
    const parts: number[] = []
    for (const v of EDGES) {
      parts.push((3 << 3) | 1) // AeFrame.want, wire type 1 (64-bit), unpacked
      for (let i = 0n; i < 8n; i++) parts.push(Number((v >> (8n * i)) & 0xffn))
    }
    expect(fromBinary(AeFrameSchema, new Uint8Array(parts)).want).toEqual(EDGES)
  })
})
