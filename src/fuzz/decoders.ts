// Fuzz targets for every decoder of untrusted bytes: each either returns a value within its
// documented bounds or rejects with its own typed error — never a TypeError/RangeError from
// deep inside, never a value out of bounds. Pure and cheap, so a full run feeds each ≥ 10^6.
// The delete-record decoders are in deleteDecoders.ts; this file has the node, network and
// admin API inputs, and the list of every decoder target.
import fc from 'fast-check'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import * as lp from 'it-length-prefixed'
import { MAX_FRAME_BYTES as AE_MAX_FRAME_BYTES } from '../antientropy/constants.js'
import { ObjResponseSchema, HeartbeatSchema } from '../wire/bellwether_pb.js'
import { InvalidHeartbeatError, MembershipView } from '../membership/view.js'
import { parseEpoch } from '../node/epochFile.js'
import { MAX_FRAME_BYTES } from '../net/constants.js'
import { HttpError, readJson } from '../api/http.js'
import { MAX_VID } from '../oid.js'
import { VdiError, decodeInode, type Inode } from '../vdi/inode.js'
import { big, expectThrownKind, fail, type FuzzTarget } from './target.js'
import { U64_MAX, encodeHeartbeat, heartbeatMsg, hostileBytes, rawField, str, u64 } from './hostile.js'
import { aeDecodeTarget, aeFrameTarget, deleteBatchTarget, deleteRecordTarget, deltaVarintTarget, logFramesTarget } from './deleteDecoders.js'

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
