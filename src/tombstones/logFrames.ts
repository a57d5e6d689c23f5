// The delete log's on-disk frames: u32 LE length | u32 LE crc32(payload) | encodeRecord(rec),
// and the parse at start that tells a torn tail (a crash leaves a prefix of the last write:
// truncate it) from damage in the middle (valid frames after a bad one: refuse, naming the
// file, the frame number and its byte offset, because dropping it would lose deletes).
import { crc32 } from 'node:zlib'
import { MAX_RECORD_BYTES } from './constants.js'
import type { DeleteRec } from './record.js'
import { decodeRecord, encodeRecord } from './recordWire.js'

export const FRAME_HEADER = 8

export class DeleteLogError extends Error {
  override name = 'DeleteLogError'
}

export function frame (r: DeleteRec): Buffer {
  const payload = encodeRecord(r)
  const b = Buffer.allocUnsafe(FRAME_HEADER + payload.length)
  b.writeUInt32LE(payload.length, 0)
  b.writeUInt32LE(crc32(payload), 4)
  b.set(payload, FRAME_HEADER)
  return b
}

/** the payload of a whole frame with a matching crc at `pos`, or why there is none */
function frameAt (data: Buffer, pos: number): { payload: Buffer } | { bad: string } {
  if (data.length - pos < FRAME_HEADER) return { bad: `only ${data.length - pos} bytes left, less than a frame header` }
  const len = data.readUInt32LE(pos)
  if (len === 0 || len > MAX_RECORD_BYTES) return { bad: `length field ${len} out of range 1..${MAX_RECORD_BYTES}` }
  if (pos + FRAME_HEADER + len > data.length) return { bad: `length field ${len} runs past the end of the file` }
  const payload = data.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len)
  return crc32(payload) === data.readUInt32LE(pos + 4) ? { payload } : { bad: 'checksum mismatch' }
}

/**
 * Every record of a log file's bytes, and where the good frames end (the rest is a torn
 * tail). Throws DeleteLogError on damage followed by a valid frame, or on a frame whose crc
 * matches but whose record does not decode (those are bytes we wrote: not a torn write).
 */
export function parseFrames (data: Buffer, path: string): { recs: DeleteRec[], goodEnd: number } {
  const recs: DeleteRec[] = []
  let pos = 0
  while (pos < data.length) {
    const at = frameAt(data, pos)
    const n = recs.length + 1
    if ('bad' in at) {
      // a crash leaves only a prefix of our last write, never a whole valid frame after a
      // damaged one; a valid frame further on means the damage is in the middle
      for (let q = pos + 1; q + FRAME_HEADER < data.length; q++) {
        if ('payload' in frameAt(data, q)) {
          throw new DeleteLogError(`${path}: frame ${n} at byte offset ${pos} is corrupt (${at.bad}) and a valid frame follows at byte offset ${q}: ` +
            'refusing to start rather than silently drop the delete records in between')
        }
      }
      return { recs, goodEnd: pos }
    }
    try {
      recs.push(decodeRecord(at.payload))
    } catch (e) {
      throw new DeleteLogError(`${path}: frame ${n} at byte offset ${pos} holds an undecodable record: ${(e as Error).message}`)
    }
    pos += FRAME_HEADER + at.payload.length
  }
  return { recs, goodEnd: pos }
}
