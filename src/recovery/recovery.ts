// Epoch-driven recovery: after a view change every node pulls the objects placement now
// gives it, from the members that hold them, and drops the ones it no longer needs once
// their new holders confirm them (never a last copy), handing its copy first to a target that
// holds an older version. A member's list counts only when taken under this node's placement
// ring (it says which): until then it may still take puts the old ring placed, which this pass
// would never see, so the pass is incomplete and runs again. Tombstones first: object lists are
// exchanged only with members reconciled in this epoch, every listed oid is checked against
// the tombstones before it is requested, and the local write is gated again before it lands
// (a delete racing the transfer wins). The newest version wins; an older one never
// overwrites it. A listed copy that a tombstone covers is never requested, and its holder is
// told (read-repair), so it purges too. Transfers run with bounded parallelism through a
// byte-rate throttle. The driver owns no I/O of its own: the node supplies it through RecoveryIO.
import type { Logger } from 'pino'
import { formatOid, oidToVid } from '../oid.js'
import { mergeLists, type Copy, type ObjectList } from './merge.js'
import { Throttle } from './throttle.js'
import { DEFAULT_RECOVERY_PARALLEL, DEFAULT_RECOVERY_RATE, MAX_HINTS_PER_PEER } from './constants.js'
import { systemTime, type Timers } from '../time.js'
import { forEachLimit } from '../limit.js'

export interface ObjectHeader { version: bigint, generation: number }

export interface RecoveryIO {
  self: string
  members (): string[]
  placement (oid: bigint, copies: number): string[]
  /** the ring placement() uses now (Ring.hash), named by hand-offs placed with it */
  ringHash (): bigint
  /** the live VDI's copies, undefined when the vid has no live VDI (deleted or unknown) */
  copiesOf (vid: number): Promise<number | undefined>
  /** run an anti-entropy session with the peer (tombstones first); error text on failure */
  reconcile (peer: string): Promise<string | undefined>
  /** the member's object list with versions, ascending (self included: the local store) */
  list (peer: string): Promise<ObjectList>
  /** the object, or why not: 'deleted' (a tombstone there covers it), 'missing' (no longer there) */
  fetch (peer: string, oid: bigint): Promise<{ header: ObjectHeader, data: Uint8Array } | 'deleted' | 'missing'>
  /** store locally through the tombstone gate; 'deleted' when a tombstone refused it */
  store (oid: bigint, header: ObjectHeader, data: Uint8Array): Promise<'ok' | 'deleted' | 'stale'>
  /** remove the local copy if it is still exactly this version */
  drop (oid: bigint, version: bigint): Promise<boolean>
  /**
   * hand-off: put this node's copy of `oid` (exactly `version`) to `peer`, a placement target
   * that does not list it yet. 'ok': the peer stored it; 'stale': the peer holds a newer
   * version; 'deleted': a tombstone there refused it; 'gone': ours changed or vanished meanwhile
   */
  handOff (peer: string, oid: bigint, version: bigint, copies: number, ring: bigint): Promise<'ok' | 'stale' | 'deleted' | 'gone'>
  covered (oid: bigint, h: ObjectHeader): boolean
  /** read-repair: tell `peer` (or this node) that tombstones cover these copies it listed; resolves to how many it purged */
  tellDeleted (peer: string, hint: DeletedHint): Promise<number>
  /** persist the last fully recovered epoch */
  completed (epoch: bigint): Promise<void>
}

export interface DeletedHint { oids: bigint[], generations: number[], versions: bigint[] }

export interface RecoveryInit {
  /** transfers in flight at once */
  parallel?: number
  /** bytes per second over all transfers; 0 = unthrottled */
  bytesPerSec?: number
  /** the clock progress is stamped with and the throttle paces on (default: the system's) */
  time?: Timers
}

export interface RecoveryProgress {
  epoch: string
  running: boolean
  toRecover: number
  recovered: number
  failed: number
  /** members this pass could not reconcile with or list: no object failed, but the pass is incomplete */
  peerFailures: number
  /** listed by a peer but covered by a tombstone: never requested, never counted as work */
  deletedSkipped: number
  dropped: number
  /** copies put to a placement target that held an older version, before this node dropped its own */
  handedOff: number
  /** bytes fetched in this pass */
  bytes: number
  /** copies kept because their new holders did not confirm yet: another pass will retry */
  pendingDrops: number
  startedAt: number
  finishedAt: number
  lastCompleteEpoch: string
  errors: string[]
}

const MAX_ERRORS = 20

export class Recovery {
  progress: RecoveryProgress = { epoch: '0', running: false, toRecover: 0, recovered: 0, failed: 0, peerFailures: 0, deletedSkipped: 0, dropped: 0, handedOff: 0, bytes: 0, pendingDrops: 0, startedAt: 0, finishedAt: 0, lastCompleteEpoch: '0', errors: [] }
  /** totals over every epoch, for metrics: deleted oids must never be attempted */
  readonly totals = { recovered: 0, failed: 0, deletedSkipped: 0, dropped: 0, handedOff: 0, racedDeletes: 0, readRepaired: 0, bytes: 0 }
  readonly throttle: Throttle
  private readonly parallel: number
  private readonly time: Timers

