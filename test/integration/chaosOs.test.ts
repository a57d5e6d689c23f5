// OS-level faults end to end, as root: real node processes started by `cluster up`, cut by
// real nftables rules (`chaos partition --mode os` between loopback addresses 127.0.0.200-204,
// `--mode netns` inside network namespaces), healed, and cleaned up by `cluster down`. Every
// step spawns `node bin/bellwether.js …` (dist/: run `npm run build` after editing src).
//
// What must hold: the table really exists and really splits the cluster (each side's
// membership shrinks to that side), a delete on the majority side reaches the minority only
// after heal (while cut, no minority node has it in its delete log), heal removes
// every table, and `cluster down --purge` leaves no table, namespace, veth or process of ours
// behind. Needs root and nft (and ip, for namespaces): outside CI a missing one skips those
// tests, saying why; under CI=true it fails the run.
//
// Each case works on its own VDI name and starts from whatever partition state the cluster
// is in (it sets its own), so `-t` can run any one of them; the cluster is shared (beforeAll).
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTool, runTool } from '../../src/cluster/exec.js'
import { clusterTableName, listOurTables, lossTableName, parseTableJson, tableDrops } from '../../src/chaos/nft.js'
import { hostIfName, listNamespaces, netnsIdOf, pidsIn } from '../../src/chaos/netns.js'
import { packageRoot, processState } from '../../src/cluster/launcher.js'
import { clusterSecrets } from '../../src/cluster/secrets.js'
import { bw, json, ok, show, waitFor as waitUntil } from '../helpers/cli.js'
import { prerequisite } from '../helpers/prereq.js'

const ROOT = packageRoot()
/** membership drops a peer after ≈ 10 s of missed pings; leave room on a busy 2-core machine */
const SPLIT_WAIT_MS = 90_000

function skipReason (needIp: boolean): string | null {
  if (process.platform !== 'linux') return 'OS-level faults need Linux'
  if (process.getuid?.() !== 0) return 'not root (nftables and network namespaces need root)'
  if (findTool('nft') === null) return 'nft (nftables) is not installed'
  if (needIp && findTool('ip') === null) return 'ip (iproute2) is not installed'
  return null
}
const SKIP_OS = prerequisite('chaosOs.test.ts', 'the os-mode tests (root, nft)', skipReason(false))
const SKIP_NETNS = prerequisite('chaosOs.test.ts', 'the netns-mode tests (root, nft, ip)', skipReason(true))

/** these tests poll once a second */
const waitFor = async (what: string, timeoutMs: number, cond: () => Promise<boolean | string>): Promise<void> => await waitUntil(what, timeoutMs, cond, 1000)

/** the table as the kernel has it, or null */
async function nftTable (name: string, netns?: string): Promise<ReturnType<typeof parseTableJson>> {
  const args = ['-j', 'list', 'table', 'inet', name]
  const r = netns === undefined ? await runTool('nft', args) : await runTool('ip', ['netns', 'exec', netns, findTool('nft')!, ...args])
  if (r.code !== 0) {
    expect(r.stderr).toMatch(/No such file or directory/)
    return null
  }
  return parseTableJson(r.stdout)
}

const vidOf = (oid: string): string => oid.slice(2, 8)

async function held (dir: string, node: number, vid: string): Promise<number> {
  const o = await json(dir, ['objlist', '--node', String(node)])
  return (o.oids as string[]).filter((x) => vidOf(x) === vid).length
}

async function memberCounts (dir: string): Promise<Array<number | undefined>> {
  return (await json(dir, ['cluster', 'status'])).nodes.map((n: any) => n.members?.length as number | undefined)
}

/** whether node `i` knows of a delete of `vid`: a record in its delete log, or a GC floor entry it was folded into */
async function knowsDelete (dir: string, i: number, vid: string): Promise<boolean> {
  const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
  // nodes in namespaces listen off loopback, where every call needs the cluster's token
  const token = readFileSync(clusterSecrets(dir).apiTokenFile, 'utf8').trim()
  const res = await fetch(`${file.nodes[i].apiUrl as string}/deletes`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status, `GET /deletes on node ${i}`).toBe(200)
  const d = await res.json() as { records: Array<{ vid: string }>, floor: Array<[number, number]> }
  return d.records.some((r) => r.vid === vid) || d.floor.some(([v]) => v === parseInt(vid, 16))
}

/**
 * After a delete of `vid` on one side of a cut: every node of that side knows of it, no node
 * of the other side does. The proof that the cut held for the delete's gossip, with no wait for
 * a gossip cache to expire: a delivered record would be in the log.
 */
