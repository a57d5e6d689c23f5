// Partition shapes as cut plans: which nodes each node must not talk to. Pure and
// mode-agnostic, so the libp2p gater, the nftables rules and the namespace rules all carry out
// the same plan, and `chaos run` can derive plans from one seed and print them for a replay.
// Every plan is symmetric: a one-way cut is a different fault (and not one we model yet).

import { seededRng, type Rng } from '../rng.js'

/** node index → the node indexes it must not talk to; every node of the shape is a key, sorted. */
export type CutPlan = Map<number, number[]>

// shape callers pass a seeded Rng (or null for Math.random); they import both from here
export { seededRng, type Rng }

export const SHAPES = ['halves', 'isolate', 'majorities-ring', 'bridge'] as const
export type Shape = typeof SHAPES[number]

/** Bad groups or a shape the nodes cannot take: the caller's input, never a bug. */
export class ShapeError extends Error {
  override name = 'ShapeError'
}

/**
 * "0,1,2/3,4" → [[0,1,2],[3,4]]. At least two non-empty groups of non-negative integers, no
 * index twice. Whether the indexes exist is checked against the cluster later (checkGroups).
 */
export function parseGroupSpec (spec: string): number[][] {
  const s = spec.replace(/\s+/g, '')
  if (s === '') throw new ShapeError('empty; expected groups of node indexes like 0,1,2/3,4')
  const groups = s.split('/').map((g, gi) => {
    if (g === '') throw new ShapeError(`group ${gi + 1} is empty; expected groups of node indexes like 0,1,2/3,4`)
    return g.split(',').map((x) => {
      if (x === '') throw new ShapeError(`group ${gi + 1} has an empty entry (two commas?); expected groups like 0,1,2/3,4`)
      if (!/^[0-9]{1,5}$/.test(x) || Number(x) > 65535) {
        throw new ShapeError(`'${x}' in group ${gi + 1} is not a node index; expected groups like 0,1,2/3,4`)
      }
      return Number(x)
    })
  })
  if (groups.length < 2) throw new ShapeError('a partition needs at least two groups separated by "/", e.g. 0,1,2/3,4')
  const where = new Map<number, number>()
  groups.forEach((g, gi) => {
    for (const i of g) {
      const prev = where.get(i)
      if (prev !== undefined) {
        throw new ShapeError(prev === gi
          ? `node ${i} appears twice in group ${gi + 1}`
          : `node ${i} is in group ${prev + 1} and in group ${gi + 1}; each node belongs to one group`)
      }
      where.set(i, gi)
    }
  })
  return groups
}

/**
 * Groups must name only nodes the cluster knows, and every running node: a running node left
 * out would silently stay connected to both sides. Stopped nodes may be left out.
 */
export function checkGroups (groups: number[][], known: Iterable<number>, running: Iterable<number>): void {
  const knownSet = new Set(known)
  const unknown = groups.flat().filter((i) => !knownSet.has(i))
  if (unknown.length > 0) {
    throw new ShapeError(`no node ${unknown.join(', ')} in the cluster (nodes: ${[...knownSet].sort((a, b) => a - b).join(', ') || 'none'})`)
  }
  const listed = new Set(groups.flat())
  const left = [...running].filter((i) => !listed.has(i)).sort((a, b) => a - b)
  if (left.length > 0) {
    throw new ShapeError(`running node${left.length === 1 ? '' : 's'} ${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} in no group; ` +
      'list every running node exactly once (e.g. --groups 0,1,2/3,4)')
  }
}

/**
 * "0-3,1-4" → [[0,3],[1,4]]: explicit cut pairs, as `chaos run` and `cutPairs` print them, so
 * any plan (ring and bridge shapes included, which groups cannot express) can be replayed.
 */
export function parseCutSpec (spec: string): Array<[number, number]> {
  const s = spec.replace(/\s+/g, '')
  if (s === '') throw new ShapeError('empty; expected cut pairs like 0-3,1-4')
  return s.split(',').map((pair) => {
    const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(pair)
    if (m === null) throw new ShapeError(`'${pair}' is not a cut pair; expected pairs of node indexes like 0-3,1-4`)
    const a = Number(m[1])
    const b = Number(m[2])
    if (a === b) throw new ShapeError(`'${pair}': a node cannot be cut from itself`)
    return a < b ? [a, b] : [b, a]
  })
}

/** The symmetric plan of explicit cut pairs; every listed node must be known to the cluster. */
export function pairsPlan (pairs: Array<[number, number]>, known: Iterable<number>): CutPlan {
  const knownSet = new Set(known)
  const unknown = [...new Set(pairs.flat().filter((i) => !knownSet.has(i)))]
  if (unknown.length > 0) throw new ShapeError(`no node ${unknown.join(', ')} in the cluster (nodes: ${[...knownSet].sort((a, b) => a - b).join(', ') || 'none'})`)
  const plan: CutPlan = new Map()
  const add = (x: number, y: number): void => { plan.set(x, [...(plan.get(x) ?? []), y]) }
  for (const [a, b] of pairs) { add(a, b); add(b, a) }
  return sortedPlan(plan)
}

