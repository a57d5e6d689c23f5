// src/codec/varint.ts: sizes, writing and the strict reader at their bounds (1/5/10-byte
// values, 2^32 and 2^64 edges, truncated, overlong and non-minimal input).
import { describe, expect, it } from 'vitest'
import { readVarint, varintBytes, varintRead, varintSize, writeVarint } from '../../src/codec/varint.js'

describe('varint', () => {
  it('sizes match the bytes written, for numbers and bigints', () => {
    const edges = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff, 0x10000000, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER]
    for (const v of edges) {
      const buf = new Uint8Array(10)
      const end = writeVarint(buf, 0, v)
      expect(end).toBe(varintSize(v))
      expect(varintSize(BigInt(v))).toBe(end)
      expect(Array.from(buf.subarray(0, end))).toEqual(varintBytes(BigInt(v)))
    }
    expect(varintSize(0xffffffff)).toBe(5)
    expect(varintSize((1n << 64n) - 1n)).toBe(10)
    expect(varintSize(1n << 64n)).toBe(10)
    expect(varintSize(1n << 70n)).toBe(11)
  })

  it('reads back what it wrote, up to the byte limit', () => {
    const r = varintRead()
    for (const v of [0, 1, 0x7f, 0x80, 0xffffffff]) {
      const bytes = Uint8Array.from(varintBytes(BigInt(v)))
      readVarint(bytes, 0, 5, r)
      expect(r.fault).toBeUndefined()
      expect(r.value).toBe(v)
      expect(r.end).toBe(bytes.length)
    }
    // 5 bytes can carry up to 2^35-1: the range check is the caller's
    readVarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f), 0, 5, r)
    expect(r.fault).toBeUndefined()
    expect(r.value).toBe(2 ** 35 - 1)
  })

  it('faults on truncated, overlong and non-minimal input, and the reader is reusable after a fault', () => {
    const r = varintRead()
    expect(readVarint(new Uint8Array(0), 0, 5, r).fault).toBe('truncated')
    expect(readVarint(Uint8Array.of(0x80, 0x80), 0, 5, r).fault).toBe('truncated')
    expect(readVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 0, 5, r).fault).toBe('overlong')
    // a value above 64 bits (10 bytes) is overlong for any limit below its length
    expect(readVarint(Uint8Array.from(varintBytes(1n << 64n)), 0, 7, r).fault).toBe('overlong')
    expect(readVarint(Uint8Array.of(0x81, 0x00), 0, 5, r).fault).toBe('non-minimal')
    expect(readVarint(Uint8Array.of(0x00), 0, 5, r).fault).toBeUndefined()
    expect(readVarint(Uint8Array.of(0x05, 0x96, 0x01), 1, 5, r)).toMatchObject({ value: 150, end: 3, fault: undefined })
  })
})
