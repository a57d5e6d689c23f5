// The public shapes of a reconciliation session: its options, what one step returns, and its
// counters. Kept apart from the state machine (session.ts) so callers and fakes can name
// them without reading it.

import type { AeFrame } from '../wire/bellwether_pb.js'
import type { DeleteRec } from '../tombstones/record.js'

export interface SessionOptions {
  branch?: number
  idListThreshold?: number
  maxRecordsPerFrame?: number
  maxFrameRanges?: number
  /** frames this session accepts before ending with an error (a peer that never finishes) */
  maxFrames?: number
  /** records this session may learn before ending with an error (the rest take another session) */
  maxRecordsPerSession?: number
  /** hashes we may have queued to ask the peer for */
  maxPendingWants?: number
  /** work we may have queued for the peer: hashes it asked for, ids to skip, ranges to push */
  maxPendingPushes?: number
}

export interface Step {
  /** send this to the peer (also when `done`: the last frame of the session) */
  reply?: AeFrame
  /** records of this frame the set lacked, in arrival order: receive() added them, accept() leaves that to the caller */
  learned: DeleteRec[]
  /** the session is over; nothing more will be sent or accepted */
  done: boolean
  /** why the session failed: the peer's frame was invalid (reply carries it) or the peer reported one */
  error?: string
  /** set when the session failed because of the peer's input (a frame out of bounds): a rejection to count */
  rejected?: boolean
}

export interface SessionStats {
  rounds: number
  framesIn: number
  framesOut: number
  recordsSent: number
  recordsLearned: number
  /** hashes sent, in ID_LIST ranges and in want lists */
  idsSent: number
  rangesSent: number
}
