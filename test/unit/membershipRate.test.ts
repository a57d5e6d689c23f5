// Heartbeat periods that stretch with the cluster size (src/membership/rate.ts), in virtual
// time with the real MembershipView: N nodes each beat every heartbeatIntervalMs(own member
// count) (±20 % jitter) and every beat reaches every other node (gossipsub floods the members
// topic). Each node hears about the same number of beats per second at 10, 25 and 50 nodes,
// nobody is declared dead while all are up, and a node that stops is declared dead by every
// other node after its scaled timeout and within one failure tick of it.
import { describe, expect, it } from 'vitest'
import { MembershipView } from '../../src/membership/view.js'
import { failAfterMs, heartbeatIntervalMs, type RateParams } from '../../src/membership/rate.js'
import { FAIL_AFTER_BEATS, HEARTBEATS_PER_SEC, MAX_MEMBER_COUNT } from '../../src/membership/constants.js'
import { seededRng } from '../../src/rng.js'

const RATE: RateParams = { baseIntervalMs: 1000, baseFailAfterMs: 5000, perSec: HEARTBEATS_PER_SEC }
const TICK_MS = 500

interface Run { heardPerNodePerSec: number, deadAfterMs: number[], falseDeaths: number }

/** n nodes converge for 60 s, then node 0 stops; measures the last 30 s before and the detection after */
function run (n: number, rate: RateParams, seed = 1n): Run {
  const rng = seededRng(seed)
  const ids = Array.from({ length: n }, (_, i) => `peer-${String(i).padStart(3, '0')}`)
  const views = ids.map((id) => new MembershipView({ peerId: id, addrs: [], zone: 0, api: 'http://127.0.0.1:1', incarnation: 1n }, { failAfterMs: rate.baseFailAfterMs, failAfterFor: (c) => failAfterMs(c, rate) }))
  const nextBeat = ids.map(() => rng() * rate.baseIntervalMs)
  const heard = ids.map(() => 0)
  const up = ids.map(() => true)
  let falseDeaths = 0
  const STOP_AT = 60_000
  const deadAt: number[] = ids.map(() => -1)
  let t = 0
  let nextTick = 0
  while (t < STOP_AT + 20 * failAfterMs(n, rate)) {
    // the next event: a beat or a failure tick
    let who = -1
    let at = nextTick
    for (let i = 0; i < n; i++) if (up[i] && nextBeat[i]! < at) { at = nextBeat[i]!; who = i }
    t = at
    if (t >= STOP_AT && up[0]) up[0] = false
    if (who >= 0) {
      const hb = views[who]!.heartbeat()
      for (let j = 0; j < n; j++) {
        if (j === who || !up[j]) continue
        views[j]!.onHeartbeat(hb, t)
        if (t >= STOP_AT - 30_000 && t < STOP_AT) heard[j]!++
      }
      nextBeat[who] = t + heartbeatIntervalMs(views[who]!.members().length, rate) * (0.8 + rng() * 0.4)
    } else {
      nextTick += TICK_MS
      for (let j = 0; j < n; j++) {
        if (!up[j]) continue
        const ch = views[j]!.tick(t)
        for (const gone of ch?.left ?? []) {
          if (gone === ids[0] && t >= STOP_AT) { if (deadAt[j] === -1) deadAt[j] = t } else falseDeaths++
        }
      }
    }
  }
  const lastHeard0 = Math.max(...views.slice(1).map((v) => v.lastHeard(ids[0]!) ?? 0))
  return {
    heardPerNodePerSec: heard.slice(1).reduce((a, b) => a + b, 0) / (n - 1) / 30,
    deadAfterMs: deadAt.slice(1).map((d) => d - lastHeard0),
    falseDeaths
  }
}

describe('heartbeat periods scaled by the member count', () => {
  it('the period and the timeout: the base up to HEARTBEATS_PER_SEC members, then N / HEARTBEATS_PER_SEC s; forged counts are clamped', () => {
    expect(heartbeatIntervalMs(1, RATE)).toBe(1000)
    expect(heartbeatIntervalMs(HEARTBEATS_PER_SEC, RATE)).toBe(1000)
    expect(heartbeatIntervalMs(50, RATE)).toBe(50_000 / HEARTBEATS_PER_SEC)
    expect(failAfterMs(3, RATE)).toBe(5000)
    expect(failAfterMs(50, RATE)).toBe(FAIL_AFTER_BEATS * 50_000 / HEARTBEATS_PER_SEC)
    expect(heartbeatIntervalMs(2 ** 32, RATE)).toBe(heartbeatIntervalMs(MAX_MEMBER_COUNT, RATE))
    expect(heartbeatIntervalMs(Number.NaN, RATE)).toBe(1000)
    // 0 per second: the fixed period and timeout of before
    expect(heartbeatIntervalMs(50, { ...RATE, perSec: 0 })).toBe(1000)
    expect(failAfterMs(50, { ...RATE, perSec: 0 })).toBe(5000)
  })

  it('each node hears a flat number of beats per second from 10 to 50 nodes; the fixed period grows with N', () => {
    const scaled = [10, 25, 50].map((n) => run(n, RATE).heardPerNodePerSec)
    const fixed = [10, 25, 50].map((n) => run(n, { ...RATE, perSec: 0 }).heardPerNodePerSec)
    for (const r of scaled) expect(r).toBeGreaterThan(HEARTBEATS_PER_SEC * 0.8)
    for (const r of scaled) expect(r).toBeLessThan(HEARTBEATS_PER_SEC * 1.2)
    expect(fixed[2]! / fixed[0]!).toBeGreaterThan(4.5)
  })

  it('a stopped node is declared dead by every other after its scaled timeout, within a tick of it; none falsely', () => {
    for (const n of [10, 25, 50]) {
      const r = run(n, RATE, BigInt(n))
      expect(r.falseDeaths).toBe(0)
      const limit = failAfterMs(n, RATE)
      for (const d of r.deadAfterMs) {
        expect(d).toBeGreaterThan(limit - 1)
        // every view heard its last beat at the same moment (the beat reaches all at once here)
        expect(d).toBeLessThanOrEqual(limit + TICK_MS)
      }
    }
  })

  it('a member is given the timeout of the larger count (ours or its reported one); a bad reported count is refused', () => {
    const view = new MembershipView({ peerId: 'me', addrs: [], zone: 0, api: 'http://127.0.0.1:1', incarnation: 1n }, { failAfterMs: 5000, failAfterFor: (c) => failAfterMs(c, RATE) })
    const hb = (peerId: string, memberCount?: number) => ({ peerId, addrs: [], zone: 0, api: 'http://127.0.0.1:2', incarnation: 1n, epoch: 0n, membersHash: 0n, leaving: false, memberCount })
    view.onHeartbeat(hb('big', 50), 0)
    view.onHeartbeat(hb('small', 2), 0)
    view.onHeartbeat(hb('silent'), 0)
    expect(view.failAfter('big')).toBe(failAfterMs(50, RATE))
    expect(view.failAfter('small')).toBe(5000)
    expect(view.failAfter('silent')).toBe(5000)
    // at the base timeout only the members that reported small counts are dead
    const ch = view.tick(5001)
    expect(ch?.left).toEqual(['silent', 'small'])
    expect(view.status('big')).toBe('alive')
    expect(view.tick(failAfterMs(50, RATE) + 1)?.left).toEqual(['big'])
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => view.onHeartbeat(hb('x', bad), 1)).toThrow(/memberCount/)
  })
})
