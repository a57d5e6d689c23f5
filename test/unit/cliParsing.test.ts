// CLI parsing: sizes, object ranges, and main()'s exit codes for bad flags, missing clusters,
// unreachable nodes and API error answers (against a fake admin API on loopback).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'
import { formatSize, parseSize } from '../../src/cli/units.js'
import { formatObjectRanges, parseObjectRanges } from '../../src/vdi/objectRanges.js'
import { judgeConvergence, type NodeView } from '../../src/cli/commands/clusterStatus.js'
import type { CliIo } from '../../src/cli/output.js'
import type { NodeStatus } from '../../src/api/types.js'
import type { ClusterNode } from '../../src/cluster/clusterFile.js'

interface Run { code: number; out: string; err: string; raw: Buffer }

async function run (args: string[], stdin: Uint8Array[] = []): Promise<Run> {
  const out: Buffer[] = []
  const err: string[] = []
  const sink = (into: (c: string | Uint8Array) => void) => ({
    write: (c: string | Uint8Array, cb?: (e?: Error | null) => void) => { into(c); cb?.(); return true }
  })
  const io: CliIo = {
    stdout: sink((c) => out.push(Buffer.from(c))),
    stderr: sink((c) => err.push(String(c))),
    stdin: (async function * () { yield * stdin })()
  }
  const code = await main(['node', 'bellwether', ...args], io)
  const raw = Buffer.concat(out)
  return { code, out: raw.toString('utf8'), err: err.join(''), raw }
}

describe('parseSize', () => {
  it.each([
    ['4M', 4194304], ['1G', 2 ** 30], ['512K', 524288], ['512k', 524288], ['4096', 4096], ['0', 0],
    ['2T', 2 * 2 ** 40], ['1.5K', 1536], ['4MiB', 4194304], ['4MB', 4194304], ['100B', 100], ['0x1000', 4096], [' 8M ', 8388608]
  ])('%s → %d', (text, want) => {
    expect(parseSize(text)).toBe(want)
  })

  it.each(['', 'abc', '4X', '-1', '1.1', '0.1K', '4 MM', 'M', '1e6', '99999999P', '4iB', '0x'])('rejects %j', (text) => {
    expect(() => parseSize(text, 'size')).toThrow(/invalid size/)
  })

  it('formats like dog', () => {
    expect(formatSize(512)).toBe('512 B')
    expect(formatSize(4 * 2 ** 20)).toBe('4.0 MB')
    expect(formatSize(1536)).toBe('1.5 KB')
  })
})

describe('parseObjectRanges', () => {
  it('expands, sorts and dedupes', () => {
    expect([...parseObjectRanges('0-3,7,10-12')]).toEqual([0, 1, 2, 3, 7, 10, 11, 12])
    expect([...parseObjectRanges('12,5, 3-6 ,1,5')]).toEqual([1, 3, 4, 5, 6, 12])
    expect([...parseObjectRanges('4294967295')]).toEqual([4294967295])
    expect(parseObjectRanges('7')).toBeInstanceOf(Uint32Array)
  })

  it.each([
    ['', /empty/], ['1,,2', /empty item/], ['1,', /empty item/], ['3-1', /reversed/], ['a', /not a non-negative/],
    ['-1', /not a non-negative/], ['1-2-3', /more than one/], ['4294967296', /exceeds/], ['1.5', /not a non-negative/],
    ['0-4294967295', /limit/]
  ])('rejects %j', (text, why) => {
    expect(() => parseObjectRanges(text)).toThrow(why)
  })

  it('respects a custom limit and formats back', () => {
    expect(() => parseObjectRanges('0-9', 9)).toThrow(/10 objects/)
    expect(formatObjectRanges(parseObjectRanges('10-12,0-3,7'))).toBe('0-3,7,10-12')
    expect(formatObjectRanges(new Uint32Array([]))).toBe('')
  })
})

