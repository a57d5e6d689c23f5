// Replica repair: a write that did not reach every placement target (a paused, partitioned
// or crashing replica) is not acknowledged, yet some replicas may hold its new version and
// others the old one or none. Recovery only runs when placement changes, and a short fault
// changes no placement, so the coordinator remembers such oids and keeps pushing the newest
// version to the targets that lag until all of them have it. Tombstones still gate every put:
// a repair can never bring back a deleted object (the target refuses it and the oid is dropped).
import type { Logger } from 'pino'
import { OidSet } from '../idset.js'
import { formatOid, oidToVid } from '../oid.js'
import { Status } from '../wire/bellwether_pb.js'
import type { ClusterIO } from './clusterIo.js'
import { sameVersionOrder } from '../store/objectStoreApi.js'

/** oids waiting at most; past this a full recovery pass is the cheaper repair */
export const MAX_REPAIR_QUEUE = 1 << 20
const BATCH = 256
const PARALLEL = 8

export type RepairResult = 'done' | 'retry' | 'dropped'

/** oids named per outcome in a round's log line (the counts are always whole) */
const LOGGED_OIDS = 16

interface Head { peer: string, version: bigint, checksum: number, length: number, generation: number }

/** `a` wins over `b`: a newer version, or one version with the content every replica keeps (judgePut) */
function newer (a: Head, b: Head): boolean {
  return a.version > b.version || (a.version === b.version && sameVersionOrder(a, b) > 0)
}

export class ReplicaRepair {
  private readonly queue = new OidSet()
  private overflowed = false
  /** where the next round starts, so oids that keep failing do not starve the rest */
  private rotation = 0
  /** retried: attempts that could not finish (a target or the VDI's inode out of reach); the oid stays queued */
  readonly totals = { repaired: 0, pushed: 0, dropped: 0, overflows: 0, retried: 0 }

  constructor (
    private readonly io: ClusterIO,
    /** copies of the live VDI that owns `vid`, undefined when it is deleted or unknown */
    private readonly copiesOf: (vid: number) => Promise<number | undefined>,
    private readonly log: Logger,
    /** the queue overflowed: the node should run a full recovery pass instead */
    private readonly onOverflow: () => void = () => {}
  ) {}

  get pending (): number { return this.queue.size }

  enqueue (oid: bigint): void {
    if (this.queue.size >= MAX_REPAIR_QUEUE) {
      if (!this.overflowed) {
        this.overflowed = true
        this.totals.overflows++
        this.log.warn({ queued: this.queue.size }, 'replica repair queue full; asking for a full recovery pass')
        this.onOverflow()
      }
      return
    }
    this.queue.add(oid)
  }

  /** one bounded round over the queue; resolves when it is done */
  async round (): Promise<void> {
    if (this.queue.size === 0) { this.overflowed = false; return }
    const all = this.queue.toBigUint64Array()
    const start = this.rotation % all.length
    const batch = all.length <= BATCH ? all : BigUint64Array.from({ length: BATCH }, (_, k) => all[(start + k) % all.length])
    this.rotation = start + batch.length
    let next = 0
    // one line a round that did something, naming some oids: a failed check's lagging replica
    // must be traceable to what repair did with it, without a line per oid
    const outcome: Record<RepairResult | 'current', { n: number, oids: string[] }> = { done: { n: 0, oids: [] }, current: { n: 0, oids: [] }, dropped: { n: 0, oids: [] }, retry: { n: 0, oids: [] } }
    const count = (k: keyof typeof outcome, oid: bigint, why = ''): void => {
      const o = outcome[k]
      if (o.n++ < LOGGED_OIDS) o.oids.push(why === '' ? formatOid(oid) : `${formatOid(oid)} (${why})`)
    }
    const worker = async (): Promise<void> => {
      while (next < batch.length) {
        const oid = batch[next++]
        const why = { text: '' }
        const r = await this.repairOne(oid, why).catch((err) => {
          why.text = String(err)
          return 'retry' as const
        })
        const current = r === 'done' && why.text.startsWith('current')
        count(current ? 'current' : r, oid, current && why.text !== 'current' ? why.text.slice(8) : r === 'done' ? '' : why.text)
        if (r === 'retry') { this.totals.retried++; continue }
        this.queue.delete(oid)
        if (r === 'done') this.totals.repaired++
        else this.totals.dropped++
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, batch.length) }, worker))
    if (outcome.done.n + outcome.current.n + outcome.dropped.n > 0) {
      this.log.info({ pushed: outcome.done, alreadyCurrent: outcome.current, dropped: outcome.dropped, retry: outcome.retry, queued: this.queue.size }, 'replica repair round')
    }
  }

  /** bring every placement target of `oid` to its newest version */
  async repairOne (oid: bigint, why: { text: string } = { text: '' }): Promise<RepairResult> {
    const copies = await this.copiesOf(oidToVid(oid))
    if (copies == null) { why.text = 'VDI deleted or unknown'; return 'dropped' } // nothing to repair
    const ring = this.io.ringHash()
    const targets = this.io.placement(oid, copies)
    const heads = await Promise.allSettled(targets.map(async (p) => await this.io.get(p, oid, true)))
    let unreachable = false
    let best: Head | undefined
    const have = new Map<string, Head>()
    for (let i = 0; i < targets.length; i++) {
      const h = heads[i]
      if (h.status === 'rejected') { unreachable = true; continue }
      const r = h.value
      if (r.status === Status.DELETED) { why.text = `deleted on ${targets[i]}`; return 'dropped' } // the delete wins
      if (r.status === Status.OK) {
        const h: Head = { peer: targets[i], version: r.version, checksum: r.checksum, length: r.length, generation: r.generation }
        have.set(targets[i], h)
        if (best == null || newer(h, best)) best = h
      } else if (r.status !== Status.NOT_FOUND) {
        unreachable = true
      }
    }
    // no target holds it: either nothing landed anywhere, or placement moved (recovery's job)
    why.text = unreachable ? 'a target out of reach' : `no target of ${targets.length} holds it`
    if (best == null) return unreachable ? 'retry' : 'dropped'
    const lagging = targets.filter((p, i) => heads[i].status === 'fulfilled' && !(have.has(p) && !newer(best, have.get(p)!)))
    if (lagging.length === 0) {
      // every target of the placement holds the newest; fewer targets than copies (members
      // missing from the view) leaves the rest to recovery when they return
      why.text = unreachable ? why.text : targets.length < copies ? `current on ${targets.length} of ${copies} copies` : 'current'
      return unreachable ? 'retry' : 'done'
    }
    const full = await this.io.get(best.peer, oid)
    if (full.status !== Status.OK) { why.text = `reading it from ${best.peer}: ${Status[full.status]}`; return 'retry' }
    const obj = { oid, generation: full.generation, version: full.version, data: full.data, copies, ring }
    for (const p of lagging) {
      try {
        const r = await this.io.put(p, obj)
        if (r.status === Status.DELETED) { why.text = `${p} refused it: deleted`; return 'dropped' }
        if (r.status === Status.OK) this.totals.pushed++
        else if (r.status !== Status.STALE) { unreachable = true; why.text = `${p}: ${Status[r.status]}` }
      } catch (err) {
        unreachable = true
        why.text = `${p}: ${String(err)}`
      }
    }
    if (!unreachable) why.text = ''
    return unreachable ? 'retry' : 'done'
  }
}
