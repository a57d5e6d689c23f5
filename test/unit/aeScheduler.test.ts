// The anti-entropy scheduler's watchdog: a session that never ends (the busy-forever bug of a
// libp2p sink nobody drained) frees its peer's slot, is reported as a failure to whoever
// waited on it, and the next session with that peer runs. A session that ends in time is not
// touched. The service here answers from a script, one entry per call.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { AeScheduler } from '../../src/antientropy/aeScheduler.js'
import type { AntiEntropyService, SessionReport } from '../../src/net/aeService.js'
import { systemTime } from '../../src/time.js'

const report = (peer: string, ms: number): SessionReport => ({
  peer, role: 'initiator', startedAt: Date.now(), ms, bytesIn: 1, bytesOut: 1, framesIn: 1, framesOut: 1, rounds: 1, learned: 0, sent: 0
})

/** each call takes the next step: 'hang' never settles, a number resolves after that many ms */
function scripted (steps: Array<'hang' | number>): { service: AntiEntropyService, calls: () => number } {
  let calls = 0
  const service = {
    sync: async (peer: string): Promise<SessionReport> => {
      const step = steps[calls++] ?? 0
      if (step === 'hang') return await new Promise<SessionReport>(() => {})
      return await new Promise((resolve) => setTimeout(() => { resolve(report(peer, step)) }, step))
    }
  } as unknown as AntiEntropyService
  return { service, calls: () => calls }
}

function scheduler (service: AntiEntropyService, watchdogMs: number): AeScheduler {
  const deps = { self: 'a', summary: () => ({ count: 0, fingerprint: 0n, floorHash: 0n }), reachable: () => true }
  return new AeScheduler(service, deps, pino({ level: 'silent' }), systemTime, watchdogMs)
}

describe('AeScheduler watchdog', () => {
  it('frees the slot of a session that never ends, reports it failed, and runs the next one', async () => {
    const { service, calls } = scripted(['hang', 5])
    const s = scheduler(service, 100)
    const first = await s.syncNow('b')
    expect(first?.error).toMatch(/did not end within 100 ms/)
    expect(s.stuck).toBe(1)
    expect(s.active).toBe(0)
    // without the watchdog this waits forever behind the first session
    const second = await s.syncNow('b')
    expect(second?.error).toBeUndefined()
    expect(calls()).toBe(2)
    expect(s.stuck).toBe(1)
    s.stop()
  })

  it('leaves a session that ends before the watchdog alone', async () => {
    const { service } = scripted([20])
    const s = scheduler(service, 1000)
    const r = await s.syncNow('b')
    expect(r?.error).toBeUndefined()
    expect(s.stuck).toBe(0)
    expect(s.active).toBe(0)
    s.stop()
  })

  it('a stuck session with one peer does not hold up another peer', async () => {
    const { service } = scripted(['hang', 5])
    const s = scheduler(service, 60_000)
    void s.syncNow('b')
    const other = await s.syncNow('c')
    expect(other?.error).toBeUndefined()
    expect(s.active).toBe(1)
    s.stop()
  })
})
