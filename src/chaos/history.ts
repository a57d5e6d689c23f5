// The operation history of a chaos run (Jepsen style) and its file format: JSON Lines, one
// record per line, in the order they happened (times are monotonic ms since the run started).
// This file owns the record types, the writer (append, periodic flush, bounded memory), the
// streaming reader (a malformed line is a HistoryError naming the line, never a crash), the
// content digest used for write/read values, and the compact text form of oid groups used in
// sample records. Who writes what:
//   - the workload (src/chaos/workload.ts): `invoke` then exactly one of `ok` / `fail` / `info`
//     per operation, matched by `id`. `fail` means the operation certainly had no effect (the
//     node refused it before doing anything: 4xx, connection refused); `info` means the outcome
//     is unknown (timeout, 5xx or a write refused as DELETED by one replica, after part of the
//     work may have happened) and the operation may take effect at any later time. A read's
//     5xx is a `fail` (a read has no effect);
//   - the sampler (src/chaos/sampler.ts): `sample` records, what every node held of the
//     deleted/discarded objects, round by round;
//   - the nemesis (chaos run): `nemesis` records, one per fault injected or healed;
//   - anyone: a `meta` record (seed, parameters) — the first line by convention.
// Conventions the checker relies on: a write or read covers exactly one whole object
// (offset = index × value.length); VDI names are unique within a history.

import { createHash } from 'node:crypto'
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { performance } from 'node:perf_hooks'
import { formatObjectRanges, parseObjectRanges } from '../vdi/objectRanges.js'

export const HISTORY_FORMAT = 1

export const OP_FUNCTIONS = ['create', 'write', 'read', 'discard', 'delete'] as const
export type OpF = typeof OP_FUNCTIONS[number]

export const OP_TYPES = ['invoke', 'ok', 'fail', 'info'] as const
export type OpType = typeof OP_TYPES[number]

export const NEMESIS_FUNCTIONS = ['partition', 'heal', 'kill', 'start', 'pause', 'resume', 'skew'] as const
export type NemesisF = typeof NEMESIS_FUNCTIONS[number]

/** What a write wrote or a read returned: the first 128 bits of SHA-256 (32 hex digits) and the length. */
export interface ContentDigest {
  digest: string
  length: number
}

/** One step of one client operation. `id` is shared by the invoke and its completion. */
export interface OpEvent {
  type: OpType
  /** operation id, unique in the history */
  id: number
  /** client worker; a worker whose operation ended `info` continues under a new process id */
  process: number
  f: OpF
  /** cluster node index the request went through */
  node: number
  /** VDI name (unique in a history) */
  vdi: string
  /** ms since the run started, monotonic */
  time: number
  /** 6 hex digits, when known (create: on ok; delete: on ok; others: from the create) */
  vid?: string
  /** VDI generation, when known */
  generation?: number
  /** write / read: the one object */
  index?: number
  /** discard: the objects, strictly ascending */
  indexes?: number[]
  /** write: the content written (invoke and completion); read ok: the content returned */
  value?: ContentDigest
  /** create: the VDI's geometry */
  size?: number
  objectSize?: number
  copies?: number
  /** fail / info: what went wrong, and a code (the API's, or TIMEOUT / REFUSED / NETWORK) */
  error?: string
  code?: string
}

export interface NemesisEvent {
  type: 'nemesis'
  f: NemesisF
  /** whatever describes the fault (nodes, groups, offset …); free-form JSON */
  value?: unknown
  time: number
}

/** One node in one sample round. */
export interface SampleNode {
  node: number
  /** request sent / answer received (ms since run start) */
  t0: number
  t1: number
  /** the process was not running: nothing asked */
  down?: boolean
  /** running but did not answer (paused, overloaded …) */
  error?: string
  /** objects in the node's object list cache */
  count?: number
  /** delete log agreement key: "count:fingerprint:floorHash" from /status */
  fp?: string
  /** covered oids (of acknowledged deletes/discards) the node still held, as oid groups */
  held?: string[]
  /** how many covered oids it held (≥ what `held` lists when truncated) */
  heldCount?: number
  /** `held` lists only part of them: this sample proves presence, never absence */
  truncated?: boolean
}

