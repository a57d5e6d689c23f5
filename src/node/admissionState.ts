// What the trust checks (admission.ts) read of a running node: its membership view, delete
// log, floor, tombstones and object store. Kept apart from node.ts so the checks stay pure.
import type { DeleteLogApi } from '../tombstones/deleteLogApi.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import type { ObjectStoreApi } from '../store/objectStoreApi.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { AdmissionState } from './admission.js'
import { coveredByFloor } from '../tombstones/gcRules.js'

export interface NodeParts {
  self: string
  /** current members (not evicted), self included */
  members (): string[]
  /** a peer connected to us now: it holds the swarm key and proved its peer id (its heartbeat may not be here yet) */
  connected (peer: string): boolean
  log: Pick<DeleteLogApi, 'nextSeq' | 'has'>
  /** the floor as saved (the replica's, or a Floor file's) */
  floor: { get (vid: number): number | undefined, seq (origin: string): bigint }
  index: TombstoneIndex
  store: ObjectStoreApi
}

export function nodeAdmissionState (n: NodeParts): AdmissionState {
  return {
    self: n.self,
    isMember: (origin) => n.members().includes(origin) || n.connected(origin),
    highestSeq: (origin) => {
      const held = n.log.nextSeq(origin) - 1n
      const folded = n.floor.seq(origin)
      return held > folded ? held : folded
    },
    holds: (origin, seq) => n.log.has(origin, seq),
    coveredByFloor: (rec: DeleteRec) => coveredByFloor(rec, n.floor.get(rec.vid)),
    knownGeneration: async (vid) => {
      let g = n.floor.get(vid)
      const up = (x: number | undefined): void => { if (x !== undefined && (g === undefined || x > g)) g = x }
      up(n.index.deletedGeneration(vid))
      for (const d of n.index.discardsOf(vid)) up(d.generation)
      // the generation this node stores: known in memory once this process wrote or read an
      // object of the vid; otherwise one object's header (its inode if held) tells
      const stored = n.store.generationOf(vid)
      if (stored !== undefined) { up(stored); return g }
      const oid = n.store.cache.anyOfVid(vid)
      if (oid !== undefined) up((await n.store.stat(oid).catch(() => undefined))?.generation)
      return g
    }
  }
}
