// The vocabulary between the delete replica (replica.ts) and whatever drives it (the node's
// DeleteDriver, the simulator): the read-only view of the delete log it needs, the typed
// opening of an anti-entropy session (GC fields, carried as protobuf AeFrame fields on the
// wire: src/net/aeService.ts encodes them in one place), and the effects it asks for.
import type { DeleteRec } from './record.js'
import type { FloorState } from './floor.js'

/** what brought a record: `late` = refused while the log could not be written, durable since its retry */
export type RecordSource = 'local' | 'gossip' | 'ae' | 'disk' | 'late'

/**
 * What the replica reads of the durable delete log, synchronously (DeleteLog keeps its records
 * in memory; the simulator's log is a Map). The log is written only through `append` and
 * `compact` effects, by the driver.
 */
export interface LogView {
  records (): DeleteRec[]
  has (origin: string, seq: bigint): boolean
  /** 1 + the highest seq of `origin` held (1n if none) */
  nextSeq (origin: string): bigint
  summary (): { count: number, fingerprint: bigint, maxHlc: bigint }
}

export interface FloorEntry { vid: number, generation: number }

/** The GC half of a session's first frame, each side's. */
export interface Opening {
  /** the sender's HLC when it opened the session: the snapshot time a clean session acknowledges */
  now: bigint
  /** HLC up to which the sender holds every delete record of every current member */
  ack: bigint
  gcHorizon: bigint
  floorHash: bigint
  /** the receiver's ack lies behind the sender's horizon: `floor` stands for records the sender folded away */
  reset: boolean
  /** the sender's floor, when its digest differs from the receiver's or on a reset; else empty */
  floor: FloorEntry[]
}

/** what a heartbeat told of a peer's delete state */
export interface Beacon {
  /** the sender's clock when it beat (the time its summary describes) */
  hlc: bigint
  log: { count: bigint, fingerprint: bigint, ack: bigint, floorHash: bigint }
}

/** how a session ended, as the replica needs it */
export interface SessionEnd {
  /** when it started, ms on the driver's clock (the same clock as onPeerUp's) */
  startedAt: number
  /** undefined: a full reconciliation (clean) */
  error?: string
  /** the peer's opening, if the session got that far */
  theirs?: Opening
}

/**
 * Effects, executed in order by the driver. Those marked → report their completion back
 * (the replica waits for it before it acts on what they make true).
 */
export type Effect =
  /** make durable → appended(fresh, source) with the records new to the log (appendFailed on error) */
  | { type: 'append', recs: DeleteRec[], source: RecordSource }
  /** the objects these records cover: remove them from disk and cache (the index holds the records already) */
  | { type: 'purge', recs: DeleteRec[], source: RecordSource }
  /** every object of vid with generation <= generation (a floor entry) */
  | { type: 'purgeVid', vid: number, generation: number, source: 'disk' | 'floor' | 'reset' }
  /** gossip this node's own records to the peers */
  | { type: 'publish', recs: DeleteRec[] }
  /** save this draft as the floor file → floorSaved(state) (foldFailed on error) */
  | { type: 'saveFloor', state: FloorState, why: 'gc' | 'floor' | 'seqs' }
  /** drop these records from the delete log (the saved floor stands for them) → compacted(count) (foldFailed on error) */
  | { type: 'compact', drop: DeleteRec[] }
  /** consider an anti-entropy session with `peer` (the scheduler decides; `summary`: what its heartbeat said) */
  | { type: 'startSession', peer: string, reason: 'connected' | 'beacon', summary?: Beacon['log'] }
  /** refused peer input: count and log it */
  | { type: 'reject', kind: string, reason: string, peer: string }
