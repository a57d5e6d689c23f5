// In-process clusters for integration tests: real nodes, real libp2p over TCP on their own
// 127.0.0.X addresses, real files in a temp dir. One vitest process hosts them all.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type StartedNode } from '../../src/node/start.js'
import { peerIdOfDataDir } from '../../src/net/peerKey.js'
import { generateSwarmKey } from '../../src/net/swarmKey.js'

export async function freePort (host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const a = s.address()
      s.close(() => { resolve(typeof a === 'object' && a != null ? a.port : 0) })
    })
  })
}

export interface Spec { dataDir: string, ip: string, p2p: number, api: number, peerId: string }

export class InprocCluster {
  nodes: Array<StartedNode | undefined> = []
  specs: Spec[] = []
  /** every in-process cluster is a private network of its own, as `cluster up` makes them */
  readonly swarmKey = generateSwarmKey()
  constructor (readonly dir: string, readonly copies: number) {}

  static async start (n: number, opts: { copies?: number, ipBase?: number, ipPrefix?: string, evictAfterMs?: number } = {}): Promise<InprocCluster> {
    const c = new InprocCluster(await mkdtemp(join(tmpdir(), 'bw-it-')), opts.copies ?? 3)
    if (opts.evictAfterMs != null) c.defaults.evictAfterMs = opts.evictAfterMs
    const base = opts.ipBase ?? 40
    try {
      for (let i = 0; i < n; i++) await c.addSpec(`${opts.ipPrefix ?? '127.0.0'}.${base + i}`)
      await Promise.all(c.specs.map(async (_, i) => { await c.startNode(i) }))
      // ten nodes in one process on a busy 2-core box can take a while to see each other
      await c.waitMembers(90_000)
    } catch (err) {
      // the test file never gets this cluster to stop, so its nodes and temp dir are ours to remove
      await c.stop()
      throw err
    }
    return c
  }

  async addSpec (ip: string): Promise<number> {
    const dataDir = join(this.dir, `node-${this.specs.length}`)
    this.specs.push({ dataDir, ip, p2p: await freePort(ip), api: await freePort(ip), peerId: await peerIdOfDataDir(dataDir) })
    return this.specs.length - 1
  }

  multiaddr (i: number): string {
    const s = this.specs[i]
    return `/ip4/${s.ip}/tcp/${s.p2p}/p2p/${s.peerId}`
  }

  /** node options every (re)start of this cluster gets, e.g. a short eviction time */
  defaults: { evictAfterMs?: number } = {}

  async startNode (i: number, extra: { clockOffsetMs?: number, evictAfterMs?: number, recoveryRate?: number } = {}): Promise<StartedNode> {
    const s = this.specs[i]
    const node = await startNode({
      dataDir: s.dataDir,
      listen: `${s.ip}:${s.p2p}`,
      api: `${s.ip}:${s.api}`,
      bootstrap: this.specs.map((_, j) => this.multiaddr(j)).filter((_, j) => j !== i),
      copies: this.copies,
      logLevel: process.env.BW_TEST_LOG ?? 'silent',
      swarmKey: this.swarmKey,
      enableChaos: true,
      ...this.defaults,
      ...extra
    })
    this.nodes[i] = node
    return node
  }

  async stopNode (i: number): Promise<void> {
    await this.nodes[i]?.stop()
    this.nodes[i] = undefined
  }

  running (): StartedNode[] {
    return this.nodes.filter((n): n is StartedNode => n != null)
  }

  node (i: number): StartedNode {
    const n = this.nodes[i]
    if (n == null) throw new Error(`node ${i} is not running`)
    return n
  }

  /** every running node sees exactly the running nodes, with one epoch */
  async waitMembers (timeoutMs = 30_000): Promise<void> {
    await waitFor(() => {
      const running = this.running()
      const ids = running.map((n) => n.peerId).sort().join()
      const epochs = new Set(running.map((n) => n.node.membership.view.epoch))
      // and joined: a node serves client I/O only once a peer's heartbeat agreed on the member
      // set, which can come a beat after the views agree (CI saw a write answered 503
      // "joining" right after the views did)
      return epochs.size === 1 && running.every((n) => n.node.members().slice().sort().join() === ids && n.node.membership.joinedAt !== undefined)
    }, timeoutMs, 'membership to converge and every node to join')
  }

  async api (i: number, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
    const bytes = body instanceof Uint8Array
    const r = await fetch(this.node(i).apiUrl + path, {
      method,
      body: body === undefined ? undefined : bytes ? Buffer.from(body) : JSON.stringify(body),
      headers: {
        authorization: `Bearer ${this.node(i).apiToken}`,
        ...(body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' })
      }
    })
    const text = await r.text()
    let json: any
    try { json = JSON.parse(text) } catch { json = text }
    return { status: r.status, json }
  }

  async stop (): Promise<void> {
    // one node failing to stop must not leave the others running or the temp dir behind
    const stopped = await Promise.allSettled(this.running().map(async (n) => { await n.stop() }))
    this.nodes = []
    await rm(this.dir, { recursive: true, force: true })
    const failed = stopped.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed != null) throw failed.reason
  }
}

/** poll until `cond` holds; generous deadlines only — never a timing assertion */
export async function waitFor (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** `bellwether check` over the running in-process nodes (same judge as the CLI) */
export async function checkCluster (c: InprocCluster): Promise<import('../../src/check/checker.js').CheckReport> {
  const { judgeCluster } = await import('../../src/check/checker.js')
  const nodes = []
  const vdis = []
  for (let i = 0; i < c.specs.length; i++) {
    if (c.nodes[i] == null) continue
    const check = (await c.api(i, 'GET', '/check')).json
    const del = (await c.api(i, 'GET', '/deletes')).json
    vdis.push(...(await c.api(i, 'GET', '/vdi')).json.vdis)
    nodes.push({ node: i, peerId: c.node(i).peerId, zone: c.node(i).node.zone, check, deletes: del.records, floor: del.floor })
  }
  return judgeCluster({ nodes, vdis })
}

/** application-level partition through each node's admin API: groups of node indexes */
export async function partition (c: InprocCluster, groups: number[][]): Promise<void> {
  for (const g of groups) {
    const others = groups.filter((o) => o !== g).flat().map((j) => c.specs[j].peerId)
    for (const i of g) if (c.nodes[i] != null) await c.api(i, 'POST', '/chaos/partition', { peers: others })
  }
}

export async function heal (c: InprocCluster): Promise<void> {
  for (let i = 0; i < c.specs.length; i++) if (c.nodes[i] != null) await c.api(i, 'POST', '/chaos/heal')
}
