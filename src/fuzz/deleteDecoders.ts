// Fuzz targets for the decoders of delete records from peers and disk: delta-varint index
// lists, one record, a gossiped batch, the delete log's frames, and anti-entropy frames (bare
// and fed into a session). Same contract as every decoder target (see decoders.ts).
import fc from 'fast-check'
import { create, toBinary } from '@bufbuild/protobuf'
import { crc32 } from 'node:zlib'
import { CodecError, decodeIndexes, encodeIndexes } from '../codec/deltaVarint.js'
import { RecordError, validateRecord, type DeleteRec } from '../tombstones/record.js'
import { decodeRecord, encodeRecord } from '../tombstones/recordWire.js'
import { BatchError, decodeBatch } from '../tombstones/batch.js'
import { DeleteLogError, frame, parseFrames } from '../tombstones/logFrames.js'
import { MAX_INDEXES_PER_RECORD, MAX_RECORDS_PER_BATCH, MAX_RECORD_BYTES } from '../tombstones/constants.js'
import { AeFrameError, ReconSession, decodeFrame, encodeFrame } from '../antientropy/session.js'
import { ReconSet } from '../antientropy/reconSet.js'
import { MAX_FRAME_BYTES as AE_MAX_FRAME_BYTES, MAX_FRAME_RANGES, MAX_RECORDS_PER_FRAME, MAX_WANTS_PER_FRAME } from '../antientropy/constants.js'
import { AeFrameSchema, DeleteBatchSchema, DeleteRecordSchema, DeleteKind, AeMode, type AeFrame } from '../wire/bellwether_pb.js'
import { MAX_VID } from '../oid.js'
import { big, expectThrownKind, fail, type FuzzTarget } from './target.js'
import {
  EDGE_U32, U64_MAX, aeFrameMsg, applyMutation, deleteRecordMsg, encodeAeFrame, encodeRecordMsg,
  hostileBytes, rawField, recordList, sortedIndexes, u64
} from './hostile.js'

function checkRecordBounds (r: DeleteRec, what: string): void {
  try { validateRecord(r) } catch (e) { fail(`${what} returned a record validateRecord refuses: ${(e as Error).message}`) }
  if (r.vid < 1 || r.vid > MAX_VID) fail(`${what} returned vid ${r.vid}`)
  if (r.seq < 1n || r.seq > U64_MAX) fail(`${what} returned seq ${r.seq}`)
  if (Buffer.byteLength(r.origin) > 128) fail(`${what} returned an origin of ${Buffer.byteLength(r.origin)} bytes`)
}

// ---- delta-varint index lists (src/codec/deltaVarint.ts) ----

const counts = (): fc.Arbitrary<number> => fc.oneof(
  fc.nat({ max: 64 }),
  fc.constantFrom(...EDGE_U32, 2 ** 53 - 1, 2 ** 53, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY)
)

export const deltaVarintTarget: FuzzTarget<{ bytes: Uint8Array, expected: number, max: number }> = {
  name: 'delta-varint',
  kind: 'decoder',
  covers: 'src/codec/deltaVarint.ts: decodeIndexes',
  arbitrary: () => fc.oneof(
    fc.tuple(sortedIndexes(64), fc.constantFrom(0, 0, 0, 1, -1, 1e9)).map(([ix, d]) => ({ bytes: encodeIndexes(ix), expected: ix.length + d, max: MAX_INDEXES_PER_RECORD })),
    fc.tuple(hostileBytes(sortedIndexes(64), encodeIndexes), counts(), fc.constantFrom(MAX_INDEXES_PER_RECORD, 0, 2 ** 32)).map(([bytes, expected, max]) => ({ bytes, expected, max }))
  ),
  check: ({ bytes, expected, max }) => {
    let out: Uint32Array
    try { out = decodeIndexes(bytes, expected, max) } catch (e) { expectThrownKind(e, [CodecError], 'decodeIndexes'); return }
    if (out.length !== expected || out.length > max) fail(`decoded ${out.length} values, expected ${expected} (max ${max})`)
    for (let i = 1; i < out.length; i++) if (out[i]! <= out[i - 1]!) fail(`not strictly increasing at ${i}`)
    // strict decoder: what it accepts is exactly the canonical encoding of what it returns
    if (!Buffer.from(encodeIndexes(out)).equals(Buffer.from(bytes))) fail('accepted a non-canonical encoding')
  }
}

// ---- one delete record (src/tombstones/record.ts) ----

export const deleteRecordTarget: FuzzTarget<Uint8Array> = {
  name: 'delete-record',
  kind: 'decoder',
  covers: 'src/tombstones/record.ts: decodeRecord / fromWire',
  arbitrary: () => hostileBytes(deleteRecordMsg(), encodeRecordMsg),
  check: (bytes) => {
    let r: DeleteRec
    try { r = decodeRecord(bytes) } catch (e) { expectThrownKind(e, [RecordError], 'decodeRecord'); return }
    checkRecordBounds(r, 'decodeRecord')
    if (r.kind === 'objects' && (r.indexes.length < 1 || r.indexes.length > MAX_INDEXES_PER_RECORD)) fail(`${r.indexes.length} indexes`)
    // what was accepted re-encodes and decodes to the same record
    const again = decodeRecord(encodeRecord(r))
    if (JSON.stringify(again, big) !== JSON.stringify(r, big)) fail('record does not survive re-encoding')
  }
}

