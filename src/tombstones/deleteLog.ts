// The durable delete log: <dataDir>/deletes.log, append-only, fsynced, one frame per record
// (src/tombstones/logFrames.ts). Owns crash recovery of the file, dedupe by (origin, seq),
// per-origin sequence bookkeeping and the additive summary — and what happens when the disk
// refuses a write (full, or a failed fsync): the log turns unavailable (every append rejects
// with DeleteLogUnavailableError, which callers turn into a 503), the records it could not
// store wait in memory (bounded), and every RETRY_MS it truncates the file back to the end of
// the last good frame and writes them again. Once that succeeds, `recovered` hands them to the
// node to apply, purge and gossip, and appends are accepted again. What it holds in memory
// (dedupe, seq bookkeeping, summary) is HeldRecords, shared with the in-memory MemDeleteLog.

import { open as openFile, type FileHandle } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { DeleteRec } from './record.js'
import { DeleteLogError, frame, parseFrames } from './logFrames.js'
import { DeleteLogUnavailableError, type DeleteLogApi, type DeleteLogHooks } from './deleteLogApi.js'
import { HeldRecords } from './heldRecords.js'
import { removeTempFiles, syncDir, TEMP_SUFFIX, writeAll, writeFileAtomic } from '../store/atomicFile.js'
import { systemTime, type TimerHandle, type Timers } from '../time.js'

export { DeleteLogError } from './logFrames.js'
export { DeleteLogUnavailableError, type DeleteLogApi, type DeleteLogHooks } from './deleteLogApi.js'

/** The log's file name inside a node's data directory. */
export const DELETE_LOG_FILE = 'deletes.log'

/** Bytes of records kept in memory while the log cannot be written; beyond it they are refused (anti-entropy brings them back). */
export const PENDING_MAX_BYTES = 16 * 1024 * 1024
/** How often an unavailable log tries to write again. */
export const RETRY_MS = 1000

interface Pending {
  frames: Buffer[]
  recs: DeleteRec[]
  resolve: (fresh: DeleteRec[]) => void
  reject: (e: unknown) => void
}

/** records refused while the log was unavailable, waiting for the next retry */
class Waiting {
  recs: DeleteRec[] = []
  frames: Buffer[] = []
  bytes = 0
  readonly keys = new Set<string>()
}

const keyOf = (r: DeleteRec): string => `${r.seq}@${r.origin}`

export class DeleteLog implements DeleteLogApi {
  private readonly path: string
  private readonly fsync: boolean
  private readonly retryMs: number
  private readonly pendingMaxBytes: number
  private readonly time: Timers
  private fh: FileHandle | undefined
  private readonly held = new HeldRecords()
  private queue: Pending[] = []
  private flushing: Promise<void> | undefined
  /** set while the disk refuses our writes: the last error and since when */
  private failure: { error: unknown, since: number } | undefined
  private waiting = new Waiting()
  private retryTimer: TimerHandle | undefined
  private retryDue = false
  private closed = false
  /** file offset of the next frame: the end of the last good frame */
  private end = 0
  /** failed writes, fsyncs and retries since open */
  writeFailures = 0
  /** records refused while unavailable that did not fit in memory (anti-entropy brings them back) */
  overflowed = 0
  hooks: DeleteLogHooks = {}

  constructor (path: string, opts: { fsync?: boolean; retryMs?: number; pendingMaxBytes?: number; time?: Timers } = {}) {
    this.path = path
    this.fsync = opts.fsync ?? true
    this.retryMs = opts.retryMs ?? RETRY_MS
    this.pendingMaxBytes = opts.pendingMaxBytes ?? PENDING_MAX_BYTES
    this.time = opts.time ?? systemTime
  }

