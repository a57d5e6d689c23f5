// The local object store: one file per object under `<dir>/<oid hex>`, atomic writes
// (temp file, fsync, rename, fsync dir), and the object list cache — the OidSet that is
// exactly the set of object files on disk — and the header cache (src/store/headerCache.ts:
// versions and generations of the objects written or read since open). Both change only
// after the disk operation that justifies the change succeeded; the list is rebuilt from a
// directory scan at open (objectDir.ts), the headers are read again as they are asked for.
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { OidSet } from '../idset.js'
import { syncDir, writeFileDurable } from './atomicFile.js'
import { MAX_VID, OidError, assertOid, formatOid } from '../oid.js'
import { CorruptObjectError, HEADER_SIZE, decodeHeader, encodeObject, verifyData } from './objectFile.js'
import type { ObjectMeta } from './objectFile.js'
import { KeyedMutex } from './keyedMutex.js'
import { VidGenerations } from './vidGenerations.js'
import { HeaderCache } from './headerCache.js'
import { admitOrThrow, judgePut, type ObjectHeaders, type ObjectStoreApi, type PutOptions, type RemoveOptions } from './objectStoreApi.js'
import { forEachLimit } from '../limit.js'
import { TMP_PREFIX, scanObjectDir } from './objectDir.js'

export { CorruptObjectError, HEADER_SIZE } from './objectFile.js'
export type { ObjectMeta } from './objectFile.js'
export { AdmitError, ExistsError, StaleWriteError, type ObjectStoreApi, type PutOptions } from './objectStoreApi.js'

export interface ObjectStoreOptions {
  /** fsync files and the directory (default true); tests may turn it off for speed. */
  fsync?: boolean
  /** Parallel unlinks in removeMany/removeVid (default 32). */
  removeConcurrency?: number
}

/** header reads one headersOf keeps in flight on a cache miss (one after another, each waited its turn on a busy event loop) */
const HEADER_READS_IN_FLIGHT = 16

type State = 'new' | 'open' | 'closing' | 'closed'

export class ObjectStore implements ObjectStoreApi {
  /**
   * The object list cache: exactly the oids with a file on disk. Callers must treat it
   * as read-only — only the store mutates it, and only after the disk agrees. To take a
   * stable copy for long work, use `toBigUint64Array()`.
   */
  readonly cache = new OidSet()

  private readonly fsync: boolean
  private readonly removeConcurrency: number
  private readonly locks = new KeyedMutex<bigint>()
  private readonly generations = new VidGenerations()
  /** version and generation of stored objects, so object lists with versions need no disk reads */
  private readonly headers = new HeaderCache()
  private state: State = 'new'
  private strayCount = 0
  private inFlight = 0
  private readonly running = new Set<Promise<unknown>>()
  private drained: (() => void) | undefined

  constructor (readonly dir: string, opts: ObjectStoreOptions = {}) {
    this.fsync = opts.fsync ?? true
    this.removeConcurrency = Math.max(1, opts.removeConcurrency ?? 32)
  }

  /** Names in the directory that are neither objects nor temp files, as of open(). */
  get strays (): number {
    return this.strayCount
  }

  async open (): Promise<void> {
    if (this.state !== 'new') throw new Error(`object store ${this.dir} already opened`)
    await mkdir(this.dir, { recursive: true })
    this.cache.clear()
    this.headers.clear()
    const { temps, strays } = await scanObjectDir(this.dir, this.cache)
    // Left by puts that crashed before their rename: never acknowledged, safe to drop.
    for (const name of temps) await unlink(join(this.dir, name)).catch(ignoreEnoent)
    this.strayCount = strays
    this.state = 'open'
  }

  has (oid: bigint): boolean {
    return this.cache.has(oid)
  }

  async put (oid: bigint, data: Uint8Array, opts: PutOptions): Promise<ObjectMeta> {
    assertOid(oid)
    const { header, meta } = encodeObject(opts, data)
    return await this.op(async () => await this.locks.run(oid, async () => {
      admitOrThrow(oid, meta, opts)
      // judged under the lock: two writes racing for one object must not both pass a check made outside it
      judgePut(oid, meta, await this.statFile(oid).catch(() => undefined), opts)
      const name = formatOid(oid)
      const tmp = join(this.dir, `${TMP_PREFIX}${name}-${randomBytes(6).toString('hex')}`)
      try {
        await this.writeFile(tmp, header, data)
        admitOrThrow(oid, meta, opts)
        await rename(tmp, join(this.dir, name))
      } catch (err) {
        // ENOSPC, a refusal or a failed rename: the old file (if any) is untouched, so
        // the cache is still right; only the temp file has to go.
        // Best effort: a temp file that survives this is removed by the next open().
        await unlink(tmp).catch(noop)
        throw err
      }
      this.cache.add(oid)
      this.headers.set(oid, meta.version, meta.generation)
      this.generations.note(oid, meta.generation)
      // A failure here leaves the file visible (and cached) but not known durable; the
      // caller sees the error and must not acknowledge the write.
      await this.syncDir()
      return { oid, ...meta }
    }))
  }

