// Forged input from a member (issue 11, parts 2 and 3), against real node processes over TCP
// (`bellwether cluster up`, 3 nodes on 127.0.7.10-12, copies 3). The liar is a libp2p host
// holding the swarm key (test/helpers/forger.ts) on 127.0.7.2x: it gets in as any key holder
// would, and sends, each from a fresh identity:
//   - a heartbeat with epoch 2^64−1 (used to overflow the epoch bump inside the heartbeat timer
//     and kill every node within seconds);
//   - heartbeats with a UDP address, a garbage address, a non-http api, and 17 addresses;
//   - honest-looking heartbeats announcing a new zone (used to make it a replica target of most
//     objects, failing every write placed on it);
//   - an object PUT with version 2^64−1 (used to be served to readers and block every later
//     write of that object).
// After each: nothing applied (epochs, members, placement, stored data), every node counts it in
// bw_rejected_total{kind}, every node keeps running; at the end `check` passes, and every node
// restarts with a valid epoch file and no startup problem, and `check` passes again.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcCluster } from '../helpers/procCluster.js'
import { waitFor } from '../helpers/cli.js'
import { Forger } from '../helpers/forger.js'
import { readSwarmKey } from '../../src/net/swarmKey.js'
import { parseEpoch } from '../../src/node/epochFile.js'
import { parseOid } from '../../src/oid.js'
import { Status } from '../../src/wire/bellwether_pb.js'
import { MAX_EPOCH } from '../../src/membership/constants.js'

const U64_MAX = (1n << 64n) - 1n
const OBJ = 64 * 1024

