// MembershipService (src/membership/membership.ts) in virtual time on a fake host and pubsub: no
// sockets, no sleeps, no real timers. A silent member is declared dead at the first failure
// tick past FAIL_AFTER_MS, not a tick earlier; a member that cannot be dialed is redialed
// after 1, 2, 4, 4 … s; joinedAt latches on agreement or at JOIN_TIMEOUT_MS exactly; stop()
// leaves no timer behind.
import { describe, expect, it } from 'vitest'
import { create, toBinary } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { HeartbeatSchema, LogSummarySchema } from '../../src/wire/bellwether_pb.js'
import { MembershipView, computeMembersHash, type MemberInfo, type ViewChange } from '../../src/membership/view.js'
import { HybridClock, makeHlc } from '../../src/hlc.js'
import { MembershipService } from '../../src/membership/membership.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { FAIL_AFTER_MS, JOIN_TIMEOUT_MS, TOPIC_MEMBERS } from '../../src/net/constants.js'
import type { Host } from '../../src/net/host.js'
import { VirtualTime } from '../../src/time.js'
import { FakePubsub, memoryLogger, signed } from '../helpers/fakePubsub.js'

const T0 = 1_800_000_000_000
/** the failure tick's period, as MembershipService.start sets it */
const TICK_MS = Math.max(200, FAIL_AFTER_MS / 10)

async function peer (): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

async function setup (opts: { bootstrap?: (self: string, other: string) => string[] } = {}) {
  const vt = new VirtualTime(T0)
  const ps = new FakePubsub()
  ps.mesh = true
  const self = await peer()
  const other = await peer()
  const dials: number[] = []
  const host = {
    services: { pubsub: ps },
    getMultiaddrs: () => [],
    peerStore: { merge: async () => {} },
    getConnections: () => [],
    dial: async () => { dials.push(vt.now()); throw new Error('connection refused') }
  } as unknown as Host
  const me: MemberInfo = { peerId: self, addrs: [], zone: 1, api: 'http://127.0.10.10:7002', incarnation: 1n }
  const view = new MembershipView(me, { failAfterMs: FAIL_AFTER_MS })
  const changes: Array<{ at: number, change: ViewChange }> = []
  const svc = new MembershipService({
    host,
    view,
    clock: new HybridClock(vt),
    logger: memoryLogger(),
    metrics: new NodeMetrics(),
    timers: vt,
    state: { objects: () => 0, logSummary: () => ({ count: 0, fingerprint: 0n, maxHlc: 0n }), busy: () => false }
  }, { self: me, bootstrap: opts.bootstrap?.(self, other) ?? [], onChange: (change) => { changes.push({ at: vt.now(), change }) } })
  /** `other`'s heartbeat arrives now */
  const hear = (over: Record<string, unknown> = {}): void => {
    ps.deliver(signed(TOPIC_MEMBERS, toBinary(HeartbeatSchema, create(HeartbeatSchema, {
      peerId: other,
      addrs: ['/ip4/127.0.10.11/tcp/7001'],
      zone: 2,
      api: 'http://127.0.10.11:7002',
      epoch: 1n,
      membersHash: 1n,
      hlc: makeHlc(vt.now()),
      incarnation: 1n,
      log: create(LogSummarySchema, {}),
      ...over
    })), other))
  }
  return { vt, ps, self, other, view, svc, changes, dials, hear }
}

describe('MembershipService in virtual time', () => {
  it('declares a silent member dead at the first failure tick past FAIL_AFTER_MS, not before', async () => {
    const { vt, other, view, svc, changes, hear } = await setup()
    svc.start()
    await vt.advanceAsync(250)
    hear()
    expect(view.status(other)).toBe('alive')
    expect(changes.map((c) => [c.at - T0, c.change.joined])).toEqual([[250, [other]]])
    const heard = vt.now()
    const deadAt = T0 + (Math.floor((heard - T0 + FAIL_AFTER_MS) / TICK_MS) + 1) * TICK_MS
    await vt.runUntilAsync(deadAt - 1)
    expect(view.status(other)).toBe('alive')
    expect(changes).toHaveLength(1)
    await vt.runUntilAsync(deadAt)
    expect(view.status(other)).toBe('dead')
    expect(changes.map((c) => [c.at - T0, c.change.left])).toEqual([[250, []], [deadAt - T0, [other]]])
    // strictly after the timeout, and within one tick of it
    expect(deadAt - heard).toBeGreaterThan(FAIL_AFTER_MS)
    expect(deadAt - heard).toBeLessThanOrEqual(FAIL_AFTER_MS + TICK_MS)
    await svc.stop()
    expect(vt.pending).toBe(0)
  })

  it('a member that keeps beating stays alive however long it runs', async () => {
    const { vt, other, view, svc, changes, hear } = await setup()
    svc.start()
    for (let i = 0; i < 60; i++) {
      hear()
      await vt.advanceAsync(FAIL_AFTER_MS - 1)
    }
    expect(view.status(other)).toBe('alive')
    expect(changes).toHaveLength(1)
    await svc.stop()
  })

  it('redials an unreachable bootstrap peer after 1, 2, 4, 4, 4 s, and at once after redialNow', async () => {
    const { vt, svc, dials } = await setup({ bootstrap: (_self, other) => [`/ip4/127.0.10.11/tcp/7001/p2p/${other}`] })
    svc.start()
    await vt.runUntilAsync(T0 + 15_500)
    expect(dials.map((t) => t - T0)).toEqual([0, 1000, 3000, 7000, 11_000, 15_000])
    svc.redialNow()
    await vt.advanceAsync(0)
    expect(dials.at(-1)! - T0).toBe(15_500)
    await svc.stop()
    expect(vt.pending).toBe(0)
  })

  it('joins at JOIN_TIMEOUT_MS exactly when no peer agrees on the member set', async () => {
    const { vt, svc } = await setup({ bootstrap: (_self, other) => [`/ip4/127.0.10.11/tcp/7001/p2p/${other}`] })
    svc.start()
    expect(svc.joinedAt).toBeUndefined()
    expect(svc.joining()).toMatch(/at most 10 s more/)
    await vt.runUntilAsync(T0 + JOIN_TIMEOUT_MS - 1)
    expect(svc.joinedAt).toBeUndefined()
    await vt.runUntilAsync(T0 + JOIN_TIMEOUT_MS + TICK_MS)
    expect(svc.joinedAt).toBe(T0 + Math.ceil(JOIN_TIMEOUT_MS / TICK_MS) * TICK_MS)
    expect(svc.joining()).toBeUndefined()
    await svc.stop()
  })

  it('joins the moment a peer reports the same member set', async () => {
    const { vt, self, other, svc, hear } = await setup({ bootstrap: (_self, o) => [`/ip4/127.0.10.11/tcp/7001/p2p/${o}`] })
    svc.start()
    await vt.advanceAsync(2345)
    hear({ membersHash: 1n }) // heard, but it does not agree yet
    expect(svc.joinedAt).toBeUndefined()
    await vt.advanceAsync(1000)
    hear({ membersHash: computeMembersHash([self, other]) })
    expect(svc.joinedAt).toBe(T0 + 3345)
    await svc.stop()
  })

  it('with nobody to join, serves from the start', async () => {
    const { svc } = await setup()
    svc.start()
    expect(svc.joinedAt).toBe(T0)
    await svc.stop()
  })
})
