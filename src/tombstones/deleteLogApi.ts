// The delete log as its users see it (the delete pipeline, GC, admission, the node and its
// API): what both the file-backed DeleteLog and the in-memory MemDeleteLog promise. The
// contract test (test/unit/storeContract.test.ts) runs the same cases against both.
import { DeleteLogError } from './logFrames.js'
import type { DeleteRec } from './record.js'

export { DeleteLogError } from './logFrames.js'

/** The log cannot be written right now: nothing of the call is durable. The admin API answers 503. */
export class DeleteLogUnavailableError extends DeleteLogError {
  override name = 'DeleteLogUnavailableError'
  readonly code = 'UNAVAILABLE'
}

export interface DeleteLogHooks {
  /** a write, fsync or retry failed (once per attempt) */
  writeFailed?: (err: unknown) => void
  /** the log is writable again; `recs` (refused while it was not) are durable now and new to this node */
  recovered?: (recs: DeleteRec[]) => void
}

export interface DeleteLogApi {
  /** loads what is durable; at most once (DeleteLogError otherwise). `records`: how many are held */
  open (): Promise<{ records: number, tornBytes: number, removedTemps: string[] }>
  /**
   * Makes the records durable and resolves with those not already held (deduped by
   * (origin, seq), also within the call and against calls still in flight), in call order:
   * exactly what the caller should apply. A malformed record rejects its own call only; a
   * closed or unopened log rejects with DeleteLogError; an unwritable one with
   * DeleteLogUnavailableError.
   */
  append (recs: DeleteRec[]): Promise<DeleteRec[]>
  has (origin: string, seq: bigint): boolean
  /** 1 + the highest seq ever held (or waiting) for `origin`; compaction does not lower it */
  nextSeq (origin: string): bigint
  readonly size: number
  /** count, fingerprint (sum of recordHash mod 2^64) and maxHlc of the records held */
  summary (): { count: number, fingerprint: bigint, maxHlc: bigint }
  /** every record held, ascending by compareRecords (a fresh array) */
  records (): DeleteRec[]
  perOrigin (): Map<string, { contiguous: bigint, max: bigint }>
  /** drops the records `drop` selects, durably, after the appends in flight; returns how many */
  compact (drop: (r: DeleteRec) => boolean): Promise<number>
  /** waits for appends in flight; later appends reject */
  close (): Promise<void>
  /** why appends are refused right now, undefined when writable */
  unavailable (): string | undefined
  /** records refused while unavailable, waiting for a retry */
  readonly pending: number
  /** failed writes since open */
  readonly writeFailures: number
  hooks: DeleteLogHooks
}
