// A delete log whose disk refuses writes (full, or a failed fsync), on a real file: the log
// turns unavailable instead of failing for good, keeps the refused records in memory (bounded),
// retries by cutting the unknown tail and writing them again, and hands them over once that
// works; the delete pipeline then applies and purges them. Failed compactions and crashed ones
// leave no temp files. The disk's refusals are faked by wrapping FileHandle's write/sync.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { DeleteLog, DeleteLogUnavailableError } from '../../src/tombstones/deleteLog.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { ObjectStore } from '../../src/store/objectStore.js'
import { DeleteDriver } from '../../src/node/deletes.js'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { Floor } from '../../src/tombstones/floor.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { vidToDataOid } from '../../src/oid.js'

let dir = ''
let path = ''
const opened: Array<{ close: () => Promise<void> }> = []
/** FileHandle.prototype: write and sync are wrapped there to play a failing disk */
let fileHandle: any

beforeAll(async () => {
  const fh = await open(import.meta.filename ?? new URL(import.meta.url).pathname, 'r')
  fileHandle = Object.getPrototypeOf(fh)
  await fh.close()
})
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bw-logfail-'))
  path = join(dir, 'deletes.log')
})
afterEach(async () => {
  vi.restoreAllMocks()
  for (const o of opened.splice(0)) await o.close()
  await rm(dir, { recursive: true, force: true })
})

const errno = (code: string, syscall: string): Error => Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall })

/** every write fails with ENOSPC; the first one first writes half of what it was given (a short write) */
function diskFull (): { restore: () => void } {
  const orig = fileHandle.write
  let first = true
  const spy = vi.spyOn(fileHandle, 'write').mockImplementation(async function (this: unknown, ...args: any[]) {
    if (first && typeof args[2] === 'number' && args[2] > 1) {
      first = false
      return await orig.call(this, args[0], args[1], Math.floor(args[2] / 2), args[3])
    }
    throw errno('ENOSPC', 'write')
  })
  return { restore: () => { spy.mockRestore() } }
}

async function openLog (opts: { pendingMaxBytes?: number } = {}): Promise<DeleteLog> {
  const log = new DeleteLog(path, { retryMs: 10, ...opts })
  await log.open()
  opened.push(log)
  return log
}

/** resolves with the records the log hands over once it is writable again */
function recovered (log: DeleteLog): Promise<DeleteRec[]> {
  return new Promise((resolve) => { log.hooks.recovered = resolve })
}

const rec = (seq: number, vid = seq, origin = 'me'): DeleteRec => ({ kind: 'vdi', origin, seq: BigInt(seq), hlc: BigInt(1000 + seq), vid, generation: 1 })

