// The cluster file (round trip, validation), address arithmetic, launch arguments, and the
// launcher's process handling on a harmless child process (no bellwether node needed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ClusterFileError, clusterFilePath, ipAdd, nodeDataDir, nodeLogFile, nodeMultiaddr, parseClusterFile,
  readClusterFile, writeClusterFile, type ClusterFile, type ClusterNode
} from '../../src/cluster/clusterFile.js'
import { DATA_DIR_ENV, binPath, freePorts, nodeStartArgs, processState, stopProcess, killProcess } from '../../src/cluster/launcher.js'
import { prerequisite } from '../helpers/prereq.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-cf-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

// entries are built while tests are collected, before beforeAll: a fixed, never-created base
const BASE = join(tmpdir(), 'bw-cf-fixture')
const PEER = '12D3KooWGzh7sSpwxfzkQ8U2qWjWwQLZ6T8dQ5jJtYqBZ1cHhZ1a'

function entry (i: number, over: Partial<ClusterNode> = {}): ClusterNode {
  const ip = ipAdd('127.0.0.10', i)
  return {
    index: i,
    peerId: `${PEER}${i}`,
    ip,
    p2pPort: 40000 + i,
    apiPort: 41000 + i,
    apiUrl: `http://${ip}:${41000 + i}`,
    multiaddr: nodeMultiaddr(ip, 40000 + i, `${PEER}${i}`),
    dataDir: nodeDataDir(BASE, i),
    logFile: nodeLogFile(BASE, i),
    pid: i === 1 ? null : 1234 + i,
    zone: i,
    ...over
  }
}

function sample (): ClusterFile {
  return { version: 1, createdAt: '2026-01-02T03:04:05.000Z', copies: 2, ipBase: '127.0.0.10', nodes: [entry(0), entry(1), entry(2)] }
}

describe('cluster file', () => {
  it('round-trips through disk', async () => {
    const f = sample()
    await writeClusterFile(dir, f)
    expect(await readClusterFile(dir)).toEqual(f)
    const withLevel = { ...f, logLevel: 'debug' }
    await writeClusterFile(dir, withLevel)
    expect(await readClusterFile(dir)).toEqual(withLevel)
    expect(JSON.parse(await readFile(clusterFilePath(dir), 'utf8')).nodes[2].multiaddr).toBe(`/ip4/127.0.0.12/tcp/40002/p2p/${PEER}2`)
  })

  it('a dir without one reads as undefined', async () => {
    expect(await readClusterFile(join(dir, 'none'))).toBeUndefined()
  })

  it('keeps nodes sorted by index', () => {
    const f = sample()
    f.nodes.reverse()
    expect(parseClusterFile(JSON.stringify(f)).nodes.map((n) => n.index)).toEqual([0, 1, 2])
  })

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['an array', '[]', /not a JSON object/],
    ['another version', JSON.stringify({ ...sample(), version: 2 }), /unsupported version 2/],
    ['a missing port', JSON.stringify({ ...sample(), nodes: [{ ...entry(0), apiPort: undefined }] }), /nodes\[0\]\.apiPort must be an integer/],
    ['a bad pid', JSON.stringify({ ...sample(), nodes: [entry(0, { pid: -3 })] }), /nodes\[0\]\.pid must be a positive integer or null/],
    ['a bad ip', JSON.stringify({ ...sample(), nodes: [entry(0, { ip: '127.0.0.300' })] }), /not an IPv4 address/],
    ['a duplicate index', JSON.stringify({ ...sample(), nodes: [entry(0), entry(0)] }), /index 0 appears twice/],
    ['zero copies', JSON.stringify({ ...sample(), copies: 0 }), /copies must be an integer in 1\.\.255/]
  ])('rejects %s with a clear error', (_what, text, why) => {
    expect(() => parseClusterFile(text, 'x/cluster.json')).toThrow(ClusterFileError)
    expect(() => parseClusterFile(text, 'x/cluster.json')).toThrow(why)
  })

  it('records a namespace cluster (cluster up --netns); files without one still load', () => {
    const f = sample()
    f.netns = { id: 'abc123', subnet: '10.200.7.0/24', hostIf: 'bw-abc123', hostIp: '10.200.7.254' }
    f.nodes = f.nodes.map((n) => ({ ...n, netns: `bw-abc123-${n.index}` }))
    expect(parseClusterFile(JSON.stringify(f))).toEqual(f)
    expect(parseClusterFile(JSON.stringify(sample())).netns).toBeUndefined()
    expect(() => parseClusterFile(JSON.stringify({ ...f, netns: { ...f.netns, subnet: '10.200.7.0' } }))).toThrow(/netns\.subnet '10\.200\.7\.0' is not an IPv4 CIDR/)
    expect(() => parseClusterFile(JSON.stringify({ ...f, nodes: [{ ...f.nodes[0], netns: 'a b' }] }))).toThrow(/nodes\[0\]\.netns 'a b' is not a namespace name/)
  })

  it('reports a corrupt file on disk by path', async () => {
    const d = join(dir, 'corrupt')
    await writeClusterFile(d, sample())
    await writeFile(clusterFilePath(d), '{"version":1')
    await expect(readClusterFile(d)).rejects.toThrow(/corrupt\/cluster\.json is not valid JSON/)
  })
})

