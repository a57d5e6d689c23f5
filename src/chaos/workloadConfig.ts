// What a chaos workload is asked to do and what it reports: the rates (and their text form),
// the option defaults, the stats, and the content a write carries. workload.ts runs it.

import { createHash } from 'node:crypto'
import type { ClusterFile } from '../cluster/clusterFile.js'
import { OP_FUNCTIONS, type HistorySink, type OpF } from './history.js'
import type { DeleteTracker, RunningNodes } from './runState.js'

export type WorkloadRates = Record<OpF, number>

/** ops/s per kind */
export const DEFAULT_WORKLOAD_RATES: WorkloadRates = { create: 0.5, write: 8, read: 6, discard: 0.5, delete: 0.3 }
export const DEFAULT_CONCURRENCY = 4
export const DEFAULT_OBJECT_SIZE = 4096
export const DEFAULT_OBJECTS_PER_VDI = 8
export const DEFAULT_MAX_LIVE_VDIS = 6
export const DEFAULT_OP_TIMEOUT_MS = 4_000
export class WorkloadError extends Error {
  override name = 'WorkloadError'
}

/** "write=10,read=5,delete=0.2" → rates; unknown kinds and bad numbers are a WorkloadError. */
export function parseRates (spec: string): Partial<WorkloadRates> {
  const out: Partial<WorkloadRates> = {}
  for (const part of spec.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*$/.exec(part)
    if (m === null) throw new WorkloadError(`bad rate '${part.trim()}': expected kind=ops-per-second, e.g. write=10`)
    if (!(OP_FUNCTIONS as readonly string[]).includes(m[1]!)) throw new WorkloadError(`unknown operation '${m[1]}' (one of ${OP_FUNCTIONS.join(', ')})`)
    out[m[1] as OpF] = Number(m[2])
  }
  return out
}

export interface WorkloadOptions {
  file: ClusterFile
  durationMs: number
  seed: number | bigint
  history: HistorySink
  signal?: AbortSignal
  rates?: Partial<WorkloadRates>
  concurrency?: number
  objectSize?: number
  objectsPerVdi?: number
  maxLiveVdis?: number
  /** replication of the VDIs (default: the cluster's copies, at most the node count) */
  copies?: number
  opTimeoutMs?: number
  /** fed with every acknowledged delete/discard; give the same one to the sampler */
  tracker?: DeleteTracker
  /** shared with the sampler, or made from `file` (re-reading `clusterDir`/cluster.json when given) */
  nodes?: RunningNodes
  clusterDir?: string
  /** VDI names are `${namePrefix}-${n}` (default: w<seed>-<random>, unique per run) */
  namePrefix?: string
  /**
   * Allow two writes to the same object in flight at once (default true: the race is part of
   * what a chaos run should exercise). false keeps every object's writes sequential.
   */
  sameObjectWrites?: boolean
}

export type OutcomeCounts = Record<'ok' | 'fail' | 'info', number>

export interface WorkloadStats {
  namePrefix: string
  elapsedMs: number
  invoked: number
  byF: Record<OpF, OutcomeCounts>
  vdisCreated: number
  /** VDIs live at the end, as the workload knows them */
  liveVdis: number
  /** arrivals skipped because nothing fitted or no node was running */
  skipped: number
}

/** Content of the write with op `id`: a readable header, then bytes from a per-op PRNG. */
export function writeContent (tag: string, id: number, size: number): Uint8Array {
  const out = new Uint8Array(size)
  const head = Buffer.from(`bellwether ${tag} op ${id}\n`, 'utf8')
  out.set(head.subarray(0, size))
  let x = createHash('sha256').update(`${tag}:${id}`).digest().readUInt32LE(0) || 0x9e3779b9
  for (let i = head.length; i < size; i += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
    if (i + 1 < size) out[i + 1] = (x >>> 8) & 0xff
    if (i + 2 < size) out[i + 2] = (x >>> 16) & 0xff
    if (i + 3 < size) out[i + 3] = x >>> 24
  }
  return out
}
