// The node's answers to the object protocol. Tombstones gate both directions: a put of a
// covered object is refused (and re-checked by the store right before its rename), and a
// get never serves one. Versions (HLC of the last write) keep a stale copy from
// overwriting a newer one. While the node's delete log cannot be written (`unavailable`),
// puts, gets and lists are refused with the reason: the node may hold objects whose
// tombstones it could not store.
import type { Logger } from 'pino'
import { create } from '@bufbuild/protobuf'
import { ObjResponseSchema, Status, type GetObject, type ListObjects, type ObjResponse, type PurgeHint, type PutObject } from '../wire/bellwether_pb.js'
import type { ObjectHandler } from '../net/objectService.js'
import { LIST_CHUNK_OIDS, MAX_OBJECT_SIZE, MAX_PURGE_HINT_OIDS } from '../net/constants.js'
import { CorruptObjectError } from '../store/objectFile.js'
import { AdmitError, ExistsError, StaleWriteError, type ObjectHeaders, type ObjectStoreApi } from '../store/objectStoreApi.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { formatOid, isValidOid, vidToVdiOid, MAX_VID } from '../oid.js'
import { MAX_COPIES } from '../vdi/inode.js'
import type { HybridClock } from '../hlc.js'
import type { NodeMetrics } from './metrics.js'
import { Rejections } from './rejections.js'

function res (fields: Partial<Omit<ObjResponse, '$typeName'>>): ObjResponse {
  return create(ObjResponseSchema, fields)
}

/** what the handler asks of its node; each has a default that fits a node alone */
export interface ObjectHandlerHooks {
  /** tombstones first: resolves to an error text if `peer` may not be served yet */
  gate?: (peer: string) => Promise<string | undefined>
  /** read-repair: purge the hinted oids our own tombstones cover (reconciling with `from` first if needed) */
  repair?: (oids: bigint[], from: string) => Promise<number>
  /** why object I/O is refused right now (the delete log cannot be written), or undefined */
  unavailable?: () => string | undefined
  /** this node's placement ring (Ring.hash): a put placed by another is refused */
  ring?: () => bigint
  /** a put was stored: `copies` is the writer's (1..MAX_COPIES), 0 when it did not say */
  stored?: (oid: bigint, copies: number, from: string) => void
}

export class NodeObjectHandler implements ObjectHandler {
  /** every refused request: counted in bw_rejected_total{kind} and logged (rate-limited per kind) */
  private readonly rejections: Rejections
  private readonly gate: NonNullable<ObjectHandlerHooks['gate']>
  private readonly repair: NonNullable<ObjectHandlerHooks['repair']>
  private readonly unavailable: NonNullable<ObjectHandlerHooks['unavailable']>
  private readonly ring: ObjectHandlerHooks['ring']
  private readonly stored: NonNullable<ObjectHandlerHooks['stored']>

  constructor (
    private readonly store: ObjectStoreApi,
    private readonly tombstones: TombstoneIndex,
    private readonly clock: HybridClock,
    private readonly metrics: NodeMetrics,
    private readonly log: Logger,
    hooks: ObjectHandlerHooks = {}
  ) {
    this.rejections = new Rejections(metrics, log)
    this.gate = hooks.gate ?? (async () => undefined)
    this.repair = hooks.repair ?? (async () => 0)
    this.unavailable = hooks.unavailable ?? (() => undefined)
    this.ring = hooks.ring
    this.stored = hooks.stored ?? (() => {})
  }

  private refused (op: 'put' | 'get', oid: bigint): ObjResponse | undefined {
    const why = this.unavailable()
    if (why == null) return undefined
    this.metrics.refusedUnavailable.inc({ path: op })
    return this.done(op, res({ status: Status.ERROR, oid, error: `node unavailable: ${why}` }))
  }

  stamp (): bigint { return this.clock.now() }

  ringHash (): bigint { return this.ring?.() ?? 0n }

  /** merges a peer's clock; a wildly drifting peer is refused rather than followed */
  private observe (hlc: bigint, op: string): ObjResponse | undefined {
    if (hlc === 0n) return undefined
    try {
      this.clock.observe(hlc)
      return undefined
    } catch (err) {
      this.rejections.note('clock', `object ${op}: ${String((err as Error).message)}`)
      return this.done(op, res({ status: Status.BAD_REQUEST, error: String((err as Error).message) }))
    }
  }

  private done (op: string, r: ObjResponse): ObjResponse {
    r.hlc = this.clock.now()
    this.metrics.objectRequests.inc({ op, status: Status[r.status] })
    return r
  }

