// Hostile inputs for the fuzz targets (src/fuzz/targets.ts): fast-check arbitraries of edge
// numbers, of valid wire messages built from them, and of byte mutations (truncation, bit
// flips, raw fields with huge length prefixes or over-wide varints, duplicated and replayed
// slices) applied to those encodings. Only scripts/fuzz.js and the CI pass load this module,
// which is why it may import fast-check (a devDependency).
import fc from 'fast-check'
import { create, toBinary } from '@bufbuild/protobuf'
import {
  AeFrameSchema, AeMode, DeleteRecordSchema, FloorEntrySchema, HeartbeatSchema, LogSummarySchema,
  ObjRequestSchema, type AeFrame, type DeleteRecord, type Heartbeat, type ObjRequest
} from '../wire/bellwether_pb.js'
import { encodeIndexes } from '../codec/deltaVarint.js'
import { varintBytes } from '../codec/varint.js'

export const U64_MAX = (1n << 64n) - 1n

/** uint64 values where bugs live: word and float boundaries, and the top of the range */
export const EDGE_U64: readonly bigint[] = [
  0n, 1n, 2n, 0x7fn, 0x80n, 0xffffffn, 0x1000000n, (1n << 31n) - 1n, 1n << 31n, (1n << 32n) - 1n, 1n << 32n,
  (1n << 40n), (1n << 40n) + 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) - 1n, 1n << 63n,
  U64_MAX - 1n, U64_MAX
]

/** uint32 values where bugs live (vid's 24-bit limit included) */
export const EDGE_U32: readonly number[] = [
  0, 1, 2, 0x7f, 0x80, 0xfffe, 0xffff, 0x10000, 0xfffffe, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff
]

export const u64 = (): fc.Arbitrary<bigint> => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_U64) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 1n << 20n }) }
)

export const u32 = (): fc.Arbitrary<number> => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_U32) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
  { weight: 1, arbitrary: fc.nat({ max: 64 }) }
)

/** short, empty, over-long, non-ASCII and lone-surrogate strings */
export const str = (maxLength = 24): fc.Arbitrary<string> => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', 'node-a', 'node-b', '12D3KooWPeer', 'self-peer') },
  { weight: 2, arbitrary: fc.string({ maxLength }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(129), 'é'.repeat(65), '\u0000', '\ud800') }
)

/** sorted, unique index lists (valid delta-varint payloads) */
export const sortedIndexes = (maxLength = 40): fc.Arbitrary<Uint32Array> =>
  fc.uniqueArray(u32(), { maxLength }).map((a) => Uint32Array.from(a.sort((x, y) => x - y)))

export const enumValue = (max: number): fc.Arbitrary<number> => fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max }) },
  { weight: 1, arbitrary: fc.constantFrom(max + 1, 0x7fffffff, -1) }
)

// ---- valid wire messages with hostile field values ----

export const deleteRecordMsg = (): fc.Arbitrary<DeleteRecord> => fc.record({
  origin: str(),
  seq: u64(),
  hlc: u64(),
  kind: enumValue(2),
  vid: u32(),
  generation: u32(),
  indexes: sortedIndexes(),
  countDelta: fc.constantFrom(0, 0, 0, 1, -1, 0x7fffffff),
  raw: fc.option(fc.uint8Array({ maxLength: 32 }), { freq: 4 })
}).map((r) => {
  const enc = r.raw ?? encodeIndexes(r.indexes)
  const count = Math.max(0, Math.min(0xffffffff, r.indexes.length + r.countDelta))
  // a vdi record (kind 1) with no ids is the common valid shape
  const indexes = r.kind === 1 && r.countDelta === 0 && r.raw == null ? new Uint8Array(0) : enc
  return create(DeleteRecordSchema, {
    origin: r.origin,
    seq: r.seq,
    hlc: r.hlc,
    kind: r.kind,
    vid: r.vid,
    generation: r.generation,
    indexes,
    count: r.kind === 1 && indexes.length === 0 ? 0 : count
  })
})

/** 1..n records, with duplicates of the same record (replays inside one message) likely */
export const recordList = (maxLength: number): fc.Arbitrary<DeleteRecord[]> =>
  fc.tuple(fc.array(deleteRecordMsg(), { minLength: 1, maxLength }), fc.array(fc.nat(), { maxLength: 3 }))
    .map(([recs, dups]) => [...recs, ...dups.map((d) => recs[d % recs.length]!)])

const logSummary = () => fc.record({
  count: u64(), fingerprint: u64(), maxHlc: u64(), ack: u64(), gcHorizon: u64(), now: u64(), floorHash: u64()
}).map((s) => create(LogSummarySchema, s))

