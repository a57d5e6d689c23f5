// One gossipsub topic: validation before forwarding, delivery to the node, and an outbox
// for messages published before the mesh exists. Gossipsub throws
// PublishError.NoPeersSubscribedToTopic until a heartbeat grafts a peer; such messages wait
// here and are retried on every flush (and on subscription changes), never silently lost —
// only when the bounded outbox overflows is the oldest dropped, counted and logged
// (the delete log still holds it, and anti-entropy repairs).
import { TopicValidatorResult, type Message, type PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Host } from './host.js'

/** 'local': valid, delivered to this node, not forwarded (src/membership/relay.ts) */
export type Verdict = 'accept' | 'local' | 'reject' | 'ignore'

export interface TopicHandler {
  /** decide before forwarding; `from` is the message's signed author. 'reject' penalises the forwarder in gossipsub's scoring; 'local' delivers without forwarding. Must not block (gossipsub wants a verdict within ~100 ms) and must not throw. */
  validate (data: Uint8Array, from: string): Verdict | Promise<Verdict>
  /** an accepted message from another node */
  deliver (data: Uint8Array, from: string): void
}

export interface TopicCounters {
  published: number
  deferred: number
  dropped: number
  rejected: number
  received: number
  bytesOut: number
  bytesIn: number
}

export interface GossipTopicInit {
  /** queue messages that find no mesh peers (deletes); heartbeats are periodic and skip instead */
  queueWhenNoPeers: boolean
  maxOutbox: number
}

const NO_PEERS = 'NoPeersSubscribedToTopic'

export class GossipTopic {
  readonly counters: TopicCounters = { published: 0, deferred: 0, dropped: 0, rejected: 0, received: 0, bytesOut: 0, bytesIn: 0 }
  private readonly outbox: Uint8Array[] = []
  private flushing = false
  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    this.received(msg.data, msg.from.toString())
  }

  private received (data: Uint8Array, from: string): void {
    this.counters.received++
    this.counters.bytesIn += data.byteLength
    this.handler.deliver(data, from)
  }

  private readonly onSubscriptionChange = (): void => { void this.flush() }

  constructor (
    private readonly host: Host,
    readonly topic: string,
    private readonly handler: TopicHandler,
    private readonly log: Logger,
    private readonly init: GossipTopicInit
  ) {}

  start (): void {
    const ps = this.host.services.pubsub
    ps.topicValidators.set(this.topic, async (_forwarder: PeerId, msg: Message) => {
      // judge by the author (the signer), not by the peer that forwarded the message to us
      if (msg.type !== 'signed') { this.counters.rejected++; return TopicValidatorResult.Reject }
      let verdict: Verdict
      try {
        verdict = await this.handler.validate(msg.data, msg.from.toString())
      } catch (err) {
        // a validator bug must not become a verdict on the peer, nor escape
        this.log.error({ topic: this.topic, err: String(err) }, 'topic validator failed: message ignored')
        verdict = 'ignore'
      }
      if (verdict === 'reject') this.counters.rejected++
      if (verdict === 'local') {
        // gossipsub forwards nothing it was told to ignore, and does not score its sender for it
        this.received(msg.data, msg.from.toString())
        return TopicValidatorResult.Ignore
      }
      return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    ps.addEventListener('message', this.onMessage)
    ps.addEventListener('subscription-change', this.onSubscriptionChange)
    ps.subscribe(this.topic)
  }

  stop (): void {
    const ps = this.host.services.pubsub
    ps.removeEventListener('message', this.onMessage)
    ps.removeEventListener('subscription-change', this.onSubscriptionChange)
    ps.topicValidators.delete(this.topic)
    try { ps.unsubscribe(this.topic) } catch {}
  }

  get pending (): number { return this.outbox.length }

  /** subscribers of this topic we are connected to */
  subscribers (): number { return this.host.services.pubsub.getSubscribers(this.topic).length }

  async publish (data: Uint8Array): Promise<'sent' | 'queued' | 'skipped'> {
    if (this.outbox.length > 0 && this.init.queueWhenNoPeers) {
      this.enqueue(data)
      await this.flush()
      return this.outbox.includes(data) ? 'queued' : 'sent'
    }
    return await this.send(data)
  }

  /** retry queued messages in order; stops at the first that still finds no peers */
  async flush (): Promise<void> {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.outbox.length > 0) {
        const r = await this.send(this.outbox[0], false)
        if (r !== 'sent') break
        this.outbox.shift()
      }
    } finally {
      this.flushing = false
    }
  }

  private async send (data: Uint8Array, queue = true): Promise<'sent' | 'queued' | 'skipped'> {
    try {
      await this.host.services.pubsub.publish(this.topic, data)
      this.counters.published++
      this.counters.bytesOut += data.byteLength
      return 'sent'
    } catch (err) {
      if (!String((err as Error)?.message ?? err).includes(NO_PEERS)) {
        this.log.warn({ topic: this.topic, err: String(err) }, 'publish failed')
      }
      if (!this.init.queueWhenNoPeers) { this.counters.deferred++; return 'skipped' }
      if (queue) this.enqueue(data)
      return 'queued'
    }
  }

  private enqueue (data: Uint8Array): void {
    this.counters.deferred++
    this.outbox.push(data)
    while (this.outbox.length > this.init.maxOutbox) {
      this.outbox.shift()
      this.counters.dropped++
      this.log.warn({ topic: this.topic, max: this.init.maxOutbox }, 'gossip outbox full: dropped the oldest message (anti-entropy will repair)')
    }
  }
}
