// The chaos workload, sampler and history checker against a real 3-node process cluster
// (`cluster up` on 127.0.0.170-172, through the CLI, which runs dist/: `npm run build` first).
//   1. workload + sampler with no faults until the history holds a non-trivial number of
//      acknowledged creates/writes/reads/discards/deletes (however long that takes: the rate
//      is a figure for `npm run bench -- --only workload`), then until a sample round shows
//      every delete purged everywhere: `check --history` reports zero everywhere;
//   2. a malformed history file is a clear error (exit 64) naming the line;
//   3. a planted revival: the file of an object of an acknowledged-deleted VDI is copied back
//      into a running node's obj/ dir: `check --history` fails and names it (revived, unpurged,
//      stale cache on that node); removing the file makes it pass again;
//   4. a planted loss: an acknowledged object's file is removed from every node while they are
//      stopped: `check --history` fails with it lost and falsely purged, while the end-state
//      check alone passes (it cannot know what should be there).
// afterAll runs `cluster down --purge` and verifies that no node process is left.
// The workload seed is printed; set BW_SEED to replay one. The cases share the cluster, not
// their state: each has its own VDI names and history file, puts back what it planted, and
// waits on what the sampler recorded instead of sleeping, so `-t` can run any one alone.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { processState, packageRoot } from '../../src/cluster/launcher.js'
import { readClusterFile, type ClusterFile } from '../../src/cluster/clusterFile.js'
import { HistoryWriter } from '../../src/chaos/historyWriter.js'
import { contentDigest, type HistoryEvent, type HistorySink, type OpEvent, type OpF, type SampleEvent } from '../../src/chaos/history.js'
import { DeleteTracker, RunningNodes } from '../../src/chaos/runState.js'
import { runSampler } from '../../src/chaos/sampler.js'
import { runWorkload } from '../../src/chaos/workload.js'
import { writeContent } from '../../src/chaos/workloadConfig.js'
import { ApiClient } from '../../src/api/client.js'
import { formatOid, parseVid, vidToDataOid } from '../../src/oid.js'
import { bw as cliBw, waitFor, type CliRun } from '../helpers/cli.js'

const ROOT = packageRoot()
const NODES = 3
const IP_BASE = '127.0.0.170'
const OBJ = 4096
const SEED = process.env.BW_SEED !== undefined ? BigInt(process.env.BW_SEED) : BigInt(Date.now() % 1_000_000_007)

let dir = ''
let hdir = ''
const launched = new Map<number, string>() // pid → data dir

/** the shared CLI runner (test/helpers/cli.ts), against this file's cluster */
const bw = async (args: string[]): Promise<CliRun> => await cliBw(dir, args)

/** not the shared show(): the seed comes first (to replay a failure), and more of stdout (a `check --history` report is long) */
function show (args: string[], r: CliRun): string {
  return `seed=${SEED}: bellwether ${args.join(' ')} → exit ${r.code}\nstdout: ${r.stdout.slice(0, 6000)}\nstderr: ${r.stderr.slice(0, 3000)}`
}

async function ok (args: string[]): Promise<CliRun> {
  const r = await bw(args)
  expect(r.code, show(args, r)).toBe(0)
  return r
}

/** `check --history FILE --json`, expecting `code`; the parsed answer */
async function checkHistory (path: string, code: number): Promise<any> {
  const args = ['check', '--history', path, '--json']
  const r = await bw(args)
  expect(r.code, show(args, r)).toBe(code)
  return JSON.parse(r.stdout)
}

async function cluster (): Promise<ClusterFile> {
  const f = await readClusterFile(dir)
  if (f === undefined) throw new Error('no cluster file')
  for (const n of f.nodes) if (n.pid !== null) launched.set(n.pid, n.dataDir)
  return f
}

/** a history file that also keeps, for the test to wait on, its sample rounds and acknowledged ops per kind */
interface Observed extends HistorySink {
  samples: SampleEvent[]
  ok: Record<OpF, number>
  /**
   * Objects the final check will judge, counted low: an acknowledged write invoked after every
   * discard of the object completed, on a VDI whose create was acknowledged and on which no
   * delete was invoked. A run stopped while deletes had caught up with creates leaves too few
   * to judge, whatever the system did.
   */
  judgeable: () => number
  close: () => Promise<void>
}

