// The delete log on a real disk: persistence across reopen, dedupe, torn-tail recovery,
// mid-file corruption, per-origin bookkeeping and concurrent appends.

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, truncate, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DeleteLog, DeleteLogError } from '../../src/tombstones/deleteLog.js'
import { compareRecords, recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { encodeRecord } from '../../src/tombstones/recordWire.js'

let dir: string
let path: string
const open: DeleteLog[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bw-deletelog-'))
  path = join(dir, 'deletes.log')
})
afterEach(async () => {
  for (const l of open.splice(0)) await l.close()
  await rm(dir, { recursive: true, force: true })
})

async function openLog (opts?: { fsync?: boolean }): Promise<{ log: DeleteLog; records: number; tornBytes: number }> {
  const log = new DeleteLog(path, opts)
  const r = await log.open()
  open.push(log)
  return { log, ...r }
}

async function reopen (log: DeleteLog): Promise<{ log: DeleteLog; records: number; tornBytes: number }> {
  await log.close()
  return openLog()
}

const vdi = (origin: string, seq: bigint, hlc: bigint, vid = 1): DeleteRec => ({ kind: 'vdi', origin, seq, hlc, vid, generation: 0 })
const disc = (origin: string, seq: bigint, hlc: bigint, ix: number[]): DeleteRec => ({
  kind: 'objects',
  origin,
  seq,
  hlc,
  vid: 2,
  generation: 1,
  indexes: Uint32Array.from(ix)
})
const frameLen = (r: DeleteRec): number => 8 + encodeRecord(r).length