describe('delete log on a failing disk', () => {
  it('turns unavailable on a full disk, keeps the refused records, and writes them by itself once space is back', async () => {
    const log = await openLog()
    const failures: unknown[] = []
    log.hooks.writeFailed = (e) => { failures.push(e) }
    await log.append([rec(1)])
    const full = diskFull()
    await expect(log.append([rec(2)])).rejects.toThrow(DeleteLogUnavailableError)
    expect(log.unavailable()).toMatch(new RegExp(`^delete log ${path} cannot be written \\(ENOSPC: .*\\) since .*; 1 delete records waiting in memory, retrying every 10 ms$`))
    expect(log.has('me', 2n)).toBe(false)
    // a waiting record's seq is taken: the next local delete must not reuse it
    expect(log.nextSeq('me')).toBe(3n)
    await expect(log.append([rec(3)])).rejects.toThrow(/cannot be written \(ENOSPC/)
    await expect(log.append([rec(2)])).rejects.toThrow(DeleteLogUnavailableError)
    expect(await log.append([rec(1)])).toEqual([]) // already durable: nothing new, nothing refused
    await expect(log.compact(() => true)).rejects.toThrow(DeleteLogUnavailableError)
    expect(log.pending).toBe(2)
    // retries keep failing while the disk is full
    await vi.waitUntil(() => failures.length >= 3, { timeout: 60_000, interval: 5 })
    expect(failures.every((e) => (e as NodeJS.ErrnoException).code === 'ENOSPC')).toBe(true)
    expect(log.writeFailures).toBe(failures.length)

    const back = recovered(log)
    full.restore()
    expect(await back).toEqual([rec(2), rec(3)])
    expect(log.unavailable()).toBeUndefined()
    expect(log.pending).toBe(0)
    expect(log.has('me', 2n) && log.has('me', 3n)).toBe(true)
    expect(await log.append([rec(4)])).toEqual([rec(4)])
    await log.close()
    // the short write's half frame was cut before the retry wrote: a clean file, each record once
    const again = new DeleteLog(path)
    opened.push(again)
    expect(await again.open()).toEqual({ records: 4, tornBytes: 0, removedTemps: [] })
    expect(again.records().map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n])
  })

  it('after a failed fsync, writes the unsynced records again rather than trusting the page cache', async () => {
    const log = await openLog()
    const orig = fileHandle.sync
    let fail = true
    vi.spyOn(fileHandle, 'sync').mockImplementation(async function (this: unknown) {
      if (fail) throw errno('EIO', 'fsync')
      return await orig.call(this)
    })
    const writes = vi.spyOn(fileHandle, 'write')
    await expect(log.append([rec(1)])).rejects.toThrow(/cannot be written \(EIO/)
    const back = recovered(log)
    const before = writes.mock.calls.length
    fail = false
    expect(await back).toEqual([rec(1)])
    expect(writes.mock.calls.length).toBeGreaterThan(before) // the record was written again, not only fsynced
    await log.close()
    const again = new DeleteLog(path)
    opened.push(again)
    expect(await again.open()).toMatchObject({ records: 1, tornBytes: 0 })
  })

  it('keeps at most pendingMaxBytes of refused records; the rest are refused and not written later', async () => {
    const log = await openLog({ pendingMaxBytes: 200 })
    const full = diskFull()
    for (let i = 1; i <= 10; i++) await expect(log.append([rec(i)])).rejects.toThrow(DeleteLogUnavailableError)
    expect(log.pending).toBeGreaterThan(0)
    expect(log.pending).toBeLessThan(10)
    expect(log.overflowed).toBe(10 - log.pending)
    const kept = log.pending
    const back = recovered(log)
    full.restore()
    expect((await back).length).toBe(kept)
    expect(log.size).toBe(kept)
  })

  it('a compaction that fails leaves no temp file and the old log whole', async () => {
    const log = await openLog()
    await log.append([rec(1), rec(2), rec(3)])
    vi.spyOn(fileHandle, 'write').mockImplementation(async () => { throw errno('ENOSPC', 'write') })
    await expect(log.compact((r) => r.seq === 2n)).rejects.toThrow(/ENOSPC/)
    vi.restoreAllMocks()
    expect((await readdir(dir)).sort()).toEqual(['deletes.log'])
    // a failed compaction is not a failed log: appends go on
    expect(log.unavailable()).toBeUndefined()
    expect(await log.append([rec(4)])).toEqual([rec(4)])
    await log.close()
    const again = new DeleteLog(path)
    opened.push(again)
    await again.open()
    expect(again.records().map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n])
  })

  it('removes the temp files of a compaction a crash interrupted, at open', async () => {
    await writeFile(join(dir, 'deletes.log.compact-123-kx2f9a'), 'half a rewrite')
    await writeFile(join(dir, 'deletes.log.tmp-123-0a1b2c3d4e5f'), 'half a rewrite')
    const log = new DeleteLog(path)
    opened.push(log)
    const r = await log.open()
    expect(await readdir(dir)).toEqual(['deletes.log'])
    expect(r.removedTemps.sort()).toEqual(['deletes.log.compact-123-kx2f9a', 'deletes.log.tmp-123-0a1b2c3d4e5f'])
  })
})

describe('delete pipeline over an unavailable log', () => {
  it('applies and purges the refused records once the log writes them, and says when it is done', async () => {
    const log = await openLog()
    const store = new ObjectStore(join(dir, 'obj'))
    await store.open()
    opened.push(store)
    const replica = new DeleteReplica({ self: 'me', log, members: () => ['me'] })
    const index = replica.index
    const late: DeleteRec[][] = []
    const pipeline = new DeleteDriver({
      replica,
      log,
      store,
      floorFile: new Floor(join(dir, 'floor.json')),
      metrics: new NodeMetrics(),
      logger: pino({ level: 'silent' }),
      out: { publish: (recs) => { late.push(recs) }, startSession: () => {}, reject: () => {}, syncNow: async () => undefined }
    })
    const oid = vidToDataOid(5, 0)
    await store.put(oid, new Uint8Array(16), { generation: 1, version: 1n })
    log.hooks.recovered = (recs) => { pipeline.applyLate(recs) }

    const full = diskFull()
    await expect(pipeline.ingest([rec(1, 5)], 'gossip')).rejects.toThrow(DeleteLogUnavailableError)
    // not durable, so not applied: nothing acts on a tombstone a crash would lose
    expect(index.isVdiDeleted(5, 1)).toBe(false)
    expect(store.has(oid)).toBe(true)
    full.restore()
    await vi.waitUntil(() => late.length > 0, { timeout: 60_000, interval: 5 })
    expect(late).toEqual([[rec(1, 5)]])
    expect(pipeline.catchingUp).toBe(0)
    expect(index.isVdiDeleted(5, 1)).toBe(true)
    expect(store.has(oid)).toBe(false)
  })
})
