// The recovery driver's view of a node (RecoveryIO, src/recovery/recovery.ts): object lists,
// fetches and stores on members, this node's own store short-circuited, reconciliation before
// a pass, purge hints in bounded parts. Built over the parts of a BellwetherNode it needs.
import { create as createMsg } from '@bufbuild/protobuf'
import { ListObjectsSchema, Status, type ObjResponse } from '../wire/bellwether_pb.js'
import type { RecoveryIO } from '../recovery/recovery.js'
import { MAX_PURGE_HINT_OIDS } from '../net/constants.js'
import type { ObjectService, PutArgs } from '../net/objectService.js'
import type { SessionReport } from '../net/aeService.js'
import type { ObjectStore } from '../store/objectStore.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import type { NodeObjectHandler } from './objectHandler.js'

export interface RecoveryParts {
  self: string
  members (): string[]
  placement (oid: bigint, copies: number): string[]
  ringHash (): bigint
  copiesOf (vid: number): Promise<number | undefined>
  syncNow (peer: string): Promise<SessionReport | undefined>
  handler: NodeObjectHandler
  objects: ObjectService
  get (peer: string, oid: bigint): Promise<ObjResponse>
  put (peer: string, obj: PutArgs): Promise<ObjResponse>
  store: ObjectStore
  tombstones: TombstoneIndex
  readRepair (oids: bigint[], from: string): Promise<number>
  /** a recovery pass of `epoch` completed: persist it */
  completed (epoch: bigint): Promise<void>
}

export function nodeRecoveryIO (n: RecoveryParts): RecoveryIO {
  const header = (r: { status: Status, version: bigint, generation: number }): { version: bigint, generation: number } | undefined =>
    r.status === Status.OK ? { version: r.version, generation: r.generation } : undefined
  return {
    self: n.self,
    members: () => n.members(),
    placement: (oid, copies) => n.placement(oid, copies),
    ringHash: () => n.ringHash(),
    copiesOf: async (vid) => await n.copiesOf(vid),
    reconcile: async (peer) => { const r = await n.syncNow(peer); return r == null ? 'no session (peer unreachable)' : r.error },
    list: async (peer) => {
      const oids: bigint[] = []
      const versions: bigint[] = []
      const gens: number[] = []
      let ring: bigint | undefined
      const take = (o: bigint[], v: bigint[], g: number[]): void => { oids.push(...o); versions.push(...v); gens.push(...g) }
      if (peer === n.self) {
        for await (const chunk of n.handler.list(createMsg(ListObjectsSchema, {}), n.self, 0n)) {
          const h = await n.handler.headers(chunk)
          take(chunk, h.versions, h.generations)
        }
      } else {
        for await (const r of n.objects.list(peer, { withVersions: true })) {
          take(r.oids, r.versions, r.generations)
          ring = r.ring
        }
      }
      // an object that vanished while it was listed comes back as version 0: leave it out
      const keep = versions.map((v) => v > 0n)
      return {
        peer,
        oids: BigUint64Array.from(oids.filter((_, i) => keep[i])),
        versions: BigUint64Array.from(versions.filter((_, i) => keep[i])),
        generations: Uint32Array.from(gens.filter((_, i) => keep[i])),
        ring
      }
    },
    fetch: async (peer, oid) => {
      const r = await n.get(peer, oid)
      if (r.status === Status.DELETED) return 'deleted'
      if (r.status === Status.NOT_FOUND) return 'missing'
      const h = header(r)
      if (h == null) throw new Error(`${Status[r.status]} ${r.error}`)
      return { header: h, data: r.data }
    },
    store: async (oid, h, data) => {
      const r = await n.put(n.self, { oid, generation: h.generation, version: h.version, data })
      if (r.status === Status.OK) return 'ok'
      if (r.status === Status.DELETED) return 'deleted'
      if (r.status === Status.STALE) return 'stale'
      throw new Error(`local store of ${oid.toString(16)} failed: ${r.error}`)
    },
    drop: async (oid, version) => await n.store.removeIf(oid, (m) => m.version === version),
    handOff: async (peer, oid, version, copies, ring) => {
      const got = await n.store.get(oid)
      if (got == null || got.meta.version !== version) return 'gone'
      const r = await n.put(peer, { oid, generation: got.meta.generation, version, data: got.data, copies, ring })
      if (r.status === Status.OK) return 'ok'
      if (r.status === Status.STALE) return 'stale'
      if (r.status === Status.DELETED) return 'deleted'
      throw new Error(`${Status[r.status]} ${r.error}`)
    },
    covered: (oid, h) => n.tombstones.covers(oid, h.generation, h.version) != null,
    tellDeleted: async (peer, hint) => {
      let purged = 0
      for (let i = 0; i < hint.oids.length; i += MAX_PURGE_HINT_OIDS) {
        const part = { oids: hint.oids.slice(i, i + MAX_PURGE_HINT_OIDS), generations: hint.generations.slice(i, i + MAX_PURGE_HINT_OIDS), versions: hint.versions.slice(i, i + MAX_PURGE_HINT_OIDS) }
        if (peer === n.self) { purged += await n.readRepair(part.oids, peer); continue }
        const r = await n.objects.purgeHint(peer, part)
        if (r.status !== Status.OK) throw new Error(`purge hint refused by ${peer}: ${r.error}`)
        purged += r.purged
      }
      return purged
    },
    completed: async (epoch) => { await n.completed(epoch) }
  }
}
