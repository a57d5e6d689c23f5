// Object placement: Sheepdog's consistent hashing with virtual nodes and zones. Given the
// members of an epoch, `Ring.pick` names the nodes that must hold an oid. It is a pure,
// deterministic function of the node SET, so every node computes the same answer for the
// same view without talking to anyone; recovery diffs two rings to decide what to move.

import { fnv1a64, fnv1a64Oid } from './oid.js'

export interface PlacementNode {
  /** libp2p peer id string */
  id: string
  /** failure domain: no two replicas of an object share one */
  zone: number
}

export const DEFAULT_VNODES = 128

const FNV_PRIME_LO = 0x1b3 // the FNV-64 prime is 2^40 + 0x1b3
const TWO32 = 0x1_0000_0000
const utf8 = new TextEncoder()

// Sheepdog's sd_hash(): FNV-1a, then the result folded through FNV-1a once more with itself
// as the basis (fnv_64a_64(h, h)). Plain FNV-1a barely moves the high bits when only the
// last byte changes, so "peer/10".."peer/19" would land in one tight cluster and ten nodes
// with 128 vnodes each would be off balance by ~2x; the second pass spreads them.
// The fold runs on 32-bit halves because this is on every object operation's path.
function fold (h: bigint): bigint {
  const hHi = Number(h >> 32n)
  const hLo = Number(h & 0xffffffffn)
  let hi = hHi
  let lo = hLo
  for (let i = 0; i < 8; i++) {
    lo = (lo ^ ((i < 4 ? hLo >>> (8 * i) : hHi >>> (8 * (i - 4))) & 0xff)) >>> 0
    const t = lo * FNV_PRIME_LO
    hi = (Math.imul(hi, FNV_PRIME_LO) + Math.floor(t / TWO32) + (lo << 8)) >>> 0
    lo = t >>> 0
  }
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** Ring position of arbitrary bytes (Sheepdog's sd_hash). */
export function ringHash (bytes: Uint8Array): bigint {
  return fold(fnv1a64(bytes))
}

export function vnodePosition (id: string, i: number): bigint {
  return ringHash(utf8.encode(`${id}/${i}`))
}

/** members whose vnode positions are kept: more than any view holds, few enough to bound memory (1 KiB each at 128 vnodes) */
const VNODE_CACHE_MAX = 4096
const vnodeCache = new Map<string, BigUint64Array>()

/**
 * A member's vnode positions, computed once: a heal or a join changes the view once per
 * member heard again, and rebuilding the ring from scratch each time (a hash per vnode) was
 * the largest cost of this process in the burst of work after a heal.
 */
function vnodePositions (id: string, vnodes: number): BigUint64Array {
  const key = `${vnodes}:${id}`
  let p = vnodeCache.get(key)
  if (p === undefined) {
    p = new BigUint64Array(vnodes)
    for (let i = 0; i < vnodes; i++) p[i] = vnodePosition(id, i)
    if (vnodeCache.size >= VNODE_CACHE_MAX) vnodeCache.clear()
    vnodeCache.set(key, p)
  }
  return p
}

/** Ring position of an object: sd_hash over its little-endian bytes (Sheepdog's sd_hash_oid). */
export function oidPosition (oid: bigint): bigint {
  return fold(fnv1a64Oid(oid))
}

export class Ring {
  private readonly sorted: readonly PlacementNode[]
  private readonly positions: BigUint64Array
  private readonly owners: Int32Array
  private readonly zones: number
  /**
   * Names the ring: equal on two nodes exactly when they place every oid alike (same members,
   * zones and vnodes). Puts carry the writer's, so a replica can refuse a write placed by a
   * view it does not share.
   */
  readonly hash: bigint

  constructor (nodes: readonly PlacementNode[], readonly vnodesPerNode: number = DEFAULT_VNODES) {
    if (!Number.isInteger(vnodesPerNode) || vnodesPerNode < 1) {
      throw new RangeError(`vnodesPerNode must be a positive integer: ${vnodesPerNode}`)
    }
    // Sorting by id makes the ring independent of the order the view lists its members in.
    const sorted = nodes.map((n) => Object.freeze({ id: n.id, zone: n.zone }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (let i = 0; i < sorted.length; i++) {
      const n = sorted[i]!
      if (!Number.isInteger(n.zone) || n.zone < 0) throw new RangeError(`node ${n.id}: bad zone ${n.zone}`)
      if (i > 0 && sorted[i - 1]!.id === n.id) throw new RangeError(`duplicate node id in ring: ${n.id}`)
    }
    this.sorted = Object.freeze(sorted)
    this.zones = new Set(sorted.map((n) => n.zone)).size
    // never 0: a put without a ring hash says 0
    this.hash = fnv1a64(new TextEncoder().encode(`${vnodesPerNode};${sorted.map((n) => `${n.id}/${n.zone}`).join(',')}`)) || 1n

    const total = sorted.length * vnodesPerNode
    const pos = new BigUint64Array(total)
    const own = new Int32Array(total)
    for (let n = 0, k = 0; n < sorted.length; n++) {
      const mine = vnodePositions(sorted[n]!.id, vnodesPerNode)
      for (let i = 0; i < vnodesPerNode; i++, k++) {
        pos[k] = mine[i]!
        own[k] = n
      }
    }
    // the typed array's own sort; owners found again by position (no two vnodes share one,
    // except by astronomically rare ties, which break by node index, itself id order)
    this.positions = pos.slice().sort()
    this.owners = new Int32Array(total)
    const ownerAt = new Map<bigint, number>()
    for (let k = 0; k < total; k++) if (!ownerAt.has(pos[k]!)) ownerAt.set(pos[k]!, own[k]!)
    if (ownerAt.size === total) {
      for (let k = 0; k < total; k++) this.owners[k] = ownerAt.get(this.positions[k]!)!
    } else {
      const order = Array.from({ length: total }, (_, k) => k)
        .sort((a, b) => (pos[a]! < pos[b]! ? -1 : pos[a]! > pos[b]! ? 1 : own[a]! - own[b]!))
      for (let k = 0; k < total; k++) this.owners[k] = own[order[k]!]!
    }
  }

  /** The ring's nodes, sorted by id. */
  get nodes (): readonly PlacementNode[] {
    return this.sorted
  }

  zoneCount (): number {
    return this.zones
  }

  /** Replica holders for `oid`, in ring order starting at its position (the first is the
   *  primary), all in distinct zones. Like Sheepdog, copies are capped at the number of
   *  zones: asking for 3 copies on a 2-zone cluster yields 2 nodes. */
  pick (oid: bigint, copies: number): string[] {
    const want = Math.min(Math.max(0, Math.floor(copies)), this.zones)
    if (want === 0) return []
    const out: string[] = []
    const usedZones = new Set<number>()
    const total = this.positions.length
    const start = this.firstAtOrAfter(oidPosition(oid))
    for (let step = 0; step < total && out.length < want; step++) {
      const node = this.sorted[this.owners[(start + step) % total]!]!
      if (usedZones.has(node.zone)) continue
      usedZones.add(node.zone)
      out.push(node.id)
    }
    return out
  }

  /** Index of the first vnode at or clockwise after `pos` (wrapping to 0). */
  private firstAtOrAfter (pos: bigint): number {
    let lo = 0
    let hi = this.positions.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.positions[mid]! < pos) lo = mid + 1
      else hi = mid
    }
    return lo === this.positions.length ? 0 : lo
  }
}
