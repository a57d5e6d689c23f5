// Read-only snapshots of a running node, for the admin API and its status page (src/api):
// copies taken at one moment, so the API reads what the node reports rather than the parts
// the node is made of, and nothing the API holds can change the node. Values are the node's
// own (bigint HLCs, fingerprints, oids); src/api turns them into the wire shapes of
// src/api/types.ts. BellwetherNode exposes each one as a method (statusSnapshot() …).
import type { BellwetherNode } from './node.js'
import type { MembershipService, PeerState } from '../membership/membership.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { AeTotals, SessionReport } from '../net/aeService.js'
import type { RecoveryProgress } from '../recovery/recovery.js'
import type { MemberStatus } from '../membership/view.js'
import type { DeleteReplica } from '../tombstones/replica.js'
import type { ObjectPeers } from './objectPeers.js'
import type { AeScheduler } from '../antientropy/aeScheduler.js'

export interface GcSnapshot {
  ack: bigint
  horizon: bigint
  /** floor entries */
  floor: number
  floorHash: bigint
  /** records folded out of the log since start */
  folded: number
}

/** peers in the view (not self) and the entries this node holds per peer, by map */
export interface PeerStateCounts {
  known: number
  heartbeats: number
  backoffs: number
  /** members whose heartbeat relaying is tracked (src/membership/relay.ts) */
  relays: number
  /** members whose last heartbeat straight from them is kept (src/membership/relay.ts) */
  direct: number
  synced: number
  connected: number
  up: number
  floorHashes: number
  objectPeers: number
  gcSynced: number
  gcAcks: number
  aeSlots: number
}

export interface StatusSnapshot {
  peerId: string
  addrs: string[]
  dataDir: string
  zone: number
  epoch: bigint
  /** the placement ring's members (live, self included) */
  members: string[]
  objects: number
  joined: boolean
  busy: boolean
  busyReasons: string[]
  startupProblems: string[]
  log: { count: number, fingerprint: bigint, maxHlc: bigint, unavailable: string | undefined, pending: number, writeFailures: number }
  gc: GcSnapshot
  ae: { active: number, stuck: number, totals: AeTotals }
  partitioned: string[]
  /** entries kept per peer, by map (BellwetherNode.peerState) */
  peerState: PeerStateCounts
  recovery: RecoveryProgress
  /** ms since the epoch */
  startedAt: number
}

export interface MemberSnapshot {
  peerId: string
  addrs: string[]
  zone: number
  api: string
  self: boolean
  status: MemberStatus | undefined
  /** ms since the epoch; undefined for self and members never heard */
  lastHeard: number | undefined
  /** self, or a libp2p connection to it is open */
  connected: boolean
  /** this node refuses it (chaos partition) */
  partitioned: boolean
  /** what its last heartbeat said about itself (undefined: self, or none yet) */
  reported: PeerState | undefined
}

export interface MembersSnapshot {
  epoch: bigint
  /** every member heard of and not evicted (live, dead, departed) and self, by peer id */
  known: MemberSnapshot[]
}

export interface DeletesSnapshot {
  summary: { count: number, fingerprint: bigint, maxHlc: bigint }
  gc: GcSnapshot
  /** [vid, generation] ascending by vid */
  floor: Array<[number, number]>
  records: DeleteRec[]
}

export interface AeSnapshot {
  active: number
  stuck: number
  totals: AeTotals
  /** newest last */
  recent: SessionReport[]
}

export interface RecoverySnapshot {
  progress: RecoveryProgress
  totals: { recovered: number, failed: number, deletedSkipped: number, dropped: number, handedOff: number, racedDeletes: number, readRepaired: number, bytes: number }
  repair: { pending: number, totals: { repaired: number, pushed: number, dropped: number, overflows: number, retried: number } }
}

export interface ChaosSnapshot {
  partitioned: string[]
  clockOffsetMs: number
}

