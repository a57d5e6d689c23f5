// k-way merge of ascending object lists (one per member, with versions): yields each oid
// once with every member's copy of it, without building a map of every oid in the cluster.
/** `ring`: the placement ring the member listed under (Ring.hash; undefined or 0: not said) */
export interface ObjectList { peer: string, oids: BigUint64Array, versions: BigUint64Array, generations: Uint32Array, ring?: bigint }
export interface Copy { peer: string, version: bigint, generation: number }

export function * mergeLists (lists: readonly ObjectList[]): Generator<{ oid: bigint, copies: Copy[] }> {
  const pos = new Array<number>(lists.length).fill(0)
  for (;;) {
    let min: bigint | undefined
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i].oids
      if (pos[i] < l.length && (min === undefined || l[pos[i]] < min)) min = l[pos[i]]
    }
    if (min === undefined) return
    const copies: Copy[] = []
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i]
      const at = pos[i]
      if (at < l.oids.length && l.oids[at] === min) {
        copies.push({ peer: l.peer, version: l.versions[at], generation: l.generations[at] })
        pos[i]++
      }
    }
    yield { oid: min, copies }
  }
}
