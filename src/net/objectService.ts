// The object protocol (/bellwether/obj/1.0.0): put, get and list objects on a peer.
// Shaped like js-libp2p's ping service: built from components (host, handler, logger) and
// an init that overrides the defaults in ./constants.ts; start() registers the handler,
// stop() unregisters it; the logger is scoped to this component. The node plugs in through ObjectHandler and never
// sees streams; this file never sees the store or the tombstones.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import {
  ObjRequestSchema, ObjResponseSchema, Status,
  type GetObject, type ListObjects, type ObjResponse, type PurgeHint, type PutObject
} from '../wire/bellwether_pb.js'
import { exchange, serveOne } from './framing.js'
import type { Host } from './host.js'
import { LIST_CHUNK_OIDS, MAX_INBOUND_STREAMS, MAX_OBJECT_SIZE, MAX_OUTBOUND_STREAMS, MIN_TRANSFER_BYTES_PER_SEC, OBJ_PROTOCOL_NAME, OBJ_PROTOCOL_VERSION, PROTOCOL_PREFIX, REQUEST_TIMEOUT_MS, protocolId } from './constants.js'

/** The node's side of the object protocol. Calls may run concurrently; each must settle within the request timeout. */
/**
 * One object put. `copies`: the VDI's copies as the writer knows them, so a replica that is
 * not a placement target in its own view can tell (and hand the copy on); absent = unknown.
 * `ring`: the writer's placement ring (Ring.hash), refused by a replica with another.
 * `createOnly`: the peer refuses with Status.EXISTS if it holds the object at this generation
 * or newer (create arbitration).
 */
export interface PutArgs { oid: bigint, generation: number, version: bigint, data: Uint8Array, copies?: number, createOnly?: boolean, ring?: bigint }

export interface ObjectHandler {
  put (req: PutObject, from: string, hlc: bigint): Promise<ObjResponse>
  get (req: GetObject, from: string, hlc: bigint): Promise<ObjResponse>
  /** chunks of oids, ascending */
  list (req: ListObjects, from: string, hlc: bigint): AsyncIterable<bigint[]>
  /** version and generation of each listed object (0/0 if it is gone) */
  headers (oids: bigint[]): Promise<{ versions: bigint[], generations: number[] }>
  /** read-repair: the sender's tombstones cover these copies of ours; purge what ours cover too */
  purge (req: PurgeHint, from: string, hlc: bigint): Promise<ObjResponse>
  /** current local HLC, stamped on every frame so clocks merge on each exchange */
  stamp (): bigint
  /** this node's placement ring (Ring.hash), sent with a list; 0 / absent = not known */
  ringHash?: () => bigint
}

export interface ObjectServiceComponents {
  host: Host
  handler: ObjectHandler
  logger: Logger
}

export interface ObjectServiceInit {
  protocolPrefix?: string
  timeoutMs?: number
  maxInboundStreams?: number
  maxOutboundStreams?: number
}

export class ObjectServiceError extends Error {
  constructor (message: string, readonly status: Status) { super(message) }
}

export class ObjectService {
  readonly protocol: string
  private readonly host: Host
  private readonly handler: ObjectHandler
  private readonly log: Logger
  private readonly timeoutMs: number
  private readonly init: Required<Omit<ObjectServiceInit, 'protocolPrefix'>>
  private started = false