function gcOf (n: BellwetherNode): GcSnapshot {
  return { ack: n.gc.ack(), horizon: n.floor.horizon, floor: n.floor.size, floorHash: n.floor.hash(), folded: n.gc.folded }
}

function progressOf (n: BellwetherNode): RecoveryProgress {
  const p = n.recovery.progress
  return { ...p, errors: [...p.errors] }
}

export function statusSnapshot (n: BellwetherNode): StatusSnapshot {
  const s = n.deleteLog.summary()
  const busyReasons = n.busyReasons()
  return {
    peerId: n.self,
    addrs: n.multiaddrs(),
    dataDir: n.opts.dataDir,
    zone: n.zone,
    epoch: n.membership.view.epoch,
    members: n.members(),
    objects: n.store.cache.size,
    joined: n.membership.joinedAt !== undefined,
    // busy() is exactly "there are reasons": one computation keeps the two in step
    busy: busyReasons.length > 0,
    busyReasons,
    startupProblems: [...n.startupProblems],
    log: { count: s.count, fingerprint: s.fingerprint, maxHlc: s.maxHlc, unavailable: n.deleteLog.unavailable(), pending: n.deleteLog.pending, writeFailures: n.deleteLog.writeFailures },
    gc: gcOf(n),
    ae: { active: n.aeScheduler.active, stuck: n.aeScheduler.stuck, totals: { ...n.ae.totals } },
    partitioned: n.partition.peers,
    peerState: n.peerState(),
    recovery: progressOf(n),
    startedAt: n.startedAt
  }
}

export function membersSnapshot (n: BellwetherNode): MembersSnapshot {
  const view = n.membership.view
  const partitioned = new Set(n.partition.peers)
  const connected = new Set(n.libp2p.getConnections().map((c) => c.remotePeer.toString()))
  const known = view.known().map((m): MemberSnapshot => {
    const self = m.peerId === n.self
    const reported = self ? undefined : n.membership.peers.get(m.peerId)
    return {
      peerId: m.peerId,
      addrs: [...m.addrs],
      zone: m.zone,
      api: m.api,
      self,
      status: view.status(m.peerId),
      lastHeard: self ? undefined : view.lastHeard(m.peerId),
      connected: self || connected.has(m.peerId),
      partitioned: partitioned.has(m.peerId),
      reported: reported === undefined ? undefined : { ...reported, log: { ...reported.log } }
    }
  })
  return { epoch: view.epoch, known }
}

export function deletesSnapshot (n: BellwetherNode): DeletesSnapshot {
  return { summary: n.deleteLog.summary(), gc: gcOf(n), floor: n.floor.entries(), records: n.deleteLog.records() }
}

export function aeSnapshot (n: BellwetherNode): AeSnapshot {
  return { active: n.aeScheduler.active, stuck: n.aeScheduler.stuck, totals: { ...n.ae.totals }, recent: n.ae.recent.map((r) => ({ ...r })) }
}

export function recoverySnapshot (n: BellwetherNode): RecoverySnapshot {
  return {
    progress: progressOf(n),
    totals: { ...n.recovery.totals },
    repair: { pending: n.repair.pending, totals: { ...n.repair.totals } }
  }
}

/** entries kept per peer, by map: every one shrinks back when members are evicted (bounded state) */
export function peerStateCounts (membership: MembershipService, replica: DeleteReplica, objectPeers: ObjectPeers, ae: AeScheduler): PeerStateCounts {
  const m = membership.peerStateSizes()
  const r = replica.peerStateSizes()
  return {
    heartbeats: m.heartbeats,
    backoffs: m.backoffs,
    relays: m.relays,
    direct: m.direct,
    synced: r.syncedAt,
    connected: r.connectedAt,
    up: r.up,
    floorHashes: r.floorHashes,
    objectPeers: objectPeers.size,
    gcSynced: r.synced,
    gcAcks: r.acks,
    aeSlots: ae.slots,
    known: membership.view.known().length - 1
  }
}
