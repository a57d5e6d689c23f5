// What the history checker takes and gives: the cluster's final state (gathered by gather.ts),
// the read plan it asks for, and the report with its findings. Types only (and the default
// findings cap), shared by the judge, the gatherer, the CLI and the soak report.

import type { LocalCheck, VdiInfo } from '../api/types.js'
import type { ContentDigest, OpF } from '../chaos/history.js'

export interface FinalNodeState {
  node: number
  peerId?: string
  /** GET /check; absent when the node could not be asked (then `error`) */
  check?: LocalCheck
  error?: string
}

export interface FinalRead {
  vdi: string
  index: number
  oid: string
  /** the node that answered, or the last one tried */
  node?: number
  value?: ContentDigest
  error?: string
  code?: string
}

export interface FinalState {
  nodes: FinalNodeState[]
  /** live VDIs at the end (every node's GET /vdi, duplicates are fine) */
  vdis: VdiInfo[]
  reads: FinalRead[]
}

/** An object the final state must read: whole object `index` of VDI `vdi`. */
export interface ReadPlanItem {
  vdi: string
  vid: string
  index: number
  oid: string
  offset: number
  length: number
}

export interface HistoryFinding {
  oid: string
  node?: number
  vdi?: string
  detail: string
}

export interface Quantiles { count: number; p50: number; p90: number; p99: number; max: number }

export type OpCounts = Record<OpF, { invoked: number; ok: number; fail: number; info: number }>

export interface HistoryReport {
  ok: boolean
  counts: { lost: number; revived: number; unpurged: number; stale: number; falselyPurged: number }
  /** findings per kind, at most `maxFindings` each (the counts are exact) */
  lost: HistoryFinding[]
  falselyPurged: HistoryFinding[]
  revived: HistoryFinding[]
  unpurged: HistoryFinding[]
  stale: HistoryFinding[]
  ops: OpCounts
  checked: {
    /** objects whose final content was judged */
    objects: number
    /** acknowledged writes among them */
    ackedWrites: number
    /** acknowledged VDI deletes / discards whose objects were followed */
    deletes: number
    discards: number
    sampleRounds: number
    /** nodes in the final state / of them answered */
    nodes: number
    nodesAnswered: number
  }
  reads: { checked: number; unexpected: number; stale: number; findings: HistoryFinding[] }
  purgeLatency: (Quantiles & { notPurged: number; unobserved: number }) | null
  healToConverged: { lastHeal: number; convergedAt: number | null; ms: number | null } | null
  /** over every heal/resume/start: time to the first converged round before the next fault; `interrupted` = the next fault came first */
  healsConverged: (Quantiles & { interrupted: number }) | null
  /** over time, for plots: [ack, purge latency ms] per purged delete/discard; [heal time, ms to converged or null = interrupted] per heal */
  series: { purge: Array<[number, number]>; heals: Array<[number, number | null]> }
  notes: string[]
}

export const DEFAULT_MAX_FINDINGS = 200
