// Per-session resource bounds of an anti-entropy session (src/antientropy/session.ts, limits
// in src/antientropy/constants.ts): records learned per session, hashes queued to ask for,
// work queued for the peer. A frame that would cross one ends the session as the peer's
// fault (`rejected`, counted as ae-frame by the service), learning nothing of that frame.
import { describe, expect, it } from 'vitest'
import { create } from '@bufbuild/protobuf'
import { AeFrameSchema, AeMode, type AeFrame } from '../../src/wire/bellwether_pb.js'
import { recordHash } from '../../src/tombstones/record.js'
import { toWire } from '../../src/tombstones/recordWire.js'
import { MAX_KEY, ReconSet } from '../../src/antientropy/reconSet.js'
import { ReconSession } from '../../src/antientropy/session.js'
import { MAX_PENDING_PUSH_IDS, MAX_PENDING_WANTS, MAX_RECORDS_PER_SESSION } from '../../src/antientropy/constants.js'
import { makeRecords } from '../../src/antientropy/simulate.js'

const idList = (ids: bigint[]): AeFrame['ranges'] =>
  [{ upper: { hlc: MAX_KEY.hlc, hash: MAX_KEY.hash }, mode: AeMode.ID_LIST, ids }] as AeFrame['ranges']

describe('ReconSession per-session bounds', () => {
  it('the defaults are the documented constants', () => {
    expect(MAX_RECORDS_PER_SESSION).toBe(1 << 20)
    expect(MAX_PENDING_WANTS).toBe(1 << 18)
    expect(MAX_PENDING_PUSH_IDS).toBe(1 << 20)
  })

  it('learns at most maxRecordsPerSession records; the frame that would pass it is refused whole', () => {
    const recs = makeRecords(30, 4)
    const set = new ReconSet()
    const s = new ReconSession('responder', set, { maxRecordsPerSession: 25 })
    const first = s.receive(create(AeFrameSchema, { records: recs.slice(0, 20).map(toWire) }))
    expect(first.error).toBeUndefined()
    expect(set.size).toBe(20)
    // resending the same 20 teaches nothing and is fine
    expect(s.receive(create(AeFrameSchema, { records: recs.slice(0, 20).map(toWire) })).error).toBeUndefined()
    const over = s.receive(create(AeFrameSchema, { records: recs.slice(20, 30).map(toWire) }))
    expect(over).toMatchObject({ done: true, rejected: true })
    expect(over.error).toMatch(/more than 25 records/)
    expect(set.size).toBe(20)
    expect(recs.slice(20).some((r) => set.has(recordHash(r)))).toBe(false)
  })

  it('queues at most maxPendingWants hashes to ask for', () => {
    const s = new ReconSession('responder', new ReconSet(), { maxPendingWants: 100 })
    const ids = Array.from({ length: 60 }, (_, i) => BigInt(i + 1))
    // 60 unknown ids: wanted; the first reply asks for all of them, so the queue is empty again
    const ok = s.receive(create(AeFrameSchema, { ranges: idList(ids) }))
    expect(ok.error).toBeUndefined()
    expect(ok.reply?.want.length).toBe(60)
    const s2 = new ReconSession('responder', new ReconSet(), { maxPendingWants: 50 })
    const over = s2.receive(create(AeFrameSchema, { ranges: idList(ids) }))
    expect(over).toMatchObject({ done: true, rejected: true })
    expect(over.error).toMatch(/more than 50 wanted ids/)
  })

  it('queues at most maxPendingPushes ids and ranges for the peer', () => {
    const set = ReconSet.from(makeRecords(10, 5))
    const s = new ReconSession('responder', set, { maxPendingPushes: 1000, maxRecordsPerFrame: 1 })
    // the peer asks for ids we do not hold: nothing to send, but the asks are queued work
    const want = (from: number): bigint[] => Array.from({ length: 600 }, (_, i) => BigInt(from + i))
    expect(s.receive(create(AeFrameSchema, { want: want(1) })).error).toBeUndefined()
    // answered within the frame (unknown ids are skipped): the queue is empty again
    expect(s.receive(create(AeFrameSchema, { want: want(1000) })).error).toBeUndefined()
    const big = new ReconSession('responder', set, { maxPendingPushes: 500 })
    const over = big.receive(create(AeFrameSchema, { want: want(1) }))
    expect(over).toMatchObject({ done: true, rejected: true })
    expect(over.error).toMatch(/more than 500 ids and ranges to push/)
  })

  it('a record out of range (vid above 0xFFFFFF) refuses the frame as the peer\'s fault', () => {
    const set = new ReconSet()
    const s = new ReconSession('responder', set)
    const [good, bad] = makeRecords(2, 6).map(toWire)
    bad!.vid = 0x1000000
    const step = s.receive(create(AeFrameSchema, { records: [good!, bad!] }))
    expect(step).toMatchObject({ done: true, rejected: true })
    expect(step.error).toMatch(/vid 16777216 out of range/)
    expect(set.size).toBe(0)
  })

  it('a peer-reported error is not counted as a rejection of the peer', () => {
    const s = new ReconSession('responder', new ReconSet())
    const step = s.receive(create(AeFrameSchema, { error: 'disk full', done: true }))
    expect(step.rejected).toBeUndefined()
  })
})