describe('DeleteLog', () => {
  it('starts empty and creates the file', async () => {
    const { log, records, tornBytes } = await openLog()
    expect(records).toBe(0)
    expect(tornBytes).toBe(0)
    expect(log.size).toBe(0)
    expect(log.summary()).toEqual({ count: 0, fingerprint: 0n, maxHlc: 0n })
    expect(log.nextSeq('a')).toBe(1n)
    expect((await stat(path)).size).toBe(0)
  })

  it('persists records, nextSeq, summary and perOrigin across reopen', async () => {
    const { log } = await openLog()
    const recs = [vdi('a', 1n, 30n), vdi('a', 2n, 10n), disc('b', 1n, 20n, [1, 9, 400_000]), vdi('b', 5n, 50n, 7), vdi('a', 3n, 40n)]
    expect(await log.append(recs)).toEqual(recs)
    const before = {
      records: log.records(),
      summary: log.summary(),
      a: log.nextSeq('a'),
      b: log.nextSeq('b'),
      per: log.perOrigin()
    }
    expect(before.records).toEqual([...recs].sort(compareRecords))
    expect(before.summary.count).toBe(5)
    expect(before.summary.maxHlc).toBe(50n)
    expect(before.summary.fingerprint).toBe(recs.reduce((s, r) => (s + recordHash(r)) % (1n << 64n), 0n))
    expect(before.a).toBe(4n)
    expect(before.b).toBe(6n)
    expect(before.per.get('b')).toEqual({ contiguous: 1n, max: 5n })

    const again = await reopen(log)
    expect(again.records).toBe(5)
    expect(again.tornBytes).toBe(0)
    expect(again.log.records()).toEqual(before.records)
    expect(again.log.summary()).toEqual(before.summary)
    expect(again.log.nextSeq('a')).toBe(before.a)
    expect(again.log.nextSeq('b')).toBe(before.b)
    expect(again.log.perOrigin()).toEqual(before.per)
    expect(again.log.has('b', 5n)).toBe(true)
    expect(again.log.has('b', 3n)).toBe(false)
  })

  it('dedupes by (origin, seq), against the log and within one call', async () => {
    const { log } = await openLog()
    const r1 = vdi('a', 1n, 1n)
    expect(await log.append([r1])).toEqual([r1])
    const sizeAfterOne = (await stat(path)).size
    expect(await log.append([r1])).toEqual([])
    expect((await stat(path)).size).toBe(sizeAfterOne) // nothing written for a pure duplicate
    const r2 = vdi('a', 2n, 2n)
    const r2again = vdi('a', 2n, 99n, 5) // same identity, other content: the first wins
    expect(await log.append([r2, r1, r2again, vdi('b', 1n, 3n)])).toEqual([r2, vdi('b', 1n, 3n)])
    expect(log.size).toBe(3)
    expect((await reopen(log)).records).toBe(3)
  })

  it('tracks gaps per origin compactly', async () => {
    const { log } = await openLog()
    await log.append([1n, 2n, 4n, 5n, 9n].map((s) => vdi('a', s, s)))
    expect(log.perOrigin().get('a')).toEqual({ contiguous: 2n, max: 9n })
    expect(log.nextSeq('a')).toBe(10n)
    expect(log.has('a', 3n)).toBe(false)
    expect(log.has('a', 0n)).toBe(false)
    await log.append([vdi('a', 3n, 3n)])
    expect(log.perOrigin().get('a')).toEqual({ contiguous: 5n, max: 9n })
    await log.append([6n, 7n, 8n].map((s) => vdi('a', s, s)))
    expect(log.perOrigin().get('a')).toEqual({ contiguous: 9n, max: 9n })
    expect(log.nextSeq('a')).toBe(10n)
  })

  it('truncates a torn tail, reports it, and keeps appending', async () => {
    const { log } = await openLog()
    const recs = [vdi('a', 1n, 1n), disc('a', 2n, 2n, [3, 4, 5]), disc('a', 3n, 3n, [7, 8, 100, 1000])]
    await log.append(recs)
    await log.close()
    const full = (await stat(path)).size
    const goodEnd = frameLen(recs[0]!) + frameLen(recs[1]!)
    expect(full).toBe(goodEnd + frameLen(recs[2]!))
    await truncate(path, full - 5) // crash mid-append: the last frame lost its last 5 bytes

    const torn = await openLog()
    expect(torn.records).toBe(2)
    expect(torn.tornBytes).toBe(full - 5 - goodEnd)
    expect((await stat(path)).size).toBe(goodEnd)
    expect(torn.log.nextSeq('a')).toBe(3n)
    const r4 = vdi('a', 3n, 9n)
    expect(await torn.log.append([r4])).toEqual([r4])

    const after = await reopen(torn.log)
    expect(after.tornBytes).toBe(0)
    expect(after.log.records()).toEqual([recs[0], recs[1], r4])
  })

  it('truncates a tail of a partial header or zero fill', async () => {
    const { log } = await openLog()
    await log.append([vdi('a', 1n, 1n)])
    await log.close()
    const good = (await stat(path)).size
    await appendFile(path, Buffer.from([0x20, 0x00, 0x00])) // 3 bytes of a length field
    let r = await openLog()
    expect(r).toMatchObject({ records: 1, tornBytes: 3 })
    await r.log.close()
    await appendFile(path, Buffer.alloc(4096)) // a zero-filled block after a crash
    r = await openLog()
    expect(r).toMatchObject({ records: 1, tornBytes: 4096 })
    expect((await stat(path)).size).toBe(good)
  })

  it('throws on a corrupt frame in the middle instead of dropping history', async () => {
    const { log } = await openLog()
    const recs = [vdi('a', 1n, 1n), vdi('a', 2n, 2n), vdi('a', 3n, 3n)]
    await log.append(recs)
    await log.close()
    const bytes = await readFile(path)
    const mid = frameLen(recs[0]!) + 8 + 2 // a payload byte of the second frame
    bytes[mid]! ^= 0x40
    await writeFile(path, bytes)
    const l = new DeleteLog(path)
    await expect(l.open()).rejects.toThrow(DeleteLogError)
    await expect(new DeleteLog(path).open()).rejects.toThrow(`${path}: frame 2 at byte offset ${frameLen(recs[0]!)} is corrupt (checksum mismatch) and a valid frame follows at byte offset ${frameLen(recs[0]!) * 2}`)
    expect((await stat(path)).size).toBe(bytes.length) // nothing truncated
  })

  it('throws on a corrupt length field in the middle', async () => {
    const { log } = await openLog()
    const recs = [vdi('a', 1n, 1n), vdi('a', 2n, 2n), vdi('a', 3n, 3n)]
    await log.append(recs)
    await log.close()
    const bytes = await readFile(path)
    bytes.writeUInt32LE(0xfffffff0, 0)
    await writeFile(path, bytes)
    await expect(new DeleteLog(path).open()).rejects.toThrow(`${path}: frame 1 at byte offset 0 is corrupt (length field 4294967280 out of range 1..1048576) and a valid frame follows at byte offset ${frameLen(recs[0]!)}`)
  })

  it('makes every concurrent append durable, each new record returned exactly once', async () => {
    const { log } = await openLog()
    const calls: Promise<DeleteRec[]>[] = []
    for (let i = 0; i < 60; i++) {
      const origin = `o${i % 3}`
      // every call also repeats a record of another call: dedupe must hold across the group
      const recs = [vdi(origin, BigInt(i + 1), BigInt(i)), vdi(`o${(i + 1) % 3}`, BigInt(i + 2), BigInt(i + 1))]
      calls.push(log.append(recs))
    }
    const results = await Promise.all(calls)
    const returned = results.flat()
    const keys = returned.map((r) => `${r.origin}/${r.seq}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(log.size).toBe(returned.length)
    const after = await reopen(log)
    expect(after.records).toBe(returned.length)
    expect(after.log.records()).toEqual([...returned].sort(compareRecords))
    for (let i = 0; i < 60; i++) expect(after.log.has(`o${i % 3}`, BigInt(i + 1))).toBe(true)
  })

  it('rejects an invalid record without disturbing other appends', async () => {
    const { log } = await openLog()
    const bad = vdi('a', 0n, 1n)
    const [r1, r2] = await Promise.allSettled([log.append([bad]), log.append([vdi('a', 1n, 1n)])])
    expect(r1.status).toBe('rejected')
    expect(r2).toEqual({ status: 'fulfilled', value: [vdi('a', 1n, 1n)] })
    expect((await reopen(log)).records).toBe(1)
  })

  it('works without fsync and refuses appends after close', async () => {
    const { log } = await openLog({ fsync: false })
    await log.append([vdi('a', 1n, 1n)])
    await log.close()
    await expect(log.append([vdi('a', 2n, 2n)])).rejects.toThrow(/not open/)
    expect((await openLog()).records).toBe(1)
  })
})
