// The object store as its users see it (the delete pipeline, the object handler, recovery via
// the node, admission, the admin API): what both the file-backed ObjectStore and the in-memory
// MemObjectStore promise, and the one rule both apply to a put (write gate, create-only,
// last writer by version). The contract test (test/unit/storeContract.test.ts) runs the same
// cases against both.
import type { OidSet } from '../idset.js'
import { formatOid } from '../oid.js'
import type { ObjectMeta } from './objectFile.js'

export type { ObjectMeta } from './objectFile.js'

export interface RemoveOptions {
  /**
   * false: skip the directory fsync that makes the unlinks survive a power loss. Only for a
   * caller that redoes the removal after a crash anyway: a tombstone's purge (the record is
   * fsynced before it is applied, and every start purges what the log and floor cover). A
   * directory fsync per purge is a journal commit on every node for every delete, and the
   * nodes' commits queue behind each other on a shared disk. Default true.
   */
  durable?: boolean
}

export interface PutOptions {
  generation: number
  version: bigint
  /**
   * Write gate (tombstones use it without the store knowing about them). Called under
   * the oid's lock twice: before anything is written (cheap early refusal) and again
   * after the temp file is durable, immediately before the rename, so a delete that
   * lands during a long transfer cannot be overtaken by it. Returning a reason string
   * refuses the write: nothing is left on disk and `put` rejects with AdmitError.
   * Must be synchronous and must not call back into the store.
   */
  admit?: (oid: bigint, meta: Omit<ObjectMeta, 'oid'>) => string | undefined
  /**
   * Write only if the object is not here yet: rejects with ExistsError when a copy of this
   * generation or a newer one is stored (an older generation's leftover is overwritten, as
   * a reused vid's new generation must). Judged under the oid's lock, so of two create-only
   * puts racing for one object exactly one lands. VDI creates use it to arbitrate.
   */
  createOnly?: boolean
  /**
   * A stored copy for which this is true never outranks the write (its version cannot be
   * real: the node refuses such versions now, but a copy may predate that). Synchronous.
   */
  bogus?: (current: ObjectMeta) => boolean
}

/** An older version arrived after a newer one landed: the newer one stays (last writer by version wins). */
export class StaleWriteError extends Error {
  override readonly name = 'StaleWriteError'
  constructor (readonly oid: bigint, readonly current: ObjectMeta) {
    super(`write of ${formatOid(oid)} refused: version ${current.version} already stored is newer (or the same version with other content)`)
  }
}

/** A create-only put found the object already stored (`current`). */
export class ExistsError extends Error {
  override readonly name = 'ExistsError'
  constructor (readonly oid: bigint, readonly current: ObjectMeta) {
    super(`create of ${formatOid(oid)} refused: generation ${current.generation} is already stored`)
  }
}

export class AdmitError extends Error {
  override readonly name = 'AdmitError'
  constructor (readonly oid: bigint, readonly reason: string) {
    super(`write of ${formatOid(oid)} refused: ${reason}`)
  }
}

/** the write gate's verdict, thrown as AdmitError when it refuses */
export function admitOrThrow (oid: bigint, meta: Omit<ObjectMeta, 'oid'>, opts: PutOptions): void {
  const reason = opts.admit?.(oid, meta)
  if (reason !== undefined) throw new AdmitError(oid, reason)
}

/** under the oid's lock, against the copy stored now: create-only, then last writer by version (a tie by content) */
export function judgePut (oid: bigint, meta: Omit<ObjectMeta, 'oid'>, current: ObjectMeta | undefined, opts: PutOptions): void {
  if (current === undefined) return
  if (opts.createOnly === true && current.generation >= meta.generation) throw new ExistsError(oid, current)
  if (opts.bogus?.(current) === true) return
  if (current.version > meta.version) throw new StaleWriteError(oid, current)
  // one version, other bytes: two writers stamped the same HLC (clocks are not unique across
  // nodes). Arrival order differs per replica, so a rule by arrival would leave replicas that
  // agree on the version and not on the bytes; by content, every replica keeps the same one
  // whatever the order, and the writer told stale retries with a newer version
  if (current.version === meta.version && sameVersionOrder(current, meta) > 0) throw new StaleWriteError(oid, current)
}

/** of two copies with one version: > 0 when `a` is the one every replica keeps, 0 when alike */
export function sameVersionOrder (a: Omit<ObjectMeta, 'oid'>, b: Omit<ObjectMeta, 'oid'>): number {
  return (a.checksum - b.checksum) || (a.length - b.length) || (a.generation - b.generation)
}

/** versions and generations, index for index with the oids asked about; 0n and 0 for an oid not stored (or unreadable) */
export interface ObjectHeaders { versions: bigint[], generations: number[] }

export interface ObjectStoreApi {
  /** exactly the oids stored; read-only to callers (take toBigUint64Array() for long work) */
  readonly cache: OidSet
  /** names in the store that are neither objects nor temp files, as of open() */
  readonly strays: number
  open (): Promise<void>
  has (oid: bigint): boolean
  /** stores a whole object through the gate (AdmitError, ExistsError, StaleWriteError); resolves once durable */
  put (oid: bigint, data: Uint8Array, opts: PutOptions): Promise<ObjectMeta>
  get (oid: bigint): Promise<{ meta: ObjectMeta, data: Uint8Array } | undefined>
  stat (oid: bigint): Promise<ObjectMeta | undefined>
  /** each oid's version and generation, for object lists: from memory where the store can, and never older than a put that resolved */
  headersOf (oids: readonly bigint[]): Promise<ObjectHeaders>
  /** the highest generation of `vid` this process saw stored (written or read), without touching the disk; undefined when it saw none */
  generationOf (vid: number): number | undefined
  /** whether an object was removed */
  remove (oid: bigint): Promise<boolean>
  /** removes every listed object that exists; all attempted, then the first failure thrown */
  removeMany (oids: Iterable<bigint>): Promise<number>
  /** every object of `vid` the cache lists, except those whose header `keep` accepts (judged under each oid's lock) */
  removeVid (vid: number, keep?: (meta: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<number>
  /** removes `oid` if its header satisfies `pred`, judged and removed under one hold of the lock */
  removeIf (oid: bigint, pred: (meta: ObjectMeta) => boolean, opts?: RemoveOptions): Promise<boolean>
  /** resolves once every operation already in flight has settled (a put that passed its gate has landed) */
  settle (): Promise<void>
  /** what is stored, found afresh rather than read from the cache (for `check`: cache == disk) */
  scanDisk (): Promise<OidSet>
  /** refuses new operations, then waits for the ones in flight */
  close (): Promise<void>
}
