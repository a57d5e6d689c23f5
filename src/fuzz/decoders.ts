// Fuzz targets for every decoder of untrusted bytes: each either returns a value within its
// documented bounds or rejects with its own typed error — never a TypeError/RangeError from
// deep inside, never a value out of bounds. Pure and cheap, so a full run feeds each ≥ 10^6.
import fc from 'fast-check'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import * as lp from 'it-length-prefixed'
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
import { AeFrameSchema, DeleteBatchSchema, DeleteRecordSchema, DeleteKind, ObjResponseSchema, AeMode, type AeFrame } from '../wire/bellwether_pb.js'
import { InvalidHeartbeatError, MembershipView } from '../membership/view.js'
import { HeartbeatSchema } from '../wire/bellwether_pb.js'
import { parseEpoch } from '../node/epochFile.js'
import { MAX_FRAME_BYTES } from '../net/constants.js'
import { HttpError, readJson } from '../api/http.js'
import { MAX_VID } from '../oid.js'
import { VdiError, decodeInode, type Inode } from '../vdi/inode.js'
import { FuzzViolation, expectThrownKind, type FuzzTarget } from './target.js'
import {
  EDGE_U32, U64_MAX, aeFrameMsg, applyMutation, deleteRecordMsg, encodeAeFrame, encodeHeartbeat, encodeRecordMsg,
  heartbeatMsg, hostileBytes, rawField, recordList, sortedIndexes, str, u64
} from './hostile.js'

const fail = (msg: string): never => { throw new FuzzViolation(msg) }

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

function big (_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v instanceof Uint32Array ? Array.from(v) : v
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

// ---- a membership heartbeat into the view (src/membership/view.ts) ----

interface ViewSnap { epoch: bigint, maxSeen: bigint, members: string, known: string }
const snapView = (v: MembershipView): ViewSnap => ({
  epoch: v.epoch, maxSeen: v.maxEpochSeen, members: JSON.stringify(v.members(), big), known: JSON.stringify(v.known(), big)
})

export const heartbeatTarget: FuzzTarget<{ initial: bigint, beats: Uint8Array[] }> = {
  name: 'heartbeat',
  kind: 'decoder',
  covers: 'HeartbeatSchema decode (src/membership/membership.ts) + src/membership/view.ts: MembershipView.onHeartbeat',
  arbitrary: () => fc.record({
    initial: u64(),
    beats: fc.tuple(fc.array(hostileBytes(heartbeatMsg(), encodeHeartbeat), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 2 }))
      .map(([bs, re]) => [...bs, ...re.map((k) => bs[k % bs.length]!)])
  }),
  check: ({ initial, beats }) => {
    let view: MembershipView
    // the initial epoch is this node's own epoch file, not peer input: a bound there is not a finding
    try { view = new MembershipView({ peerId: 'self-peer', addrs: [], zone: 0, api: 'http://127.0.0.1:1', incarnation: 1n }, { failAfterMs: 5000 }, initial) } catch { return }
    let now = 1000
    for (const bytes of beats) {
      let hb
      try { hb = fromBinary(HeartbeatSchema, bytes) } catch { continue } // the topic validator rejects it: never reaches the view
      const before = snapView(view)
      try {
        view.onHeartbeat({ peerId: hb.peerId, addrs: hb.addrs, zone: hb.zone, api: hb.api, incarnation: hb.incarnation, epoch: hb.epoch, membersHash: hb.membersHash, leaving: hb.leaving }, now)
      } catch (e) {
        expectThrownKind(e, [InvalidHeartbeatError], 'onHeartbeat')
        const after = snapView(view)
        if (JSON.stringify(after, big) !== JSON.stringify(before, big)) fail(`a rejected heartbeat changed the view: ${JSON.stringify(before, big)} → ${JSON.stringify(after, big)}`)
        continue
      }
      if (view.epoch > U64_MAX || view.maxEpochSeen > U64_MAX) fail(`epoch left uint64: epoch ${view.epoch}, max seen ${view.maxEpochSeen} (heartbeat epoch ${hb.epoch})`)
      if (view.epoch < before.epoch) fail(`epoch went down: ${before.epoch} → ${view.epoch}`)
      now += 1500
      view.tick(now)
      if (view.epoch > U64_MAX) fail(`epoch left uint64 on tick: ${view.epoch}`)
    }
  }
}

// ---- object protocol responses, read by the client side (recovery, reads) ----

