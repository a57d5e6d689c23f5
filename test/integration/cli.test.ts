// The `bellwether` command end to end, as users run it: every step spawns
// `node bin/bellwether.js …` (which runs dist/, built by `npm test`'s pretest; after editing
// src run `npm run build` before `npx vitest run test/integration/cli.test.ts`), against a
// cluster of 5 real node processes started by `cluster up` on 127.0.0.150-154.
//
// Covers: VDI create/write/read/list and objlist across nodes; dog's exit codes for bad
// input; a SIGSTOPped node (chaos pause) that missed a delete and a discard purges after
// resume; a partitioned minority (chaos partition) purges after heal, through anti-entropy;
// `cluster wait` and `check` pass after each. afterAll always runs `cluster down --purge`
// and verifies that no node process is left. The cases share the cluster but make their own
// VDIs under their own names, so any one runs alone (`-t`).
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot, processState } from '../../src/cluster/launcher.js'
import { bw as cliBw, json as cliJson, ok as cliOk, show, waitFor, type CliOptions, type CliRun } from '../helpers/cli.js'
import { outlastGossipCache } from '../helpers/gossip.js'

const ROOT = packageRoot()
const BIN = join(ROOT, 'bin', 'bellwether.js')
const NODES = 5
const IP_BASE = '127.0.0.150'

let dir = ''
const launched: Array<{ pid: number; dataDir: string }> = []

// the shared CLI helpers, against this file's cluster
const bw = async (args: string[], opts?: CliOptions): Promise<CliRun> => await cliBw(dir, args, opts)
const ok = async (args: string[], opts?: CliOptions): Promise<CliRun> => await cliOk(dir, args, opts)
const json = async (args: string[]): Promise<any> => await cliJson(dir, args)

/** bits 32..55 of the 16-hex-digit oid (data and inode objects alike) */
const vidOf = (oid: string): string => oid.slice(2, 8)
/** a data object (bits 61..63 clear) of `vid` with index < `below` */
const isData = (oid: string, vid: string, below = Infinity): boolean =>
  oid.startsWith('00') && vidOf(oid) === vid && parseInt(oid.slice(8), 16) < below

async function objlist (node: number): Promise<string[]> {
  const o = await json(['objlist', '--node', String(node)])
  expect(o.node).toBe(node)
  expect(o.count).toBe(o.oids.length)
  return o.oids as string[]
}

/** every node's objlist, asked in parallel */
async function objlists (nodes: number[]): Promise<string[][]> {
  return await Promise.all(nodes.map(objlist))
}

async function makeVdi (name: string, via: number): Promise<{ vid: string; data: Buffer }> {
  const info = await json(['vdi', 'create', name, '256K', '--object-size', '4K', '--node', String(via)])
  expect(info).toMatchObject({ name, size: 256 * 1024, objectSize: 4096, copies: 3 })
  expect(info.vid).toMatch(/^[0-9a-f]{6}$/)
  const data = randomBytes(256 * 1024)
  const w = JSON.parse((await ok(['vdi', 'write', name, '0', '--node', String(via), '--json'], { stdin: data })).stdout)
  expect(w.written).toBe(data.length)
  return { vid: info.vid, data }
}

/** node i's admin API, from the cluster file */
function apiUrl (i: number): string {
  return JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')).nodes.find((n: any) => n.index === i).apiUrl
}

async function statusJson (): Promise<any[]> {
  return (await json(['cluster', 'status'])).nodes
}

/** `cluster wait` then `check`, both exit 0 */
async function convergedAndChecked (): Promise<void> {
  await ok(['cluster', 'wait', '--timeout', '90'])
  const args = ['check']
  const r = await bw(args)
  expect(r.code, show(args, r)).toBe(0)
  expect(r.stdout).toMatch(/: OK/)
}

