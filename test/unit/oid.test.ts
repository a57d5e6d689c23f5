// Tests for src/oid.ts: layout round trips, flags, validation, text forms, FNV-1a hashes.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  MAX_INDEX, MAX_VID, OidError, U64_MAX, VDI_ATTR_BIT, VDI_BIT, VMSTATE_BIT,
  assertOid, fnv1a64, fnv1a64Oid, formatOid, formatVid, isDataObj, isValidOid, isVdiAttrObj,
  isVdiObj, isVmstateObj, nextVid, oidHigh, oidToBytesLE, oidToIndex, oidToVid, parseOid,
  parseVid, sdHashVdi, vidToAttrOid, vidToDataOid, vidToVdiOid, vidToVmstateOid
} from '../../src/oid.js'

const vidArb = fc.integer({ min: 0, max: MAX_VID })
const idxArb = fc.integer({ min: 0, max: MAX_INDEX })
const u64Arb = fc.bigInt({ min: 0n, max: U64_MAX })

/** Straightforward bigint FNV-1a 64, the reference the fast version must match. */
function fnvRef (bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & U64_MAX
  return h
}

describe('layout', () => {
  it('has the Sheepdog bit positions', () => {
    expect(VDI_BIT).toBe(0x8000000000000000n)
    expect(VMSTATE_BIT).toBe(0x4000000000000000n)
    expect(VDI_ATTR_BIT).toBe(0x2000000000000000n)
    expect(vidToDataOid(0x7c2b25, 1)).toBe(0x007c2b2500000001n)
    expect(vidToVdiOid(0x7c2b25)).toBe(0x807c2b2500000000n)
    expect(vidToVmstateOid(0x7c2b25, 3)).toBe(0x407c2b2500000003n)
    expect(vidToAttrOid(0x7c2b25, 9)).toBe(0x207c2b2500000009n)
  })

  it('round trips vid and index for every object kind', () => {
    fc.assert(fc.property(vidArb, idxArb, (vid, idx) => {
      const data = vidToDataOid(vid, idx)
      const vm = vidToVmstateOid(vid, idx)
      const attr = vidToAttrOid(vid, idx)
      const vdi = vidToVdiOid(vid)
      for (const o of [data, vm, attr, vdi]) {
        expect(oidToVid(o)).toBe(vid)
        expect(isValidOid(o)).toBe(true)
        expect(assertOid(o)).toBe(o)
      }
      expect(oidToIndex(data)).toBe(idx)
      expect(oidToIndex(vm)).toBe(idx)
      expect(oidToIndex(attr)).toBe(idx)
      expect(oidToIndex(vdi)).toBe(0)
      expect(oidHigh(data)).toBe(vid)
      expect(oidHigh(vdi)).toBe(0x80000000 + vid)
      expect([isDataObj(data), isVdiObj(data), isVmstateObj(data), isVdiAttrObj(data)]).toEqual([true, false, false, false])
      expect([isDataObj(vdi), isVdiObj(vdi), isVmstateObj(vdi), isVdiAttrObj(vdi)]).toEqual([false, true, false, false])
      expect([isDataObj(vm), isVdiObj(vm), isVmstateObj(vm), isVdiAttrObj(vm)]).toEqual([false, false, true, false])
      expect([isDataObj(attr), isVdiObj(attr), isVmstateObj(attr), isVdiAttrObj(attr)]).toEqual([false, false, false, true])
    }))
  })

  it('rejects out-of-range vids and indexes with OidError', () => {
    for (const [vid, idx] of [[MAX_VID + 1, 0], [-1, 0], [1.5, 0], [0, MAX_INDEX + 1], [0, -1], [0, 0.5], [Number.NaN, 0]]) {
      expect(() => vidToDataOid(vid, idx)).toThrow(OidError)
    }
    expect(() => vidToVdiOid(MAX_VID + 1)).toThrow(/invalid vid/)
    expect(() => vidToAttrOid(1, 2 ** 32)).toThrow(/attribute id/)
  })

  it('validates reserved bits, flag combinations and range', () => {
    for (let bit = 56n; bit <= 60n; bit++) {
      const o = (1n << bit) | 5n
      expect(isValidOid(o)).toBe(false)
      expect(isDataObj(o)).toBe(false)
      expect(() => assertOid(o)).toThrow(/reserved/)
    }
    const two = VDI_BIT | VMSTATE_BIT
    expect(isValidOid(two)).toBe(false)
    expect(isVdiObj(two)).toBe(false)
    expect(() => assertOid(two)).toThrow(/flags/)
    expect(isValidOid(-1n)).toBe(false)
    expect(isValidOid(U64_MAX + 1n)).toBe(false)
    expect(() => assertOid(-1n)).toThrow(OidError)
    expect(isValidOid(0n)).toBe(true)
    expect(isValidOid(U64_MAX)).toBe(false)
  })

  it('isValidOid agrees with a bitwise definition on random uint64', () => {
    fc.assert(fc.property(u64Arb, (o) => {
      const flags = [VDI_BIT, VMSTATE_BIT, VDI_ATTR_BIT].filter(f => (o & f) !== 0n).length
      const reserved = (o >> 56n) & 0x1fn
      expect(isValidOid(o)).toBe(flags <= 1 && reserved === 0n)
    }))
  })
})

