// The small files a node restarts from — epoch, recovered-epoch, peer.key, and the delete
// log's frames — written atomically and durably (temp + fsync + rename/link + directory fsync,
// src/store/atomicFile.ts), and when one is damaged, a message naming the file and what is in it.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeTempFiles, writeFileAtomic } from '../../src/store/atomicFile.js'
import { EpochFile, EPOCH_FILE } from '../../src/node/epochFile.js'
import { loadOrCreatePeerKey, PEER_KEY_FILE } from '../../src/net/peerKey.js'
import { DeleteLog, DeleteLogError } from '../../src/tombstones/deleteLog.js'
import { type DeleteRec } from '../../src/tombstones/record.js'
import { encodeRecord } from '../../src/tombstones/recordWire.js'
import { frame } from '../../src/tombstones/logFrames.js'

let dir = ''
/** FileHandle.prototype: sync and write are watched or failed there */
let fileHandle: any

beforeAll(async () => {
  const fh = await open(new URL(import.meta.url).pathname, 'r')
  fileHandle = Object.getPrototypeOf(fh)
  await fh.close()
})
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-restart-')) })
afterEach(async () => {
  vi.restoreAllMocks()
  await rm(dir, { recursive: true, force: true })
})

/** how many fsyncs (files and directories) ran while `fn` ran */
async function syncedDuring (fn: () => Promise<unknown>): Promise<number> {
  const sync = vi.spyOn(fileHandle, 'sync')
  await fn()
  const n = sync.mock.calls.length
  sync.mockRestore()
  return n
}