async function onlySideKnows (dir: string, vid: string, heard: number[], cut: number[]): Promise<void> {
  for (const i of heard) expect(await knowsDelete(dir, i, vid), `node ${i} knows of the delete of ${vid}`).toBe(true)
  for (const i of cut) expect(await knowsDelete(dir, i, vid), `node ${i} is cut off: it must not know of the delete of ${vid}`).toBe(false)
}

/** no partition (in-node or OS) and no loss: what every case starts from */
async function healed (dir: string): Promise<void> {
  const r = await bw(dir, ['chaos', 'heal', '--json'])
  expect(r.code, show(['chaos', 'heal'], r)).toBe(0)
  expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, errors: [] })
}

async function makeVdi (dir: string, name: string, via: number): Promise<string> {
  const info = await json(dir, ['vdi', 'create', name, '256K', '--object-size', '4K', '--node', String(via)])
  const data = randomBytes(256 * 1024)
  const w = JSON.parse((await ok(dir, ['vdi', 'write', name, '0', '--node', String(via), '--json'], { stdin: data })).stdout)
  expect(w.written).toBe(data.length)
  return info.vid as string
}

async function convergedAndChecked (dir: string): Promise<void> {
  const w = await bw(dir, ['cluster', 'wait', '--timeout', '120'])
  if (w.code !== 0) {
    // say why before failing: which node is busy with what, and the end of its log
    const st = await bw(dir, ['cluster', 'status', '--json'])
    let detail = st.stdout
    try {
      detail = JSON.stringify(JSON.parse(st.stdout).nodes.map((n: any) => ({ index: n.index, busy: n.busy, epoch: n.epoch, members: n.members?.length, recovery: n.recovery, ae: n.ae })), null, 1)
      const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
      for (const n of file.nodes) detail += `\n--- ${n.logFile} (tail)\n` + readFileSync(n.logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n')
    } catch {}
    expect(w.code, `${show(['cluster', 'wait'], w)}\n${detail}`).toBe(0)
  }
  const r = await bw(dir, ['check'])
  expect(r.code, show(['check'], r)).toBe(0)
  expect(r.stdout).toMatch(/: OK/)
}

/** pids from the cluster file, so the last-resort cleanup can find them even if `up` failed */
function recordPids (dir: string, into: Array<{ pid: number; dataDir: string }>): void {
  try {
    const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
    for (const n of file.nodes) {
      if (typeof n.pid === 'number' && !into.some((x) => x.pid === n.pid)) into.push({ pid: n.pid, dataDir: n.dataDir })
    }
  } catch {}
}

/** `cluster down --purge`, then assert nothing of this cluster is left; kills leftovers whatever happens */
async function downAndAssertClean (dir: string, launched: Array<{ pid: number; dataDir: string }>, extra: () => Promise<void>): Promise<void> {
  try {
    if (existsSync(join(dir, 'cluster.json'))) {
      recordPids(dir, launched)
      const down = await bw(dir, ['cluster', 'down', '--purge'])
      expect(down.code, show(['cluster', 'down', '--purge'], down)).toBe(0)
    }
    const tables = await listOurTables()
    expect(tables.filter((t) => t === clusterTableName(dir) || t === lossTableName(dir)), 'nft tables of this cluster after cluster down').toEqual([])
    expect(await listNamespaces(`bw-${netnsIdOf(dir)}-`), 'namespaces of this cluster after cluster down').toEqual([])
    await extra()
  } finally {
    const left: number[] = []
    for (const p of launched) {
      if ((await processState(p.pid, p.dataDir)) === 'ours') {
        left.push(p.pid)
        try { process.kill(p.pid, 'SIGKILL') } catch {}
      }
    }
    // last resort for a failed test: nothing of ours may outlive it
    if (existsSync(dir)) await bw(dir, ['chaos', 'cleanup']).catch(() => {})
    await rm(dir, { recursive: true, force: true })
    expect(left, 'node processes left running after cluster down').toEqual([])
  }
}

describe.skipIf(SKIP_OS)('chaos --mode os: nftables between loopback addresses (5 nodes, 127.0.0.200-204)', { timeout: 480_000 }, () => {
  let dir = ''
  const launched: Array<{ pid: number; dataDir: string }> = []

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build`')
    dir = await mkdtemp(join(tmpdir(), 'bw-chaos-os-'))
    const args = ['cluster', 'up', '--enable-chaos', '--nodes', '5', '--ip-base', '127.0.0.200', '--timeout', '120', '--json']
    const r = await bw(dir, args)
    recordPids(dir, launched)
    expect(r.code, show(args, r)).toBe(0)
    expect(launched).toHaveLength(5)
  }, 200_000)

  afterAll(async () => {
    if (dir === '') return
    await downAndAssertClean(dir, launched, async () => {
      // no table of this cluster (other runs on the machine may come and go meanwhile)
      expect((await listOurTables()).filter((t) => t === clusterTableName(dir) || t === lossTableName(dir))).toEqual([])
    })
  }, 120_000)

  it('a halves partition is an nft table that really splits the cluster; the minority purges a missed delete after heal', async () => {
    await healed(dir)
    const vid = await makeVdi(dir, 'os-halves', 0)
    await convergedAndChecked(dir)
    const minority = [3, 4]
    const majority = [0, 1, 2]
    expect((await held(dir, 3, vid)) + (await held(dir, 4, vid))).toBeGreaterThan(0)
    const table = clusterTableName(dir)

    const part = await json(dir, ['chaos', 'partition', '--shape', 'halves', '--mode', 'os'])
    try {
      expect(part).toMatchObject({ mode: 'os', shape: 'halves', seed: null, ok: true, table })
      expect(part.nodes.map((n: any) => [n.index, n.partitionedFrom])).toEqual(
        [[0, [3, 4]], [1, [3, 4]], [2, [3, 4]], [3, [0, 1, 2]], [4, [0, 1, 2]]])
      expect(part.cuts).toEqual([[0, 3], [0, 4], [1, 3], [1, 4], [2, 3], [2, 4]])

      // the kernel has it: one input-hook drop per ordered pair across the cut
      const t = await nftTable(table)
      expect(t).not.toBeNull()
      const ip = (i: number): string => `127.0.0.${200 + i}`
      const want = majority.flatMap((a) => minority.flatMap((b) => [{ saddr: ip(a), daddr: ip(b) }, { saddr: ip(b), daddr: ip(a) }]))
      expect(new Set(tableDrops(t!).map((d) => `${d.saddr}>${d.daddr}`))).toEqual(new Set(want.map((d) => `${d.saddr}>${d.daddr}`)))
      expect(t!.rules).toHaveLength(12)

      // os mode installs the table and nothing else: no node gates anything itself
      const cs = await json(dir, ['chaos', 'status'])
      expect(cs.nodes.map((n: any) => n.osCutFrom)).toEqual([[3, 4], [3, 4], [3, 4], [0, 1, 2], [0, 1, 2]])
      expect(cs.nodes.map((n: any) => n.partitionedFrom)).toEqual([[], [], [], [], []])
      expect(cs.os).toMatchObject({ mode: 'os', tables: [table], foreign: [] })

      const t0 = Date.now()
      await waitFor('both sides to see the split', SPLIT_WAIT_MS, async () => {
        const sizes = await memberCounts(dir)
        return (majority.every((i) => sizes[i] === 3) && minority.every((i) => sizes[i] === 2)) || `member counts ${JSON.stringify(sizes)}`
      })
      console.info(`os partition: membership split after ${Date.now() - t0} ms`)

      expect(await knowsDelete(dir, 0, vid)).toBe(false)
      await ok(dir, ['vdi', 'delete', 'os-halves', '--node', '0'])
      await waitFor('the majority to purge os-halves', 60_000, async () => {
        const n = await Promise.all(majority.map(async (i) => await held(dir, i, vid)))
        return n.every((x) => x === 0) || `nodes ${majority.join(', ')} hold ${n.join(', ')} objects of os-halves`
      })
      // the cut is real: the majority has the delete, the minority never heard of it
      await onlySideKnows(dir, vid, majority, minority)
      expect((await held(dir, 3, vid)) + (await held(dir, 4, vid))).toBeGreaterThan(0)
    } finally {
      const r = await bw(dir, ['chaos', 'heal', '--json'])
      expect(r.code, show(['chaos', 'heal'], r)).toBe(0)
      const healed = JSON.parse(r.stdout)
      expect(healed).toMatchObject({ ok: true, errors: [] })
      expect(healed.removed).toContain(table)
    }
    expect(await nftTable(table)).toBeNull()

    const t1 = Date.now()
    await convergedAndChecked(dir)
    console.info(`os partition: converged ${Date.now() - t1} ms after heal`)
    for (const i of minority) expect(await held(dir, i, vid)).toBe(0)
    await onlySideKnows(dir, vid, [...majority, ...minority], [])
    const st = await json(dir, ['chaos', 'status'])
    expect(st.nodes.map((n: any) => n.osCutFrom)).toEqual([[], [], [], [], []])
    expect(st.os.tables).toEqual([])
  })

  it('a new partition replaces the old one; loss has its own table; heal and cleanup remove both', async () => {
    const table = clusterTableName(dir)
    await healed(dir)
    expect(await nftTable(table)).toBeNull()
    await ok(dir, ['chaos', 'partition', '--groups', '0,1,2/3,4', '--mode', 'os'])
    expect((await nftTable(table))!.rules).toHaveLength(12)
    const iso = await json(dir, ['chaos', 'partition', '--shape', 'isolate', '--node', '1', '--mode', 'os'])
    expect(iso.cuts).toEqual([[0, 1], [1, 2], [1, 3], [1, 4]])
    const drops = tableDrops((await nftTable(table))!)
    expect(drops).toHaveLength(8)
    expect(drops.every((d) => d.saddr === '127.0.0.201' || d.daddr === '127.0.0.201')).toBe(true)

    const loss = await json(dir, ['chaos', 'loss', '--percent', '30'])
    expect(loss).toMatchObject({ mode: 'os', percent: 30, ok: true, table: lossTableName(dir) })
    const lt = await nftTable(lossTableName(dir))
    expect(lt!.rules).toHaveLength(1)
    expect(lt!.rules[0]).toMatchObject({ verdict: 'drop', percent: 30 })
    const st = await json(dir, ['chaos', 'status'])
    expect(st.nodes.map((n: any) => [n.osCutFrom, n.lossPercent])).toEqual([
      [[1], 30], [[0, 2, 3, 4], 30], [[1], 30], [[1], 30], [[1], 30]])
    await ok(dir, ['chaos', 'loss', '--percent', '0'])
    expect(await nftTable(lossTableName(dir))).toBeNull()

    // a leftover (say, a crashed nemesis run): cleanup removes it without touching the nodes
    await ok(dir, ['chaos', 'loss', '--percent', '5'])
    const c = await json(dir, ['chaos', 'cleanup'])
    expect(c.tables.sort()).toEqual([table, lossTableName(dir)].sort())
    expect(c.namespaces).toEqual([])
    expect(await nftTable(table)).toBeNull()
    expect(await nftTable(lossTableName(dir))).toBeNull()
    expect((await json(dir, ['cluster', 'status'])).nodes.every((n: any) => n.running === true)).toBe(true)

    // refused requests change nothing
    const bad = await bw(dir, ['chaos', 'partition', '--groups', '0,1/2,3,4', '--mode', 'netns'])
    expect(bad.code, show(['chaos', 'partition', '--mode', 'netns'], bad)).toBe(64)
    expect(bad.stderr).toMatch(/needs a cluster started with 'bellwether cluster up --netns'/)
    const none = await bw(dir, ['chaos', 'partition', '--mode', 'os'])
    expect(none.code).toBe(64)
    expect(none.stderr).toMatch(/exactly one of --groups SPEC, --cuts PAIRS and --shape/)
    expect(await nftTable(table)).toBeNull()

    await ok(dir, ['chaos', 'heal'])
    await convergedAndChecked(dir)
  })
})

describe.skipIf(SKIP_NETNS)('cluster up --netns and chaos --mode netns (3 nodes in namespaces)', { timeout: 480_000 }, () => {
  let dir = ''
  const launched: Array<{ pid: number; dataDir: string }> = []
  let stray: ChildProcess | undefined
  let strayNs = ''

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build`')
    dir = await mkdtemp(join(tmpdir(), 'bw-chaos-ns-'))
    // a crashed earlier run with this dir: a namespace of its id with a process still inside
    strayNs = `bw-${netnsIdOf(dir)}-9`
    expect((await runTool('ip', ['netns', 'add', strayNs])).code).toBe(0)
    stray = spawn(findTool('ip')!, ['netns', 'exec', strayNs, 'sleep', '600'], { stdio: 'ignore' })
    await waitFor('the stray process to run in its namespace', 10_000, async () => (await pidsIn(strayNs)).length === 1)

    const args = ['cluster', 'up', '--enable-chaos', '--netns', '--nodes', '3', '--timeout', '120', '--json']
    const r = await bw(dir, args)
    recordPids(dir, launched)
    expect(r.code, show(args, r)).toBe(0)
    expect(launched).toHaveLength(3)
  }, 200_000)

  afterAll(async () => {
    if (stray?.exitCode === null) stray.kill('SIGKILL')
    if (dir === '') return
    const id = netnsIdOf(dir)
    await downAndAssertClean(dir, launched, async () => {
      expect((await runTool('ip', ['link', 'show', 'dev', hostIfName(id)])).code, `root veth ${hostIfName(id)} after cluster down`).not.toBe(0)
    })
  }, 120_000)

  it('up removed the leftovers of a crashed run with the same dir, and every node lives in its own namespace', async () => {
    expect(await listNamespaces(strayNs)).toEqual([])
    await waitFor('the stray process to be gone', 10_000, async () => stray!.exitCode !== null || stray!.signalCode !== null)
    const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
    const id = netnsIdOf(dir)
    expect(file.netns).toMatchObject({ id, hostIf: hostIfName(id) })
    expect(file.nodes.map((n: any) => n.netns)).toEqual([0, 1, 2].map((i) => `bw-${id}-${i}`))
    expect(await listNamespaces(`bw-${id}-`)).toEqual([`bw-${id}-0`, `bw-${id}-1`, `bw-${id}-2`, `bw-${id}-br`].sort())
    const prefix = file.netns.subnet.replace(/\.0\/24$/, '')
    for (const [i, n] of file.nodes.entries()) {
      expect(n.ip).toBe(`${prefix}.${i + 1}`)
      // the process really is inside: its pid is listed by its namespace
      expect(await pidsIn(n.netns)).toContain(n.pid)
    }
  })

  it('a netns partition cuts node 2 off for real; loss is set and read back; heal restores everything', async () => {
    await healed(dir)
    const vid = await makeVdi(dir, 'ns-isolate', 0)
    await convergedAndChecked(dir)
    const id = netnsIdOf(dir)
    const table = clusterTableName(dir)
    const part = await json(dir, ['chaos', 'partition', '--shape', 'isolate', '--node', '2', '--mode', 'netns'])
    try {
      expect(part).toMatchObject({ mode: 'netns', ok: true, table })
      expect(part.nodes.map((n: any) => [n.index, n.partitionedFrom])).toEqual([[0, [2]], [1, [2]], [2, [0, 1]]])
      const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
      const ip = (i: number): string => file.nodes[i].ip
      expect(tableDrops((await nftTable(table, `bw-${id}-2`))!)).toEqual([{ saddr: ip(0) }, { saddr: ip(1) }])
      expect(tableDrops((await nftTable(table, `bw-${id}-0`))!)).toEqual([{ saddr: ip(2) }])
      // nothing in the root namespace: the cut lives in the nodes' own stacks
      expect(await nftTable(table)).toBeNull()

      const t0 = Date.now()
      await waitFor('node 2 to be alone', SPLIT_WAIT_MS, async () => {
        const sizes = await memberCounts(dir)
        return (sizes[0] === 2 && sizes[1] === 2 && sizes[2] === 1) || `member counts ${JSON.stringify(sizes)}`
      })
      console.info(`netns partition: membership split after ${Date.now() - t0} ms`)
      expect(await knowsDelete(dir, 0, vid)).toBe(false)
      await ok(dir, ['vdi', 'delete', 'ns-isolate', '--node', '0'])
      await waitFor('nodes 0 and 1 to purge ns-isolate', 60_000, async () => {
        const n = await Promise.all([0, 1].map(async (i) => await held(dir, i, vid)))
        return n.every((x) => x === 0) || `nodes 0, 1 hold ${n.join(', ')} objects of ns-isolate`
      })
      await onlySideKnows(dir, vid, [0, 1], [2])
      expect(await held(dir, 2, vid)).toBeGreaterThan(0)

      const loss = await json(dir, ['chaos', 'loss', '--percent', '10'])
      expect(loss).toMatchObject({ mode: 'netns', percent: 10, ok: true })
      const st = await json(dir, ['chaos', 'status'])
      expect(st.os.mode).toBe('netns')
      expect(st.nodes.map((n: any) => [n.osCutFrom, n.lossPercent])).toEqual([[[2], 10], [[2], 10], [[0, 1], 10]])
      const lt = await nftTable(lossTableName(dir), `bw-${id}-1`)
      expect(lt!.rules[0]).toMatchObject({ percent: 10, saddr: [file.netns.subnet], saddrNot: [file.netns.hostIp] })
    } finally {
      const r = await bw(dir, ['chaos', 'heal', '--json'])
      expect(r.code, show(['chaos', 'heal'], r)).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, errors: [] })
    }
    for (const i of [0, 1, 2]) {
      expect(await nftTable(table, `bw-${id}-${i}`)).toBeNull()
      expect(await nftTable(lossTableName(dir), `bw-${id}-${i}`)).toBeNull()
    }
    await convergedAndChecked(dir)
    expect(await held(dir, 2, vid)).toBe(0)
    await onlySideKnows(dir, vid, [0, 1, 2], [])

    // os mode cannot see namespace traffic: refused, with the way out
    const bad = await bw(dir, ['chaos', 'partition', '--shape', 'halves', '--mode', 'os'])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toMatch(/use --mode netns/)
  })
})