/** what the test saw of one VDI, for Observed.judgeable */
interface VdiSeen {
  created: boolean
  deleted: boolean
  /** index → when its last discard completed (Infinity while one is in flight) */
  discardedAt: Map<number, number>
  /** index → discards of it in flight */
  discarding: Map<number, number>
  /** indexes with a write acknowledged that the check will consider */
  acked: Set<number>
}

function observed (path: string): Observed {
  const w = HistoryWriter.open(path)
  const invokedAt = new Map<number, number>()
  /** discards in flight: op id → the object indexes */
  const discarding = new Map<number, number[]>()
  const vdis = new Map<string, VdiSeen>()
  const vdi = (name: string): VdiSeen => {
    let v = vdis.get(name)
    if (v === undefined) vdis.set(name, (v = { created: false, deleted: false, discardedAt: new Map(), discarding: new Map(), acked: new Set() }))
    return v
  }
  const o: Observed = {
    samples: [],
    ok: { create: 0, write: 0, read: 0, discard: 0, delete: 0 },
    judgeable: () => [...vdis.values()].reduce((n, v) => n + (v.created && !v.deleted ? v.acked.size : 0), 0),
    now: () => w.now(),
    append (e: HistoryEvent): void {
      w.append(e)
      if (e.type === 'sample') { o.samples.push(e); return }
      if (e.type === 'invoke') {
        invokedAt.set(e.id, e.time)
        if (e.f === 'delete') vdi(e.vdi).deleted = true
        if (e.f === 'discard') {
          discarding.set(e.id, e.indexes ?? [])
          const v = vdi(e.vdi)
          for (const i of e.indexes ?? []) {
            v.discarding.set(i, (v.discarding.get(i) ?? 0) + 1)
            v.discardedAt.set(i, Infinity)
            v.acked.delete(i)
          }
        }
        return
      }
      if (e.type !== 'ok' && e.type !== 'fail' && e.type !== 'info') return
      // a discard's completion (ok, fail or info): writes count only if invoked after the last one
      for (const i of discarding.get(e.id) ?? []) {
        const v = vdi(e.vdi)
        const left = (v.discarding.get(i) ?? 1) - 1
        v.discarding.set(i, left)
        if (left === 0) v.discardedAt.set(i, e.time)
      }
      discarding.delete(e.id)
      if (e.type === 'ok') {
        o.ok[e.f]++
        if (e.f === 'create') vdi(e.vdi).created = true
        const at = invokedAt.get(e.id)
        if (e.f === 'write' && e.index !== undefined && at !== undefined && at > (vdi(e.vdi).discardedAt.get(e.index) ?? -1)) vdi(e.vdi).acked.add(e.index)
      }
    },
    close: async () => { await w.close() }
  }
  return o
}

/**
 * Waits for a sample round that began after now (the round in progress may have begun before)
 * in which `node` (every node when undefined) answered and `ok` holds for its answer.
 */
async function sampledAfterNow (h: Observed, what: string, ok: (n: SampleEvent['nodes'][number]) => boolean, node?: number): Promise<void> {
  const from = h.samples.length + 1
  await waitFor(what, 60_000, async () => {
    const later = h.samples.slice(from)
    if (later.some((s) => s.nodes.filter((n) => node === undefined || n.node === node).every((n) => n.error === undefined && n.down !== true && ok(n)))) return true
    const last = h.samples.at(-1)
    return `${later.length} rounds since; the last: ${JSON.stringify(last?.nodes.map((n) => ({ node: n.node, error: n.error, down: n.down, heldCount: n.heldCount })))}`
  }, 100)
}

/**
 * One operation by the test itself, recorded exactly as the workload records one: invoke, then
 * ok with what the node answered (any failure fails the test, so there is no fail/info here).
 */
