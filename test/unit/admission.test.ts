// The trust checks on delete records and floor entries from peers (src/node/admission.ts),
// each on its own with a fake node state, then the real node state (src/node/admissionState.ts)
// over a real delete log, floor, tombstone index and object store on a temp dir: what the
// bounds are measured against (highest seq held or folded, generation of a held inode).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RecordAdmission, generationLimit, type AdmissionState } from '../../src/node/admission.js'
import { nodeAdmissionState } from '../../src/node/admissionState.js'
import { GENERATION_SLACK, MAX_GENERATION_UNKNOWN_VID, SEQ_SLACK } from '../../src/tombstones/constants.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { DeleteLog } from '../../src/tombstones/deleteLog.js'
import { Floor } from '../../src/tombstones/floor.js'
import { TombstoneIndex } from '../../src/tombstones/tombstoneIndex.js'
import { ObjectStore } from '../../src/store/objectStore.js'
import { vidToDataOid, vidToVdiOid } from '../../src/oid.js'

const U64_MAX = (1n << 64n) - 1n
const U32_MAX = 0xffff_ffff

const rec = (over: Partial<DeleteRec> = {}): DeleteRec =>
  ({ kind: 'vdi', origin: 'alice', seq: 3n, hlc: 100n, vid: 7, generation: 1, ...over }) as DeleteRec

/** a node "me" with members alice and bob; alice's records seen up to seq 10, carol's folded up to 4; vid 7 known at generation 1 */
function state (over: Partial<AdmissionState> = {}): AdmissionState {
  return {
    self: 'me',
    isMember: (o) => ['me', 'alice', 'bob'].includes(o),
    highestSeq: (o) => ({ alice: 10n, carol: 4n, me: 5n } as Record<string, bigint>)[o] ?? 0n,
    holds: (o, s) => o === 'me' && s >= 1n && s <= 5n,
    coveredByFloor: () => false,
    knownGeneration: async (vid) => vid === 7 ? 1 : undefined,
    ...over
  }
}

describe('RecordAdmission: gossip (the whole message stands or falls)', () => {
  it('refuses a message with any record whose origin is not its signed author', async () => {
    const a = new RecordAdmission(state())
    expect(await a.checkGossip([rec(), rec({ seq: 4n })], 'alice')).toBeUndefined()
    const why = await a.checkGossip([rec(), rec({ seq: 4n, origin: 'bob' })], 'alice')
    expect(why?.kind).toBe('delete-origin')
    expect(why?.reason).toMatch(/names origin bob, not its signed author/)
    expect((await a.checkGossip([rec()], 'bob'))?.kind).toBe('delete-origin')
  })

  it('bounds the generation by what this node knows of the vid, plus GENERATION_SLACK', async () => {
    const a = new RecordAdmission(state())
    expect(GENERATION_SLACK).toBe(1)
    expect(await a.checkGossip([rec({ generation: 2 })], 'alice')).toBeUndefined()
    expect((await a.checkGossip([rec({ generation: 3 })], 'alice'))?.kind).toBe('delete-generation')
    expect((await a.checkGossip([rec({ generation: U32_MAX })], 'alice'))?.kind).toBe('delete-generation')
    // a vid it knows nothing of: up to MAX_GENERATION_UNKNOWN_VID
    expect(await a.checkGossip([rec({ vid: 8, generation: MAX_GENERATION_UNKNOWN_VID })], 'alice')).toBeUndefined()
    expect((await a.checkGossip([rec({ vid: 8, generation: MAX_GENERATION_UNKNOWN_VID + 1 })], 'alice'))?.kind).toBe('delete-generation')
  })

  it('bounds the seq by the highest of that origin held or folded, plus SEQ_SLACK', async () => {
    const a = new RecordAdmission(state())
    expect(await a.checkGossip([rec({ seq: 10n + SEQ_SLACK })], 'alice')).toBeUndefined()
    expect((await a.checkGossip([rec({ seq: 11n + SEQ_SLACK })], 'alice'))?.kind).toBe('delete-seq')
    expect((await a.checkGossip([rec({ seq: U64_MAX })], 'alice'))?.kind).toBe('delete-seq')
    // an origin never seen starts from 0
    expect(await a.checkGossip([rec({ origin: 'bob', seq: SEQ_SLACK })], 'bob')).toBeUndefined()
    expect((await a.checkGossip([rec({ origin: 'bob', seq: SEQ_SLACK + 1n })], 'bob'))?.kind).toBe('delete-seq')
  })

  it('lets through what the floor already stands for (the pipeline drops it, unapplied)', async () => {
    const a = new RecordAdmission(state({ coveredByFloor: (r) => r.vid === 9 }))
    expect(await a.checkGossip([rec({ vid: 9, generation: 5, seq: U64_MAX })], 'alice')).toBeUndefined()
  })

  it('looks each vid up once per message', async () => {
    let lookups = 0
    const a = new RecordAdmission(state({ knownGeneration: async () => { lookups++; return 1 } }))
    expect(await a.checkGossip([rec(), rec({ seq: 4n }), rec({ seq: 5n, vid: 9 })], 'alice')).toBeUndefined()
    expect(lookups).toBe(2)
  })
})