  constructor (private readonly io: RecoveryIO, private readonly log: Logger, lastComplete = 0n, init: RecoveryInit = {}) {
    this.progress.lastCompleteEpoch = lastComplete.toString()
    this.parallel = Math.max(1, init.parallel ?? DEFAULT_RECOVERY_PARALLEL)
    this.time = init.time ?? systemTime
    const rate = init.bytesPerSec ?? DEFAULT_RECOVERY_RATE
    this.throttle = new Throttle(rate, Math.max(rate, 1), this.time)
  }

  /** one pass for `epoch`; `signal` aborts it when a newer view arrives (work done so far stays on disk) */
  async run (epoch: bigint, signal: AbortSignal): Promise<boolean> {
    const p: RecoveryProgress = this.progress = { ...this.progress, epoch: epoch.toString(), running: true, toRecover: 0, recovered: 0, failed: 0, peerFailures: 0, deletedSkipped: 0, dropped: 0, handedOff: 0, bytes: 0, pendingDrops: 0, startedAt: this.time.now(), finishedAt: 0, errors: [] }
    const note = (msg: string): void => { if (p.errors.length < MAX_ERRORS) p.errors.push(msg) }
    const fail = (msg: string): void => { p.failed++; this.totals.failed++; note(msg) }
    const peerFail = (msg: string): void => { p.peerFailures++; note(msg) }
    try {
      const peers = this.io.members().filter((m) => m !== this.io.self)
      const lists: ObjectList[] = [await this.io.list(this.io.self)]
      await forEachLimit(peers, this.parallel, signal, async (peer) => {
        const err = await this.io.reconcile(peer)
        if (err != null) { peerFail(`tombstones not reconciled with ${peer}: ${err}`); return }
        let list: ObjectList
        try { list = await this.io.list(peer) } catch (e) { peerFail(`object list of ${peer}: ${(e as Error).message}`); return }
        lists.push(list)
        // listed under another ring, the member may still take puts the old ring placed, after
        // this list and unseen by this pass: use it, and list again once rings agree
        if (list.ring !== undefined && list.ring !== 0n && list.ring !== this.io.ringHash()) peerFail(`${peer} listed its objects under another placement ring (views still settling): listing again`)
      })
      // once per vid and pass; a vid whose VDI could not be looked up fails each of its objects
      // (the pass is then incomplete and retried), never skips them as if the VDI were gone
      const copies = new Map<number, Promise<number | undefined>>()
      const copiesOf = async (vid: number): Promise<number | undefined> => {
        let c = copies.get(vid)
        if (c == null) {
          copies.set(vid, c = this.io.copiesOf(vid))
          c.catch(() => {}) // awaited below by each of its objects
        }
        return await c
      }
      const work: Array<{ oid: bigint, copies: Copy[] }> = []
      const hints = new Map<string, DeletedHint>()
      for (const item of mergeLists(lists)) {
        // tombstones first: a covered copy is never requested, never counted as work, and its holder is told
        const live = item.copies.filter((c) => !this.io.covered(item.oid, c) || !this.hint(hints, c, item.oid))
        if (live.length < item.copies.length) { p.deletedSkipped++; this.totals.deletedSkipped++ }
        if (live.length > 0) work.push({ oid: item.oid, copies: live })
      }
      await this.sendHints(hints, signal)
      await forEachLimit(work, this.parallel, signal, async ({ oid, copies: held }) => {
        let n: number | undefined
        try {
          n = await copiesOf(oidToVid(oid))
        } catch (err) {
          fail(`${formatOid(oid)}: ${(err as Error).message}`)
          return
        }
        if (n == null) return // no live VDI and no tombstone here: an orphan; check reports orphans
        const ring = this.io.ringHash()
        const targets = this.io.placement(oid, n)
        const mine = held.find((c) => c.peer === this.io.self)
        if (targets.includes(this.io.self)) await this.pull(oid, held, mine, fail, signal)
        else if (mine != null) await this.dropIfConfirmed(oid, mine, targets, held, n, ring)
      })
      signal.throwIfAborted()
      const complete = p.failed === 0 && p.peerFailures === 0
      if (complete) {
        p.lastCompleteEpoch = epoch.toString()
        await this.io.completed(epoch)
      }
      this.log.info({ epoch: epoch.toString(), toRecover: p.toRecover, recovered: p.recovered, failed: p.failed, deletedSkipped: p.deletedSkipped, dropped: p.dropped, handedOff: p.handedOff }, complete ? 'recovery complete' : 'recovery incomplete; will retry')
      return complete
    } catch (err) {
      if (signal.aborted) return false
      peerFail(String((err as Error)?.message ?? err))
      return false
    } finally {
      p.running = false
      p.finishedAt = this.time.now()
    }
  }

