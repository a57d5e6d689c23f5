// Membership glue: gossips this node's heartbeat, feeds peers' heartbeats and time into
// the pure MembershipView, keeps the peer store filled with members' addresses, and keeps
// dialing known members it is not connected to (src/membership/redial.ts) — bootstrap dials
// only once, so without this a healed partition would never reconnect. Built like the net services (js-libp2p's
// ping): components + init, start/stop, a logger scoped to this component.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { HeartbeatSchema, LogSummarySchema, type Heartbeat } from '../wire/bellwether_pb.js'
import { GossipTopic } from '../net/gossipTopic.js'
import type { Host } from '../net/host.js'
import { FAIL_AFTER_MS, HEARTBEAT_INTERVAL_MS, JOIN_TIMEOUT_MS, REDIAL_INTERVAL_MS, TOPIC_MEMBERS } from '../net/constants.js'
import type { MemberInfo, MembershipView, ViewChange } from './view.js'
import type { HybridClock } from '../hlc.js'
import type { NodeMetrics } from '../node/metrics.js'
import { checkHeartbeat } from './heartbeatCheck.js'
import { Rejections } from '../node/rejections.js'
import { systemTime, type TimerHandle, type Timers } from '../time.js'
import { DEFAULT_RATE, heartbeatIntervalMs, type RateParams } from './rate.js'
import { HeartbeatRelay, newsKey } from './relay.js'
import { MAX_MEMBER_COUNT } from './constants.js'
import { Hearing } from './hearing.js'
import { Redialer } from './redial.js'

/** What the heartbeat reports about this node; read on every beat, so it must be cheap. */
export interface LocalState {
  objects (): number
  logSummary (): { count: number, fingerprint: bigint, maxHlc: bigint, ack?: bigint, gcHorizon?: bigint, floorHash?: bigint }
  busy (): boolean
}

export interface PeerState {
  epoch: bigint
  membersHash: bigint
  objects: bigint
  log: { count: bigint, fingerprint: bigint, maxHlc: bigint, ack: bigint, gcHorizon: bigint, floorHash: bigint }
  busy: boolean
  /** live members the sender does not hear straight from (src/membership/relay.ts) */
  unheard: number
  heardAt: number
  /** the sender's clock when it sent the heartbeat (the time its summary describes) */
  hlc: bigint
}

export interface MembershipComponents {
  host: Host
  /** the pure view this service feeds (its failAfterFor must use the same rate as `init.rate`) */
  view: MembershipView
  clock: HybridClock
  logger: Logger
  metrics: NodeMetrics
  /** what the heartbeat reports about this node */
  state: LocalState
  /** heartbeats, failure ticks, redials, backoff and joinedAt run on it (virtual in tests and the simulator) */
  timers?: Timers
}

export interface MembershipInit {
  self: MemberInfo
  bootstrap: string[]
  /** every view change (joins, leaves, epoch moves, restarts) */
  onChange: (change: ViewChange) => void
  /** the heartbeat period stretches with the member count (src/membership/rate.ts) */
  rate?: RateParams
}

/** a view change's heartbeat waits this long, so the changes of one burst share it */
const CHANGE_BEAT_DELAY_MS = 100

export class MembershipService {
  readonly topic: GossipTopic
  /** last heartbeat content of each peer (for status, agreement checks and anti-entropy triggers) */
  readonly peers = new Map<string, PeerState>()
  /** every accepted heartbeat's content (anti-entropy compares summaries here) */
  onPeerState?: (peer: string, state: PeerState) => void
  /** members the view forgot (evicted after evictAfterMs of silence): drop what is kept per peer */
  onForget?: (peers: string[]) => void
  /**
   * When this node joined (ms): a peer reported the same member set, or there was nobody to
   * join (no bootstrap peers), or JOIN_TIMEOUT_MS passed. Until then client I/O is refused.
   */
  joinedAt: number | undefined
  private startedAt = 0
  private timers: TimerHandle[] = []
  /** the next heartbeat: one handle, re-set by every beat (not pushed onto `timers`, which would grow by one a second) */
  private beatTimer: TimerHandle | undefined
  /** the heartbeat a view change asked for, not sent yet */
  private changeBeat: TimerHandle | undefined
  private stopped = false
  /** which accepted heartbeats go on to the mesh (src/membership/relay.ts) */
  private readonly relay = new HeartbeatRelay()
  /** the last heartbeat the validator decoded and passed, so its delivery does not decode it again */
  private validated: { data: Uint8Array, hb: Heartbeat } | undefined
  /** which members this node hears straight from (src/membership/hearing.ts) */
  private readonly hearing: Hearing
  private readonly rejections: Rejections
  private readonly redialer: Redialer

