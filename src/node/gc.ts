// Tombstone GC by causal stability, never by a clock. A node's ack is the HLC up to which it
// holds every delete record of every current member: the oldest "peer clock at the start of
// my last clean session with it" over all members. The GC horizon is the smallest ack of all
// current members (evicted ones no longer count). Whole-VDI records at or below the horizon
// fold into the floor (one entry per vid, kept forever); discards of a folded generation go
// with them. A peer that lags behind the horizon, or whose floor differs, is sent the floor.
import type { Logger } from 'pino'
import type { DeleteLog } from '../tombstones/deleteLog.js'
import type { Floor } from '../tombstones/floor.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { recordHash, type DeleteRec } from '../tombstones/record.js'
import type { ReconSet } from '../antientropy/reconSet.js'
import { MAX_VID } from '../oid.js'

/** the smallest peer snapshot time over all other members; 0 if any member was never reconciled */
export function computeAck (self: string, members: string[], synced: ReadonlyMap<string, bigint>, now: bigint): bigint {
  let ack = now
  for (const m of members) {
    if (m === self) continue
    const t = synced.get(m)
    if (t == null) return 0n
    if (t < ack) ack = t
  }
  return ack
}

/** the smallest ack over all members; never moves back */
export function computeHorizon (members: string[], acks: ReadonlyMap<string, bigint>, previous: bigint): bigint {
  let h: bigint | undefined
  for (const m of members) {
    const a = acks.get(m) ?? 0n
    if (h == null || a < h) h = a
  }
  return h != null && h > previous ? h : previous
}

/** is `rec` subsumed by the floor (so it must neither be kept nor re-learned)? */
export function coveredByFloor (rec: DeleteRec, floorGen: number | undefined): boolean {
  return floorGen != null && rec.generation <= floorGen
}

export interface GcDeps {
  self: string
  floor: Floor
  log: DeleteLog
  index: TombstoneIndex
  set: ReconSet
  /** current (not evicted) members, self included, whether alive or not */
  members (): string[]
  now (): bigint
  /** purge every object of vid with generation <= gen */
  purgeVid (vid: number, gen: number): Promise<number>
  logger: Logger
}

export class TombstoneGc {
  /** per peer: its clock at the start of my last clean session with it */
  private readonly synced = new Map<string, bigint>()
  /** per peer: the ack it last announced (heartbeat or session) */
  private readonly acks = new Map<string, bigint>()
  private running: Promise<void> | undefined
  /** every fold (a GC round, or a floor from a peer) runs one at a time: they rewrite the same log */
  private folding: Promise<unknown> = Promise.resolve()
  folded = 0
  /** GC rounds run to the end (whether or not they folded anything) */
  rounds = 0
  /** floors a peer sent because our ack was behind its horizon (a reset), as opposed to a floor-digest sync */
  resets = 0

  constructor (private readonly d: GcDeps) {}

  get horizon (): bigint { return this.d.floor.horizon }

  ack (): bigint { return computeAck(this.d.self, this.d.members(), this.synced, this.d.now()) }

  noteSession (peer: string, peerNow: bigint): void {
    if (peerNow > (this.synced.get(peer) ?? 0n)) this.synced.set(peer, peerNow)
  }

  noteAck (peer: string, ack: bigint): void {
    if (ack > (this.acks.get(peer) ?? 0n)) this.acks.set(peer, ack)
  }

  peerAck (peer: string): bigint | undefined { return this.acks.get(peer) }

  /** an evicted member's entries: the horizon is computed over current members only, so they are dead weight */
  forget (peer: string): void {
    this.synced.delete(peer)
    this.acks.delete(peer)
  }

  /** peers with a sync point / an ack held here */
  get peerEntries (): { synced: number, acks: number } { return { synced: this.synced.size, acks: this.acks.size } }

  /** a peer behind our horizon may lack records we folded: it gets the floor (a reset) */
  needsReset (peer: string): boolean {
    return this.horizon > 0n && (this.acks.get(peer) ?? 0n) < this.horizon
  }

  /** records the floor already stands for are dropped on arrival (and from the set) */
  filter (recs: DeleteRec[]): DeleteRec[] {
    const keep: DeleteRec[] = []
    for (const r of recs) {
      if (coveredByFloor(r, this.d.floor.get(r.vid))) this.d.set.remove(recordHash(r))
      else keep.push(r)
    }
    return keep
  }

