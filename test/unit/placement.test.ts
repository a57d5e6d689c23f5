// Tests for consistent-hash placement (src/placement.ts): determinism, zones, stability, balance.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DEFAULT_VNODES, Ring, oidPosition, ringHash, vnodePosition, type PlacementNode } from '../../src/placement.js'
import { fnv1a64, oidToBytesLE } from '../../src/oid.js'

// Peer-id-like strings that share a long prefix, as real libp2p ids do ("12D3KooW...").
function peerId (i: number): string {
  return `12D3KooWPeer${String(i).padStart(4, '0')}x${((i * 2654435761) >>> 0).toString(36)}`
}

function nodes (n: number, zoneOf: (i: number) => number = (i) => i): PlacementNode[] {
  return Array.from({ length: n }, (_, i) => ({ id: peerId(i), zone: zoneOf(i) }))
}

const OBJECTS = 100_000
// Data objects of a few VDIs, like a real cluster: (vid << 32) | index.
function oidAt (k: number): bigint {
  return (BigInt(0x1000 + (k % 7)) << 32n) | BigInt(Math.floor(k / 7))
}

const report = process.env['PLACEMENT_REPORT'] !== undefined ? console.log : () => {}

// Straightforward bigint transcription of Sheepdog's sd_hash: fnv_64a_64(h, h) after FNV-1a.
function sdHashRef (bytes: Uint8Array): bigint {
  const h = fnv1a64(bytes)
  let v = h
  for (let shift = 0n; shift < 64n; shift += 8n) {
    v ^= (h >> shift) & 0xffn
    v = (v * 0x100000001b3n) & ((1n << 64n) - 1n)
  }
  return v
}

describe('ring hash', () => {
  it('matches a bigint reference of sd_hash for oids and vnode names', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (oid) => {
      expect(oidPosition(oid)).toBe(sdHashRef(oidToBytesLE(oid)))
      expect(ringHash(oidToBytesLE(oid))).toBe(oidPosition(oid))
    }), { numRuns: 2000 })
    fc.assert(fc.property(fc.string(), fc.nat(1000), (id, i) => {
      expect(vnodePosition(id, i)).toBe(sdHashRef(new TextEncoder().encode(`${id}/${i}`)))
    }))
  })

  it('is not plain FNV-1a (which clusters vnodes)', () => {
    const b = oidToBytesLE(42n)
    expect(ringHash(b)).not.toBe(fnv1a64(b))
  })
})

describe('Ring basics', () => {
  it('sorts nodes by id and exposes them', () => {
    const ns = nodes(5)
    const r = new Ring([...ns].reverse())
    expect(r.nodes.map((n) => n.id)).toEqual(ns.map((n) => n.id).sort())
    expect(r.zoneCount()).toBe(5)
    expect(r.vnodesPerNode).toBe(DEFAULT_VNODES)
  })

  it('handles empty rings and zero copies', () => {
    expect(new Ring([]).pick(1n, 3)).toEqual([])
    expect(new Ring([]).zoneCount()).toBe(0)
    expect(new Ring(nodes(3)).pick(1n, 0)).toEqual([])
    expect(new Ring(nodes(1)).pick(1n, 3)).toEqual([peerId(0)])
  })

  it('rejects duplicate ids, bad zones and bad vnode counts', () => {
    expect(() => new Ring([{ id: 'a', zone: 0 }, { id: 'a', zone: 1 }])).toThrow(/duplicate/)
    expect(() => new Ring([{ id: 'a', zone: -1 }])).toThrow(/zone/)
    expect(() => new Ring([{ id: 'a', zone: 0.5 }])).toThrow(/zone/)
    expect(() => new Ring(nodes(2), 0)).toThrow(RangeError)
  })

  it('caps copies at the number of zones', () => {
    const r = new Ring(nodes(6, (i) => i % 2))
    expect(r.zoneCount()).toBe(2)
    for (let k = 0; k < 200; k++) {
      const p = r.pick(oidAt(k), 3)
      expect(p).toHaveLength(2)
      const zones = p.map((id) => r.nodes.find((n) => n.id === id)!.zone)
      expect(new Set(zones).size).toBe(2)
    }
  })

  it('is deterministic and independent of input order', () => {
    const ns = nodes(12, (i) => i % 4)
    const a = new Ring(ns)
    const b = new Ring([...ns].reverse())
    const c = new Ring([...ns.slice(5), ...ns.slice(0, 5)])
    for (let k = 0; k < 2000; k++) {
      const oid = oidAt(k * 13)
      const pa = a.pick(oid, 3)
      expect(b.pick(oid, 3)).toEqual(pa)
      expect(c.pick(oid, 3)).toEqual(pa)
    }
  })

  it('spreads distinct oids over all nodes (not a constant function)', () => {
    const r = new Ring(nodes(8))
    const primaries = new Set<string>()
    for (let k = 0; k < 1000; k++) primaries.add(r.pick(oidAt(k), 1)[0]!)
    expect(primaries.size).toBe(8)
  })
})

