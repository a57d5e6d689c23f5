// Recovery (issue 4) with separate node processes, driven as users drive them: every step
// spawns `node bin/bellwether.js … --dir DIR` (dist/, built by `npm test`'s pretest; after
// editing src run `npm run build` before `npx vitest run test/integration/recoveryProcs.test.ts`).
//
// Cluster A — 5 nodes on 127.0.0.100-104 (copies 2), one more added at the end (.105):
//   2. copies 1: the node holding the only copies of some objects stops and restarts; every
//      object is readable with its content through every node.
//   3. one stopped node holds both the only copies of a copies-1 VDI and copies of a VDI that is
//      deleted while it is down; after its restart both properties hold at once.
//   5. copies 3: two nodes killed one by one, every object overwritten after each kill; the
//      nodes come back with stale copies (two different stale versions) and lose to the new data,
//      also while they rejoin: reads through node 0 and the returning nodes are sampled every
//      100 ms from their restart until `cluster wait`: each must answer some, and none an old version.
//   1. a node stops, a VDI is deleted, the node restarts: nothing of that VDI anywhere, and
//      still nothing after one more node joins (`cluster add`) and recovery finishes.
//   In 3 and 1 the others run past their gossip caches before the node restarts, and it must
//   learn the delete through anti-entropy (bw_delete_records_applied_total{source="ae"}).
// Cluster B — 3 nodes on 127.0.0.110-112 (copies 2), one added (.113):
//   4. the node is added while a large VDI (400 × 256 KiB) recovers onto it, and the VDI is
//      deleted (DELETE on the admin API, for timing) as soon as GET /recovery on the joiner shows
//      it running with objects recovered: nothing of it anywhere afterwards, and recovery counts
//      no deleted object as failed.
// Wall time: ≈ 3.7 min at load average ≈ 5, ≈ 7 min at ≈ 12 (2 cores).
//
// Every scenario ends with `cluster wait` and `check` exit 0. Deleted objects are looked for in
// every node's object list (`objlist`) and in its obj/ directory. A background watcher samples
// every node's GET /recovery and keeps every error recovery reported: none may name an object of
// a deleted VDI (recovery must never attempt one). Where no delete can race recovery, the
// bw_recovery_objects{result="raced_delete"} metric must stay 0, and the phases in which only a
// deleted VDI could be recovered (a node returning with data that did not change meanwhile)
// must recover nothing at all. afterAll runs `cluster down --purge` and asserts that no node
// process is left.
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sleep, waitFor } from '../helpers/cli.js'
import { outlastGossipCache } from '../helpers/gossip.js'
import { ProcCluster, getJson, type FileNode } from '../helpers/procCluster.js'

interface Totals { recovered: number, failed: number, deletedSkipped: number, dropped: number, racedDeletes: number }
interface Progress { epoch: string, running: boolean, toRecover: number, recovered: number, failed: number, deletedSkipped: number, errors: string[] }

/** bits 32..55 of a 16-hex-digit oid */
const vidOf = (oid: string): string => oid.slice(2, 8)

/** The process cluster of test/helpers/procCluster.ts, with chaos endpoints on and a watcher of every node's recovery errors. */
class RecoveryCluster extends ProcCluster {
  /** errors recovery reported (GET /recovery progress.errors), sampled in the background */
  readonly recoveryErrors = new Set<string>()
  private watcher: NodeJS.Timeout | undefined
  private watching = false

  protected override extraUpArgs (): string[] { return ['--enable-chaos'] }

  override async up (): Promise<void> {
    await super.up()
    this.watch()
  }

  async kill (i: number): Promise<void> { await this.ok(['cluster', 'kill', '--node', String(i)]) }
  async add (): Promise<FileNode> {
    const n = await this.json(['cluster', 'add', '--timeout', '90']) as FileNode
    if (typeof n.pid === 'number') this.launched.set(n.pid, n.dataDir)
    this.track()
    return n
  }

