// Where a peer's comings and goings reach the delete replica and the per-peer state around it:
// a heartbeat's log summary (a beacon: anti-entropy when it differs), a connection opened (the
// purge-before-serve gate starts over), the last connection closed, and a member evicted from
// the view (every per-peer map forgets it, so per-peer state stays bounded).
import type { Logger } from 'pino'
import type { WriteQuorum } from './quorum.js'
import type { Host } from '../net/host.js'
import type { MembershipService } from '../membership/membership.js'
import type { DeleteReplica } from '../tombstones/replica.js'
import type { Effect } from '../tombstones/replicaTypes.js'
import type { ObjectPeers } from './objectPeers.js'
import type { AeScheduler } from '../antientropy/aeScheduler.js'
import type { Clock } from '../time.js'

export interface PeerEventParts {
  host: Host
  membership: MembershipService
  replica: DeleteReplica
  objectPeers: ObjectPeers
  aeScheduler: AeScheduler
  /** the clock the AE service stamps sessions with: the replica compares the two */
  time: Clock
  /** runs effects nobody waits on (failures logged by the node) */
  fire: (effects: Effect[]) => void
  /** the write quorum's count of known members (quorum.ts) */
  quorum: WriteQuorum
  log: Logger
}

export function wirePeerEvents (p: PeerEventParts): void {
  p.membership.onPeerState = (peer, st) => { p.fire(p.replica.onBeacon(peer, { hlc: st.hlc, log: st.log })) }
  p.host.addEventListener('connection:open', (evt) => {
    p.fire(p.replica.onPeerUp(evt.detail.remotePeer.toString(), p.time.now()))
  })
  // its last connection closed
  p.host.addEventListener('peer:disconnect', (evt) => { p.replica.onPeerDown(evt.detail.toString()) })
  p.membership.onForget = (peers) => {
    for (const peer of peers) {
      p.fire(p.replica.onPeerForgotten(peer))
      p.objectPeers.forget(peer)
      p.aeScheduler.forget(peer)
    }
    p.quorum.forget(peers).catch((err) => { p.log.warn({ err: String(err) }, 'could not persist the known members') })
  }
}