// ---- a gossiped delete batch (src/tombstones/batch.ts) ----

let hugeBatch: Uint8Array | undefined
/** MAX_RECORDS_PER_BATCH + 1 small valid records: a count just past the limit */
function tooManyRecords (): Uint8Array {
  hugeBatch ??= toBinary(DeleteBatchSchema, create(DeleteBatchSchema, {
    records: Array.from({ length: MAX_RECORDS_PER_BATCH + 1 }, (_, i) => create(DeleteRecordSchema, { origin: 'node-a', seq: BigInt(i + 1), hlc: 1n, kind: DeleteKind.VDI, vid: 1, generation: 1 }))
  }))
  return hugeBatch
}

const encodeBatchMsg = (recs: ReturnType<typeof create<typeof DeleteRecordSchema>>[]): Uint8Array => toBinary(DeleteBatchSchema, create(DeleteBatchSchema, { records: recs }))

export const deleteBatchTarget: FuzzTarget<Uint8Array> = {
  name: 'delete-batch',
  kind: 'decoder',
  covers: 'src/tombstones/batch.ts: decodeBatch (gossip validator and delivery)',
  arbitrary: () => fc.oneof(
    { weight: 30, arbitrary: hostileBytes(recordList(5), encodeBatchMsg) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(0), rawField()).map(([, f]) => applyMutation(tooManyRecords(), { op: 'insert', at: 0, bytes: f })) },
    { weight: 1, arbitrary: fc.constant(0).map(() => tooManyRecords()) }
  ),
  check: (bytes) => {
    let recs: DeleteRec[]
    try { recs = decodeBatch(bytes) } catch (e) { expectThrownKind(e, [BatchError], 'decodeBatch'); return }
    if (recs.length < 1 || recs.length > MAX_RECORDS_PER_BATCH) fail(`decodeBatch returned ${recs.length} records`)
    for (const r of recs) checkRecordBounds(r, 'decodeBatch')
  }
}

// ---- the delete log's on-disk frames (src/tombstones/logFrames.ts) ----

const validRec = (): fc.Arbitrary<DeleteRec> => fc.record({
  origin: fc.constantFrom('node-a', 'node-b'),
  seq: fc.bigInt({ min: 1n, max: U64_MAX }),
  hlc: u64(),
  vid: fc.integer({ min: 1, max: MAX_VID }),
  generation: fc.nat({ max: 0xffffffff }),
  indexes: fc.option(sortedIndexes(8).filter((x) => x.length > 0), { nil: undefined })
}).map((r) => r.indexes == null
  ? { kind: 'vdi' as const, origin: r.origin, seq: r.seq, hlc: r.hlc, vid: r.vid, generation: r.generation }
  : { kind: 'objects' as const, origin: r.origin, seq: r.seq, hlc: r.hlc, vid: r.vid, generation: r.generation, indexes: r.indexes })

export const logFramesTarget: FuzzTarget<Uint8Array> = {
  name: 'log-frames',
  kind: 'decoder',
  covers: 'src/tombstones/logFrames.ts: parseFrames (delete log at start)',
  arbitrary: () => hostileBytes(fc.array(validRec(), { minLength: 1, maxLength: 4 }), (recs) => Buffer.concat(recs.map(frame))),
  check: (bytes) => {
    let got: { recs: DeleteRec[], goodEnd: number }
    try { got = parseFrames(Buffer.from(bytes), 'fuzz.log') } catch (e) { expectThrownKind(e, [DeleteLogError], 'parseFrames'); return }
    if (got.goodEnd < 0 || got.goodEnd > bytes.length) fail(`goodEnd ${got.goodEnd} outside 0..${bytes.length}`)
    for (const r of got.recs) checkRecordBounds(r, 'parseFrames')
    // the good part is exactly the frames it returned: re-framing them gives those bytes back
    const again = parseFrames(Buffer.from(bytes.subarray(0, got.goodEnd)), 'fuzz.log')
    if (again.recs.length !== got.recs.length || again.goodEnd !== got.goodEnd) fail('the good prefix does not parse to the same records')
    // every frame of the good part has a sane length and a matching checksum
    const b = Buffer.from(bytes)
    let len = 0
    let frames = 0
    for (let p = 0; p < got.goodEnd; p += 8 + len, frames++) {
      len = b.readUInt32LE(p)
      if (len === 0 || len > MAX_RECORD_BYTES) fail(`a frame of ${len} bytes was accepted`)
      if (crc32(b.subarray(p + 8, p + 8 + len)) !== b.readUInt32LE(p + 4)) fail(`frame at byte ${p} was accepted with a checksum mismatch`)
    }
    if (frames !== got.recs.length) fail(`${got.recs.length} records from ${frames} frames`)
  }
}

