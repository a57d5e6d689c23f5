// DeleteReplica (src/tombstones/replica.ts) with fakes only: an in-memory log and a driver
// loop that executes its effects synchronously and reports them back, as the node's
// DeleteDriver and the simulator do. No files, sockets, timers or clock.
import { describe, expect, it } from 'vitest'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { FloorState } from '../../src/tombstones/floor.js'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import type { Effect, Opening } from '../../src/tombstones/replicaTypes.js'
import { MemLog } from '../../src/sim/memLog.js'
import { MemDeleteLog } from '../../src/tombstones/memDeleteLog.js'
import { vidToDataOid } from '../../src/oid.js'

const SELF = 'me'
const PEER = 'peer-b'

/** a replica and a synchronous driver: every effect executed in order, completions reported back */
function harness (members: string[] = [SELF, PEER], log = new MemLog(), savedFloor = new FloorState()) {
  const r = new DeleteReplica({ self: SELF, log, members: () => members })
  const done: Effect[] = []
  let saved = savedFloor
  const run = (effects: Effect[]): Effect[] => {
    const queue = [...effects]
    while (queue.length > 0) {
      const e = queue.shift()!
      done.push(e)
      if (e.type === 'append') {
        queue.unshift(...r.appended(log.append(e.recs), e.source))
      } else if (e.type === 'saveFloor') {
        saved = e.state.copy()
        queue.unshift(...r.floorSaved(e.state))
      } else if (e.type === 'compact') {
        queue.unshift(...r.compacted(log.compact(e.drop)))
      }
    }
    return effects
  }
  return { r, log, done, run, saved: () => saved, members }
}

const vdi = (origin: string, seq: bigint, vid: number, generation = 1, hlc = 100n): DeleteRec => ({ kind: 'vdi', origin, seq, hlc, vid, generation })
const types = (es: Effect[]): string[] => es.map((e) => e.type === 'append' || e.type === 'purge' ? `${e.type}:${e.source}` : e.type === 'saveFloor' ? `saveFloor:${e.why}` : e.type)

describe('DeleteReplica: records', () => {
  it('originate → append; only once appended: index, set, then purge and publish', () => {
    const { r, run, done } = harness()
    const rec = vdi(SELF, r.nextSeq(), 7)
    const effects = r.originate([rec])
    expect(types(effects)).toEqual(['append:local'])
    // nothing counts before the log made it durable
    expect(r.index.isVdiDeleted(7, 1)).toBe(false)
    expect(r.set.size).toBe(0)
    run(effects)
    expect(types(done)).toEqual(['append:local', 'purge:local', 'publish'])
    expect(r.index.covers(vidToDataOid(7, 0), 1, 5n)).toBeDefined()
    expect(r.set.has(recordHash(rec))).toBe(true)
  })

  it('a gossip batch: only records new to the log are applied and purged; none of ours is published', () => {
    const { r, run, done } = harness()
    run(r.onRecords([vdi(PEER, 1n, 3)], 'gossip'))
    done.length = 0
    run(r.onRecords([vdi(PEER, 1n, 3), vdi(PEER, 2n, 4)], 'gossip'))
    const purge = done.find((e) => e.type === 'purge')
    expect(purge?.type === 'purge' && purge.recs.map((x) => x.seq)).toEqual([2n])
    expect(done.some((e) => e.type === 'publish')).toBe(false)
    expect(r.set.size).toBe(2)
  })

  it('records the saved floor stands for are dropped before the log, and leave the set', () => {
    const floor = new FloorState()
    floor.raise(5, 2)
    const { r, run } = harness(undefined, undefined, floor)
    run(r.load(floor.copy()))
    expect(r.onRecords([vdi(PEER, 1n, 5, 2)], 'ae')).toEqual([])
    expect(types(r.onRecords([vdi(PEER, 2n, 5, 3)], 'ae'))).toEqual(['append:ae'])
  })
})