  private badOid (oid: bigint, op: string): ObjResponse | undefined {
    if (isValidOid(oid)) return undefined
    this.rejections.note('oid', `object ${op}: invalid oid ${oid.toString(16)}`)
    return this.done(op, res({ status: Status.BAD_REQUEST, error: `invalid oid ${oid.toString(16)}: reserved bits set or more than one type flag` }))
  }

  async put (req: PutObject, from: string, hlc: bigint): Promise<ObjResponse> {
    const bad = this.badOid(req.oid, 'put') ?? this.observe(hlc, 'put') ?? this.refused('put', req.oid)
    if (bad != null) return bad
    const ring = this.ring?.()
    if (req.ring !== 0n && ring !== undefined && req.ring !== ring) {
      this.rejections.note('view', `put of ${formatOid(req.oid)} placed by ring ${req.ring.toString(16)}, ours is ${ring.toString(16)}`, { from })
      return this.done('put', res({ status: Status.VIEW_MISMATCH, oid: req.oid, error: `placement views differ: the put of ${formatOid(req.oid)} was placed by ring ${req.ring.toString(16)}, this node's is ${ring.toString(16)}; retry once views agree` }))
    }
    if (req.copies > MAX_COPIES) {
      this.rejections.note('copies', `object put of ${formatOid(req.oid)} with copies ${req.copies} (at most ${MAX_COPIES})`, { from })
      return this.done('put', res({ status: Status.BAD_REQUEST, oid: req.oid, error: `copies ${req.copies} of ${formatOid(req.oid)} is out of range 0..${MAX_COPIES}` }))
    }
    if (req.data.byteLength > MAX_OBJECT_SIZE) {
      this.rejections.note('oversized', `object put of ${req.data.byteLength} bytes (at most ${MAX_OBJECT_SIZE})`, { from })
      return this.done('put', res({ status: Status.BAD_REQUEST, error: `object of ${req.data.byteLength} bytes exceeds the ${MAX_OBJECT_SIZE}-byte limit` }))
    }
    // a version is the HLC of the write: one from further ahead than any honest clock would be
    // served to readers and outrank every later real write of the object, so it never lands
    const implausible = req.version === 0n ? 'is 0 (no write has that version)' : this.clock.implausible(req.version)
    if (implausible != null) {
      this.rejections.note('version', `object put of ${formatOid(req.oid)}: version ${req.version} ${implausible}`, { from })
      return this.done('put', res({ status: Status.BAD_REQUEST, oid: req.oid, error: `version ${req.version} of ${formatOid(req.oid)} ${implausible}` }))
    }
    const reason = this.tombstones.covers(req.oid, req.generation, req.version)
    if (reason != null) {
      this.metrics.writesRefused.inc({ path: 'put' })
      return this.done('put', res({ status: Status.DELETED, oid: req.oid, error: `object ${formatOid(req.oid)} is deleted: ${reason}` }))
    }
    try {
      const meta = await this.store.put(req.oid, req.data, {
        generation: req.generation,
        version: req.version,
        createOnly: req.createOnly,
        admit: (oid, m) => this.tombstones.covers(oid, m.generation, m.version),
        // a copy stored with a version no honest clock can have made (before versions were
        // bounded) must not block every real write of the object forever
        bogus: (m) => this.clock.implausible(m.version) != null
      })
      this.metrics.objects.set(this.store.cache.size)
      this.stored(req.oid, req.copies, from)
      return this.done('put', res({ status: Status.OK, oid: req.oid, generation: meta.generation, version: meta.version, checksum: meta.checksum, length: meta.length }))
    } catch (err) {
      if (err instanceof StaleWriteError) {
        // the store judged it under the object's lock, so two racing writes cannot both pass
        const cur = err.current
        return this.done('put', res({ status: Status.STALE, oid: req.oid, version: cur.version, generation: cur.generation, error: `object ${formatOid(req.oid)} has a newer version` }))
      }
      if (err instanceof ExistsError) {
        // a VDI create that lost the race for this inode (this node is its arbiter)
        const cur = err.current
        return this.done('put', res({ status: Status.EXISTS, oid: req.oid, version: cur.version, generation: cur.generation, error: err.message }))
      }
      if (err instanceof AdmitError) {
        this.metrics.writesRefused.inc({ path: 'put' })
        return this.done('put', res({ status: Status.DELETED, oid: req.oid, error: err.message }))
      }
      this.log.error({ err: String(err), oid: formatOid(req.oid), from }, 'put failed')
      return this.done('put', res({ status: Status.ERROR, oid: req.oid, error: String((err as Error).message) }))
    }
  }

