// The simulator's parts on their own: the virtual-time queue (order, ties by insertion), the
// network model (loss, partitions, lives, FIFO streams), the parameters (one seed → the same
// parameters, overrides never shift the others, bad flags named) and the in-memory delete log.
import { describe, expect, it } from 'vitest'
import { EventQueue } from '../../src/sim/eventQueue.js'
import { Network } from '../../src/sim/network.js'
import { MemLog } from '../../src/sim/memLog.js'
import { ParamError, deriveParams, parseLatency, parsePartitions, replayCommand } from '../../src/sim/params.js'
import { seededRng } from '../../src/rng.js'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'

describe('EventQueue', () => {
  it('pops in time order, equal times in insertion order', () => {
    const q = new EventQueue()
    const r = seededRng(1)
    const want: Array<[number, number]> = []
    for (let i = 0; i < 5000; i++) {
      const t = Math.floor(r() * 50)
      q.push(t, 1, i)
      want.push([t, i])
    }
    want.sort((x, y) => x[0] - y[0] || x[1] - y[1])
    const got: Array<[number, number]> = []
    while (q.pop()) got.push([q.now, q.a])
    expect(got).toEqual(want)
  })

  it('never schedules into the past and carries payloads', () => {
    const q = new EventQueue()
    q.push(10, 2, 1, 2, 3, 4, 5, 'x')
    expect(q.pop()).toBe(true)
    q.push(3, 7, 9)
    expect(q.pop()).toBe(true)
    expect([q.now, q.kind, q.a]).toEqual([10, 7, 9])
    q.push(11, 1, 0, 0, 0, 0, 0, { y: 1 })
    q.pop()
    expect(q.obj).toEqual({ y: 1 })
    expect(q.pop()).toBe(false)
  })
})

describe('Network', () => {
  it('drops across partition groups and to earlier lives; streams are FIFO', () => {
    const q = new EventQueue()
    const net = new Network(3, q, seededRng(2), { kind: 'uniform', min: 1, max: 50 }, 0, 0, 0)
    net.group[2] = 1
    expect(net.send(1, 0, 2, 0, 0, undefined, 10)).toBe(-1)
    let last = 0
    for (let i = 0; i < 100; i++) last = net.send(7, 0, 1, 0, i, undefined, 10, true, last)
    let prev = -1
    while (q.pop()) {
      expect(net.admit(q.a, q.b, q.d)).toBe(true)
      expect(q.e).toBe(prev + 1)
      prev = q.e
    }
    net.send(1, 0, 1, 0, 0, undefined, 10)
    net.life[1] = 1 // node 1 restarted while the message flew
    q.pop()
    expect(net.admit(q.a, q.b, q.d)).toBe(false)
  })

  it('loses about the loss rate of datagrams and none of a stream', () => {
    const q = new EventQueue()
    const net = new Network(2, q, seededRng(3), { kind: 'fixed', ms: 5 }, 0.2, 0, 0)
    let lost = 0
    for (let i = 0; i < 10_000; i++) if (net.send(1, 0, 1, 0, 0, undefined, 1) < 0) lost++
    expect(lost).toBeGreaterThan(1700)
    expect(lost).toBeLessThan(2300)
    for (let i = 0; i < 1000; i++) expect(net.send(7, 0, 1, 0, 0, undefined, 1, true)).toBeGreaterThan(0)
    expect(net.stats.retransmitted).toBeGreaterThan(100)
  })
})

describe('parameters', () => {
  it('one seed, one set of parameters; an override changes nothing else', () => {
    const a = deriveParams(42n)
    expect(deriveParams(42n)).toEqual(a)
    const b = deriveParams(42n, { loss: 0.01 })
    expect(b.loss).toBe(0.01)
    expect({ ...b, loss: a.loss }).toEqual(a)
    expect(deriveParams(43n)).not.toEqual(a)
    expect(a.nodes).toBeGreaterThanOrEqual(5)
    expect(a.nodes).toBeLessThanOrEqual(12)
  })

  it('names the bad flag', () => {
    expect(() => parseLatency('normal:3')).toThrow(/--latency/)
    expect(parseLatency('exp:20:2')).toEqual({ kind: 'exp', mean: 20, min: 2 })
    expect(parseLatency('uniform:1:9')).toEqual({ kind: 'uniform', min: 1, max: 9 })
    expect(() => parsePartitions('sometimes')).toThrow(/--partitions/)
    expect(parsePartitions('minority:2')).toEqual({ mode: 'minority', count: 2 })
    expect(() => deriveParams(1n, { loss: 0.7 })).toThrow(ParamError)
    expect(() => deriveParams(1n, { ticks: 3 })).toThrow(/--ticks must be an integer of at least/)
  })

  it('the replay command carries the seed and every override', () => {
    const o = { nodes: 9, loss: 0.05, plantBug: 'skip-purge-gate' as const }
    expect(replayCommand(deriveParams(77n, o), o)).toBe('bellwether sim --nodes 9 --seed 77 --loss 0.05 --plant-bug skip-purge-gate')
  })
})

describe('MemLog', () => {
  const rec = (origin: string, seq: bigint, hlc: bigint): DeleteRec => ({ kind: 'vdi', origin, seq, hlc, vid: 5, generation: 0 })

  it('appends once per (origin, seq), keeps the summary a ReconSet would, compacts', () => {
    const log = new MemLog()
    const a = rec('a', 1n, 10n)
    const b = rec('a', 2n, 20n)
    expect(log.append([a, b, a])).toEqual([a, b])
    expect(log.append([b])).toEqual([])
    const s = log.summary()
    expect(s.count).toBe(2)
    expect(s.fingerprint).toBe((recordHash(a) + recordHash(b)) & ((1n << 64n) - 1n))
    expect(s.maxHlc).toBe(20n)
    expect(log.has('a', 2n)).toBe(true)
    expect(log.nextSeq('a')).toBe(3n)
    expect(log.compact([b])).toBe(1)
    expect(log.nextSeq('a')).toBe(2n)
    expect(log.summary()).toEqual({ count: 1, fingerprint: recordHash(a), maxHlc: 10n })
  })
})