  /** starts every node of the file that is not running and waits for the cluster: what a case that failed with a node down leaves; the indexes started */
  async startDown (): Promise<number[]> {
    const nodes = (await this.json(['cluster', 'status', '--json'])).nodes as Array<{ index: number, running: boolean }>
    const down = nodes.filter((n) => !n.running).map((n) => n.index)
    for (const i of down) await this.start(i)
    if (down.length > 0) await this.wait()
    return down
  }

  async createVdi (name: string, size: string, objectSize: string, copies: number): Promise<string> {
    const info = await this.json(['vdi', 'create', name, size, '--object-size', objectSize, '--copies', String(copies)])
    expect(info).toMatchObject({ name, copies })
    expect(info.vid).toMatch(/^[0-9a-f]{6}$/)
    return info.vid as string
  }

  async write (name: string, data: Uint8Array, via = 0): Promise<void> {
    const w = JSON.parse((await this.ok(['vdi', 'write', name, '0', '--node', String(via), '--json'], { stdin: data })).stdout)
    expect(w.written).toBe(data.length)
  }

  /** the VDI read through each running node equals `data` */
  async expectReadsEverywhere (name: string, data: Buffer): Promise<void> {
    const nodes = this.running().map((n) => n.index)
    const reads = await Promise.all(nodes.map(async (i) => await this.ok(['vdi', 'read', name, '0', String(data.length), '--node', String(i)])))
    for (const [k, r] of reads.entries()) {
      expect(r.out.length, `read of ${name} through node ${nodes[k]}`).toBe(data.length)
      if (!r.out.equals(data)) {
        const at = r.out.findIndex((b, j) => b !== data[j])
        throw new Error(`read of ${name} through node ${nodes[k]} differs from what was written, first at byte ${at}`)
      }
    }
  }

  async objlist (i: number): Promise<string[]> {
    const o = await this.json(['objlist', '--node', String(i)])
    expect(o.count).toBe(o.oids.length)
    return o.oids as string[]
  }

  /** per running node: how many of its objects belong to `vid` */
  async countByNode (vid: string): Promise<Map<number, number>> {
    const nodes = this.running().map((n) => n.index)
    const lists = await Promise.all(nodes.map(async (i) => await this.objlist(i)))
    return new Map(nodes.map((i, k) => [i, lists[k]!.filter((o) => vidOf(o) === vid).length]))
  }

  /** no object of `vid` in any running node's object list, nor in any node's obj/ directory */
  async expectNothingOf (vid: string, what: string): Promise<void> {
    const counts = await this.countByNode(vid)
    expect([...counts].filter(([, n]) => n > 0), `nodes whose object list still holds objects of ${what} (vid ${vid})`).toEqual([])
    for (const n of this.file()) {
      const files = await readdir(join(n.dataDir, 'obj')).catch(() => [] as string[])
      const left = files.filter((f) => /[0-9a-f]{16}/.exec(f)?.[0].slice(2, 8) === vid)
      expect(left, `files of ${what} (vid ${vid}) in node ${n.index}'s obj/`).toEqual([])
    }
  }

  async recoveryOf (i: number): Promise<{ progress: Progress, totals: Totals }> {
    return await getJson(`${this.node(i).apiUrl}/recovery`)
  }

  /** per running node: pid and recovery totals */
  async totals (): Promise<Map<number, { pid: number, totals: Totals }>> {
    const nodes = this.running()
    const got = await Promise.all(nodes.map(async (n) => (await this.recoveryOf(n.index)).totals))
    return new Map(nodes.map((n, k) => [n.index, { pid: n.pid!, totals: got[k]! }]))
  }

  /** objects recovered cluster-wide since `before` (a node restarted since counts from 0) */
  async recoveredSince (before: Map<number, { pid: number, totals: Totals }>): Promise<{ sum: number, by: Record<number, number> }> {
    const by: Record<number, number> = {}
    let sum = 0
    for (const [i, now] of await this.totals()) {
      const b = before.get(i)
      const d = now.totals.recovered - (b !== undefined && b.pid === now.pid ? b.totals.recovered : 0)
      by[i] = d
      sum += d
    }
    return { sum, by }
  }

