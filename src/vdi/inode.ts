// VDI metadata: what Sheepdog keeps in the inode object. Stored as the content of the VDI
// (inode) object (bit 63 | vid << 32) and replicated like any other object.
import { MAX_VID } from '../oid.js'
import { hex } from '../log.js'

export interface Inode {
  name: string
  vid: number
  size: number
  copies: number
  objectSize: number
  generation: number
  created: bigint
}

export const DEFAULT_OBJECT_SIZE = 4 * 1024 * 1024
export const DEFAULT_COPIES = 3
export const MIN_OBJECT_SIZE = 1024
export const MAX_COPIES = 16
export const MAX_NAME_BYTES = 256
export const MAX_OBJECTS = 2 ** 32

export class VdiError extends Error {
  constructor (message: string, readonly code: 'BAD_REQUEST' | 'NOT_FOUND' | 'EXISTS' | 'DELETED' | 'UNAVAILABLE' | 'INTERNAL') {
    super(message)
  }
}

export function objectCount (inode: Pick<Inode, 'size' | 'objectSize'>): number {
  return Math.ceil(inode.size / inode.objectSize)
}

export function validateName (name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new VdiError('VDI name must be a non-empty string', 'BAD_REQUEST')
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new VdiError(`VDI name longer than ${MAX_NAME_BYTES} bytes`, 'BAD_REQUEST')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f/]/.test(name)) throw new VdiError(`VDI name '${name}' contains '/' or control characters`, 'BAD_REQUEST')
  return name
}

export function validateGeometry (size: unknown, objectSize: unknown, copies: unknown, maxObjectSize: number): void {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw new VdiError(`invalid VDI size ${String(size)}: a positive number of bytes`, 'BAD_REQUEST')
  if (typeof objectSize !== 'number' || !Number.isSafeInteger(objectSize) || objectSize < MIN_OBJECT_SIZE || objectSize > maxObjectSize || (objectSize & (objectSize - 1)) !== 0) {
    throw new VdiError(`invalid object size ${String(objectSize)}: a power of two between ${MIN_OBJECT_SIZE} and ${maxObjectSize}`, 'BAD_REQUEST')
  }
  if (typeof copies !== 'number' || !Number.isInteger(copies) || copies < 1 || copies > MAX_COPIES) throw new VdiError(`invalid copies ${String(copies)}: 1..${MAX_COPIES}`, 'BAD_REQUEST')
  if (Math.ceil(size / objectSize) > MAX_OBJECTS) throw new VdiError(`VDI of ${size} bytes needs more than 2^32 objects of ${objectSize} bytes`, 'BAD_REQUEST')
}

export function encodeInode (inode: Inode): Uint8Array {
  return Buffer.from(JSON.stringify({ ...inode, created: hex(inode.created) }))
}

export function decodeInode (data: Uint8Array, maxObjectSize: number): Inode {
  let j: any
  try {
    j = JSON.parse(Buffer.from(data).toString('utf8'))
  } catch {
    throw new VdiError('inode object is not valid JSON', 'INTERNAL')
  }
  validateName(j?.name)
  validateGeometry(j.size, j.objectSize, j.copies, maxObjectSize)
  if (!Number.isInteger(j.vid) || j.vid < 1 || j.vid > MAX_VID) throw new VdiError(`inode has invalid vid ${String(j.vid)}`, 'INTERNAL')
  // generation travels as a uint32 (wire, tombstones); created is a u64 in hex, as encodeInode writes it
  if (!Number.isInteger(j.generation) || j.generation < 1 || j.generation > 0xffff_ffff) throw new VdiError(`inode has invalid generation ${String(j.generation)}`, 'INTERNAL')
  const created = j.created ?? '0'
  if (typeof created !== 'string' || !/^[0-9a-f]{1,16}$/.test(created)) throw new VdiError(`inode has invalid created ${JSON.stringify(created)?.slice(0, 40)}`, 'INTERNAL')
  return { name: j.name, vid: j.vid, size: j.size, copies: j.copies, objectSize: j.objectSize, generation: j.generation, created: BigInt(`0x${created}`) }
}