export const aeFrameMsg = (): fc.Arbitrary<AeFrame> => fc.record({
  ranges: fc.array(fc.record({
    hlc: u64(), hash: u64(), mode: enumValue(2), count: u64(), fingerprint: fc.constantFrom(0n, 0n, 1n, U64_MAX), ids: fc.array(u64(), { maxLength: 6 }), noUpper: fc.boolean()
  }), { maxLength: 8 }),
  sortedBounds: fc.boolean(),
  closeAtMax: fc.boolean(),
  records: fc.option(recordList(6), { nil: [] as DeleteRecord[] }),
  want: fc.array(u64(), { maxLength: 8 }),
  sortWant: fc.boolean(),
  done: fc.boolean(),
  summary: fc.option(logSummary(), { nil: undefined }),
  floorHash: u64(),
  floor: fc.array(fc.record({ vid: u32(), generation: u32() }), { maxLength: 4 }),
  reset: fc.boolean(),
  error: fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: str(300) })
}).map((f) => {
  // mostly well-ordered bounds ending at the top, so frames get past the shape checks
  let ranges = f.ranges
  if (f.sortedBounds) ranges = [...ranges].sort((a, b) => a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0)
  if (f.closeAtMax && ranges.length > 0) ranges = [...ranges.slice(0, -1), { ...ranges[ranges.length - 1]!, hlc: U64_MAX, hash: U64_MAX, noUpper: false }]
  const want = f.sortWant ? [...new Set(f.want)].sort((a, b) => a < b ? -1 : a > b ? 1 : 0) : f.want
  return create(AeFrameSchema, {
    ranges: ranges.map((r) => ({
      upper: r.noUpper ? undefined : { hlc: r.hlc, hash: r.hash },
      mode: r.mode,
      count: r.mode === AeMode.SKIP ? 0n : r.count,
      fingerprint: r.mode === AeMode.FINGERPRINT ? r.fingerprint : 0n,
      ids: r.mode === AeMode.ID_LIST ? [...new Set(r.ids)].sort((a, b) => a < b ? -1 : a > b ? 1 : 0) : []
    })),
    records: f.records,
    want,
    done: f.done,
    summary: f.summary,
    floorHash: f.floorHash,
    floor: f.floor.map((e) => create(FloorEntrySchema, e)),
    reset: f.reset,
    error: f.error
  })
})

export const heartbeatMsg = (peerIds: readonly string[] = ['node-a', 'node-b', 'self-peer']): fc.Arbitrary<Heartbeat> => fc.record({
  peerId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...peerIds) }, { weight: 1, arbitrary: str(300) }),
  addrs: fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.constantFrom('/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.2/tcp/1', '/dns4/x/tcp/0'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(str(40), { maxLength: 20 }) }
  ),
  zone: u32(),
  api: str(40),
  epoch: u64(),
  membersHash: u64(),
  memberCount: u32(),
  objects: u64(),
  log: fc.option(logSummary(), { nil: undefined }),
  leaving: fc.boolean(),
  // mostly plausible clocks, so heartbeats get past a drift check to the view
  hlc: fc.oneof({ weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 1n << 40n }) }, { weight: 1, arbitrary: u64() }),
  busy: fc.boolean(),
  incarnation: u64()
}).map((h) => create(HeartbeatSchema, h))

/** oids: valid data/inode ids, reserved-bit garbage and the edges */
export const oid = (): fc.Arbitrary<bigint> => fc.oneof(
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.nat({ max: 8 })).map(([vid, i]) => (BigInt(vid) << 32n) | BigInt(i)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((vid) => (1n << 63n) | (BigInt(vid) << 32n)) },
  { weight: 1, arbitrary: u64() }
)

export const objRequestMsg = (): fc.Arbitrary<ObjRequest> => fc.record({
  // 0 skips the clock merge; most random HLCs are refused as drift, so keep 0 common
  hlc: fc.oneof({ weight: 3, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: u64() }),
  op: fc.oneof(
    { weight: 4, arbitrary: fc.record({ oid: oid(), generation: fc.oneof(fc.nat({ max: 6 }), u32()), version: u64(), data: fc.uint8Array({ maxLength: 64 }), createOnly: fc.boolean() }).map((value) => ({ case: 'put' as const, value })) },
    { weight: 1, arbitrary: fc.record({ oid: oid(), headerOnly: fc.boolean() }).map((value) => ({ case: 'get' as const, value })) },
    { weight: 1, arbitrary: fc.record({ hasVid: fc.boolean(), vid: u32(), inodesOnly: fc.boolean(), withVersions: fc.boolean() }).map((value) => ({ case: 'list' as const, value })) },
    { weight: 1, arbitrary: fc.record({ oids: fc.array(oid(), { maxLength: 6 }), generations: fc.array(u32(), { maxLength: 6 }), versions: fc.array(u64(), { maxLength: 6 }) }).map((value) => ({ case: 'purge' as const, value })) },
    { weight: 1, arbitrary: fc.constant({ case: undefined, value: undefined }) }
  )
}).map((r) => create(ObjRequestSchema, r as Parameters<typeof create<typeof ObjRequestSchema>>[1]))