// ---- an anti-entropy frame into a session (src/antientropy/session.ts) ----

const SET_RECS: DeleteRec[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'vdi' as const, origin: i % 2 === 0 ? 'node-a' : 'node-b', seq: BigInt(i + 1), hlc: BigInt(1000 + i * 7), vid: 1 + (i % 5), generation: i }))

let bigFrames: Uint8Array[] | undefined
/** frames with counts just past each per-frame limit */
function overLimitFrames (): Uint8Array[] {
  bigFrames ??= [
    encodeFrame(create(AeFrameSchema, { want: Array.from({ length: MAX_WANTS_PER_FRAME + 1 }, (_, i) => BigInt(i + 1)) })),
    encodeFrame(create(AeFrameSchema, { ranges: Array.from({ length: MAX_FRAME_RANGES + 1 }, (_, i) => ({ upper: { hlc: BigInt(i + 1), hash: 0n }, mode: AeMode.SKIP })) })),
    encodeFrame(create(AeFrameSchema, { records: Array.from({ length: MAX_RECORDS_PER_FRAME + 1 }, (_, i) => create(DeleteRecordSchema, { origin: 'node-c', seq: BigInt(i + 1), hlc: 5n, kind: DeleteKind.VDI, vid: 9, generation: 1 })) })),
    encodeFrame(create(AeFrameSchema, { ranges: [{ upper: { hlc: U64_MAX, hash: U64_MAX }, mode: AeMode.ID_LIST, ids: Array.from({ length: 70_000 }, (_, i) => BigInt(i + 1)) }] })),
    new Uint8Array(AE_MAX_FRAME_BYTES + 1)
  ]
  return bigFrames
}

let cachedSet: ReconSet | undefined
let cachedDigest = ''
/** the responder's set: reused while no input added to it (building it hashes 40 records) */
function baseSet (): ReconSet {
  if (cachedSet === undefined || setDigest(cachedSet) !== cachedDigest) {
    cachedSet = ReconSet.from(SET_RECS)
    cachedDigest = setDigest(cachedSet)
  }
  return cachedSet
}

function setDigest (s: ReconSet): string {
  const fp = s.fingerprint(0, s.size)
  return `${s.size}/${fp.sum}`
}

export const aeFrameTarget: FuzzTarget<Uint8Array[]> = {
  name: 'ae-frame',
  kind: 'decoder',
  covers: 'src/antientropy/session.ts: decodeFrame + ReconSession.receiveBytes (validate, answer)',
  arbitrary: () => {
    const one = fc.oneof(
      { weight: 60, arbitrary: hostileBytes(aeFrameMsg(), encodeAeFrame) },
      { weight: 1, arbitrary: fc.nat({ max: 4 }).map((i) => overLimitFrames()[i]!) }
    )
    // 1..3 frames into one session; a replay of an earlier frame is likely
    return fc.tuple(fc.array(one, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 2 }))
      .map(([fs, re]) => [...fs, ...re.map((k) => fs[k % fs.length]!)])
  },
  check: (frames) => {
    const set = baseSet()
    const s = new ReconSession('responder', set)
    for (const bytes of frames) {
      const before = setDigest(set)
      let step
      try { step = s.receiveBytes(bytes) } catch (e) { fail(`receiveBytes threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack ?? ''}`); return }
      if (step.error != null) {
        if (step.error.startsWith('internal error')) fail(`session hit an internal error on a peer's frame: ${step.error}`)
        if (!step.done) fail('an error step must end the session')
        if (!step.error.startsWith('peer error') && !step.error.startsWith('session has ended') && setDigest(set) !== before) fail(`rejected frame changed the set: ${before} → ${setDigest(set)}`)
      }
      for (const r of step.learned) checkRecordBounds(r, 'receiveBytes')
      if (step.reply != null) {
        const out = encodeFrame(step.reply)
        if (out.length > AE_MAX_FRAME_BYTES) fail(`reply of ${out.length} bytes exceeds the frame limit`)
        if (step.reply.ranges.length > MAX_FRAME_RANGES || step.reply.want.length > MAX_WANTS_PER_FRAME || step.reply.records.length > MAX_RECORDS_PER_FRAME) fail('reply exceeds a per-frame count limit')
      }
      if (step.done) break
    }
  }
}

/** decodeFrame alone, with its size bound */
export const aeDecodeTarget: FuzzTarget<Uint8Array> = {
  name: 'ae-decode',
  kind: 'decoder',
  covers: 'src/antientropy/session.ts: decodeFrame (also what aeService hands inspect())',
  arbitrary: () => hostileBytes(aeFrameMsg(), encodeAeFrame),
  check: (bytes) => {
    let f: AeFrame
    try { f = decodeFrame(bytes) } catch (e) { expectThrownKind(e, [AeFrameError], 'decodeFrame'); return }
    for (const e of f.floor) if (!Number.isInteger(e.vid) || e.vid < 0 || e.vid > 0xffffffff) fail(`floor vid ${e.vid} is not a uint32`)
  }
}