let opId = 0
async function recorded (h: HistorySink, ev: { f: OpF; node: number; vdi: string } & Partial<OpEvent>, fn: () => Promise<Partial<OpEvent>>): Promise<Partial<OpEvent>> {
  const id = opId++
  h.append({ ...ev, id, process: 0, type: 'invoke', time: h.now() } as OpEvent)
  const extra = await fn()
  h.append({ ...ev, ...extra, id, process: 0, type: 'ok', time: h.now() } as OpEvent)
  return extra
}

/** create a 4-object VDI through node `via`, write objects 0 and 1, all recorded; its vid and generation */
async function makeVdi (h: HistorySink, file: ClusterFile, name: string, via: number): Promise<{ vid: string; generation: number }> {
  const node = file.nodes[via]!
  const made = await recorded(h, { f: 'create', node: via, vdi: name, size: 4 * OBJ, objectSize: OBJ, copies: 3 }, async () => {
    const r = await new ApiClient(node.apiUrl, 10_000).createVdi({ name, size: 4 * OBJ, objectSize: OBJ, copies: 3 })
    return { vid: r.vid, generation: r.generation }
  })
  const id = { vid: made.vid!, generation: made.generation! }
  for (const index of [0, 1]) {
    const data = writeContent('plant', opId, OBJ)
    await recorded(h, { f: 'write', node: via, vdi: name, ...id, index, value: contentDigest(data) }, async () => {
      await new ApiClient(node.apiUrl, { timeoutMs: 10_000, dataTimeoutMs: 10_000 }).writeData(name, index * OBJ, data)
      return {}
    })
  }
  return id
}

