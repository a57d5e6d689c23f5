// Tests for src/codec/deltaVarint.ts: round trips, exact sizes, edge values, strict rejection.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CodecError, decodeIndexes, encodeIndexes, encodedSize } from '../../src/codec/deltaVarint.js'

const sortedArb = fc.uniqueArray(
  fc.oneof(fc.nat({ max: 0xffffffff }), fc.nat({ max: 5000 }), fc.constantFrom(0, 2 ** 31, 0xffffffff)),
  { maxLength: 300 }
).map(a => Uint32Array.from(a).sort())

function expectCodecError (f: () => unknown, msg: RegExp): void {
  let err: unknown
  try { f() } catch (e) { err = e }
  expect(err).toBeInstanceOf(CodecError)
  expect((err as Error).message).toMatch(msg)
}

describe('deltaVarint', () => {
  it('round trips strictly increasing lists and predicts the size', () => {
    fc.assert(fc.property(sortedArb, (a) => {
      const bytes = encodeIndexes(a)
      expect(bytes.length).toBe(encodedSize(a))
      expect(Array.from(decodeIndexes(bytes, a.length, a.length))).toEqual(Array.from(a))
    }), { numRuns: 500 })
  })

  it('encodes edge values canonically', () => {
    expect(Array.from(encodeIndexes(new Uint32Array()))).toEqual([])
    expect(Array.from(encodeIndexes(Uint32Array.of(0)))).toEqual([0])
    expect(Array.from(encodeIndexes(Uint32Array.of(127, 128)))).toEqual([0x7f, 0x01])
    expect(Array.from(encodeIndexes(Uint32Array.of(128)))).toEqual([0x80, 0x01])
    expect(Array.from(encodeIndexes(Uint32Array.of(2 ** 31)))).toEqual([0x80, 0x80, 0x80, 0x80, 0x08])
    expect(Array.from(encodeIndexes(Uint32Array.of(0xffffffff)))).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f])
    const edges = Uint32Array.of(0, 1, 2 ** 31, 0xfffffffe, 0xffffffff)
    expect(Array.from(decodeIndexes(encodeIndexes(edges), 5, 5))).toEqual(Array.from(edges))
    // a dense list costs one byte per id
    const dense = Uint32Array.from({ length: 1000 }, (_, k) => 1000 + k)
    expect(encodedSize(dense)).toBe(2 + 999)
    expect(decodeIndexes(new Uint8Array(), 0, 0).length).toBe(0)
  })

  it('refuses to encode a list that is not strictly increasing', () => {
    expectCodecError(() => encodeIndexes(Uint32Array.of(1, 1)), /not strictly increasing at position 1/)
    expectCodecError(() => encodedSize(Uint32Array.of(5, 3)), /not strictly increasing/)
  })

  it('rejects malformed input with a CodecError naming the problem', () => {
    expectCodecError(() => decodeIndexes(Uint8Array.of(0x80), 1, 10), /truncated varint/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(1, 0x80, 0x80), 2, 10), /truncated varint/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(1), 2, 10), /truncated/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 2, 10), /longer than 5 bytes/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x1f), 1, 10), /exceeds 2\^32-1/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(0x81, 0x00), 1, 10), /non-minimal/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(5, 0), 2, 10), /not strictly increasing/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1), 2, 10), /overflows uint32/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(1, 2, 3), 2, 10), /trailing/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 2, 10), /trailing/)
    expectCodecError(() => decodeIndexes(Uint8Array.of(1, 2), 3, 2), /too many values: 3 announced, at most 2/)
    expectCodecError(() => decodeIndexes(new Uint8Array(), -1, 2), /bad expected count/)
    expectCodecError(() => decodeIndexes(new Uint8Array(), 0, Number.NaN), /bad maxCount/)
  })

  it('never throws anything but CodecError on random bytes, and accepts only canonical encodings', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 12 }), (bytes, count) => {
      let out: Uint32Array | undefined
      try {
        out = decodeIndexes(bytes, count, 12)
      } catch (e) {
        expect(e).toBeInstanceOf(CodecError)
        return
      }
      expect(out.length).toBe(count)
      for (let k = 1; k < out.length; k++) expect(out[k]).toBeGreaterThan(out[k - 1])
      expect(Array.from(encodeIndexes(out))).toEqual(Array.from(bytes))
    }), { numRuns: 2000 })
  })
})