describe('main(): usage errors exit 64 with a message, no stack', () => {
  it.each([
    [['--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /Usage: bellwether/],
    [['cluster', 'up'], /required option '--nodes <n>' not specified/],
    [['cluster', 'up', '--nodes', 'three'], /--nodes must be an integer/],
    [['cluster', 'up', '--nodes', '2', '--log-level', 'loud'], /Allowed choices are fatal/],
    [['cluster', 'stop'], /required option '--node <i>'/],
    [['vdi', 'list', '--node', '-1'], /node index must be an integer/],
    [['vdi', 'create', 'v'], /missing required argument 'size'/],
    [['vdi', 'create', 'v', '4X'], /invalid size '4X'/],
    [['vdi', 'create', 'v', '0'], /size must be at least 1/],
    [['vdi', 'create', 'v', '1G', '--copies', '0'], /--copies must be an integer in 1\.\.255/],
    [['vdi', 'read', 'v', '0'], /missing required argument 'length'/],
    [['vdi', 'discard', 'v', '--objects', '3-1'], /reversed/],
    [['vdi', 'discard', 'v'], /required option '--objects <list>'/],
    [['vdi', 'delete', 'a', 'b'], /too many arguments/],
    [['vdi', 'object', 'location', 'v', '--index', 'x'], /--index must be an integer/],
    [['node', 'start', '--listen', '127.0.0.1:1', '--api', '127.0.0.1:2'], /required option '--data <dir>'/],
    [['node', 'start', '--data', 'd', '--listen', 'nope', '--api', '127.0.0.1:2'], /--listen must be host:port/],
    [['node', 'start', '--data', 'd', '--listen', '127.0.0.1:1', '--api', '127.0.0.1:2', '--bootstrap', '/ip4/1.2.3.4/tcp/1'], /must be a multiaddr with \/p2p\//]
  ])('%j', async (args, msg) => {
    const r = await run(args)
    expect(r.code).toBe(64)
    expect(r.err).toMatch(msg)
    expect(r.err).not.toMatch(/\n\s+at /)
  })

  it('--help and --version exit 0 on stdout', async () => {
    const h = await run(['vdi', 'create', '--help'])
    expect(h.code).toBe(0)
    expect(h.out).toMatch(/Usage: bellwether vdi create \[options\] <name> <size>/)
    const v = await run(['--version'])
    expect(v.code).toBe(0)
    expect(v.out.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })
})

describe('main(): no cluster, unreachable node', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-cli-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a command that needs a cluster exits 2 when there is none', async () => {
    for (const args of [['vdi', 'list'], ['objlist'], ['check'], ['cluster', 'status'], ['cluster', 'wait', '--timeout', '1']]) {
      const r = await run([...args, '--dir', join(dir, 'nothing')])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err).toMatch(/no cluster in/)
    }
  })

  it('cluster down without a cluster is a no-op success', async () => {
    const r = await run(['cluster', 'down', '--dir', join(dir, 'nothing')])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/nothing to stop/)
  })

  it('a node that refuses connections exits 2', async () => {
    const srv = createServer()
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
    const port = (srv.address() as { port: number }).port
    await new Promise<void>((resolve) => srv.close(() => resolve())) // now nobody listens there
    const r = await run(['vdi', 'list', '--dir', dir, '--api', `127.0.0.1:${port}`])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/cannot reach node at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
  })
})