describe('chaos workload + history checker against a 3-node process cluster', { timeout: 420_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build`')
    dir = await mkdtemp(join(tmpdir(), 'bw-wl-'))
    hdir = await mkdtemp(join(tmpdir(), 'bw-wl-hist-'))
    const args = ['cluster', 'up', '--enable-chaos', '--nodes', String(NODES), '--ip-base', IP_BASE, '--timeout', '120', '--json']
    const r = await bw(args)
    try { await cluster() } catch {}
    expect(r.code, show(args, r)).toBe(0)
    expect(launched.size).toBe(NODES)
    console.log(`workload seed=${SEED}`)
  }, 200_000)

  afterAll(async () => {
    if (dir === '') return
    try {
      if (existsSync(join(dir, 'cluster.json'))) {
        try { await cluster() } catch {}
        const down = await bw(['cluster', 'down'])
        const after = await bw(['cluster', 'status', '--json'])
        await bw(['cluster', 'down', '--purge'])
        expect(down.code, show(['cluster', 'down'], down)).toBe(0)
        expect(after.code, show(['cluster', 'status', '--json'], after)).toBe(0)
        const nodes = JSON.parse(after.stdout).nodes as Array<{ running: boolean; pid: number | null }>
        expect(nodes.filter((n) => n.running || n.pid !== null)).toEqual([])
      }
    } finally {
      const left: number[] = []
      for (const [pid, dataDir] of launched) {
        if ((await processState(pid, dataDir)) === 'ours') {
          left.push(pid)
          try { process.kill(pid, 'SIGKILL') } catch {}
        }
      }
      await rm(dir, { recursive: true, force: true })
      await rm(hdir, { recursive: true, force: true })
      expect(left, 'node processes left running after cluster down').toEqual([])
    }
  }, 120_000)

  it('workload with no faults until every kind of operation was acknowledged: check --history reports zero everywhere', async () => {
    const file = await cluster()
    const path = join(hdir, 'clean.jsonl')
    const history = observed(path)
    const tracker = new DeleteTracker()
    const nodes = new RunningNodes(file, { dir })
    const stopSampler = new AbortController()
    const stopWorkload = new AbortController()
    const sampler = runSampler({ file, history, tracker, nodes, signal: stopSampler.signal, intervalMs: 500 })
    const workload = runWorkload({
      // the duration only caps a run that never gets there (the wait below then fails first)
      file,
      history,
      tracker,
      nodes,
      seed: SEED,
      durationMs: 300_000,
      signal: stopWorkload.signal,
      concurrency: 4,
      objectSize: OBJ,
      rates: { create: 1, write: 8, read: 5, discard: 1.5, delete: 1.5 },
      // racing writes to one object stay on: this workload found replicas left at different
      // versions when the version check ran outside the store's per-object lock
      sameObjectWrites: true
    })
    const want: Record<OpF, number> = { create: 3, write: 20, read: 10, discard: 1, delete: 2 }
    try {
      // and enough objects left to judge: ops stop being invoked once this holds, and none in flight can lower the count
      await waitFor('the workload to have every kind of operation acknowledged', 240_000, async () =>
        ((Object.keys(want) as OpF[]).every((f) => history.ok[f] >= want[f]) && history.judgeable() >= 3) ||
        `acknowledged ${JSON.stringify(history.ok)}, want ${JSON.stringify(want)}; objects to judge ${history.judgeable()}, want 3`)
    } finally {
      stopWorkload.abort()
    }
    const stats = await workload
    // the last deletes seen purged: a round begun after the workload ended, every node holding none
    try {
      await sampledAfterNow(history, 'a sample round with every acknowledged delete purged on every node', (n) => n.heldCount === 0)
    } finally {
      stopSampler.abort()
    }
    const sampled = await sampler
    await history.close()
    console.log(`seed=${SEED} workload`, JSON.stringify(stats), 'sampler', JSON.stringify(sampled))
    expect(sampled.rounds).toBe(history.samples.length)

    await ok(['cluster', 'wait', '--timeout', '90'])
    const j = await checkHistory(path, 0)
    const why = `seed=${SEED} ${JSON.stringify({ counts: j.history.counts, ops: j.history.ops, checked: j.history.checked, notes: j.history.notes })}`
    expect(j.ok, why).toBe(true)
    expect(j.check.ok, why).toBe(true)
    expect(j.history.counts, why).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    const ops = j.history.ops
    // the checker read from the file what the workload was seen to do
    for (const f of Object.keys(want) as OpF[]) expect(ops[f].ok, `${f} ${why}`).toBe(history.ok[f])
    expect(j.history.checked.objects, why).toBeGreaterThanOrEqual(3)
    expect(j.history.checked.nodesAnswered).toBe(NODES)
    // acknowledged deletes were seen purged (the last round showed none held), none seen never purged
    expect(j.history.purgeLatency, why).toMatchObject({ notPurged: 0 })
    expect(j.history.purgeLatency.count, why).toBeGreaterThanOrEqual(want.delete)
    expect(j.history.reads.unexpected, why).toBe(0)

    // the table form says the same
    const text = await ok(['check', '--history', path])
    expect(text.stdout).toMatch(/history: lost 0, revived 0, unpurged 0, stale 0, falsely purged 0: OK/)
    expect(text.stdout).toMatch(/check: 3 nodes .*: OK/)
  })

  it('a malformed history file is a clear error naming the line, before any node is asked', async () => {
    const bad = join(hdir, 'bad.jsonl')
    await writeFile(bad, '{"type":"meta","time":0,"format":1}\n{"type":"invoke","id":0,"process":0,"f":"write","node":0,"vdi":"x","time":1}\n')
    let r = await bw(['check', '--history', bad])
    expect(r.code, show(['check', '--history', bad], r)).toBe(64)
    expect(r.stderr).toMatch(/bad history: .*bad\.jsonl: line 2: write without index/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    r = await bw(['check', '--history', join(hdir, 'missing.jsonl')])
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/cannot read history .*missing\.jsonl: no such file/)
  })

  it('an object of a deleted VDI copied back onto a running node: revived, unpurged and a stale cache', async () => {
    const file = await cluster()
    const path = join(hdir, 'revived.jsonl')
    const history = observed(path)
    const tracker = new DeleteTracker()
    const stop = new AbortController()
    const sampler = runSampler({ file, history, tracker, nodes: new RunningNodes(file, { dir }), signal: stop.signal, intervalMs: 300 })
    const { vid, generation } = await makeVdi(history, file, 'planted', 0)
    const oid = formatOid(vidToDataOid(parseVid(vid), 0))
    const objFile = join(file.nodes[1]!.dataDir, 'obj', oid)
    expect(existsSync(objFile), `${objFile} (copies 3 on 3 nodes)`).toBe(true)
    const saved = readFileSync(objFile)

    const deleted = await recorded(history, { f: 'delete', node: 2, vdi: 'planted' }, async () => {
      const r = await new ApiClient(file.nodes[2]!.apiUrl, 10_000).deleteVdi('planted')
      return { vid: r.vdi.vid, generation: r.vdi.generation }
    })
    tracker.vdiDeleted(parseVid(vid), generation, history.now())
    expect(deleted).toEqual({ vid, generation })
    await waitFor('node 1 to purge the VDI', 30_000, async () => !existsSync(objFile), 250)
    let planted = false
    try {
      // the history must show node 1 without it before it comes back
      await sampledAfterNow(history, 'a sample of node 1 without the deleted object', (n) => n.heldCount === 0, 1)
      writeFileSync(objFile, saved) // behind the node's back: on disk, not in its cache
      planted = true
      await sampledAfterNow(history, 'a sample of node 1 after the plant', () => true, 1)
    } finally {
      stop.abort()
      await sampler
      await history.close()
      // whatever happens below, the planted file must not outlive this case
      if (planted) onTestFinished(() => { if (existsSync(objFile)) unlinkSync(objFile) })
    }

    const j = await checkHistory(path, 1)
    const why = JSON.stringify(j.history, null, 1).slice(0, 4000)
    expect(j.ok).toBe(false)
    expect(j.history.counts, why).toMatchObject({ lost: 0, revived: 1, unpurged: 1, stale: 1, falselyPurged: 0 })
    expect(j.history.revived, why).toEqual([expect.objectContaining({ oid, node: 1, vdi: 'planted' })])
    expect(j.history.unpurged, why).toEqual([expect.objectContaining({ oid, node: 1, detail: expect.stringMatching(/node 1 \(disk\)/) })])
    expect(j.history.stale, why).toEqual([expect.objectContaining({ oid, node: 1, detail: expect.stringMatching(/on disk, not in the object list cache/) })])
    // the end-state check sees the disk-only, tombstoned file too
    expect(j.check.ok).toBe(false)

    unlinkSync(objFile)
    const again = await checkHistory(path, 0)
    expect(again.history.counts).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
  })

  it('an acknowledged object removed from every node while stopped: lost and falsely purged (the end-state check alone passes)', async () => {
    let file = await cluster()
    const path = join(hdir, 'lost.jsonl')
    const history = observed(path)
    const { vid } = await makeVdi(history, file, 'lost-one', 1)
    await history.close()
    const oid = formatOid(vidToDataOid(parseVid(vid), 1))
    const files = file.nodes.map((n) => join(n.dataDir, 'obj', oid))
    for (const f of files) expect(existsSync(f), f).toBe(true)
    expect((await checkHistory(path, 0)).history.counts.lost).toBe(0)

    // all nodes down before any file goes, so no replica can be recovered from a live node;
    // and all up again whatever fails, so the other cases still have their cluster
    const stopped: number[] = []
    try {
      for (const n of file.nodes) {
        stopped.push(n.index)
        await ok(['cluster', 'stop', '--node', String(n.index)])
      }
      for (const f of files) unlinkSync(f)
    } finally {
      for (const i of stopped) await ok(['cluster', 'start', '--node', String(i)])
    }
    file = await cluster()
    await ok(['cluster', 'wait', '--timeout', '90'])

    const j = await checkHistory(path, 1)
    const why = JSON.stringify(j.history, null, 1).slice(0, 4000)
    expect(j.history.counts, why).toEqual({ lost: 1, revived: 0, unpurged: 0, stale: 0, falselyPurged: 1 })
    expect(j.history.lost, why).toEqual([expect.objectContaining({ oid, vdi: 'lost-one', detail: expect.stringMatching(/zeros|unreadable/) })])
    expect(j.history.falselyPurged, why).toEqual([expect.objectContaining({ oid })])
    expect(j.check.ok, 'the end-state check cannot see a loss').toBe(true)
    await ok(['check'])
  })
})
