// One object's replicas, for the VDI operations. A read takes the newest version among the
// placement targets, and asks every other member when placement moved since the write. A write
// is acknowledged only when every target stored it. Two refusals are not failures: a replica
// placed by another view (the write waits for views to agree and is placed again) and a newer
// version already stored (re-read and written again). A write some replicas took and others
// did not is reported, so the node queues a replica repair.
import { Status, type ObjResponse } from '../wire/bellwether_pb.js'
import { formatOid } from '../oid.js'
import type { ClusterIO } from './clusterIo.js'
import { VdiError, type Inode } from './inode.js'

const WRITE_RETRIES = 3
/**
 * A replica refused a write placed by another view (STATUS_VIEW_MISMATCH): views agree again
 * within a heartbeat or two, so the write waits and is placed again, for at most this long
 */
const VIEW_WAIT_MS = 4000
const VIEW_RETRY_MS = 250

export class StaleWrite extends Error {
  constructor (oid: bigint) { super(`a newer version of ${formatOid(oid)} exists`) }
}

export class ViewMismatch extends Error {}

export class Replicas {
  /** `partial`: told of every oid a write reached only some replicas of */
  constructor (private readonly io: ClusterIO, private readonly partial: (oid: bigint) => void) {}

  /**
   * Writes one whole object of `inode`, made by `content` (called again for each attempt: a
   * partial object is read, modified and written whole). Placed again while views disagree,
   * for at most VIEW_WAIT_MS; made and written again when a concurrent writer got a newer
   * version in first, WRITE_RETRIES times in all.
   */
  async write (inode: Inode, oid: bigint, content: () => Promise<Uint8Array>): Promise<void> {
    let viewWaits = 0
    for (let attempt = 1; ; attempt++) {
      const data = await content()
      try {
        await this.place(inode, oid, data)
        return
      } catch (err) {
        if (err instanceof ViewMismatch) {
          // placed by a view some replica does not share: wait for views to agree, place again
          if (++viewWaits > VIEW_WAIT_MS / VIEW_RETRY_MS) throw new VdiError(`write of ${formatOid(oid)}: ${err.message} (views did not agree within ${VIEW_WAIT_MS} ms)`, 'UNAVAILABLE')
          await this.io.sleep(VIEW_RETRY_MS)
          attempt--
          continue
        }
        // a concurrent writer got a newer version in first: re-read and try again
        if (!(err instanceof StaleWrite) || attempt >= WRITE_RETRIES) throw err
      }
    }
  }

