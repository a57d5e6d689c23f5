// The chaos history's file writer: appends records as JSON Lines with periodic flushes and a
// bounded buffer (see history.ts for the format and who writes what).

import { closeSync, openSync, writeSync } from 'node:fs'
import { runClock, type HistoryEvent, type HistorySink } from './history.js'

export interface HistoryWriterOptions {
  /** flush when this many bytes are buffered (default 64 KiB): the writer's memory bound */
  flushBytes?: number
  /** flush at least this often (default 250 ms) */
  flushMs?: number
  clock?: () => number
}

/**
 * Appends records to a JSON Lines file. `append` is synchronous and never loses order; records
 * are buffered up to `flushBytes` and written with blocking writes (small, and it keeps memory
 * bounded whatever the disk does). A crash loses at most the last `flushMs` of records, always
 * at a line boundary.
 */
export class HistoryWriter implements HistorySink {
  readonly now: () => number
  private fd: number | undefined
  private buf: string[] = []
  private bufBytes = 0
  private timer: NodeJS.Timeout | undefined
  private written = 0
  private readonly flushBytes: number

  private constructor (readonly path: string, fd: number, opts: HistoryWriterOptions) {
    this.fd = fd
    this.now = opts.clock ?? runClock()
    this.flushBytes = opts.flushBytes ?? 64 * 1024
    this.timer = setInterval(() => { this.flush() }, opts.flushMs ?? 250)
    this.timer.unref()
  }

  /** Creates (or truncates) the file. */
  static open (path: string, opts: HistoryWriterOptions = {}): HistoryWriter {
    return new HistoryWriter(path, openSync(path, 'w'), opts)
  }

  /** records appended so far */
  get count (): number { return this.written }

  append (e: HistoryEvent): void {
    if (this.fd === undefined) throw new Error(`history ${this.path} is closed`)
    const line = JSON.stringify(e) + '\n'
    this.buf.push(line)
    this.bufBytes += line.length
    this.written++
    if (this.bufBytes >= this.flushBytes) this.flush()
  }

  flush (): void {
    if (this.fd === undefined || this.buf.length === 0) return
    const data = Buffer.from(this.buf.join(''), 'utf8')
    this.buf = []
    this.bufBytes = 0
    let off = 0
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off)
  }

  async close (): Promise<void> {
    if (this.fd === undefined) return
    clearInterval(this.timer)
    this.flush()
    closeSync(this.fd)
    this.fd = undefined
  }
}
