// GossipTopic (src/net/gossipTopic.ts) on a fake pubsub, no sockets: messages published with
// no mesh peers wait in the outbox and go out in order on flush (or on a subscription change),
// an overflowing outbox drops the oldest and counts it, and the validator rejects unsigned
// messages before the handler sees them (the author is the signer, so unsigned has none).
import { describe, expect, it } from 'vitest'
import { GossipTopic, type TopicHandler } from '../../src/net/gossipTopic.js'
import { FakePubsub, fakeHost, memoryLogger, signed, unsigned } from '../helpers/fakePubsub.js'

const TOPIC = '/test/topic/1.0.0'
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)

function setup (init = { queueWhenNoPeers: true, maxOutbox: 8 }, verdict: 'accept' | 'reject' | 'ignore' = 'accept') {
  const ps = new FakePubsub()
  const log = memoryLogger()
  const seen = { validated: [] as Array<[Uint8Array, string]>, delivered: [] as Array<[Uint8Array, string]> }
  const handler: TopicHandler = {
    validate: (data, from) => { seen.validated.push([data, from]); return verdict },
    deliver: (data, from) => { seen.delivered.push([data, from]) }
  }
  const topic = new GossipTopic(fakeHost(ps), TOPIC, handler, log, init)
  topic.start()
  return { ps, log, seen, topic }
}

const sent = (ps: FakePubsub): number[] => ps.published.map((p) => p.data[0]!)

describe('GossipTopic outbox', () => {
  it('with no mesh peers a message is queued, not lost, and goes out on the next flush', async () => {
    const { ps, topic, log } = setup()
    expect(await topic.publish(bytes(1))).toBe('queued')
    expect(topic.pending).toBe(1)
    expect(topic.counters).toMatchObject({ published: 0, deferred: 1, dropped: 0, bytesOut: 0 })
    // "no peers yet" is the normal start of a node: not worth a warning
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([])

    await topic.flush() // still no mesh: stays queued
    expect(topic.pending).toBe(1)
    expect(ps.published).toEqual([])

    ps.mesh = true
    await topic.flush()
    expect(topic.pending).toBe(0)
    expect(ps.published).toEqual([{ topic: TOPIC, data: bytes(1) }])
    expect(topic.counters).toMatchObject({ published: 1, deferred: 1, dropped: 0, bytesOut: 1 })
  })

  it('keeps order: a message published while others wait goes behind them, and all go once a peer appears', async () => {
    const { ps, topic } = setup()
    expect(await topic.publish(bytes(1))).toBe('queued')
    expect(await topic.publish(bytes(2))).toBe('queued')
    ps.mesh = true
    // the outbox is not empty: this one is queued behind 1 and 2, and the flush sends all three
    expect(await topic.publish(bytes(3))).toBe('sent')
    expect(sent(ps)).toEqual([1, 2, 3])
    expect(topic.pending).toBe(0)
    expect(topic.counters.published).toBe(3)
  })

  it('a subscription change (a peer joined the topic) flushes the outbox', async () => {
    const { ps, topic } = setup()
    await topic.publish(bytes(7))
    ps.mesh = true
    ps.subscriptionChange()
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent(ps)).toEqual([7])
    expect(topic.pending).toBe(0)
  })

  it('a full outbox drops the oldest message, counts it and says so', async () => {
    const { ps, topic, log } = setup({ queueWhenNoPeers: true, maxOutbox: 2 })
    for (const b of [1, 2, 3, 4]) expect(await topic.publish(bytes(b))).toBe('queued')
    expect(topic.pending).toBe(2)
    expect(topic.counters).toMatchObject({ deferred: 4, dropped: 2 })
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'gossip outbox full: dropped the oldest message (anti-entropy will repair)',
      'gossip outbox full: dropped the oldest message (anti-entropy will repair)'
    ])
    ps.mesh = true
    await topic.flush()
    expect(sent(ps)).toEqual([3, 4])
  })

  it('a topic that does not queue (heartbeats) skips instead, keeping nothing', async () => {
    const { ps, topic } = setup({ queueWhenNoPeers: false, maxOutbox: 8 })
    expect(await topic.publish(bytes(1))).toBe('skipped')
    expect(topic.pending).toBe(0)
    expect(topic.counters).toMatchObject({ published: 0, deferred: 1, dropped: 0 })
    ps.mesh = true
    await topic.flush()
    expect(ps.published).toEqual([])
    expect(await topic.publish(bytes(2))).toBe('sent')
  })

  it('a publish failure other than "no peers" is logged and the message still waits', async () => {
    const { ps, topic, log } = setup()
    ps.mesh = true
    ps.failWith = new Error('stream reset')
    expect(await topic.publish(bytes(5))).toBe('queued')
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ msg: 'publish failed', obj: expect.objectContaining({ err: 'Error: stream reset' }) })])
    ps.failWith = undefined
    await topic.flush()
    expect(sent(ps)).toEqual([5])
  })
})

describe('GossipTopic validation and delivery', () => {
  it('rejects an unsigned message before the handler sees it, and counts it', async () => {
    const { ps, topic, seen } = setup()
    expect(await ps.validate(unsigned(TOPIC, bytes(1)))).toBe('reject')
    expect(seen.validated).toEqual([])
    expect(topic.counters.rejected).toBe(1)
  })

  it('asks the handler about a signed message, with its author, and maps the verdict', async () => {
    for (const verdict of ['accept', 'reject', 'ignore'] as const) {
      const { ps, topic, seen } = setup(undefined, verdict)
      expect(await ps.validate(signed(TOPIC, bytes(9), 'peer-A'))).toBe(verdict)
      expect(seen.validated).toEqual([[bytes(9), 'peer-A']])
      expect(topic.counters.rejected).toBe(verdict === 'reject' ? 1 : 0)
    }
  })

  it('delivers signed messages of its topic only, counting bytes in', () => {
    const { ps, topic, seen } = setup()
    ps.deliver(signed(TOPIC, bytes(1, 2, 3), 'peer-B'))
    ps.deliver(unsigned(TOPIC, bytes(4)))
    ps.deliver(signed('/other/topic', bytes(5), 'peer-C'))
    expect(seen.delivered).toEqual([[bytes(1, 2, 3), 'peer-B']])
    expect(topic.counters).toMatchObject({ received: 1, bytesIn: 3 })
  })

  it('stop() unsubscribes and removes its validator and listeners', () => {
    const { ps, topic, seen } = setup()
    expect(ps.subscribed.has(TOPIC)).toBe(true)
    topic.stop()
    expect(ps.subscribed.has(TOPIC)).toBe(false)
    expect(ps.topicValidators.has(TOPIC)).toBe(false)
    ps.deliver(signed(TOPIC, bytes(1)))
    expect(seen.delivered).toEqual([])
  })
})
