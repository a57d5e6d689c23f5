// Deadlines (src/deadline.ts) in virtual time: LATE exactly when the time runs out, the value
// when the promise wins, a rejection passed through, and no timer left behind either way.
import { describe, expect, it } from 'vitest'
import { LATE, settlesWithin, within } from '../../src/deadline.js'
import { VirtualTime } from '../../src/time.js'

describe('within (virtual time)', () => {
  it('fires LATE exactly at the deadline, not a millisecond before', async () => {
    const vt = new VirtualTime()
    let out: unknown
    const p = within(new Promise<string>(() => {}), 500, vt).then((r) => { out = r })
    await vt.advanceAsync(499)
    expect(out).toBeUndefined()
    await vt.advanceAsync(1)
    await p
    expect(out).toBe(LATE)
    expect(vt.now()).toBe(500)
    expect(vt.pending).toBe(0)
  })

  it('resolves with the value when the promise wins, and clears its timer', async () => {
    const vt = new VirtualTime()
    const v = vt.sleep(200).then(() => 'done')
    const r = await vt.drive(within(v, 500, vt))
    expect(r).toBe('done')
    expect(vt.now()).toBe(200)
    expect(vt.pending).toBe(0)
  })

  it('passes a rejection through', async () => {
    const vt = new VirtualTime()
    const bad = vt.sleep(10).then(() => { throw new Error('boom') })
    await expect(vt.drive(within(bad, 500, vt))).rejects.toThrow('boom')
    expect(vt.pending).toBe(0)
  })

  it('settlesWithin: true for a rejection in time, false for one after the deadline', async () => {
    const vt = new VirtualTime()
    const early = vt.sleep(10).then(() => { throw new Error('x') })
    expect(await vt.drive(settlesWithin(early, 100, vt))).toBe(true)
    const late = vt.sleep(200)
    expect(await vt.drive(settlesWithin(late, 100, vt))).toBe(false)
    expect(vt.now()).toBe(110)
  })
})
