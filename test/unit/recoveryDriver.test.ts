// The recovery driver (sans-I/O) against a small in-memory model of a cluster: each member's
// objects with versions, tombstones as a covered-oid rule. Checks tombstones first (covered
// copies are never fetched and their holders are told), newest version wins, a delete that
// lands during a transfer wins, and a copy is dropped only once its new holders have it.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { Recovery, type DeletedHint, type ObjectHeader, type RecoveryIO } from '../../src/recovery/recovery.js'
import { VirtualTime } from '../../src/time.js'

type Obj = { version: bigint, generation: number, data: Uint8Array }

function model (peers: string[], opts: { copies?: number, deleted?: (oid: bigint) => boolean, placement: (oid: bigint) => string[], unreachable?: Set<string>, rings?: Map<string, bigint> }) {
  const stores = new Map(peers.map((p) => [p, new Map<bigint, Obj>()]))
  const fetched: Array<[string, bigint]> = []
  const hints: Array<[string, DeletedHint]> = []
  let deleted = opts.deleted ?? (() => false)
  const io = (self: string): RecoveryIO => ({
    self,
    members: () => peers,
    placement: (oid) => opts.placement(oid),
    ringHash: () => 1n,
    copiesOf: async () => opts.copies ?? 2,
    reconcile: async () => undefined,
    list: async (peer) => {
      const entries = [...stores.get(peer)!].sort((a, b) => (a[0] < b[0] ? -1 : 1))
      return {
        peer,
        oids: BigUint64Array.from(entries.map((e) => e[0])),
        versions: BigUint64Array.from(entries.map((e) => e[1].version)),
        generations: Uint32Array.from(entries.map((e) => e[1].generation)),
        ring: opts.rings?.get(peer)
      }
    },
    fetch: async (peer, oid) => {
      fetched.push([peer, oid])
      const o = stores.get(peer)!.get(oid)
      if (o == null) return deleted(oid) ? 'deleted' : 'missing'
      return { header: { version: o.version, generation: o.generation }, data: o.data }
    },
    store: async (oid, h: ObjectHeader, data) => {
      if (deleted(oid)) return 'deleted'
      const mine = stores.get(self)!
      const cur = mine.get(oid)
      if (cur != null && cur.version > h.version) return 'stale'
      mine.set(oid, { ...h, data })
      return 'ok'
    },
    drop: async (oid, version) => {
      const mine = stores.get(self)!
      if (mine.get(oid)?.version !== version) return false
      return mine.delete(oid)
    },
    handOff: async (peer, oid, version) => {
      if (opts.unreachable?.has(peer) === true) throw new Error(`${peer} did not answer`)
      const o = stores.get(self)!.get(oid)
      if (o?.version !== version) return 'gone'
      if (deleted(oid)) return 'deleted'
      const there = stores.get(peer)!
      if ((there.get(oid)?.version ?? -1n) > version) return 'stale'
      there.set(oid, { ...o })
      return 'ok'
    },
    covered: (oid) => deleted(oid),
    tellDeleted: async (peer, hint) => {
      hints.push([peer, hint])
      let n = 0
      for (const oid of hint.oids) if (deleted(oid) && stores.get(peer)!.delete(oid)) n++
      return n
    },
    completed: async () => {}
  })
  return { stores, fetched, hints, io, setDeleted: (f: (oid: bigint) => boolean) => { deleted = f } }
}

const log = pino({ level: 'silent' })
const obj = (version: bigint, byte: number): Obj => ({ version, generation: 1, data: new Uint8Array(8).fill(byte) })

