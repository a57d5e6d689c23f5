// The invariant checker's judgement, pure: given every running node's LocalCheck and delete
// log and the VDI lists they report, say what violates the invariants of DESIGN.md:
//   - cache == disk on every node;
//   - purge: no oid covered by the UNION of all nodes' tombstones is held anywhere (a node
//     that never received a delete is exactly the hole this project closes, so it counts);
//   - replication: every data object of a live VDI is held by ≥ min(copies, zones) nodes,
//     all with one (generation, version) and matching checksum and length.
// Gathering the inputs over HTTP is the CLI's business; this file only judges.

import type { DeleteRecordJson, LocalCheck, LocalCheckObject, VdiInfo } from '../api/types.js'
import { formatVid, isDataObj, oidToVid, parseOid, parseVid } from '../oid.js'
import { type DeleteRec, validateRecord } from '../tombstones/record.js'
import { TombstoneIndex } from '../tombstones/tombstoneIndex.js'

export type ProblemKind =
  | 'cache-only' // in the object list cache, not on disk
  | 'disk-only' // on disk, not in the cache
  | 'cache-mismatch' // the node says cache != disk without naming an oid
  | 'tombstoned' // a deleted object is still held
  | 'under-replicated'
  | 'version-mismatch' // holders disagree on generation or version
  | 'checksum-mismatch' // same version, different content
  | 'bad-answer' // a node sent something the checker cannot read
  | 'orphan' // (warning) data object of no live VDI, not tombstoned either

export interface CheckProblem {
  kind: ProblemKind
  /** cluster node index; null for cluster-wide findings */
  node: number | null
  peerId: string | null
  /** 16 hex digits; null when the finding is not about one object */
  oid: string | null
  detail: string
}

export interface CheckNodeInput {
  node: number
  peerId: string
  /** failure domain; a node without one counts as its own zone */
  zone?: number
  check: LocalCheck
  deletes: DeleteRecordJson[]
  /** folded whole-VDI deletes: [vid, generation] pairs (GET /deletes `floor`) */
  floor?: Array<[number, number]>
}

export interface CheckInput {
  nodes: CheckNodeInput[]
  /** every node's GET /vdi answer, concatenated (duplicates are fine) */
  vdis: VdiInfo[]
}

export interface CheckReport {
  ok: boolean
  summary: {
    nodes: number
    zones: number
    liveVdis: number
    deleteRecords: number
    /** distinct oids on any node's disk */
    objects: number
    /** copies of not-deleted oids over all disks */
    replicas: number
    problems: number
    warnings: number
    byKind: Partial<Record<ProblemKind, number>>
  }
  problems: CheckProblem[]
  warnings: CheckProblem[]
}

/** DeleteRecordJson (API form) → DeleteRec; throws on anything a node should never send. */
export function recordFromJson (j: DeleteRecordJson): DeleteRec {
  const hex = (v: unknown, what: string): bigint => {
    if (typeof v !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(v)) throw new Error(`${what} ${JSON.stringify(v)} is not hex`)
    return BigInt('0x' + v)
  }
  const base = {
    origin: j.origin,
    seq: hex(j.seq, 'seq'),
    hlc: hex(j.hlc, 'hlc'),
    vid: parseVid(j.vid),
    generation: j.generation
  }
  let rec: DeleteRec
  if (j.kind === 'vdi') {
    rec = { kind: 'vdi', ...base }
  } else if (j.kind === 'objects') {
    if (!Array.isArray(j.indexes)) throw new Error('objects record without indexes')
    rec = { kind: 'objects', ...base, indexes: Uint32Array.from(j.indexes) }
  } else {
    throw new Error(`unknown record kind ${JSON.stringify((j as { kind: unknown }).kind)}`)
  }
  validateRecord(rec)
  return rec
}

interface Holding {
  node: CheckNodeInput
  obj: LocalCheckObject
  version: bigint
}

