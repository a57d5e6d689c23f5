// Tests for src/chaos/shapes.ts: group specs, and the properties every partition shape must
// have whatever the node set and seed (symmetric, every node of the shape present, the shape's
// own promise: halves split in two, isolate cuts one node off, majorities-ring gives every node
// a distinct majority, the bridge node sees everyone).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  SHAPES, ShapeError, checkGroups, cutPairs, groupsPlan, isSymmetric, pairsPlan, parseCutSpec, parseGroupSpec, planToJson, seededRng, shapePlan,
  type CutPlan, type Shape
} from '../../src/chaos/shapes.js'

/** distinct node indexes, not necessarily contiguous (stopped nodes leave gaps) */
const indexesArb = (min: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: min, maxLength: 40 })

/** who node i still talks to (itself included) */
function view (plan: CutPlan, i: number, nodes: number[]): number[] {
  const cut = new Set(plan.get(i) ?? [])
  return nodes.filter((j) => !cut.has(j)).sort((a, b) => a - b)
}

/** connected components of the "still talk" graph */
function components (plan: CutPlan, nodes: number[]): number[][] {
  const seen = new Set<number>()
  const out: number[][] = []
  for (const s of nodes) {
    if (seen.has(s)) continue
    const comp: number[] = []
    const stack = [s]
    seen.add(s)
    while (stack.length > 0) {
      const i = stack.pop()!
      comp.push(i)
      for (const j of view(plan, i, nodes)) if (!seen.has(j)) { seen.add(j); stack.push(j) }
    }
    out.push(comp.sort((a, b) => a - b))
  }
  return out
}

function checkWellFormed (plan: CutPlan, nodes: number[]): void {
  expect([...plan.keys()]).toEqual([...nodes].sort((a, b) => a - b))
  expect(isSymmetric(plan)).toBe(true)
  for (const [i, cut] of plan) {
    expect(cut).not.toContain(i)
    expect(cut).toEqual([...new Set(cut)].sort((a, b) => a - b))
    for (const j of cut) expect(nodes).toContain(j)
  }
  // cutPairs lists every cut exactly once
  const pairs = cutPairs(plan)
  expect(pairs.length * 2).toBe([...plan.values()].reduce((n, c) => n + c.length, 0))
  for (const [a, b] of pairs) {
    expect(a).toBeLessThan(b)
    expect(plan.get(a)).toContain(b)
    expect(plan.get(b)).toContain(a)
  }
}

describe('parseGroupSpec', () => {
  it('parses groups and rejects what is not a partition', () => {
    expect(parseGroupSpec('0,1,2/3,4')).toEqual([[0, 1, 2], [3, 4]])
    expect(parseGroupSpec(' 0, 1 / 2 /3')).toEqual([[0, 1], [2], [3]])
    const bad: Array<[string, RegExp]> = [
      ['', /empty/],
      ['0,1,2', /at least two groups/],
      ['0,1//2', /group 2 is empty/],
      ['0,,1/2', /empty entry/],
      ['0,x/1', /'x' in group 1 is not a node index/],
      ['0,70000/1', /'70000' in group 1 is not a node index/],
      ['0,1/1,2', /node 1 is in group 1 and in group 2/],
      ['0,0/1', /node 0 appears twice in group 1/]
    ]
    for (const [spec, err] of bad) expect(() => parseGroupSpec(spec), spec).toThrow(err)
    expect(() => parseGroupSpec('0/0')).toThrow(ShapeError)
  })

  it('checkGroups wants known nodes and every running node', () => {
    expect(() => checkGroups([[0, 1], [2]], [0, 1, 2, 3], [0, 1, 2])).not.toThrow()
    expect(() => checkGroups([[0, 1], [9]], [0, 1, 2], [0, 1])).toThrow(/no node 9 in the cluster \(nodes: 0, 1, 2\)/)
    expect(() => checkGroups([[0, 1], [2]], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4])).toThrow(/running nodes 3, 4 are in no group/)
    expect(() => checkGroups([[0], [1]], [0, 1, 2], [0, 1, 2])).toThrow(/running node 2 is in no group/)
  })

  it('groupsPlan cuts each node from every other group', () => {
    const plan = groupsPlan([[0, 1, 2], [3, 4]])
    expect(planToJson(plan)).toEqual({ 0: [3, 4], 1: [3, 4], 2: [3, 4], 3: [0, 1, 2], 4: [0, 1, 2] })
    expect(cutPairs(plan)).toEqual([[0, 3], [0, 4], [1, 3], [1, 4], [2, 3], [2, 4]])
    expect(planToJson(groupsPlan([[0], [1], [2]]))).toEqual({ 0: [1, 2], 1: [0, 2], 2: [0, 1] })
  })

  it('groupsPlan is symmetric and the groups are exactly the components', () => {
    fc.assert(fc.property(indexesArb(2), fc.integer({ min: 2, max: 5 }), fc.infiniteStream(fc.nat()), (nodes, k, picks) => {
      const it = picks[Symbol.iterator]()
      const groups: number[][] = Array.from({ length: k }, () => [])
      nodes.forEach((n, i) => groups[i < k ? i : it.next().value % k]!.push(n))
      const live = groups.filter((g) => g.length > 0)
      const plan = groupsPlan(live)
      checkWellFormed(plan, nodes)
      expect(components(plan, nodes).map((c) => c.join(',')).sort())
        .toEqual(live.map((g) => [...g].sort((a, b) => a - b).join(',')).sort())
    }))
  })
})