  /** the newest stored version of `oid` (a data object of `inode`), undefined if it was never written */
  async read (inode: Inode, oid: bigint): Promise<Uint8Array | undefined> {
    const targets = this.io.placement(oid, inode.copies)
    const errors: string[] = []
    // the data from the first target and the versions of the others, in one round trip: a
    // target back from an absence may hold a stale version until its recovery has run, and
    // the newest version must win the read, not the first answer
    const answers = await Promise.allSettled(targets.map(async (p, i) => await this.io.get(p, oid, i > 0, inode.objectSize)))
    let newest: { i: number, version: bigint } | undefined
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]
      if (a.status === 'rejected') { errors.push(`${targets[i]}: ${String(a.reason?.message ?? a.reason)}`); continue }
      const r = a.value
      if (r.status === Status.DELETED) throw new VdiError(`object ${formatOid(oid)} is deleted`, 'DELETED')
      if (r.status === Status.OK) {
        if (newest == null || r.version > newest.version) newest = { i, version: r.version }
      } else if (r.status !== Status.NOT_FOUND) {
        errors.push(`${targets[i]}: ${r.error}`)
      }
    }
    if (newest != null) {
      const first = answers[0]
      const peer = targets[newest.i]
      try {
        const got = newest.i === 0 && first.status === 'fulfilled' ? first.value : await this.io.get(peer, oid, false, inode.objectSize)
        if (got.status === Status.OK && got.version >= newest.version) return got.data
        if (got.status === Status.DELETED) throw new VdiError(`object ${formatOid(oid)} is deleted`, 'DELETED')
        errors.push(`${peer}: ${got.error !== '' ? got.error : Status[got.status]} while reading the newest version`)
      } catch (err) {
        if (err instanceof VdiError) throw err
        errors.push(`${peer}: ${(err as Error).message}`)
      }
    }
    // placement may have moved since the write (a view change before recovery ran): ask everyone else
    const others = this.io.members().filter((p) => !targets.includes(p))
    const best = await this.newest(oid, others, errors, inode.objectSize)
    if (best != null) return best.data
    if (errors.length > 0) throw new VdiError(`object ${formatOid(oid)} unreadable: ${errors.join('; ')}`, 'UNAVAILABLE')
    return undefined
  }

  /**
   * The newest copy among `peers`; throws UNAVAILABLE when none of them answered.
   * expectBytes: how big the object is (an inode: small, so the plain request deadline)
   */
  async newest (oid: bigint, peers: string[], errors: string[] = [], expectBytes = 0): Promise<ObjResponse | undefined> {
    const answers = await Promise.allSettled(peers.map(async (p) => await this.io.get(p, oid, false, expectBytes)))
    let best: ObjResponse | undefined
    answers.forEach((a, i) => {
      if (a.status === 'rejected') { errors.push(`${peers[i]}: ${String(a.reason?.message ?? a.reason)}`); return }
      const r = a.value
      if (r.status === Status.OK && (best == null || r.version > best.version)) best = r
      else if (r.status !== Status.OK && r.status !== Status.NOT_FOUND && r.status !== Status.DELETED) errors.push(`${peers[i]}: ${r.error}`)
    })
    if (best == null && errors.length > 0 && peers.length > 0 && errors.length === peers.length) {
      throw new VdiError(`no member answered for ${formatOid(oid)}: ${errors.join('; ')}`, 'UNAVAILABLE')
    }
    return best
  }

  /** one attempt: acknowledged only when every placement target stored it (ViewMismatch, StaleWrite: see write) */
  async place (inode: Inode, oid: bigint, data: Uint8Array): Promise<void> {
    const refused = this.io.writeRefusal()
    if (refused != null) throw new VdiError(`write of ${formatOid(oid)} refused: ${refused}`, 'UNAVAILABLE')
    const targets = this.io.placement(oid, inode.copies)
    if (targets.length === 0) throw new VdiError('no live members to place the object on', 'UNAVAILABLE')
    await this.storeOn(targets, { oid, generation: inode.generation, version: this.io.now(), data, copies: inode.copies }, targets.length)
  }

  /** puts `obj` on every one of `targets` (of `replicas` in all, for the message) */
  async storeOn (targets: string[], obj: { oid: bigint, generation: number, version: bigint, data: Uint8Array, copies: number }, replicas: number): Promise<void> {
    const oid = obj.oid
    const answers = await Promise.allSettled(targets.map(async (p) => await this.io.put(p, obj)))
    const failures: string[] = []
    let stale = false
    let views = 0
    answers.forEach((a, i) => {
      if (a.status === 'rejected') { failures.push(`${targets[i]}: ${String(a.reason?.message ?? a.reason)}`); return }
      const r = a.value
      if (r.status === Status.OK) return
      if (r.status === Status.DELETED) throw new VdiError(`write refused: ${r.error}`, 'DELETED')
      if (r.status === Status.VIEW_MISMATCH) views++
      if (r.status === Status.STALE) {
        stale = true
        // the retry's version must pass the stored one, whatever our clock said (a peer's clock
        // ahead of ours within the drift bound); a version past that bound stays unobserved
        try { this.io.observe(r.version) } catch {}
      }
      failures.push(`${targets[i]}: ${Status[r.status]} ${r.error}`)
    })
    const staleAnswers = answers.filter((a) => a.status === 'fulfilled' && a.value.status === Status.STALE).length
    // refused by views only (or as stale): nothing is lost by placing it again with a newer version
    if (views > 0 && failures.length === views + staleAnswers) {
      // the replicas that took it hold a version the others lack until the write is placed again
      if (failures.length < answers.length) this.partial(oid)
      throw new ViewMismatch(failures.join('; '))
    }
    if (stale && failures.length === staleAnswers) throw new StaleWrite(oid)
    if (failures.length > 0) {
      // some replicas may hold this version and others not: not acknowledged, but repaired
      this.partial(oid)
      throw new VdiError(`write of ${formatOid(oid)} failed on ${failures.length}/${replicas} replicas: ${failures.join('; ')}`, 'UNAVAILABLE')
    }
  }
}