export function judgeCluster (input: CheckInput): CheckReport {
  const problems: CheckProblem[] = []
  const warnings: CheckProblem[] = []
  const report = (list: CheckProblem[], kind: ProblemKind, node: CheckNodeInput | null, oid: string | null, detail: string): void => {
    list.push({ kind, node: node?.node ?? null, peerId: node?.peerId ?? null, oid, detail })
  }

  // union of every node's delete log, and each node's own, to tell "missed" from "failed to purge"
  const union = new TombstoneIndex()
  const own = new Map<CheckNodeInput, TombstoneIndex>()
  const seen = new Set<string>()
  for (const n of input.nodes) {
    const idx = new TombstoneIndex()
    own.set(n, idx)
    for (const [vid, gen] of n.floor ?? []) {
      idx.applyFloor(vid, gen)
      union.applyFloor(vid, gen)
    }
    for (const j of n.deletes) {
      let rec: DeleteRec
      try {
        rec = recordFromJson(j)
      } catch (err) {
        report(problems, 'bad-answer', n, null, `unreadable delete record ${j?.origin ?? '?'}/${j?.seq ?? '?'}: ${(err as Error).message}`)
        continue
      }
      idx.apply(rec)
      const id = `${rec.origin}\0${rec.seq}`
      if (!seen.has(id)) {
        seen.add(id)
        union.apply(rec)
      }
    }
  }

  // live VDIs by vid: the newest generation nobody has deleted
  const live = new Map<number, VdiInfo>()
  for (const v of input.vdis) {
    let vid: number
    try {
      vid = parseVid(v.vid)
    } catch {
      report(problems, 'bad-answer', null, null, `VDI ${JSON.stringify(v.name)} has a bad vid ${JSON.stringify(v.vid)}`)
      continue
    }
    if (union.isVdiDeleted(vid, v.generation)) continue
    const cur = live.get(vid)
    if (cur === undefined || v.generation > cur.generation) live.set(vid, v)
  }

  const holdings = new Map<string, Holding[]>()
  const onDisk = new Set<string>()
  for (const n of input.nodes) {
    const c = n.check
    for (const oid of c.onlyInCache) {
      report(problems, 'cache-only', n, oid, 'in the object list cache but not on disk' + deletedNote(union, oid))
    }
    for (const oid of c.onlyOnDisk) report(problems, 'disk-only', n, oid, 'on disk but missing from the object list cache')
    if (!c.cacheEqualsDisk && c.onlyInCache.length === 0 && c.onlyOnDisk.length === 0) {
      report(problems, 'cache-mismatch', n, null, 'node reports cache != disk')
    }

    const flagged = new Set<string>()
    for (const obj of c.objects) {
      let oid: bigint
      let version: bigint
      try {
        oid = parseOid(obj.oid)
        if (typeof obj.version !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(obj.version)) {
          throw new Error(`version ${JSON.stringify(obj.version)} is not hex`)
        }
        version = BigInt('0x' + obj.version)
      } catch (err) {
        report(problems, 'bad-answer', n, String(obj.oid), (err as Error).message)
        continue
      }
      onDisk.add(obj.oid)
      const why = union.covers(oid, obj.generation, version)
      if (why !== undefined) {
        flagged.add(obj.oid)
        const knows = own.get(n)!.covers(oid, obj.generation, version) !== undefined
        report(problems, 'tombstoned', n, obj.oid, knows
          ? `still held although this node's own delete log covers it (${why})`
          : `missed a delete: ${why}; this node lacks the record`)
        continue
      }
      let list = holdings.get(obj.oid)
      if (list === undefined) holdings.set(obj.oid, (list = []))
      list.push({ node: n, obj, version })
    }
    for (const oid of c.tombstoned) {
      if (!flagged.has(oid)) report(problems, 'tombstoned', n, oid, 'node reports its own tombstones cover an object it holds')
    }
  }

  const zones = new Set(input.nodes.map((n) => n.zone ?? `node-${n.node}`)).size
  let replicas = 0
  for (const oidHex of [...holdings.keys()].sort()) {
    const list = holdings.get(oidHex)!
    replicas += list.length
    const oid = parseOid(oidHex)
    if (!isDataObj(oid)) continue
    const vdi = live.get(oidToVid(oid))
    if (vdi === undefined) {
      report(warnings, 'orphan', null, oidHex, `held by ${names(list)} but VDI ${formatVid(oidToVid(oid))} is neither live nor deleted`)
      continue
    }
    const want = Math.min(vdi.copies, zones)
    if (list.length < want) {
      report(problems, 'under-replicated', null, oidHex, `VDI ${vdi.name}: ${list.length} of ${want} copies (held by ${names(list)})`)
    }
    const versions = new Set(list.map((h) => `${h.obj.generation}/${h.version}`))
    if (versions.size > 1) {
      report(problems, 'version-mismatch', null, oidHex, `VDI ${vdi.name}: ` +
        list.map((h) => `node ${h.node.node} gen ${h.obj.generation} version ${h.obj.version}`).join(', '))
      continue
    }
    const sums = new Set(list.map((h) => `${h.obj.checksum}/${h.obj.length}`))
    if (sums.size > 1) {
      report(problems, 'checksum-mismatch', null, oidHex, `VDI ${vdi.name}, version ${list[0]!.obj.version}: ` +
        list.map((h) => `node ${h.node.node} checksum ${h.obj.checksum} length ${h.obj.length}`).join(', '))
    }
  }

  const byKind: Partial<Record<ProblemKind, number>> = {}
  for (const p of problems) byKind[p.kind] = (byKind[p.kind] ?? 0) + 1
  return {
    ok: problems.length === 0,
    summary: {
      nodes: input.nodes.length,
      zones,
      liveVdis: live.size,
      deleteRecords: seen.size,
      objects: onDisk.size,
      replicas,
      problems: problems.length,
      warnings: warnings.length,
      byKind
    },
    problems,
    warnings
  }
}

function names (list: Holding[]): string {
  return list.length === 0 ? 'no node' : 'nodes ' + list.map((h) => h.node.node).join(',')
}

function deletedNote (union: TombstoneIndex, oidHex: string): string {
  try {
    const g = union.deletedGeneration(oidToVid(parseOid(oidHex)))
    return g === undefined ? '' : ` (VDI ${formatVid(oidToVid(parseOid(oidHex)))} is deleted through generation ${g})`
  } catch {
    return ''
  }
}
