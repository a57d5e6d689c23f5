// State shared by the workload and the sampler during one chaos run, and nothing else:
//   - DeleteTracker: which objects are covered by an ACKNOWLEDGED delete (whole VDI) or
//     discard, so the sampler records only those (compact: per-vid maps and IndexSets of
//     32-bit indexes, never a Set of bigints). The workload feeds it at the moment it writes
//     the `ok` record, with the same time; the checker re-derives the exact windows from the
//     history, so the tracker only has to be a superset of what matters.
//   - RunningNodes: which cluster nodes have a live process (paused ones count as running:
//     their requests simply time out), from the cluster file, re-read now and then so nodes
//     restarted by the nemesis (new pids) are found again.

import { IndexSet } from '../idset.js'
import { HIGH_FLAG_MASK, HIGH_RESERVED_MASK, MAX_VID } from '../oid.js'
import { readClusterFile, type ClusterFile, type ClusterNode } from '../cluster/clusterFile.js'
import { processState } from '../cluster/launcher.js'

export class DeleteTracker {
  /** vid → newest deleted generation and its ack time */
  private readonly vids = new Map<number, { generation: number; time: number }>()
  /** vid → discarded data-object indexes (acknowledged) */
  private readonly discards = new Map<number, IndexSet>()
  private discardCount = 0

  /** an acknowledged whole-VDI delete */
  vdiDeleted (vid: number, generation: number, time: number): void {
    const cur = this.vids.get(vid)
    if (cur === undefined || generation >= cur.generation) this.vids.set(vid, { generation, time })
    // the whole VDI covers its discards
    const d = this.discards.get(vid)
    if (d !== undefined) {
      this.discardCount -= d.size
      this.discards.delete(vid)
    }
  }

  /** a VDI was created at `vid`: if it reuses a deleted vid, that vid's objects are live again */
  vdiCreated (vid: number, generation: number): void {
    const cur = this.vids.get(vid)
    if (cur !== undefined && generation > cur.generation) this.vids.delete(vid)
  }

  /** acknowledged discard of data objects of `vid` */
  discarded (vid: number, indexes: ArrayLike<number>): void {
    if (this.vids.has(vid)) return
    let s = this.discards.get(vid)
    if (s === undefined) this.discards.set(vid, (s = new IndexSet()))
    for (let i = 0; i < indexes.length; i++) if (s.add(indexes[i]!)) this.discardCount++
  }

  /** a write to a discarded index makes the object live again (the workload never does this) */
  rewritten (vid: number, index: number): void {
    if (this.discards.get(vid)?.delete(index) === true) this.discardCount--
  }

  /** Is the oid (high 32 bits, low 32 bits) covered? No bigint is made. */
  covers (high: number, low: number): boolean {
    if ((high & HIGH_RESERVED_MASK) !== 0) return false
    const vid = high & MAX_VID
    if (this.vids.has(vid)) return true
    if ((high & HIGH_FLAG_MASK) !== 0) return false
    return this.discards.get(vid)?.has(low) === true
  }

  get deletedVdis (): number { return this.vids.size }
  get discardedObjects (): number { return this.discardCount }
}

export interface RunningNodesOptions {
  /** how long an answer is reused (default 1000 ms) */
  refreshMs?: number
  /** re-read DIR/cluster.json on refresh (pids change when the nemesis restarts nodes) */
  dir?: string
  /** override the process check (tests) */
  isRunning?: (n: ClusterNode) => Promise<boolean>
}

export class RunningNodes {
  private file: ClusterFile
  private running: ClusterNode[] = []
  private at = -Infinity
  private pending: Promise<ClusterNode[]> | undefined
  private readonly refreshMs: number

  constructor (file: ClusterFile, private readonly opts: RunningNodesOptions = {}) {
    this.file = file
    this.refreshMs = opts.refreshMs ?? 1000
  }

  /** every node of the cluster file (as last read) */
  get nodes (): ClusterNode[] { return this.file.nodes }

  /** the nodes whose process is alive, at most refreshMs old */
  async get (): Promise<ClusterNode[]> {
    if (Date.now() - this.at < this.refreshMs) return this.running
    this.pending ??= this.refresh().finally(() => { this.pending = undefined })
    return await this.pending
  }

  /** forget the cached answer (after a request was refused: the node may be gone) */
  invalidate (): void { this.at = -Infinity }

  private async refresh (): Promise<ClusterNode[]> {
    if (this.opts.dir !== undefined) {
      try {
        this.file = (await readClusterFile(this.opts.dir)) ?? this.file
      } catch {
        // a cluster file being rewritten right now: keep the last good one
      }
    }
    const check = this.opts.isRunning ?? (async (n: ClusterNode) => (await processState(n.pid, n.dataDir)) === 'ours')
    const alive = await Promise.all(this.file.nodes.map(async (n) => await check(n).catch(() => false)))
    this.running = this.file.nodes.filter((_, i) => alive[i])
    this.at = Date.now()
    return this.running
  }
}
