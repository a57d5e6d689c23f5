// The anti-entropy scheduler in virtual time (src/time.ts): the watchdog frees a stuck slot
// exactly at its deadline, a failing peer's beacon triggers back off 500, 1000, 2000 … ms (capped
// at 15 s), a clean session holds beacon triggers off for AE_MIN_INTERVAL_MS, and the larger
// peer id waits out the tie-break grace. Sessions take virtual time too; nothing sleeps.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { AeScheduler, type Beacon } from '../../src/antientropy/aeScheduler.js'
import type { AntiEntropyService, SessionReport } from '../../src/net/aeService.js'
import { AE_MIN_INTERVAL_MS } from '../../src/net/constants.js'
import { VirtualTime } from '../../src/time.js'

type Step = 'hang' | 'fail' | number

/** sessions answer from a script: 'hang' never ends, 'fail' throws after 10 ms, n ends cleanly after n ms */
function setup (steps: Step[], opts: { self?: string, watchdogMs?: number } = {}) {
  const vt = new VirtualTime(1_000_000)
  const started: Array<{ peer: string, at: number }> = []
  const service = {
    sync: async (peer: string): Promise<SessionReport> => {
      const step = steps[started.length] ?? 5
      started.push({ peer, at: vt.now() })
      if (step === 'hang') return await new Promise<SessionReport>(() => {})
      const t0 = vt.now()
      await vt.sleep(step === 'fail' ? 10 : step)
      if (step === 'fail') throw new Error('stream reset')
      return { peer, role: 'initiator', startedAt: t0, ms: vt.now() - t0, bytesIn: 1, bytesOut: 1, framesIn: 1, framesOut: 1, rounds: 1, learned: 0, sent: 0 }
    }
  } as unknown as AntiEntropyService
  const deps = { self: opts.self ?? 'a', summary: () => ({ count: 1, fingerprint: 1n, floorHash: 0n }), reachable: () => true }
  const s = new AeScheduler(service, deps, pino({ level: 'silent' }), vt, opts.watchdogMs ?? 60_000)
  return { vt, s, started }
}

const differs: Beacon = { count: 2n, fingerprint: 2n, floorHash: 0n }

describe('AeScheduler in virtual time', () => {
  it('the watchdog frees a session that never ends exactly at its deadline', async () => {
    const { vt, s } = setup(['hang', 5], { watchdogMs: 1000 })
    let report: SessionReport | undefined
    const p = s.syncNow('b').then((r) => { report = r })
    await vt.advanceAsync(999)
    expect(report).toBeUndefined()
    expect(s.active).toBe(1)
    await vt.advanceAsync(1)
    await p
    expect(report?.error).toBe('session did not end within 1000 ms')
    expect(s.stuck).toBe(1)
    expect(s.active).toBe(0)
    const next = await vt.drive(s.syncNow('b'))
    expect(next?.error).toBeUndefined()
    s.stop()
  })

  it('backs off a failing peer 500, 1000, 2000, 4000, 8000 ms, then 15 s at most', async () => {
    const { vt, s, started } = setup(Array(10).fill('fail'))
    s.onBeacon('b', differs)
    await vt.advanceAsync(10) // the first session fails
    for (const backoff of [500, 1000, 2000, 4000, 8000, 15_000, 15_000]) {
      const failedAt = vt.now()
      const n = started.length
      await vt.advanceAsync(backoff - 1)
      s.onBeacon('b', differs)
      expect(started.length).toBe(n) // still backing off
      await vt.advanceAsync(1)
      s.onBeacon('b', differs)
      expect(started.length).toBe(n + 1)
      expect(started[n].at).toBe(failedAt + backoff)
      await vt.advanceAsync(10) // and it fails again
    }
    s.stop()
  })

  it('a new connection reconciles at once, backoff or not', async () => {
    const { vt, s, started } = setup(['fail', 5])
    s.onBeacon('b', differs)
    await vt.advanceAsync(10)
    s.onConnect('b')
    expect(started.map((x) => x.at)).toEqual([1_000_000, 1_000_010])
    s.stop()
  })

  it('after a clean session a beacon mismatch waits AE_MIN_INTERVAL_MS', async () => {
    const { vt, s, started } = setup([5, 5])
    s.onBeacon('b', differs)
    await vt.advanceAsync(5)
    const endedAt = vt.now()
    await vt.advanceAsync(AE_MIN_INTERVAL_MS - 1)
    s.onBeacon('b', differs)
    expect(started).toHaveLength(1)
    await vt.advanceAsync(1)
    s.onBeacon('b', differs)
    expect(started).toHaveLength(2)
    expect(started[1].at).toBe(endedAt + AE_MIN_INTERVAL_MS)
    s.stop()
  })

  it('the larger peer id leaves a mismatch to the smaller one for 3 s, then starts itself', async () => {
    const { vt, s, started } = setup([5], { self: 'c' })
    s.onBeacon('b', differs)
    expect(started).toHaveLength(0)
    await vt.advanceAsync(3000)
    s.onBeacon('b', differs)
    expect(started).toHaveLength(0)
    await vt.advanceAsync(1)
    s.onBeacon('b', differs)
    expect(started).toHaveLength(1)
    s.stop()
  })
})