  /** queue a read-repair hint; false once the peer's hint list is full (the copy then stays in the work, where pull skips it again) */
  private hint (hints: Map<string, DeletedHint>, c: Copy, oid: bigint): boolean {
    let h = hints.get(c.peer)
    if (h == null) hints.set(c.peer, h = { oids: [], generations: [], versions: [] })
    if (h.oids.length >= MAX_HINTS_PER_PEER) return false
    h.oids.push(oid)
    h.generations.push(c.generation)
    h.versions.push(c.version)
    return true
  }

  /** best effort: a peer that misses a hint still purges through its own anti-entropy */
  private async sendHints (hints: Map<string, DeletedHint>, signal: AbortSignal): Promise<void> {
    await forEachLimit([...hints], this.parallel, signal, async ([peer, hint]) => {
      try {
        const purged = await this.io.tellDeleted(peer, hint)
        this.totals.readRepaired += purged
        if (purged > 0) this.log.info({ peer, hinted: hint.oids.length, purged }, 'read-repair: holder purged deleted copies')
      } catch (err) {
        this.log.debug({ peer, err: String(err) }, 'read-repair hint not delivered')
      }
    })
  }

  private async pull (oid: bigint, held: Copy[], mine: Copy | undefined, fail: (m: string) => void, signal: AbortSignal): Promise<void> {
    const p = this.progress
    let best: Copy | undefined
    for (const c of held) {
      if (this.io.covered(oid, c)) return // hint list was full: still never requested
      if (best == null || c.version > best.version) best = c
    }
    if (best == null) return
    if (mine != null && mine.version >= best.version) return
    p.toRecover++
    await this.throttle.admit(signal)
    // any holder of the newest version will do: the one listed first may have gone since the
    // lists were taken (stopped, partitioned), and another holder is not a reason to fail
    const sources = held.filter((c) => c.version === best!.version && c.peer !== this.io.self)
    const errors: string[] = []
    let from = best.peer
    let got: Awaited<ReturnType<RecoveryIO['fetch']>> | null = null
    for (const c of sources) {
      from = c.peer
      got = await this.io.fetch(from, oid).catch((e) => { errors.push(`from ${from}: ${(e as Error).message}`); return null })
      if (got !== null) break
    }
    if (got === null) { fail(`${formatOid(oid)} ${errors.join('; ')}`); return }
    if (got === 'missing') {
      // gone since it was listed: most often a delete this node has not heard of yet.
      // Tombstones first: reconcile with the holder, and only an uncovered loss is a failure
      await this.io.reconcile(from)
      if (!this.io.covered(oid, best)) { fail(`${formatOid(oid)}: ${from} no longer has it`); return }
    }
    if (got === 'deleted' || got === 'missing') {
      p.toRecover--
      this.totals.racedDeletes++
      return
    }
    this.throttle.pay(got.data.byteLength)
    p.bytes += got.data.byteLength
    this.totals.bytes += got.data.byteLength
    const r = await this.io.store(oid, got.header, got.data)
    if (r === 'deleted') {
      // the delete won the race with the transfer: not a failure, and not recovered
      p.toRecover--
      this.totals.racedDeletes++
      return
    }
    p.recovered++
    this.totals.recovered++
  }

  /**
   * Drop a copy placement no longer wants, only once every target holds this version or newer.
   * A target that holds an older version is handed ours first: its own pass, which compared
   * versions, may have run before ours landed here, and it would keep serving the older one.
   * A target that lacks it pulls it itself (a join moves each copy once). A target's answer to the hand-off is as good as its list: it stored ours,
   * or it has newer.
   */
  private async dropIfConfirmed (oid: bigint, mine: Copy, targets: string[], held: Copy[], copies: number, ring: bigint): Promise<void> {
    if (targets.length === 0) return
    for (const t of targets) {
      const c = held.find((h) => h.peer === t)
      if (c != null && c.version >= mine.version) continue
      // a target that lacks it pulls it in its own pass (a join: no second transfer)
      if (c == null) { this.progress.pendingDrops++; return }
      const r = await this.io.handOff(t, oid, mine.version, copies, ring).catch((err: Error) => {
        this.log.debug({ oid: formatOid(oid), peer: t, err: String(err) }, 'hand-off failed; the copy stays')
        return 'failed' as const
      })
      if (r === 'ok') { this.progress.handedOff++; this.totals.handedOff++ }
      // 'deleted': the target knows a delete this node does not yet (its own anti-entropy brings
      // it); 'gone': our copy changed under us; either way the next pass judges again
      if (r !== 'ok' && r !== 'stale') { this.progress.pendingDrops++; return }
    }
    if (await this.io.drop(oid, mine.version)) { this.progress.dropped++; this.totals.dropped++ }
  }
}
