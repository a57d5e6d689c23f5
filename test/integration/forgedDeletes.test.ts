// A member publishing forged or out-of-range deletes (issue 11, parts 2 and 3): four real
// in-process nodes over TCP on 127.0.6.x, one of them (node 0) the attacker, which writes
// hand-made gossip messages and anti-entropy frames straight onto its libp2p host. For each
// input: nothing is applied on any honest node (the live VDI reads back whole, no honest log
// or floor holds the forged record), bw_rejected_total{kind} counts it, and at the end every
// honest node is still running, restarts, and the cluster check passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { create } from '@bufbuild/protobuf'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import { InprocCluster, checkCluster, waitFor } from '../helpers/inproc.js'
import { AeFrameSchema, FloorEntrySchema, type AeFrame } from '../../src/wire/bellwether_pb.js'
import { decodeFrame, encodeFrame } from '../../src/antientropy/session.js'
import { packBatches } from '../../src/tombstones/batch.js'
import { type DeleteRec } from '../../src/tombstones/record.js'
import { toWire } from '../../src/tombstones/recordWire.js'
import { AE_MAX_SESSIONS_PER_PEER, AE_PROTOCOL, TOPIC_DELETES } from '../../src/net/constants.js'
import { asGossipSub } from '../../src/net/host.js'
import { parseVid } from '../../src/oid.js'

const OBJ = 4096
const U32_MAX = 0xffff_ffff
const U64_MAX = (1n << 64n) - 1n
const ATTACKER = 0
const HONEST = [1, 2, 3]
const VICTIM = 1

