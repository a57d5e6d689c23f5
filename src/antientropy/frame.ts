// The anti-entropy frame on the wire: encoding and bounded decoding of AeFrame, the ranges a
// session sends (OutRange → AeRange) and the size estimates that keep a frame inside its byte
// budget. No session state: session.ts decides what goes into a frame, this file how it looks.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { AeFrameSchema, AeMode, AeRangeSchema, type AeFrame, type AeRange, type DeleteRecord } from '../wire/bellwether_pb.js'
import type { DeleteRec } from '../tombstones/record.js'
import { toWire } from '../tombstones/recordWire.js'
import { compareKeys, type Key } from './reconSet.js'
import { MAX_FRAME_BYTES } from './constants.js'
import { varintSize } from '../codec/varint.js'

export class AeFrameError extends Error {
  override name = 'AeFrameError'
}

export function encodeFrame (f: AeFrame): Uint8Array {
  return toBinary(AeFrameSchema, f)
}

/** Decodes a peer's frame; throws AeFrameError when it exceeds maxBytes or is malformed. */
export function decodeFrame (b: Uint8Array, maxBytes: number = MAX_FRAME_BYTES): AeFrame {
  if (b.length > maxBytes) throw new AeFrameError(`frame of ${b.length} bytes exceeds the ${maxBytes}-byte limit`)
  try {
    return fromBinary(AeFrameSchema, b, { readUnknownFields: false })
  } catch (e) {
    throw new AeFrameError(`malformed frame: ${(e as Error).message}`)
  }
}

export const ZERO_KEY: Key = Object.freeze({ hlc: 0n, hash: 0n })
/** A range count above this cannot describe a real log; it also keeps Number(count) exact. */
export const MAX_RANGE_COUNT = 1n << 40n

// Conservative encoded sizes (tag + length + payload), used for budgets: an estimate above
// the real size only makes frames a little smaller than they could be.
export const RANGE_BASE_BYTES = 2 + 2 + 18 + 2 + 11 + 9 // frame tag/len, upper tag/len + bound, mode, count, fingerprint
export const RANGE_ID_OVERHEAD = 4
export const WANT_BYTES = 8
export const FRAME_FIXED_BYTES = 128 // done, summary, error-free framing

export interface OutRange {
  upper: Key
  mode: AeMode
  count: number
  fp: bigint
  ids?: BigUint64Array
}

export function addSkip (out: OutRange[], upper: Key): void {
  if (compareKeys(upper, ZERO_KEY) === 0) return
  const last = out[out.length - 1]
  if (last !== undefined && last.mode === AeMode.SKIP) last.upper = upper
  else if (last === undefined || compareKeys(last.upper, upper) < 0) out.push({ upper, mode: AeMode.SKIP, count: 0, fp: 0n })
}

export function rangeCost (r: OutRange): number {
  const n = r.ids?.length ?? 0
  return RANGE_BASE_BYTES + (n > 0 ? RANGE_ID_OVERHEAD + 8 * n : 0)
}

export function toWireRange (r: OutRange): AeRange {
  return create(AeRangeSchema, {
    upper: { hlc: r.upper.hlc, hash: r.upper.hash },
    mode: r.mode,
    count: r.mode === AeMode.FINGERPRINT ? BigInt(r.count) : 0n,
    fingerprint: r.fp,
    ids: r.ids === undefined ? [] : Array.from(r.ids)
  })
}

export function wireOrUndefined (rec: DeleteRec): DeleteRecord | undefined {
  try {
    return toWire(rec)
  } catch {
    // a record our own set holds but cannot encode is a local bug; sending it would only
    // make the peer end the session
    return undefined
  }
}

const utf8Len = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Exact encoded size of a record inside a frame (field tag and length prefix included). */

export function recordWireSize (w: DeleteRecord): number {
  let n = 0
  const ol = utf8Len(w.origin)
  if (ol > 0) n += 1 + varintSize(ol) + ol
  if (w.seq !== 0n) n += 1 + varintSize(w.seq)
  if (w.hlc !== 0n) n += 9
  if (w.kind !== 0) n += 1 + varintSize(w.kind)
  if (w.vid !== 0) n += 1 + varintSize(w.vid)
  if (w.generation !== 0) n += 1 + varintSize(w.generation)
  if (w.indexes.length > 0) n += 1 + varintSize(w.indexes.length) + w.indexes.length
  if (w.count !== 0) n += 1 + varintSize(w.count)
  return 1 + varintSize(n) + n
}
