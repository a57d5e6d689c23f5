// One node's contribution to `bellwether check`: does its object list cache equal its
// disk, what does it hold (with versions and checksums), and does it hold anything its
// own tombstones cover. Cross-node judgement happens in src/check/checker.ts.
import { formatOid } from '../oid.js'
import { hex } from '../log.js'
import type { BellwetherNode } from '../node/node.js'

export interface LocalCheck {
  peerId: string
  cacheEqualsDisk: boolean
  onlyInCache: string[]
  onlyOnDisk: string[]
  objects: Array<{ oid: string, generation: number, version: string, checksum: number, length: number }>
  tombstoned: string[]
}

export async function localCheck (node: BellwetherNode): Promise<LocalCheck> {
  const cache = node.store.cache.toBigUint64Array()
  const disk = (await node.store.scanDisk()).toBigUint64Array()
  const onlyInCache: string[] = []
  const onlyOnDisk: string[] = []
  let i = 0
  let j = 0
  while (i < cache.length || j < disk.length) {
    if (j >= disk.length || (i < cache.length && cache[i] < disk[j])) onlyInCache.push(formatOid(cache[i++]))
    else if (i >= cache.length || disk[j] < cache[i]) onlyOnDisk.push(formatOid(disk[j++]))
    else { i++; j++ }
  }
  const objects: LocalCheck['objects'] = []
  const tombstoned: string[] = []
  for (const oid of disk) {
    const meta = await node.store.stat(oid).catch(() => undefined)
    if (meta == null) continue
    objects.push({ oid: formatOid(oid), generation: meta.generation, version: hex(meta.version), checksum: meta.checksum, length: meta.length })
    if (node.tombstones.covers(oid, meta.generation, meta.version) != null) tombstoned.push(formatOid(oid))
  }
  return { peerId: node.self, cacheEqualsDisk: onlyInCache.length === 0 && onlyOnDisk.length === 0, onlyInCache, onlyOnDisk, objects, tombstoned }
}
