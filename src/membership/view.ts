// Membership view: turns gossiped heartbeats and the passage of time into the set of live
// members and an epoch number. Pure state machine (sans-I/O): the node feeds it heartbeats
// and clock readings and acts on the ViewChange values it returns; it never sends anything.
//
// Epochs without consensus: whenever the local member set changes, the epoch jumps past
// every epoch this node has ever seen (`max(epoch, maxSeen) + 1`); when a peer reports the
// same member set (equal membersHash) with a higher epoch, we adopt that epoch. Nodes that
// agree on the set therefore agree on the epoch once they have heard each other, a joiner
// lands past every epoch in circulation, and no node's epoch ever goes down.

import { fnv1a64 } from '../oid.js'
import { MAX_EPOCH, MAX_EPOCH_LEAD } from './constants.js'
import { InvalidHeartbeatError, U32_MAX, freezeInfo, isU64, validateInfo, type MemberInfo } from './memberInfo.js'

export { InvalidHeartbeatError, type MemberInfo } from './memberInfo.js'

export interface HeartbeatIn extends MemberInfo {
  epoch: bigint
  membersHash: bigint
  leaving: boolean
  /** live members the sender counts (itself included): its heartbeat period depends on it
   *  (src/membership/rate.ts). Untrusted; absent = unknown */
  memberCount?: number
}

export interface ViewChange {
  epoch: bigint
  /** live members after the change, incl. self, sorted by peerId */
  members: MemberInfo[]
  joined: string[]
  left: string[]
  /**
   * true: the inputs to placement changed (the live peer-id set, or the zone of a live
   * member) — rebuild the ring and start recovery.
   * false: only the epoch moved, adopted from a peer that has the same member set. Nothing
   * has to move, but the node should re-announce (heartbeat now) so the rest of the
   * cluster converges on the new epoch quickly.
   */
  placementChanged: boolean
  /**
   * Live members heard with a higher incarnation: restarted before the failure detector
   * noticed they were gone. Placement is unchanged, but what such a member had in flight (a
   * write that reached some replicas, its queue of replica repairs) died with it: only a
   * comparison of versions among holders (recovery) finds the replicas it left behind.
   */
  restarted?: string[]
}

export interface ViewOptions {
  /** a member silent for longer than this is declared dead (default 5000) */
  failAfterMs: number
  /**
   * The timeout for a member given a member count (the larger of this node's live count and
   * the member's last reported one): heartbeat periods stretch with the cluster size
   * (src/membership/rate.ts). Default: failAfterMs whatever the count. Never below failAfterMs.
   */
  failAfterFor?: (members: number) => number
  /** a dead or departed member silent for longer than this is forgotten entirely, so
   *  known() stays bounded. Default: never — forgetting a peer across a long partition
   *  would mean nobody dials it again unless it is a bootstrap peer. */
  evictAfterMs?: number
}

export const DEFAULT_FAIL_AFTER_MS = 5000

export type MemberStatus = 'alive' | 'dead' | 'left'

interface Entry {
  info: MemberInfo
  status: MemberStatus
  lastHeard: number
  /** when status last changed (used for the post-leave quarantine) */
  since: number
  /** the member count its last heartbeat reported (0: none) */
  reported: number
}

const utf8 = new TextEncoder()