describe('writeFileAtomic', () => {
  it('replaces the file whole and fsyncs the file and its directory', async () => {
    const p = join(dir, 'f')
    await writeFile(p, 'old')
    expect(await syncedDuring(async () => { await writeFileAtomic(p, 'new content') })).toBe(2)
    expect(await readFile(p, 'utf8')).toBe('new content')
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('on a full disk leaves the old content and no temp file', async () => {
    const p = join(dir, 'f')
    await writeFile(p, 'old')
    vi.spyOn(fileHandle, 'write').mockImplementation(async () => { throw Object.assign(new Error('ENOSPC: simulated'), { code: 'ENOSPC' }) })
    await expect(writeFileAtomic(p, 'new')).rejects.toThrow(/ENOSPC/)
    vi.restoreAllMocks()
    expect(await readFile(p, 'utf8')).toBe('old')
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('createOnly never replaces an existing file', async () => {
    const p = join(dir, 'f')
    await writeFileAtomic(p, 'first', { createOnly: true })
    await expect(writeFileAtomic(p, 'second', { createOnly: true })).rejects.toMatchObject({ code: 'EEXIST' })
    expect(await readFile(p, 'utf8')).toBe('first')
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('removeTempFiles removes only names with the prefix', async () => {
    await writeFile(join(dir, 'epoch'), '1\n')
    await writeFile(join(dir, 'epoch.tmp-1-abc'), '')
    await writeFile(join(dir, 'floor.json.tmp-2-def'), '')
    expect(await removeTempFiles(dir, 'epoch.tmp-')).toEqual(['epoch.tmp-1-abc'])
    expect((await readdir(dir)).sort()).toEqual(['epoch', 'floor.json.tmp-2-def'])
  })
})

describe('epoch file', () => {
  it('is written atomically and durably, and never goes down when writes race', async () => {
    const f = new EpochFile(dir, EPOCH_FILE)
    expect(await syncedDuring(async () => { await f.write(5n) })).toBe(2)
    // a burst of view changes: an older epoch finishing last must not win
    await Promise.all([9n, 7n, 12n, 8n, 11n].map(async (e) => { await f.write(e) }))
    expect(await readFile(join(dir, EPOCH_FILE), 'utf8')).toBe('12\n')
    expect(await new EpochFile(dir, EPOCH_FILE).read()).toEqual({ epoch: 12n })
    expect((await readdir(dir)).sort()).toEqual([EPOCH_FILE])
  })

  it('reports an empty or garbled file by name and content instead of reading it as 0', async () => {
    const p = join(dir, EPOCH_FILE)
    await writeFile(p, '')
    expect(await new EpochFile(dir, EPOCH_FILE).read()).toEqual({ epoch: 0n, problem: `${p}: holds "" (0 bytes), not an epoch number` })
    await writeFile(p, '12x\n')
    expect(await new EpochFile(dir, EPOCH_FILE).read()).toEqual({ epoch: 0n, problem: `${p}: holds "12x\\n" (4 bytes), not an epoch number` })
    await writeFile(p, '99999999999999999999\n') // above 2^64-1
    expect((await new EpochFile(dir, EPOCH_FILE).read()).problem).toBe(`${p}: holds "99999999999999999999\\n" (21 bytes), not an epoch number`)
    expect(await new EpochFile(dir, 'missing').read()).toEqual({ epoch: 0n })
  })
})

describe('peer.key', () => {
  it('is fsynced with its directory when created', async () => {
    expect(await syncedDuring(async () => { await loadOrCreatePeerKey(dir) })).toBe(2)
    expect(await readdir(dir)).toEqual([PEER_KEY_FILE])
  })

  it('two processes creating it at once end up with one identity', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, async () => await loadOrCreatePeerKey(dir)))
    const onDisk = await loadOrCreatePeerKey(dir)
    for (const k of keys) expect(k.equals(onDisk)).toBe(true)
  })

  it('a damaged key is reported by file name, never replaced by a new identity', async () => {
    const p = join(dir, PEER_KEY_FILE)
    await writeFile(p, '')
    await expect(loadOrCreatePeerKey(dir)).rejects.toThrow(`cannot read peer key ${p}: the file is empty;`)
    await writeFile(p, 'not a key')
    await expect(loadOrCreatePeerKey(dir)).rejects.toThrow(`cannot read peer key ${p}: 9 bytes that are not a private key`)
    expect(await readFile(p, 'utf8')).toBe('not a key')
  })
})

describe('deletes.log damage', () => {
  const rec = (seq: number): DeleteRec => ({ kind: 'vdi', origin: 'me', seq: BigInt(seq), hlc: BigInt(seq), vid: seq, generation: 1 })

  it('names the file, the frame and its byte offset for a corrupt frame in the middle', async () => {
    const p = join(dir, 'deletes.log')
    const frames = [1, 2, 3, 4].map((i) => frame(rec(i)))
    const bytes = Buffer.concat(frames)
    const at = frames[0].length + frames[1].length
    bytes[at + 10] ^= 0xff // a payload byte of frame 3
    await writeFile(p, bytes)
    await expect(new DeleteLog(p).open()).rejects.toThrow(
      `${p}: frame 3 at byte offset ${at} is corrupt (checksum mismatch) and a valid frame follows at byte offset ${at + frames[2].length}: refusing to start`)
  })

  it('names the frame whose checksum matches but whose record does not decode', async () => {
    const p = join(dir, 'deletes.log')
    const good = frame(rec(1))
    const payload = Buffer.from(encodeRecord(rec(2)))
    payload[0] = 0xff // not a protobuf field tag any record has
    const { crc32 } = await import('node:zlib')
    const bad = Buffer.alloc(8 + payload.length)
    bad.writeUInt32LE(payload.length, 0)
    bad.writeUInt32LE(crc32(payload), 4)
    payload.copy(bad, 8)
    await writeFile(p, Buffer.concat([good, bad]))
    const err = await new DeleteLog(p).open().then(() => undefined, (e) => e)
    expect(err).toBeInstanceOf(DeleteLogError)
    expect(err.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: frame 2 at byte offset ${good.length} holds an undecodable record: `))
  })

  it('still truncates a torn tail (a crash mid-append) and starts', async () => {
    const p = join(dir, 'deletes.log')
    const f1 = frame(rec(1))
    const f2 = frame(rec(2))
    await writeFile(p, Buffer.concat([f1, f2.subarray(0, 5)]))
    const log = new DeleteLog(p)
    expect(await log.open()).toMatchObject({ records: 1, tornBytes: 5 })
    await log.close()
    expect((await readFile(p)).length).toBe(f1.length)
  })
})
