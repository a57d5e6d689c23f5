// Fuzz targets for the handlers that take peer input into node state, driven in-process with
// the node's real parts (delete log, tombstone index, object store, floor, membership view,
// anti-entropy service) on a temp dir and the fakes of ./fakes.ts. Each input is a short
// sequence of hostile messages with replays; for each message: nothing may escape (no throw
// out of a gossip listener, no unhandled rejection, no error logged by an accepted ingest),
// and a message the handler rejects must leave every piece of state exactly as it was.
// The delete paths (gossip, anti-entropy) are in deleteHandlers.ts, shared parts in
// handlerKit.ts; this file has membership, the object protocol and floor.json, and the list.
import fc from 'fast-check'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBinary } from '@bufbuild/protobuf'
import { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { Floor, FloorFileError } from '../tombstones/floor.js'
import { ObjectStore } from '../store/objectStore.js'
import { NodeMetrics } from '../node/metrics.js'
import { MembershipService } from '../membership/membership.js'
import { NodeObjectHandler } from '../node/objectHandler.js'
import { ObjectService } from '../net/objectService.js'
import { MembershipView } from '../membership/view.js'
import { DEFAULT_MAX_DRIFT_MS, HybridClock, makeHlc } from '../hlc.js'
import { systemTime } from '../time.js'
import { TOPIC_MEMBERS } from '../net/constants.js'
import { HeartbeatSchema, ObjResponseSchema, Status } from '../wire/bellwether_pb.js'
import { MAX_VID } from '../oid.js'
import { big, expectThrownKind, fail, type FuzzTarget } from './target.js'
import { FuzzPubsub, RejectionWatch, fuzzHost, quietLogger, signedMessage } from './fakes.js'
import { U64_MAX, encodeHeartbeat, encodeObjRequest, heartbeatMsg, hostileBytes, objRequestMsg, str, u64 } from './hostile.js'
import { SELF, PEER_IDS, tempDir, withReplays, seedObjects, type Root } from './handlerKit.js'
import { aeSessionNoFloorTarget, aeSessionTarget, gossipDeletesTarget } from './deleteHandlers.js'

// ---- heartbeats on the members topic (src/membership/membership.ts) ----

interface HbH { ps: FuzzPubsub, svc: MembershipService, view: MembershipView, watch: RejectionWatch, changes: number }

function viewState (h: HbH): string {
  const v = h.view
  return JSON.stringify({ epoch: v.epoch, max: v.maxEpochSeen, members: v.members(), known: v.known(), peers: [...h.svc.peers] }, big)
}

export const heartbeatIngestTarget: FuzzTarget<Array<{ bytes: Uint8Array, signer: number }>> = {
  name: 'heartbeat-ingest',
  kind: 'handler',
  covers: 'src/membership/membership.ts validate/deliver → MembershipView.onHeartbeat, applyChange, beat',
  arbitrary: () => withReplays(fc.record({ bytes: hostileBytes(heartbeatMsg(PEER_IDS), encodeHeartbeat), signer: fc.nat({ max: 4 }) }), 4),
  check: async (msgs) => {
    const h = makeMembership()
    try { await heartbeatInput(msgs, h) } finally { h.watch.uninstall(); h.svc.topic.stop() }
  }
}

function makeMembership (): HbH {
  const ps = new FuzzPubsub()
  const self = { peerId: PEER_IDS[2]!, addrs: [], zone: 0, api: 'http://127.0.0.1:1', incarnation: 1n }
  const view = new MembershipView(self, { failAfterMs: 5000 })
  const h = { ps, view, watch: new RejectionWatch(), changes: 0 } as HbH
  h.svc = new MembershipService({
    host: fuzzHost(ps),
    view,
    clock: new HybridClock(systemTime),
    logger: quietLogger(),
    metrics: new NodeMetrics({ processMetrics: false }),
    state: { objects: () => 0, logSummary: () => ({ count: 0, fingerprint: 0n, maxHlc: 0n }), busy: () => false }
  }, { self, bootstrap: [], onChange: () => { h.changes++ } })
  h.svc.topic.start()
  h.watch.install()
  return h
}

async function heartbeatInput (msgs: Array<{ bytes: Uint8Array, signer: number }>, h: HbH): Promise<void> {
  for (const { bytes, signer } of msgs) {
    // the signer is mostly the heartbeat's own peer id (what an honest or a compromised member
    // sends); a signer is always a real peer id
    let claimed = ''
    try { claimed = fromBinary(HeartbeatSchema, bytes).peerId } catch {}
    const from = signer < 3 && PEER_IDS.includes(claimed) ? claimed : PEER_IDS[signer % PEER_IDS.length]!
    const before = viewState(h)
    const msg = signedMessage(TOPIC_MEMBERS, bytes, from)
    const verdict = await h.ps.validate(msg)
    if (verdict !== 'accept') {
      const after = viewState(h)
      if (after !== before) fail(`a rejected heartbeat (${verdict}) changed the view: ${before} → ${after}`)
    } else {
      const thrown = h.ps.deliver(msg)
      if (thrown.length > 0) fail(`an accepted heartbeat threw out of the gossip listener (uncaught in a node): ${String((thrown[0] as Error)?.stack ?? thrown[0])}`)
    }
    await h.watch.settle()
    if (h.watch.seen.length > 0) fail(`unhandled rejection after a heartbeat: ${String((h.watch.seen[0] as Error)?.stack ?? h.watch.seen[0])}`)
    if (h.view.epoch > U64_MAX) fail(`epoch left uint64: ${h.view.epoch}`)
  }
}

// ---- object protocol requests (src/net/objectService.ts → src/node/objectHandler.ts) ----

interface ObjH { dir: string, svc: ObjectService, store: ObjectStore, index: TombstoneIndex, watch: RejectionWatch }

async function storeState (store: ObjectStore): Promise<string> {
  const oids = store.cache.toBigUint64Array()
  const metas = await Promise.all(Array.from(oids, async (o) => { const m = await store.stat(o); return [o, m?.generation, m?.version, m?.checksum] }))
  return JSON.stringify(metas, big)
}

export const objectRequestTarget: FuzzTarget<Uint8Array[], Root> = {
  name: 'object-request',
  kind: 'handler',
  covers: 'src/net/objectService.ts respond() → src/node/objectHandler.ts put/get/list/purge (real ObjectStore, TombstoneIndex)',
  arbitrary: () => withReplays(hostileBytes(objRequestMsg(), encodeObjRequest), 3),
  setup: async () => ({ root: await tempDir('obj'), n: 0 }),
  teardown: async (r) => { await rm(r.root, { recursive: true, force: true }) },
  check: async (reqs, r) => {
    const h = await makeObjects(join(r.root, String(r.n++)))
    try { await objectInput(reqs, h) } finally { h.watch.uninstall(); await h.store.close(); await rm(h.dir, { recursive: true, force: true }) }
  }
}

async function makeObjects (dir: string): Promise<ObjH> {
  const store = new ObjectStore(join(dir, 'obj'), { fsync: false })
  await store.open()
  await seedObjects(store)
  const index = new TombstoneIndex()
  // vid 5 deleted through generation 5; a discard of vid 2 index 1 (gen 1) up to version 500,
  // older than the seeded copy (version 1001)
  index.apply({ kind: 'vdi', origin: 'node-a', seq: 1n, hlc: 10n, vid: 5, generation: 5 })
  index.apply({ kind: 'objects', origin: 'node-a', seq: 2n, hlc: 500n, vid: 2, generation: 1, indexes: Uint32Array.of(1) })
  const log = quietLogger()
  const handler = new NodeObjectHandler(store, index, new HybridClock(systemTime), new NodeMetrics({ processMetrics: false }), log)
  const svc = new ObjectService({ host: fuzzHost(new FuzzPubsub()), handler, logger: log })
  const watch = new RejectionWatch()
  watch.install()
  return { dir, svc, store, index, watch }
}

async function objectInput (reqs: Uint8Array[], h: ObjH): Promise<void> {
  for (const bytes of reqs) {
    const before = await storeState(h.store)
    const frames: Uint8Array[] = []
    try {
      for await (const f of (h.svc as unknown as { respond: (b: Uint8Array, from: string) => AsyncIterable<Uint8Array> }).respond(bytes, 'node-a')) frames.push(f)
    } catch (e) { fail(`respond threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack ?? ''}`) }
    if (frames.length === 0) fail('no response frame')
    const res = frames.map((f) => fromBinary(ObjResponseSchema, f))
    const first = res[0]!
    if (first.status !== Status.OK) {
      const after = await storeState(h.store)
      if (after !== before) fail(`a refused request (${Status[first.status]}: ${first.error}) changed the store: ${before} → ${after}`)
    }
    // no resurrection: nothing the tombstones cover is ever held
    for (const o of h.store.cache.toBigUint64Array()) {
      const m = await h.store.stat(o)
      if (m != null && h.index.covers(o, m.generation, m.version) != null) fail(`store holds ${o.toString(16)} (gen ${m.generation}, version ${m.version}) that a tombstone covers`)
    }
    await h.watch.settle()
    if (h.watch.seen.length > 0) fail(`unhandled rejection: ${String((h.watch.seen[0] as Error)?.stack ?? h.watch.seen[0])}`)
  }
}

/**
 * The object store never takes a version more than the maximum clock drift ahead of this
 * node's clock (issue 11 part 3: "a version more than the maximum clock skew ahead of the
 * receiver's clock is refused"): a PUT with version 2^64-1 would otherwise be served and
 * block every later real write of that object.
 */
export const objectVersionTarget: FuzzTarget<Uint8Array[], Root> = {
  ...objectRequestTarget,
  name: 'object-version',
  covers: 'src/node/objectHandler.ts put: stored versions stay within the max clock drift of the receiver',
  check: async (reqs, r) => {
    const h = await makeObjects(join(r.root, String(r.n++)))
    try {
      await objectInput(reqs, h)
      const limit = makeHlc(Date.now() + DEFAULT_MAX_DRIFT_MS + 60_000, 0xffff)
      for (const o of h.store.cache.toBigUint64Array()) {
        const m = await h.store.stat(o)
        if (m != null && m.version > limit) fail(`store took ${o.toString(16)} at version ${m.version} (0x${m.version.toString(16)}), past the drift bound 0x${limit.toString(16)}`)
      }
    } finally { h.watch.uninstall(); await h.store.close(); await rm(h.dir, { recursive: true, force: true }) }
  }
}

// ---- floor.json at start (src/tombstones/floor.ts) ----

interface FloorH { dir: string, n: number }

const floorJson = (): fc.Arbitrary<string> => fc.record({
  version: fc.constantFrom(1, 2, '1', null),
  horizon: fc.oneof(u64().map((v) => v.toString(16)), fc.constantFrom('', 'zz', '1'.repeat(17), '-1'), fc.constant(undefined), fc.integer()),
  floor: fc.oneof(
    fc.array(fc.oneof(
      fc.tuple(fc.oneof(fc.integer({ min: 0, max: MAX_VID + 1 }), fc.constantFrom(-1, 1.5, 2 ** 32, 2 ** 53)), fc.oneof(fc.nat(), fc.constantFrom(2 ** 32 - 1, 2 ** 32, -1, 0.5))),
      fc.constantFrom([1], [1, 2, 3], 'x', null, {}, [null, null], ['1', '2'])
    ), { maxLength: 5 }),
    fc.constantFrom({}, 'x', null, undefined)
  ),
  seqs: fc.oneof(
    fc.dictionary(fc.constantFrom(SELF, 'node-a', '__proto__', 'constructor', ''), fc.oneof(u64().map(String), fc.constantFrom('18446744073709551616', '-1', '1e3', '', 5, null))),
    fc.constantFrom([], 'x', null, undefined)
  )
}).map((j) => JSON.stringify(j))

export const floorFileTarget: FuzzTarget<string, FloorH> = {
  name: 'floor-file',
  kind: 'decoder',
  async: true,
  covers: 'src/tombstones/floor.ts: Floor.open (floor.json at start)',
  arbitrary: () => fc.oneof(
    { weight: 6, arbitrary: floorJson() },
    { weight: 2, arbitrary: fc.tuple(floorJson(), fc.nat(), fc.string({ maxLength: 3 })).map(([s, at, ins]) => s.slice(0, at % (s.length + 1)) + ins + s.slice(at % (s.length + 1))) },
    { weight: 1, arbitrary: fc.oneof(fc.json({ maxDepth: 2 }), str(60)) }
  ),
  setup: async () => ({ dir: await tempDir('floor'), n: 0 }),
  teardown: async (h) => { await rm(h.dir, { recursive: true, force: true }) },
  check: async (text, h) => {
    const path = join(h.dir, 'floor.json')
    await writeFile(path, text)
    const f = new Floor(path, { fsync: false })
    try { await f.open(SELF) } catch (e) { expectThrownKind(e, [FloorFileError], 'Floor.open'); return }
    if (f.horizon < 0n || f.horizon > U64_MAX) fail(`horizon ${f.horizon}`)
    for (const [vid, gen] of f.entries()) {
      if (!Number.isInteger(vid) || vid < 1 || vid > MAX_VID || !Number.isInteger(gen) || gen < 0 || gen > 0xffffffff) fail(`entry [${vid}, ${gen}] out of range`)
    }
    const s = f.seq(SELF)
    if (s < 0n || s > U64_MAX) fail(`own folded seq ${s}`)
    // what was loaded saves and loads back the same (on every 8th input: file I/O dominates)
    if (h.n++ % 8 !== 0) return
    await f.update((d) => { d.changed = true })
    const g = new Floor(path, { fsync: false })
    await g.open(SELF)
    if (g.hash() !== f.hash() || g.horizon !== f.horizon || g.seq(SELF) !== f.seq(SELF)) fail('floor does not survive a save and reload')
  }
}

export const handlerTargets: Array<FuzzTarget<any, any>> = [gossipDeletesTarget, aeSessionTarget, aeSessionNoFloorTarget, heartbeatIngestTarget, objectRequestTarget, objectVersionTarget]