describe('recovery driver', () => {
  it('never fetches a covered copy, tells its holder, and recovers the live ones', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'], deleted: (oid) => oid === 2n })
    m.stores.get('b')!.set(1n, obj(10n, 1))
    m.stores.get('b')!.set(2n, obj(10n, 2))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(true)
    expect(m.fetched).toEqual([['b', 1n]])
    expect(m.stores.get('a')!.has(1n)).toBe(true)
    expect(m.stores.get('a')!.has(2n)).toBe(false)
    // read-repair: b was told about oid 2 and purged it
    expect(m.hints.map(([p, h]) => [p, h.oids])).toEqual([['b', [2n]]])
    expect(m.stores.get('b')!.has(2n)).toBe(false)
    expect(r.progress).toMatchObject({ toRecover: 1, recovered: 1, failed: 0, deletedSkipped: 1 })
    expect(r.totals.readRepaired).toBe(1)
  })

  it('the newest version wins; an older local copy is replaced, a newer one is kept', async () => {
    const m = model(['a', 'b', 'c'], { placement: () => ['a', 'b'] })
    m.stores.get('a')!.set(1n, obj(5n, 0xa))
    m.stores.get('b')!.set(1n, obj(9n, 0xb))
    m.stores.get('a')!.set(2n, obj(20n, 0xa))
    m.stores.get('c')!.set(2n, obj(3n, 0xc))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    await r.run(1n, new AbortController().signal)
    expect(m.stores.get('a')!.get(1n)!.version).toBe(9n)
    expect(m.stores.get('a')!.get(2n)!.version).toBe(20n)
    expect(m.fetched).toEqual([['b', 1n]])
  })

  it('a delete landing during the transfer wins: counted as a race, not recovered, not failed', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    m.stores.get('b')!.set(7n, obj(1n, 7))
    const io = m.io('a')
    const fetch = io.fetch
    io.fetch = async (peer, oid) => { const got = await fetch(peer, oid); m.setDeleted((o) => o === 7n); return got }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(true)
    expect(m.stores.get('a')!.has(7n)).toBe(false)
    expect(r.progress).toMatchObject({ recovered: 0, failed: 0, toRecover: 0 })
    expect(r.totals.racedDeletes).toBe(1)
  })

  it('a holder that purged the object before the fetch: a race with a delete once reconciled, never a failure', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    m.stores.get('b')!.set(9n, obj(1n, 9))
    const io = m.io('a')
    const fetch = io.fetch
    let reconciled = 0
    // b purges between the list and the fetch; a hears of the delete only by reconciling with b
    io.fetch = async (peer, oid) => { m.stores.get('b')!.delete(oid); return await fetch(peer, oid) }
    io.reconcile = async () => { if (++reconciled === 2) m.setDeleted((o) => o === 9n); return undefined }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(true)
    expect(r.progress).toMatchObject({ recovered: 0, failed: 0, toRecover: 0 })
    expect(r.totals.racedDeletes).toBe(1)
    // once per peer before listing, once more after the missing fetch
    expect(reconciled).toBe(2)
  })

  it('a holder that went away since the lists were taken: the object comes from another holder of the same version', async () => {
    const m = model(['a', 'b', 'c'], { placement: () => ['a', 'c'] })
    m.stores.get('b')!.set(3n, obj(4n, 3))
    m.stores.get('c')!.set(3n, obj(4n, 3))
    const io = m.io('a')
    const fetch = io.fetch
    io.fetch = async (peer, oid) => {
      if (peer === 'b') { m.fetched.push([peer, oid]); throw new Error('connect ECONNREFUSED') }
      return await fetch(peer, oid)
    }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(true)
    expect(m.fetched).toEqual([['b', 3n], ['c', 3n]])
    expect(m.stores.get('a')!.get(3n)!.version).toBe(4n)
    expect(r.progress).toMatchObject({ toRecover: 1, recovered: 1, failed: 0, errors: [] })
  })

  it('every holder unreachable: one failure naming each attempt, and the epoch stays incomplete', async () => {
    const m = model(['a', 'b', 'c'], { placement: () => ['a', 'c'] })
    m.stores.get('b')!.set(3n, obj(4n, 3))
    m.stores.get('c')!.set(3n, obj(4n, 3))
    const io = m.io('a')
    io.fetch = async (peer) => { throw new Error(`${peer} unreachable`) }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(false)
    expect(r.progress.failed).toBe(1)
    expect(r.progress.errors).toEqual(['0000000000000003 from b: b unreachable; from c: c unreachable'])
  })

  it('an object that vanished with no tombstone behind it is a failure, and the epoch stays incomplete', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    m.stores.get('b')!.set(4n, obj(1n, 4))
    const io = m.io('a')
    const fetch = io.fetch
    io.fetch = async (peer, oid) => { m.stores.get('b')!.delete(oid); return await fetch(peer, oid) }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(false)
    expect(r.progress.failed).toBe(1)
    expect(r.progress.errors[0]).toMatch(/no longer has it/)
  })

  it('a member it cannot reconcile with leaves the pass incomplete without counting any object as failed', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    m.stores.get('b')!.set(5n, obj(1n, 5))
    const io = m.io('a')
    io.reconcile = async () => 'peer closed the stream mid-session'
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(3n, new AbortController().signal)).toBe(false)
    expect(r.progress).toMatchObject({ failed: 0, peerFailures: 1, recovered: 0, lastCompleteEpoch: '0' })
    // tombstones first: nothing was listed from, or fetched from, the unreconciled member
    expect(m.fetched).toEqual([])
    expect(r.totals.failed).toBe(0)
  })

  it('drops a copy placement moved away only once every new holder has it, handing it to one that lags', async () => {
    const m = model(['a', 'b', 'c'], { placement: () => ['b', 'c'], unreachable: new Set(['c']) })
    m.stores.get('a')!.set(1n, obj(4n, 1))
    m.stores.get('b')!.set(1n, obj(4n, 1))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    await r.run(1n, new AbortController().signal)
    // c lacks it and does not answer: a keeps its copy
    expect(m.stores.get('a')!.has(1n)).toBe(true)
    expect(r.progress).toMatchObject({ pendingDrops: 1, dropped: 0, handedOff: 0 })
    m.stores.get('c')!.set(1n, obj(4n, 1))
    await r.run(1n, new AbortController().signal)
    expect(m.stores.get('a')!.has(1n)).toBe(false)
    expect(r.progress).toMatchObject({ pendingDrops: 0, dropped: 1, handedOff: 0 })
  })

  it('a copy newer than a target\'s (a write from a writer with another view) reaches the target before it leaves', async () => {
    // a holds version 9 though placement says b and c; c's own pass ran before that write, so c
    // still has 4: without a hand-off c would keep serving 4 until some later pass of its own
    const m = model(['a', 'b', 'c'], { placement: () => ['b', 'c'] })
    m.stores.get('a')!.set(1n, obj(9n, 9))
    m.stores.get('b')!.set(1n, obj(9n, 9))
    m.stores.get('c')!.set(1n, obj(4n, 4))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    expect(await r.run(1n, new AbortController().signal)).toBe(true)
    expect(m.stores.get('c')!.get(1n)!.version).toBe(9n)
    expect(m.stores.get('c')!.get(1n)!.data[0]).toBe(9)
    expect(m.stores.get('a')!.has(1n)).toBe(false)
    expect(r.progress).toMatchObject({ pendingDrops: 0, dropped: 1, handedOff: 1 })
  })

  it('an older copy off placement leaves without overwriting the targets\' newer one', async () => {
    const m = model(['a', 'b', 'c'], { placement: () => ['b', 'c'] })
    m.stores.get('a')!.set(1n, obj(4n, 4))
    m.stores.get('b')!.set(1n, obj(9n, 9))
    m.stores.get('c')!.set(1n, obj(9n, 9))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    await r.run(1n, new AbortController().signal)
    expect(m.stores.get('a')!.has(1n)).toBe(false)
    expect([...['b', 'c']].map((p) => m.stores.get(p)!.get(1n)!.version)).toEqual([9n, 9n])
    expect(r.progress).toMatchObject({ dropped: 1, handedOff: 0 })
  })

  it('a member that listed under another ring leaves the pass incomplete (its list still used); once rings agree the pass completes', async () => {
    // b still has the old ring: it may yet take a put that ring placed, after this list
    const rings = new Map([['b', 7n]])
    const m = model(['a', 'b'], { placement: () => ['a', 'b'], rings })
    m.stores.get('b')!.set(1n, obj(4n, 4))
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 0 })
    expect(await r.run(2n, new AbortController().signal)).toBe(false)
    expect(r.progress).toMatchObject({ recovered: 1, peerFailures: 1, lastCompleteEpoch: '0' })
    expect(r.progress.errors[0]).toMatch(/b listed its objects under another placement ring/)
    rings.set('b', 1n)
    expect(await r.run(2n, new AbortController().signal)).toBe(true)
    expect(r.progress).toMatchObject({ peerFailures: 0, lastCompleteEpoch: '2' })
  })

  it('a target whose tombstone refuses the hand-off keeps the copy here for the delete to purge', async () => {
    const m = model(['a', 'b'], { placement: () => ['b'], copies: 1 })
    m.stores.get('a')!.set(1n, obj(4n, 4))
    const io = m.io('a')
    io.handOff = async () => 'deleted'
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    await r.run(1n, new AbortController().signal)
    expect(m.stores.get('a')!.has(1n)).toBe(true)
    expect(m.stores.get('b')!.has(1n)).toBe(false)
    expect(r.progress).toMatchObject({ pendingDrops: 1, dropped: 0 })
  })

  it('a failed transfer makes the epoch incomplete and is reported, never counted as done', async () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    m.stores.get('b')!.set(3n, obj(1n, 3))
    const io = m.io('a')
    io.fetch = async () => { throw new Error('stream reset') }
    const r = new Recovery(io, log, 0n, { bytesPerSec: 0 })
    expect(await r.run(2n, new AbortController().signal)).toBe(false)
    expect(r.progress).toMatchObject({ recovered: 0, failed: 1, lastCompleteEpoch: '0' })
    expect(r.progress.errors[0]).toMatch(/stream reset/)
  })
})

