// Why a node is busy, in words an operator can act on: `cluster wait` prints them, the status
// page shows them, and the heartbeat carries busy() so peers and the bench know when a
// cluster is quiet. Reads a snapshot of the node's parts; decides nothing.
import type { RecoveryProgress } from '../recovery/recovery.js'

export interface BusyParts {
  /** why object I/O is refused now (node.unavailable()), or undefined */
  unavailable: string | undefined
  recovery: RecoveryProgress
  /** a recovery pass is waiting for its debounce or retry */
  recoveryScheduled: boolean
  /** delete batches waiting for a gossip mesh */
  gossipPending: number
  aeSessions: number
  repairPending: number
}

export function busyReasons (p: BusyParts): string[] {
  const out: string[] = []
  if (p.unavailable != null) out.push(`refusing object reads and writes: ${p.unavailable}`)
  const r = p.recovery
  if (p.gossipPending > 0) out.push(`${p.gossipPending} delete batches waiting for a gossip mesh`)
  if (p.aeSessions > 0) out.push(`${p.aeSessions} anti-entropy sessions running`)
  if (r.running) out.push(`recovery of epoch ${r.epoch} running (${r.recovered}/${r.toRecover} recovered)`)
  if (p.recoveryScheduled) {
    const why = r.finishedAt === 0
      ? 'after a view change'
      : `last pass: ${r.failed} failed, ${r.peerFailures} peer failures, ${r.pendingDrops} copies kept until their new holders confirm`
    out.push(`recovery scheduled (${why})`)
  }
  if (p.repairPending > 0) out.push(`${p.repairPending} objects waiting for replica repair`)
  return out
}
