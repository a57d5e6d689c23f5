// Wire form of strictly increasing uint32 id lists (object indexes of one bucket): the first
// value, then each gap to the previous value, every number as an unsigned LEB128 varint.
// Dense index lists cost ~1 byte per id. The decoder is strict (canonical varints only, exact
// count, bounded size) because its input comes from peers. The varints are src/codec/varint.ts.
import { readVarint, varintRead, varintSize, writeVarint } from './varint.js'

export class CodecError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'CodecError'
  }
}

function checkSorted (sorted: Uint32Array): void {
  if (!(sorted instanceof Uint32Array)) throw new CodecError('encodeIndexes: input must be a Uint32Array')
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k] <= sorted[k - 1]) {
      throw new CodecError(`encodeIndexes: input not strictly increasing at position ${k} (${sorted[k - 1]} then ${sorted[k]})`)
    }
  }
}

export function encodedSize (sorted: Uint32Array): number {
  checkSorted(sorted)
  let n = 0
  let prev = 0
  for (let k = 0; k < sorted.length; k++) {
    n += varintSize(sorted[k] - prev)
    prev = sorted[k]
  }
  return n
}

export function encodeIndexes (sorted: Uint32Array): Uint8Array {
  const out = new Uint8Array(encodedSize(sorted))
  let w = 0
  let prev = 0
  for (let k = 0; k < sorted.length; k++) {
    w = writeVarint(out, w, sorted[k] - prev)
    prev = sorted[k]
  }
  return out
}

/**
 * Decodes exactly expectedCount values. Rejects: expectedCount outside 0..maxCount, a varint cut
 * off by the end of input, a varint longer than 5 bytes or above 2^32-1, a non-minimal varint
 * (a trailing zero byte), a zero gap (repeated value), a sum above 0xffffffff, and bytes left over.
 */
export function decodeIndexes (bytes: Uint8Array, expectedCount: number, maxCount: number): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('decodeIndexes: input must be a Uint8Array')
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new CodecError(`decodeIndexes: bad maxCount ${String(maxCount)}`)
  if (!Number.isSafeInteger(expectedCount) || expectedCount < 0) {
    throw new CodecError(`decodeIndexes: bad expected count ${String(expectedCount)}`)
  }
  if (expectedCount > maxCount) {
    throw new CodecError(`decodeIndexes: too many values: ${expectedCount} announced, at most ${maxCount} allowed`)
  }
  // every value takes 1..5 bytes: reject impossible lengths before allocating
  if (bytes.length < expectedCount) {
    throw new CodecError(`decodeIndexes: truncated: ${bytes.length} bytes cannot hold ${expectedCount} values`)
  }
  if (bytes.length > 5 * expectedCount) {
    throw new CodecError(`decodeIndexes: ${bytes.length} bytes is more than ${expectedCount} values can take (trailing bytes)`)
  }
  const out = new Uint32Array(expectedCount)
  let r = 0
  let prev = 0
  const read = varintRead()
  for (let k = 0; k < expectedCount; k++) {
    const start = r
    readVarint(bytes, r, 5, read)
    if (read.fault === 'truncated') throw new CodecError(`decodeIndexes: truncated varint at byte ${start} (value ${k} of ${expectedCount})`)
    if (read.fault === 'non-minimal') throw new CodecError(`decodeIndexes: non-minimal varint at byte ${start}`)
    if (read.fault === 'overlong') throw new CodecError(`decodeIndexes: varint longer than 5 bytes at byte ${start}`)
    const v = read.value
    r = read.end
    if (v > 0xffffffff) throw new CodecError(`decodeIndexes: varint at byte ${start} exceeds 2^32-1 (${v})`)
    if (k > 0 && v === 0) throw new CodecError(`decodeIndexes: not strictly increasing: zero gap at value ${k} (byte ${start})`)
    const x = prev + v
    if (x > 0xffffffff) throw new CodecError(`decodeIndexes: value ${k} overflows uint32 (${x})`)
    out[k] = x
    prev = x
  }
  if (r !== bytes.length) {
    throw new CodecError(`decodeIndexes: ${bytes.length - r} trailing bytes after ${expectedCount} values`)
  }
  return out
}