export const objResponseTarget: FuzzTarget<Uint8Array> = {
  name: 'obj-response',
  kind: 'decoder',
  covers: 'ObjResponseSchema decode (src/net/objectService.ts client side)',
  arbitrary: () => hostileBytes(fc.record({ status: fc.integer({ min: 0, max: 7 }), oid: u64(), version: u64(), generation: fc.nat(), oids: fc.array(u64(), { maxLength: 5 }), versions: fc.array(u64(), { maxLength: 5 }), data: fc.uint8Array({ maxLength: 16 }), done: fc.boolean(), error: str() }),
    (r) => toBinary(ObjResponseSchema, create(ObjResponseSchema, r))),
  check: (bytes) => {
    let r
    // protobuf-es rejects with Error, or RangeError('premature EOF') for a cut-off message; the
    // client treats any throw as a failed call
    try { r = fromBinary(ObjResponseSchema, bytes) } catch (e) { if (!(e instanceof Error)) fail(`threw a non-Error ${String(e)}`); return }
    for (const v of [r.oid, r.version, r.hlc, ...r.oids, ...r.versions]) if (v < 0n || v > U64_MAX) fail(`u64 field out of range: ${v}`)
    for (const v of [r.generation, r.checksum, r.length, r.purged, ...r.generations]) if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(`u32 field out of range: ${v}`)
  }
}

// ---- length-prefixed stream framing (src/net/framing.ts, src/net/aeService.ts) ----

