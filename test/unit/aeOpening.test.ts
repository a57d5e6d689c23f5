// The typed Opening of an anti-entropy session (the GC exchange: clock, ack, horizon, floor
// digest, reset, floor) and its one wire encoding on the first AeFrame (src/net/aeService.ts):
// what one side writes is what the other reads, and a frame without it reads as zeros.
import { describe, expect, it } from 'vitest'
import { create } from '@bufbuild/protobuf'
import { AeFrameSchema, LogSummarySchema } from '../../src/wire/bellwether_pb.js'
import { decodeFrame, encodeFrame } from '../../src/antientropy/session.js'
import { readOpening, writeOpening } from '../../src/net/aeService.js'
import type { Opening } from '../../src/tombstones/replicaTypes.js'

describe('Opening on the wire', () => {
  it('round-trips through a first frame, next to what the session put there', () => {
    const o: Opening = { now: 0x1234_5678_9abcn, ack: 77n, gcHorizon: 66n, floorHash: (1n << 64n) - 5n, reset: true, floor: [{ vid: 3, generation: 1 }, { vid: 9, generation: 4 }] }
    const frame = create(AeFrameSchema, {})
    writeOpening(frame, o)
    const back = decodeFrame(encodeFrame(frame))
    expect(readOpening(back)).toEqual(o)
  })

  it('keeps the summary the session wrote (count, fingerprint) and adds the GC fields to it', () => {
    const frame = create(AeFrameSchema, {})
    frame.summary = create(LogSummarySchema, { count: 5n, fingerprint: 42n, maxHlc: 9n })
    writeOpening(frame, { now: 1n, ack: 2n, gcHorizon: 3n, floorHash: 4n, reset: false, floor: [] })
    const back = decodeFrame(encodeFrame(frame))
    expect(back.summary).toMatchObject({ count: 5n, fingerprint: 42n, maxHlc: 9n, now: 1n, ack: 2n, gcHorizon: 3n, floorHash: 4n })
    expect(back.floor).toEqual([])
  })

  it('a frame that carries no opening reads as zeros, no reset, no floor', () => {
    expect(readOpening(decodeFrame(encodeFrame(create(AeFrameSchema, {}))))).toEqual({ now: 0n, ack: 0n, gcHorizon: 0n, floorHash: 0n, reset: false, floor: [] })
  })
})