export interface SampleEvent {
  type: 'sample'
  round: number
  /** round start */
  time: number
  nodes: SampleNode[]
}

export interface MetaEvent {
  type: 'meta'
  time: number
  format: number
  /** decimal, so 64-bit seeds survive JSON */
  seed?: string
  info?: Record<string, unknown>
}

export type HistoryEvent = OpEvent | NemesisEvent | SampleEvent | MetaEvent

export function isOpEvent (e: HistoryEvent): e is OpEvent {
  return e.type === 'invoke' || e.type === 'ok' || e.type === 'fail' || e.type === 'info'
}

// ---- content digests ----

export const DIGEST_HEX = 32

export function contentDigest (bytes: Uint8Array): ContentDigest {
  return { digest: createHash('sha256').update(bytes).digest('hex').slice(0, DIGEST_HEX), length: bytes.byteLength }
}

const zeroDigests = new Map<number, string>()

/** digest of `length` zero bytes (what a read of a never-written object returns) */
export function zeroDigest (length: number): string {
  let d = zeroDigests.get(length)
  if (d === undefined) {
    d = contentDigest(new Uint8Array(length)).digest
    if (zeroDigests.size < 64) zeroDigests.set(length, d)
  }
  return d
}

// ---- oid groups: "hhhhhhhh:0-15,20" = high 32 bits (flags + vid) in hex, then low-word ranges ----

/**
 * Sorted (high, low) pairs → groups, one per high word. Pairs must be ascending by high then
 * low (an object list is); duplicates are dropped.
 */
export function encodeOidGroups (highs: ArrayLike<number>, lows: ArrayLike<number>): string[] {
  const out: string[] = []
  let i = 0
  while (i < highs.length) {
    const h = highs[i]!
    let j = i
    while (j < highs.length && highs[j] === h) j++
    const idx = new Uint32Array(j - i)
    let n = 0
    for (let k = i; k < j; k++) if (n === 0 || idx[n - 1] !== lows[k]) idx[n++] = lows[k]!
    out.push(`${(h >>> 0).toString(16).padStart(8, '0')}:${formatObjectRanges(idx.subarray(0, n))}`)
    i = j
  }
  return out
}

export interface OidGroup { high: number; lows: Uint32Array }

export function decodeOidGroup (s: string): OidGroup {
  const m = /^([0-9a-f]{8}):(.+)$/.exec(s)
  if (m === null) throw new HistoryError(`bad oid group ${JSON.stringify(s.slice(0, 40))}: expected 8 hex digits, ':', ranges`)
  try {
    return { high: parseInt(m[1]!, 16), lows: parseObjectRanges(m[2]!) }
  } catch (err) {
    throw new HistoryError(`bad oid group ${JSON.stringify(s.slice(0, 40))}: ${(err as Error).message}`)
  }
}

// ---- writing ----

/** Where history records go; the clock is the run's (ms since start, monotonic). */
export interface HistorySink {
  now: () => number
  append: (e: HistoryEvent) => void
}

/** ms since the clock was made, monotonic, rounded to µs. */
export function runClock (): () => number {
  const start = performance.now()
  return () => Math.round((performance.now() - start) * 1000) / 1000
}

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

/** Keeps records in memory (tests, and runs that judge in process). */
export class MemoryHistory implements HistorySink {
  readonly events: HistoryEvent[] = []
  readonly now: () => number
  constructor (clock: () => number = runClock()) { this.now = clock }
  append (e: HistoryEvent): void { this.events.push(e) }
}

// ---- reading ----

export class HistoryError extends Error {
  override name = 'HistoryError'
  constructor (message: string, readonly line?: number) {
    super(message)
  }
}

/** Longest line (in characters) the reader accepts; a sample of a node holding many deleted objects stays far below. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

type Obj = Record<string, unknown>

/**
 * One line → one record; undefined for a blank line. Throws HistoryError naming the line and
 * what is wrong. Unknown fields are ignored (newer writers may add some).
 */
