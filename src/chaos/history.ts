// The operation history of a chaos run (Jepsen style) and its file format: JSON Lines, one
// record per line, in the order they happened (times are monotonic ms since the run started).
// This file owns the record types, the sink records go to (HistorySink, MemoryHistory), the
// content digest used for write/read values, the compact text form of oid groups used in
// sample records, and HistoryError. The file writer is historyWriter.ts; the streaming reader
// (a malformed line is a HistoryError naming the line, never a crash) is historyReader.ts. Who writes what:
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

/** Keeps records in memory (tests, and runs that judge in process). */
export class MemoryHistory implements HistorySink {
  readonly events: HistoryEvent[] = []
  readonly now: () => number
  constructor (clock: () => number = runClock()) { this.now = clock }
  append (e: HistoryEvent): void { this.events.push(e) }
}

export class HistoryError extends Error {
  override name = 'HistoryError'
  constructor (message: string, readonly line?: number) {
    super(message)
  }
}