  readonly view: MembershipView
  readonly rate: RateParams
  private readonly host: Host
  private readonly self: MemberInfo
  private readonly clock: HybridClock
  private readonly log: Logger
  private readonly metrics: NodeMetrics
  private readonly state: LocalState
  private readonly bootstrap: string[]
  private readonly onChange: (change: ViewChange) => void
  private readonly time: Timers

  constructor (components: MembershipComponents, init: MembershipInit) {
    this.host = components.host
    this.view = components.view
    this.clock = components.clock
    this.log = components.logger.child({ component: 'membership' })
    this.metrics = components.metrics
    this.state = components.state
    this.time = components.timers ?? systemTime
    this.self = init.self
    this.bootstrap = init.bootstrap
    this.onChange = init.onChange
    this.rate = init.rate ?? { ...DEFAULT_RATE, baseIntervalMs: HEARTBEAT_INTERVAL_MS, baseFailAfterMs: FAIL_AFTER_MS }
    this.rejections = new Rejections(this.metrics, this.log)
    this.hearing = new Hearing({ view: this.view, peers: this.peers, now: () => this.now(), report: (n) => this.metrics.unheardMembers.set(n) }, this.self.peerId)
    this.redialer = new Redialer({ host: this.host, view: this.view, metrics: this.metrics, log: this.log, now: () => this.now() }, this.self.peerId, this.bootstrap)
    this.topic = new GossipTopic(this.host, TOPIC_MEMBERS, {
      validate: (data, from) => this.validate(data, from),
      deliver: (data, from) => this.deliver(data, from)
    }, this.log, { queueWhenNoPeers: false, maxOutbox: 0 })
  }