export function parseHistoryLine (text: string, line = 0): HistoryEvent | undefined {
  if (text.trim() === '') return undefined
  const at = line > 0 ? `line ${line}: ` : ''
  const bad = (why: string): HistoryError => new HistoryError(`${at}${why}`, line > 0 ? line : undefined)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message}): ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object')
  const o = raw as Obj
  const time = num(o, 'time', bad, 0)
  switch (o.type) {
    case 'invoke': case 'ok': case 'fail': case 'info':
      return parseOp(o, o.type, time, bad)
    case 'nemesis': {
      const f = o.f
      if (typeof f !== 'string' || !(NEMESIS_FUNCTIONS as readonly string[]).includes(f)) {
        throw bad(`nemesis f must be one of ${NEMESIS_FUNCTIONS.join(', ')}, got ${JSON.stringify(f)}`)
      }
      const e: NemesisEvent = { type: 'nemesis', f: f as NemesisF, time }
      if (o.value !== undefined) e.value = o.value
      return e
    }
    case 'sample': {
      const round = int(o, 'round', bad, 0)
      if (!Array.isArray(o.nodes)) throw bad('sample nodes must be an array')
      const nodes = o.nodes.map((n: unknown, i: number) => parseSampleNode(n, i, bad))
      return { type: 'sample', round, time, nodes }
    }
    case 'meta': {
      const e: MetaEvent = { type: 'meta', time, format: int(o, 'format', bad, 1) }
      if (e.format > HISTORY_FORMAT) throw bad(`history format ${e.format} is newer than this reader (${HISTORY_FORMAT})`)
      if (o.seed !== undefined) e.seed = str(o, 'seed', bad)
      if (o.info !== undefined) {
        if (typeof o.info !== 'object' || o.info === null || Array.isArray(o.info)) throw bad('meta info must be an object')
        e.info = o.info as Record<string, unknown>
      }
      return e
    }
    default:
      throw bad(`unknown record type ${JSON.stringify(o.type)} (expected invoke, ok, fail, info, nemesis, sample or meta)`)
  }
}

function parseOp (o: Obj, type: OpType, time: number, bad: (w: string) => HistoryError): OpEvent {
  const f = o.f
  if (typeof f !== 'string' || !(OP_FUNCTIONS as readonly string[]).includes(f)) {
    throw bad(`f must be one of ${OP_FUNCTIONS.join(', ')}, got ${JSON.stringify(f)}`)
  }
  const e: OpEvent = {
    type,
    id: int(o, 'id', bad, 0),
    process: int(o, 'process', bad, 0),
    f: f as OpF,
    node: int(o, 'node', bad, 0, 65535),
    vdi: str(o, 'vdi', bad),
    time
  }
  if (o.vid !== undefined) {
    const v = str(o, 'vid', bad)
    if (!/^[0-9a-f]{6}$/.test(v)) throw bad(`vid must be 6 lowercase hex digits, got ${JSON.stringify(v)}`)
    e.vid = v
  }
  if (o.generation !== undefined) e.generation = int(o, 'generation', bad, 0, 0xffffffff)
  if (o.index !== undefined) e.index = int(o, 'index', bad, 0, 0xffffffff)
  if (o.indexes !== undefined) {
    const a = o.indexes
    if (!Array.isArray(a) || a.length === 0 || !a.every((x, i) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff && (i === 0 || x > a[i - 1]))) {
      throw bad('indexes must be a non-empty strictly ascending array of object indexes')
    }
    e.indexes = a as number[]
  }
  if (o.value !== undefined) {
    const v = o.value as Obj
    if (typeof v !== 'object' || v === null || typeof v.digest !== 'string' || !/^[0-9a-f]{8,64}$/.test(v.digest) ||
      typeof v.length !== 'number' || !Number.isSafeInteger(v.length) || v.length < 0) {
      throw bad('value must be { digest: hex, length: bytes }')
    }
    e.value = { digest: v.digest, length: v.length }
  }
  for (const k of ['size', 'objectSize', 'copies'] as const) if (o[k] !== undefined) e[k] = int(o, k, bad, 0)
  if (o.error !== undefined) e.error = str(o, 'error', bad, true)
  if (o.code !== undefined) e.code = str(o, 'code', bad)
  if ((f === 'write' || f === 'read') && e.index === undefined) throw bad(`${f} without index`)
  if (f === 'write' && e.value === undefined) throw bad('write without value')
  if (f === 'discard' && e.indexes === undefined) throw bad('discard without indexes')
  return e
}

