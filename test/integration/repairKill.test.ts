// The writer dies before its replica repair: with node processes on 127.0.4.x, a node W writes an
// object it does not hold while the link between it and one placement target (L) is cut (app
// level, so the other nodes still relay every heartbeat and nobody's view changes). The write
// reaches the two other targets and is queued for repair on W, which cannot reach L. W is then
// killed (SIGKILL: the queue is gone) and restarted, and the cut healed. Placement never
// changes, so nothing but the restart can tell the cluster to compare versions: after
// `cluster wait`, every target must hold the newest version and `check` must pass (the chaos
// run once ended with such a replica one version behind: version-mismatch).
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcCluster, type FileNode } from '../helpers/procCluster.js'
import { show, waitFor } from '../helpers/cli.js'
import { formatOid, oidToVid, parseOid, vidToVdiOid } from '../../src/oid.js'

const OBJ = 4096
const OBJECTS = 16

/** a process cluster whose nodes serve /chaos/* (the cut between two nodes) */
class ChaosProcCluster extends ProcCluster {
  override async up (): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), `bw-${this.name}-`))
    const args = ['cluster', 'up', '--nodes', String(this.nodes), '--ip-base', this.ipBase, '--copies', String(this.copies), '--enable-chaos', '--timeout', '120', '--json']
    const r = await this.bw(args)
    this.track()
    expect(r.code, show(args, r)).toBe(0)
  }
}