  /**
   * Reads and verifies one object. Reads take no lock: a rename replaces the file
   * atomically and an open handle pins the inode, so a read sees one whole version.
   */
  async get (oid: bigint): Promise<{ meta: ObjectMeta, data: Uint8Array } | undefined> {
    assertOid(oid)
    return await this.op(async () => {
      const buf = await this.readWhole(oid)
      if (buf === undefined) return undefined
      try {
        const meta = decodeHeader(buf)
        // A plain Uint8Array view, so callers never meet Buffer's different slice().
        const data = new Uint8Array(buf.buffer, buf.byteOffset + HEADER_SIZE, buf.byteLength - HEADER_SIZE)
        verifyData(meta, data)
        this.generations.note(oid, meta.generation)
        return { meta: { oid, ...meta }, data }
      } catch (err) {
        throw withOid(err, oid)
      }
    })
  }

  /** Header only (plus a size check, which is free); the data's crc is not verified. */
  generationOf (vid: number): number | undefined { return this.generations.of(vid) }

  async stat (oid: bigint): Promise<ObjectMeta | undefined> {
    assertOid(oid)
    return await this.op(async () => await this.statFile(oid))
  }

  /**
   * Each oid's version and generation (0n and 0 when it is not stored or unreadable), from the
   * header cache; a miss reads the header under the oid's lock, so a put landing meanwhile
   * cannot be overwritten in the cache by the older header read before it.
   */
  async headersOf (oids: readonly bigint[]): Promise<ObjectHeaders> {
    for (const oid of oids) assertOid(oid)
    return await this.op(async () => {
      const versions = new Array<bigint>(oids.length).fill(0n)
      const generations = new Array<number>(oids.length).fill(0)
      const misses: number[] = []
      oids.forEach((oid, i) => {
        const h = this.headers.get(oid)
        if (h === undefined) { misses.push(i); return }
        versions[i] = h.version
        generations[i] = h.generation
      })
      await forEachLimit(misses, HEADER_READS_IN_FLIGHT, undefined, async (i) => {
        const oid = oids[i]
        const m = await this.locks.run(oid, async () => {
          const meta = await this.statFile(oid).catch(() => undefined)
          if (meta !== undefined) this.headers.set(oid, meta.version, meta.generation)
          return meta
        })
        versions[i] = m?.version ?? 0n
        generations[i] = m?.generation ?? 0
      })
      return { versions, generations }
    })
  }

  /** Returns whether a file was removed. */
  async remove (oid: bigint): Promise<boolean> {
    assertOid(oid)
    return await this.op(async () => {
      const removed = await this.locks.run(oid, async () => await this.unlinkLocked(oid))
      if (removed) await this.syncDir()
      return removed
    })
  }

  /**
   * Removes every listed object that exists; returns how many files were removed. All
   * are attempted even if some fail; then the first failure is thrown (the cache is
   * right either way).
   */
  async removeMany (oids: Iterable<bigint>): Promise<number> {
    // Iterating an OidSet while this very call deletes from it (e.g. `store.cache`)
    // would be undefined behaviour; a compact snapshot costs 8 bytes an oid.
    const source = oids instanceof OidSet ? oids.toBigUint64Array() : oids
    return await this.op(async () => await this.removeEach(source, async oid => await this.unlinkLocked(oid)))
  }

