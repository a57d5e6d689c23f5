// The seams between VDI operations and the node: who is alive, where an object belongs,
// and object I/O on a given member (the node short-circuits calls to itself); and where
// the VDI layer's delete records go.
import type { ObjResponse } from '../wire/bellwether_pb.js'
import type { PutArgs } from '../net/objectService.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { TombstoneIndex } from '../tombstones/tombstoneIndex.js'

export interface ClusterIO {
  readonly self: string
  readonly maxObjectSize: number
  readonly tombstones: TombstoneIndex
  /** live members, self included */
  members (): string[]
  zones (): number
  placement (oid: bigint, copies: number): string[]
  /** the ring placement() uses now (Ring.hash): a put placed earlier names the ring that placed it */
  ringHash (): bigint
  /** why this node may not coordinate writes or discards now (its view lacks a majority of the members it knows), or undefined */
  writeRefusal (): string | undefined
  put (peer: string, obj: PutArgs): Promise<ObjResponse>
  /** expectBytes: the object size when known (a VDI's object size), so the request deadline fits it */
  get (peer: string, oid: bigint, headerOnly?: boolean, expectBytes?: number): Promise<ObjResponse>
  listInodes (peer: string): Promise<bigint[]>
  /** the vid's folded (causally stable) deleted generation, if any: only then may the vid be reused */
  stableFloor (vid: number): number | undefined
  /** a fresh HLC timestamp */
  now (): bigint
  /** merge a timestamp seen elsewhere into the clock, so the next now() is past it */
  observe (hlc: bigint): void
  /** resolves after `ms` on the node's timers (a write waits for views to agree) */
  sleep (ms: number): Promise<void>
}

/**
 * Where the VDI layer's deletes go: the node's delete driver (src/node/deletes.ts) itself, so a
 * delete goes from the VDI service straight to the driver, not back up through the node.
 */
export interface DeleteOrigin {
  /** the next seq of this node's own delete records (never handed out twice) */
  nextSeq (): bigint
  /** persist + apply + purge locally, then gossip; resolves to the records new to this node */
  originate (recs: DeleteRec[]): Promise<DeleteRec[]>
}
