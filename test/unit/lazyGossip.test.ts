// The IHAVE switch (src/net/lazyGossip.ts) on the option gossipsub reads every heartbeat; the
// real nodes' switching is covered in test/integration/heartbeatRelay.test.ts.
import { describe, expect, it } from 'vitest'
import { lazyGossipSwitch } from '../../src/net/lazyGossip.js'

describe('lazyGossipSwitch', () => {
  it('sets the gossip target count on and off', () => {
    const ps = { opts: { Dlazy: 3, D: 4 } }
    const set = lazyGossipSwitch(ps, 3)!
    set(false)
    expect(ps.opts).toEqual({ Dlazy: 0, D: 4 })
    set(true)
    expect(ps.opts).toEqual({ Dlazy: 3, D: 4 })
  })

  it('has nothing to switch on a pubsub without the option (floodsub) or on nothing', () => {
    expect(lazyGossipSwitch({ opts: {} }, 3)).toBeUndefined()
    expect(lazyGossipSwitch({}, 3)).toBeUndefined()
    expect(lazyGossipSwitch(undefined, 3)).toBeUndefined()
    expect(lazyGossipSwitch({ opts: { Dlazy: '3' } }, 3)).toBeUndefined()
  })
})
