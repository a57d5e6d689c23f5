// A private cluster (issue 11, parts 1 and 4): real node processes over TCP on 127.0.3.x.
// Strangers without the swarm key, or with a wrong one, never become members and cannot
// delete through their own API; the admin API refuses destructive calls without the token,
// text/plain bodies, foreign Host headers and bad percent-encoding; chaos endpoints exist only
// with --enable-chaos; `cluster rotate-key` moves a running cluster onto a new key.
import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bw, json, ok, waitFor } from '../helpers/cli.js'
import { generateSwarmKey } from '../../src/net/swarmKey.js'
import { readClusterFile } from '../../src/cluster/clusterFile.js'

const BIN = resolve('bin/bellwether.js')

describe('a private cluster', () => {
  let dir = ''
  let file: any
  let token = ''
  const strangers: ChildProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-private-'))
    file = await json(dir, ['cluster', 'up', '--nodes', '3', '--ip-base', '127.0.3.10', '--timeout', '120', '--json'])
    token = (await readFile(join(dir, 'api.token'), 'utf8')).trim()
    await ok(dir, ['vdi', 'create', 'keep', '64K'])
    await ok(dir, ['vdi', 'write', 'keep', '0'], { stdin: new TextEncoder().encode('precious') })
  })

  afterAll(async () => {
    for (const s of strangers) s.kill('SIGKILL')
    if (dir !== '') {
      await bw(dir, ['cluster', 'down', '--purge']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  })

  async function stranger (ip: string, keyArgs: string[]): Promise<string> {
    const api = `${ip}:7202`
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--data', join(dir, `stranger-${ip}`), '--listen', `${ip}:7201`, '--api', api,
      ...keyArgs, '--log-level', 'warn', '--bootstrap', ...file.nodes.map((n: any) => n.multiaddr)], { stdio: 'ignore' })
    strangers.push(child)
    return `http://${api}`
  }

  async function members (url: string): Promise<string[]> {
    return ((await (await fetch(`${url}/status`)).json()) as any).members
  }

  /** the API of every node the cluster file lists now (`cluster add` appends to it) */
  async function clusterApis (): Promise<string[]> {
    return (await readClusterFile(dir))!.nodes.map((n) => n.apiUrl)
  }

  it('a node without the key, or with a wrong one, never becomes a member and cannot delete', async () => {
    // the cluster's own nodes (3, or 4 once a case added one): the strangers must not change what they see
    const apis = await clusterApis()
    const wrongKey = join(dir, 'wrong.key')
    await writeFile(wrongKey, generateSwarmKey(), { mode: 0o600 })
    const open = await stranger('127.0.3.20', ['--open-network'])
    const wrong = await stranger('127.0.3.21', ['--swarm-key', wrongKey])
    // a lone node gives up waiting for peers and serves: by then it has tried every bootstrap
    for (const url of [open, wrong]) {
      await waitFor(`${url} to give up joining`, 90_000, async () => {
        try { return ((await (await fetch(`${url}/status`)).json()) as any).joined === true } catch { return false }
      })
      expect(await members(url)).toHaveLength(1)
      const del = await fetch(`${url}/vdi/keep`, { method: 'DELETE' })
      expect(del.status).toBe(401)
    }
    for (const url of apis) expect(await members(url), `members seen by ${url}`).toHaveLength(apis.length)
    const back = await bw(dir, ['vdi', 'read', 'keep', '0', '8'])
    expect(back.stdout).toBe('precious')
  }, 150_000)

  it('a node with the key joins', async () => {
    const before = await clusterApis()
    const r = await json(dir, ['cluster', 'add', '--timeout', '90'])
    expect(r.index).toBe(before.length)
    const apis = await clusterApis()
    expect(apis).toHaveLength(before.length + 1)
    await waitFor(`every node to see ${apis.length} members`, 90_000, async () =>
      (await Promise.all(apis.map(async (url) => (await members(url)).length))).every((l) => l === apis.length))
  }, 120_000)

  it('the admin API: token, content type, Host, percent-encoding, chaos off', async () => {
    const url = file.nodes[0].apiUrl
    const noToken = await fetch(`${url}/vdi/keep`, { method: 'DELETE' })
    expect(noToken.status).toBe(401)
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await noToken.json()).code).toBe('UNAUTHORIZED')
    const badToken = await fetch(`${url}/vdi/keep/discard`, { method: 'POST', headers: { authorization: 'Bearer nope-nope-nope-nope', 'content-type': 'application/json' }, body: '{"objects":"0"}' })
    expect(badToken.status).toBe(401)
    const plain = await fetch(`${url}/vdi`, { method: 'POST', body: '{"name":"web","size":4096}' })
    expect(plain.status).toBe(415)
    const pct = await fetch(`${url}/vdi/%E0%A4%A`)
    expect(pct.status).toBe(400)
    expect((await pct.json()).code).toBe('BAD_REQUEST')
    const chaos = await fetch(`${url}/chaos/heal`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    expect(chaos.status).toBe(404)
    expect((await chaos.json()).error).toMatch(/--enable-chaos/)
    const { host, port } = new URL(url)
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request({ host: new URL(url).hostname, port: Number(port), path: '/status', headers: { host: `evil.example:${port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end()
    })
    expect(host).not.toBe('')
    expect(rebound).toBe(421)
    // the CLI reads the cluster's token from the dir: the same delete through it works
    await ok(dir, ['vdi', 'create', 'gone', '64K'])
    await ok(dir, ['vdi', 'delete', 'gone'])
  }, 60_000)

  it('rotate-key moves the running cluster onto a new key', async () => {
    // every node of the cluster as it is now (3, or 4 if the join case ran) moves, none is left behind
    const apis = await clusterApis()
    const before = await readFile(join(dir, 'swarm.key'))
    await ok(dir, ['cluster', 'rotate-key', '--timeout', '120'])
    const after = await readFile(join(dir, 'swarm.key'))
    expect(after.equals(before)).toBe(false)
    await waitFor(`every node to see ${apis.length} members on the new key`, 120_000, async () =>
      (await Promise.all(apis.map(async (url) => (await members(url)).length))).every((l) => l === apis.length))
    const back = await bw(dir, ['vdi', 'read', 'keep', '0', '8'])
    expect(back.stdout).toBe('precious')
  }, 300_000)
})
