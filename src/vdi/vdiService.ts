// Sheepdog's VDI operations (dog vdi create/list/write/read/delete/discard) on top of
// ClusterIO. A VDI is found by probing vids from sd_hash_vdi(name) (the walk: namespace.ts);
// a create's inode write is arbitrated by the inode's first placement target, so of two
// creates racing for one vid at most one wins. One object's replica reads and writes (newest
// version wins, every target or not acknowledged, waits for views to agree) are replicas.ts.
import { Status, type ObjResponse } from '../wire/bellwether_pb.js'
import { formatVid, vidToDataOid, vidToVdiOid } from '../oid.js'
import { makeDiscardRecords, type DeleteRec } from '../tombstones/record.js'
import type { ClusterIO, DeleteOrigin } from './clusterIo.js'
import {
  DEFAULT_COPIES, DEFAULT_OBJECT_SIZE, VdiError, decodeInode, encodeInode, objectCount,
  validateGeometry, validateName, type Inode
} from './inode.js'
import { MAX_PROBES, classifySlot, walkChain, type Slot, type Walk } from './namespace.js'
import { Replicas, StaleWrite, ViewMismatch } from './replicas.js'

/** a create whose vid another create (of another name) took walks again, this many times in all */
const CREATE_ATTEMPTS = 4
const IO_PARALLELISM = 8
/** replica bytes in flight for one VDI read or write: big objects go fewer at a time, so each transfer keeps a useful share of the link */
const IO_WINDOW_BYTES = 32 * 1024 * 1024

export interface CreateRequest { name: string, size: number, copies?: number, objectSize?: number, prealloc?: boolean }

/**
 * Inodes cached by name, at most. A VDI deleted through another node stays cached here until
 * its name is looked up again, so without a bound a soak that makes and deletes VDIs by the
 * thousand would grow this forever; a miss only costs a probe walk.
 */
export const INODE_CACHE_MAX = 4096

export class VdiService {
  /** inodes are immutable while their VDI lives; an entry is dropped once a tombstone covers it. Oldest first */
  private readonly inodes = new Map<string, Inode>()
  /** told of every oid a write reached only some replicas of (the node queues a replica repair) */
  onPartialWrite?: (oid: bigint) => void
  private readonly replicas: Replicas

  constructor (private readonly io: ClusterIO, private readonly deletes: DeleteOrigin, private readonly defaultCopies = DEFAULT_COPIES, private readonly inodeCacheMax = INODE_CACHE_MAX) {
    this.replicas = new Replicas(io, (oid) => { this.onPartialWrite?.(oid) })
  }

  /** inodes cached now (bounded by inodeCacheMax) */
  get cachedInodes (): number { return this.inodes.size }

  private remember (name: string, inode: Inode): void {
    this.inodes.delete(name)
    this.inodes.set(name, inode)
    for (const oldest of this.inodes.keys()) {
      if (this.inodes.size <= this.inodeCacheMax) break
      this.inodes.delete(oldest)
    }
  }

  async create (req: CreateRequest): Promise<Inode> {
    const name = validateName(req.name)
    const copies = req.copies ?? this.defaultCopies
    const objectSize = req.objectSize ?? DEFAULT_OBJECT_SIZE
    validateGeometry(req.size, objectSize, copies, this.io.maxObjectSize)
    let inode: Inode | undefined
    let refused: { vid: number, generation: number } | undefined
    for (let attempt = 1; inode === undefined; attempt++) {
      const walk = await this.probe(name)
      if (walk.found != null) throw new VdiError(`VDI '${name}' already exists (vid ${formatVid(walk.found.vid)})`, 'EXISTS')
      const free = walk.free
      if (free == null) throw new VdiError(`no free vid within ${MAX_PROBES} of '${name}'s hash`, 'UNAVAILABLE')
      // the arbiter holds an inode there that this node's walk cannot see (yet): do not spin on it
      if (refused != null && refused.vid === free.vid && refused.generation === free.generation) {
        throw new VdiError(`vid ${formatVid(free.vid)} for VDI '${name}' is held by a create this node cannot read yet; try again`, 'UNAVAILABLE')
      }
      const candidate: Inode = { name, vid: free.vid, size: req.size, copies, objectSize, generation: free.generation, created: this.io.now() }
      if (await this.claimInode(candidate)) inode = candidate
      else if (attempt >= CREATE_ATTEMPTS) throw new VdiError(`VDI '${name}': every vid it probed was taken by a concurrent create; try again`, 'UNAVAILABLE')
      else refused = free
    }
    this.remember(name, inode)
    if (req.prealloc === true) {
      const zero = new Uint8Array(objectSize)
      await this.forEachObject(inode.objectSize * inode.copies, 0, objectCount(inode), async (idx) => { await this.replicas.place(inode, vidToDataOid(inode.vid, idx), zero) })
    }
    return inode
  }