  /** per running node: the bw_recovery_objects gauge, by result */
  async recoveryMetrics (): Promise<Map<number, Record<string, number>>> {
    const out = new Map<number, Record<string, number>>()
    await Promise.all(this.running().map(async (n) => {
      const text = await (await fetch(`${n.apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      const m: Record<string, number> = {}
      for (const [, result, v] of text.matchAll(/^bw_recovery_objects\{result="([a-z_]+)"\} (\S+)$/gm)) m[result!] = Number(v)
      out.set(n.index, m)
    }))
    return out
  }

  /** delete records node i applied since its process started, by how they came (bw_delete_records_applied_total) */
  async appliedBySource (i: number): Promise<{ ae: number, gossip: number }> {
    const text = await (await fetch(`${this.node(i).apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    const of = (source: string): number => Number(new RegExp(`^bw_delete_records_applied_total\\{source="${source}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
    return { ae: of('ae'), gossip: of('gossip') }
  }

  /** recovery errors (sampled so far) that name an object of `vid` */
  errorsNaming (vid: string): string[] {
    return [...this.recoveryErrors].filter((e) => [...e.matchAll(/\b[0-9a-f]{16}\b/g)].some((m) => vidOf(m[0]) === vid))
  }

  /** samples every running node's GET /recovery about three times a second */
  private watch (): void {
    this.watching = true
    const tick = async (): Promise<void> => {
      let nodes: FileNode[] = []
      try { nodes = this.running() } catch {}
      await Promise.all(nodes.map(async (n) => {
        try {
          const r = await getJson(`${n.apiUrl}/recovery`)
          for (const e of r.progress.errors as string[]) this.recoveryErrors.add(`node ${n.index} epoch ${r.progress.epoch}: ${e}`)
        } catch {} // stopped, starting or busy: the next sample will do
      }))
      if (this.watching) this.watcher = setTimeout(() => { void tick() }, 300)
    }
    void tick()
  }

  override async down (): Promise<void> {
    this.watching = false
    if (this.watcher !== undefined) clearTimeout(this.watcher)
    await super.down()
  }
}

/**
 * "" when `got` is the newest of `versions`; else the objects (by index) that hold an older version,
 * as "index=version" (1-based), or "?" for content that is none of them
 */
function staleObjects (got: Buffer, versions: Buffer[], objectSize: number): string {
  const newest = versions.length
  const out: string[] = []
  for (let k = 0; k * objectSize < got.length; k++) {
    const piece = got.subarray(k * objectSize, (k + 1) * objectSize)
    const v = versions.findIndex((d) => d.subarray(k * objectSize, (k + 1) * objectSize).equals(piece)) + 1
    if (v !== newest) out.push(`${k}=${v === 0 ? '?' : v}`)
  }
  return out.join(' ')
}

/** the node (not node 0, which the CLI talks to by default) scoring highest; it must score > 0 */
function pickNode (scores: Map<number, number>, what: string): number {
  const best = [...scores].filter(([i]) => i !== 0).sort((a, b) => b[1] - a[1])[0]
  expect(best !== undefined && best[1] > 0, `a node other than 0 holding ${what}: ${JSON.stringify([...scores])}`).toBe(true)
  return best![0]
}

describe('recovery with node processes: stops, restarts, kills, a join (cluster A, 5+1 nodes)', { timeout: 300_000 }, () => {
  const c = new RecoveryCluster('recov-a', 5, '127.0.0.100', 2)
  beforeAll(async () => { await c.up() }, 200_000)
  afterAll(async () => { await c.down() }, 120_000)
  // the cases share the cluster: one that failed with a node stopped or killed must not hand the
  // next a smaller one (each case puts back what it stops when it passes; this is for when it did not)
  afterEach(async () => { await c.startDown() }, 200_000)

  it('2. copies 1: the only copies stop and restart with their node; every object reads back through every node', async () => {
    const vid = await c.createVdi('solo', '256K', '4K', 1)
    const data = randomBytes(256 * 1024)
    await c.write('solo', data)
    await c.wait()
    const counts = await c.countByNode(vid)
    expect([...counts.values()].reduce((s, n) => s + n, 0), 'one copy of each of the 64 objects (+ the inode)').toBeGreaterThanOrEqual(64)
    const x = pickNode(counts, 'objects of solo')

    await c.stop(x)
    await c.wait()
    // the only copies are gone with node x: a read through node 0 cannot return the data
    const during = await c.bw(['vdi', 'read', 'solo', '0', '256K', '--node', '0'])
    expect(during.code === 0 && during.out.equals(data), 'solo read back intact while the node holding its only copies was down').toBe(false)

    const before = await c.totals()
    await c.start(x)
    await c.convergedAndChecked()
    await c.expectReadsEverywhere('solo', data)
    expect((await c.countByNode(vid)).get(x), `node ${x} still holds its objects of solo`).toBe(counts.get(x))
    // the returning node holds every object it is placed on at the current version: nothing to move
    expect(await c.recoveredSince(before)).toEqual({ sum: 0, by: expect.anything() })
  })

  it('3. one stopped node holds the only copies of a copies-1 VDI and copies of a VDI deleted while it is down', async () => {
    const soloVid = await c.createVdi('solo3', '256K', '4K', 1)
    const doomedVid = await c.createVdi('doomed3', '256K', '4K', 2)
    const solo = randomBytes(256 * 1024)
    await c.write('solo3', solo)
    await c.write('doomed3', randomBytes(256 * 1024), 1)
    await c.wait()
    const [s, d] = await Promise.all([c.countByNode(soloVid), c.countByNode(doomedVid)])
    const x = pickNode(new Map([...s].map(([i, n]) => [i, Math.min(n, d.get(i) ?? 0)])), 'objects of both solo3 and doomed3')

    await c.stop(x)
    await c.wait()
    expect((await c.json(['vdi', 'delete', 'doomed3', '--node', '0'])).vdi.vid).toBe(doomedVid)
    await waitFor('the running nodes to purge doomed3', 60_000, async () => {
      const left = [...(await c.countByNode(doomedVid))].filter(([, n]) => n > 0)
      return left.length === 0 || `still held: ${JSON.stringify(left)}`
    })
    // every running node holds the record: once each has run past its gossip cache, x can learn it only through anti-entropy
    await outlastGossipCache(c.running().map((n) => n.apiUrl))
    await c.wait()

    const before = await c.totals()
    await c.start(x)
    await c.convergedAndChecked()
    await c.expectNothingOf(doomedVid, 'doomed3')
    expect(await c.appliedBySource(x), `delete records node ${x} applied since its restart, by source`).toEqual({ ae: 1, gossip: 0 })
    await c.expectReadsEverywhere('solo3', solo)
    expect((await c.countByNode(soloVid)).get(x)).toBe(s.get(x))
    // nothing of solo3 needed moving; anything recovered here could only be doomed3 coming back
    expect(await c.recoveredSince(before)).toEqual({ sum: 0, by: expect.anything() })
    expect(c.errorsNaming(doomedVid), 'recovery errors about objects of the deleted doomed3').toEqual([])
    for (const [i, m] of await c.recoveryMetrics()) expect(m.raced_delete, `node ${i} raced_delete`).toBe(0)
  })

  it('5. copies 3: nodes killed one by one while everything is overwritten return stale and lose to the new data', async () => {
    const vid = await c.createVdi('rw', '256K', '8K', 3)
    const v1 = randomBytes(256 * 1024)
    const v2 = randomBytes(256 * 1024)
    const v3 = randomBytes(256 * 1024)
    await c.write('rw', v1)
    await c.wait()
    const counts = await c.countByNode(vid)
    expect(counts.get(3)! + counts.get(4)!).toBeGreaterThan(0)

    await c.kill(3)
    await c.wait()
    await c.write('rw', v2, 1) // node 3 keeps v1
    await c.wait()
    await c.kill(4)
    await c.wait()
    await c.write('rw', v3, 2) // node 4 keeps v2, node 3 still v1
    await c.wait()

    // while they rejoin and recover, keep reading through node 0 and through each returning node:
    // a stale copy must not be served even before recovery has replaced it
    const stale: string[] = []
    // per node: reads it answered, and what the others came back with (not up yet, joining, …)
    const answered = new Map([0, 3, 4].map((i) => [i, 0]))
    const otherwise = new Map<string, number>()
    const note = (what: string): void => { otherwise.set(what, (otherwise.get(what) ?? 0) + 1) }
    let reading = true
    const reader = (async () => {
      while (reading) {
        await Promise.all([0, 3, 4].map(async (i) => {
          try {
            const r = await fetch(`${c.node(i).apiUrl}/vdi/rw/data?offset=0&length=${v3.length}`, { signal: AbortSignal.timeout(5000) })
            if (r.status !== 200) { note(`node ${i}: ${r.status} ${(await r.text()).slice(0, 80)}`); return }
            const got = Buffer.from(await r.arrayBuffer())
            answered.set(i, answered.get(i)! + 1)
            const old = staleObjects(got, [v1, v2, v3], 8192)
            if (old !== '') stale.push(`${new Date().toISOString()} via node ${i}: ${old}`)
          } catch (err) {
            note(`node ${i}: ${String((err as Error).message ?? err).slice(0, 80)}`)
          }
        }))
        await sleep(100)
      }
    })()
    try {
      await c.start(3)
      await c.start(4)
      await c.convergedAndChecked()
    } finally {
      reading = false
      await reader
    }
    // the check below means something only if the rejoining nodes (and node 0 meanwhile) answered reads
    const tally = JSON.stringify({ answered: Object.fromEntries(answered), otherwise: Object.fromEntries(otherwise) })
    for (const i of [0, 3, 4]) expect(answered.get(i), `reads of rw answered through node ${i} while nodes 3 and 4 rejoined: ${tally}`).toBeGreaterThan(0)
    await c.expectReadsEverywhere('rw', v3)
    expect.soft(stale, 'reads that returned stale objects (object index=version; 1 and 2 are the overwritten ones) while nodes 3 and 4 rejoined').toEqual([])
    // replicas agree and sit where placement says, for a few objects
    for (const index of [0, 13, 31]) {
      const loc = await c.json(['vdi', 'object', 'location', 'rw', '--index', String(index), '--node', '3'])
      expect(loc.holders.map((h: any) => h.peerId).sort(), `holders of rw object ${index}`).toEqual(loc.placement.slice().sort())
      expect(new Set(loc.holders.map((h: any) => `${h.version}/${h.checksum}`)).size, `versions of rw object ${index}`).toBe(1)
    }
    expect([...c.recoveryErrors].filter((e) => /\b(stale|newer)\b/i.test(e))).toEqual([])
    for (const [i, m] of await c.recoveryMetrics()) expect(m.raced_delete, `node ${i} raced_delete`).toBe(0)
  })

  it('1. a node stops, a VDI is deleted, the node restarts: nothing of it anywhere, nor after a node joins', async () => {
    const doomedVid = await c.createVdi('doomed1', '256K', '4K', 2)
    await c.createVdi('keep1', '256K', '4K', 2)
    const keep = randomBytes(256 * 1024)
    await c.write('doomed1', randomBytes(256 * 1024))
    await c.write('keep1', keep, 2)
    await c.wait()
    const x = pickNode(await c.countByNode(doomedVid), 'objects of doomed1')

    await c.stop(x)
    await c.wait()
    expect((await c.json(['vdi', 'delete', 'doomed1', '--node', '0'])).vdi.vid).toBe(doomedVid)
    await waitFor('the running nodes to purge doomed1', 60_000, async () => {
      const left = [...(await c.countByNode(doomedVid))].filter(([, n]) => n > 0)
      return left.length === 0 || `still held: ${JSON.stringify(left)}`
    })
    await outlastGossipCache(c.running().map((n) => n.apiUrl))
    await c.wait()

    let before = await c.totals()
    await c.start(x)
    await c.convergedAndChecked()
    await c.expectNothingOf(doomedVid, 'doomed1')
    expect(await c.appliedBySource(x), `delete records node ${x} applied since its restart, by source`).toEqual({ ae: 1, gossip: 0 })
    expect(await c.recoveredSince(before)).toEqual({ sum: 0, by: expect.anything() })

    // one more node joins: recovery runs everywhere again, and gives it its share of the live data only
    before = await c.totals()
    const j = await c.add()
    expect(j.index).toBe(5)
    await c.convergedAndChecked()
    await c.expectNothingOf(doomedVid, 'doomed1')
    await c.expectReadsEverywhere('keep1', keep)
    const joined = (await c.recoveryOf(j.index)).totals
    const held = (await c.objlist(j.index)).length
    expect(held, 'the joining node got a share of the live objects').toBeGreaterThan(0)
    // it started empty: everything it holds came through recovery, and recovery brought nothing else
    expect(joined.recovered, 'objects the joiner recovered vs objects it holds').toBe(held)
    expect(joined.racedDeletes).toBe(0)
    const moved = await c.recoveredSince(before)
    expect(moved.sum, `recovered by node: ${JSON.stringify(moved.by)}`).toBe(held)

    expect(c.errorsNaming(doomedVid), 'recovery errors about objects of the deleted doomed1').toEqual([])
    for (const [i, m] of await c.recoveryMetrics()) expect(m.raced_delete, `node ${i} raced_delete`).toBe(0)
  })
})

describe('a VDI deleted while a joining node recovers it (cluster B, 3+1 nodes)', { timeout: 300_000 }, () => {
  const c = new RecoveryCluster('recov-b', 3, '127.0.0.110', 2)
  beforeAll(async () => { await c.up() }, 200_000)
  afterAll(async () => { await c.down() }, 120_000)

  it('4. a node joins while a large VDI recovers onto it; the VDI is deleted mid-recovery: nothing of it remains', async () => {
    // 400 objects of 256 KiB, copies 2: the joiner's share is ~200 objects (50 MiB), several
    // seconds of recovery on two cores — long enough to delete while it is observably running
    const OBJECTS = 400
    const bigVid = await c.createVdi('big', `${OBJECTS * 256}K`, '256K', 2)
    await c.createVdi('small', '64K', '4K', 2)
    const small = randomBytes(64 * 1024)
    await c.write('big', randomBytes(OBJECTS * 256 * 1024))
    await c.write('small', small)
    await c.wait()

    const j = await c.add()
    let seen: Progress | undefined
    await waitFor('the joiner to be recovering big', 90_000, async () => {
      const p = (await c.recoveryOf(j.index)).progress
      seen = p
      return (p.running && p.recovered > 0) || `progress ${JSON.stringify(p)}`
    }, 100)
    // straight to the admin API (what `vdi delete` does), so the delete lands within milliseconds of
    // the observation rather than a CLI start later; `vdi delete` itself is covered by scenarios 1 and 3
    const token = (await readFile(join(c.dir, 'api.token'), 'utf8')).trim()
    const del = await fetch(`${c.node(0).apiUrl}/vdi/big`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
    expect(del.status).toBe(200)
    expect((await del.json()).vdi.vid).toBe(bigVid)
    const atDelete = (await c.recoveryOf(j.index)).totals.recovered

    await c.convergedAndChecked()
    await c.expectNothingOf(bigVid, 'big')
    await c.expectReadsEverywhere('small', small)
    const joined = (await c.recoveryOf(j.index)).totals
    // mid-recovery indeed: the joiner's share of big is ~OBJECTS·2/4 = 200 objects; it had recovered
    // `seen.recovered` when the delete was sent, and recovery stopped soon after
    expect(joined.recovered, `joiner recovered ${joined.recovered} objects in all (${seen!.recovered} before the delete, ${atDelete} right after)`).toBeLessThan(OBJECTS / 4)

    const metrics = await c.recoveryMetrics()
    const totals = await c.totals()
    const summary = JSON.stringify({ metrics: [...metrics], totals: [...totals], errors: [...c.recoveryErrors].slice(0, 10) })
    // no node failed in this scenario: a failed recovery could only be an object of the deleted VDI
    for (const [i, m] of metrics) expect.soft(m.failed, `node ${i}: bw_recovery_objects{result="failed"}; ${summary}`).toBe(0)
    expect.soft(c.errorsNaming(bigVid), `recovery errors about objects of the deleted big; ${summary}`).toEqual([])
  })
})