describe('bellwether CLI against a 5-node process cluster', { timeout: 420_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it in pretest)')
    dir = await mkdtemp(join(tmpdir(), 'bw-cli-'))
    const args = ['cluster', 'up', '--enable-chaos', '--nodes', String(NODES), '--ip-base', IP_BASE, '--timeout', '120', '--json']
    const r = await bw(args)
    // whatever started must be found by afterAll, even if the cluster did not form
    try {
      const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
      for (const n of file.nodes) if (typeof n.pid === 'number') launched.push({ pid: n.pid, dataDir: n.dataDir })
    } catch {}
    expect(r.code, show(args, r)).toBe(0)
    expect(launched).toHaveLength(NODES)
  }, 200_000)

  afterAll(async () => {
    if (dir === '') return
    try {
      if (existsSync(join(dir, 'cluster.json'))) {
        const down = await bw(['cluster', 'down'])
        const after = await bw(['cluster', 'status', '--json'])
        await bw(['cluster', 'down', '--purge'])
        expect(down.code, show(['cluster', 'down'], down)).toBe(0)
        expect(after.code, show(['cluster', 'status', '--json'], after)).toBe(0)
        const nodes = JSON.parse(after.stdout).nodes as Array<{ index: number; running: boolean; pid: number | null }>
        expect(nodes.filter((n) => n.running || n.pid !== null)).toEqual([])
      }
    } finally {
      // last resort: nothing of ours may outlive the test, whatever failed above
      const left: number[] = []
      for (const p of launched) {
        if ((await processState(p.pid, p.dataDir)) === 'ours') {
          left.push(p.pid)
          try { process.kill(p.pid, 'SIGKILL') } catch {}
        }
      }
      await rm(dir, { recursive: true, force: true })
      expect(left, 'node processes left running after cluster down').toEqual([])
    }
  }, 120_000)

  it('creates a VDI, writes stdin through one node, reads it back through another; objlist and vdi list', async () => {
    const t1 = await makeVdi('t1', 0)
    const read = await ok(['vdi', 'read', 't1', '0', '256K', '--node', '3'])
    expect(read.out.length).toBe(t1.data.length)
    expect(read.out.equals(t1.data)).toBe(true)
    // an unaligned piece, through a third node
    const piece = await ok(['vdi', 'read', 't1', '5000', '10000', '--node', '4'])
    expect(piece.out.equals(t1.data.subarray(5000, 15000))).toBe(true)

    // every object of t1 on exactly `copies` nodes
    await waitFor('every object of t1 to have 3 replicas', 60_000, async () => {
      const holders = new Map<string, number>()
      for (const list of await objlists([0, 1, 2, 3, 4])) {
        for (const oid of list) if (isData(oid, t1.vid)) holders.set(oid, (holders.get(oid) ?? 0) + 1)
      }
      const bad = [...holders].filter(([, n]) => n !== 3)
      return (holders.size === 64 && bad.length === 0) || `${holders.size} objects, wrong replica counts: ${JSON.stringify(bad.slice(0, 5))}`
    })
    const only = await json(['objlist', '--node', '2', '--vdi', 't1'])
    expect(only).toMatchObject({ node: 2, vdi: 't1', vid: t1.vid })
    expect(only.oids.every((o: string) => vidOf(o) === t1.vid)).toBe(true)

    for (const via of [1, 4]) {
      const { vdis } = await json(['vdi', 'list', '--node', String(via)])
      expect(vdis.filter((v: any) => v.name === 't1')).toEqual([expect.objectContaining({ name: 't1', vid: t1.vid, size: 256 * 1024, copies: 3, objectSize: 4096, objects: 64 })])
    }
  })

  it('bad input: clear errors and dog exit codes, and nothing changes', async () => {
    const dup = await json(['vdi', 'create', 'dup', '64K', '--object-size', '4K'])
    const vdisBefore = (await json(['vdi', 'list'])).vdis
    const cases: Array<{ args: string[]; code: number; err: RegExp }> = [
      { args: ['vdi', 'delete', 'missing'], code: 5, err: /^bellwether: VDI 'missing' not found$/m },
      { args: ['vdi', 'create', 'dup', '256K', '--object-size', '4K'], code: 3, err: new RegExp(`^bellwether: VDI 'dup' already exists \\(vid ${parseInt(dup.vid, 16).toString(16)}\\)$`, 'm') },
      { args: ['chaos', 'partition', '--groups', '0,1/1,2'], code: 64, err: /node 1 is in group 1 and in group 2/ },
      { args: ['chaos', 'partition', '--groups', '0,1/2,3'], code: 64, err: /running node 4 is in no group/ },
      { args: ['chaos', 'partition', '--groups', '0,1,2/3,9'], code: 64, err: /no node 9 in the cluster/ },
      { args: ['chaos', 'partition', '--groups', '0,1,2,3,4'], code: 64, err: /at least two groups/ },
      { args: ['chaos', 'partition', '--groups', '0,x/1'], code: 64, err: /'x' in group 1 is not a node index/ },
      { args: ['chaos', 'partition', '--groups', '0,1,2/3,4', '--mode', 'netns'], code: 64, err: /--mode netns needs a cluster started with 'bellwether cluster up --netns'/ },
      { args: ['chaos', 'partition', '--groups', '0,1,2/3,4', '--shape', 'halves'], code: 64, err: /cannot be used with/ },
      { args: ['chaos', 'partition', '--shape', 'isolate', '--node', '9'], code: 64, err: /node 9 is not one of the nodes/ },
      { args: ['chaos', 'pause', '--node', '99'], code: 5, err: /no node 99 in the cluster/ }
    ]
    // all refused, so independent: ask at once (each CLI start costs about a second)
    const runs = await Promise.all(cases.map(async (c) => await bw(c.args)))
    for (const [k, c] of cases.entries()) {
      const r = runs[k]!
      expect(r.code, show(c.args, r)).toBe(c.code)
      expect(r.stderr, show(c.args, r)).toMatch(c.err)
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    }
    const r = await bw(['objlist', '--node', '99'])
    expect(r.code, show(['objlist', '--node', '99'], r)).toBe(5) // EXIT.NOT_FOUND, as dog answers an unknown node
    expect(r.stderr).toMatch(/no node 99 in the cluster \(nodes: 0, 1, 2, 3, 4\)/)

    // refused commands changed nothing
    const chaos = await json(['chaos', 'status'])
    expect(chaos.nodes.map((n: any) => [n.index, n.running, n.paused, n.partitionedFrom])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [i, true, false, []]))
    expect((await json(['vdi', 'list'])).vdis).toEqual(vdisBefore)
    expect(vdisBefore.filter((v: any) => v.name === 'dup')).toEqual([expect.objectContaining({ vid: dup.vid, size: 64 * 1024 })])
  })

  it('a SIGSTOPped node that missed a delete and a discard purges after resume', async () => {
    const p1 = await makeVdi('p1', 0)
    const p2 = await makeVdi('p2', 1)
    await ok(['cluster', 'wait', '--timeout', '90'])
    const before = await objlist(3)
    expect(before.filter((o) => vidOf(o) === p1.vid).length).toBeGreaterThan(0)
    expect(before.filter((o) => isData(o, p2.vid, 16)).length).toBeGreaterThan(0)

    expect(await json(['chaos', 'pause', '--node', '3'])).toMatchObject({ index: 3, result: 'paused' })
    try {
      const st = await json(['chaos', 'status'])
      expect(st.nodes[3]).toMatchObject({ index: 3, running: true, paused: true })
      expect((await json(['vdi', 'delete', 'p1', '--node', '0'])).vdi.vid).toBe(p1.vid)
      expect((await json(['vdi', 'discard', 'p2', '--objects', '0-15', '--node', '2'])).discarded).toBe(16)
      // the others purge at once
      await waitFor('the running nodes to purge', 60_000, async () => {
        const lists = await objlists([0, 1, 2, 4])
        for (const [k, list] of lists.entries()) {
          const left = list.filter((o) => vidOf(o) === p1.vid || isData(o, p2.vid, 16))
          if (left.length > 0) return `node ${[0, 1, 2, 4][k]} still holds ${left.join(', ')}`
        }
        return true
      })
      // (no waiting out gossip caches here: what was sent to node 3 while it is stopped sits in its
      // sockets and is read on resume, so gossip or anti-entropy may carry the records; the claim is the purge)
      // cluster status does not hang on a paused node
      const paused = (await statusJson())[3]
      expect(paused).toMatchObject({ index: 3, running: true, paused: true, reachable: false })
    } finally {
      const r = await bw(['chaos', 'resume', '--node', '3', '--json'])
      expect(r.code, show(['chaos', 'resume', '--node', '3'], r)).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ index: 3, result: 'resumed' })
    }

    await convergedAndChecked()
    const after = await objlist(3)
    expect(after.filter((o) => vidOf(o) === p1.vid)).toEqual([])
    expect(after.filter((o) => isData(o, p2.vid, 16))).toEqual([])
    // the rest of p2 is still there, and readable through the node that was paused
    const r = await ok(['vdi', 'read', 'p2', '64K', '192K', '--node', '3'])
    expect(r.out.equals(p2.data.subarray(64 * 1024))).toBe(true)
    const names = (await json(['vdi', 'list', '--node', '3'])).vdis.map((v: any) => v.name)
    expect(names).toContain('p2')
    expect(names).not.toContain('p1')
  })

  it('a partitioned minority purges a delete it missed after heal, through anti-entropy', async () => {
    const t3 = await makeVdi('t3', 0)
    await ok(['cluster', 'wait', '--timeout', '90'])
    const minority = [3, 4]
    const majority = [0, 1, 2]
    const held = async (i: number): Promise<number> => (await objlist(i)).filter((o) => vidOf(o) === t3.vid).length
    expect((await held(3)) + (await held(4))).toBeGreaterThan(0)
    const learnedBefore = (await statusJson()).map((n) => n.ae.recordsLearned as number)

    const part = await json(['chaos', 'partition', '--groups', '0,1,2/3,4'])
    try {
      expect(part).toMatchObject({ mode: 'app', groups: [[0, 1, 2], [3, 4]], ok: true })
      expect(part.nodes.map((n: any) => [n.index, n.partitionedFrom])).toEqual(
        [[0, [3, 4]], [1, [3, 4]], [2, [3, 4]], [3, [0, 1, 2]], [4, [0, 1, 2]]])
      const cs = await json(['chaos', 'status'])
      expect(cs.nodes.map((n: any) => n.partitionedFrom)).toEqual([[3, 4], [3, 4], [3, 4], [0, 1, 2], [0, 1, 2]])
      const peerIds = (await statusJson()).map((n) => n.peerId as string)
      await waitFor('both sides to see the split', 60_000, async () => {
        const nodes = await statusJson()
        const sizes = nodes.map((n) => n.members?.length)
        return (majority.every((i) => sizes[i] === 3) && minority.every((i) => sizes[i] === 2)) || `member counts ${JSON.stringify(sizes)}`
      })
      const st = await statusJson()
      expect(st[3].partitioned.slice().sort()).toEqual(majority.map((i) => peerIds[i]).sort())
      expect(st[0].partitionedFrom).toEqual([3, 4])

      await ok(['vdi', 'delete', 't3', '--node', '0'])
      await waitFor('the majority to purge t3', 60_000, async () => {
        const n = await Promise.all(majority.map(held))
        return n.every((x) => x === 0) || `nodes ${majority.join(', ')} hold ${n.join(', ')} objects of t3`
      })
      // the majority holds the record: once each of its nodes has run past its gossip cache, the
      // minority can learn it only through anti-entropy after the heal
      await outlastGossipCache(majority.map(apiUrl))
      // the minority never heard of it
      expect((await held(3)) + (await held(4))).toBeGreaterThan(0)
    } finally {
      const r = await bw(['chaos', 'heal', '--json'])
      expect(r.code, show(['chaos', 'heal'], r)).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true })
    }

    await convergedAndChecked()
    for (const i of minority) expect(await held(i)).toBe(0)
    const nodes = await statusJson()
    expect(nodes.map((n) => n.agrees)).toEqual([true, true, true, true, true])
    expect(nodes.map((n) => n.partitioned)).toEqual([[], [], [], [], []])
    for (const n of nodes) {
      expect(n.gc).toEqual({ ack: expect.stringMatching(/^[0-9a-f]{16}$/), horizon: expect.stringMatching(/^[0-9a-f]{16}$/), floor: expect.any(Number), floorHash: expect.stringMatching(/^[0-9a-f]+$/) })
      expect(n.ae).toMatchObject({ active: expect.any(Number), completed: expect.any(Number), failed: expect.any(Number), recordsLearned: expect.any(Number) })
    }
    const gained = minority.map((i) => (nodes[i].ae.recordsLearned as number) - learnedBefore[i]!)
    for (const [k, i] of minority.entries()) expect(gained[k], `records node ${i} learned through anti-entropy since the partition (nodes 3, 4: ${gained.join(', ')})`).toBeGreaterThan(0)
    expect((await json(['chaos', 'status'])).nodes.map((n: any) => n.partitionedFrom)).toEqual([[], [], [], [], []])
    // the table form lists every node and agrees
    const table = await ok(['cluster', 'status'])
    const rows = table.stdout.trim().split('\n')
    expect(rows[0]).toMatch(/^NODE\s+PEER\s+PID\s+STATE\s+EPOCH\s+MEMBERS\s+OBJECTS\s+LOG\s+GC\s+FLOOR\s+AE OK\/ERR\s+LEARNED\s+AGREE$/)
    expect(rows.slice(1).map((l) => l.trim().split(/\s+/).at(-1))).toEqual(['yes', 'yes', 'yes', 'yes', 'yes'])
    for (const l of rows) expect(l.length).toBeLessThanOrEqual(120)
  })

  it('a restarted node serves client I/O only once it has joined: `cluster start` returns joined, and a node whose peers are unreachable answers 503 until the join timeout', async () => {
    const t5 = await makeVdi('t5', 0)
    await ok(['cluster', 'stop', '--node', '2'])
    const started = await json(['cluster', 'start', '--node', '2'])
    const s2 = (await statusJson()).find((n: any) => n.index === 2)
    expect(s2.running).toBe(true)
    const direct = await (await fetch(`${started.apiUrl}/status`)).json() as any
    expect(direct.joined, 'node 2 right after `cluster start` returned').toBe(true)
    expect(direct.members).toHaveLength(NODES)
    expect((await ok(['vdi', 'read', 't5', '0', '256K', '--node', '2'])).out.equals(t5.data)).toBe(true)

    // a lone node pointed at a peer that does not exist: never stale, never one-copy writes while it waits
    const dataDir = join(dir, 'lonely')
    const api = '127.0.0.159:7102'
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--data', dataDir, '--listen', '127.0.0.159:7101', '--api', api,
      '--open-network', '--log-level', 'warn', '--bootstrap', '/ip4/127.0.0.158/tcp/7101/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'], { stdio: 'ignore' })
    launched.push({ pid: child.pid!, dataDir })
    try {
      let refused: any
      await waitFor('the lone node to answer', 60_000, async () => {
        try {
          const r = await fetch(`http://${api}/vdi`, { method: 'POST', body: JSON.stringify({ name: 'lone', size: 4096 }), headers: { 'content-type': 'application/json' } })
          refused = { status: r.status, body: await r.json() }
          return true
        } catch { return false }
      })
      expect(refused.status).toBe(503)
      expect(refused.body).toMatchObject({ code: 'UNAVAILABLE', error: expect.stringMatching(/joining the cluster/) })
      expect(((await (await fetch(`http://${api}/status`)).json()) as any).joined).toBe(false)
      // nothing was created while it refused; after the timeout it serves alone, as the warning in its log says
      await waitFor('the lone node to give up waiting and serve', 60_000, async () => ((await (await fetch(`http://${api}/status`)).json()) as any).joined === true)
      const list = await (await fetch(`http://${api}/vdi`)).json() as any
      expect(list.vdis).toEqual([])
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })
})