/** Each node is cut from every node of every other group. */
export function groupsPlan (groups: number[][]): CutPlan {
  const plan: CutPlan = new Map()
  groups.forEach((g, gi) => {
    const others = groups.flatMap((h, hi) => hi === gi ? [] : h).sort((a, b) => a - b)
    for (const i of g) plan.set(i, others)
  })
  return sortedPlan(plan)
}

export interface ShapeOptions {
  /** isolate: the node cut off; bridge: the node that sees both sides */
  node?: number
}

/**
 * A named shape over `indexes` (the running nodes). With `rng` the sides are drawn at random;
 * with null they are fixed (first half / second half, isolate the last node, bridge through
 * the middle one, ring in index order), which is what a person typing the command expects.
 */
export function shapePlan (shape: Shape, indexes: number[], rng: Rng | null, opts: ShapeOptions = {}): CutPlan {
  const nodes = [...new Set(indexes)].sort((a, b) => a - b)
  if (opts.node !== undefined && !nodes.includes(opts.node)) {
    throw new ShapeError(`node ${opts.node} is not one of the nodes to partition (${nodes.join(', ') || 'none'})`)
  }
  if (opts.node !== undefined && shape !== 'isolate' && shape !== 'bridge') {
    throw new ShapeError(`--node only applies to the isolate and bridge shapes, not ${shape}`)
  }
  const order = rng === null ? nodes : shuffle(nodes, rng)
  switch (shape) {
    case 'halves': {
      need(shape, nodes, 2)
      // the first side is the majority (or the larger half): "0,1,2/3,4" for five nodes
      const cut = Math.ceil(order.length / 2)
      return groupsPlan([order.slice(0, cut), order.slice(cut)])
    }
    case 'isolate': {
      need(shape, nodes, 2)
      const lone = opts.node ?? order[order.length - 1]!
      return groupsPlan([nodes.filter((i) => i !== lone), [lone]])
    }
    case 'bridge': {
      need(shape, nodes, 3)
      const bridge = opts.node ?? order[Math.floor(order.length / 2)]!
      const rest = order.filter((i) => i !== bridge)
      const left = rest.slice(0, Math.ceil(rest.length / 2))
      const right = rest.slice(left.length)
      const plan = groupsPlan([left, right])
      plan.set(bridge, [])
      return sortedPlan(plan)
    }
    case 'majorities-ring':
      need(shape, nodes, 4)
      return ringPlan(order)
  }
}

/**
 * Jepsen's majorities-ring, made symmetric: nodes on a ring, each sees itself and its k
 * nearest neighbours on both sides (2k+1 ≥ a majority) and is cut from the rest. Every node
 * then sees a majority, and no two see the same one (each view is a window centred on its
 * owner). Jepsen's own construction is one-way for even sizes; ours is not, so it covers
 * 4 and more nodes with one rule.
 */
function ringPlan (ring: number[]): CutPlan {
  const n = ring.length
  const majority = Math.floor(n / 2) + 1
  const k = Math.ceil((majority - 1) / 2)
  const plan: CutPlan = new Map()
  ring.forEach((node, p) => {
    const seen = new Set<number>()
    for (let d = -k; d <= k; d++) seen.add(ring[(p + d + n) % n]!)
    plan.set(node, ring.filter((x) => !seen.has(x)))
  })
  return sortedPlan(plan)
}

function need (shape: Shape, nodes: number[], min: number): void {
  if (nodes.length < min) {
    throw new ShapeError(`the ${shape} shape needs at least ${min} running nodes, there ${nodes.length === 1 ? 'is' : 'are'} ${nodes.length}`)
  }
}

function shuffle (xs: number[], rng: Rng): number[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

function sortedPlan (plan: CutPlan): CutPlan {
  return new Map([...plan.entries()]
    .sort(([a], [b]) => a - b)
    .map(([i, cut]) => [i, [...new Set(cut)].sort((a, b) => a - b)]))
}

/** Every cut once, as [low, high] index pairs in order. */
export function cutPairs (plan: CutPlan): Array<[number, number]> {
  const pairs: Array<[number, number]> = []
  for (const [i, cut] of plan) for (const j of cut) if (i < j) pairs.push([i, j])
  return pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1])
}

/** Whether j ∈ plan[i] ⇔ i ∈ plan[j] for every pair (a node absent from the plan cuts nothing). */
export function isSymmetric (plan: CutPlan): boolean {
  for (const [i, cut] of plan) {
    for (const j of cut) if (!(plan.get(j) ?? []).includes(i)) return false
  }
  return true
}

/** The plan as plain JSON ({"0": [3, 4], …}) for --json output and logs. */
export function planToJson (plan: CutPlan): Record<string, number[]> {
  return Object.fromEntries([...plan].map(([i, cut]) => [String(i), cut]))
}
