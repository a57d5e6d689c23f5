// Deterministic anti-entropy simulation for tests and the benchmark: builds two record sets
// from a seed (one lacking d records, clustered as a partition leaves them or scattered),
// drives two sessions against each other through the real encoder, and counts bytes,
// frames and rounds. Pure: no clock, no I/O.

import { recordHash, type DeleteRec } from '../tombstones/record.js'
import { encodedSize } from '../codec/deltaVarint.js'
import { varintSize } from '../codec/varint.js'
import type { AeFrame } from '../wire/bellwether_pb.js'
import { ReconSet } from './reconSet.js'
import { ReconSession, encodeFrame, type SessionOptions } from './session.js'
import { seededRng } from '../rng.js'

/** kept under its old name for the simulation's callers */
export const rng = seededRng

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/**
 * n records in key order as a small cluster would write them: 8 origins with libp2p-length
 * peer ids, HLCs advancing 0..3 ms per delete, mostly whole-VDI deletes, some discards.
 */
export function makeRecords (n: number, seed: number): DeleteRec[] {
  const r = rng(seed)
  const origins: string[] = []
  for (let o = 0; o < 8; o++) {
    let s = '12D3KooW'
    for (let i = 0; i < 44; i++) s += B58[Math.floor(r() * B58.length)]
    origins.push(s)
  }
  const seqs = new Array<bigint>(origins.length).fill(0n)
  let ms = 1_700_000_000_000
  let logical = 0
  const out: DeleteRec[] = []
  for (let i = 0; i < n; i++) {
    const step = Math.floor(r() * 4)
    if (step === 0) logical++
    else {
      ms += step
      logical = 0
    }
    const hlc = (BigInt(ms) << 16n) | BigInt(logical)
    const o = Math.floor(r() * origins.length)
    seqs[o] = seqs[o]! + 1n
    const vid = 1 + Math.floor(r() * 0xfffffe)
    const generation = Math.floor(r() * 4)
    if (r() < 0.9) {
      out.push({ kind: 'vdi', origin: origins[o]!, seq: seqs[o]!, hlc, vid, generation })
    } else {
      const k = 1 + Math.floor(r() * 8)
      const ix = new Set<number>()
      while (ix.size < k) ix.add(Math.floor(r() * 1_000_000))
      const indexes = Uint32Array.from([...ix].sort((x, y) => x - y))
      out.push({ kind: 'objects', origin: origins[o]!, seq: seqs[o]!, hlc, vid, generation, indexes })
    }
  }
  return out
}

/** encodeRecord(rec).length, computed without encoding (the baseline sums 10^6 of these). */
export function encodedRecordSize (rec: DeleteRec): number {
  const ol = Buffer.byteLength(rec.origin, 'utf8')
  let n = 1 + varintSize(ol) + ol + 1 + varintSize(rec.seq) + (rec.hlc !== 0n ? 9 : 0) + 2 + 1 + varintSize(rec.vid)
  if (rec.generation !== 0) n += 1 + varintSize(rec.generation)
  if (rec.kind === 'objects') {
    const ib = encodedSize(rec.indexes)
    n += 1 + varintSize(ib) + ib + 1 + varintSize(rec.indexes.length)
  }
  return n
}

export interface SessionRun {
  /** bytes of every encoded frame, both directions */
  bytes: number
  frames: number
  /** round trips: frames / 2, rounded up */
  rounds: number
  largestFrame: number
  learnedByInitiator: DeleteRec[]
  learnedByResponder: DeleteRec[]
  recordsSent: number
  error?: string
}

export interface RunHooks {
  /** called before frame `index` (0-based) is delivered; may change either set */
  beforeDeliver?: (index: number, frame: AeFrame, to: 'initiator' | 'responder') => void
  /** frames after which the driver gives up and reports a hang */
  maxFrames?: number
}

