// Delete records (tombstones): the in-memory shape, validation, the reconciliation order
// and hash, and what a record covers. Pure: no I/O, no clock, no wire format (recordWire.ts
// has that: what only reads or judges records — the checker, the CLI — need not load protobuf).

import { MAX_VID, fnv1a64, formatVid, isDataObj, oidToIndex, oidToVid } from '../oid.js'
import { MAX_INDEXES_PER_RECORD, MAX_ORIGIN_LENGTH } from './constants.js'
import { sortedIndexOf } from '../sorted.js'

/**
 * A tombstone. Identity is (origin, seq); reconciliation order is (hlc, origin, seq).
 * - `vdi`: every object (data, inode, vmstate, attr) of VDI `vid` with generation ≤ `generation`.
 * - `objects`: data objects (vid, idx ∈ indexes) of exactly `generation` whose version
 *   (HLC of last write) ≤ `hlc`. A discard: a later write with a newer HLC re-creates the object.
 */
export type DeleteRec =
  | { kind: 'vdi'; origin: string; seq: bigint; hlc: bigint; vid: number; generation: number }
  | {
    kind: 'objects'
    origin: string
    seq: bigint
    hlc: bigint
    vid: number
    generation: number
    /** strictly increasing, 1..MAX_INDEXES_PER_RECORD of them */
    indexes: Uint32Array
  }

export class RecordError extends Error {
  override name = 'RecordError'
}

const U64_MAX = (1n << 64n) - 1n
const U64_MASK = U64_MAX
const U32_MAX = 0xffff_ffff
const utf8 = new TextEncoder()

function originBytes (origin: string): number {
  return Buffer.byteLength(origin, 'utf8')
}

/** Throws RecordError unless `rec` is a record every node would accept. */
export function validateRecord (rec: DeleteRec): void {
  if (typeof rec.origin !== 'string' || rec.origin.length === 0) throw new RecordError('record has an empty origin')
  const ob = originBytes(rec.origin)
  if (ob > MAX_ORIGIN_LENGTH) throw new RecordError(`origin of ${ob} bytes exceeds ${MAX_ORIGIN_LENGTH}`)
  if (typeof rec.seq !== 'bigint' || rec.seq < 1n || rec.seq > U64_MAX) {
    throw new RecordError(`seq ${String(rec.seq)} out of range 1..2^64-1`)
  }
  if (typeof rec.hlc !== 'bigint' || rec.hlc < 0n || rec.hlc > U64_MAX) {
    throw new RecordError(`hlc ${String(rec.hlc)} out of range 0..2^64-1`)
  }
  if (!Number.isInteger(rec.vid) || rec.vid < 1 || rec.vid > MAX_VID) {
    throw new RecordError(`vid ${String(rec.vid)} out of range 1..${MAX_VID}`)
  }
  if (!Number.isInteger(rec.generation) || rec.generation < 0 || rec.generation > U32_MAX) {
    throw new RecordError(`generation ${String(rec.generation)} out of range 0..2^32-1`)
  }
  if (rec.kind === 'vdi') return
  if (rec.kind !== 'objects') throw new RecordError(`unknown record kind ${String((rec as { kind: unknown }).kind)}`)
  checkIndexes(rec.indexes)
}

function checkIndexes (ix: Uint32Array): void {
  if (!(ix instanceof Uint32Array)) throw new RecordError('objects record indexes must be a Uint32Array')
  if (ix.length === 0) throw new RecordError('objects record has no indexes')
  if (ix.length > MAX_INDEXES_PER_RECORD) {
    throw new RecordError(`objects record has ${ix.length} indexes, limit ${MAX_INDEXES_PER_RECORD}`)
  }
  for (let i = 1; i < ix.length; i++) {
    if (ix[i]! <= ix[i - 1]!) throw new RecordError(`indexes not strictly increasing at position ${i}`)
  }
}

/** Reconciliation order (hlc, origin, seq): records made close in time sort together. */
export function compareRecords (a: DeleteRec, b: DeleteRec): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1
  return 0
}

const M1 = 0xff51afd7ed558ccdn
const M2 = 0xc4ceb9fe1a85ec53n

/** murmur3 fmix64. */
export function fmix64 (k: bigint): bigint {
  k ^= k >> 33n
  k = (k * M1) & U64_MASK
  k ^= k >> 33n
  k = (k * M2) & U64_MASK
  k ^= k >> 33n
  return k
}

/**
 * 64-bit hash of a record's identity: fmix64(fnv1a64(utf8(origin) ‖ 0x00 ‖ seq as u64 BE)).
 * Every node must compute the same value, so this definition is part of the protocol.
 * The fmix64 finaliser matters: raw FNV-1a of inputs that differ in one byte is linear in
 * that byte, so sums of raw hashes collide ({1,4} and {2,3} can give equal fingerprints).
 */
export function recordHash (rec: DeleteRec): bigint {
  const o = utf8.encode(rec.origin)
  const buf = new Uint8Array(o.length + 9)
  buf.set(o, 0)
  new DataView(buf.buffer).setBigUint64(o.length + 1, rec.seq & U64_MASK, false)
  return fmix64(fnv1a64(buf))
}

/** Does `rec` delete the object `oid` whose generation and version (HLC of last write) are given? */
export function recordCovers (rec: DeleteRec, oid: bigint, generation: number, version: bigint): boolean {
  if (oidToVid(oid) !== rec.vid) return false
  if (rec.kind === 'vdi') return generation <= rec.generation
  return (
    generation === rec.generation && version <= rec.hlc && isDataObj(oid) && sortedIndexOf(rec.indexes, oidToIndex(oid)) >= 0
  )
}

export function describeRecord (rec: DeleteRec): string {
  if (rec.kind === 'vdi') return `vdi ${formatVid(rec.vid)} gen ${rec.generation}`
  const n = rec.indexes.length
  return `discard ${formatVid(rec.vid)} gen ${rec.generation}: ${n} object${n === 1 ? '' : 's'}`
}

/**
 * One discard of many indexes as records of ≤ MAX_INDEXES_PER_RECORD each, all sharing the
 * same hlc so they mean exactly what one record would. `indexes` must be strictly increasing.
 * Each record gets its own copy of its slice, so a huge input array is not kept alive.
 */
export function makeDiscardRecords (
  base: { origin: string; hlc: bigint; vid: number; generation: number },
  nextSeq: () => bigint,
  indexes: Uint32Array
): DeleteRec[] {
  if (indexes.length === 0) return []
  for (let i = 1; i < indexes.length; i++) {
    if (indexes[i]! <= indexes[i - 1]!) throw new RecordError(`indexes not strictly increasing at position ${i}`)
  }
  const out: DeleteRec[] = []
  for (let lo = 0; lo < indexes.length; lo += MAX_INDEXES_PER_RECORD) {
    const rec: DeleteRec = {
      kind: 'objects',
      origin: base.origin,
      seq: nextSeq(),
      hlc: base.hlc,
      vid: base.vid,
      generation: base.generation,
      indexes: indexes.slice(lo, lo + MAX_INDEXES_PER_RECORD)
    }
    validateRecord(rec)
    out.push(rec)
  }
  return out
}