/** the writer's replica repair counters, from its /metrics */
async function repairMetrics (n: FileNode): Promise<{ retried: number, dropped: number, pending: number }> {
  const text = await (await fetch(`${n.apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0)
  return {
    retried: num(/^bw_replica_repair_objects\{result="retried"\} (\d+)/m),
    dropped: num(/^bw_replica_repair_objects\{result="dropped"\} (\d+)/m),
    pending: num(/^bw_replica_repair_queue (\d+)/m)
  }
}

interface Location { oid: string, placement: string[], holders: Array<{ peerId: string, version: string }> }

describe('replica repair when the writer dies or cannot reach the VDI (node processes)', { timeout: 300_000 }, () => {
  const c = new ChaosProcCluster('repairkill', 5, '127.0.4.10', 3)
  beforeAll(async () => { await c.up() }, 180_000)
  afterAll(async () => { await c.down() }, 120_000)

  it('the replica that missed the write gets the newest version after the writer restarts and the cut heals', async () => {
    await c.wait()
    await c.ok(['vdi', 'create', 'kw', String(OBJ * OBJECTS), '--object-size', String(OBJ), '--copies', '3', '--node', '0'])
    // the writer W is a node object 0 is not placed on, so it only coordinates; L is one of the targets
    const loc = await c.json(['vdi', 'object', 'location', 'kw', '--index', '0', '--node', '0']) as Location
    const targets = loc.placement
    expect(targets).toHaveLength(3)
    const writer: FileNode = c.file().find((n) => !targets.includes(n.peerId))!
    const lagging: FileNode = c.file().find((n) => n.peerId === targets[0])!
    const W = String(writer.index)
    // asked about holders: a node that reaches every other one during the cut
    const O = String(c.file().find((n) => n.peerId === targets[1])!.index)
    await c.ok(['vdi', 'write', 'kw', '0', '--node', W], { stdin: new Uint8Array(OBJ).fill(1) })
    const before = await c.json(['vdi', 'object', 'location', 'kw', '--index', '0', '--node', W]) as Location
    expect(new Set(before.holders.map((h) => h.version)).size).toBe(1)

    await c.ok(['chaos', 'partition', '--cuts', `${W}-${lagging.index}`])
    const w = await c.bw(['vdi', 'write', 'kw', '0', '--node', W], { stdin: new Uint8Array(OBJ).fill(2) })
    expect(w.stderr, show(['vdi', 'write'], w)).toMatch(/failed on 1\/3 replicas/)
    const status = await c.get(writer.index, '/status')
    expect(status.busyReasons, 'the partial write is queued for repair on the writer').toEqual(expect.arrayContaining([expect.stringMatching(/objects waiting for replica repair/)]))
    const mid = await c.json(['vdi', 'object', 'location', 'kw', '--index', '0', '--node', O]) as Location
    const newest = mid.holders.map((h) => h.version).sort().at(-1)!
    expect(mid.holders.find((h) => h.peerId === lagging.peerId)?.version, 'L missed the write').toBe(before.holders[0]!.version)

    // the writer dies with its repair queue, comes back, and the cut heals
    await c.ok(['cluster', 'kill', '--node', W])
    await c.start(writer.index)
    await c.ok(['chaos', 'heal'])

    await c.wait()
    const after = await c.json(['vdi', 'object', 'location', 'kw', '--index', '0', '--node', O]) as Location
    const onTargets = targets.map((t) => after.holders.find((h) => h.peerId === t)?.version)
    expect(onTargets, `versions on the targets (${lagging.index} is L); newest ${newest}`).toEqual([newest, newest, newest])
    const r = await c.bw(['check'])
    expect(r.code, show(['check'], r)).toBe(0)
    const back = await c.bw(['vdi', 'read', 'kw', '0', String(OBJ), '--node', String(lagging.index)])
    expect(back.code).toBe(0)
    expect(back.out.every((b) => b === 2)).toBe(true)
  })

  it('a partial write whose writer is cut off from every inode holder is still repaired after the heal', async () => {
    await c.wait()
    await c.ok(['vdi', 'create', 'iu', String(OBJ * OBJECTS), '--object-size', String(OBJ), '--copies', '3', '--node', '0'])
    const first = await c.json(['vdi', 'object', 'location', 'iu', '--index', '0', '--node', '0']) as Location
    const inode = formatOid(vidToVdiOid(oidToVid(parseOid(first.oid))))
    const nodes = c.file()
    const holds = await Promise.all(nodes.map(async (n) => (await c.json(['objlist', '--node', String(n.index)])).oids.includes(inode) as boolean))
    const inodeHolders = nodes.filter((_, i) => holds[i])
    const others = nodes.filter((_, i) => !holds[i])
    expect(inodeHolders).toHaveLength(3)
    // W: not an inode holder; X: the other one, through which W still hears the rest (no view change)
    const [writer, relay] = others as [FileNode, FileNode]
    const W = String(writer.index)
    // an object placed on the relay, so the write lands somewhere and misses an inode holder
    let index = -1
    let targets: string[] = []
    for (let i = 0; i < OBJECTS && index < 0; i++) {
      const loc = await c.json(['vdi', 'object', 'location', 'iu', '--index', String(i), '--node', W]) as Location
      if (loc.placement.includes(relay.peerId)) { index = i; targets = loc.placement }
    }
    expect(index, 'an object placed on the relay').toBeGreaterThanOrEqual(0)
    const offset = String(index * OBJ)
    // through W (which thereby knows the VDI), before the cut
    await c.ok(['vdi', 'write', 'iu', offset, '--node', W], { stdin: new Uint8Array(OBJ).fill(3) })

    await c.ok(['chaos', 'partition', '--cuts', inodeHolders.map((h) => `${W}-${h.index}`).join(',')])
    try {
      const w = await c.bw(['vdi', 'write', 'iu', offset, '--node', W], { stdin: new Uint8Array(OBJ).fill(4) })
      expect(w.code, show(['vdi', 'write'], w)).not.toBe(0)
      expect(w.stderr).toMatch(/failed on [12]\/3 replicas/)
      const mid = await c.json(['vdi', 'object', 'location', 'iu', '--index', String(index), '--node', String(relay.index)]) as Location
      const versions = new Set(mid.holders.filter((h) => targets.includes(h.peerId)).map((h) => h.version))
      expect(versions.size, 'the targets disagree until the repair').toBe(2)
      // W's repair of the object runs while the cut lasts: it cannot look the VDI up (no inode
      // holder answers) and must keep the oid (the old code dropped it here, for good)
      await waitFor('a repair attempt on W during the cut', 60_000, async () => {
        const m = await repairMetrics(writer)
        return m.retried + m.dropped > 0 ? true : JSON.stringify(m)
      })
      expect((await repairMetrics(writer)).dropped).toBe(0)
    } finally {
      await c.ok(['chaos', 'heal'])
    }
    await c.wait()
    const after = await c.json(['vdi', 'object', 'location', 'iu', '--index', String(index), '--node', String(relay.index)]) as Location
    const onTargets = new Set(targets.map((t) => after.holders.find((h) => h.peerId === t)?.version))
    expect(onTargets.size, `versions on the targets: ${JSON.stringify(after.holders)}`).toBe(1)
    const r = await c.bw(['check'])
    expect(r.code, show(['check'], r)).toBe(0)
    const back = await c.bw(['vdi', 'read', 'iu', offset, String(OBJ), '--node', String(inodeHolders[0]!.index)])
    expect(back.out.every((b) => b === 4)).toBe(true)
  })
})
