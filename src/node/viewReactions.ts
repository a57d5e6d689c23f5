// How this node follows its membership view: on every change the epoch and the known members
// are persisted; when placement changes the ring (this node and the live members seen serving
// objects) is rebuilt and recovery scheduled; so is recovery after a member restarted unnoticed
// and after a put landed here that this node's ring does not place here. The node owns the
// parts (files, quorum, recovery loop); this file owns the rules and the ring.
import type { Logger } from 'pino'
import { Ring } from '../placement.js'
import type { MembershipView, ViewChange } from '../membership/view.js'
import type { EpochFile } from './epochFile.js'
import type { WriteQuorum } from './quorum.js'
import type { RecoveryLoop } from './recoveryLoop.js'
import type { NodeMetrics } from './metrics.js'

/** view changes come in bursts (a cluster starting, a partition): recover once they settle, this long after the last */
export const RECOVERY_DEBOUNCE_MS = 1000

/** read when used: the node creates most of these in start() */
export interface ViewParts {
  self: () => string
  zone: () => number
  /** undefined before start() */
  view: () => MembershipView | undefined
  /** identify showed `peer` serving objects (objectPeers.ts) */
  serving: (peer: string) => boolean
  epochFile: () => EpochFile
  quorum: () => WriteQuorum
  recovery: () => RecoveryLoop | undefined
  stopping: () => boolean
  metrics: NodeMetrics
  log: Logger
}

export class ViewReactions {
  /** placement: this node and the live members seen serving objects */
  ring = new Ring([])

  constructor (private readonly p: ViewParts) {}

  onViewChange (change: ViewChange): void {
    const { log } = this.p
    const view = this.p.view()!
    this.p.epochFile().write(change.epoch).catch((err) => { log.warn({ err: String(err) }, 'could not persist epoch') })
    // a member that announced its leaving is no longer counted; one that fell silent still is
    const departed = view.departed()
    this.p.quorum().heard(view.known().map((m) => m.peerId).filter((id) => !departed.includes(id)), departed)
      .catch((err) => { log.warn({ err: String(err) }, 'could not persist the known members') })
    if (!change.placementChanged) {
      // nothing moves, but a member that restarted unnoticed took its in-flight writes and its
      // replica-repair queue with it: compare versions among holders (a recovery pass)
      if ((change.restarted?.length ?? 0) > 0) {
        log.info({ restarted: change.restarted }, 'member restarted: recovery pass to find replicas its lost writes and repairs left behind')
        this.scheduleRecovery(RECOVERY_DEBOUNCE_MS)
      }
      return
    }
    this.placementChanged()
  }

  /** the members or who serves objects changed: a new ring, and recovery after the debounce */
  placementChanged (): void {
    this.rebuildRing()
    this.scheduleRecovery(RECOVERY_DEBOUNCE_MS)
  }

  /**
   * A peer's put landed here although this node's view does not make it a target: the writer's
   * view differs (a membership change half heard). Recovery passes are the only thing that
   * looks at copies off placement, and this node's may already have run, so one more: it hands
   * the copy to targets holding an older version, and drops it here once every target holds it.
   */
  storedFrom (oid: bigint, copies: number, from: string): void {
    const self = this.p.self()
    if (copies === 0 || from === self || this.p.stopping()) return
    if (this.ring.pick(oid, copies).includes(self)) return
    this.p.metrics.offPlacementPuts.inc()
    this.p.recovery()?.nudge()
  }

  /** (re)start recovery for the current epoch after `delayMs`; a run in progress is aborted (its work stays on disk) */
  scheduleRecovery (delayMs: number): void {
    if (!this.p.stopping()) this.p.recovery()?.schedule(delayMs)
  }

  rebuildRing (): void {
    const self = this.p.self()
    const members = (this.p.view()?.members() ?? []).filter((m) => m.peerId === self || this.p.serving(m.peerId))
    const ring = new Ring(members.length > 0 ? members.map((m) => ({ id: m.peerId, zone: m.zone })) : [{ id: self, zone: this.p.zone() }])
    // puts name the ring that placed them (a replica refuses another): a line per change lets a
    // refused write be matched to the views of both ends
    if (ring.hash !== this.ring.hash) this.p.log.info({ ring: ring.hash.toString(16), nodes: ring.nodes.length }, 'placement ring changed')
    this.ring = ring
  }
}
