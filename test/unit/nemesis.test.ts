// The nemesis schedule: reproducible from its seed, only faults that fit the cluster, and
// bad nemesis names rejected with a message that lists the good ones.
import { describe, expect, it } from 'vitest'
import { NemesisError, parseNemeses, planSchedule, describeFault } from '../../src/chaos/nemesis.js'

const nodes = [0, 1, 2, 3, 4]

describe('nemesis schedule', () => {
  it('same seed → same schedule; another seed → another one', () => {
    const a = planSchedule({ seed: 42, nodes, kinds: ['partition', 'kill', 'pause', 'skew'], cycles: 50 })
    const b = planSchedule({ seed: 42, nodes, kinds: ['partition', 'kill', 'pause', 'skew'], cycles: 50 })
    const c = planSchedule({ seed: 43, nodes, kinds: ['partition', 'kill', 'pause', 'skew'], cycles: 50 })
    expect(a).toEqual(b)
    expect(a.map((x) => describeFault(x.fault))).not.toEqual(c.map((x) => describeFault(x.fault)))
  })

  it('draws every kind, keeps holds and skews in bounds, and cuts only real node pairs', () => {
    const s = planSchedule({ seed: 7n, nodes, kinds: ['partition', 'kill', 'pause', 'skew'], cycles: 400, holdMs: [100, 200], gapMs: [0, 50], maxSkewMs: 60_000 })
    expect(new Set(s.map((x) => x.fault.kind))).toEqual(new Set(['partition', 'kill', 'pause', 'skew']))
    const shapes = new Set<string>()
    for (const c of s) {
      expect(c.holdMs).toBeGreaterThanOrEqual(100)
      expect(c.holdMs).toBeLessThanOrEqual(200)
      expect(c.gapMs).toBeLessThanOrEqual(50)
      const f = c.fault
      if (f.kind === 'skew') expect(Math.abs(f.offsetMs)).toBeLessThanOrEqual(60_000)
      if (f.kind === 'partition') {
        shapes.add(f.shape)
        expect(f.cuts.length).toBeGreaterThan(0)
        for (const [x, y] of f.cuts) { expect(x).toBeLessThan(y); expect(nodes).toContain(x); expect(nodes).toContain(y) }
      } else {
        expect(nodes).toContain(f.node)
      }
    }
    expect(shapes).toEqual(new Set(['halves', 'isolate', 'majorities-ring', 'bridge']))
  })

  it('on two nodes only shapes that fit two nodes are drawn', () => {
    const s = planSchedule({ seed: 1, nodes: [0, 1], kinds: ['partition'], cycles: 100 })
    expect(new Set(s.map((x) => x.fault.kind === 'partition' ? x.fault.shape : ''))).toEqual(new Set(['halves', 'isolate']))
  })

  it('parses nemesis lists and rejects unknown names', () => {
    expect(parseNemeses('skew,partition')).toEqual(['partition', 'skew'])
    expect(() => parseNemeses('partition,flood')).toThrow(NemesisError)
    expect(() => parseNemeses('partition,flood')).toThrow(/unknown nemesis 'flood'; choose from partition, kill, pause, skew/)
    expect(() => parseNemeses('')).toThrow(/no nemesis/)
    expect(() => planSchedule({ seed: 1, nodes: [0], kinds: ['kill'], cycles: 1 })).toThrow(/at least 2 nodes/)
  })
})
