// Bounds on membership heartbeats (issue 11, parts 2 and 3): the pure checks
// (src/membership/heartbeatCheck.ts, MembershipView.checkEpoch), the view's saturating epoch
// bump, and the members topic of MembershipService on a fake pubsub — a heartbeat with epoch
// 2^64−1 is rejected by the validator (gossipsub Reject, counted, logged) and, delivered
// anyway, changes nothing and throws nothing (it used to bump the epoch to 2^64 and make the
// next heartbeat's encoding reject inside a timer: an unhandled rejection killed the node).
import type { Counter } from 'prom-client'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { create, toBinary } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { HeartbeatSchema, LogSummarySchema } from '../../src/wire/bellwether_pb.js'
import { InvalidHeartbeatError, MembershipView, computeMembersHash, type HeartbeatIn, type MemberInfo } from '../../src/membership/view.js'
import { MAX_ADDRS, MAX_API_LENGTH, MAX_EPOCH, MAX_EPOCH_LEAD, MAX_MEMBER_COUNT } from '../../src/membership/constants.js'
import { MAX_REMEMBERED_ADDRS, checkAddr, checkApi, checkHeartbeat, type HeartbeatFields } from '../../src/membership/heartbeatCheck.js'
import { HybridClock, DEFAULT_MAX_DRIFT_MS, makeHlc } from '../../src/hlc.js'
import { MembershipService } from '../../src/membership/membership.js'
import { systemTime } from '../../src/time.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { TOPIC_MEMBERS } from '../../src/net/constants.js'
import type { Host } from '../../src/net/host.js'
import { FakePubsub, memoryLogger, signed } from '../helpers/fakePubsub.js'