  /**
   * Removes every object of `vid` (data, inode, vmstate and attribute objects) that the
   * cache lists. With `keep`, each object is stat-ed under its lock and kept when `keep`
   * accepts its header; corrupt objects are removed, as `keep` cannot judge them.
   * The stat and the unlink happen under one hold of the lock, so a put that lands in
   * between cannot be deleted on the strength of the header it replaced.
   * Objects whose put is still in flight are not seen: gate those with `admit`.
   */
  async removeVid (vid: number, keep?: (meta: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<number> {
    if (!Number.isInteger(vid) || vid < 0 || vid > MAX_VID) throw new OidError(`invalid vid ${String(vid)}`)
    return await this.op(async () => await this.removeEach(this.cache.oidsOfVid(vid),
      async oid => await this.removeIfLocked(oid, keep === undefined ? undefined : meta => !keep(meta)), opts))
  }

  /**
   * Removes `oid` if its header satisfies `pred`, judged and unlinked under one hold of
   * the lock (a newer version landing in between is never removed on the old header's
   * strength). Corrupt objects are removed. Returns whether a file was removed.
   */
  async removeIf (oid: bigint, pred: (meta: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<boolean> {
    assertOid(oid)
    return await this.op(async () => {
      const removed = await this.locks.run(oid, async () => await this.removeIfLocked(oid, pred))
      if (removed) await this.syncRemovals(opts)
      return removed
    })
  }

  /**
   * Resolves once every operation already in flight has settled. A purge calls it after
   * the tombstone is applied: a put that passed its admit check before that moment has
   * then landed in the cache where the purge will see it; any later put is refused.
   */
  async settle (): Promise<void> {
    await Promise.allSettled([...this.running])
  }

  /** A fresh directory scan, independent of the cache (for `check`: cache == disk). */
  async scanDisk (): Promise<OidSet> {
    return await this.op(async () => {
      const found = new OidSet()
      await scanObjectDir(this.dir, found)
      return found
    })
  }

  /** Refuses new operations, then waits for the in-flight ones to settle. */
  async close (): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return
    this.state = 'closing'
    if (this.inFlight > 0) {
      await new Promise<void>(resolve => { this.drained = resolve })
    }
    this.state = 'closed'
  }

  // ---- internals ----

  private async op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') throw new Error(`object store ${this.dir} is ${this.state === 'new' ? 'not open' : 'closed'}`)
    this.inFlight++
    const p = fn()
    this.running.add(p)
    try {
      return await p
    } finally {
      this.running.delete(p)
      if (--this.inFlight === 0 && this.drained !== undefined) {
        this.drained()
        this.drained = undefined
      }
    }
  }

  private path (oid: bigint): string {
    return join(this.dir, formatOid(oid))
  }

  private async writeFile (path: string, header: Uint8Array, data: Uint8Array): Promise<void> {
    await writeFileDurable(path, [header, data], { fsync: this.fsync })
  }

  private async syncDir (): Promise<void> {
    if (this.fsync) await syncDir(this.dir)
  }

  /** the directory fsync after removals, unless their caller redoes them after a crash (RemoveOptions.durable) */
  private async syncRemovals (opts: RemoveOptions | undefined): Promise<void> {
    if (opts?.durable ?? true) await this.syncDir()
  }

  /** the object's file opened for reading, or undefined when there is none */
  private async openObject (oid: bigint): Promise<FileHandle | undefined> {
    try {
      return await open(this.path(oid), 'r')
    } catch (err) {
      if (isEnoent(err)) return undefined
      throw err
    }
  }

  private async readWhole (oid: bigint): Promise<Buffer | undefined> {
    const fh = await this.openObject(oid)
    if (fh === undefined) return undefined
    try {
      return await fh.readFile()
    } finally {
      await fh.close()
    }
  }

  private async statFile (oid: bigint): Promise<ObjectMeta | undefined> {
    const fh = await this.openObject(oid)
    if (fh === undefined) return undefined
    try {
      const buf = new Uint8Array(HEADER_SIZE)
      const { bytesRead } = await fh.read(buf, 0, HEADER_SIZE, 0)
      const meta = decodeHeader(buf.subarray(0, bytesRead))
      const { size } = await fh.stat()
      if (size !== HEADER_SIZE + meta.length) {
        throw new CorruptObjectError(`file is ${size} bytes, header says ${HEADER_SIZE + meta.length}`)
      }
      this.generations.note(oid, meta.generation)
      return { oid, ...meta }
    } catch (err) {
      throw withOid(err, oid)
    } finally {
      await fh.close()
    }
  }

  /** Caller holds the oid's lock. Does not fsync the directory. */
  private async removeIfLocked (oid: bigint, pred: ((meta: ObjectMeta) => boolean) | undefined): Promise<boolean> {
    if (pred !== undefined) {
      let meta: ObjectMeta | undefined
      try {
        meta = await this.statFile(oid)
      } catch (err) {
        if (!(err instanceof CorruptObjectError)) throw err
      }
      if (meta !== undefined && !pred(meta)) return false
    }
    return await this.unlinkLocked(oid)
  }

  /** Caller holds the oid's lock. Does not fsync the directory. */
  private async unlinkLocked (oid: bigint): Promise<boolean> {
    try {
      await unlink(this.path(oid))
    } catch (err) {
      if (!isEnoent(err)) throw err
      this.cache.delete(oid) // already gone: the disk is the truth
      this.headers.delete(oid)
      this.generations.removed(oid, this.cache)
      return false
    }
    this.cache.delete(oid)
    this.headers.delete(oid)
    this.generations.removed(oid, this.cache)
    return true
  }

  /**
   * Runs `fn` under each oid's lock over `oids` with bounded concurrency,
   * pulling lazily so a huge iterable is never materialised; one directory fsync at the end.
   */
  private async removeEach (oids: Iterable<bigint>, fn: (oid: bigint) => Promise<boolean>, opts?: RemoveOptions): Promise<number> {
    const it = oids[Symbol.iterator]()
    let removed = 0
    const errors: unknown[] = []
    const worker = async (): Promise<void> => {
      for (let next = it.next(); next.done !== true; next = it.next()) {
        const oid = next.value
        try {
          assertOid(oid)
          if (await this.locks.run(oid, async () => await fn(oid))) removed++
        } catch (err) {
          errors.push(err)
        }
      }
    }
    await Promise.all(Array.from({ length: this.removeConcurrency }, worker))
    if (removed > 0) await this.syncRemovals(opts)
    if (errors.length > 0) throw errors[0]
    return removed
  }
}

function withOid (err: unknown, oid: bigint): unknown {
  return err instanceof CorruptObjectError && err.oid === undefined ? new CorruptObjectError(err.reason, oid) : err
}

function isEnoent (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

function noop (): void {}

function ignoreEnoent (err: unknown): void {
  if (!isEnoent(err)) throw err
}
