// The chaos history's reader: one JSON line → one validated record, streamed from a file or
// parsed from text. A malformed line is a HistoryError naming the line, never a crash; unknown
// fields are ignored so newer writers may add some.

import { createReadStream } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import {
  HISTORY_FORMAT, HistoryError, NEMESIS_FUNCTIONS, OP_FUNCTIONS, decodeOidGroup,
  type HistoryEvent, type MetaEvent, type NemesisEvent, type NemesisF, type OpEvent, type OpF, type OpType, type SampleNode
} from './history.js'

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