describe('addresses and launch arguments', () => {
  it('adds to an IPv4 address with carry', () => {
    expect(ipAdd('127.0.0.10', 0)).toBe('127.0.0.10')
    expect(ipAdd('127.0.0.10', 3)).toBe('127.0.0.13')
    expect(ipAdd('127.0.0.250', 10)).toBe('127.0.1.4')
    expect(() => ipAdd('127.0.0', 1)).toThrow(/invalid IPv4/)
    expect(() => ipAdd('255.255.255.255', 1)).toThrow(/not an IPv4 address/)
  })

  it('builds the node start command line', () => {
    const args = nodeStartArgs(entry(2), { bootstrap: ['/ip4/a/p2p/x', '/ip4/b/p2p/y'], copies: 2, logLevel: 'debug' })
    expect(args).toEqual([
      'node', 'start', '--data', entry(2).dataDir, '--listen', '127.0.0.12:40002', '--api', '127.0.0.12:41002', '--zone', '2',
      '--copies', '2', '--log-level', 'debug', '--open-network', '--bootstrap', '/ip4/a/p2p/x', '/ip4/b/p2p/y'
    ])
    expect(nodeStartArgs(entry(0), { bootstrap: [] })).not.toContain('--bootstrap')
    const keyed = nodeStartArgs(entry(0), { bootstrap: [], swarmKeyFile: '/c/swarm.key', apiTokenFile: '/c/api.token', enableChaos: true })
    expect(keyed).toEqual(expect.arrayContaining(['--swarm-key', '/c/swarm.key', '--api-token-file', '/c/api.token', '--enable-chaos']))
    expect(keyed).not.toContain('--open-network')
  })

  it('finds the bin script from the package root', () => {
    expect(binPath()).toMatch(/bin\/bellwether\.js$/)
    expect(existsSync(binPath())).toBe(true)
  })

  it('hands out distinct free ports on a loopback address', async () => {
    const ports = await freePorts('127.0.0.10', 3)
    expect(new Set(ports).size).toBe(3)
    for (const p of ports) expect(p).toBeGreaterThan(0)
  })
})

describe('process handling', () => {
  // the launcher reads /proc/PID/{cmdline,environ}: Linux only
  const noProc = prerequisite('clusterFile.test.ts', 'process handling', existsSync('/proc/self/stat') ? null : '/proc is not mounted (the launcher reads /proc/PID/cmdline)')
  const SCRIPT = 'setInterval(() => {}, 1000)'

  /** a harmless child, once it has exec'd (its own argv is in /proc): before that it looks like us */
  async function child (dataDir: string, viaEnv: boolean): Promise<number> {
    const args = ['-e', SCRIPT]
    if (!viaEnv) args.push('--', dataDir)
    const c = spawn(process.execPath, args, { stdio: 'ignore', env: viaEnv ? { ...process.env, [DATA_DIR_ENV]: dataDir } : process.env })
    const pid = c.pid!
    for (let k = 0; ; k++) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(SCRIPT)) return pid
      } catch {}
      if (k > 1000) throw new Error(`child ${pid} never showed its argv in /proc`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it.skipIf(noProc)('recognises its own process by argv or env, and nothing else', async () => {
    const byArgv = await child('/data/node-1', false)
    const byEnv = await child('/data/node-2', true)
    try {
      expect(await processState(byArgv, '/data/node-1')).toBe('ours')
      expect(await processState(byEnv, '/data/node-2')).toBe('ours')
      // a prefix of another node's dir is not a match
      expect(await processState(byArgv, '/data/node-')).toBe('foreign')
      expect(await processState(process.pid, '/data/node-1')).toBe('foreign')
      expect(await processState(null, '/data/node-1')).toBe('gone')
      expect(await processState(2 ** 22 + 17, '/data/node-1')).toBe('gone')
    } finally {
      process.kill(byArgv, 'SIGKILL')
      process.kill(byEnv, 'SIGKILL')
    }
  })

  it.skipIf(noProc)('stops with SIGTERM, kills with SIGKILL, and never signals a foreign pid', async () => {
    const a = await child('/data/a', false)
    const b = await child('/data/b', false)
    expect(await stopProcess(a, '/data/other')).toBe('not-running')
    expect(await processState(a, '/data/a')).toBe('ours')
    expect(await stopProcess(a, '/data/a', 5000)).toBe('stopped')
    expect(await processState(a, '/data/a')).toBe('gone')
    expect(await killProcess(b, '/data/b')).toBe('killed')
    expect(await processState(b, '/data/b')).toBe('gone')
    expect(await killProcess(b, '/data/b')).toBe('not-running')
  })
})
