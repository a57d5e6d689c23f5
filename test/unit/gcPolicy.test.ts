// The GC rules as pure functions: acks come only from reconciliation with every member,
// the horizon is the slowest member's ack and never moves back, the floor subsumes records.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { computeAck, computeHorizon, coveredByFloor } from '../../src/tombstones/gcRules.js'
import type { DeleteRec } from '../../src/tombstones/record.js'

describe('GC policy', () => {
  it('ack is the oldest peer snapshot, 0 while any member was never reconciled, now when alone', () => {
    const synced = new Map([['b', 50n], ['c', 30n]])
    expect(computeAck('a', ['a', 'b', 'c'], synced, 100n)).toBe(30n)
    expect(computeAck('a', ['a', 'b', 'c', 'd'], synced, 100n)).toBe(0n)
    expect(computeAck('a', ['a'], synced, 100n)).toBe(100n)
    expect(computeAck('a', ['a', 'b'], new Map([['b', 500n]]), 100n)).toBe(100n)
  })

  it('horizon = min ack over members, monotone, unknown acks hold it back', () => {
    fc.assert(fc.property(
      fc.array(fc.bigInt({ min: 0n, max: 1000n }), { minLength: 1, maxLength: 8 }),
      fc.bigInt({ min: 0n, max: 1000n }),
      fc.boolean(),
      (ackList, previous, dropOne) => {
        const members = ackList.map((_, i) => `m${i}`)
        const acks = new Map(members.map((m, i) => [m, ackList[i]]))
        if (dropOne) acks.delete(members[0])
        const h = computeHorizon(members, acks, previous)
        const min = members.reduce((lo, m) => { const a = acks.get(m) ?? 0n; return a < lo ? a : lo }, 1n << 64n)
        expect(h).toBe(min > previous ? min : previous)
        expect(h >= previous).toBe(true)
        if (dropOne) expect(h).toBe(previous)
      }))
  })

  it('the floor covers records of its generation and older only', () => {
    const rec = (generation: number): DeleteRec => ({ kind: 'vdi', origin: 'o', seq: 1n, hlc: 5n, vid: 7, generation })
    expect(coveredByFloor(rec(1), 1)).toBe(true)
    expect(coveredByFloor(rec(1), 2)).toBe(true)
    expect(coveredByFloor(rec(2), 1)).toBe(false)
    expect(coveredByFloor(rec(1), undefined)).toBe(false)
  })
})
