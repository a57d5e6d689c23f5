// Which members this node hears straight from, and what follows when someone does not. Copies
// of heartbeats that arrive from their own author are noted (src/net/directCopies.ts); on each
// membership tick the live members not heard that way lately are counted (relay.ts
// countUnheard), and that count goes into this node's heartbeats. While this node or any live
// member reports some, every heartbeat is relayed (relay.ts) and gossipsub's IHAVE gossip is on
// (src/net/lazyGossip.ts), the two paths around a cut link; in a whole cluster both are off.
// MembershipService owns the timer and the heartbeats; this owns the bookkeeping.
import { GOSSIP_D_LAZY, TOPIC_MEMBERS } from '../net/constants.js'
import { watchDirectCopies } from '../net/directCopies.js'
import { lazyGossipSwitch } from '../net/lazyGossip.js'
import { countUnheard } from './relay.js'
import type { MembershipView } from './view.js'

export interface HearingComponents {
  view: MembershipView
  /** every peer's last accepted heartbeat, of which only its `unheard` report is read here */
  peers: ReadonlyMap<string, { unheard: number }>
  /** membership's clock (virtual in tests) */
  now: () => number
  /** the unheard count after each recount (a metric) */
  report: (unheard: number) => void
}

export class Hearing {
  /** per member: when a copy of its heartbeat last came straight from it */
  private readonly direct = new Map<string, number>()
  private unheard = 0
  private unwatch: (() => void) | undefined
  /** IHAVE gossip on or off; undefined: this pubsub has none (floodsub) */
  private lazyGossip: ((on: boolean) => void) | undefined
  private lazyOn: boolean | undefined

  constructor (private readonly c: HearingComponents, private readonly self: string) {}

  /** watch the members topic on this pubsub (gossipsub; floodsub has nothing to watch or switch) */
  start (pubsub: unknown): void {
    this.lazyGossip = lazyGossipSwitch(pubsub, GOSSIP_D_LAZY)
    this.unwatch = watchDirectCopies(pubsub, TOPIC_MEMBERS, (author) => {
      // members only: the map stays bounded by the view (forget drops the evicted)
      if (this.c.view.member(author) !== undefined) this.direct.set(author, this.c.now())
    })
  }

  stop (): void { this.unwatch?.() }

  /** live members not heard straight from lately, as of the last recount */
  get unheardMembers (): number { return this.unheard }

  /** members with a direct-copy time kept (bounded state) */
  get size (): number { return this.direct.size }

  /** this node, the author of the beat at hand, or another live member misses members */
  someoneMisses (author: string, authorUnheard: number): boolean {
    if (this.unheard > 0 || authorUnheard > 0) return true
    for (const [id, p] of this.c.peers) {
      if (p.unheard > 0 && id !== author && this.c.view.status(id) === 'alive') return true
    }
    return false
  }

  /**
   * Recounts the members not heard straight from and switches IHAVE to match. Returns whether
   * the count went between none and some: this node's next heartbeat should then go at once.
   */
  recount (): boolean {
    const { view } = this.c
    const others = view.members().filter((m) => m.peerId !== this.self).map((m) => m.peerId)
    const n = countUnheard(others, this.direct, (p) => view.failAfter(p), this.c.now())
    const changed = (n > 0) !== (this.unheard > 0)
    this.unheard = n
    this.c.report(n)
    // IHAVE is a path around the mesh for as long as relays are (src/net/constants.ts GOSSIP_D_LAZY)
    const missing = this.someoneMisses(this.self, 0)
    if (missing !== this.lazyOn) {
      this.lazyOn = missing
      this.lazyGossip?.(missing)
    }
    return changed
  }

  /** members the view forgot: their times go with them */
  forget (ids: readonly string[]): void {
    for (const id of ids) this.direct.delete(id)
  }
}
