// Fakes the fuzz handler targets drive node parts with, in-process and without sockets: a
// pubsub that runs a topic's validator and then its 'message' listeners the way gossipsub
// does (catching what a listener throws, which in a real node would be an uncaught
// exception), a libp2p stream whose source and sink are arrays, a quiet logger that counts
// error lines, and a collector of unhandled rejections.
import type { Message, PeerId, TopicValidatorFn } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Host } from '../net/host.js'

export class FuzzPubsub {
  readonly topicValidators = new Map<string, TopicValidatorFn>()
  private readonly listeners = new Map<string, Array<(evt: CustomEvent) => void>>()
  published = 0

  addEventListener (type: string, fn: (evt: CustomEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
  }

  removeEventListener (type: string, fn: (evt: CustomEvent) => void): void {
    this.listeners.set(type, (this.listeners.get(type) ?? []).filter((f) => f !== fn))
  }

  subscribe (_topic: string): void {}
  unsubscribe (_topic: string): void {}
  getSubscribers (_topic: string): PeerId[] { return [] }

  /** no mesh: gossipsub's NoPeersSubscribedToTopic, which the topics handle */
  async publish (_topic: string, _data: Uint8Array): Promise<never> {
    this.published++
    throw new Error('PublishError.NoPeersSubscribedToTopic')
  }

  async validate (msg: Message): Promise<string> {
    const v = this.topicValidators.get(msg.topic)
    if (v === undefined) throw new Error(`no validator for ${msg.topic}`)
    return await v({} as PeerId, msg)
  }

  /** gossipsub's 'message' event; returns what a listener threw (an uncaught exception in a node) */
  deliver (msg: Message): unknown[] {
    const thrown: unknown[] = []
    for (const fn of this.listeners.get('message') ?? []) {
      try { fn(new CustomEvent('message', { detail: msg })) } catch (err) { thrown.push(err) }
    }
    return thrown
  }
}

export function signedMessage (topic: string, data: Uint8Array, from: string): Message {
  return { type: 'signed', topic, data, from: { toString: () => from }, sequenceNumber: 1n, signature: new Uint8Array(0), key: {} } as unknown as Message
}

export function fuzzHost (pubsub: FuzzPubsub): Host {
  return {
    services: { pubsub },
    peerStore: { merge: async () => {} },
    getMultiaddrs: () => [],
    handle: async () => {},
    unhandle: async () => {}
  } as unknown as Host
}

/** a pino-shaped logger that drops lines but counts errors */
export function quietLogger (): Logger & { errors: string[] } {
  const errors: string[] = []
  const nop = (): void => {}
  const log: any = { errors, trace: nop, debug: nop, info: nop, warn: nop, fatal: nop }
  log.error = (obj: unknown, msg?: string) => { errors.push(`${msg ?? ''} ${JSON.stringify(obj, (_k, v) => typeof v === 'bigint' ? String(v) : v)}`) }
  log.child = () => log
  return log
}

/** unhandled rejections while installed (a node would log them through its process guard, or die) */
export class RejectionWatch {
  readonly seen: unknown[] = []
  private readonly fn = (reason: unknown): void => { this.seen.push(reason) }
  install (): void { process.on('unhandledRejection', this.fn) }
  uninstall (): void { process.off('unhandledRejection', this.fn) }
  /** lets pending promise jobs and timers of the last input run, so their rejections surface */
  async settle (): Promise<void> { await new Promise((resolve) => setImmediate(resolve)); await new Promise((resolve) => setImmediate(resolve)) }
}
