// Delete records on the wire: the protobuf DeleteRecord ⇄ DeleteRec, validated both ways (a
// record from a peer is checked here before anything else sees it), and their binary form.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { DeleteKind, DeleteRecordSchema, type DeleteRecord } from '../wire/bellwether_pb.js'
import { decodeIndexes, encodeIndexes } from '../codec/deltaVarint.js'
import { MAX_INDEXES_PER_RECORD } from './constants.js'
import { RecordError, validateRecord, type DeleteRec } from './record.js'

export function toWire (rec: DeleteRec): DeleteRecord {
  validateRecord(rec)
  const base = { origin: rec.origin, seq: rec.seq, hlc: rec.hlc, vid: rec.vid, generation: rec.generation }
  if (rec.kind === 'vdi') return create(DeleteRecordSchema, { ...base, kind: DeleteKind.VDI })
  return create(DeleteRecordSchema, {
    ...base,
    kind: DeleteKind.OBJECTS,
    indexes: encodeIndexes(rec.indexes),
    count: rec.indexes.length
  })
}

export function fromWire (w: DeleteRecord): DeleteRec {
  const base = { origin: w.origin, seq: w.seq, hlc: w.hlc, vid: w.vid, generation: w.generation }
  let rec: DeleteRec
  if (w.kind === DeleteKind.VDI) {
    // a vdi record carrying ids is not something any node writes: reject, don't ignore
    if (w.indexes.length !== 0 || w.count !== 0) throw new RecordError('vdi record carries indexes')
    rec = { kind: 'vdi', ...base }
  } else if (w.kind === DeleteKind.OBJECTS) {
    if (w.count < 1 || w.count > MAX_INDEXES_PER_RECORD) {
      throw new RecordError(`objects record count ${w.count} out of range 1..${MAX_INDEXES_PER_RECORD}`)
    }
    let indexes: Uint32Array
    try {
      indexes = decodeIndexes(w.indexes, w.count, MAX_INDEXES_PER_RECORD)
    } catch (e) {
      throw new RecordError(`objects record indexes: ${(e as Error).message}`)
    }
    rec = { kind: 'objects', ...base, indexes }
  } else {
    throw new RecordError(`unknown record kind ${w.kind}`)
  }
  validateRecord(rec)
  return rec
}

export function encodeRecord (rec: DeleteRec): Uint8Array {
  return toBinary(DeleteRecordSchema, toWire(rec))
}

export function decodeRecord (bytes: Uint8Array): DeleteRec {
  let w: DeleteRecord
  try {
    w = fromBinary(DeleteRecordSchema, bytes, { readUnknownFields: false })
  } catch (e) {
    throw new RecordError(`malformed delete record: ${(e as Error).message}`)
  }
  return fromWire(w)
}