const U64_MAX = (1n << 64n) - 1n
const counter = async (c: Counter<string>, labels: Record<string, string>): Promise<number> =>
  (await c.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0

function info (i: number): MemberInfo {
  return { peerId: `12D3KooWNode${String(i).padStart(3, '0')}`, addrs: [`/ip4/127.0.7.${i + 1}/tcp/4001`], zone: i, api: `http://127.0.7.${i + 1}:8080`, incarnation: 1n }
}
const hb = (m: MemberInfo, over: Partial<HeartbeatIn> = {}): HeartbeatIn =>
  ({ ...m, epoch: 0n, membersHash: computeMembersHash([m.peerId]), leaving: false, ...over })

describe('epoch bounds in the view', () => {
  it('refuses an epoch above the ceiling, joined or not, and leaves the view untouched', () => {
    const v = new MembershipView(info(0), {}, 5n)
    for (const epoch of [U64_MAX, MAX_EPOCH + 1n]) {
      expect(v.checkEpoch(epoch)).toMatch(/ceiling/)
      expect(() => v.onHeartbeat(hb(info(1), { epoch }), 1000)).toThrow(InvalidHeartbeatError)
    }
    expect(v.members()).toHaveLength(1)
    expect(v.epoch).toBe(5n)
    expect(v.maxEpochSeen).toBe(5n)
  })

  it('before joining any epoch up to the ceiling is adopted; after, at most MAX_EPOCH_LEAD ahead', () => {
    const fresh = new MembershipView(info(0))
    expect(fresh.checkEpoch(MAX_EPOCH_LEAD * 10n)).toBeUndefined()
    const v = new MembershipView(info(0), {}, 100n)
    v.anchorEpochs()
    expect(v.checkEpoch(100n + MAX_EPOCH_LEAD)).toBeUndefined()
    expect(v.checkEpoch(101n + MAX_EPOCH_LEAD)).toMatch(/ahead/)
    expect(() => v.onHeartbeat(hb(info(1), { epoch: 101n + MAX_EPOCH_LEAD }), 1000)).toThrow(InvalidHeartbeatError)
    expect(v.members()).toHaveLength(1)
    expect(v.maxEpochSeen).toBe(100n)
    // an honest lead is followed: the joiner lands past it
    const c = v.onHeartbeat(hb(info(1), { epoch: 100n + MAX_EPOCH_LEAD }), 1000)
    expect(c?.epoch).toBe(101n + MAX_EPOCH_LEAD)
  })

  it('the bump saturates at the ceiling: no overflow, and the heartbeat still encodes', () => {
    const v = new MembershipView(info(0), {}, MAX_EPOCH)
    const c = v.onHeartbeat(hb(info(1), { epoch: MAX_EPOCH }), 1000)
    expect(c?.epoch).toBe(MAX_EPOCH)
    expect(v.epoch).toBe(MAX_EPOCH)
    expect(() => toBinary(HeartbeatSchema, create(HeartbeatSchema, { peerId: 'x', epoch: v.heartbeat().epoch }))).not.toThrow()
    expect(() => new MembershipView(info(0), {}, MAX_EPOCH + 1n)).toThrow(RangeError)
  })

  it('the view refuses too many or too long addrs and an overlong api', () => {
    const v = new MembershipView(info(0))
    const many = Array.from({ length: MAX_ADDRS + 1 }, (_, k) => `/ip4/127.0.7.1/tcp/${4000 + k}`)
    expect(() => v.onHeartbeat(hb({ ...info(1), addrs: many }), 1)).toThrow(InvalidHeartbeatError)
    expect(() => v.onHeartbeat(hb({ ...info(1), addrs: [`/dns4/${'a'.repeat(300)}/tcp/1`] }), 1)).toThrow(InvalidHeartbeatError)
    expect(() => v.onHeartbeat(hb({ ...info(1), api: `http://${'a'.repeat(MAX_API_LENGTH)}:1` }), 1)).toThrow(InvalidHeartbeatError)
    expect(v.members()).toHaveLength(1)
  })
})

describe('heartbeat field checks', () => {
  const clock = new HybridClock({ now: () => 1_000_000_000 })
  const ok: HeartbeatFields = { peerId: 'P1', addrs: ['/ip4/127.0.7.2/tcp/7001', '/ip4/127.0.7.2/tcp/7001/p2p/P1'], api: 'http://127.0.7.2:7002', zone: 3, epoch: 7n, hlc: makeHlc(1_000_000_000) }
  const ctx = { from: 'P1', checkHlc: (h: bigint) => clock.implausible(h), checkEpoch: (e: bigint) => new MembershipView(info(0)).checkEpoch(e) }
  const check = (over: Partial<HeartbeatFields>): string | undefined => checkHeartbeat({ ...ok, ...over }, ctx)

  it('accepts an honest heartbeat', () => {
    expect(check({})).toBeUndefined()
    expect(check({ addrs: ['/ip6/::1/tcp/7001', '/dns4/node-a.example/tcp/7001'], api: 'http://[::1]:7002' })).toBeUndefined()
    expect(check({ api: 'http://node-a.example:7002' })).toBeUndefined()
    expect(check({ hlc: makeHlc(1_000_000_000 + DEFAULT_MAX_DRIFT_MS) })).toBeUndefined()
  })

  it('rejects each bad field with a reason', () => {
    expect(check({ peerId: 'P2' })).toMatch(/signed by P1/)
    expect(check({ addrs: Array.from({ length: MAX_ADDRS + 1 }, () => ok.addrs[0]!) })).toMatch(/addresses/)
    expect(check({ addrs: ['not a multiaddr'] })).toMatch(/not a multiaddr/)
    expect(check({ addrs: ['/ip4/999.0.0.1/tcp/1'] })).toMatch(/not a multiaddr/)
    expect(check({ addrs: ['/ip4/127.0.0.1/udp/1'] })).toMatch(/not a TCP address/)
    expect(check({ addrs: ['/ip4/127.0.0.1/tcp/1/p2p/SOMEONE-ELSE'] })).toMatch(/unexpected parts|not a multiaddr/)
    expect(check({ addrs: [`/dns4/${'a'.repeat(300)}/tcp/1`] })).toMatch(/characters/)
    expect(check({ api: 'https://127.0.0.1:1' })).toMatch(/http:\/\/host:port/)
    expect(check({ api: 'http://127.0.0.1' })).toMatch(/http:\/\/host:port/)
    expect(check({ api: 'http://127.0.0.1:0' })).toMatch(/port/)
    expect(check({ api: 'http://127.0.0.1:99999' })).toMatch(/port/)
    expect(check({ api: 'http://300.0.0.1:1' })).toMatch(/IPv4/)
    expect(check({ api: 'http://user@host:1' })).toMatch(/http:\/\/host:port/)
    expect(check({ api: 'http://a_b:1' })).toMatch(/host name/)
    expect(check({ api: 'http://h:1/path' })).toMatch(/http:\/\/host:port/)
    expect(check({ api: '' })).toMatch(/http:\/\/host:port/)
    expect(check({ zone: -1 })).toMatch(/zone/)
    expect(check({ unheard: MAX_MEMBER_COUNT })).toBeUndefined()
    expect(check({ unheard: MAX_MEMBER_COUNT + 1 })).toMatch(/^unheard 1025 is not a member count/)
    expect(check({ unheard: 0xffffffff })).toMatch(/^unheard/)
    expect(check({ epoch: U64_MAX })).toMatch(/ceiling/)
    expect(check({ hlc: U64_MAX })).toMatch(/^hlc .*ahead/)
    expect(check({ log: { maxHlc: 0n, ack: U64_MAX, gcHorizon: 0n, now: 0n } })).toMatch(/^log.ack/)
    expect(checkAddr('/ip4/127.0.0.1/tcp/1', 'P')).toBeUndefined()
    expect(checkApi('http://127.0.0.1:1')).toBeUndefined()
  })

  it('an address remembered as valid for one peer is judged afresh for another', () => {
    const mine = '/ip4/127.0.7.9/tcp/7001/p2p/P1'
    expect(check({ addrs: [mine] })).toBeUndefined()
    expect(check({ addrs: [mine] })).toBeUndefined()
    // the same string announced by P2 names another peer's id: rejected, remembered or not
    expect(checkHeartbeat({ ...ok, peerId: 'P2', addrs: [mine] }, { ...ctx, from: 'P2' })).toMatch(/unexpected parts|not a multiaddr/)
    // past the bound the oldest is forgotten and judged again, with the same answer
    for (let i = 0; i <= MAX_REMEMBERED_ADDRS; i++) expect(check({ addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`] })).toBeUndefined()
    expect(check({ addrs: [mine] })).toBeUndefined()
    expect(check({ addrs: ['/ip4/127.0.0.1/udp/1'] })).toMatch(/not a TCP address/)
    expect(check({ addrs: ['/ip4/127.0.0.1/udp/1'] })).toMatch(/not a TCP address/)
  })
})

async function peer (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('MembershipService: the members topic', () => {
  async function setup () {
    const ps = new FakePubsub()
    ps.mesh = true
    const self = await peer()
    const host = {
      services: { pubsub: ps },
      getMultiaddrs: () => [],
      peerStore: { merge: async () => {} },
      getConnections: () => [],
      dial: async () => {}
    } as unknown as Host
    const metrics = new NodeMetrics()
    const log = memoryLogger()
    const me: MemberInfo = { peerId: self, addrs: [], zone: 1, api: 'http://127.0.7.1:7002', incarnation: 1n }
    const view = new MembershipView(me, {}, 3n)
    const changes: unknown[] = []
    const svc = new MembershipService({
      host,
      view,
      clock: new HybridClock(systemTime),
      logger: log,
      metrics,
      state: { objects: () => 0, logSummary: () => ({ count: 0, fingerprint: 0n, maxHlc: 0n }), busy: () => false }
    }, { self: me, bootstrap: [], onChange: (c) => { changes.push(c) } })
    svc.topic.start()
    return { ps, view, metrics, log, svc, changes }
  }

  const beat = (peerId: string, over: Record<string, unknown> = {}): Uint8Array => toBinary(HeartbeatSchema, create(HeartbeatSchema, {
    peerId,
    addrs: ['/ip4/127.0.7.9/tcp/7001'],
    zone: 9,
    api: 'http://127.0.7.9:7002',
    epoch: 1n,
    membersHash: 1n,
    hlc: makeHlc(Date.now()),
    incarnation: 1n,
    log: create(LogSummarySchema, {}),
    ...over
  }))

  it('rejects a heartbeat with epoch 2^64−1 (counted, logged) and, delivered anyway, applies nothing and throws nothing', async () => {
    const { ps, view, metrics, log, changes, svc } = await setup()
    const bad = await peer()
    const msg = signed(TOPIC_MEMBERS, beat(bad, { epoch: U64_MAX }), bad)
    expect(await ps.validate(msg)).toBe('reject')
    expect(await counter(metrics.rejected, { kind: 'heartbeat' })).toBe(1)
    expect(log.lines.some((l) => l.level === 'warn' && /rejected heartbeat: epoch .* above the ceiling/.test(l.msg))).toBe(true)
    // a message that reaches deliver without the validator (the view re-checks)
    expect(() => { ps.deliver(msg) }).not.toThrow()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(view.epoch).toBe(3n)
    expect(view.maxEpochSeen).toBe(3n)
    expect(view.members()).toHaveLength(1)
    expect(changes).toEqual([])
    // nothing of it reached the per-peer state either (anti-entropy and GC read that)
    expect(svc.peers.has(bad)).toBe(false)
    expect(await counter(metrics.rejected, { kind: 'heartbeat' })).toBe(2)
  })

  it('rejects bad zone/addrs/api heartbeats in the validator; an honest one is accepted and joins', async () => {
    const { ps, view, metrics } = await setup()
    const p = await peer()
    for (const over of [{ addrs: ['/ip4/127.0.7.9/udp/1'] }, { api: 'javascript:alert(1)' }, { addrs: Array.from({ length: 17 }, () => '/ip4/127.0.7.9/tcp/7001') }, { hlc: U64_MAX }]) {
      expect(await ps.validate(signed(TOPIC_MEMBERS, beat(p, over), p))).toBe('reject')
    }
    expect(await counter(metrics.rejected, { kind: 'heartbeat' })).toBe(4)
    const good = signed(TOPIC_MEMBERS, beat(p), p)
    expect(await ps.validate(good)).toBe('accept')
    ps.deliver(good)
    expect(view.members().map((m) => m.peerId)).toContain(p)
    expect(view.epoch).toBe(4n)
  })

  it('after joining, an epoch more than MAX_EPOCH_LEAD ahead is rejected', async () => {
    const { ps, view } = await setup()
    view.anchorEpochs()
    const p = await peer()
    expect(await ps.validate(signed(TOPIC_MEMBERS, beat(p, { epoch: 4n + MAX_EPOCH_LEAD }), p))).toBe('reject')
    expect(await ps.validate(signed(TOPIC_MEMBERS, beat(p, { epoch: 3n + MAX_EPOCH_LEAD }), p))).toBe('accept')
  })

  it('hostile heartbeats (random bytes, edge numbers, odd strings): the validator never throws, and a rejected one changes nothing when delivered', async () => {
    const { ps, view, svc } = await setup()
    const p = await peer()
    const edge = fc.constantFrom(0n, 1n, (1n << 32n) - 1n, 1n << 53n, MAX_EPOCH, MAX_EPOCH + 1n, U64_MAX - 1n, U64_MAX)
    const str = fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('', '/ip4/127.0.7.9/tcp/7001', '/ip4/1.2.3.4/udp/1', 'http://127.0.7.9:7002', 'http://[::1]:0', 'x'.repeat(5000)))
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => ({ raw: b })),
        fc.record({ epoch: edge, hlc: edge, incarnation: edge, zone: fc.nat(), api: str, addrs: fc.array(str, { maxLength: 20 }) }).map((o) => ({ raw: beat(p, o) }))
      ),
      async ({ raw }) => {
        const before = { epoch: view.epoch, seen: view.maxEpochSeen, members: view.members().length, peers: svc.peers.size }
        const msg = signed(TOPIC_MEMBERS, raw, p)
        const verdict = await ps.validate(msg)
        expect(['accept', 'reject', 'ignore']).toContain(verdict)
        if (verdict !== 'reject') return
        expect(() => { ps.deliver(msg) }).not.toThrow()
        expect({ epoch: view.epoch, seen: view.maxEpochSeen, members: view.members().length, peers: svc.peers.size }).toEqual(before)
      }), { numRuns: 300 })
  })
})
