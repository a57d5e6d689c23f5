// Heartbeats go one hop in a whole cluster and are relayed while a connection is cut
// (src/membership/relay.ts), on a real 5-node cluster (in-process nodes, real TCP). Whole: every
// member hears every beat from its author, so relays are only news. Bridge partition (nodes 0
// and 4 cut off from each other, both still reaching 1, 2 and 3): both report the other as
// unheard, every node relays, and neither declares the other dead however long the cut lasts,
// as when every beat was relayed. Healed: the reports stop and so does the relaying. IHAVE
// gossip (src/net/lazyGossip.ts) follows the same reports: off in a whole cluster, on during the cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { GOSSIP_D_LAZY } from '../../src/net/constants.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('heartbeat relaying', { timeout: 120_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(5, { copies: 3, ipPrefix: '127.0.7', ipBase: 10 }) })
  afterAll(async () => { await c?.stop() })

  const all = [0, 1, 2, 3, 4]
  const relayed = async (): Promise<number> => (await Promise.all(all.map(async (i) => (await c.node(i).node.metrics.heartbeatsRelayed.get()).values[0]?.value ?? 0))).reduce((a, b) => a + b, 0)
  const delivered = (): number => all.map((i) => c.node(i).node.membership.topic.counters.received).reduce((a, b) => a + b, 0)
  const unheard = (): number[] => all.map((i) => c.node(i).node.membership.unheardMembers)
  /** each node's gossipsub IHAVE target count as gossipsub itself will read it on its next heartbeat */
  const ihaveTargets = (): number[] => all.map((i) => (c.node(i).node.libp2p.services.pubsub as unknown as { opts: { Dlazy: number } }).opts.Dlazy)

  it('relays almost nothing in a whole cluster: every member hears every beat from its author', async () => {
    await waitFor(() => unheard().every((n) => n === 0), 20_000, 'every node to hear every member straight from it')
    const [r0, d0] = [await relayed(), delivered()]
    await sleep(6000)
    const [r, d] = [await relayed() - r0, delivered() - d0]
    // five nodes beat once a second: each hears four beats a second
    expect(d, 'heartbeats delivered in 6 s').toBeGreaterThan(40)
    // every beat was relayed before (r = d); a late beat under load may flip a report for a moment
    expect(r, `heartbeats relayed of ${d} delivered`).toBeLessThan(d / 4)
    // switched on the 500 ms tick from the last reports, which a late beat may flip for a moment
    await waitFor(() => ihaveTargets().every((n) => n === 0), 10_000, `IHAVE off on every node in a whole cluster (${ihaveTargets().join(', ')})`)
  })

  it('keeps a cut-off pair alive to each other through the others, for longer than the failure timeout', async () => {
    const [p0, p4] = [c.node(0).peerId, c.node(4).peerId]
    const direct = (): number => c.node(0).node.libp2p.getConnections(peerIdFromString(p4)).length + c.node(4).node.libp2p.getConnections(peerIdFromString(p0)).length
    expect((await c.api(0, 'POST', '/chaos/partition', { peers: [p4] })).status).toBe(200)
    expect((await c.api(4, 'POST', '/chaos/partition', { peers: [p0] })).status).toBe(200)
    try {
      await waitFor(() => direct() === 0, 10_000, 'nodes 0 and 4 to hang up on each other')
      await waitFor(() => unheard()[0]! >= 1 && unheard()[4]! >= 1, 10_000, 'nodes 0 and 4 to report each other unheard')
      // every node hears the reports (nodes 1-3 from 0 and 4) and gossips IHAVE again
      await waitFor(() => ihaveTargets().every((n) => n === GOSSIP_D_LAZY), 10_000, `every node to gossip IHAVE during the cut (${ihaveTargets().join(', ')})`)
      const r0 = await relayed()
      const failAfter = Math.max(c.node(0).node.membership.view.failAfter(p4), c.node(4).node.membership.view.failAfter(p0))
      const until = Date.now() + 2 * failAfter
      let samples = 0
      while (Date.now() < until) {
        expect(c.node(4).node.membership.view.status(p0), 'node 0 in node 4\'s view').toBe('alive')
        expect(c.node(0).node.membership.view.status(p4), 'node 4 in node 0\'s view').toBe('alive')
        expect(direct(), 'a direct connection between nodes 0 and 4').toBe(0)
        samples++
        await sleep(250)
      }
      expect(samples).toBeGreaterThan(10)
      expect(await relayed() - r0, 'heartbeats relayed during the cut').toBeGreaterThan(10)
    } finally {
      for (const i of [0, 4]) await c.api(i, 'POST', '/chaos/heal')
    }
    await waitFor(() => direct() > 0, 30_000, 'nodes 0 and 4 to reconnect')
    await waitFor(() => unheard().every((n) => n === 0), 20_000, 'every node to hear every member straight from it again')
    await waitFor(() => ihaveTargets().every((n) => n === 0), 10_000, `IHAVE off again on every node (${ihaveTargets().join(', ')})`)
    // the reports are gone, so relaying stops: news only from here on
    await sleep(1000)
    const r1 = await relayed()
    const d1 = delivered()
    await sleep(5000)
    expect(await relayed() - r1, `heartbeats relayed after the heal, of ${delivered() - d1} delivered`).toBeLessThan((delivered() - d1) / 4)
  })
})