  start (): void {
    this.startedAt = this.now()
    // nobody to join: the first node of a cluster serves at once
    if (this.bootstrap.every((b) => b.split('/p2p/')[1] === this.self.peerId)) {
      this.joinedAt = this.startedAt
      this.view.anchorEpochs()
    }
    this.topic.start()
    this.hearing.start(this.host.services.pubsub)
    const beat = (): void => {
      if (this.stopped) return
      void this.beat(false).catch((err) => { this.log.warn({ err: String((err as Error)?.message ?? err) }, 'heartbeat not sent') })
      // jitter keeps a cluster started at once from beating in lockstep; the period is read
      // again every beat, so it follows the member count
      this.beatTimer = this.time.setTimeout(beat, this.intervalMs() * (0.8 + Math.random() * 0.4))
    }
    beat()
    this.timers.push(this.time.setInterval(() => {
      // a timer catches its own errors: the process-level guard is only the last line
      try {
        this.applyChange(this.view.tick(this.now()))
        const gone = this.view.takeForgotten()
        if (gone.length > 0) this.forget(gone)
        this.checkJoined()
        // a change between none and some unheard is told at once
        if (this.hearing.recount()) this.beatSoon()
      } catch (err) {
        this.log.error({ err: String((err as Error)?.stack ?? err) }, 'membership tick failed')
      }
    }, Math.max(200, FAIL_AFTER_MS / 10)))
    this.timers.push(this.time.setInterval(() => {
      if (this.stopped) return
      try {
        this.redialer.tick()
      } catch (err) {
        this.log.error({ err: String((err as Error)?.stack ?? err) }, 'redial round failed')
      }
    }, REDIAL_INTERVAL_MS))
    this.redialer.tick()
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const t of this.timers) this.time.clearTimeout(t)
    this.timers = []
    this.time.clearTimeout(this.beatTimer)
    this.time.clearTimeout(this.changeBeat)
    this.hearing.stop()
    // tell the others at once instead of letting them wait out the failure timeout
    await this.beat(true).catch(() => {})
    this.topic.stop()
  }

  private now (): number { return this.time.now() }

  /** this node's heartbeat period now (src/membership/rate.ts) */
  intervalMs (): number { return heartbeatIntervalMs(this.view.members().length, this.rate) }

  /** publish a heartbeat now (also used right after a view change to spread the new epoch) */
  async beat (leaving: boolean): Promise<void> {
    const s = this.state.logSummary()
    const hb = create(HeartbeatSchema, {
      peerId: this.self.peerId,
      addrs: this.host.getMultiaddrs().map((a) => a.toString()),
      zone: this.self.zone,
      api: this.self.api,
      epoch: this.view.epoch,
      membersHash: this.view.membersHash(),
      memberCount: this.view.members().length,
      objects: BigInt(this.state.objects()),
      log: create(LogSummarySchema, { count: BigInt(s.count), fingerprint: s.fingerprint, maxHlc: s.maxHlc, ack: s.ack ?? 0n, gcHorizon: s.gcHorizon ?? 0n, floorHash: s.floorHash ?? 0n }),
      leaving,
      hlc: this.clock.now(),
      busy: this.state.busy(),
      incarnation: this.self.incarnation,
      // the bound receivers enforce: only whether there are any matters to them
      unheard: Math.min(this.hearing.unheardMembers, MAX_MEMBER_COUNT)
    })
    const bytes = toBinary(HeartbeatSchema, hb)
    this.metrics.gossipBytes.inc({ topic: 'members', direction: 'out' }, bytes.byteLength)
    await this.topic.publish(bytes)
  }

  /** every bound on a heartbeat (src/membership/heartbeatCheck.ts): a 'reject' is never
   *  forwarded, costs its author gossipsub score, and is counted and logged; a valid one is
   *  relayed only when src/membership/relay.ts says so, and delivered here either way */
  private validate (data: Uint8Array, from: string): 'accept' | 'local' | 'reject' {
    let why: string | undefined
    let hb: Heartbeat | undefined
    try {
      hb = fromBinary(HeartbeatSchema, data)
      why = this.check(hb, from)
    } catch (err) {
      why = `malformed: ${String((err as Error)?.message ?? err)}`
    }
    if (why === undefined && hb !== undefined) {
      this.validated = { data, hb }
      const relayed = this.relay.decide(hb.peerId, newsKey(hb), this.hearing.someoneMisses(hb.peerId, hb.unheard))
      if (relayed) this.metrics.heartbeatsRelayed.inc()
      return relayed ? 'accept' : 'local'
    }
    this.rejections.note('heartbeat', why ?? 'malformed', { from })
    return 'reject'
  }

  /** an accepted heartbeat; the view re-checks it, and nothing thrown here may escape (it runs in an event listener) */
  private deliver (data: Uint8Array, from: string): void {
    try {
      this.apply(data, from)
    } catch (err) {
      this.rejections.note('heartbeat', String((err as Error)?.message ?? err), { from })
    }
  }

  private check (hb: Heartbeat, from: string): string | undefined {
    return checkHeartbeat({ ...hb, log: hb.log }, {
      from,
      checkHlc: (h) => this.clock.implausible(h),
      checkEpoch: (e) => this.view.checkEpoch(e)
    })
  }

  private apply (data: Uint8Array, from: string): void {
    // delivery follows its validation at once (gossipsub dispatches a valid message before it
    // validates the next), so the decoded beat is usually at hand; matched by identity, as the
    // same bytes gossipsub validated
    const v = this.validated
    this.validated = undefined
    const hb = v !== undefined && v.data === data ? v.hb : fromBinary(HeartbeatSchema, data)
    // judged again against the state as it is now (the view may have moved since the
    // validator ran): a heartbeat is applied whole or not at all
    const why = this.check(hb, from)
    if (why !== undefined) throw new Error(why)
    this.metrics.gossipBytes.inc({ topic: 'members', direction: 'in' }, data.byteLength)
    try { this.clock.observe(hb.hlc) } catch { /* a drifting clock is reported by the object path; membership still counts */ }
    const now = this.now()
    const known = this.view.member(hb.peerId)
    if (known == null || known.addrs.join() !== hb.addrs.join()) {
      this.host.peerStore.merge(peerIdFromString(hb.peerId), { multiaddrs: hb.addrs.map((a) => multiaddr(a)) }).catch((err) => {
        this.log.debug({ err: String(err) }, 'peer store merge failed')
      })
    }
    const l = hb.log
    this.peers.set(hb.peerId, {
      epoch: hb.epoch,
      membersHash: hb.membersHash,
      objects: hb.objects,
      log: { count: l?.count ?? 0n, fingerprint: l?.fingerprint ?? 0n, maxHlc: l?.maxHlc ?? 0n, ack: l?.ack ?? 0n, gcHorizon: l?.gcHorizon ?? 0n, floorHash: l?.floorHash ?? 0n },
      busy: hb.busy,
      unheard: hb.unheard,
      heardAt: now,
      hlc: hb.hlc
    })
    if (hb.leaving) this.peers.delete(hb.peerId)
    else this.onPeerState?.(hb.peerId, this.peers.get(hb.peerId)!)
    this.applyChange(this.view.onHeartbeat({
      peerId: hb.peerId,
      addrs: hb.addrs,
      zone: hb.zone,
      api: hb.api,
      incarnation: hb.incarnation,
      epoch: hb.epoch,
      membersHash: hb.membersHash,
      leaving: hb.leaving,
      memberCount: hb.memberCount
    }, now))
    this.checkJoined()
  }

  /** live members this node has not heard straight from lately (as of its last tick) */
  get unheardMembers (): number { return this.hearing.unheardMembers }

  /** joined = agreed on the member set with a peer, and latched: a later partition does not un-join */
  private checkJoined (): void {
    if (this.joinedAt !== undefined) return
    const now = this.now()
    const mine = this.view.membersHash()
    const agreeing = this.view.members().length > 1 ? [...this.peers.values()].filter((p) => p.membersHash === mine).length : 0
    if (agreeing > 0) {
      this.joinedAt = now
      this.view.anchorEpochs()
      this.log.info({ members: this.view.members().length, agreeing, ms: now - this.startedAt }, 'joined the cluster')
    } else if (now - this.startedAt >= JOIN_TIMEOUT_MS) {
      this.joinedAt = now
      this.view.anchorEpochs()
      this.log.warn({ members: this.view.members().length, ms: now - this.startedAt }, 'no peer agrees on the member set yet; serving with the view this node has')
    }
  }

  /** why client I/O is refused, or undefined once joined */
  joining (): string | undefined {
    if (this.joinedAt !== undefined) return undefined
    const heard = this.view.members().length - 1
    return `node is joining the cluster (hears ${heard} peer${heard === 1 ? '' : 's'}, none agrees on the member set yet; at most ${Math.ceil((this.startedAt + JOIN_TIMEOUT_MS - this.now()) / 1000)} s more): retry shortly`
  }

  private applyChange (change: ViewChange | undefined): void {
    this.metrics.epoch.set(Number(this.view.epoch))
    if (change == null) return
    this.metrics.members.set(change.members.length)
    if (change.placementChanged) this.log.info({ epoch: change.epoch.toString(), members: change.members.length, joined: change.joined, left: change.left }, 'view changed')
    this.onChange(change)
    this.beatSoon()
  }

  /**
   * One heartbeat shortly after a view change, however many changes come in the meantime: a
   * heal or a start hears members again one by one, and a beat per change (signed here,
   * checked by every member) was a burst of work on every node just when all of them were
   * busiest. The new epoch still spreads within CHANGE_BEAT_DELAY_MS.
   */
  private beatSoon (): void {
    if (this.changeBeat !== undefined || this.stopped) return
    this.changeBeat = this.time.setTimeout(() => {
      this.changeBeat = undefined
      if (this.stopped) return
      void this.beat(false).catch((err) => { this.log.warn({ err: String((err as Error)?.message ?? err) }, 'heartbeat not sent') })
    }, CHANGE_BEAT_DELAY_MS)
  }

  /** per-peer state held here, by map (status and the bounded-state test read it) */
  peerStateSizes (): { heartbeats: number, backoffs: number, relays: number, direct: number } {
    return { heartbeats: this.peers.size, backoffs: this.redialer.backoffs, relays: this.relay.size, direct: this.hearing.size }
  }

  private forget (ids: string[]): void {
    this.relay.forget(ids)
    this.hearing.forget(ids)
    for (const id of ids) {
      this.peers.delete(id)
      this.redialer.forget(id)
      // the peer store would otherwise keep its addresses (and libp2p dial them) for ever
      this.host.peerStore.delete(peerIdFromString(id)).catch((err) => {
        this.log.debug({ peer: id, err: String((err as Error)?.message ?? err) }, 'peer store entry not deleted')
      })
    }
    this.log.info({ peers: ids }, 'members silent past the eviction time forgotten')
    this.onForget?.(ids)
  }

  /** forget dial backoffs and dial every known member now (after a heal) */
  redialNow (): void {
    this.redialer.clearBackoffs()
    if (!this.stopped) this.redialer.tick()
  }
}