describe('forged and out-of-range deletes from a member', { timeout: 300_000 }, () => {
  let c: InprocCluster
  let vid = 0
  let objects: number[] = []

  beforeAll(async () => {
    c = await InprocCluster.start(4, { copies: 4, ipPrefix: '127.0.6', ipBase: 10 })
    const r = await c.api(1, 'POST', '/vdi', { name: 'live', size: OBJ * 4, objectSize: OBJ, copies: 4 })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    vid = parseVid(r.json.vid)
    expect((await c.api(2, 'PUT', '/vdi/live/data?offset=0', new Uint8Array(OBJ * 4).fill(7))).status).toBe(200)
    objects = HONEST.map((i) => c.node(i).node.store.cache.countVid(vid))
    expect(objects.every((n) => n === 5)).toBe(true) // 4 data objects and the inode, on every node
  }, 150_000)
  afterAll(async () => { await c?.stop() })

  const peer = (i: number): string => c.node(i).peerId

  /** bw_rejected_total{kind} as node i's /metrics serves it */
  async function rejected (i: number, kind: string): Promise<number> {
    const text = (await (await fetch(`${c.node(i).apiUrl}/metrics`)).text())
    const m = text.match(new RegExp(`^bw_rejected_total\\{kind="${kind}"\\} (\\d+)$`, 'm'))
    return m == null ? 0 : Number(m[1])
  }

  async function counts (nodes: number[], kind: string): Promise<number[]> {
    return await Promise.all(nodes.map(async (i) => await rejected(i, kind)))
  }

  /** waits until each of `nodes` counted more `kind` rejections than `before` */
  async function waitCounted (nodes: number[], kind: string, before: number[]): Promise<void> {
    await waitFor(async () => (await counts(nodes, kind)).every((n, k) => n > before[k]!), 30_000, `${kind} rejections on nodes ${nodes.join(',')}`)
  }

  /** the forged records reached no honest log, the live VDI is whole everywhere, no floor entry for it */
  async function nothingApplied (forged: DeleteRec[]): Promise<void> {
    for (const i of HONEST) {
      const n = c.node(i).node
      for (const f of forged) expect(n.deleteLog.has(f.origin, f.seq), `node ${i} holds ${f.origin}/${f.seq}`).toBe(false)
      expect(n.deleteLog.records().some((r) => r.vid === vid), `node ${i} holds a record of the live vid`).toBe(false)
      expect(n.floor.get(vid)).toBeUndefined()
      expect(n.tombstones.deletedGeneration(vid)).toBeUndefined()
      expect(n.store.cache.countVid(vid)).toBe(5)
      const res = await fetch(`${c.node(i).apiUrl}/vdi/live/data?offset=0&length=${OBJ * 4}`)
      const body = new Uint8Array(await res.arrayBuffer())
      expect(res.status, `read of the live VDI through node ${i}: ${new TextDecoder().decode(body.subarray(0, 300))}`).toBe(200)
      expect(body.every((b) => b === 7)).toBe(true)
    }
  }

  /** the attacker publishes these records as gossip (signed by it), retrying until a mesh takes it */
  async function gossip (recs: DeleteRec[]): Promise<void> {
    const ps = c.node(ATTACKER).node.libp2p.services.pubsub
    for (const b of packBatches(recs)) {
      await waitFor(async () => { try { await ps.publish(TOPIC_DELETES, b); return true } catch { return false } }, 30_000, 'a mesh to publish into')
    }
  }

  /** the attacker opens an anti-entropy stream to node `to`, sends `frames`, and reads what comes back */
  async function ae (to: number, frames: AeFrame[]): Promise<AeFrame[]> {
    const stream = await c.node(ATTACKER).node.libp2p.dialProtocol(peerIdFromString(peer(to)), AE_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const sent = pipe(frames.map(encodeFrame), (s) => lp.encode(s), stream.sink).catch(() => {})
    const replies: AeFrame[] = []
    try {
      for await (const chunk of lp.decode(stream.source)) {
        const f = decodeFrame(chunk.subarray())
        replies.push(f)
        if (f.done) break
      }
    } catch {}
    await sent
    await stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => { stream.abort(new Error('done')) })
    return replies
  }

  const vdiRec = (over: Partial<DeleteRec>): DeleteRec =>
    ({ kind: 'vdi', origin: peer(ATTACKER), seq: c.node(ATTACKER).node.deleteLog.nextSeq(peer(ATTACKER)) + 100n, hlc: c.node(ATTACKER).node.now(), vid, generation: 1, ...over }) as DeleteRec

  it('gossip: a batch with a record naming an origin other than its signed author is rejected whole, with a score penalty', async () => {
    const before = await counts(HONEST, 'delete-origin')
    // the victim's own next seq: the record it would write next
    const forged = vdiRec({ origin: peer(VICTIM), seq: c.node(VICTIM).node.deleteLog.nextSeq(peer(VICTIM)) })
    // an honest-looking record of the author in the same batch: not applied either
    const riding = vdiRec({ vid: vid + 1 })
    await gossip([riding, forged])
    await waitCounted(HONEST, 'delete-origin', before)
    // gossipsub's P4: the forwarder (the attacker) scores below zero on every honest node
    await waitFor(() => HONEST.every((i) => (asGossipSub(c.node(i).node.libp2p)?.getScore(peer(ATTACKER)) ?? 0) < 0), 10_000, 'a negative score for the attacker')
    await nothingApplied([forged, riding])
  })

  it('gossip: generation 2^32-1 against a live VDI is rejected; the VDI stays live and no floor entry appears', async () => {
    const before = await counts(HONEST, 'delete-generation')
    const forged = vdiRec({ generation: U32_MAX })
    await gossip([forged])
    await waitCounted(HONEST, 'delete-generation', before)
    await nothingApplied([forged])
  })

  it('gossip: seq 2^64-1 is rejected, claiming the victim origin or the author\'s own; the victim still deletes', async () => {
    const beforeOrigin = await counts(HONEST, 'delete-origin')
    const beforeSeq = await counts(HONEST, 'delete-seq')
    const victimClaim = vdiRec({ origin: peer(VICTIM), seq: U64_MAX, vid: vid + 2 })
    const ownClaim = vdiRec({ seq: U64_MAX, vid: vid + 2 })
    await gossip([victimClaim])
    await gossip([ownClaim])
    await waitCounted(HONEST, 'delete-origin', beforeOrigin)
    await waitCounted(HONEST, 'delete-seq', beforeSeq)
    await nothingApplied([victimClaim, ownClaim])
    // the victim's seqs are its own: a delete through it works and reaches everyone
    expect((await c.api(VICTIM, 'POST', '/vdi', { name: 'tmp', size: OBJ, objectSize: OBJ, copies: 4 })).status).toBe(200)
    expect((await c.api(VICTIM, 'DELETE', '/vdi/tmp')).status).toBe(200)
    await waitFor(() => c.running().every((n) => n.node.deleteLog.records().some((r) => r.origin === peer(VICTIM))), 30_000, 'the victim\'s delete on every node')
  })

  it('anti-entropy: a first frame with a floor entry of vid above 0xFFFFFF is refused whole; nothing is purged', async () => {
    const before = await counts(HONEST, 'floor-entry')
    for (const i of HONEST) {
      await ae(i, [create(AeFrameSchema, {
        floor: [create(FloorEntrySchema, { vid: 0x1000000, generation: 1 }), create(FloorEntrySchema, { vid, generation: 1 })],
        floorHash: 1n,
        done: true
      })])
    }
    await waitCounted(HONEST, 'floor-entry', before)
    await nothingApplied([])
  })

  it('anti-entropy: a frame with a record of vid above 0xFFFFFF ends the session with an error; nothing of it is applied', async () => {
    const before = await counts(HONEST, 'ae-frame')
    const good = vdiRec({ vid: vid + 4 })
    const bad = toWire(vdiRec({ seq: good.seq + 1n }))
    bad.vid = 0x1000000
    for (const i of HONEST) {
      const replies = await ae(i, [create(AeFrameSchema, { records: [toWire(good), bad], done: true })])
      expect(replies.at(-1)?.error).toMatch(/vid 16777216 out of range/)
    }
    await waitCounted(HONEST, 'ae-frame', before)
    await nothingApplied([good])
  })

  it('anti-entropy: a record of the victim\'s own origin that it never wrote is refused by the victim', async () => {
    const before = await rejected(VICTIM, 'delete-own-origin')
    const forged = vdiRec({ origin: peer(VICTIM), seq: c.node(VICTIM).node.deleteLog.nextSeq(peer(VICTIM)) + 3n })
    await ae(VICTIM, [create(AeFrameSchema, { records: [toWire(forged)], done: true })])
    await waitCounted([VICTIM], 'delete-own-origin', [before])
    await nothingApplied([forged])
  })

  it('anti-entropy: relayed records with generation 2^32-1 or seq 2^64-1 are refused; the good record beside them is taken', async () => {
    const beforeGen = await rejected(2, 'delete-generation')
    const beforeSeq = await rejected(3, 'delete-seq')
    const badGen = vdiRec({ origin: peer(3), seq: c.node(3).node.deleteLog.nextSeq(peer(3)) + 5n, generation: U32_MAX })
    // an honest-looking delete of a vid nobody uses: anti-entropy takes records one by one
    const good = vdiRec({ vid: vid + 3 })
    await ae(2, [create(AeFrameSchema, { records: [toWire(badGen), toWire(good)], done: true })])
    await waitCounted([2], 'delete-generation', [beforeGen])
    expect(c.node(2).node.deleteLog.has(good.origin, good.seq)).toBe(true)
    const badSeq = vdiRec({ origin: peer(VICTIM), seq: U64_MAX })
    await ae(3, [create(AeFrameSchema, { records: [toWire(badSeq)], done: true })])
    await waitCounted([3], 'delete-seq', [beforeSeq])
    await nothingApplied([badGen, badSeq])
  })

  it('anti-entropy: sessions one peer may hold open at once are capped', async () => {
    const before = await rejected(VICTIM, 'ae-sessions')
    const streams: Stream[] = []
    try {
      // idle sessions (no frame sent): each holds a responder slot until its deadline
      for (let k = 0; k <= AE_MAX_SESSIONS_PER_PEER; k++) {
        streams.push(await c.node(ATTACKER).node.libp2p.dialProtocol(peerIdFromString(peer(VICTIM)), AE_PROTOCOL, { signal: AbortSignal.timeout(10_000) }))
      }
      await waitCounted([VICTIM], 'ae-sessions', [before])
    } finally {
      for (const s of streams) s.abort(new Error('test over'))
    }
  })

  it('every honest node is still running, restarts, and the cluster check passes', async () => {
    for (const i of HONEST) {
      expect((await c.api(i, 'GET', '/status')).status).toBe(200)
      await c.stopNode(i)
      await c.startNode(i)
      expect(c.node(i).node.startupProblems).toEqual([])
    }
    await c.waitMembers(60_000)
    await nothingApplied([])
    expect((await checkCluster(c)).problems).toEqual([])
  })
})
