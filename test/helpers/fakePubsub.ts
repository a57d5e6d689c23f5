// Fakes for unit tests of the gossip layer (no sockets): a pubsub service that records what is
// published and lets the test decide whether a mesh exists, deliver messages as gossipsub would
// (validator first, then the 'message' event), and a pino-shaped logger that keeps its lines.
import type { Message, PeerId, TopicValidatorFn } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Host } from '../../src/net/host.js'

/** what gossipsub throws while no peer of the topic is in the mesh */
export const NO_PEERS_ERROR = 'PublishError.NoPeersSubscribedToTopic'

export class FakePubsub extends EventTarget {
  readonly topicValidators = new Map<string, TopicValidatorFn>()
  readonly subscribed = new Set<string>()
  /** every successful publish, in order */
  readonly published: Array<{ topic: string, data: Uint8Array }> = []
  /** false: publish throws NoPeersSubscribedToTopic, as gossipsub does before a graft */
  mesh = false
  /** when set, publish throws this instead (a failure other than "no peers") */
  failWith: Error | undefined
  /** publish attempts, successful or not */
  attempts = 0

  subscribe (topic: string): void { this.subscribed.add(topic) }
  unsubscribe (topic: string): void { this.subscribed.delete(topic) }
  getSubscribers (_topic: string): PeerId[] { return this.mesh ? [{} as PeerId] : [] }

  async publish (topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }> {
    this.attempts++
    await Promise.resolve()
    if (this.failWith !== undefined) throw this.failWith
    if (!this.mesh) throw new Error(NO_PEERS_ERROR)
    this.published.push({ topic, data })
    return { recipients: [] }
  }

  /** a peer subscribed or left: gossipsub's 'subscription-change' */
  subscriptionChange (): void { this.dispatchEvent(new CustomEvent('subscription-change', { detail: {} })) }

  /** runs the topic's validator as gossipsub does before forwarding; its verdict */
  async validate (msg: Message): Promise<string> {
    const v = this.topicValidators.get(msg.topic)
    if (v === undefined) throw new Error(`no validator for ${msg.topic}`)
    return await v({} as PeerId, msg)
  }

  /** delivers a message that passed validation: gossipsub's 'message' event */
  deliver (msg: Message): void { this.dispatchEvent(new CustomEvent('message', { detail: msg })) }
}

/** a signed message from `from` (only toString() of the author is used) */
export function signed (topic: string, data: Uint8Array, from = 'author-peer'): Message {
  return { type: 'signed', topic, data, from: { toString: () => from }, sequenceNumber: 1n, signature: new Uint8Array(0), key: {} } as unknown as Message
}

export function unsigned (topic: string, data: Uint8Array): Message {
  return { type: 'unsigned', topic, data } as unknown as Message
}

export function fakeHost (pubsub: FakePubsub): Host {
  return { services: { pubsub } } as unknown as Host
}

export interface LogLine { level: string, obj: Record<string, unknown>, msg: string }

/** a logger that keeps every line (pino's (obj, msg) call shape) */
export function memoryLogger (): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: string) => (obj: unknown, msg?: string) => { lines.push({ level, obj: (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>, msg: msg ?? (typeof obj === 'string' ? obj : '') }) }
  const log: any = { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') }
  log.child = () => log
  return log
}
