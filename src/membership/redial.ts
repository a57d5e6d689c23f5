// Keeps this node connected to every member it knows: each tick dials the known members (and
// bootstrap peers not yet members) it has no connection to, a few at a time, with a doubling
// backoff per peer, and hangs up connections on which a dead member stayed silent (a cut that
// drops packets can leave a connection open and dead; a fresh one works once the cut heals).
// Bootstrap dials only once, so without this a healed partition would never reconnect.
// MembershipService ticks it on its timer and asks for a dial round at once after a heal.
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection } from '@libp2p/interface'
import type { Logger } from 'pino'
import { DIAL_TIMEOUT_MS, STALE_CONNECTION_MS } from '../net/constants.js'
import type { Host } from '../net/host.js'
import type { NodeMetrics } from '../node/metrics.js'
import type { MembershipView } from './view.js'

const MAX_BACKOFF_MS = 4_000
const MAX_PARALLEL_DIALS = 8

export interface RedialComponents {
  host: Host
  view: MembershipView
  metrics: NodeMetrics
  log: Logger
  /** membership's clock (virtual in tests) */
  now: () => number
}

export class Redialer {
  private readonly backoff = new Map<string, { next: number, delay: number }>()
  private dialing = 0

  constructor (private readonly c: RedialComponents, private readonly self: string, private readonly bootstrap: readonly string[]) {}

  /** peers waiting out a dial backoff (bounded state: forget drops the evicted) */
  get backoffs (): number { return this.backoff.size }

  forget (peer: string): void { this.backoff.delete(peer) }

  /** every peer may be dialled on the next tick (after a heal) */
  clearBackoffs (): void { this.backoff.clear() }

  /** one round: dial the known members and bootstrap peers without a connection */
  tick (): void {
    const { host, view } = this.c
    const now = this.c.now()
    const targets: Array<{ id: string, addrs: string[] }> = []
    for (const m of view.known()) {
      if (m.peerId !== this.self) targets.push({ id: m.peerId, addrs: m.addrs })
    }
    for (const b of this.bootstrap) {
      const id = b.split('/p2p/')[1]
      if (id != null && id !== this.self && view.member(id) == null) targets.push({ id, addrs: [b.split('/p2p/')[0]] })
    }
    for (const t of targets) {
      if (this.dialing >= MAX_PARALLEL_DIALS) return
      const conns = host.getConnections(peerIdFromString(t.id))
      if (conns.length > 0) {
        this.backoff.delete(t.id)
        this.hangUpIfSilent(t.id, conns, now)
        continue
      }
      const b = this.backoff.get(t.id)
      if (b != null && b.next > now) continue
      const addrs = t.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${t.id}`))
      if (addrs.length === 0) continue
      this.dialing++
      host.dial(addrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(() => {
        this.backoff.delete(t.id)
      }, (err) => {
        const delay = Math.min(MAX_BACKOFF_MS, (b?.delay ?? 500) * 2)
        this.backoff.set(t.id, { next: this.c.now() + delay, delay })
        this.c.log.debug({ peer: t.id, err: String((err as Error).message ?? err) }, 'redial failed')
      }).finally(() => { this.dialing-- })
    }
  }

  /** a dead member we are still connected to, silent past STALE_CONNECTION_MS on connections that old: hang up */
  private hangUpIfSilent (peer: string, conns: Connection[], now: number): void {
    const { view, metrics, log } = this.c
    const heard = view.lastHeard(peer)
    if (heard === undefined || view.status(peer) !== 'dead' || now - heard < STALE_CONNECTION_MS) return
    // libp2p stamps connections with the system clock, whatever clock this service runs on
    const wall = Date.now()
    if (conns.some((c) => wall - c.timeline.open < STALE_CONNECTION_MS)) return
    metrics.staleConnections.inc(conns.length)
    log.info({ peer, silentMs: now - heard, connections: conns.length }, 'member silent on an open connection: hanging up to redial')
    for (const c of conns) c.abort(new Error(`no heartbeat for ${now - heard} ms on an open connection`))
  }
}