const LP_ERRORS = new Set(['InvalidMessageLengthError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'UnexpectedEOFError'])

export const lengthPrefixTarget: FuzzTarget<{ chunks: Uint8Array[], max: number }> = {
  name: 'length-prefix',
  kind: 'decoder',
  covers: 'it-length-prefixed decode with maxDataLength, as src/net/framing.ts and aeService.ts use it',
  arbitrary: () => fc.record({
    chunks: fc.array(fc.oneof(
      rawField().map((f) => f.subarray(1)), // a varint length (often huge) and a few bytes
      fc.uint8Array({ maxLength: 24 }),
      fc.constantFrom(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), Uint8Array.from([0x81, 0x80, 0x40]))
    ), { maxLength: 6 }),
    max: fc.constantFrom(MAX_FRAME_BYTES, AE_MAX_FRAME_BYTES, 16)
  }),
  check: ({ chunks, max }) => {
    const total = chunks.reduce((s, c) => s + c.length, 0)
    let got = 0
    try {
      for (const f of lp.decode(chunks, { maxDataLength: max })) {
        if (f.byteLength > max) fail(`frame of ${f.byteLength} bytes passed maxDataLength ${max}`)
        got += f.byteLength
      }
    } catch (e) {
      const name = (e as Error)?.name
      if (!LP_ERRORS.has(name)) fail(`length-prefixed decode threw ${name}: ${(e as Error)?.message}`)
      return
    }
    // frames are views of the input: nothing is allocated for a length the input does not hold
    if (got > total) fail(`decoded ${got} bytes from ${total} input bytes`)
  }
}

// ---- small node files and admin API input ----

export const epochFileTarget: FuzzTarget<string> = {
  name: 'epoch-file',
  kind: 'decoder',
  covers: 'src/node/epochFile.ts: parseEpoch',
  arbitrary: () => fc.oneof(
    u64().map((v) => `${v}\n`),
    fc.tuple(u64(), fc.constantFrom('', ' ', '0', '\n\n', 'x', '00000000000000000000')).map(([v, s]) => `${s}${v}${s}`),
    fc.constantFrom('18446744073709551616', '-1', '1e3', '0x10', ''),
    fc.string({ maxLength: 30 })
  ),
  check: (text) => {
    const v = parseEpoch(text)
    if (v === undefined) return
    if (v < 0n || v > U64_MAX) fail(`epoch ${v} out of uint64`)
  }
}

/** an IncomingMessage as readJson reads it: headers and an async iterable of chunks */
function fakeRequest (body: Uint8Array, contentType: string | undefined, declared: string | undefined): any {
  const headers: Record<string, string> = {}
  if (contentType !== undefined) headers['content-type'] = contentType
  if (declared !== undefined) headers['content-length'] = declared
  return { headers, async * [Symbol.asyncIterator] () { for (let i = 0; i < body.length; i += 7) yield Buffer.from(body.subarray(i, i + 7)) } }
}

export const adminJsonTarget: FuzzTarget<{ body: Uint8Array, type?: string, declared?: string }> = {
  name: 'admin-json',
  kind: 'decoder',
  async: true,
  covers: 'src/api/http.ts: readJson (admin API request bodies)',
  arbitrary: () => fc.record({
    body: fc.oneof(
      fc.json({ maxDepth: 3 }).map((s) => new TextEncoder().encode(s)),
      fc.constantFrom('{"name":"a","size":1}', '[]', 'null', '"x"', '{"a":1e999}', '{"__proto__":{"x":1}}', '{').map((s) => new TextEncoder().encode(s)),
      fc.uint8Array({ maxLength: 40 })
    ),
    type: fc.option(fc.constantFrom('application/json', 'Application/JSON; charset=utf-8', 'text/plain', '', 'application/json;;;'), { nil: undefined }),
    declared: fc.option(fc.constantFrom('0', '5', '99999999999999999999', '-1', 'abc', String(2 ** 53)), { nil: undefined })
  }),
  check: async ({ body, type, declared }) => {
    let v: Record<string, unknown>
    try { v = await readJson(fakeRequest(body, type, declared), 1024) } catch (e) {
      expectThrownKind(e, [HttpError], 'readJson')
      if (![400, 413, 415].includes((e as HttpError).status)) fail(`readJson rejected with status ${(e as HttpError).status}`)
      return
    }
    if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(`readJson returned ${JSON.stringify(v)}`)
  }
}

// ---- VDI inode objects: stored content a peer can write (src/vdi/inode.ts) ----

const inodeJsonText = (): fc.Arbitrary<string> => fc.record({
  name: fc.oneof(fc.constantFrom('disk', 'a/b', '', 'x'.repeat(300)), str(20), fc.integer(), fc.constant(null)),
  vid: fc.oneof(fc.integer({ min: 0, max: MAX_VID + 1 }), fc.constantFrom(-1, 1.5, '5', null)),
  size: fc.oneof(fc.constantFrom(1, 4096, 2 ** 53, 2 ** 53 + 2, -1, 0, 1e300, '5'), fc.nat()),
  copies: fc.oneof(fc.integer({ min: -1, max: 20 }), fc.constantFrom(1.5, null)),
  objectSize: fc.constantFrom(1024, 4096, 4 * 1024 * 1024, 1000, 0, 2 ** 40),
  generation: fc.oneof(fc.nat(), fc.constantFrom(0, -1, 2 ** 32, 2 ** 53, 1.5, null)),
  created: fc.oneof(u64().map((v) => v.toString(16)), fc.constantFrom('zz', '', '-1', '0x10', 'f'.repeat(40), '1e3', ' 1'), fc.integer(), fc.constant(null), fc.constant({}))
}).map((j) => JSON.stringify(j))

export const inodeTarget: FuzzTarget<Uint8Array> = {
  name: 'inode',
  kind: 'decoder',
  covers: 'src/vdi/inode.ts: decodeInode (inode objects are replicated content a peer can PUT)',
  arbitrary: () => fc.oneof(
    { weight: 6, arbitrary: inodeJsonText().map((t) => new TextEncoder().encode(t)) },
    { weight: 2, arbitrary: fc.tuple(inodeJsonText(), fc.array(fc.record({ at: fc.nat(), byte: fc.nat({ max: 255 }) }), { maxLength: 2 })).map(([t, ms]) => { const b = new TextEncoder().encode(t); for (const m of ms) if (b.length > 0) b[m.at % b.length] = m.byte; return b }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) }
  ),
  check: (bytes) => {
    let ino: Inode
    try { ino = decodeInode(bytes, 4 * 1024 * 1024) } catch (e) { expectThrownKind(e, [VdiError], 'decodeInode'); return }
    if (ino.vid < 1 || ino.vid > MAX_VID) fail(`vid ${ino.vid}`)
    if (typeof ino.created !== 'bigint' || ino.created < 0n || ino.created > U64_MAX) fail(`created ${String(ino.created)} is not a uint64`)
    if (!Number.isInteger(ino.generation) || ino.generation < 1 || ino.generation > 0xffffffff) fail(`generation ${ino.generation} is not a uint32 ≥ 1`)
  }
}

export const decoderTargets: Array<FuzzTarget<any, any>> = [
  deltaVarintTarget, deleteRecordTarget, deleteBatchTarget, logFramesTarget, aeDecodeTarget, aeFrameTarget,
  heartbeatTarget, objResponseTarget, lengthPrefixTarget, epochFileTarget, adminJsonTarget, inodeTarget
]
