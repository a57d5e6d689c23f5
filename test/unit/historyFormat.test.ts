// The chaos history plumbing: the writer round-trips through the streaming reader (and keeps
// little in memory), oid groups encode/decode, the DeleteTracker covers exactly what was
// acknowledged (and lets a reused vid go), the sampler's filter keeps only covered oids, and
// write contents are unique per op.
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeOidGroup, encodeOidGroups, type HistoryEvent } from '../../src/chaos/history.js'
import { HistoryWriter } from '../../src/chaos/historyWriter.js'
import { readHistory } from '../../src/chaos/historyReader.js'
import { DeleteTracker } from '../../src/chaos/runState.js'
import { filterCovered } from '../../src/chaos/sampler.js'
import { parseRates, writeContent } from '../../src/chaos/workloadConfig.js'
import { contentDigest } from '../../src/chaos/history.js'

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-histfmt-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('HistoryWriter / readHistory', () => {
  it('round-trips records in order, flushing in bounded chunks', async () => {
    const path = join(dir, 'h.jsonl')
    let t = 0
    const w = HistoryWriter.open(path, { flushBytes: 1024, clock: () => t++ })
    const n = 500
    for (let i = 0; i < n; i++) {
      w.append({ type: 'invoke', id: i, process: i % 3, f: 'write', node: 0, vdi: 'v', time: w.now(), index: i, value: { digest: 'ab'.repeat(16), length: 4096 } })
      // never more than one chunk waits in memory: the file grows while we append
      if (i === 100) expect(readFileSync(path, 'utf8').split('\n').length).toBeGreaterThan(50)
    }
    w.append({ type: 'nemesis', f: 'heal', time: w.now() })
    await w.close()
    expect(w.count).toBe(n + 1)
    const got: HistoryEvent[] = []
    let last = 0
    for await (const { line, event } of readHistory(path, { maxLineBytes: 4096 })) {
      expect(line).toBe(last + 1)
      last = line
      got.push(event)
    }
    expect(got).toHaveLength(n + 1)
    expect(got[0]).toMatchObject({ type: 'invoke', id: 0, time: 0 })
    expect(got[n]).toEqual({ type: 'nemesis', f: 'heal', time: n })
  })

  it('a line longer than the limit is a clear error, not unbounded memory', async () => {
    const path = join(dir, 'long.jsonl')
    const w = HistoryWriter.open(path)
    w.append({ type: 'meta', time: 0, format: 1, info: { pad: 'x'.repeat(10_000) } })
    await w.close()
    const read = async (): Promise<void> => { for await (const _ of readHistory(path, { maxLineBytes: 1000 })) { /* drain */ } }
    await expect(read()).rejects.toThrow(/line 1: longer than 1000 characters/)
  })
})

describe('oid groups', () => {
  it('encode sorted (high, low) pairs as ranges per high word, and decode them back', () => {
    const highs = [0x00000abc, 0x00000abc, 0x00000abc, 0x00000abc, 0x80000abc]
    const lows = [0, 1, 2, 7, 0]
    const groups = encodeOidGroups(highs, lows)
    expect(groups).toEqual(['00000abc:0-2,7', '80000abc:0'])
    expect(Array.from(decodeOidGroup(groups[0]!).lows)).toEqual([0, 1, 2, 7])
    expect(decodeOidGroup(groups[1]!).high).toBe(0x80000abc)
    expect(() => decodeOidGroup('00000abc')).toThrow(/bad oid group/)
  })
})

describe('DeleteTracker and the sampler filter', () => {
  it('covers every object of a deleted VDI and discarded data objects; a reused vid is live again', () => {
    const t = new DeleteTracker()
    t.vdiDeleted(0xabc, 1, 10)
    t.discarded(0x123, [3, 4])
    expect(t.covers(0x00000abc, 5)).toBe(true)
    expect(t.covers(0x80000abc, 0)).toBe(true) // the inode
    expect(t.covers(0x00000123, 3)).toBe(true)
    expect(t.covers(0x00000123, 5)).toBe(false)
    expect(t.covers(0x80000123, 3)).toBe(false) // the inode of a VDI with discards is not discarded
    expect(t.covers(0x01000abc, 5)).toBe(false) // reserved bits: not an oid
    expect(t.discardedObjects).toBe(2)
    t.vdiCreated(0xabc, 1) // not newer: still covered
    expect(t.covers(0x00000abc, 5)).toBe(true)
    t.vdiCreated(0xabc, 2)
    expect(t.covers(0x00000abc, 5)).toBe(false)
    t.vdiDeleted(0x123, 1, 20) // folds the discards
    expect(t.discardedObjects).toBe(0)
    expect(t.covers(0x00000123, 9)).toBe(true)
  })

  it('filterCovered keeps only covered oids, counts past the cap and says it truncated', () => {
    const t = new DeleteTracker()
    t.vdiDeleted(0xabc, 1, 10)
    const oids = ['0000012300000000', '00000abc00000000', '00000abc00000001', '00000abc00000003', '80000abc00000000', 'garbage']
    expect(filterCovered(oids, t, 100)).toEqual({ groups: ['00000abc:0-1,3', '80000abc:0'], count: 4, truncated: false })
    expect(filterCovered(oids, t, 2)).toEqual({ groups: ['00000abc:0-1'], count: 4, truncated: true })
  })
})

describe('workload helpers', () => {
  it('write contents are unique per op and deterministic', () => {
    const a = writeContent('run', 1, 4096)
    expect(contentDigest(writeContent('run', 1, 4096))).toEqual(contentDigest(a))
    expect(contentDigest(writeContent('run', 2, 4096)).digest).not.toBe(contentDigest(a).digest)
    expect(contentDigest(writeContent('other', 1, 4096)).digest).not.toBe(contentDigest(a).digest)
    expect(Buffer.from(a.subarray(0, 20)).toString()).toBe('bellwether run op 1\n')
    expect(a.subarray(100).some((b) => b !== 0)).toBe(true)
  })

  it('parseRates', () => {
    expect(parseRates('write=10, read=2.5')).toEqual({ write: 10, read: 2.5 })
    expect(() => parseRates('write=x')).toThrow(/bad rate/)
    expect(() => parseRates('zap=1')).toThrow(/unknown operation 'zap'/)
  })
})