  async lookup (name: string): Promise<Inode> {
    validateName(name)
    const cached = this.inodes.get(name)
    if (cached != null && !this.io.tombstones.isVdiDeleted(cached.vid, cached.generation)) return cached
    this.inodes.delete(name)
    const { found } = await this.probe(name)
    if (found == null) throw new VdiError(`VDI '${name}' not found`, 'NOT_FOUND')
    this.remember(name, found.inode)
    return found.inode
  }

  /**
   * The live VDI at `vid` (recovery and replica repair need its copies); undefined only when it
   * is known to be gone: deleted, or held by no member while every member answered. Both callers
   * drop their work on undefined, so a VDI whose inode holders merely did not answer (cut off,
   * restarting) is UNAVAILABLE, never "gone": a repair dropped then is a replica left stale.
   */
  async inodeOf (vid: number): Promise<Inode | undefined> {
    const errors: string[] = []
    const best = await this.replicas.newest(vidToVdiOid(vid), this.io.members(), errors)
    if (best == null) {
      if (errors.length > 0) throw new VdiError(`VDI ${formatVid(vid)} unknown: no member that answered holds its inode, and some did not answer: ${errors.join('; ')}`, 'UNAVAILABLE')
      return undefined
    }
    const inode = decodeInode(best.data, this.io.maxObjectSize)
    return !this.io.tombstones.isVdiDeleted(vid, inode.generation) ? inode : undefined
  }

