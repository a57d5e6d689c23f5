// The VDI namespace's probe walk: open addressing over vids, as Sheepdog finds a VDI from
// sd_hash_vdi(name). Pure decisions only; what a vid holds comes from the caller, so unit
// tests can drive every chain shape.
//
// Invariant: every live VDI sits at a vid reachable from its name's hash through vids that
// are not `unused`. Creates keep it (they take a vid on the walk, never past an unused one)
// and deletes keep it (a deleted vid becomes `pending`, then `reusable`, never `unused`
// again: its floor entry is kept forever). So a lookup may stop only at an unused vid, and a
// folded (reusable) vid is a tombstone in the open-addressing sense: a lookup walks past it.
import { nextVid, sdHashVdi } from '../oid.js'

/** How far from a name's hash its VDI may sit; a create never places one further. */
export const MAX_PROBES = 1024

/** What one vid holds, as far as the probe is concerned. */
export type Slot<T> =
  /** a live VDI (not covered by a tombstone) */
  | { kind: 'live', name: string, inode: T }
  /** never held a VDI: no live inode and no tombstone. Nothing was ever placed beyond it */
  | { kind: 'unused' }
  /** its delete has folded and nothing live is there: a create may take it, with `generation` */
  | { kind: 'reusable', generation: number }
  /** deleted but not folded: a node that missed the delete may still hold old-generation objects */
  | { kind: 'pending' }

export interface Walk<T> {
  /** the name's live VDI */
  found?: { vid: number, inode: T }
  /**
   * where a create of the name goes when it was not found: the first reusable vid of the
   * chain, else the unused vid that ends it; absent when the chain has neither within MAX_PROBES
   */
  free?: { vid: number, generation: number }
  /** vids looked at */
  probed: number
}

/**
 * A vid's slot from what the node knows of it: `liveName` the name of a live inode there (if
 * any), `deleted` the highest deleted generation, `folded` the folded (stable) one.
 */
export function classifySlot<T> (live: { name: string, inode: T } | undefined, deleted: number | undefined, folded: number | undefined): Slot<T> {
  if (live !== undefined) return { kind: 'live', name: live.name, inode: live.inode }
  if (deleted === undefined) return { kind: 'unused' }
  if (folded === deleted) return { kind: 'reusable', generation: deleted + 1 }
  return { kind: 'pending' }
}

/** the first vid of `name`'s probe chain (vid 0 is reserved, as in Sheepdog) */
export function firstVid (name: string): number {
  const vid = sdHashVdi(name)
  return vid === 0 ? nextVid(vid) : vid
}

/**
 * Walks `name`'s chain until its live VDI or an unused vid. A lookup must not stop at a
 * reusable vid (the name may be live further on), and a create may reuse one only once the
 * walk has proved that it is not. `inspect` errors (a vid nobody could answer for) propagate:
 * a chain with an unknown vid proves nothing.
 */
export async function walkChain<T> (name: string, inspect: (vid: number) => Promise<Slot<T>>, maxProbes = MAX_PROBES): Promise<Walk<T>> {
  let vid = firstVid(name)
  let reusable: { vid: number, generation: number } | undefined
  for (let i = 0; i < maxProbes; i++, vid = nextVid(vid)) {
    const slot = await inspect(vid)
    switch (slot.kind) {
      case 'live':
        if (slot.name === name) return { found: { vid, inode: slot.inode }, probed: i + 1 }
        break
      case 'unused':
        return { free: reusable ?? { vid, generation: 1 }, probed: i + 1 }
      case 'reusable':
        reusable ??= { vid, generation: slot.generation }
        break
      case 'pending':
        break
    }
  }
  // no create places a VDI beyond MAX_PROBES, so the whole reachable chain was seen
  return reusable === undefined ? { probed: maxProbes } : { free: reusable, probed: maxProbes }
}
