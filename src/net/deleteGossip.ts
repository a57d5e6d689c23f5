// Deletes on gossipsub: records made here are coalesced for a few milliseconds and packed
// into size-bounded batches (many records per message, large discards already split into
// records); batches from peers are validated before gossipsub forwards them, then ingested.
// Built like the other net services (js-libp2p's ping): components + init, defaults in
// ./constants.ts, start/stop, a logger scoped to this component.
import type { Logger } from 'pino'
import { GossipTopic } from './gossipTopic.js'
import type { Host } from './host.js'
import { DELETES_COALESCE_MS, DELETES_FLUSH_MS, OUTBOX_MAX_BATCHES, TOPIC_DELETES, TOPIC_DELETES_NAME } from './constants.js'
import { decodeBatch, packBatches } from '../tombstones/batch.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { RecordSource } from '../tombstones/replicaTypes.js'
import type { NodeMetrics } from '../node/metrics.js'
import type { RecordAdmission } from '../node/admission.js'
import { Rejections } from '../node/rejections.js'
import { systemTime, type TimerHandle, type Timers } from '../time.js'

/** where delivered batches go: the node's delete driver (persist, apply, purge) */
export interface RecordIngest {
  ingest (recs: DeleteRec[], source: RecordSource): Promise<unknown>
}

export interface DeleteGossipComponents {
  host: Host
  /** where delivered batches go */
  pipeline: RecordIngest
  metrics: NodeMetrics
  logger: Logger
  /** the trust checks: origin = signed author, generation and seq bounds (whole message) */
  admission: Pick<RecordAdmission, 'checkGossip'>
  /** shared with the other receivers so a peer's refusals are counted once; own one if absent */
  rejections?: Rejections
  /** the coalescing window and the outbox flush run on it */
  timers?: Timers
}

export interface DeleteGossipInit {
  coalesceMs?: number
  flushMs?: number
  maxOutbox?: number
}

export class DeleteGossip {
  readonly topic: GossipTopic
  private pending: DeleteRec[] = []
  private timer: TimerHandle | undefined
  private flushTimer: TimerHandle | undefined
  private inflight: Promise<void> = Promise.resolve()
  private readonly pipeline: RecordIngest
  private readonly metrics: NodeMetrics
  private readonly log: Logger
  private readonly admission: Pick<RecordAdmission, 'checkGossip'>
  private readonly rejections: Rejections
  private readonly time: Timers
  private readonly coalesceMs: number
  private readonly flushMs: number

  constructor (components: DeleteGossipComponents, init: DeleteGossipInit = {}) {
    this.pipeline = components.pipeline
    this.metrics = components.metrics
    this.log = components.logger.child({ component: 'delete-gossip' })
    this.admission = components.admission
    this.rejections = components.rejections ?? new Rejections(components.metrics, this.log)
    this.time = components.timers ?? systemTime
    this.coalesceMs = init.coalesceMs ?? DELETES_COALESCE_MS
    this.flushMs = init.flushMs ?? DELETES_FLUSH_MS
    this.topic = new GossipTopic(components.host, TOPIC_DELETES, {
      validate: (data, from) => this.validate(data, from),
      deliver: (data, from) => { this.deliver(data, from) }
    }, this.log, { queueWhenNoPeers: true, maxOutbox: init.maxOutbox ?? OUTBOX_MAX_BATCHES })
  }

  start (): void {
    this.topic.start()
    // batches queued before the mesh formed go out as soon as it has a peer
    this.flushTimer = this.time.setInterval(() => { void this.topic.flush() }, this.flushMs)
  }

  async stop (): Promise<void> {
    this.time.clearTimeout(this.timer)
    this.time.clearInterval(this.flushTimer)
    await this.send()
    await this.inflight
    this.topic.stop()
  }

  /** queue records this node made (already ingested locally) for gossip */
  publish (recs: DeleteRec[]): void {
    this.pending.push(...recs)
    this.timer ??= this.time.setTimeout(() => { this.timer = undefined; void this.send() }, this.coalesceMs)
  }

  private async send (): Promise<void> {
    const recs = this.pending
    this.pending = []
    if (recs.length === 0) return
    for (const batch of packBatches(recs)) {
      this.metrics.gossipBytes.inc({ topic: TOPIC_DELETES_NAME, direction: 'out' }, batch.byteLength)
      const r = await this.topic.publish(batch)
      if (r !== 'sent') this.log.info({ records: recs.length, outbox: this.topic.pending }, 'no mesh peers yet: delete batch queued')
    }
  }

  /** the whole message is accepted or rejected: its author vouches for every record in it */
  private async validate (data: Uint8Array, from: string): Promise<'accept' | 'reject'> {
    let recs: DeleteRec[]
    try {
      recs = decodeBatch(data)
    } catch (err) {
      this.rejections.note('delete-batch', 'malformed delete batch', { from, bytes: data.byteLength, err: String((err as Error).message ?? err) })
      return 'reject'
    }
    const why = await this.admission.checkGossip(recs, from)
    if (why === undefined) return 'accept'
    this.rejections.note(why.kind, `delete batch of ${recs.length} records refused whole: ${why.reason}`, { from })
    return 'reject'
  }

  private deliver (data: Uint8Array, from: string): void {
    this.metrics.gossipBytes.inc({ topic: TOPIC_DELETES_NAME, direction: 'in' }, data.byteLength)
    const recs = decodeBatch(data)
    // serialised so records apply in arrival order and stop() can wait for them
    this.inflight = this.inflight.then(async () => {
      await this.pipeline.ingest(recs, 'gossip')
    }).catch((err) => {
      this.log.error({ from, err: String(err) }, 'ingesting gossiped deletes failed')
    })
  }
}