describe('Ring properties', () => {
  const nodeSet = fc.uniqueArray(
    fc.record({ id: fc.string({ minLength: 1, maxLength: 20 }), zone: fc.integer({ min: 0, max: 7 }) }),
    { minLength: 1, maxLength: 24, selector: (n) => n.id }
  )
  const oid = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })

  it('always picks min(copies, zones) nodes in distinct zones, as a prefix of larger picks', () => {
    fc.assert(fc.property(nodeSet, fc.array(oid, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 32 }), (ns, oids, copies, vnodes) => {
        const r = new Ring(ns, vnodes)
        const zoneOf = new Map(ns.map((n) => [n.id, n.zone]))
        const zones = new Set(ns.map((n) => n.zone)).size
        expect(r.zoneCount()).toBe(zones)
        for (const o of oids) {
          const p = r.pick(o, copies)
          expect(p).toHaveLength(Math.min(copies, zones))
          for (const id of p) expect(zoneOf.has(id)).toBe(true)
          expect(new Set(p.map((id) => zoneOf.get(id))).size).toBe(p.length)
          expect(r.pick(o, copies + 1).slice(0, p.length)).toEqual(p)
        }
      }), { numRuns: 200 })
  })

  it('does not depend on the order of the input nodes', () => {
    fc.assert(fc.property(nodeSet, fc.array(oid, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 4 }),
      fc.integer(), (ns, oids, copies, seed) => {
        const shuffled = [...ns]
        let s = seed >>> 0
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0
          const j = s % (i + 1)
          ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
        }
        const a = new Ring(ns, 16)
        const b = new Ring(shuffled, 16)
        for (const o of oids) expect(b.pick(o, copies)).toEqual(a.pick(o, copies))
      }), { numRuns: 100 })
  })
})

describe('Ring stability and balance (100k objects)', () => {
  const COPIES = 3

  it('adding an 11th node moves about 1/11 of primaries and replica slots, nothing else', () => {
    const before = new Ring(nodes(10))
    const after = new Ring(nodes(11))
    const newcomer = peerId(10)
    let primariesMoved = 0
    let slotsMoved = 0
    let touching = 0
    const violations: string[] = []
    for (let k = 0; k < OBJECTS; k++) {
      const oid = oidAt(k)
      const a = before.pick(oid, COPIES)
      const b = after.pick(oid, COPIES)
      if (a[0] !== b[0]) {
        primariesMoved++
        // a primary only ever moves to the new node
        if (b[0] !== newcomer) violations.push(`oid ${oid}: primary ${a[0]} -> ${b[0]}`)
      }
      const gained = b.filter((id) => !a.includes(id))
      slotsMoved += gained.length
      if (b.includes(newcomer)) {
        touching++
        // the newcomer replaces exactly one old replica
        if (gained.length !== 1 || gained[0] !== newcomer) violations.push(`oid ${oid}: gained ${gained}`)
      } else if (b.join() !== a.join()) {
        // objects not touching the new node keep the same replica set, in the same order
        violations.push(`oid ${oid}: ${a} -> ${b}`)
      }
    }
    expect(violations.slice(0, 5)).toEqual([])
    const ideal = 1 / 11
    const primaryFrac = primariesMoved / OBJECTS
    const slotFrac = slotsMoved / (OBJECTS * COPIES)
    report(`placement stability: primaries moved ${(primaryFrac * 100).toFixed(2)}% (ideal ${(ideal * 100).toFixed(2)}%), ` +
      `replica slots moved ${(slotFrac * 100).toFixed(2)}%, objects touching newcomer ${(touching / OBJECTS * 100).toFixed(2)}% ` +
      `(ideal ${(COPIES * ideal * 100).toFixed(2)}%)`)
    expect(primaryFrac).toBeGreaterThan(ideal / 2)
    expect(primaryFrac).toBeLessThan(ideal * 2)
    expect(slotFrac).toBeGreaterThan(ideal / 2)
    expect(slotFrac).toBeLessThan(ideal * 2)
    expect(slotsMoved).toBe(touching)
  })

  it('removing a node only moves objects that it held', () => {
    const before = new Ring(nodes(10, (i) => i % 5))
    const gone = peerId(3)
    const after = new Ring(nodes(10, (i) => i % 5).filter((n) => n.id !== gone))
    const violations: string[] = []
    let held = 0
    for (let k = 0; k < OBJECTS; k++) {
      const oid = oidAt(k)
      const a = before.pick(oid, COPIES)
      const b = after.pick(oid, COPIES)
      if (b.includes(gone)) violations.push(`oid ${oid}: still on removed node`)
      if (!a.includes(gone)) {
        if (b.join() !== a.join()) violations.push(`oid ${oid}: ${a} -> ${b}`)
      } else {
        held++
        if (b.filter((id) => !a.includes(id)).length !== 1) violations.push(`oid ${oid}: ${a} -> ${b}`)
      }
    }
    expect(violations.slice(0, 5)).toEqual([])
    expect(held).toBeGreaterThan(0)
  })

  it('balances 10 nodes within 1.5x of the mean', () => {
    const r = new Ring(nodes(10))
    const primaries = new Map<string, number>()
    const slots = new Map<string, number>()
    for (let k = 0; k < OBJECTS; k++) {
      const p = r.pick(oidAt(k), COPIES)
      primaries.set(p[0]!, (primaries.get(p[0]!) ?? 0) + 1)
      for (const id of p) slots.set(id, (slots.get(id) ?? 0) + 1)
    }
    expect(primaries.size).toBe(10)
    expect(slots.size).toBe(10)
    const pMax = Math.max(...primaries.values()) / (OBJECTS / 10)
    const pMin = Math.min(...primaries.values()) / (OBJECTS / 10)
    const sMax = Math.max(...slots.values()) / (OBJECTS * COPIES / 10)
    const sMin = Math.min(...slots.values()) / (OBJECTS * COPIES / 10)
    report(`placement balance: primaries max/mean ${pMax.toFixed(3)} min/mean ${pMin.toFixed(3)}; ` +
      `replica slots max/mean ${sMax.toFixed(3)} min/mean ${sMin.toFixed(3)}`)
    expect(pMax).toBeLessThan(1.5)
    expect(sMax).toBeLessThan(1.5)
    expect(pMin).toBeGreaterThan(0.5)
  })
})
