// The invariant checker's judgement (src/check/checker.ts) on hand-made node reports: each
// kind of violation is reported against the right node and oid; a clean cluster passes.
import { describe, expect, it } from 'vitest'
import { judgeCluster, recordFromJson, type CheckInput, type CheckNodeInput } from '../../src/check/checker.js'
import type { DeleteRecordJson, LocalCheckObject, VdiInfo } from '../../src/api/types.js'

const VID = 0x7c2b25
const OLD_VID = 0x000abc
const oid = (vid: number, idx: number): string => ((BigInt(vid) << 32n) | BigInt(idx)).toString(16).padStart(16, '0')
const V1 = '0190000000010000'
const V2 = '0190000000020000'

const disk: VdiInfo = { name: 'disk', vid: '7c2b25', size: 4 << 20, copies: 3, objectSize: 1 << 20, generation: 0, objects: 4, created: '0190000000000000' }

function obj (idx: number, over: Partial<LocalCheckObject> = {}, vid = VID): LocalCheckObject {
  return { oid: oid(vid, idx), generation: 0, version: V1, checksum: 1000 + idx, length: 1 << 20, ...over }
}

function node (i: number, objects: LocalCheckObject[], deletes: DeleteRecordJson[] = [], over: Partial<CheckNodeInput['check']> = {}): CheckNodeInput {
  return {
    node: i,
    peerId: `peer${i}`,
    zone: i,
    check: { peerId: `peer${i}`, cacheEqualsDisk: true, onlyInCache: [], onlyOnDisk: [], objects, tombstoned: [], ...over },
    deletes
  }
}

const vdiDelete: DeleteRecordJson = { origin: 'peer0', seq: '1', hlc: '0190000000005000', kind: 'vdi', vid: '000abc', generation: 0, count: 0 }
const discard5: DeleteRecordJson = {
  origin: 'peer2', seq: '1', hlc: '0190000000015000', kind: 'objects', vid: '7c2b25', generation: 0, count: 1, indexes: [5]
}

/** Three nodes, each holding objects 0 and 1 of `disk`, all in agreement. */
function clean (): CheckInput {
  return {
    nodes: [0, 1, 2].map((i) => node(i, [obj(0), obj(1)], [vdiDelete])),
    vdis: [disk, disk, disk]
  }
}

