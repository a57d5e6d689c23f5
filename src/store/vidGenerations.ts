// The highest generation this process has seen stored for each vid (written, or read from a
// header), so the trust check on a peer's delete record can bound its generation without a
// disk read. After a heal that read waited seconds behind everything else the process did,
// and held every anti-entropy session that carried a delete. One entry per vid held (not per
// oid); a vid whose last object leaves is forgotten. Unknown (after a restart, before any
// read) is undefined: the caller reads a header then.
import { oidToVid } from '../oid.js'
import type { OidSet } from '../idset.js'

export class VidGenerations {
  private readonly byVid = new Map<number, number>()

  /** `oid` is stored with `generation` */
  note (oid: bigint, generation: number): void {
    const vid = oidToVid(oid)
    const g = this.byVid.get(vid)
    if (g === undefined || generation > g) this.byVid.set(vid, generation)
  }

  /** `oid` left the store whose cache is `cache` (already updated) */
  removed (oid: bigint, cache: OidSet): void {
    const vid = oidToVid(oid)
    if (this.byVid.has(vid) && cache.countVid(vid) === 0) this.byVid.delete(vid)
  }

  of (vid: number): number | undefined { return this.byVid.get(vid) }
}
