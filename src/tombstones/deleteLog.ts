// The durable delete log: <dataDir>/deletes.log, append-only, fsynced, one frame per record
// (u32 LE length | u32 LE crc32(payload) | encodeRecord(rec)). Owns crash recovery of the file,
// dedupe by (origin, seq), per-origin sequence bookkeeping and the additive summary.

import { open as openFile, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import { MAX_RECORD_BYTES } from './constants.js'
import { compareRecords, decodeRecord, encodeRecord, recordHash, type DeleteRec } from './record.js'
import { sortedIndexOf } from '../sorted.js'

/** The log's file name inside a node's data directory. */
export const DELETE_LOG_FILE = 'deletes.log'

const HEADER = 8
const U64_MASK = (1n << 64n) - 1n

export class DeleteLogError extends Error {
  override name = 'DeleteLogError'
}

/** Seqs held for one origin: 1..contiguous all held, plus the few held above a gap. */
interface OriginSeqs {
  contiguous: bigint
  above: bigint[] // sorted ascending, every element > contiguous + 1
}

interface Pending {
  frames: Buffer[]
  recs: DeleteRec[]
  resolve: (fresh: DeleteRec[]) => void
  reject: (e: unknown) => void
}

export class DeleteLog {
  private readonly path: string
  private readonly fsync: boolean
  private fh: FileHandle | undefined
  private readonly origins = new Map<string, OriginSeqs>()
  private held: DeleteRec[] = []
  private sorted = true
  private fingerprint = 0n
  private maxHlc = 0n
  private queue: Pending[] = []
  private flushing: Promise<void> | undefined
  /** set once a write or fsync failed: the file's tail is unknown, so no further appends */
  private failed: unknown
  private closed = false
  /** file offset of the next frame: the end of the last good frame */
  private end = 0
  constructor(path: string, opts: { fsync?: boolean } = {}) {
    this.path = path
    this.fsync = opts.fsync ?? true
  }

  /**
   * Loads every frame. A torn tail (a crash mid-append leaves a prefix of one write) is
   * truncated and reported; damage followed by a valid frame is mid-file corruption and
   * throws, because dropping it would silently lose deletes.
   */
  async open(): Promise<{ records: number; tornBytes: number }> {
    if (this.fh || this.closed) throw new DeleteLogError('delete log already opened')
    let created = false
    let fh: FileHandle
    try {
      fh = await openFile(this.path, 'r+')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      fh = await openFile(this.path, 'wx+')
      created = true
    }
    try {
      const { size } = await fh.stat()
      const buf = Buffer.allocUnsafe(size)
      let off = 0
      while (off < size) {
        const { bytesRead } = await fh.read(buf, off, size - off, off)
        if (bytesRead === 0) break
        off += bytesRead
      }
      const data = buf.subarray(0, off)
      const { recs, goodEnd } = parseFrames(data, this.path)
      // append never writes a held identity twice; skip one anyway rather than double-count it
      for (const r of recs) if (!this.has(r.origin, r.seq)) this.hold(r)
      const tornBytes = data.length - goodEnd
      if (tornBytes > 0) {
        await fh.truncate(goodEnd)
        await fh.sync()
      }
      if (created) await syncDir(dirname(this.path))
      this.fh = fh
      this.end = goodEnd
      return { records: this.held.length, tornBytes }
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /**
   * Makes the records durable. Returns only those not already held (deduped by (origin, seq),
   * also within the call), which is exactly what the caller should apply. Calls made while a
   * write is in flight are serialised and share the next write + fsync (group commit).
   */
  append(recs: DeleteRec[]): Promise<DeleteRec[]> {
    if (!this.fh || this.closed) return Promise.reject(new DeleteLogError('delete log is not open'))
    if (this.failed) return Promise.reject(new DeleteLogError(`delete log failed earlier: ${String(this.failed)}`))
    let frames: Buffer[]
    try {
      // encoding validates; a bad record rejects only its own call, not the group
      frames = recs.map(frame)
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<DeleteRec[]>((resolve, reject) => {
      this.queue.push({ frames, recs, resolve, reject })
      if (!this.flushing) this.flushing = this.flushLoop()
    })
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue
        this.queue = []
        await this.flushGroup(group)
      }
    } finally {
      this.flushing = undefined
    }
  }

  private async flushGroup(group: Pending[]): Promise<void> {
    // dedupe in order against held records and earlier requests of this group
    const taken = new Set<string>()
    const fresh: DeleteRec[][] = []
    const out: Buffer[] = []
    for (const p of group) {
      const mine: DeleteRec[] = []
      p.recs.forEach((r, i) => {
        const key = `${r.seq}@${r.origin}`
        if (this.has(r.origin, r.seq) || taken.has(key)) return
        taken.add(key)
        mine.push(r)
        out.push(p.frames[i]!)
      })
      fresh.push(mine)
    }
    if (out.length > 0) {
      if (this.failed) {
        for (const p of group) p.reject(new DeleteLogError(`delete log failed earlier: ${String(this.failed)}`))
        return
      }
      try {
        const buf = out.length === 1 ? out[0]! : Buffer.concat(out)
        await writeAll(this.fh!, buf, this.end)
        if (this.fsync) await this.fh!.sync()
        this.end += buf.length
      } catch (e) {
        // after a failed write/fsync the file's tail is unknown (fsyncgate): stop appending,
        // the next open() will truncate whatever torn tail is there
        this.failed = e
        for (const p of group) p.reject(e)
        return
      }
    }
    group.forEach((p, i) => {
      for (const r of fresh[i]!) this.hold(r)
      p.resolve(fresh[i]!)
    })
  }

  has(origin: string, seq: bigint): boolean {
    const o = this.origins.get(origin)
    if (!o) return false
    if (seq <= o.contiguous) return seq >= 1n
    return sortedIndexOf(o.above, seq) >= 0
  }

  /** 1 + the highest seq held for `origin` (1 for an unknown origin). */
  nextSeq(origin: string): bigint {
    const o = this.origins.get(origin)
    if (!o) return 1n
    return 1n + (o.above.length > 0 ? o.above[o.above.length - 1]! : o.contiguous)
  }

  get size(): number {
    return this.held.length
  }

  /** fingerprint = sum of recordHash mod 2^64; maxHlc = 0n when empty. */
  summary(): { count: number; fingerprint: bigint; maxHlc: bigint } {
    return { count: this.held.length, fingerprint: this.fingerprint, maxHlc: this.maxHlc }
  }

  /** Every record held, ascending by compareRecords (a fresh array). */
  records(): DeleteRec[] {
    if (!this.sorted) {
      this.held.sort(compareRecords)
      this.sorted = true
    }
    return this.held.slice()
  }

  /**
   * Per origin: contiguous = highest s with 1..s all held; max = highest seq held.
   * Ack/GC policy built on this belongs to the anti-entropy layer.
   */
  perOrigin(): Map<string, { contiguous: bigint; max: bigint }> {
    const m = new Map<string, { contiguous: bigint; max: bigint }>()
    for (const [origin, o] of this.origins) {
      m.set(origin, { contiguous: o.contiguous, max: o.above.length > 0 ? o.above[o.above.length - 1]! : o.contiguous })
    }
    return m
  }

  /**
   * GC: rewrites the log without the records `drop` selects (temp file, fsync, rename, dir
   * fsync), so a crash leaves either the old log or the new one. Per-origin sequence
   * bookkeeping is kept in memory; what survives a restart is the caller's (the floor file).
   * Returns how many records were dropped.
   */
  async compact(drop: (r: DeleteRec) => boolean): Promise<number> {
    if (!this.fh || this.closed) throw new DeleteLogError('delete log is not open')
    while (this.flushing) await this.flushing
    // hold the append queue for the whole rewrite: appends made meanwhile wait and land in the new file
    let release!: () => void
    this.flushing = new Promise<void>((resolve) => { release = resolve })
    try {
      return await this.rewrite(drop)
    } finally {
      this.flushing = undefined
      release()
      if (this.queue.length > 0) this.flushing = this.flushLoop()
    }
  }

  private async rewrite(drop: (r: DeleteRec) => boolean): Promise<number> {
    const kept = this.records().filter((r) => !drop(r))
    const dropped = this.held.length - kept.length
    if (dropped === 0 || !this.fh) return 0
    const buf = kept.length === 0 ? Buffer.alloc(0) : Buffer.concat(kept.map(frame))
    const tmp = `${this.path}.compact-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    const fh = await openFile(tmp, 'w')
    try {
      await writeAll(fh, buf, 0)
      if (this.fsync) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.path)
    if (this.fsync) await syncDir(dirname(this.path))
    // swap handles only after the new file is in place: a crash before this leaves the old log whole
    const old = this.fh
    this.fh = await openFile(this.path, 'r+')
    await old.close()
    this.end = buf.length
    this.held = kept
    this.sorted = true
    this.fingerprint = 0n
    for (const r of kept) this.fingerprint = (this.fingerprint + recordHash(r)) & U64_MASK
    return dropped
  }

  /** Waits for in-flight appends, then closes the file. Further appends reject. */
  async close(): Promise<void> {
    this.closed = true
    while (this.flushing) await this.flushing
    const fh = this.fh
    this.fh = undefined
    if (fh) await fh.close()
  }

  private hold(r: DeleteRec): void {
    let o = this.origins.get(r.origin)
    if (!o) this.origins.set(r.origin, (o = { contiguous: 0n, above: [] }))
    if (r.seq === o.contiguous + 1n) {
      o.contiguous = r.seq
      // absorb the run above the gap that this seq just closed
      let k = 0
      while (k < o.above.length && o.above[k] === o.contiguous + 1n) o.contiguous = o.above[k++]!
      if (k > 0) o.above.splice(0, k)
    } else {
      const at = sortedIndexOf(o.above, r.seq)
      o.above.splice(-(at + 1), 0, r.seq)
    }
    const last = this.held[this.held.length - 1]
    if (last && compareRecords(last, r) > 0) this.sorted = false
    this.held.push(r)
    this.fingerprint = (this.fingerprint + recordHash(r)) & U64_MASK
    if (r.hlc > this.maxHlc) this.maxHlc = r.hlc
  }
}

function frame(r: DeleteRec): Buffer {
  const payload = encodeRecord(r)
  const b = Buffer.allocUnsafe(HEADER + payload.length)
  b.writeUInt32LE(payload.length, 0)
  b.writeUInt32LE(crc32(payload), 4)
  b.set(payload, HEADER)
  return b
}


/** A complete frame with a matching crc at `pos`, or undefined. */
function frameAt(data: Buffer, pos: number): Buffer | undefined {
  if (data.length - pos < HEADER) return undefined
  const len = data.readUInt32LE(pos)
  if (len === 0 || len > MAX_RECORD_BYTES || pos + HEADER + len > data.length) return undefined
  const payload = data.subarray(pos + HEADER, pos + HEADER + len)
  return crc32(payload) === data.readUInt32LE(pos + 4) ? payload : undefined
}

function parseFrames(data: Buffer, path: string): { recs: DeleteRec[]; goodEnd: number } {
  const recs: DeleteRec[] = []
  let pos = 0
  while (pos < data.length) {
    const payload = frameAt(data, pos)
    if (!payload) {
      // a crash leaves only a prefix of our last write, never a whole valid frame after a
      // damaged one; a valid frame further on means the damage is in the middle
      for (let q = pos + 1; q + HEADER < data.length; q++) {
        if (frameAt(data, q)) {
          throw new DeleteLogError(`${path}: corrupt frame at offset ${pos} followed by valid data at ${q}`)
        }
      }
      return { recs, goodEnd: pos }
    }
    try {
      recs.push(decodeRecord(payload))
    } catch (e) {
      // the crc matched, so these are the bytes we wrote: not a torn write
      throw new DeleteLogError(`${path}: undecodable record at offset ${pos}: ${(e as Error).message}`)
    }
    pos += HEADER + payload.length
  }
  return { recs, goodEnd: pos }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off)
    off += bytesWritten
  }
}

/** Makes a newly created file's directory entry durable. */
async function syncDir(dir: string): Promise<void> {
  const d = await openFile(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