describe('main() against a fake admin API', () => {
  let srv: Server
  let api: string
  let dir: string
  const seen: Array<{ method: string; url: string; body: Buffer }> = []
  const vdi = { name: 'disk', vid: '7c2b25', size: 1 << 30, copies: 3, objectSize: 4 << 20, generation: 0, objects: 256, created: '0190abcd00000000' }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-cli-'))
    srv = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        seen.push({ method: req.method!, url: req.url!, body })
        const json = (status: number, v: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v))
        }
        const u = new URL(req.url!, 'http://x')
        if (req.method === 'GET' && u.pathname === '/vdi') return json(200, { vdis: [vdi] })
        if (req.method === 'POST' && u.pathname === '/vdi') {
          const b = JSON.parse(body.toString())
          return b.name === 'disk' ? json(409, { error: 'VDI disk exists', code: 'EXISTS' }) : json(200, { ...vdi, ...b })
        }
        if (u.pathname === '/vdi/disk' && req.method === 'GET') return json(200, vdi)
        if (u.pathname.startsWith('/vdi/') && req.method === 'DELETE' && u.pathname !== '/vdi/disk') {
          return json(404, { error: 'no VDI named ' + decodeURIComponent(u.pathname.slice(5)), code: 'NOT_FOUND' })
        }
        if (u.pathname === '/vdi/disk/discard') return json(200, { vdi, discarded: 8, records: 1 })
        if (u.pathname === '/vdi/disk/data' && req.method === 'PUT') return json(200, { written: body.length, objects: 1 })
        if (u.pathname === '/vdi/disk/data' && req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0, 1, 2, 255]))
          return
        }
        if (u.pathname === '/objlist') return json(200, { count: 2, oids: ['007c2b2500000000', '007c2b2500000001'] })
        if (u.pathname === '/boom') return
        json(500, { error: 'unexpected ' + req.url, code: 'INTERNAL' })
      })
    })
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()))
    api = `http://127.0.0.1:${(srv.address() as { port: number }).port}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => srv.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  const at = (...args: string[]): string[] => [...args, '--dir', dir, '--api', api]

  it('vdi list --json passes the API answer through', async () => {
    const r = await run(at('vdi', 'list', '--json'))
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual({ vdis: [vdi] })
  })

  it('vdi list prints a table', async () => {
    const r = await run(at('vdi', 'list'))
    expect(r.code).toBe(0)
    expect(r.out.split('\n')[0]).toMatch(/^NAME\s+VID\s+SIZE/)
    expect(r.out).toMatch(/disk\s+7c2b25\s+1\.0 GB\s+3\s+4\.0 MB\s+256\s+0/)
  })

  it('vdi create sends sizes in bytes and the default copies; EXISTS exits 3', async () => {
    const ok = await run(at('vdi', 'create', 'new', '64M', '--object-size', '1M', '--prealloc'))
    expect(ok.code).toBe(0)
    const sent = JSON.parse(seen.filter((s) => s.method === 'POST' && s.url === '/vdi').at(-1)!.body.toString())
    expect(sent).toEqual({ name: 'new', size: 64 << 20, copies: 3, objectSize: 1 << 20, prealloc: true })
    const dup = await run(at('vdi', 'create', 'disk', '1G'))
    expect(dup.code).toBe(3)
    expect(dup.err).toMatch(/VDI disk exists/)
  })

  it('vdi delete of a missing VDI exits 5, never 0', async () => {
    const r = await run(at('vdi', 'delete', 'missing one'))
    expect(r.code).toBe(5)
    expect(r.err).toMatch(/no VDI named missing one/)
  })

  it('vdi discard sends the normalised list', async () => {
    const r = await run(at('vdi', 'discard', 'disk', '--objects', '7,0-3,2'))
    expect(r.code).toBe(0)
    expect(JSON.parse(seen.at(-1)!.body.toString())).toEqual({ objects: '0-3,7' })
    expect(r.out).toMatch(/discarded 8 objects of disk \(1 delete record\)/)
  })

  it('vdi write sends stdin raw; vdi read writes raw bytes', async () => {
    const w = await run(at('vdi', 'write', 'disk', '4K'), [Buffer.from('hello'), Buffer.from([0, 255])])
    expect(w.code).toBe(0)
    const put = seen.at(-1)!
    expect(put.url).toBe('/vdi/disk/data?offset=4096')
    expect([...put.body]).toEqual([...Buffer.from('hello'), 0, 255])
    const empty = await run(at('vdi', 'write', 'disk', '0'))
    expect(empty.code).toBe(64)
    const r = await run(at('vdi', 'read', 'disk', '0', '4'))
    expect(r.code).toBe(0)
    expect([...r.raw]).toEqual([0, 1, 2, 255])
  })

  it('objlist --vdi resolves the vid and prints JSON', async () => {
    const r = await run(at('objlist', '--vdi', 'disk', '--json'))
    expect(r.code).toBe(0)
    expect(seen.at(-1)!.url).toBe('/objlist?vid=7c2b25')
    expect(JSON.parse(r.out)).toEqual({ node: null, peerId: null, vdi: 'disk', vid: '7c2b25', count: 2, oids: ['007c2b2500000000', '007c2b2500000001'] })
  })

  it('an INTERNAL error answer exits 1', async () => {
    const r = await run(at('vdi', 'object', 'location', 'disk', '--index', '3'))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/unexpected \/vdi\/disk\/location\?index=3/)
  })
})

describe('cluster wait judgement', () => {
  const node = (index: number): ClusterNode => ({
    index,
    peerId: `peer${index}`,
    ip: `127.0.0.${10 + index}`,
    p2pPort: 1000,
    apiPort: 2000,
    apiUrl: 'http://x',
    multiaddr: '/x',
    dataDir: `/d/${index}`,
    logFile: '/l',
    pid: 100 + index,
    zone: index
  })
  const status = (members: string[], over: Partial<NodeStatus> = {}): NodeStatus => ({
    peerId: 'p',
    addrs: [],
    api: '',
    dataDir: '',
    zone: 0,
    pid: 1,
    epoch: '3',
    members,
    objects: 0,
    joined: true,
    busy: false,
    busyReasons: [],
    startupProblems: [],
    log: { count: 2, fingerprint: 'ab', maxHlc: '1', unavailable: null, pending: 0, writeFailures: 0 },
    gc: { ack: '0', horizon: '0', floor: 0, floorHash: '0' },
    ae: { active: 0, stuck: 0, started: 0, completed: 0, failed: 0, bytesIn: 0, bytesOut: 0, recordsLearned: 0, recordsSent: 0 },
    partitioned: [],
    peerState: { known: 1, heartbeats: 1, backoffs: 0, relays: 1, direct: 1, synced: 1, connected: 1, up: 1, floorHashes: 1, objectPeers: 1, gcSynced: 1, gcAcks: 1, aeSlots: 1 },
    chaosEnabled: false,
    recovery: { running: false, epoch: '3', toRecover: 0, recovered: 0, failed: 0, peerFailures: 0, deletedSkipped: 0, lastCompleteEpoch: '3' },
    startedAt: '',
    uptimeMs: 0,
    version: '',
    ...over
  })
  const all = ['peer0', 'peer1', 'peer2']

  it('converged when all running nodes agree', () => {
    const views: NodeView[] = [0, 1, 2].map((i) => ({ node: node(i), running: true, status: status([...all].reverse()) }))
    expect(judgeConvergence(views)).toEqual([])
  })

  it('names each disagreement', () => {
    const views: NodeView[] = [
      { node: node(0), running: true, status: status(['peer0', 'peer1']) },
      { node: node(1), running: true, status: status(all, { epoch: '4', busy: true }) },
      { node: node(2), running: true, status: status(all, { log: { count: 1, fingerprint: 'cd', maxHlc: '1', unavailable: null, pending: 0, writeFailures: 0 } }) },
      { node: node(3), running: false }
    ]
    const p = judgeConvergence(views).join('\n')
    expect(p).toMatch(/node 0 members: missing node 2/)
    expect(p).toMatch(/epochs differ/)
    expect(p).toMatch(/node 1 is busy/)
    expect(p).toMatch(/delete logs differ/)
  })

  it('a stopped node must not be a member; a silent running node blocks', () => {
    const views: NodeView[] = [
      { node: node(0), running: true, status: status(all) },
      { node: node(1), running: true, error: 'timeout' },
      { node: node(2), running: false }
    ]
    const p = judgeConvergence(views).join('\n')
    expect(p).toMatch(/node 0 members: extra node 2/)
    expect(p).toMatch(/node 1: not answering \(timeout\)/)
    expect(judgeConvergence([{ node: node(0), running: false }])).toEqual(['no node is running'])
  })
})