  /**
   * Loads every frame. A torn tail (a crash mid-append leaves a prefix of one write) is
   * truncated and reported; damage followed by a valid frame is mid-file corruption and
   * throws (naming the file, frame and byte offset), because dropping it would silently lose
   * deletes. Temp files of a compaction a crash interrupted are removed.
   */
  async open (): Promise<{ records: number; tornBytes: number; removedTemps: string[] }> {
    if (this.fh || this.closed) throw new DeleteLogError('delete log already opened')
    const dir = dirname(this.path)
    const base = basename(this.path)
    // `.compact-` is what earlier versions named them
    const removedTemps = [...await removeTempFiles(dir, `${base}${TEMP_SUFFIX}`), ...await removeTempFiles(dir, `${base}.compact-`)]
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
      for (const r of recs) if (!this.held.has(r.origin, r.seq)) this.held.hold(r)
      const tornBytes = data.length - goodEnd
      if (tornBytes > 0) {
        await fh.truncate(goodEnd)
        await fh.sync()
      }
      if (created) await syncDir(dir)
      this.fh = fh
      this.end = goodEnd
      return { records: this.held.size, tornBytes, removedTemps }
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /**
   * Makes the records durable. Returns only those not already held (deduped by (origin, seq),
   * also within the call), which is exactly what the caller should apply. Calls made while a
   * write is in flight are serialised and share the next write + fsync (group commit).
   * While the log is unavailable every call with a new record rejects with
   * DeleteLogUnavailableError; its new records wait in memory and are written by a retry.
   */
  append (recs: DeleteRec[]): Promise<DeleteRec[]> {
    if (!this.fh || this.closed) return Promise.reject(new DeleteLogError('delete log is not open'))
    let frames: Buffer[]
    try {
      // encoding validates; a bad record rejects only its own call, not the group
      frames = recs.map(frame)
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<DeleteRec[]>((resolve, reject) => {
      this.queue.push({ frames, recs, resolve, reject })
      this.kick()
    })
  }

  /** why appends are refused right now, in words an operator can act on; undefined when writable */
  unavailable (): string | undefined {
    const f = this.failure
    if (f == null) return undefined
    const e = f.error as NodeJS.ErrnoException
    return `delete log ${this.path} cannot be written (${e?.code ?? 'error'}: ${String(e?.message ?? e)}) since ${new Date(f.since).toISOString()}; ` +
      `${this.waiting.recs.length} delete records waiting in memory, retrying every ${this.retryMs} ms`
  }

  /** records refused while unavailable, waiting for the next retry */
  get pending (): number {
    return this.waiting.recs.length
  }

  private kick (): void {
    if (!this.flushing) this.flushing = this.flushLoop()
  }

  private async flushLoop (): Promise<void> {
    try {
      for (;;) {
        if (this.retryDue) {
          this.retryDue = false
          await this.retry()
        }
        if (this.queue.length === 0) break
        const group = this.queue
        this.queue = []
        await this.flushGroup(group)
      }
    } finally {
      this.flushing = undefined
    }
  }

  private async flushGroup (group: Pending[]): Promise<void> {
    // dedupe in order against held records, waiting ones and earlier requests of this group
    const taken = new Set<string>()
    const fresh: DeleteRec[][] = []
    const freshFrames: Buffer[][] = []
    const waits: boolean[] = []
    for (const p of group) {
      const mine: DeleteRec[] = []
      const mineFrames: Buffer[] = []
      let waits1 = false
      p.recs.forEach((r, i) => {
        const key = keyOf(r)
        if (this.held.has(r.origin, r.seq) || taken.has(key)) return
        if (this.waiting.keys.has(key)) { waits1 = true; return }
        taken.add(key)
        mine.push(r)
        mineFrames.push(p.frames[i]!)
      })
      fresh.push(mine)
      freshFrames.push(mineFrames)
      waits.push(waits1)
    }
    const out = freshFrames.flat()
    if (out.length > 0 && this.failure == null) {
      try {
        const buf = out.length === 1 ? out[0]! : Buffer.concat(out)
        await writeAll(this.fh!, buf, this.end)
        if (this.fsync) await this.fh!.sync()
        this.end += buf.length
      } catch (e) {
        // the file's tail past `end` is unknown now (a short write, or fsyncgate): the retry
        // truncates it and writes these records again
        this.fail(e)
      }
    }
    if (this.failure != null) {
      group.forEach((p, i) => {
        this.keep(fresh[i]!, freshFrames[i]!)
        if (fresh[i]!.length > 0 || waits[i]) p.reject(new DeleteLogUnavailableError(this.unavailable()!))
        else p.resolve([])
      })
      return
    }
    group.forEach((p, i) => {
      for (const r of fresh[i]!) this.held.hold(r)
      p.resolve(fresh[i]!)
    })
  }

  private fail (e: unknown): void {
    this.writeFailures++
    if (this.failure == null) this.failure = { error: e, since: this.time.now() }
    else this.failure.error = e
    this.hooks.writeFailed?.(e)
    this.scheduleRetry()
  }

  private keep (recs: DeleteRec[], frames: Buffer[]): void {
    const w = this.waiting
    recs.forEach((r, i) => {
      const f = frames[i]!
      if (w.bytes + f.length > this.pendingMaxBytes) { this.overflowed++; return }
      w.recs.push(r)
      w.frames.push(f)
      w.bytes += f.length
      w.keys.add(keyOf(r))
    })
  }

  private scheduleRetry (): void {
    if (this.retryTimer || this.closed) return
    this.retryTimer = this.time.setTimeout(() => {
      this.retryTimer = undefined
      this.retryDue = true
      this.kick()
    }, this.retryMs, { unref: true })
  }

  /** runs in the flush loop: cut the unknown tail, write what waits, fsync; on success serve again */
  private async retry (): Promise<void> {
    if (this.failure == null || !this.fh || this.closed) return
    const w = this.waiting
    const buf = Buffer.concat(w.frames)
    try {
      await this.fh.truncate(this.end)
      await writeAll(this.fh, buf, this.end)
      if (this.fsync) await this.fh.sync()
    } catch (e) {
      this.fail(e)
      return
    }
    this.end += buf.length
    this.waiting = new Waiting()
    this.failure = undefined
    for (const r of w.recs) this.held.hold(r)
    this.hooks.recovered?.(w.recs)
  }

  has (origin: string, seq: bigint): boolean {
    return this.held.has(origin, seq)
  }

  /** 1 + the highest seq held for `origin` (1 for an unknown origin). */
  nextSeq (origin: string): bigint {
    let max = this.held.maxSeq(origin)
    // a waiting record's seq is taken even though it is not durable yet
    for (const r of this.waiting.recs) if (r.origin === origin && r.seq > max) max = r.seq
    return 1n + max
  }

  get size (): number {
    return this.held.size
  }

  /** fingerprint = sum of recordHash mod 2^64; maxHlc = 0n when empty. */
  summary (): { count: number; fingerprint: bigint; maxHlc: bigint } {
    return this.held.summary()
  }

  /** Every record held, ascending by compareRecords (a fresh array). */
  records (): DeleteRec[] {
    return this.held.records()
  }

  /**
   * Per origin: contiguous = highest s with 1..s all held; max = highest seq held.
   * Ack/GC policy built on this belongs to the anti-entropy layer.
   */
  perOrigin (): Map<string, { contiguous: bigint; max: bigint }> {
    return this.held.perOrigin()
  }

  /**
   * GC: rewrites the log without the records `drop` selects (temp file, fsync, rename, dir
   * fsync), so a crash leaves either the old log or the new one. Per-origin sequence
   * bookkeeping is kept in memory; what survives a restart is the caller's (the floor file).
   * Returns how many records were dropped.
   */
  async compact (drop: (r: DeleteRec) => boolean): Promise<number> {
    if (!this.fh || this.closed) throw new DeleteLogError('delete log is not open')
    while (this.flushing) await this.flushing
    // a rewrite would need the space the disk does not have, and would race the retry
    if (this.failure != null) throw new DeleteLogUnavailableError(this.unavailable()!)
    // hold the append queue for the whole rewrite: appends made meanwhile wait and land in the new file
    let release!: () => void
    this.flushing = new Promise<void>((resolve) => { release = resolve })
    try {
      return await this.rewrite(drop)
    } finally {
      this.flushing = undefined
      release()
      if (this.queue.length > 0 || this.retryDue) this.flushing = this.flushLoop()
    }
  }

  private async rewrite (drop: (r: DeleteRec) => boolean): Promise<number> {
    const kept = this.records().filter((r) => !drop(r))
    const dropped = this.held.size - kept.length
    if (dropped === 0 || !this.fh) return 0
    const buf = kept.length === 0 ? Buffer.alloc(0) : Buffer.concat(kept.map(frame))
    // a failed rewrite (disk full) removes its temp file and leaves the old log as it was
    await writeFileAtomic(this.path, buf, { fsync: this.fsync })
    // swap handles only after the new file is in place: a crash before this leaves the old log whole
    const old = this.fh
    this.fh = await openFile(this.path, 'r+')
    await old.close()
    this.end = buf.length
    this.held.keepOnly(kept)
    return dropped
  }

  /** Waits for in-flight appends, then closes the file. Further appends reject. */
  async close (): Promise<void> {
    this.closed = true
    this.time.clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    while (this.flushing) await this.flushing
    const fh = this.fh
    this.fh = undefined
    if (fh) await fh.close()
  }
}
