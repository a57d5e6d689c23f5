// Bounded per-peer state: a node keeps entries per peer in many maps (last heartbeat, dial
// backoff, anti-entropy sync points and slots, floor digests, GC acks, identify results).
// Once the view evicts a member (silent past --evict-after), every one of them must drop it,
// or a node that sees members come and go for months grows without bound. Real in-process
// nodes over TCP on 127.0.13.x; /status's peerState counts the entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, waitFor } from '../helpers/inproc.js'

const EVICT_MS = 3000

describe('per-peer state', { timeout: 120_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(3, { copies: 2, ipPrefix: '127.0.13', ipBase: 10, evictAfterMs: EVICT_MS }) }, 120_000)
  afterAll(async () => { await c?.stop() })

  async function peerState (i: number): Promise<Record<string, number>> {
    const r = await fetch(`http://${c.specs[i].ip}:${c.specs[i].api}/status`, { signal: AbortSignal.timeout(10_000) })
    expect(r.status).toBe(200)
    return ((await r.json()) as { peerState: Record<string, number> }).peerState
  }

  it('holds entries for both peers while they live and drops the evicted one from every map', async () => {
    // every map fills: heartbeats, identify, sessions on connect, acks from beacons
    await waitFor(async () => {
      const s = await peerState(0)
      return s.heartbeats === 2 && s.objectPeers === 2 && s.synced === 2 && s.connected === 2 && s.gcAcks === 2 && s.aeSlots === 2 && s.floorHashes === 2
    }, 60_000, 'node 0 to hold state for both peers')
    const before = await peerState(0)
    expect(before.known).toBe(2)

    const gone = c.specs[2].peerId
    await c.stopNode(2)
    await waitFor(async () => (await peerState(0)).known === 1, 60_000, `node 0 to evict ${gone}`)
    // the eviction and the pruning happen in one tick: nothing of the peer is left in any map
    // but the dial backoff, which the stopped peer gets back at once as a bootstrap peer
    // (bootstrap addresses are dialed for ever, whether or not the view knows them)
    const after = await peerState(0)
    for (const [map, n] of Object.entries(after)) expect({ map, n }).toEqual({ map, n: map === 'backoffs' ? n : 1 })
    expect(after.backoffs).toBeLessThanOrEqual(1)

    // forgetting must not get in the way of the peer coming back
    await c.startNode(2)
    await waitFor(async () => {
      const s = await peerState(0)
      return s.known === 2 && s.heartbeats === 2 && s.objectPeers === 2
    }, 60_000, 'node 0 to take the restarted peer back')
  })
})
