// One node's contribution to `bellwether check`: does its object list cache equal its
// disk, what does it hold (with versions and checksums), and does it hold anything its
// own tombstones cover. Cross-node judgement happens in src/check/checker.ts; the admin
// API (GET /check) turns this into the wire shape of src/api/types.ts.
import type { BellwetherNode } from './node.js'

export interface LocalCheckSnapshot {
  onlyInCache: bigint[]
  onlyOnDisk: bigint[]
  objects: Array<{ oid: bigint, generation: number, version: bigint, checksum: number, length: number }>
  /** oids held here that this node's own tombstones cover */
  tombstoned: bigint[]
}

export async function localCheck (node: BellwetherNode): Promise<LocalCheckSnapshot> {
  const cache = node.store.cache.toBigUint64Array()
  const disk = (await node.store.scanDisk()).toBigUint64Array()
  const onlyInCache: bigint[] = []
  const onlyOnDisk: bigint[] = []
  let i = 0
  let j = 0
  while (i < cache.length || j < disk.length) {
    if (j >= disk.length || (i < cache.length && cache[i] < disk[j])) onlyInCache.push(cache[i++])
    else if (i >= cache.length || disk[j] < cache[i]) onlyOnDisk.push(disk[j++])
    else { i++; j++ }
  }
  const objects: LocalCheckSnapshot['objects'] = []
  const tombstoned: bigint[] = []
  for (const oid of disk) {
    const meta = await node.store.stat(oid).catch(() => undefined)
    if (meta == null) continue
    objects.push({ oid, generation: meta.generation, version: meta.version, checksum: meta.checksum, length: meta.length })
    if (node.tombstones.covers(oid, meta.generation, meta.version) != null) tombstoned.push(oid)
  }
  return { onlyInCache, onlyOnDisk, objects, tombstoned }
}