  async get (req: GetObject, from: string, hlc: bigint): Promise<ObjResponse> {
    const bad = this.badOid(req.oid, 'get') ?? this.observe(hlc, 'get') ?? this.refused('get', req.oid)
    if (bad != null) return bad
    const closed = await this.gate(from)
    if (closed != null) return this.done('get', res({ status: Status.ERROR, oid: req.oid, error: closed }))
    try {
      const got = req.headerOnly
        ? await this.store.stat(req.oid).then((meta) => meta == null ? undefined : { meta, data: new Uint8Array(0) })
        : await this.store.get(req.oid)
      if (got == null) return this.done('get', res({ status: Status.NOT_FOUND, oid: req.oid }))
      const { meta, data } = got
      const reason = this.tombstones.covers(req.oid, meta.generation, meta.version)
      if (reason != null) return this.done('get', res({ status: Status.DELETED, oid: req.oid, error: reason }))
      return this.done('get', res({ status: Status.OK, oid: req.oid, generation: meta.generation, version: meta.version, checksum: meta.checksum, length: meta.length, data }))
    } catch (err) {
      const corrupt = err instanceof CorruptObjectError
      this.log.error({ err: String(err), oid: formatOid(req.oid) }, corrupt ? 'corrupt object' : 'get failed')
      return this.done('get', res({ status: Status.ERROR, oid: req.oid, error: String((err as Error).message) }))
    }
  }

  async purge (req: PurgeHint, from: string, hlc: bigint): Promise<ObjResponse> {
    const clock = this.observe(hlc, 'purge')
    if (clock != null) return clock
    if (req.oids.length > MAX_PURGE_HINT_OIDS) {
      this.rejections.note('oversized', `purge hint of ${req.oids.length} oids (at most ${MAX_PURGE_HINT_OIDS})`, { from })
      return this.done('purge', res({ status: Status.BAD_REQUEST, error: `purge hint of ${req.oids.length} oids exceeds the ${MAX_PURGE_HINT_OIDS}-oid limit` }))
    }
    // parallel arrays: lengths that disagree cannot come from an honest sender
    if (req.generations.length !== req.oids.length || req.versions.length !== req.oids.length) {
      this.rejections.note('purge', `purge hint of ${req.oids.length} oids with ${req.generations.length} generations and ${req.versions.length} versions`, { from })
      return this.done('purge', res({ status: Status.BAD_REQUEST, error: `purge hint of ${req.oids.length} oids with ${req.generations.length} generations and ${req.versions.length} versions` }))
    }
    const bad = req.oids.find((oid) => !isValidOid(oid))
    if (bad !== undefined) return this.badOid(bad, 'purge')!
    try {
      return this.done('purge', res({ status: Status.OK, purged: await this.repair(req.oids, from) }))
    } catch (err) {
      this.log.warn({ err: String(err), from }, 'read-repair failed')
      return this.done('purge', res({ status: Status.ERROR, error: String((err as Error).message) }))
    }
  }

  async headers (oids: bigint[]): Promise<ObjectHeaders> {
    return await this.store.headersOf(oids)
  }

  async * list (req: ListObjects, from: string, hlc: bigint): AsyncIterable<bigint[]> {
    this.observe(hlc, 'list')
    const why = this.unavailable()
    if (why != null) {
      this.metrics.refusedUnavailable.inc({ path: 'list' })
      throw new Error(`node unavailable: ${why}`)
    }
    const closed = await this.gate(from)
    if (closed != null) throw new Error(closed)
    if (req.hasVid && (req.vid < 1 || req.vid > MAX_VID)) {
      this.rejections.note('vid', `object list of vid ${req.vid}`, { from })
      this.metrics.objectRequests.inc({ op: 'list', status: 'BAD_REQUEST' })
      throw new Error(`invalid vid ${req.vid}: must be in 1..${MAX_VID}`)
    }
    this.metrics.objectRequests.inc({ op: 'list', status: 'OK' })
    const cache = this.store.cache
    if (req.inodesOnly) {
      const inodes = cache.vids().filter((vid) => !(req.hasVid && vid !== req.vid)).map(vidToVdiOid).filter((oid) => cache.has(oid))
      for (let i = 0; i < inodes.length; i += LIST_CHUNK_OIDS) yield inodes.slice(i, i + LIST_CHUNK_OIDS)
      return
    }
    // puts that passed the ring check before the caller took our ring land first: a list under
    // this ring then shows every put an older ring placed here
    await this.store.settle()
    // a snapshot (8 B/id), so purges during a long stream cannot tear the iteration
    const snap = req.hasVid ? BigUint64Array.from(cache.oidsOfVid(req.vid)) : cache.toBigUint64Array()
    for (let i = 0; i < snap.length; i += LIST_CHUNK_OIDS) yield Array.from(snap.subarray(i, i + LIST_CHUNK_OIDS))
  }
}
