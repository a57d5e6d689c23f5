// Tests for the membership view state machine (src/membership/view.ts), including a pure
// in-process simulation of N nodes gossiping heartbeats in random order in virtual time.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  DEFAULT_FAIL_AFTER_MS, InvalidHeartbeatError, MembershipView, computeMembersHash,
  type HeartbeatIn, type MemberInfo, type ViewChange
} from '../../src/membership/view.js'
import { fnv1a64 } from '../../src/oid.js'

function info (i: number, incarnation = 1n, zone = i): MemberInfo {
  return {
    peerId: `12D3KooWNode${String(i).padStart(3, '0')}`,
    addrs: [`/ip4/127.0.0.${i + 1}/tcp/4001`],
    zone,
    api: `http://127.0.0.${i + 1}:8080`,
    incarnation
  }
}
const id = (i: number): string => info(i).peerId

function hbFrom (m: MemberInfo, over: Partial<HeartbeatIn> = {}): HeartbeatIn {
  return { ...m, epoch: 0n, membersHash: computeMembersHash([m.peerId]), leaving: false, ...over }
}

describe('MembershipView basics', () => {
  it('starts with only itself', () => {
    const v = new MembershipView(info(0))
    expect(v.epoch).toBe(0n)
    expect(v.members().map((m) => m.peerId)).toEqual([id(0)])
    expect(v.member(id(0))?.api).toBe(info(0).api)
    expect(v.known().map((m) => m.peerId)).toEqual([id(0)])
    expect(v.membersHash()).toBe(fnv1a64(new TextEncoder().encode(id(0))))
    expect(v.lastHeard(id(0))).toBeUndefined()
    expect(new MembershipView(info(0), {}, 41n).epoch).toBe(41n)
  })

  it('a new peer joins with an epoch bump; repeats only refresh lastHeard', () => {
    const v = new MembershipView(info(0))
    const c = v.onHeartbeat(v2hb(info(1)), 1000)
    expect(c).toEqual<ViewChange>({
      epoch: 1n, members: [info(0), info(1)], joined: [id(1)], left: [], placementChanged: true
    })
    expect(v.onHeartbeat(v2hb(info(1)), 1500)).toBeUndefined()
    expect(v.lastHeard(id(1))).toBe(1500)
    expect(v.epoch).toBe(1n)
    expect(v.membersHash()).toBe(fnv1a64(new TextEncoder().encode(`${id(0)}\n${id(1)}`)))
    expect(v.member(id(1))?.addrs).toEqual(info(1).addrs)
  })

  it('keeps members sorted by peerId regardless of arrival order', () => {
    const v = new MembershipView(info(5))
    for (const i of [9, 2, 7, 0]) v.onHeartbeat(v2hb(info(i)), 10)
    expect(v.members().map((m) => m.peerId)).toEqual([0, 2, 5, 7, 9].map(id))
    expect(v.epoch).toBe(4n)
  })

  it('ignores its own heartbeat but remembers its epoch', () => {
    const v = new MembershipView(info(0))
    expect(v.onHeartbeat(hbFrom(info(0), { epoch: 9n }), 10)).toBeUndefined()
    expect(v.members()).toHaveLength(1)
    expect(v.maxEpochSeen).toBe(9n)
    expect(v.onHeartbeat(v2hb(info(1)), 10)?.epoch).toBe(10n)
  })

  it('expires a silent member after failAfterMs, then lets it rejoin', () => {
    const v = new MembershipView(info(0), { failAfterMs: 5000 })
    v.onHeartbeat(v2hb(info(1)), 1000)
    v.onHeartbeat(v2hb(info(2)), 1000)
    expect(v.epoch).toBe(2n)
    expect(v.tick(6000)).toBeUndefined() // exactly failAfterMs: not yet
    const c = v.tick(6001)
    expect(c?.left).toEqual([id(1), id(2)])
    expect(c?.joined).toEqual([])
    expect(c?.placementChanged).toBe(true)
    expect(v.epoch).toBe(3n)
    expect(v.members().map((m) => m.peerId)).toEqual([id(0)])
    expect(v.member(id(1))).toBeUndefined()
    expect(v.status(id(1))).toBe('dead')
    // dead members stay known: the node keeps dialing them
    expect(v.known().map((m) => m.peerId)).toEqual([id(0), id(1), id(2)])
    expect(v.tick(60_000)).toBeUndefined()
    const r = v.onHeartbeat(v2hb(info(1)), 61_000)
    expect(r?.joined).toEqual([id(1)])
    expect(r?.epoch).toBe(4n)
    expect(v.status(id(1))).toBe('alive')
  })

  it('uses a 5 s failure timeout by default', () => {
    expect(DEFAULT_FAIL_AFTER_MS).toBe(5000)
    const v = new MembershipView(info(0))
    v.onHeartbeat(v2hb(info(1)), 0)
    expect(v.tick(5000)).toBeUndefined()
    expect(v.tick(5001)?.left).toEqual([id(1)])
  })

  it('evicts long-dead members only when evictAfterMs is set', () => {
    const v = new MembershipView(info(0), { failAfterMs: 1000, evictAfterMs: 10_000 })
    const keep = new MembershipView(info(0), { failAfterMs: 1000 })
    for (const x of [v, keep]) {
      x.onHeartbeat(v2hb(info(1)), 0)
      x.tick(2000)
      x.tick(10_001)
    }
    expect(v.known().map((m) => m.peerId)).toEqual([id(0)])
    expect(v.lastHeard(id(1))).toBeUndefined()
    expect(keep.known().map((m) => m.peerId)).toEqual([id(0), id(1)])
    // an evicted peer that comes back is simply new again
    expect(v.onHeartbeat(v2hb(info(1)), 20_000)?.joined).toEqual([id(1)])
  })

  it('hands each evicted peer to takeForgotten once, and only evicted ones', () => {
    const v = new MembershipView(info(0), { failAfterMs: 1000, evictAfterMs: 10_000 })
    v.onHeartbeat(v2hb(info(1)), 0)
    v.onHeartbeat(v2hb(info(2)), 0)
    v.tick(2000)
    // dead, not yet evicted: nothing to forget
    expect(v.takeForgotten()).toEqual([])
    v.onHeartbeat(v2hb(info(2)), 5000)
    v.tick(10_001)
    expect(v.takeForgotten()).toEqual([id(1)])
    expect(v.takeForgotten()).toEqual([])
    v.tick(30_000)
    expect(v.takeForgotten()).toEqual([id(2)])
    expect(v.known().map((m) => m.peerId)).toEqual([id(0)])
  })

  it('treats a leaving heartbeat as an immediate leave and quarantines stale heartbeats', () => {
    const v = new MembershipView(info(0), { failAfterMs: 5000 })
    v.onHeartbeat(v2hb(info(1)), 1000)
    const c = v.onHeartbeat(hbFrom(info(1), { leaving: true }), 1100)
    expect(c?.left).toEqual([id(1)])
    expect(c?.epoch).toBe(2n)
    expect(v.status(id(1))).toBe('left')
    expect(v.members()).toHaveLength(1)
    // a heartbeat of the same incarnation still in flight does not revive it...
    expect(v.onHeartbeat(v2hb(info(1)), 1200)).toBeUndefined()
    expect(v.members()).toHaveLength(1)
    // ...but once the quarantine is over it can come back with the same incarnation
    expect(v.onHeartbeat(v2hb(info(1)), 6100)?.joined).toEqual([id(1)])
    expect(v.epoch).toBe(3n)
    // and a restart (higher incarnation) rejoins immediately
    v.onHeartbeat(hbFrom(info(1), { leaving: true }), 7000)
    expect(v.onHeartbeat(v2hb(info(1, 2n)), 7001)?.joined).toEqual([id(1)])
    expect(v.epoch).toBe(5n)
  })

  it('onLeave removes a live member at once and is idempotent', () => {
    const v = new MembershipView(info(0))
    v.onHeartbeat(v2hb(info(1)), 0)
    expect(v.onLeave(id(1), 10)?.left).toEqual([id(1)])
    expect(v.onLeave(id(1), 11)).toBeUndefined()
    expect(v.onLeave('unknown-peer', 11)).toBeUndefined()
    expect(v.onLeave(id(0), 11)).toBeUndefined() // self is always live
    expect(v.members().map((m) => m.peerId)).toEqual([id(0)])
    expect(v.epoch).toBe(2n)
  })

  it('a leave of an older incarnation does not remove a restarted member', () => {
    const v = new MembershipView(info(0))
    v.onHeartbeat(v2hb(info(1, 5n)), 0)
    expect(v.onHeartbeat(hbFrom(info(1, 4n), { leaving: true }), 10)).toBeUndefined()
    expect(v.status(id(1))).toBe('alive')
  })

  it('a live member heard with a higher incarnation restarted unnoticed: reported, placement and epoch unchanged', () => {
    const v = new MembershipView(info(0), { failAfterMs: 5000 })
    v.onHeartbeat(v2hb(info(1)), 0)
    v.onHeartbeat(v2hb(info(2)), 0)
    expect(v.epoch).toBe(2n)
    // back within failAfterMs: never declared dead, so no join or leave would tell the node
    const c = v.onHeartbeat(v2hb(info(1, 2n)), 3000)
    expect(c).toEqual<ViewChange>({ epoch: 2n, members: [info(0), info(1, 2n), info(2)], joined: [], left: [], placementChanged: false, restarted: [id(1)] })
    // its later heartbeats, and the same incarnation again, report nothing
    expect(v.onHeartbeat(v2hb(info(1, 2n)), 3500)).toBeUndefined()
    // a restart heard together with an epoch to adopt reports both
    const both = v.onHeartbeat(hbFrom(info(2, 2n), { epoch: 9n, membersHash: v.membersHash() }), 4000)
    expect(both).toMatchObject({ epoch: 9n, placementChanged: false, restarted: [id(2)] })
    // a restart after it was declared dead is a join (placement changed), as before
    v.tick(20_000)
    expect(v.onHeartbeat(v2hb(info(1, 3n)), 20_001)).toMatchObject({ joined: [id(1)], placementChanged: true })
  })

  it('a higher incarnation updates addrs/api (reported as a restart) and a zone move as a placement change', () => {
    const v = new MembershipView(info(0))
    v.onHeartbeat(v2hb(info(1)), 0)
    const moved: MemberInfo = { ...info(1, 2n), addrs: ['/ip4/10.0.0.9/tcp/1'], api: 'http://10.0.0.9:1' }
    expect(v.onHeartbeat(v2hb(moved), 10)).toMatchObject({ epoch: 1n, joined: [], left: [], placementChanged: false, restarted: [id(1)] })
    expect(v.member(id(1))?.addrs).toEqual(['/ip4/10.0.0.9/tcp/1'])
    expect(v.members()[1]?.api).toBe('http://10.0.0.9:1')
    // an older incarnation is ignored, including its lastHeard
    expect(v.onHeartbeat(v2hb(info(1, 1n)), 20)).toBeUndefined()
    expect(v.member(id(1))?.api).toBe('http://10.0.0.9:1')
    expect(v.lastHeard(id(1))).toBe(10)
    // same incarnation, different data: first one wins (no flapping on reordered gossip)
    expect(v.onHeartbeat(v2hb({ ...moved, api: 'x' }), 30)).toBeUndefined()
    expect(v.member(id(1))?.api).toBe('http://10.0.0.9:1')
    const c = v.onHeartbeat(v2hb({ ...moved, zone: 7, incarnation: 3n }), 40)
    expect(c).toMatchObject({ joined: [], left: [], placementChanged: true, epoch: 2n })
    expect(v.member(id(1))?.zone).toBe(7)
  })

  it('updateSelf bumps the incarnation and reports a zone move', () => {
    const v = new MembershipView(info(0))
    expect(v.updateSelf({ addrs: ['/ip4/1.2.3.4/tcp/5'] })).toBeUndefined()
    expect(v.self.incarnation).toBe(2n)
    expect(v.heartbeat().addrs).toEqual(['/ip4/1.2.3.4/tcp/5'])
    expect(v.members()[0]?.addrs).toEqual(['/ip4/1.2.3.4/tcp/5'])
    const c = v.updateSelf({ zone: 3 })
    expect(c?.placementChanged).toBe(true)
    expect(c?.epoch).toBe(1n)
    expect(v.heartbeat(true)).toMatchObject({ zone: 3, incarnation: 3n, leaving: true, epoch: 1n })
  })

  it('adopts a higher epoch from a peer with the same member set, never lowers it', () => {
    const a = new MembershipView(info(0))
    a.onHeartbeat(v2hb(info(1)), 0)
    expect(a.epoch).toBe(1n)
    const sameSet = computeMembersHash([id(0), id(1)])
    const c = a.onHeartbeat(hbFrom(info(1), { epoch: 7n, membersHash: sameSet }), 10)
    expect(c).toMatchObject({ epoch: 7n, joined: [], left: [], placementChanged: false })
    expect(a.epoch).toBe(7n)
    expect(a.onHeartbeat(hbFrom(info(1), { epoch: 3n, membersHash: sameSet }), 20)).toBeUndefined()
    expect(a.epoch).toBe(7n)
    // a different set does not make us adopt, but our next change jumps past what we saw
    const other = computeMembersHash([id(0), id(1), id(9)])
    expect(a.onHeartbeat(hbFrom(info(1), { epoch: 50n, membersHash: other }), 30)).toBeUndefined()
    expect(a.epoch).toBe(7n)
    expect(a.onHeartbeat(v2hb(info(2)), 40)?.epoch).toBe(51n)
  })

  it('a joiner jumps past every epoch it has heard of', () => {
    const fresh = new MembershipView(info(9))
    fresh.onHeartbeat(hbFrom(info(1), { epoch: 100n }), 0)
    expect(fresh.epoch).toBe(101n)
    fresh.onHeartbeat(hbFrom(info(2), { epoch: 300n }), 0)
    expect(fresh.epoch).toBe(301n)
  })

  it('rejects malformed heartbeats without changing state', () => {
    const v = new MembershipView(info(0))
    const good = v2hb(info(1))
    const bad: unknown[] = [
      { ...good, peerId: '' },
      { ...good, zone: -1 },
      { ...good, zone: 1.5 },
      { ...good, addrs: [1] },
      { ...good, incarnation: -1n },
      { ...good, incarnation: 1 },
      { ...good, epoch: 1n << 64n },
      { ...good, membersHash: 'x' },
      { ...good, leaving: 'yes' },
      { ...good, peerId: 'x'.repeat(1000) }
    ]
    for (const b of bad) expect(() => v.onHeartbeat(b as HeartbeatIn, 0)).toThrow(InvalidHeartbeatError)
    expect(v.members()).toHaveLength(1)
    expect(v.epoch).toBe(0n)
    expect(v.maxEpochSeen).toBe(0n)
    expect(() => new MembershipView(info(0), { failAfterMs: 0 })).toThrow(RangeError)
  })

  it('hands out members that callers cannot corrupt', () => {
    const v = new MembershipView(info(0))
    v.onHeartbeat(v2hb(info(1)), 0)
    const ms = v.members()
    ms.pop()
    expect(v.members()).toHaveLength(2)
    expect(() => { (v.members()[1]!.addrs as string[]).push('/evil') }).toThrow(TypeError)
  })
})

