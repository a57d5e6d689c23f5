// Gossip messages on the deletes topic: packing records into size-bounded DeleteBatch
// messages and decoding received ones, rejecting anything oversized or invalid whole.

import { fromBinary } from '@bufbuild/protobuf'
import { DeleteBatchSchema, type DeleteBatch } from '../wire/bellwether_pb.js'
import { MAX_BATCH_BYTES, MAX_RECORDS_PER_BATCH } from './constants.js'
import type { DeleteRec } from './record.js'
import { encodeRecord, fromWire } from './recordWire.js'
import { varintSize, writeVarint } from '../codec/varint.js'

export class BatchError extends Error {
  override name = 'BatchError'
}

/** Tag of DeleteBatch.records (field 1, length-delimited). */
const RECORDS_TAG = 0x0a

/**
 * Encodes records, in order, as DeleteBatch messages of ≤ maxBytes and ≤ MAX_RECORDS_PER_BATCH
 * records each. The batch framing is written by hand (each record is one length-delimited
 * field 1) so every record is encoded once and sizes are exact, not estimated.
 */
export function packBatches (recs: DeleteRec[], maxBytes = MAX_BATCH_BYTES): Uint8Array[] {
  const out: Uint8Array[] = []
  let cur: Uint8Array[] = []
  let curBytes = 0
  const flush = (): void => {
    if (cur.length === 0) return
    const buf = new Uint8Array(curBytes)
    let pos = 0
    for (const r of cur) {
      buf[pos++] = RECORDS_TAG
      pos = writeVarint(buf, pos, r.length)
      buf.set(r, pos)
      pos += r.length
    }
    out.push(buf)
    cur = []
    curBytes = 0
  }
  for (const rec of recs) {
    const enc = encodeRecord(rec)
    const framed = 1 + varintSize(enc.length) + enc.length
    if (framed > maxBytes) {
      throw new BatchError(`record of ${framed} bytes cannot fit a batch of ${maxBytes} bytes`)
    }
    if (curBytes + framed > maxBytes || cur.length >= MAX_RECORDS_PER_BATCH) flush()
    cur.push(enc)
    curBytes += framed
  }
  flush()
  return out
}

/** Decodes one received batch; any problem rejects the whole message with a BatchError. */
export function decodeBatch (bytes: Uint8Array, maxBytes = MAX_BATCH_BYTES): DeleteRec[] {
  if (bytes.length > maxBytes) throw new BatchError(`batch of ${bytes.length} bytes exceeds limit ${maxBytes}`)
  let batch: DeleteBatch
  try {
    batch = fromBinary(DeleteBatchSchema, bytes, { readUnknownFields: false })
  } catch (e) {
    throw new BatchError(`malformed batch: ${(e as Error).message}`)
  }
  const n = batch.records.length
  if (n === 0) throw new BatchError('empty batch')
  if (n > MAX_RECORDS_PER_BATCH) throw new BatchError(`batch of ${n} records exceeds limit ${MAX_RECORDS_PER_BATCH}`)
  return batch.records.map((w, i) => {
    try {
      return fromWire(w)
    } catch (e) {
      throw new BatchError(`record ${i} of ${n}: ${(e as Error).message}`)
    }
  })
}