describe('DeleteReplica: sessions and floors', () => {
  it('an opening ships the floor on a reset or a floor digest that differs, not otherwise', () => {
    const floor = new FloorState()
    floor.raise(9, 1)
    floor.advance(500n)
    const { r, run } = harness(undefined, undefined, floor)
    run(r.load(floor.copy()))
    // the peer never announced an ack: behind our horizon → a reset with the floor
    const o = r.sessionOpening(PEER, 1000n)
    expect(o).toMatchObject({ now: 1000n, reset: true, gcHorizon: 500n, floorHash: floor.hash(), floor: [{ vid: 9, generation: 1 }] })
    // it caught up (ack past our horizon) and has our floor: nothing to ship
    r.onOpening(PEER, { now: 900n, ack: 600n, gcHorizon: 500n, floorHash: floor.hash(), reset: false, floor: [] })
    expect(r.sessionOpening(PEER, 1001n)).toMatchObject({ reset: false, floor: [] })
  })

  it("a peer's floor with a reset: adopted only once saved, then applied, purged, and what it stands for leaves the log", () => {
    const { r, run, done, log, saved } = harness()
    run(r.onRecords([vdi(PEER, 4n, 9, 1), vdi(PEER, 5n, 10, 1)], 'ae'))
    done.length = 0
    const theirs: Opening = { now: 2000n, ack: 1500n, gcHorizon: 1200n, floorHash: 123n, reset: true, floor: [{ vid: 9, generation: 1 }] }
    expect(r.onOpening(PEER, theirs)).toEqual([])
    const fold = r.takeFloor(theirs.floor, theirs.reset)
    expect(types(fold)).toEqual(['saveFloor:floor'])
    // not adopted before the driver reports it saved
    expect(r.floor.get(9)).toBeUndefined()
    expect(r.folding).toBe(true)
    expect(() => r.tick(3000n)).toThrow(/a fold is in progress/)
    run(fold)
    expect(types(done)).toEqual(['saveFloor:floor', 'purgeVid', 'saveFloor:seqs', 'compact'])
    expect(done[1]).toMatchObject({ type: 'purgeVid', vid: 9, generation: 1, source: 'reset' })
    expect(r.floor.get(9)).toBe(1)
    expect(r.index.isVdiDeleted(9, 1)).toBe(true)
    // the folded record left the log and the set; its seq is in the saved floor first
    expect(log.has(PEER, 4n)).toBe(false)
    expect(r.set.has(recordHash(vdi(PEER, 4n, 9, 1)))).toBe(false)
    expect(saved().seq(PEER)).toBe(4n)
    expect(log.has(PEER, 5n)).toBe(true)
    expect(r.resets).toBe(1)
    expect(r.folded).toBe(1)
    expect(r.folding).toBe(false)
  })

  it('a failed save leaves the floor as it was and lets the next fold run', () => {
    const { r } = harness()
    const fold = r.takeFloor([{ vid: 3, generation: 2 }], false)
    expect(types(fold)).toEqual(['saveFloor:floor'])
    r.foldFailed()
    expect(r.floor.get(3)).toBeUndefined()
    expect(types(r.takeFloor([{ vid: 3, generation: 2 }], false))).toEqual(['saveFloor:floor'])
  })
})

describe('DeleteReplica: GC', () => {
  it('tick folds whole-VDI records once every member acknowledged them', () => {
    const { r, run, done, log } = harness()
    run(r.onRecords([vdi(PEER, 1n, 4, 1, 100n), vdi(SELF, 1n, 6, 2, 300n)], 'ae'))
    // never reconciled with the peer: ack 0, nothing folds, the round still counts
    expect(r.ack(1000n)).toBe(0n)
    expect(run(r.tick(1000n))).toEqual([])
    expect(r.rounds).toBe(1)
    // a clean session whose peer opened at 200, and the peer's ack 250
    const theirs: Opening = { now: 200n, ack: 250n, gcHorizon: 0n, floorHash: 0n, reset: false, floor: [] }
    r.onOpening(PEER, theirs)
    r.onSessionEnd(PEER, { startedAt: 10, theirs })
    expect(r.ack(1000n)).toBe(200n)
    done.length = 0
    run(r.tick(1000n))
    expect(types(done)).toEqual(['saveFloor:gc', 'saveFloor:seqs', 'compact'])
    // horizon = min(our ack 200, its ack 250): the record at hlc 100 folds, the one at 300 stays
    expect(r.floor.horizon).toBe(200n)
    expect(r.floor.get(4)).toBe(1)
    expect(r.floor.get(6)).toBeUndefined()
    expect(log.has(PEER, 1n)).toBe(false)
    expect(log.has(SELF, 1n)).toBe(true)
    expect(r.folded).toBe(1)
    expect(r.rounds).toBe(2)
  })

  it('folded records leave the reconciliation set with a log that keeps their seqs taken (the file log and MemDeleteLog)', async () => {
    const log = new MemDeleteLog()
    await log.open()
    const r = new DeleteReplica({ self: SELF, log, members: () => [SELF, PEER] })
    const run = async (effects: Effect[]): Promise<void> => {
      for (const e of effects) {
        if (e.type === 'append') await run(r.appended(await log.append(e.recs), e.source))
        else if (e.type === 'saveFloor') await run(r.floorSaved(e.state))
        else if (e.type === 'compact') await run(r.compacted(await log.compact((x) => e.drop.includes(x))))
      }
    }
    const old = vdi(PEER, 1n, 4, 1, 100n)
    const young = vdi(SELF, 1n, 6, 2, 300n)
    await run(r.onRecords([old, young], 'ae'))
    const theirs: Opening = { now: 200n, ack: 250n, gcHorizon: 0n, floorHash: 0n, reset: false, floor: [] }
    r.onOpening(PEER, theirs)
    r.onSessionEnd(PEER, { startedAt: 10, theirs })
    await run(r.tick(1000n))
    expect(r.folded).toBe(1)
    // the log keeps the folded seq taken (a restart must never reuse it) ...
    expect(log.has(PEER, 1n)).toBe(true)
    expect(log.records()).toEqual([young])
    // ... and the set holds what the log holds, not every record ever folded
    expect(r.set.has(recordHash(old))).toBe(false)
    expect(r.set.has(recordHash(young))).toBe(true)
    expect(r.set.size).toBe(1)
  })

  it('a failed session acknowledges nothing', () => {
    const { r } = harness()
    r.onSessionEnd(PEER, { startedAt: 10, error: 'peer closed the stream mid-session', theirs: { now: 200n, ack: 0n, gcHorizon: 0n, floorHash: 0n, reset: false, floor: [] } })
    expect(r.ack(1000n)).toBe(0n)
  })
})