// A heartbeat as a lone node would send it.
function v2hb (m: MemberInfo): HeartbeatIn {
  return hbFrom(m)
}

// ---- simulation: N views gossiping in virtual time ---------------------------------------

interface InFlight { to: number; hb: HeartbeatIn }

class Sim {
  readonly views: MembershipView[]
  readonly epochs: bigint[][] = []
  inflight: InFlight[] = []
  now = 0
  readonly up: boolean[]
  /** nodes whose messages are lost in both directions (they keep running) */
  readonly cut = new Set<number>()
  private rng: number

  constructor (readonly n: number, seed: number, readonly failAfterMs = 5000) {
    this.views = Array.from({ length: n }, (_, i) => new MembershipView(info(i), { failAfterMs }))
    this.epochs = this.views.map((v) => [v.epoch])
    this.up = this.views.map(() => true)
    this.rng = seed >>> 0
  }

  random (k: number): number {
    this.rng = (Math.imul(this.rng ^ (this.rng >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return this.rng % k
  }

  private record (i: number): void {
    const list = this.epochs[i]!
    const e = this.views[i]!.epoch
    if (e < list[list.length - 1]!) throw new Error(`node ${i}: epoch went down ${list[list.length - 1]} -> ${e}`)
    list.push(e)
  }

  broadcast (from: number, leaving = false): void {
    if (!this.up[from]) return
    const hb = this.views[from]!.heartbeat(leaving)
    for (let to = 0; to < this.n; to++) {
      if (to === from || this.cut.has(to) || this.cut.has(from)) continue
      this.inflight.push({ to, hb })
    }
  }

  deliver (k: number): ViewChange | undefined {
    if (this.inflight.length === 0) return undefined
    const [msg] = this.inflight.splice(k % this.inflight.length, 1)
    if (!this.up[msg!.to]) return undefined
    const c = this.views[msg!.to]!.onHeartbeat(msg!.hb, this.now)
    this.record(msg!.to)
    return c
  }

  tick (i: number): ViewChange | undefined {
    if (!this.up[i]) return undefined
    const c = this.views[i]!.tick(this.now)
    this.record(i)
    return c
  }

  /** One gossip round: time passes, live nodes tick and broadcast, everything is delivered in
   *  random order. Returns whether any view changed. */
  round (stepMs = 1000): boolean {
    this.now += stepMs
    let changed = false
    for (let i = 0; i < this.n; i++) if (this.tick(i) !== undefined) changed = true
    for (let i = 0; i < this.n; i++) this.broadcast(i)
    while (this.inflight.length > 0) if (this.deliver(this.random(this.inflight.length)) !== undefined) changed = true
    return changed
  }

  /** Rounds until nothing changes for a full round (bounded). */
  settle (): number {
    for (let r = 1; r <= 4 * this.n + 10; r++) if (!this.round()) return r
    throw new Error('views did not settle')
  }

  live (): number[] {
    return this.views.map((_, i) => i).filter((i) => this.up[i])
  }

  expectConverged (expectedMembers: number[]): bigint {
    const ids = expectedMembers.map(id)
    const live = this.live()
    const epoch = this.views[live[0]!]!.epoch
    for (const i of live) {
      const v = this.views[i]!
      expect(v.members().map((m) => m.peerId), `members of node ${i}`).toEqual(ids)
      expect(v.epoch, `epoch of node ${i}`).toBe(epoch)
      expect(v.membersHash()).toBe(computeMembersHash(ids))
    }
    return epoch
  }
}

const command = fc.oneof(
  fc.record({ op: fc.constant('broadcast' as const), node: fc.nat(15) }),
  fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(1000) }),
  fc.record({ op: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 700 }), node: fc.nat(15) })
)