describe('RecordAdmission: relayed by anti-entropy (each record on its own)', () => {
  it('takes records of members and of origins it holds records of; refuses strangers', async () => {
    const a = new RecordAdmission(state())
    const r = await a.checkRelayed([rec(), rec({ origin: 'bob' }), rec({ origin: 'carol' }), rec({ origin: 'mallory' })])
    expect(r.accepted.map((x) => x.origin)).toEqual(['alice', 'bob', 'carol'])
    expect(r.refused).toEqual([expect.objectContaining({ kind: 'delete-unknown-origin' })])
  })

  it('never takes a record of its own origin that its log does not hold', async () => {
    const a = new RecordAdmission(state())
    const r = await a.checkRelayed([rec({ origin: 'me', seq: 5n }), rec({ origin: 'me', seq: 6n }), rec({ origin: 'me', seq: U64_MAX })])
    expect(r.accepted.map((x) => x.seq)).toEqual([5n])
    expect(r.refused.map((x) => x.kind)).toEqual(['delete-own-origin', 'delete-own-origin'])
  })

  it('refuses only the out-of-bound records of a frame, and takes the rest', async () => {
    const a = new RecordAdmission(state())
    const good = [rec({ seq: 4n }), rec({ seq: 5n, origin: 'bob', vid: 8, generation: 3 })]
    const r = await a.checkRelayed([good[0]!, rec({ seq: 6n, generation: U32_MAX }), good[1]!, rec({ seq: U64_MAX, origin: 'bob' })])
    expect(r.accepted).toEqual(good)
    expect(r.refused.map((x) => x.kind)).toEqual(['delete-generation', 'delete-seq'])
  })
})

describe('RecordAdmission: floor entries', () => {
  it('refuses the whole floor when an entry is malformed (vid above 0xFFFFFF, vid 0, generation not a u32)', async () => {
    const a = new RecordAdmission(state())
    for (const bad of [{ vid: 0x1000000, generation: 1 }, { vid: 0, generation: 1 }, { vid: 5, generation: 2 ** 32 }, { vid: 5, generation: -1 }]) {
      const r = await a.checkFloor([{ vid: 7, generation: 1 }, bad])
      expect(r.accepted).toEqual([])
      expect(r.malformed?.kind).toBe('floor-entry')
    }
  })

  it('refuses an entry beyond the generation bound on its own', async () => {
    const a = new RecordAdmission(state())
    const r = await a.checkFloor([{ vid: 7, generation: 2 }, { vid: 7, generation: 3 }, { vid: 8, generation: U32_MAX }, { vid: 9, generation: 40 }])
    expect(r.malformed).toBeUndefined()
    expect(r.accepted).toEqual([{ vid: 7, generation: 2 }, { vid: 9, generation: 40 }])
    expect(r.refused.map((x) => x.kind)).toEqual(['floor-generation', 'floor-generation'])
  })

  it('generationLimit: known + slack, or the unknown-vid cap', () => {
    expect(generationLimit(undefined)).toBe(MAX_GENERATION_UNKNOWN_VID)
    expect(generationLimit(0)).toBe(1)
    expect(generationLimit(41)).toBe(42)
  })
})

describe('nodeAdmissionState over real files', () => {
  let dir = ''
  let log: DeleteLog
  let floor: Floor
  let store: ObjectStore
  const index = new TombstoneIndex()
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-admit-'))
    log = new DeleteLog(join(dir, 'deletes.log'), { fsync: false })
    await log.open()
    floor = new Floor(join(dir, 'floor.json'), { fsync: false })
    await floor.open('me')
    store = new ObjectStore(join(dir, 'obj'), { fsync: false })
    await store.open()
  })
  afterEach(async () => {
    await log.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('measures seqs against the log and the floor, generations against floor, tombstones and a held object', async () => {
    const s = nodeAdmissionState({ self: 'me', members: () => ['me', 'alice'], connected: (p) => p === 'erin', log, floor, index, store })
    await log.append([rec({ seq: 7n }), rec({ origin: 'me', seq: 2n })])
    await floor.update((d) => { d.noteSeq('carol', 9n); d.noteSeq('alice', 3n); d.raise(20, 4) })
    expect(s.highestSeq('alice')).toBe(7n)
    expect(s.highestSeq('carol')).toBe(9n)
    expect(s.highestSeq('dave')).toBe(0n)
    expect(s.holds('me', 2n)).toBe(true)
    expect(s.holds('me', 3n)).toBe(false)
    expect(s.isMember('alice')).toBe(true)
    expect(s.isMember('carol')).toBe(false)
    expect(s.isMember('erin')).toBe(true)
    expect(await s.knownGeneration(20)).toBe(4)
    expect(s.coveredByFloor(rec({ vid: 20, generation: 4 }))).toBe(true)
    expect(s.coveredByFloor(rec({ vid: 20, generation: 5 }))).toBe(false)
    expect(await s.knownGeneration(30)).toBeUndefined()
    // a live VDI held here: its inode's generation
    await store.put(vidToVdiOid(30), new Uint8Array(8), { generation: 3, version: 1n })
    await store.put(vidToDataOid(31, 5), new Uint8Array(8), { generation: 2, version: 1n })
    expect(await s.knownGeneration(30)).toBe(3)
    expect(await s.knownGeneration(31)).toBe(2)
    index.apply(rec({ vid: 30, generation: 6 }))
    expect(await s.knownGeneration(30)).toBe(6)
    // a generation 2^32-1 record cannot pass against a live VDI at generation 3
    const a = new RecordAdmission(s)
    expect((await a.checkGossip([rec({ vid: 31, generation: U32_MAX, seq: 8n })], 'alice'))?.kind).toBe('delete-generation')
  })
})