function parseSampleNode (n: unknown, i: number, bad: (w: string) => HistoryError): SampleNode {
  if (typeof n !== 'object' || n === null || Array.isArray(n)) throw bad(`sample nodes[${i}] is not an object`)
  const o = n as Obj
  const b = (w: string): HistoryError => bad(`sample nodes[${i}]: ${w}`)
  const s: SampleNode = { node: int(o, 'node', b, 0, 65535), t0: num(o, 't0', b, 0), t1: num(o, 't1', b, 0) }
  if (s.t1 < s.t0) throw b('t1 before t0')
  if (o.down !== undefined) s.down = o.down === true
  if (o.error !== undefined) s.error = str(o, 'error', b, true)
  if (o.count !== undefined) s.count = int(o, 'count', b, 0)
  if (o.fp !== undefined) s.fp = str(o, 'fp', b, true)
  if (o.held !== undefined) {
    if (!Array.isArray(o.held) || !o.held.every((x) => typeof x === 'string')) throw b('held must be an array of oid groups')
    for (const g of o.held as string[]) {
      try { decodeOidGroup(g) } catch (err) { throw b((err as Error).message) }
    }
    s.held = o.held as string[]
  }
  if (o.heldCount !== undefined) s.heldCount = int(o, 'heldCount', b, 0)
  if (o.truncated !== undefined) s.truncated = o.truncated === true
  return s
}

function num (o: Obj, k: string, bad: (w: string) => HistoryError, min: number): number {
  const v = o[k]
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(`${k} must be a finite number ≥ ${min}, got ${JSON.stringify(v)}`)
  return v
}

function int (o: Obj, k: string, bad: (w: string) => HistoryError, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${k} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`)
  return v
}

function str (o: Obj, k: string, bad: (w: string) => HistoryError, emptyOk = false): string {
  const v = o[k]
  if (typeof v !== 'string' || (!emptyOk && v === '')) throw bad(`${k} must be a${emptyOk ? '' : ' non-empty'} string, got ${JSON.stringify(v)}`)
  return v
}

export interface LineEvent { line: number; event: HistoryEvent }

/**
 * Streams the records of a history file with their line numbers. Memory stays bounded by the
 * longest line (at most MAX_LINE_BYTES, else a HistoryError). A missing or unreadable file is a
 * HistoryError too.
 */
export async function * readHistory (path: string, opts: { maxLineBytes?: number } = {}): AsyncGenerator<LineEvent> {
  const max = opts.maxLineBytes ?? MAX_LINE_BYTES
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let line = 0
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 })
  try {
    for await (const chunk of stream) {
      pending += decoder.write(chunk as Buffer)
      let from = 0
      let nl: number
      while ((nl = pending.indexOf('\n', from)) >= 0) {
        line++
        if (nl - from > max) throw new HistoryError(`line ${line}: longer than ${max} characters`, line)
        const text = pending.slice(from, nl)
        from = nl + 1
        const event = parseHistoryLine(text.endsWith('\r') ? text.slice(0, -1) : text, line)
        if (event !== undefined) yield { line, event }
      }
      pending = pending.slice(from)
      if (pending.length > max) throw new HistoryError(`line ${line + 1}: longer than ${max} characters`, line + 1)
    }
  } catch (err) {
    if (err instanceof HistoryError) throw err
    const e = err as NodeJS.ErrnoException
    throw new HistoryError(`cannot read history ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  } finally {
    stream.destroy()
  }
  pending += decoder.end()
  if (pending.trim() !== '') {
    line++
    const event = parseHistoryLine(pending, line)
    if (event !== undefined) yield { line, event }
  }
}

/** A whole history held in a string (tests). */
export function parseHistory (text: string): HistoryEvent[] {
  const out: HistoryEvent[] = []
  text.split('\n').forEach((l, i) => {
    const e = parseHistoryLine(l.endsWith('\r') ? l.slice(0, -1) : l, i + 1)
    if (e !== undefined) out.push(e)
  })
  return out
}
