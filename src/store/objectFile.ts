// On-disk object format: a fixed 28-byte little-endian header followed by the data.
// Pure encode/decode and verification; the store owns all I/O.
//
//   magic "BWO1" (4) | format u16 = 1 | flags u16 | generation u32 | version u64 |
//   length u32 | crc32 u32 (of the data)
import { crc32 } from 'node:zlib'

export interface ObjectMeta {
  oid: bigint
  /** VDI generation the object was written under (tombstones may cover a generation). */
  generation: number
  /** HLC timestamp of the write. */
  version: bigint
  /** Data length in bytes (header excluded). */
  length: number
  /** CRC-32 of the data. */
  checksum: number
}

export const HEADER_SIZE = 28
export const FORMAT_VERSION = 1

const MAGIC = [0x42, 0x57, 0x4f, 0x31] // "BWO1"
const U32_MAX = 0xffff_ffff
const U64_MAX = (1n << 64n) - 1n

/**
 * The bytes on disk are not a valid object. `oid` is filled in by the store, which is
 * the only layer that knows which file it read; the codec itself never sees names.
 */
export class CorruptObjectError extends Error {
  override readonly name = 'CorruptObjectError'
  constructor (readonly reason: string, readonly oid?: bigint) {
    super(oid === undefined
      ? `corrupt object: ${reason}`
      : `corrupt object ${oid.toString(16).padStart(16, '0')}: ${reason}`)
  }
}

export function encodeObject (
  meta: { generation: number, version: bigint },
  data: Uint8Array
): { header: Uint8Array, meta: Omit<ObjectMeta, 'oid'> } {
  const { generation, version } = meta
  if (!Number.isInteger(generation) || generation < 0 || generation > U32_MAX) {
    throw new RangeError(`generation must be a u32, got ${generation}`)
  }
  if (typeof version !== 'bigint' || version < 0n || version > U64_MAX) {
    throw new RangeError(`version must be a u64, got ${String(version)}`)
  }
  if (data.byteLength > U32_MAX) {
    throw new RangeError(`object too large: ${data.byteLength} bytes`)
  }
  const checksum = crc32(data)
  const header = new Uint8Array(HEADER_SIZE)
  const view = new DataView(header.buffer)
  header.set(MAGIC, 0)
  view.setUint16(4, FORMAT_VERSION, true)
  view.setUint16(6, 0, true)
  view.setUint32(8, generation, true)
  view.setBigUint64(12, version, true)
  view.setUint32(20, data.byteLength, true)
  view.setUint32(24, checksum, true)
  return { header, meta: { generation, version, length: data.byteLength, checksum } }
}

/** Decodes the first HEADER_SIZE bytes of `buf`; anything after them is ignored. */
export function decodeHeader (buf: Uint8Array): Omit<ObjectMeta, 'oid'> {
  if (buf.byteLength < HEADER_SIZE) {
    throw new CorruptObjectError(`short header: ${buf.byteLength} of ${HEADER_SIZE} bytes`)
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (buf[i] !== MAGIC[i]) throw new CorruptObjectError('bad magic')
  }
  const view = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE)
  const format = view.getUint16(4, true)
  if (format !== FORMAT_VERSION) throw new CorruptObjectError(`unknown format ${format}`)
  // flags (offset 6) are reserved; readers ignore them so a later writer may set bits
  // that do not change how the data is interpreted.
  return {
    generation: view.getUint32(8, true),
    version: view.getBigUint64(12, true),
    length: view.getUint32(20, true),
    checksum: view.getUint32(24, true)
  }
}

export function verifyData (meta: Pick<ObjectMeta, 'length' | 'checksum'>, data: Uint8Array): void {
  if (data.byteLength !== meta.length) {
    throw new CorruptObjectError(`length ${data.byteLength}, header says ${meta.length}`)
  }
  const actual = crc32(data)
  if (actual !== meta.checksum) {
    throw new CorruptObjectError(
      `crc32 ${actual.toString(16).padStart(8, '0')}, header says ${meta.checksum.toString(16).padStart(8, '0')}`)
  }
}