  async list (): Promise<Inode[]> {
    const vids = new Map<number, bigint>()
    const lists = await Promise.allSettled(this.io.members().map(async (p) => await this.io.listInodes(p)))
    for (const l of lists) {
      if (l.status === 'fulfilled') for (const oid of l.value) vids.set(Number((oid >> 32n) & 0xffffffn), oid)
    }
    const out: Inode[] = []
    for (const vid of [...vids.keys()].sort((a, b) => a - b)) {
      const inode = await this.fetchInode(vid)
      if (inode != null && !this.io.tombstones.isVdiDeleted(inode.vid, inode.generation)) out.push(inode)
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  async write (name: string, offset: number, data: Uint8Array): Promise<{ written: number, objects: number }> {
    const inode = await this.lookup(name)
    this.checkRange(inode, offset, data.byteLength)
    const first = Math.floor(offset / inode.objectSize)
    const last = Math.floor((offset + data.byteLength - 1) / inode.objectSize)
    if (data.byteLength === 0) return { written: 0, objects: 0 }
    await this.forEachObject(inode.objectSize * inode.copies, first, last + 1, async (idx) => {
      const objStart = idx * inode.objectSize
      const from = Math.max(offset, objStart)
      const to = Math.min(offset + data.byteLength, objStart + inode.objectSize)
      const oid = vidToDataOid(inode.vid, idx)
      await this.replicas.write(inode, oid, async () => {
        if (from === objStart && to === objStart + inode.objectSize) return data.subarray(from - offset, to - offset)
        // partial object: read-modify-write of the whole object, as objects are stored whole
        const content = new Uint8Array(inode.objectSize)
        const cur = await this.replicas.read(inode, oid)
        if (cur != null) content.set(cur.subarray(0, inode.objectSize))
        content.set(data.subarray(from - offset, to - offset), from - objStart)
        return content
      })
    })
    return { written: data.byteLength, objects: last - first + 1 }
  }

  async read (name: string, offset: number, length: number): Promise<Uint8Array> {
    const inode = await this.lookup(name)
    this.checkRange(inode, offset, length)
    const out = new Uint8Array(length)
    if (length === 0) return out
    const first = Math.floor(offset / inode.objectSize)
    const last = Math.floor((offset + length - 1) / inode.objectSize)
    await this.forEachObject(inode.objectSize, first, last + 1, async (idx) => {
      const data = await this.replicas.read(inode, vidToDataOid(inode.vid, idx))
      if (data == null) return // never written: zeros, like a sparse Sheepdog VDI
      const objStart = idx * inode.objectSize
      const from = Math.max(offset, objStart)
      const to = Math.min(offset + length, objStart + inode.objectSize)
      out.set(data.subarray(from - objStart, to - objStart), from - offset)
    })
    return out
  }

  async delete (name: string): Promise<{ inode: Inode, records: DeleteRec[] }> {
    const inode = await this.lookup(name)
    const rec: DeleteRec = { kind: 'vdi', origin: this.io.self, seq: this.deletes.nextSeq(), hlc: this.io.now(), vid: inode.vid, generation: inode.generation }
    const records = await this.deletes.originate([rec])
    this.inodes.delete(name)
    return { inode, records }
  }

  async discard (name: string, indexes: Uint32Array): Promise<{ inode: Inode, records: DeleteRec[] }> {
    const inode = await this.lookup(name)
    const n = objectCount(inode)
    if (indexes.length === 0) throw new VdiError('no objects to discard', 'BAD_REQUEST')
    for (let i = 0; i < indexes.length; i++) {
      if (indexes[i] >= n) throw new VdiError(`object index ${indexes[i]} out of range: VDI '${name}' has ${n} objects`, 'BAD_REQUEST')
      if (i > 0 && indexes[i] <= indexes[i - 1]) throw new VdiError('object indexes must be strictly increasing', 'BAD_REQUEST')
    }
    // a discard covers versions up to its HLC: made in a minority, cut off from the replicas of an
    // acked write whose version is ahead of this clock, it would miss that write (whole-VDI
    // deletes cover every version of their generation and need no quorum)
    const refused = this.io.writeRefusal()
    if (refused != null) throw new VdiError(`discard on VDI '${name}' refused: ${refused}`, 'UNAVAILABLE')
    await this.observeClocks(inode)
    const recs = makeDiscardRecords({ origin: this.io.self, hlc: this.io.now(), vid: inode.vid, generation: inode.generation }, () => this.deletes.nextSeq(), indexes)
    return { inode, records: await this.deletes.originate(recs) }
  }

  async location (name: string, index: number): Promise<{ oid: bigint, placement: string[], holders: Array<{ peerId: string, version: bigint, checksum: number, generation: number }> }> {
    const inode = await this.lookup(name)
    if (!Number.isInteger(index) || index < 0 || index >= objectCount(inode)) throw new VdiError(`object index ${index} out of range 0..${objectCount(inode) - 1}`, 'BAD_REQUEST')
    const oid = vidToDataOid(inode.vid, index)
    const answers = await Promise.allSettled(this.io.members().map(async (p) => ({ p, r: await this.io.get(p, oid, true) })))
    const holders = answers.flatMap((a) => a.status === 'fulfilled' && a.value.r.status === Status.OK
      ? [{ peerId: a.value.p, version: a.value.r.version, checksum: a.value.r.checksum, generation: a.value.r.generation }]
      : [])
    return { oid, placement: this.io.placement(oid, inode.copies), holders }
  }

  // ---- internals ----

  /**
   * A discard covers versions up to its HLC. A write acknowledged before the discard may carry
   * a version from a clock ahead of ours (skew), and would then survive the discard. Every
   * replica that stored such a write merged the writer's clock (each request carries it), and
   * every object response carries its sender's clock: one header-only request to each member
   * moves our clock past every version an acked write left, whatever the discard's size.
   * Members that cannot answer are skipped: then, as for any write they alone hold, the clocks'
   * drift bound is what is left.
   */
  private async observeClocks (inode: Inode): Promise<void> {
    const oid = vidToVdiOid(inode.vid)
    await Promise.allSettled(this.io.members().filter((p) => p !== this.io.self).map(async (p) => {
      const r = await this.io.get(p, oid, true)
      this.io.observe(r.hlc)
    }))
  }

  private checkRange (inode: Inode, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new VdiError(`invalid offset/length ${offset}/${length}`, 'BAD_REQUEST')
    if (offset + length > inode.size) throw new VdiError(`range ${offset}+${length} is beyond the end of VDI '${inode.name}' (${inode.size} bytes)`, 'BAD_REQUEST')
  }

  /** the name's probe walk (namespace.ts) over what the members hold and this node's tombstones */
  private async probe (name: string): Promise<Walk<Inode>> {
    return await walkChain(name, async (vid) => await this.slot(vid))
  }

  private async slot (vid: number): Promise<Slot<Inode>> {
    const deleted = this.io.tombstones.deletedGeneration(vid)
    const inode = await this.fetchInode(vid)
    const live = inode != null && !this.io.tombstones.isVdiDeleted(vid, inode.generation) ? inode : undefined
    return classifySlot(live == null ? undefined : { name: live.name, inode: live }, deleted, this.io.stableFloor(vid))
  }

  /**
   * Writes a new VDI's inode; false when another create got its vid first. The inode's first
   * placement target arbitrates: it takes a create-only put, which it refuses when it already
   * holds that inode, so of two creates racing for one vid exactly one gets past it; only then
   * do the other replicas get their copies.
   */
  private async claimInode (inode: Inode): Promise<boolean> {
    const refused = this.io.writeRefusal()
    if (refused != null) throw new VdiError(`create of VDI '${inode.name}' refused: ${refused}`, 'UNAVAILABLE')
    const oid = vidToVdiOid(inode.vid)
    const targets = this.io.placement(oid, inode.copies)
    if (targets.length === 0) throw new VdiError('no live members to place the object on', 'UNAVAILABLE')
    const obj = { oid, generation: inode.generation, version: this.io.now(), data: encodeInode(inode), copies: inode.copies }
    let r: ObjResponse
    try {
      r = await this.io.put(targets[0], { ...obj, createOnly: true })
    } catch (err) {
      throw new VdiError(`create of VDI '${inode.name}': ${targets[0]}, which arbitrates vid ${formatVid(inode.vid)}, did not answer: ${String((err as Error)?.message ?? err)}`, 'UNAVAILABLE')
    }
    if (r.status === Status.EXISTS) return false
    if (r.status === Status.DELETED) throw new VdiError(`write refused: ${r.error}`, 'DELETED')
    if (r.status !== Status.OK) throw new VdiError(`create of VDI '${inode.name}': ${targets[0]}, which arbitrates vid ${formatVid(inode.vid)}, answered ${Status[r.status]} ${r.error}`, 'UNAVAILABLE')
    try {
      await this.replicas.storeOn(targets.slice(1), obj, targets.length)
    } catch (err) {
      // replicas holding a newer inode: a create the arbiter never saw (views that disagreed)
      if (err instanceof StaleWrite) throw new VdiError(`create of VDI '${inode.name}': other replicas of vid ${formatVid(inode.vid)} hold a newer inode`, 'UNAVAILABLE')
      if (err instanceof ViewMismatch) throw new VdiError(`create of VDI '${inode.name}': ${err.message}; retry once views agree`, 'UNAVAILABLE')
      throw err
    }
    return true
  }

  /** newest copy of a vid's inode among live members; throws UNAVAILABLE when some member could not answer and none had it */
  private async fetchInode (vid: number): Promise<Inode | undefined> {
    const oid = vidToVdiOid(vid)
    const best = await this.replicas.newest(oid, this.io.members())
    return best == null ? undefined : decodeInode(best.data, this.io.maxObjectSize)
  }

  /** fn over object indexes [from, to), as many at once as IO_WINDOW_BYTES allows for `bytesEach` bytes an object */
  private async forEachObject (bytesEach: number, from: number, to: number, fn: (idx: number) => Promise<void>): Promise<void> {
    const parallel = Math.max(1, Math.min(IO_PARALLELISM, Math.floor(IO_WINDOW_BYTES / Math.max(1, bytesEach))))
    let next = from
    let failed: unknown
    const worker = async (): Promise<void> => {
      while (next < to && failed == null) {
        const idx = next++
        try { await fn(idx) } catch (err) { failed ??= err }
      }
    }
    await Promise.all(Array.from({ length: Math.min(parallel, to - from) }, worker))
    if (failed != null) throw failed
  }
}