async function rejected (apiUrl: string, kind: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  const m = new RegExp(`^bw_rejected_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)
  return m == null ? 0 : Number(m[1])
}

function pattern (seed: number): Uint8Array {
  const b = new Uint8Array(16 * OBJ)
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

describe('forged input from a member', () => {
  const c = new ProcCluster('forged', 3, '127.0.7.10', 3)
  const forgers: Forger[] = []
  let key: Uint8Array
  let addrs: string[] = []
  let pids: number[] = []
  let port = 7400

  const urls = (): string[] => c.file().map((n) => n.apiUrl)
  async function forger (ip: string): Promise<Forger> {
    const f = await Forger.start(ip, port, key, addrs)
    port += 2
    forgers.push(f)
    return f
  }
  async function stillRunning (): Promise<void> {
    expect(c.file().map((n) => n.pid)).toEqual(pids)
    for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow()
    for (const u of urls()) {
      const s = await (await fetch(`${u}/status`, { signal: AbortSignal.timeout(10_000) })).json() as any
      expect(BigInt(s.epoch)).toBeLessThan(MAX_EPOCH)
    }
  }
  /** publish `bytes` (again, until gossip has a mesh) until every node counted one more heartbeat rejection */
  async function rejectedEverywhere (f: Forger, bytes: Uint8Array, what: string): Promise<void> {
    const before = await Promise.all(urls().map(async (u) => await rejected(u, 'heartbeat')))
    await waitFor(`every node to reject ${what}`, 60_000, async () => {
      await f.publish(bytes).catch(() => {})
      const now = await Promise.all(urls().map(async (u) => await rejected(u, 'heartbeat')))
      return now.every((n, k) => n > before[k]!)
    })
  }
  async function viewMembers (u: string): Promise<string[]> {
    return ((await (await fetch(`${u}/members`)).json()) as any).members.map((m: any) => m.peerId)
  }

  beforeAll(async () => {
    await c.up()
    key = await readSwarmKey(join(c.dir, 'swarm.key'))
    addrs = c.file().map((n: any) => n.multiaddr)
    pids = c.file().map((n) => n.pid!)
    await c.ok(['vdi', 'create', 'keep', '1M', '--object-size', '64K', '--copies', '3'])
    await c.ok(['vdi', 'write', 'keep', '0'], { stdin: pattern(1) })
  }, 240_000)

  afterAll(async () => {
    for (const f of forgers) await f.stop().catch(() => {})
    await c.down()
  }, 240_000)

  it('a heartbeat with epoch 2^64−1 is rejected by every node, and every node keeps running', async () => {
    const f = await forger('127.0.7.20')
    await rejectedEverywhere(f, f.heartbeat({ epoch: U64_MAX }), 'epoch 2^64−1')
    // the epoch bump used to overflow inside the heartbeat timer: give it a few beats to happen
    const beats = await Promise.all(urls().map(async (u) => (await (await fetch(`${u}/status`)).json() as any).epoch))
    await waitFor('two more heartbeat rounds', 30_000, async () => {
      await f.publish(f.heartbeat({ epoch: U64_MAX })).catch(() => {})
      const r = await Promise.all(urls().map(async (u) => await rejected(u, 'heartbeat')))
      return r.every((n) => n >= 3)
    })
    await stillRunning()
    for (const u of urls()) expect(await viewMembers(u)).not.toContain(f.peerId)
    expect(beats.every((e) => BigInt(e) < 1000n)).toBe(true)
    for (const n of c.file()) expect(parseEpoch(await readFile(join(n.dataDir, 'epoch'), 'utf8'))).toBeDefined()
  }, 120_000)

  it('heartbeats with a bad address, a bad api or too many addresses are rejected; the signer never becomes a member', async () => {
    const f = await forger('127.0.7.21')
    await rejectedEverywhere(f, f.heartbeat({ addrs: ['/ip4/127.0.7.21/udp/1'] }), 'a UDP address')
    await rejectedEverywhere(f, f.heartbeat({ addrs: ['not a multiaddr'] }), 'a garbage address')
    await rejectedEverywhere(f, f.heartbeat({ api: 'javascript:alert(1)' }), 'a non-http api')
    await rejectedEverywhere(f, f.heartbeat({ addrs: Array.from({ length: 17 }, () => `/ip4/127.0.7.21/tcp/${f.port}`) }), '17 addresses')
    await stillRunning()
    for (const u of urls()) expect(await viewMembers(u)).not.toContain(f.peerId)
  }, 120_000)

  it('a member announcing a new zone without serving objects is never a replica target: writes succeed', async () => {
    const f = await forger('127.0.7.22')
    const beat = (): void => { f.publish(f.heartbeat({ incarnation: 2n, hlc: BigInt(Date.now()) << 16n })).catch(() => {}) }
    beat()
    const timer = setInterval(beat, 500)
    try {
      await waitFor('every node to list the forger as a live member', 60_000, async () =>
        (await Promise.all(urls().map(viewMembers))).every((m) => m.includes(f.peerId)))
      const w = await c.bw(['vdi', 'write', 'keep', '0'], { stdin: pattern(2) })
      expect(w.code, w.stderr).toBe(0)
      for (let i = 0; i < 16; i++) {
        const loc = await (await fetch(`${urls()[0]}/vdi/keep/location?index=${i}`)).json() as any
        expect(loc.placement).not.toContain(f.peerId)
        expect(loc.placement).toHaveLength(3)
      }
      for (const u of urls()) {
        const s = await (await fetch(`${u}/status`)).json() as any
        expect(s.members).not.toContain(f.peerId)
      }
    } finally {
      clearInterval(timer)
    }
    const back = await c.bw(['vdi', 'read', 'keep', '0', String(16 * OBJ)])
    expect(back.code, back.stderr).toBe(0)
    expect(back.out.equals(Buffer.from(pattern(2)))).toBe(true)
  }, 180_000)

  it('an object PUT with version 2^64−1 is refused and counted; the object keeps its data and takes later writes', async () => {
    const f = await forger('127.0.7.23')
    const target = c.file()[0]!
    const loc = await (await fetch(`${target.apiUrl}/vdi/keep/location?index=5`)).json() as any
    const oid = parseOid(loc.oid)
    const generation = loc.holders[0].generation as number
    const before = await rejected(target.apiUrl, 'version')
    const r = await f.put(target.peerId, { oid, generation, version: U64_MAX, data: new Uint8Array(OBJ).fill(0xee) })
    expect(r.status).toBe(Status.BAD_REQUEST)
    expect(r.error).toMatch(/ahead of this node's clock/)
    expect(await rejected(target.apiUrl, 'version')).toBe(before + 1)
    const after = await (await fetch(`${target.apiUrl}/vdi/keep/location?index=5`)).json() as any
    expect(after.holders.map((h: any) => BigInt(`0x${h.version}`)).every((v: bigint) => v < U64_MAX)).toBe(true)
    const w = await c.bw(['vdi', 'write', 'keep', String(5 * OBJ)], { stdin: new Uint8Array(OBJ).fill(0x55) })
    expect(w.code, w.stderr).toBe(0)
    const got = await fetch(`${target.apiUrl}/vdi/keep/data?offset=${5 * OBJ}&length=${OBJ}`)
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.alloc(OBJ, 0x55))).toBe(true)
    await stillRunning()
  }, 120_000)

  it('afterwards `check` passes, and every node restarts with a valid epoch file and no startup problem', async () => {
    for (const f of forgers.splice(0)) await f.stop()
    await c.convergedAndChecked()
    for (const n of c.file()) {
      await c.stop(n.index)
      expect(parseEpoch(await readFile(join(n.dataDir, 'epoch'), 'utf8'))).toBeDefined()
      await c.start(n.index)
      const s = await c.get(n.index, '/status')
      expect(s.startupProblems).toEqual([])
    }
    await c.convergedAndChecked()
  }, 300_000)
})
