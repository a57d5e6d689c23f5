import { describe, expect, it } from 'vitest'
import { forEachLimit } from '../../src/limit.js'

describe('forEachLimit', () => {
  it('runs every item once, never more than `limit` at once, with its index', async () => {
    let inFlight = 0
    let most = 0
    const seen: number[] = []
    await forEachLimit([10, 11, 12, 13, 14, 15, 16], 3, undefined, async (item, i) => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 2))
      seen[i] = item
      inFlight--
    })
    expect(seen).toEqual([10, 11, 12, 13, 14, 15, 16])
    expect(most).toBe(3)
  })

  it('an aborted signal stops handing out items and rejects', async () => {
    const ctl = new AbortController()
    const ran: number[] = []
    await expect(forEachLimit([1, 2, 3, 4], 1, ctl.signal, async (item) => {
      ran.push(item)
      if (item === 2) ctl.abort()
    })).rejects.toThrow()
    expect(ran).toEqual([1, 2])
  })
})