  constructor (components: ObjectServiceComponents, init: ObjectServiceInit = {}) {
    this.host = components.host
    this.handler = components.handler
    this.log = components.logger.child({ component: 'obj' })
    this.protocol = protocolId(OBJ_PROTOCOL_NAME, OBJ_PROTOCOL_VERSION, init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.init = {
      timeoutMs: init.timeoutMs ?? REQUEST_TIMEOUT_MS,
      maxInboundStreams: init.maxInboundStreams ?? MAX_INBOUND_STREAMS,
      maxOutboundStreams: init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS
    }
    this.timeoutMs = this.init.timeoutMs
  }

  async start (): Promise<void> {
    await this.host.handle(this.protocol, ({ stream, connection }) => {
      const from = connection.remotePeer.toString()
      // the request's size is unknown until it is read: bound a stream by the largest transfer
      const signal = AbortSignal.timeout(this.deadline(MAX_OBJECT_SIZE))
      serveOne(stream, signal, (bytes) => this.respond(bytes, from)).catch((err) => {
        this.log.debug({ err: String(err), from }, 'object request failed')
        stream.abort(err)
      })
    }, { maxInboundStreams: this.init.maxInboundStreams, maxOutboundStreams: this.init.maxOutboundStreams })
    this.started = true
  }

  async stop (): Promise<void> {
    if (this.started) await this.host.unhandle(this.protocol)
    this.started = false
  }

  private async * respond (bytes: Uint8Array, from: string): AsyncGenerator<Uint8Array> {
    let req
    try {
      req = fromBinary(ObjRequestSchema, bytes)
    } catch (err) {
      yield encodeResponse({ status: Status.BAD_REQUEST, error: `malformed request: ${(err as Error).message}`, hlc: this.handler.stamp() })
      return
    }
    try {
      switch (req.op.case) {
        case 'put': yield toBinary(ObjResponseSchema, await this.handler.put(req.op.value, from, req.hlc)); return
        case 'get': yield toBinary(ObjResponseSchema, await this.handler.get(req.op.value, from, req.hlc)); return
        case 'purge': yield toBinary(ObjResponseSchema, await this.handler.purge(req.op.value, from, req.hlc)); return
        case 'list': {
          // taken before the list: a ring that changes while it streams is caught as a mismatch
          const ring = this.handler.ringHash?.() ?? 0n
          for await (const oids of this.handler.list(req.op.value, from, req.hlc)) {
            const meta = req.op.value.withVersions ? await this.handler.headers(oids) : {}
            yield encodeResponse({ status: Status.OK, oids, ...meta, ring, hlc: this.handler.stamp() })
          }
          yield encodeResponse({ status: Status.OK, done: true, ring, hlc: this.handler.stamp() })
          return
        }
        default:
          yield encodeResponse({ status: Status.BAD_REQUEST, error: 'request has no operation', hlc: this.handler.stamp() })
      }
    } catch (err) {
      this.log.warn({ err: String(err), from, op: req.op.case }, 'object handler failed')
      yield encodeResponse({ status: Status.ERROR, error: String((err as Error)?.message ?? err), hlc: this.handler.stamp() })
    }
  }

  /** the request timeout plus the time `bytes` take at the slowest rate we still call working */
  private deadline (bytes: number): number {
    return this.timeoutMs + Math.ceil(bytes * 1000 / MIN_TRANSFER_BYTES_PER_SEC)
  }

  private async * call (peer: string, op: Parameters<typeof create<typeof ObjRequestSchema>>[1], signal?: AbortSignal, bytes = 0): AsyncGenerator<ObjResponse> {
    const sig = signal ?? AbortSignal.timeout(this.deadline(bytes))
    // optimistic protocol selection: the protocol id goes out with the request, not a round
    // trip ahead of it. Every member serves this protocol; one that does not fails the read,
    // under the same deadline as the rest of the call.
    const stream = await this.host.dialProtocol(peerIdFromString(peer), this.protocol, { signal: sig, negotiateFully: false })
    const request = toBinary(ObjRequestSchema, create(ObjRequestSchema, { ...op, hlc: this.handler.stamp() }))
    for await (const frame of exchange(stream, request, sig)) {
      yield fromBinary(ObjResponseSchema, frame)
    }
  }

  private async one (peer: string, op: Parameters<typeof create<typeof ObjRequestSchema>>[1], bytes = 0): Promise<ObjResponse> {
    for await (const res of this.call(peer, op, undefined, bytes)) return res
    throw new ObjectServiceError(`peer ${peer} closed the stream without answering`, Status.ERROR)
  }

  /** see PutArgs: createOnly arbitrates creates; copies lets a replica off placement tell */
  async put (peer: string, put: PutArgs): Promise<ObjResponse> {
    return await this.one(peer, { op: { case: 'put', value: put as PutObject } }, put.data.byteLength)
  }

  /** `expectBytes`: the object's size if the caller knows it (else the largest an object may be) */
  async get (peer: string, oid: bigint, headerOnly = false, expectBytes = MAX_OBJECT_SIZE): Promise<ObjResponse> {
    return await this.one(peer, { op: { case: 'get', value: { oid, headerOnly } as GetObject } }, headerOnly ? 0 : expectBytes)
  }

  /** read-repair: tell `peer` that tombstones cover these copies it listed */
  async purgeHint (peer: string, hint: { oids: bigint[], generations: number[], versions: bigint[] }): Promise<ObjResponse> {
    return await this.one(peer, { op: { case: 'purge', value: hint as PurgeHint } })
  }

  /** streams the peer's object list in chunks; the whole list is never one buffer */
  async * list (peer: string, filter: { vid?: number, inodesOnly?: boolean, withVersions?: boolean } = {}, signal?: AbortSignal): AsyncGenerator<ObjResponse> {
    const value = { hasVid: filter.vid != null, vid: filter.vid ?? 0, inodesOnly: filter.inodesOnly ?? false, withVersions: filter.withVersions ?? false } as ListObjects
    for await (const res of this.call(peer, { op: { case: 'list', value } }, signal)) {
      if (res.status !== Status.OK) throw new ObjectServiceError(`list from ${peer} failed: ${res.error}`, res.status)
      // recovery zips these arrays: a chunk whose lengths disagree would pair oids with the wrong versions
      if (res.oids.length > LIST_CHUNK_OIDS) throw new ObjectServiceError(`list from ${peer}: a chunk of ${res.oids.length} oids (at most ${LIST_CHUNK_OIDS})`, Status.BAD_REQUEST)
      if (value.withVersions && (res.versions.length !== res.oids.length || res.generations.length !== res.oids.length)) {
        throw new ObjectServiceError(`list from ${peer}: ${res.oids.length} oids with ${res.versions.length} versions and ${res.generations.length} generations`, Status.BAD_REQUEST)
      }
      yield res
      if (res.done) return
    }
    throw new ObjectServiceError(`list from ${peer} ended without its last chunk`, Status.ERROR)
  }
}

export function encodeResponse (fields: Partial<Omit<ObjResponse, '$typeName'>>): Uint8Array {
  return toBinary(ObjResponseSchema, create(ObjResponseSchema, fields))
}
