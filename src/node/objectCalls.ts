// The object calls of ClusterIO (put, get, list inodes) for one node: to itself straight
// into its own handler, to a peer over the object protocol. A peer's answer is bounded like
// its requests are: a GET answered with a version from the far future is refused, since it
// would win every read.
import { create } from '@bufbuild/protobuf'
import { GetObjectSchema, ListObjectsSchema, ObjResponseSchema, PutObjectSchema, Status, type ObjResponse } from '../wire/bellwether_pb.js'
import type { HybridClock } from '../hlc.js'
import type { NodeObjectHandler } from './objectHandler.js'
import type { Rejections } from './rejections.js'
import type { ObjectService, PutArgs } from '../net/objectService.js'

export class ObjectCalls {
  constructor (
    /** this node's peer id, read on each call */
    private readonly self: () => string,
    private readonly handler: NodeObjectHandler,
    private readonly objects: ObjectService,
    private readonly clock: HybridClock,
    /** peers' answers refused (bw_rejected_total{kind="version"}) */
    private readonly rejections: Rejections,
    /** this node's placement ring (Ring.hash), which every put to a peer carries */
    private readonly ring: () => bigint = () => 0n
  ) {}

  /**
   * Every put to a peer says which ring placed it (the peer refuses another): the caller's, when
   * it placed the put before an await (the ring may have changed since), else this node's now
   */
  async put (peer: string, obj: PutArgs): Promise<ObjResponse> {
    if (peer === this.self()) return await this.handler.put(create(PutObjectSchema, obj), peer, 0n)
    return await this.objects.put(peer, { ...obj, ring: obj.ring ?? this.ring() })
  }

  async get (peer: string, oid: bigint, headerOnly = false, expectBytes?: number): Promise<ObjResponse> {
    if (peer === this.self()) return await this.handler.get(create(GetObjectSchema, { oid, headerOnly }), peer, 0n)
    const r = await this.objects.get(peer, oid, headerOnly, expectBytes)
    const why = r.status === Status.OK ? this.clock.implausible(r.version) : undefined
    if (why == null) return r
    this.rejections.note('version', `${peer} answered version ${r.version} of ${oid.toString(16)}, which ${why}`)
    return create(ObjResponseSchema, { status: Status.ERROR, oid, error: `${peer} answered version ${r.version} of ${oid.toString(16)}, which ${why}` })
  }

  async listInodes (peer: string): Promise<bigint[]> {
    const out: bigint[] = []
    if (peer === this.self()) {
      for await (const chunk of this.handler.list(create(ListObjectsSchema, { inodesOnly: true }), peer, 0n)) out.push(...chunk)
      return out
    }
    for await (const r of this.objects.list(peer, { inodesOnly: true })) out.push(...r.oids)
    return out
  }
}