describe('cut pairs (--cuts): replaying any plan', () => {
  it('parses pairs in either order and rebuilds the same symmetric plan as the shape that printed them', () => {
    for (const shape of ['halves', 'isolate', 'majorities-ring', 'bridge'] as const) {
      const plan = shapePlan(shape, [0, 1, 2, 3, 4], seededRng(9))
      const spec = cutPairs(plan).map(([a, b]) => `${b}-${a}`).join(',')
      const replay = pairsPlan(parseCutSpec(spec), [0, 1, 2, 3, 4])
      expect(cutPairs(replay)).toEqual(cutPairs(plan))
      expect(isSymmetric(replay)).toBe(true)
    }
  })

  it('refuses bad pairs and unknown nodes with a message', () => {
    expect(() => parseCutSpec('')).toThrow(/expected cut pairs like 0-3,1-4/)
    expect(() => parseCutSpec('0-1,2')).toThrow(/'2' is not a cut pair/)
    expect(() => parseCutSpec('3-3')).toThrow(/cannot be cut from itself/)
    expect(() => pairsPlan([[0, 9]], [0, 1, 2])).toThrow(/no node 9 in the cluster/)
  })
})

describe('shapePlan', () => {
  it('fixed sides without an rng: what a person typing the command expects', () => {
    const five = [0, 1, 2, 3, 4]
    expect(planToJson(shapePlan('halves', five, null))).toEqual({ 0: [3, 4], 1: [3, 4], 2: [3, 4], 3: [0, 1, 2], 4: [0, 1, 2] })
    expect(planToJson(shapePlan('isolate', five, null))).toEqual({ 0: [4], 1: [4], 2: [4], 3: [4], 4: [0, 1, 2, 3] })
    expect(planToJson(shapePlan('isolate', five, null, { node: 1 }))).toEqual({ 0: [1], 1: [0, 2, 3, 4], 2: [1], 3: [1], 4: [1] })
    expect(planToJson(shapePlan('bridge', five, null))).toEqual({ 0: [3, 4], 1: [3, 4], 2: [], 3: [0, 1], 4: [0, 1] })
    // ring 0-1-2-3-4-0: each node sees its two neighbours
    expect(planToJson(shapePlan('majorities-ring', five, null))).toEqual({ 0: [2, 3], 1: [3, 4], 2: [0, 4], 3: [0, 1], 4: [1, 2] })
    expect(planToJson(shapePlan('halves', [7, 3], null))).toEqual({ 3: [7], 7: [3] })
  })

  it('refuses shapes the nodes cannot take', () => {
    expect(() => shapePlan('halves', [0], null)).toThrow(/halves shape needs at least 2 running nodes, there is 1/)
    expect(() => shapePlan('bridge', [0, 1], null)).toThrow(/at least 3/)
    expect(() => shapePlan('majorities-ring', [0, 1, 2], null)).toThrow(/at least 4/)
    expect(() => shapePlan('isolate', [0, 1, 2], null, { node: 5 })).toThrow(/node 5 is not one of the nodes to partition \(0, 1, 2\)/)
    expect(() => shapePlan('halves', [0, 1, 2], null, { node: 1 })).toThrow(/--node only applies to the isolate and bridge shapes/)
    expect(() => shapePlan('halves', [0], null)).toThrow(ShapeError)
  })

  it('the same seed gives the same plan; seeds differ', () => {
    const nodes = Array.from({ length: 9 }, (_, i) => i)
    for (const shape of SHAPES) {
      expect(planToJson(shapePlan(shape, nodes, seededRng(42)))).toEqual(planToJson(shapePlan(shape, nodes, seededRng(42))))
    }
    const distinct = new Set(Array.from({ length: 20 }, (_, s) => JSON.stringify(planToJson(shapePlan('halves', nodes, seededRng(s))))))
    expect(distinct.size).toBeGreaterThan(10)
    // 64-bit seeds are folded, not truncated
    expect(seededRng(1n << 40n)()).not.toBe(seededRng(0)())
    const r = seededRng(7)
    for (let i = 0; i < 1000; i++) { const x = r(); expect(x >= 0 && x < 1).toBe(true) }
  })

  const min: Record<Shape, number> = { halves: 2, isolate: 2, bridge: 3, 'majorities-ring': 4 }
  const rngArb = fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined })

  it('every shape is well formed for any node set and seed', () => {
    fc.assert(fc.property(fc.constantFrom(...SHAPES), indexesArb(4), rngArb, (shape, nodes, seed) => {
      expect(nodes.length).toBeGreaterThanOrEqual(min[shape])
      checkWellFormed(shapePlan(shape, nodes, seed === undefined ? null : seededRng(seed)), nodes)
    }))
  })

  it('halves: two sides, the first the larger by at most one, fully cut from each other', () => {
    fc.assert(fc.property(indexesArb(2), rngArb, (nodes, seed) => {
      const plan = shapePlan('halves', nodes, seed === undefined ? null : seededRng(seed))
      const comps = components(plan, nodes)
      expect(comps).toHaveLength(2)
      const [a, b] = comps.map((c) => c.length).sort((x, y) => y - x)
      expect(a! - b!).toBeLessThanOrEqual(1)
      // inside a side everyone talks; across, nobody
      for (const c of comps) for (const i of c) expect(view(plan, i, nodes)).toEqual(c)
    }))
  })

  it('isolate: one node alone, the others whole', () => {
    fc.assert(fc.property(indexesArb(2), rngArb, (nodes, seed) => {
      const plan = shapePlan('isolate', nodes, seed === undefined ? null : seededRng(seed))
      const lone = nodes.filter((i) => (plan.get(i) ?? []).length === nodes.length - 1)
      expect(lone).toHaveLength(nodes.length === 2 ? 2 : 1)
      const rest = nodes.filter((i) => i !== lone[0])
      if (nodes.length > 2) for (const i of rest) expect(plan.get(i)).toEqual([lone[0]])
    }))
  })

  it('bridge: the bridge node sees everyone and has no cuts; the others see only their side and the bridge', () => {
    fc.assert(fc.property(indexesArb(3), rngArb, (nodes, seed) => {
      const plan = shapePlan('bridge', nodes, seed === undefined ? null : seededRng(seed))
      const bridges = nodes.filter((i) => (plan.get(i) ?? []).length === 0)
      expect(bridges).toHaveLength(1)
      const b = bridges[0]!
      expect(plan.get(b)).toEqual([])
      const rest = nodes.filter((i) => i !== b)
      // without the bridge: exactly two sides
      const sub = new Map([...plan].filter(([i]) => i !== b))
      const comps = components(sub, rest)
      expect(comps).toHaveLength(2)
      for (const c of comps) for (const i of c) expect(view(plan, i, nodes)).toEqual([...c, b].sort((x, y) => x - y))
      // but through the bridge everything is one component
      expect(components(plan, nodes)).toHaveLength(1)
    }))
    expect(planToJson(shapePlan('bridge', [0, 1, 2, 3, 4], null, { node: 0 }))).toEqual({ 0: [], 1: [3, 4], 2: [3, 4], 3: [1, 2], 4: [1, 2] })
  })

  it('majorities-ring: every node sees a majority, no two the same, and none sees everyone', () => {
    fc.assert(fc.property(indexesArb(4), rngArb, (nodes, seed) => {
      const plan = shapePlan('majorities-ring', nodes, seed === undefined ? null : seededRng(seed))
      const majority = Math.floor(nodes.length / 2) + 1
      const views = nodes.map((i) => view(plan, i, nodes))
      for (const v of views) {
        expect(v.length).toBeGreaterThanOrEqual(majority)
        expect(v.length).toBeLessThan(nodes.length)
      }
      expect(new Set(views.map((v) => v.join(','))).size).toBe(nodes.length)
    }))
  })
})