describe('text forms', () => {
  it('formats 16 lowercase hex digits and parses them back', () => {
    expect(formatOid(0x007c2b2500000001n)).toBe('007c2b2500000001')
    for (const o of [0n, 1n << 31n, (1n << 32n) - 1n, 1n << 63n, vidToVdiOid(MAX_VID), vidToDataOid(MAX_VID, MAX_INDEX)]) {
      const s = formatOid(o)
      expect(s).toMatch(/^[0-9a-f]{16}$/)
      expect(parseOid(s)).toBe(o)
      expect(parseOid('0x' + s)).toBe(o)
      expect(parseOid(s.toUpperCase())).toBe(o)
    }
  })

  it('round trips random valid oids', () => {
    const validArb = fc.oneof(
      fc.tuple(vidArb, idxArb).map(([v, i]) => vidToDataOid(v, i)),
      fc.tuple(vidArb, idxArb).map(([v, i]) => vidToVmstateOid(v, i)),
      fc.tuple(vidArb, idxArb).map(([v, i]) => vidToAttrOid(v, i)),
      vidArb.map(v => vidToVdiOid(v))
    )
    fc.assert(fc.property(validArb, (o) => {
      expect(parseOid(formatOid(o))).toBe(o)
    }))
  })

  it('parses vid:index as a data oid', () => {
    expect(parseOid('7c2b25:1')).toBe(0x007c2b2500000001n)
    expect(parseOid('0x7C2B25:0x10')).toBe(0x007c2b2500000010n)
    expect(parseOid('ffffff:4294967295')).toBe(vidToDataOid(MAX_VID, MAX_INDEX))
    expect(parseOid('0:0')).toBe(0n)
    fc.assert(fc.property(vidArb, idxArb, (v, i) => {
      expect(parseOid(`${formatVid(v)}:${i}`)).toBe(vidToDataOid(v, i))
    }))
  })

  it('rejects bad input with OidError naming the input', () => {
    const bad = [
      '', 'zz', '0x', '123', '007c2b250000000', '007c2b25000000011', 'g07c2b2500000001',
      ' 007c2b2500000001', '1:2:3', ':1', '1:', '1000000:1', 'xyz:1', '1:abc', '1:-1',
      '1:4294967296', '1:0x100000000', 'ffffffffffffffff', '1f00000000000000', 'c000000000000000'
    ]
    for (const s of bad) {
      let err: unknown
      try { parseOid(s) } catch (e) { err = e }
      expect(err, `parseOid('${s}') should throw`).toBeInstanceOf(OidError)
      expect((err as Error).message).toContain(`invalid oid '${s}'`)
    }
    expect(() => parseOid('ffffffffffffffff')).toThrow(/reserved/)
    expect(() => parseOid('zz')).toThrow("invalid oid 'zz': ")
  })

  it('formats and parses vids', () => {
    expect(formatVid(0x7c2b25)).toBe('7c2b25')
    expect(formatVid(1)).toBe('000001')
    expect(parseVid('7c2b25')).toBe(0x7c2b25)
    expect(parseVid('0x1')).toBe(1)
    fc.assert(fc.property(vidArb, (v) => { expect(parseVid(formatVid(v))).toBe(v) }))
    for (const s of ['', 'g', '1000000', '0x', '-1', '1 ']) expect(() => parseVid(s)).toThrow(OidError)
    expect(() => formatVid(MAX_VID + 1)).toThrow(OidError)
    expect(() => formatOid(-1n)).toThrow(OidError)
  })
})

describe('hashes', () => {
  it('matches the Sheepdog sd_hash_vdi vectors', () => {
    expect(sdHashVdi('test')).toBe(0x7c2b25)
    expect(sdHashVdi('test0')).toBe(0xfd34af)
    expect(sdHashVdi('test1')).toBe(0xfd32fc)
  })

  it('matches published FNV-1a 64 vectors', () => {
    const enc = new TextEncoder()
    expect(fnv1a64(new Uint8Array())).toBe(0xcbf29ce484222325n)
    expect(fnv1a64(enc.encode('a'))).toBe(0xaf63dc4c8601ec8cn)
    expect(fnv1a64(enc.encode('foobar'))).toBe(0x85944171f73967e8n)
  })

  it('fast fnv1a64 equals the bigint reference on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      expect(fnv1a64(b)).toBe(fnvRef(b))
    }), { numRuns: 1000 })
  })

  it('fnv1a64Oid equals fnv1a64 of the little-endian bytes', () => {
    fc.assert(fc.property(u64Arb, (o) => {
      const le = oidToBytesLE(o)
      expect(le.length).toBe(8)
      expect(new DataView(le.buffer).getBigUint64(0, true)).toBe(o)
      expect(fnv1a64Oid(o)).toBe(fnvRef(le))
    }), { numRuns: 1000 })
  })

  it('nextVid wraps and skips the reserved vid 0', () => {
    expect(nextVid(1)).toBe(2)
    expect(nextVid(MAX_VID - 1)).toBe(MAX_VID)
    expect(nextVid(MAX_VID)).toBe(1)
    expect(nextVid(0)).toBe(1)
    expect(() => nextVid(MAX_VID + 1)).toThrow(OidError)
  })
})
