// A rejected heartbeat costs its author gossipsub score (issue 11: "peer-score penalty where it
// applies"): two real libp2p hosts over TCP on 127.0.7.30-31, built by createHost as nodes build
// theirs; the receiver's members-topic validator rejects everything. gossipsub only scores
// topics with score parameters, so without the members topic's the score stayed 0.
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHost, asGossipSub, type Host } from '../../src/net/host.js'
import { GossipTopic } from '../../src/net/gossipTopic.js'
import { TOPIC_MEMBERS } from '../../src/net/constants.js'
import { memoryLogger } from '../helpers/fakePubsub.js'
import { waitFor } from '../helpers/cli.js'

describe('gossipsub penalises the author of a rejected heartbeat', () => {
  const hosts: Host[] = []
  afterAll(async () => { for (const h of hosts) { try { await h.stop() } catch {} } })

  it('the sender\'s score on the receiver goes negative', async () => {
    const keyA = await generateKeyPair('Ed25519')
    const keyB = await generateKeyPair('Ed25519')
    const a = await createHost({ privateKey: keyA, listen: '127.0.7.30:7501', bootstrap: [] })
    const b = await createHost({ privateKey: keyB, listen: '127.0.7.31:7501', bootstrap: [] })
    hosts.push(a, b)
    await a.start()
    await b.start()
    let rejected = 0
    const topic = new GossipTopic(a, TOPIC_MEMBERS, { validate: () => { rejected++; return 'reject' }, deliver: () => {} }, memoryLogger(), { queueWhenNoPeers: false, maxOutbox: 0 })
    topic.start()
    await b.dial(a.getMultiaddrs()[0]!)
    const bId = peerIdFromPrivateKey(keyB).toString()
    await waitFor('b to see a subscribed', 30_000, async () => b.services.pubsub.getSubscribers(TOPIC_MEMBERS).length > 0, 100)
    let k = 0
    await waitFor('a to reject and score b down', 30_000, async () => {
      await b.services.pubsub.publish(TOPIC_MEMBERS, new Uint8Array([k++])).catch(() => {})
      return rejected > 0 && asGossipSub(a)!.getScore(bId) < 0
    }, 200)
    expect(asGossipSub(a)!.getScore(bId)).toBeLessThan(0)
    topic.stop()
  }, 60_000)
})