/** Drives an initiator on `a` and a responder on `b` until both end, through encodeFrame/receiveBytes. */
export function runSession (a: ReconSet, b: ReconSet, opts: SessionOptions = {}, hooks: RunHooks = {}): SessionRun {
  const ini = new ReconSession('initiator', a, opts)
  const res = new ReconSession('responder', b, opts)
  const run: SessionRun = {
    bytes: 0,
    frames: 0,
    rounds: 0,
    largestFrame: 0,
    learnedByInitiator: [],
    learnedByResponder: [],
    recordsSent: 0
  }
  const cap = hooks.maxFrames ?? 1_000_000
  let frame: AeFrame | undefined = ini.start()
  let to: 'initiator' | 'responder' = 'responder'
  while (frame !== undefined) {
    if (run.frames >= cap) {
      run.error = `no end after ${cap} frames`
      break
    }
    hooks.beforeDeliver?.(run.frames, frame, to)
    const bytes = encodeFrame(frame)
    run.bytes += bytes.length
    run.frames++
    run.largestFrame = Math.max(run.largestFrame, bytes.length)
    const step = (to === 'responder' ? res : ini).receiveBytes(bytes)
    ;(to === 'responder' ? run.learnedByResponder : run.learnedByInitiator).push(...step.learned)
    if (step.error !== undefined && run.error === undefined) run.error = step.error
    frame = step.reply
    to = to === 'responder' ? 'initiator' : 'responder'
  }
  if (run.error === undefined && !(ini.ended && res.ended)) run.error = 'driver stopped before both sides ended'
  run.rounds = Math.ceil(run.frames / 2)
  run.recordsSent = ini.stats.recordsSent + res.stats.recordsSent
  return run
}

export interface SimParams {
  n: number
  d: number
  clustered: boolean
  seed: number
  /** which side lacks the d records; default the initiator (a node back from a partition) */
  lacking?: 'initiator' | 'responder'
  opts?: SessionOptions
  /** reuse records (and their hashes) from an earlier makeRecords(n, seed) across runs */
  pool?: { records: DeleteRec[]; hashes: bigint[] }
}

export interface SimResult extends Omit<SessionRun, 'learnedByInitiator' | 'learnedByResponder'> {
  n: number
  d: number
  clustered: boolean
  seed: number
  /** encoded bytes of the d missing records */
  missingRecordBytes: number
  /** "ship the whole log": encoded bytes of every record of the larger side */
  baselineBytes: number
  learned: number
  converged: boolean
}

/** One reproducible session: same params and seed, same bytes, rounds and frames. */
export function simulate (p: SimParams): SimResult {
  const { n, d, clustered, seed } = p
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 0 || d > n) {
    throw new RangeError(`need integers 0 <= d <= n, got n=${n} d=${d}`)
  }
  if (p.pool !== undefined && p.pool.records.length !== n) throw new RangeError('pool must hold exactly n records')
  const recs = p.pool?.records ?? makeRecords(n, seed)
  const hashes = p.pool?.hashes
  const r = rng(seed ^ 0x5bd1e995)
  const missing = new Uint8Array(n)
  if (clustered) {
    const start = Math.floor(r() * (n - d + 1))
    missing.fill(1, start, start + d)
  } else {
    let left = d
    while (left > 0) {
      const i = Math.floor(r() * n)
      if (missing[i] === 0) {
        missing[i] = 1
        left--
      }
    }
  }
  const full = new ReconSet()
  const part = new ReconSet()
  let baselineBytes = 0
  let missingRecordBytes = 0
  for (let i = 0; i < n; i++) {
    const rec = recs[i]!
    const h = hashes?.[i] ?? recordHash(rec)
    const sz = encodedRecordSize(rec)
    baselineBytes += sz
    full.add(rec, h)
    if (missing[i] === 1) missingRecordBytes += sz
    else part.add(rec, h)
  }
  const lacking = p.lacking ?? 'initiator'
  const run = lacking === 'initiator' ? runSession(part, full, p.opts) : runSession(full, part, p.opts)
  const learned = run.learnedByInitiator.length + run.learnedByResponder.length
  const converged =
    run.error === undefined &&
    part.size === n &&
    full.size === n &&
    part.summary().fingerprint === full.summary().fingerprint
  const { learnedByInitiator: _i, learnedByResponder: _r, ...rest } = run
  return { ...rest, n, d, clustered, seed, missingRecordBytes, baselineBytes, learned, converged }
}