describe('judgeCluster', () => {
  it('a clean cluster has no problems', () => {
    const r = judgeCluster(clean())
    expect(r.problems).toEqual([])
    expect(r.warnings).toEqual([])
    expect(r.ok).toBe(true)
    expect(r.summary).toMatchObject({ nodes: 3, zones: 3, liveVdis: 1, deleteRecords: 1, objects: 2, replicas: 6, problems: 0 })
  })

  it('reports a stale cache entry and a disk-only object on their node', () => {
    const input = clean()
    input.nodes[1]!.check = { ...input.nodes[1]!.check, cacheEqualsDisk: false, onlyInCache: [oid(OLD_VID, 3)], onlyOnDisk: [oid(VID, 9)] }
    const r = judgeCluster(input)
    expect(r.ok).toBe(false)
    expect(r.problems).toContainEqual(expect.objectContaining({ kind: 'cache-only', node: 1, peerId: 'peer1', oid: oid(OLD_VID, 3) }))
    expect(r.problems.find((p) => p.kind === 'cache-only')!.detail).toMatch(/VDI 000abc is deleted/)
    expect(r.problems).toContainEqual(expect.objectContaining({ kind: 'disk-only', node: 1, oid: oid(VID, 9) }))
  })

  it('a cache != disk flag without oids is still a problem', () => {
    const input = clean()
    input.nodes[2]!.check.cacheEqualsDisk = false
    expect(judgeCluster(input).problems).toEqual([expect.objectContaining({ kind: 'cache-mismatch', node: 2, oid: null })])
  })

  it('a node that missed a VDI delete and still holds its object is a violation', () => {
    const input = clean()
    // node 1 never got the record, and still has object 3 of the deleted VDI
    input.nodes[1] = node(1, [obj(0), obj(1), obj(3, {}, OLD_VID)], [])
    const r = judgeCluster(input)
    expect(r.ok).toBe(false)
    const p = r.problems.filter((x) => x.kind === 'tombstoned')
    expect(p).toHaveLength(1)
    expect(p[0]).toMatchObject({ node: 1, oid: oid(OLD_VID, 3) })
    expect(p[0]!.detail).toMatch(/missed a delete.*lacks the record/)
  })

  it('a node that has the record but did not purge is told apart', () => {
    const input = clean()
    input.nodes[0] = node(0, [obj(0), obj(1), obj(7, {}, OLD_VID)], [vdiDelete])
    const p = judgeCluster(input).problems
    expect(p).toHaveLength(1)
    expect(p[0]).toMatchObject({ kind: 'tombstoned', node: 0, oid: oid(OLD_VID, 7) })
    expect(p[0]!.detail).toMatch(/own delete log covers it/)
  })

  it('a discard covers only versions at or before its hlc', () => {
    const input = clean()
    input.nodes[0] = node(0, [obj(0), obj(1), obj(5)], [vdiDelete, discard5]) // version V1 < discard hlc: deleted
    input.nodes[1] = node(1, [obj(0), obj(1), obj(6, { version: V2 })], [vdiDelete])
    input.nodes[2]!.check.objects.push(obj(6, { version: V2 }))
    input.nodes[0]!.check.objects.push(obj(6, { version: V2 }))
    const r = judgeCluster(input)
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'tombstoned', node: 0, oid: oid(VID, 5) })])
    // rewrite after the discard: a newer version of index 5 is live again
    input.nodes[0]!.check.objects = [obj(0), obj(1), obj(6, { version: V2 }), obj(5, { version: V2 })]
    input.nodes[1]!.check.objects.push(obj(5, { version: V2 }))
    input.nodes[2]!.check.objects.push(obj(5, { version: V2 }))
    expect(judgeCluster(input).problems).toEqual([])
  })

  it('reports under-replication against min(copies, zones)', () => {
    const input = clean()
    input.nodes[0]!.check.objects.push(obj(2))
    const r = judgeCluster(input)
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'under-replicated', node: null, oid: oid(VID, 2) })])
    expect(r.problems[0]!.detail).toMatch(/1 of 3 copies \(held by nodes 0\)/)

    // two nodes left: min(3, 2) = 2 copies are enough
    const two: CheckInput = { nodes: [node(0, [obj(0)]), node(1, [obj(0)])], vdis: [disk] }
    expect(judgeCluster(two).problems).toEqual([])
    // two nodes in one zone: one copy is all placement can give
    const oneZone: CheckInput = { nodes: [{ ...node(0, [obj(0)]), zone: 7 }, { ...node(1, []), zone: 7 }], vdis: [disk] }
    expect(judgeCluster(oneZone).problems).toEqual([])
  })

  it('reports a version mismatch between holders', () => {
    const input = clean()
    input.nodes[2]!.check.objects[1] = obj(1, { version: V2 })
    const r = judgeCluster(input)
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'version-mismatch', oid: oid(VID, 1) })])
    expect(r.problems[0]!.detail).toMatch(new RegExp(`node 2 gen 0 version ${V2}`))
  })

  it('reports a checksum mismatch at the same version', () => {
    const input = clean()
    input.nodes[1]!.check.objects[0] = obj(0, { checksum: 42 })
    const r = judgeCluster(input)
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'checksum-mismatch', oid: oid(VID, 0) })])
    expect(r.problems[0]!.detail).toMatch(/node 1 checksum 42/)
  })

  it('the tombstone union counts records once, whoever reports them', () => {
    const input = clean()
    input.nodes[1]!.deletes = [vdiDelete, discard5]
    input.nodes[2]!.deletes = [discard5]
    expect(judgeCluster(input).summary.deleteRecords).toBe(2)
  })

  it('a deleted VDI is not live even if a node still lists it', () => {
    const input = clean()
    const old: VdiInfo = { ...disk, name: 'old', vid: '000abc' }
    input.vdis.push(old)
    expect(judgeCluster(input).summary.liveVdis).toBe(1)
  })

  it('objects of an unknown VDI are a warning, not a failure', () => {
    const input = clean()
    input.nodes[0]!.check.objects.push(obj(0, {}, 0x123456))
    const r = judgeCluster(input)
    expect(r.ok).toBe(true)
    expect(r.warnings).toEqual([expect.objectContaining({ kind: 'orphan', oid: oid(0x123456, 0) })])
  })

  it('reports what a node itself flags as tombstoned, and unreadable answers', () => {
    const input = clean()
    input.nodes[0]!.check.tombstoned = [oid(VID, 0)]
    input.nodes[1]!.deletes = [{ ...vdiDelete, seq: 'zz' }]
    input.nodes[2]!.check.objects.push({ ...obj(3), oid: 'nothex' })
    const kinds = judgeCluster(input).problems.map((p) => `${p.kind}@${p.node}`)
    expect(kinds).toEqual(expect.arrayContaining(['tombstoned@0', 'bad-answer@1', 'bad-answer@2']))
  })
})

describe('recordFromJson', () => {
  it('converts hex fields to bigints and indexes to a Uint32Array', () => {
    const r = recordFromJson(discard5)
    expect(r).toMatchObject({ kind: 'objects', origin: 'peer2', seq: 1n, hlc: 0x0190000000015000n, vid: VID, generation: 0 })
    expect(r.kind === 'objects' && [...r.indexes]).toEqual([5])
  })

  it('rejects records a node should never send', () => {
    expect(() => recordFromJson({ ...discard5, indexes: [5, 5] })).toThrow(/strictly increasing/)
    expect(() => recordFromJson({ ...discard5, indexes: undefined })).toThrow(/without indexes/)
    expect(() => recordFromJson({ ...vdiDelete, seq: '0' })).toThrow(/seq/)
    expect(() => recordFromJson({ ...vdiDelete, kind: 'bogus' as 'vdi' })).toThrow(/unknown record kind/)
  })
})