  /**
   * Floor entries from a peer: saved (only then adopted), applied, purged — inside the fold
   * chain, so a GC round and any number of sessions never write the floor at once. Entries
   * out of range (untrusted bytes) are skipped. `reset`: the peer found us behind its horizon.
   */
  async applyFloor (entries: Array<{ vid: number, generation: number }>, reset = false): Promise<number> {
    if (reset) this.resets++
    const valid = entries.filter((e) => validEntry(e.vid, e.generation))
    if (valid.length < entries.length) this.d.logger.warn({ skipped: entries.length - valid.length }, 'floor entries out of range from a peer skipped')
    if (valid.every((e) => (this.d.floor.get(e.vid) ?? -1) >= e.generation)) return 0
    return await this.fold(async () => {
      const before = new Map(valid.map((e) => [e.vid, this.d.floor.get(e.vid)]))
      await this.d.floor.update((d) => { for (const e of valid) d.raise(e.vid, e.generation) })
      const raised = [...before].filter(([vid, old]) => this.d.floor.get(vid) !== old)
      let purged = 0
      for (const [vid] of raised) {
        const gen = this.d.floor.get(vid)!
        this.d.index.applyFloor(vid, gen)
        purged += await this.d.purgeVid(vid, gen)
      }
      await this.dropFoldedNow()
      if (raised.length > 0) this.d.logger.info({ entries: raised.length, purged }, 'applied floor entries from a peer')
      return purged
    })
  }

  private stopped = false

  /** no new rounds; resolves once a round in progress has finished (before the log closes) */
  async stop (): Promise<void> {
    this.stopped = true
    await this.running?.catch(() => {})
    await this.folding
  }

  /** one GC round: advance the horizon if every member acknowledged more, and fold */
  async collect (): Promise<number> {
    if (this.stopped) return 0
    if (this.running != null) { await this.running; return 0 }
    let n = 0
    this.running = (async () => {
      const members = this.d.members()
      const acks = new Map(this.acks)
      acks.set(this.d.self, this.ack())
      const h = computeHorizon(members, acks, this.d.floor.horizon)
      if (h <= this.d.floor.horizon && !this.hasFoldable()) return
      n = await this.fold(async () => {
        await this.d.floor.update((d) => {
          d.advance(h)
          for (const r of this.d.log.records()) {
            if (r.kind === 'vdi' && r.hlc <= h) d.raise(r.vid, r.generation)
          }
        })
        return await this.dropFoldedNow()
      })
    })()
    try {
      await this.running
      this.rounds++
    } finally { this.running = undefined }
    return n
  }

  private hasFoldable (): boolean {
    const h = this.d.floor.horizon
    return this.d.log.records().some((r) => r.kind === 'vdi' && r.hlc <= h)
  }

  /** runs `fn` after every earlier fold has finished: folds rewrite the same floor and log */
  private async fold<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.folding.then(fn)
    this.folding = run.catch(() => {})
    return await run
  }

  /**
   * Drops from the log what the (saved) floor stands for. Each dropped record's seq is saved
   * in the floor first; a covered record whose seq is not saved yet (appended meanwhile)
   * stays for the next round, so a restart can never reuse a folded seq. Caller is in fold().
   */
  private async dropFoldedNow (): Promise<number> {
    const floor = this.d.floor
    const covered = (r: DeleteRec): boolean => coveredByFloor(r, floor.get(r.vid))
    const gone = this.d.log.records().filter(covered)
    if (gone.length === 0) return 0
    await floor.update((d) => { for (const r of gone) d.noteSeq(r.origin, r.seq) })
    const dropped = await this.d.log.compact((r) => covered(r) && floor.seq(r.origin) >= r.seq)
    for (const r of gone) if (!this.d.log.has(r.origin, r.seq)) this.d.set.remove(recordHash(r))
    this.folded += dropped
    this.d.logger.info({ dropped, horizon: floor.horizon.toString(16), floor: floor.size, log: this.d.log.size }, 'tombstones folded into the floor')
    return dropped
  }
}

function validEntry (vid: number, gen: number): boolean {
  return Number.isInteger(vid) && vid >= 1 && vid <= MAX_VID && Number.isInteger(gen) && gen >= 0 && gen <= 0xffff_ffff
}
