// An object store in memory, for the simulator and unit tests: the same answers as the
// file-backed ObjectStore (per-oid locks, the write gate judged before and again just before
// the write lands, create-only, last writer by version, removeIf/removeVid judged under the
// lock, settle, open/closed states) without files. Its "disk" is a Map handed in, so a
// simulated crash keeps exactly the objects whose put had resolved: give the same Map to a new
// MemObjectStore. Nothing in it can be corrupt or stray.
import { OidSet } from '../idset.js'
import { MAX_VID, OidError, assertOid } from '../oid.js'
import { encodeObject, type ObjectMeta } from './objectFile.js'
import { KeyedMutex } from './keyedMutex.js'
import { VidGenerations } from './vidGenerations.js'
import { admitOrThrow, judgePut, type ObjectHeaders, type ObjectStoreApi, type PutOptions, type RemoveOptions } from './objectStoreApi.js'

/** what survives a simulated crash: every object whose put resolved, and none that was removed */
export type MemDisk = Map<bigint, { meta: ObjectMeta, data: Uint8Array }>

type State = 'new' | 'open' | 'closing' | 'closed'

export class MemObjectStore implements ObjectStoreApi {
  readonly cache = new OidSet()
  readonly strays = 0
  private readonly locks = new KeyedMutex<bigint>()
  private readonly generations = new VidGenerations()
  private state: State = 'new'
  private readonly running = new Set<Promise<unknown>>()

  constructor (readonly disk: MemDisk = new Map()) {}

  async open (): Promise<void> {
    if (this.state !== 'new') throw new Error('object store (memory) already opened')
    this.cache.clear()
    for (const oid of this.disk.keys()) this.cache.add(oid)
    this.state = 'open'
  }

  has (oid: bigint): boolean {
    return this.cache.has(oid)
  }

  async put (oid: bigint, data: Uint8Array, opts: PutOptions): Promise<ObjectMeta> {
    assertOid(oid)
    const { meta } = encodeObject(opts, data)
    return await this.op(async () => await this.locks.run(oid, async () => {
      admitOrThrow(oid, meta, opts)
      judgePut(oid, meta, this.disk.get(oid)?.meta, opts)
      // the write takes a turn, as a file's does: a delete applied meanwhile is caught by the second gate
      await Promise.resolve()
      admitOrThrow(oid, meta, opts)
      const stored = { oid, ...meta }
      this.disk.set(oid, { meta: stored, data: data.slice() })
      this.cache.add(oid)
      this.generations.note(oid, meta.generation)
      return { ...stored }
    }))
  }

  async get (oid: bigint): Promise<{ meta: ObjectMeta, data: Uint8Array } | undefined> {
    assertOid(oid)
    return await this.op(async () => {
      const e = this.disk.get(oid)
      if (e !== undefined) this.generations.note(oid, e.meta.generation)
      return e === undefined ? undefined : { meta: { ...e.meta }, data: e.data.slice() }
    })
  }

  generationOf (vid: number): number | undefined { return this.generations.of(vid) }

  async stat (oid: bigint): Promise<ObjectMeta | undefined> {
    assertOid(oid)
    return await this.op(async () => {
      const m = this.disk.get(oid)?.meta
      if (m !== undefined) this.generations.note(oid, m.generation)
      return m === undefined ? undefined : { ...m }
    })
  }

  async headersOf (oids: readonly bigint[]): Promise<ObjectHeaders> {
    for (const oid of oids) assertOid(oid)
    return await this.op(async () => {
      const metas = oids.map((oid) => this.disk.get(oid)?.meta)
      return { versions: metas.map((m) => m?.version ?? 0n), generations: metas.map((m) => m?.generation ?? 0) }
    })
  }

  async remove (oid: bigint): Promise<boolean> {
    assertOid(oid)
    return await this.op(async () => await this.locks.run(oid, async () => this.drop(oid)))
  }

  async removeMany (oids: Iterable<bigint>): Promise<number> {
    const list = oids instanceof OidSet ? Array.from(oids.toBigUint64Array()) : Array.from(oids)
    return await this.op(async () => await this.removeEach(list, (oid) => this.drop(oid)))
  }

  async removeVid (vid: number, keep?: (meta: ObjectMeta) => boolean, _opts?: RemoveOptions): Promise<number> {
    if (!Number.isInteger(vid) || vid < 0 || vid > MAX_VID) throw new OidError(`invalid vid ${String(vid)}`)
    return await this.op(async () => await this.removeEach(this.cache.oidsOfVid(vid),
      (oid) => this.dropIf(oid, keep === undefined ? undefined : (meta) => !keep(meta))))
  }

  async removeIf (oid: bigint, pred: (meta: ObjectMeta) => boolean, _opts?: RemoveOptions): Promise<boolean> {
    assertOid(oid)
    return await this.op(async () => await this.locks.run(oid, async () => this.dropIf(oid, pred)))
  }

  async settle (): Promise<void> {
    await Promise.allSettled([...this.running])
  }

  async scanDisk (): Promise<OidSet> {
    return await this.op(async () => {
      const found = new OidSet()
      for (const oid of this.disk.keys()) found.add(oid)
      return found
    })
  }

  async close (): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return
    this.state = 'closing'
    await this.settle()
    this.state = 'closed'
  }

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') throw new Error(`object store (memory) is ${this.state === 'new' ? 'not open' : 'closed'}`)
    const p = fn()
    this.running.add(p)
    try {
      return await p
    } finally {
      this.running.delete(p)
    }
  }

  /** caller holds the oid's lock */
  private dropIf (oid: bigint, pred: ((meta: ObjectMeta) => boolean) | undefined): boolean {
    const e = this.disk.get(oid)
    if (e !== undefined && pred !== undefined && !pred(e.meta)) return false
    return this.drop(oid)
  }

  /** caller holds the oid's lock */
  private drop (oid: bigint): boolean {
    this.cache.delete(oid)
    const had = this.disk.delete(oid)
    this.generations.removed(oid, this.cache)
    return had
  }

  /** each oid under its lock, one after another; all attempted, then the first failure thrown */
  private async removeEach (oids: Iterable<bigint>, fn: (oid: bigint) => boolean): Promise<number> {
    let removed = 0
    const errors: unknown[] = []
    for (const oid of oids) {
      try {
        assertOid(oid)
        if (await this.locks.run(oid, async () => fn(oid))) removed++
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw errors[0]
    return removed
  }
}