// ---- byte mutations ----

/** a raw protobuf field appended or inserted as is: wrong wire types, over-wide varints, length prefixes far past the end */
export const rawField = (): fc.Arbitrary<Uint8Array> => fc.record({
  field: fc.oneof(fc.integer({ min: 1, max: 14 }), fc.constantFrom(0, 15, 16, 536870911)),
  wire: fc.integer({ min: 0, max: 7 }),
  value: u64(),
  tail: fc.uint8Array({ maxLength: 8 }),
  overlong: fc.boolean()
}).map((f) => {
  const tag = varintBytes((BigInt(f.field) << 3n) | BigInt(f.wire))
  let payload: number[]
  if (f.wire === 0) payload = f.overlong ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f] : varintBytes(f.value)
  else if (f.wire === 1) payload = Array.from({ length: 8 }, (_, k) => Number((f.value >> BigInt(8 * k)) & 0xffn))
  else if (f.wire === 5) payload = [0xff, 0xff, 0xff, 0xff]
  // length-delimited: a length prefix claiming up to 2^64-1 bytes with a few bytes behind it
  else if (f.wire === 2) payload = [...varintBytes(f.value), ...f.tail]
  else payload = [...f.tail]
  return Uint8Array.from([...tag, ...payload])
})

type Mutation =
  | { op: 'truncate', at: number }
  | { op: 'flip', at: number, bit: number }
  | { op: 'set', at: number, byte: number }
  | { op: 'insert', at: number, bytes: Uint8Array }
  | { op: 'dupSlice', at: number, len: number }
  | { op: 'repeat', times: number }
  | { op: 'drop', at: number, len: number }
  | { op: 'widen', at: number }

const mutation = (): fc.Arbitrary<Mutation> => fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(rawField(), fc.uint8Array({ minLength: 1, maxLength: 8 })) }),
  fc.record({ op: fc.constant('dupSlice' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 4 }) }),
  fc.record({ op: fc.constant('drop' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('widen' as const), at: fc.nat() })
)

export function applyMutation (b: Uint8Array, m: Mutation): Uint8Array {
  const n = b.length
  const at = n === 0 ? 0 : m.op === 'repeat' ? 0 : (m as { at: number }).at % (n + 1)
  switch (m.op) {
    case 'truncate': return b.slice(0, at)
    case 'flip': { if (n === 0) return b; const c = b.slice(); c[at % n]! ^= 1 << m.bit; return c }
    case 'set': { if (n === 0) return b; const c = b.slice(); c[at % n] = m.byte; return c }
    case 'insert': return concat(b.subarray(0, at), m.bytes, b.subarray(at))
    case 'dupSlice': return concat(b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at))
    // a protobuf message concatenated with itself merges: every repeated field is duplicated
    case 'repeat': return concat(...Array.from({ length: m.times }, () => b))
    case 'drop': return concat(b.subarray(0, at), b.subarray(at + m.len))
    // the same number as a longer, non-minimal varint: b → (b | 0x80), 0x00
    case 'widen': { if (n === 0) return b; const k = at % n; return concat(b.subarray(0, k), Uint8Array.of(b[k]! | 0x80, 0), b.subarray(k + 1)) }
  }
}

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/**
 * Bytes for a decoder: a valid encoding of `msg` (often), the encoding mutated 1..3 times,
 * raw fields alone, or plain random bytes.
 */
export function hostileBytes<T> (msg: fc.Arbitrary<T>, encode: (m: T) => Uint8Array): fc.Arbitrary<Uint8Array> {
  const valid = msg.map(encode)
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 5, arbitrary: fc.tuple(valid, fc.array(mutation(), { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(applyMutation, b)) },
    { weight: 1, arbitrary: fc.array(rawField(), { minLength: 1, maxLength: 4 }).map((fs) => concat(...fs)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }) }
  )
}

export const encodeRecordMsg = (m: DeleteRecord): Uint8Array => toBinary(DeleteRecordSchema, m)
export const encodeAeFrame = (m: AeFrame): Uint8Array => toBinary(AeFrameSchema, m)
export const encodeHeartbeat = (m: Heartbeat): Uint8Array => toBinary(HeartbeatSchema, m)
export const encodeObjRequest = (m: ObjRequest): Uint8Array => toBinary(ObjRequestSchema, m)