describe('MembershipView simulation', () => {
  it('converges on the same members and epoch once everyone hears everyone', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(command, { maxLength: 300 }), fc.integer(),
      (n, commands, seed) => {
        const sim = new Sim(n, seed)
        // chaotic start: random broadcasts, deliveries, time passing and ticks (which may
        // expire members that have not broadcast recently)
        for (const c of commands) {
          if (c.op === 'broadcast') sim.broadcast(c.node % n)
          else if (c.op === 'deliver') sim.deliver(c.pick)
          else { sim.now += c.ms; sim.tick(c.node % n) }
        }
        sim.settle()
        const all = Array.from({ length: n }, (_, i) => i)
        const epoch = sim.expectConverged(all)
        if (n > 1) expect(epoch).toBeGreaterThan(0n)
        // epochs are monotone per node (record() throws otherwise) and nobody is ahead of the
        // agreed epoch
        for (const list of sim.epochs) expect(list[list.length - 1]).toBe(epoch)
      }), { numRuns: 150 })
  })

  it('removes a silent member after failAfterMs, re-admits it, and handles leaves', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: 7 }), fc.nat(6), fc.integer(), (n, v, seed) => {
      const victim = v % n
      const sim = new Sim(n, seed)
      sim.settle()
      const all = Array.from({ length: n }, (_, i) => i)
      const e0 = sim.expectConverged(all)

      // victim goes silent (paused): others drop it only after failAfterMs
      sim.up[victim] = false
      const silentSince = sim.now
      while (sim.now - silentSince <= sim.failAfterMs - 1000) {
        expect(sim.round()).toBe(false)
      }
      sim.settle()
      expect(sim.now - silentSince).toBeGreaterThan(sim.failAfterMs)
      const rest = all.filter((i) => i !== victim)
      const e1 = sim.expectConverged(rest)
      expect(e1).toBeGreaterThan(e0)
      for (const i of rest) expect(sim.views[i]!.status(id(victim))).toBe('dead')

      // it resumes; its own view had not moved while paused, so it expires everyone on its
      // first tick, then everyone re-converges on the full set at a higher epoch
      sim.up[victim] = true
      sim.settle()
      const e2 = sim.expectConverged(all)
      expect(e2).toBeGreaterThan(e1)

      // graceful leave: removed as soon as the heartbeat is delivered, no time passing
      sim.broadcast(victim, true)
      sim.up[victim] = false
      const before = sim.now
      while (sim.inflight.length > 0) sim.deliver(sim.random(sim.inflight.length))
      expect(sim.now).toBe(before)
      for (const i of rest) {
        expect(sim.views[i]!.members().map((m) => m.peerId)).not.toContain(id(victim))
        expect(sim.views[i]!.epoch).toBeGreaterThan(e2)
      }
      sim.settle()
      const e3 = sim.expectConverged(rest)
      expect(e3).toBeGreaterThan(e2)
    }), { numRuns: 60 })
  })

  it('a node partitioned from everyone comes back and views converge', () => {
    const sim = new Sim(5, 12345)
    sim.settle()
    const e0 = sim.expectConverged([0, 1, 2, 3, 4])
    // node 4 keeps running but its messages are lost in both directions
    sim.cut.add(4)
    for (let r = 0; r < 8; r++) sim.round()
    expect(sim.views[4]!.members().map((m) => m.peerId)).toEqual([id(4)])
    expect(sim.views[0]!.members()).toHaveLength(4)
    expect(sim.views[4]!.epoch).toBeGreaterThan(e0)
    sim.cut.delete(4)
    sim.settle()
    const e1 = sim.expectConverged([0, 1, 2, 3, 4])
    expect(e1).toBeGreaterThan(e0 + 1n)
  })
})