describe('DeleteReplica: per-peer state', () => {
  it('purge before serve: reconciled only after a clean session that started after the connection opened', () => {
    const { r } = harness()
    expect(r.reconciled(PEER)).toBe(false)
    expect(r.onPeerUp(PEER, 100)).toEqual([{ type: 'startSession', peer: PEER, reason: 'connected' }])
    r.onSessionEnd(PEER, { startedAt: 50 })
    expect(r.reconciled(PEER)).toBe(false)
    r.onSessionEnd(PEER, { startedAt: 150, error: 'timed out' })
    expect(r.reconciled(PEER)).toBe(false)
    r.onSessionEnd(PEER, { startedAt: 150 })
    expect(r.reconciled(PEER)).toBe(true)
    // a new connection: reconcile again
    r.onPeerUp(PEER, 200)
    expect(r.reconciled(PEER)).toBe(false)
    expect(r.reconciled(SELF)).toBe(true)
  })

  it('onPeerForgotten drops every per-peer entry; a GC tick drops those of peers neither members nor connected', () => {
    const members = [SELF, PEER]
    const { r } = harness(members)
    const fill = (peer: string): void => {
      r.onPeerUp(peer, 1)
      r.onBeacon(peer, { hlc: 5n, log: { count: 0n, fingerprint: 0n, ack: 7n, floorHash: 0n } })
      r.onSessionEnd(peer, { startedAt: 2, theirs: { now: 9n, ack: 8n, gcHorizon: 0n, floorHash: 1n, reset: false, floor: [] } })
    }
    fill(PEER)
    const one = r.peerStateSize()
    expect(one).toBe(6) // synced, acks, syncedAt, connectedAt, floor digest, connected
    r.onPeerForgotten(PEER)
    expect(r.peerStateSize()).toBe(0)
    // a stranger that connected and left: gone when its last connection closes
    fill('stranger')
    r.onPeerDown('stranger')
    expect(r.peerStateSize()).toBe(0)
    // a member evicted while disconnected: the next tick forgets it
    fill(PEER)
    r.onPeerDown(PEER)
    expect(r.peerStateSize()).toBe(one - 1)
    members.splice(1, 1)
    r.tick(10n)
    expect(r.peerStateSize()).toBe(0)
  })
})

describe('DeleteReplica: seqs', () => {
  it('never hands a seq out twice: not across interleaved deletes, nor after a fold and a restart', () => {
    const h = harness([SELF])
    const seen = new Set<bigint>()
    const take = (r: DeleteReplica): bigint => {
      const s = r.nextSeq()
      expect(seen.has(s), `seq ${s} handed out twice`).toBe(false)
      seen.add(s)
      return s
    }
    // two deletes take their seqs before either is durable
    const a = vdi(SELF, take(h.r), 1, 1, 10n)
    const b = vdi(SELF, take(h.r), 2, 1, 20n)
    h.run(h.r.originate([b]))
    h.run(h.r.originate([a]))
    // alone in the cluster: its ack is now; both fold away and leave the log
    h.run(h.r.tick(1000n))
    expect(h.log.records()).toEqual([])
    expect(h.saved().seq(SELF)).toBe(2n)
    // a restart: a new replica over the same (now empty) log and the saved floor
    const again = new DeleteReplica({ self: SELF, log: h.log, members: () => [SELF] })
    again.load(h.saved().copy())
    expect(take(again)).toBe(3n)
    // a record of ours learned back from a peer with a higher seq: the allocator jumps past it
    h.log.append([vdi(SELF, 40n, 3)])
    expect(take(again)).toBe(41n)
  })
})