describe('recovery driver in virtual time', () => {
  const T0 = 1_800_000_000_000
  const tenObjects = () => {
    const m = model(['a', 'b'], { placement: () => ['a', 'b'] })
    for (let i = 1; i <= 10; i++) m.stores.get('b')!.set(BigInt(i), { version: 1n, generation: 1, data: new Uint8Array(1000).fill(i) })
    return m
  }

  it('paces transfers through the throttle: 10 × 1000 bytes at 2000 B/s take 3.5 s after the burst', async () => {
    const vt = new VirtualTime(T0)
    const m = tenObjects()
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 2000, parallel: 1, time: vt })
    expect(await vt.drive(r.run(1n, new AbortController().signal))).toBe(true)
    // a 2000-byte burst covers two; then one per 500 ms of debt, the first after 1 ms
    expect(r.progress).toMatchObject({ recovered: 10, bytes: 10_000, startedAt: T0, finishedAt: T0 + 1 + 7 * 500 })
    expect(r.throttle.moved).toBe(10_000)
  })

  it('an abort (a newer view) ends a pass waiting on the throttle at once, leaving no timer', async () => {
    const vt = new VirtualTime(T0)
    const m = tenObjects()
    const r = new Recovery(m.io('a'), log, 0n, { bytesPerSec: 2000, parallel: 1, time: vt })
    const ctl = new AbortController()
    let result: boolean | undefined
    const run = r.run(1n, ctl.signal).then((x) => { result = x })
    await vt.advanceAsync(1200)
    expect(result).toBeUndefined()
    expect(r.progress.recovered).toBe(5) // at 0, 0, 1, 501 and 1001 ms; the sixth waits until 1501
    ctl.abort(new Error('view changed'))
    await run
    expect(result).toBe(false)
    expect(r.progress.running).toBe(false)
    expect(r.progress.finishedAt).toBe(T0 + 1200)
    expect(vt.pending).toBe(0)
  })
})