function byPeerId (a: MemberInfo, b: MemberInfo): number {
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

export function computeMembersHash (peerIds: readonly string[]): bigint {
  return fnv1a64(utf8.encode([...peerIds].sort().join('\n')))
}

export class MembershipView {
  private selfInfo: MemberInfo
  private readonly failAfterMs: number
  private readonly failAfterFor: (members: number) => number
  private readonly evictAfterMs: number
  private readonly entries = new Map<string, Entry>()
  /** evicted by tick() since the last takeForgotten(): the adapter drops its per-peer state */
  private forgotten: string[] = []
  private currentEpoch: bigint
  private maxSeen: bigint
  private liveCache: readonly MemberInfo[] = []
  private hashCache = 0n
  /** set once this node has joined: from then on epochs are judged against its own (MAX_EPOCH_LEAD) */
  private anchored = false

  constructor (self: MemberInfo, opts: Partial<ViewOptions> = {}, initialEpoch = 0n) {
    validateInfo(self, 'self')
    if (!isU64(initialEpoch) || initialEpoch > MAX_EPOCH) throw new RangeError(`bad initial epoch ${String(initialEpoch)} (at most ${MAX_EPOCH})`)
    this.failAfterMs = opts.failAfterMs ?? DEFAULT_FAIL_AFTER_MS
    if (!(this.failAfterMs > 0)) throw new RangeError(`failAfterMs must be > 0: ${this.failAfterMs}`)
    const scaled = opts.failAfterFor
    const base = this.failAfterMs
    this.failAfterFor = scaled === undefined ? () => base : (n) => Math.max(base, scaled(n))
    // Eviction before the leave quarantine ends would let a delayed heartbeat resurrect a
    // departed member, so it never happens sooner than failAfterMs.
    this.evictAfterMs = Math.max(opts.evictAfterMs ?? Number.POSITIVE_INFINITY, this.failAfterMs)
    this.selfInfo = freezeInfo(self)
    this.currentEpoch = initialEpoch
    this.maxSeen = initialEpoch
    this.refresh()
  }

  get epoch (): bigint {
    return this.currentEpoch
  }

  /** The highest epoch seen in any heartbeat (or our own); the next change lands past it. */
  get maxEpochSeen (): bigint {
    return this.maxSeen
  }

  /**
   * From now on a heartbeat's epoch may be at most MAX_EPOCH_LEAD above the highest epoch
   * this node has reached or seen. Called once the node has joined (a peer agreed on the
   * member set): before that it has no reference — a new node starts at 0 and must adopt
   * whatever epoch the cluster is at.
   */
  anchorEpochs (): void {
    this.anchored = true
  }

  /** why `epoch` cannot come from an honest node, or undefined (see MAX_EPOCH, MAX_EPOCH_LEAD) */
  checkEpoch (epoch: bigint): string | undefined {
    if (!isU64(epoch)) return `bad epoch ${String(epoch)}`
    if (epoch > MAX_EPOCH) return `epoch ${epoch} above the ceiling ${MAX_EPOCH}`
    if (!this.anchored) return undefined
    const base = this.currentEpoch > this.maxSeen ? this.currentEpoch : this.maxSeen
    if (epoch - base > MAX_EPOCH_LEAD) return `epoch ${epoch} is more than ${MAX_EPOCH_LEAD} ahead of this node's ${base}`
    return undefined
  }

  get self (): MemberInfo {
    return this.selfInfo
  }

  /** Live members incl. self, sorted by peerId. */
  members (): MemberInfo[] {
    return [...this.liveCache]
  }

  /** A live member (self included); undefined for dead, departed or unknown peers. */
  member (peerId: string): MemberInfo | undefined {
    if (peerId === this.selfInfo.peerId) return this.selfInfo
    const e = this.entries.get(peerId)
    return e?.status === 'alive' ? e.info : undefined
  }

  status (peerId: string): MemberStatus | undefined {
    if (peerId === this.selfInfo.peerId) return 'alive'
    return this.entries.get(peerId)?.status
  }

  /** fnv1a64 of the sorted live peer ids joined by '\n'. */
  membersHash (): bigint {
    return this.hashCache
  }

  /** Every member heard of and not evicted — live, dead and departed — plus self, sorted by
   *  peerId. The node keeps dialing these (skipping itself). */
  known (): MemberInfo[] {
    return [this.selfInfo, ...[...this.entries.values()].map((e) => e.info)].sort(byPeerId)
  }

  /** Members that announced they are leaving (and have not come back), sorted by peerId. */
  departed (): string[] {
    return [...this.entries.entries()].filter(([, e]) => e.status === 'left').map(([id]) => id).sort()
  }

  /** When we last heard from the peer (undefined for self and unknown peers). */
  lastHeard (peerId: string): number | undefined {
    return this.entries.get(peerId)?.lastHeard
  }

  /** The heartbeat this node should gossip now. */
  heartbeat (leaving = false): HeartbeatIn {
    return { ...this.selfInfo, addrs: [...this.selfInfo.addrs], epoch: this.currentEpoch, membersHash: this.hashCache, leaving, memberCount: this.liveCache.length }
  }

  /** Change our own advertised info. Bumps our incarnation so peers accept it over what they
   *  have; returns a change if our zone moved (placement depends on it). */
  updateSelf (patch: Partial<Pick<MemberInfo, 'addrs' | 'zone' | 'api'>>): ViewChange | undefined {
    const next: MemberInfo = { ...this.selfInfo, ...patch, incarnation: this.selfInfo.incarnation + 1n }
    validateInfo(next, 'self')
    const zoneChanged = next.zone !== this.selfInfo.zone
    this.selfInfo = freezeInfo(next)
    this.refresh()
    return zoneChanged ? this.bump([], []) : undefined
  }

  onHeartbeat (hb: HeartbeatIn, nowMs: number): ViewChange | undefined {
    validateInfo(hb, `heartbeat from ${String(hb?.peerId)}`)
    const badEpoch = this.checkEpoch(hb.epoch)
    if (badEpoch !== undefined) throw new InvalidHeartbeatError(`heartbeat from ${hb.peerId}: ${badEpoch}`)
    if (!isU64(hb.membersHash)) throw new InvalidHeartbeatError(`heartbeat from ${hb.peerId}: bad membersHash`)
    if (typeof hb.leaving !== 'boolean') throw new InvalidHeartbeatError(`heartbeat from ${hb.peerId}: bad leaving flag`)
    if (hb.memberCount !== undefined && (!Number.isInteger(hb.memberCount) || hb.memberCount < 0 || hb.memberCount > U32_MAX)) {
      throw new InvalidHeartbeatError(`heartbeat from ${hb.peerId}: bad memberCount ${String(hb.memberCount)}`)
    }
    const reported = hb.memberCount ?? 0

    if (hb.epoch > this.maxSeen) this.maxSeen = hb.epoch
    // Our own heartbeat echoed back, or one from an earlier life of this node: only its
    // epoch matters (recorded above).
    if (hb.peerId === this.selfInfo.peerId) return undefined

    const e = this.entries.get(hb.peerId)
    // Reordered gossip from an older incarnation must not undo what a newer one told us.
    if (e !== undefined && hb.incarnation < e.info.incarnation) return undefined
    if (hb.leaving) return this.leave(hb.peerId, hb, nowMs)
    // After a graceful leave, heartbeats of the same incarnation still in flight would
    // revive the member for failAfterMs; ignore them for that long. A restart (higher
    // incarnation) rejoins at once.
    if (e !== undefined && e.status === 'left' && hb.incarnation === e.info.incarnation &&
        nowMs - e.since < this.failAfterMs) {
      return undefined
    }

    const joined: string[] = []
    let zoneChanged = false
    let liveInfoChanged = false
    if (e === undefined) {
      this.entries.set(hb.peerId, { info: freezeInfo(hb), status: 'alive', lastHeard: nowMs, since: nowMs, reported })
      joined.push(hb.peerId)
    } else {
      if (hb.incarnation > e.info.incarnation) {
        zoneChanged = e.status === 'alive' && hb.zone !== e.info.zone
        liveInfoChanged = e.status === 'alive'
        e.info = freezeInfo(hb)
      }
      if (e.status !== 'alive') {
        e.status = 'alive'
        e.since = nowMs
        joined.push(hb.peerId)
      }
      if (nowMs > e.lastHeard) {
        e.lastHeard = nowMs
        e.reported = reported
      }
    }

    if (joined.length > 0 || zoneChanged) {
      this.refresh()
      return this.bump(joined, [])
    }
    // new addrs/api of a live member: members() must hand out the fresh info
    if (liveInfoChanged) this.refresh()
    const restarted = liveInfoChanged ? [hb.peerId] : undefined
    if (hb.membersHash === this.hashCache && hb.epoch > this.currentEpoch) {
      this.currentEpoch = hb.epoch
      return this.change([], [], false, restarted)
    }
    return restarted != null ? this.change([], [], false, restarted) : undefined
  }

  /** Graceful leave learned out of band (e.g. a leave notice); immediate, no failure timeout. */
  onLeave (peerId: string, nowMs: number): ViewChange | undefined {
    return this.leave(peerId, undefined, nowMs)
  }

  /** The failure timeout this node applies to a member now (ms): scaled by the larger of
   *  its own live count and the member's reported one (failAfterFor); the base for others. */
  failAfter (peerId: string): number {
    const e = this.entries.get(peerId)
    return this.failAfterFor(Math.max(this.liveCache.length, e?.reported ?? 0))
  }

  /** Declare members silent for longer than their failure timeout dead; forget long-dead ones. */
  tick (nowMs: number): ViewChange | undefined {
    const left: string[] = []
    const live = this.liveCache.length
    for (const [id, e] of this.entries) {
      const silent = nowMs - e.lastHeard
      if (e.status === 'alive') {
        if (silent > this.failAfterFor(Math.max(live, e.reported))) {
          e.status = 'dead'
          e.since = nowMs
          left.push(id)
        }
      } else if (silent > this.evictAfterMs && nowMs - e.since >= this.failAfterMs) {
        this.entries.delete(id)
        this.forgotten.push(id)
      }
    }
    if (left.length === 0) return undefined
    this.refresh()
    return this.bump([], left.sort())
  }

  /**
   * Peers evicted since the last call (oldest first). Whatever an adapter keeps per peer
   * (last heartbeat, dial backoff, sync state, acks) must go with them, or a long-lived node
   * that sees members come and go keeps an entry for every peer it ever heard of.
   */
  takeForgotten (): string[] {
    const out = this.forgotten
    this.forgotten = []
    return out
  }

  private leave (peerId: string, hb: HeartbeatIn | undefined, nowMs: number): ViewChange | undefined {
    if (peerId === this.selfInfo.peerId) return undefined
    const e = this.entries.get(peerId)
    if (e === undefined) {
      // Remember a departing stranger so its in-flight heartbeats cannot add it.
      if (hb !== undefined) {
        this.entries.set(peerId, { info: freezeInfo(hb), status: 'left', lastHeard: nowMs, since: nowMs, reported: 0 })
      }
      return undefined
    }
    if (hb !== undefined && hb.incarnation > e.info.incarnation) e.info = freezeInfo(hb)
    if (hb !== undefined && nowMs > e.lastHeard) e.lastHeard = nowMs
    if (e.status === 'left') return undefined
    const wasAlive = e.status === 'alive'
    e.status = 'left'
    e.since = nowMs
    if (!wasAlive) return undefined
    this.refresh()
    return this.bump([], [peerId])
  }

  private bump (joined: string[], left: string[]): ViewChange {
    const base = this.currentEpoch > this.maxSeen ? this.currentEpoch : this.maxSeen
    // saturates instead of overflowing: unreachable while every epoch entering is checked
    // (checkEpoch), but a bump runs inside timers, and it must never be what throws there
    this.currentEpoch = base < MAX_EPOCH ? base + 1n : MAX_EPOCH
    this.maxSeen = this.currentEpoch
    return this.change(joined, left, true)
  }

  private change (joined: string[], left: string[], placementChanged: boolean, restarted?: string[]): ViewChange {
    const c: ViewChange = { epoch: this.currentEpoch, members: this.members(), joined, left, placementChanged }
    if (restarted != null) c.restarted = restarted
    return c
  }

  private refresh (): void {
    const live = [this.selfInfo]
    for (const e of this.entries.values()) if (e.status === 'alive') live.push(e.info)
    live.sort(byPeerId)
    this.liveCache = live
    this.hashCache = computeMembersHash(live.map((m) => m.peerId))
  }
}
