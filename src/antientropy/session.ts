// One anti-entropy session between two nodes, sans-I/O: frames in, frames out. Range-based
// set reconciliation over delete records keyed by (hlc, recordHash), in the manner of
// Negentropy, except that both sides stream the records the other lacks inside the session.
//
// Answering a FINGERPRINT range: equal → resolved; the peer holds nothing there → push all of
// ours (no list needed); we hold ≤ idListThreshold (or one) → our id list; else split into
// `branch` fingerprints by our own items. Only the side with few items lists them: a side
// with 10^5 items facing a peer with 3 splits instead, and the peer lists its 3 next round,
// so ids never cost more than the records they save. Receiving an id list resolves its
// range: we push what the peer lacks and want what we lack. Pushes are queued lazily
// ("our items in [a, b) except these ids") and drained into each frame within its limits.
//
// Termination rule (both sides evaluate the same predicate, so neither waits for a frame the
// other will never send): a frame is *done* when its sender has nothing queued (records or
// wants) after it, and *quiet* when it is done and carries no question (no FINGERPRINT or
// ID_LIST range) and no want. The session ends at the first quiet frame whose preceding
// frame (the other direction) was done: its sender ends after sending it, its receiver ends
// after applying it and sends nothing. Why nothing is left open then: a done predecessor
// means its sender had answered every want it had received and queued nothing more; the
// quiet frame answered every question of that predecessor without opening new ones, asked
// for nothing, and its sender's queue is empty too.
//
// Records learned from a frame count as held only once they are in the set. A node whose set
// mirrors a durable log receives in two halves (accept → store → answer, see durable.ts), so
// a record whose append failed is never held and the next session fetches it again.
import { create } from '@bufbuild/protobuf'
import {
  AeFrameSchema,
  AeMode,
  LogSummarySchema,
  type AeFrame,
  type AeRange,
  type LogSummary
} from '../wire/bellwether_pb.js'
import type { DeleteRec } from '../tombstones/record.js'
import { MAX_KEY, compareKeys, type Key, type ReconSet } from './reconSet.js'
import {
  BRANCH,
  ID_LIST_THRESHOLD,
  MAX_FRAME_BYTES,
  MAX_FRAME_RANGES,
  MAX_IDS_PER_FRAME,
  MAX_PENDING_PUSH_IDS,
  MAX_PENDING_WANTS,
  MAX_RECORDS_PER_FRAME,
  MAX_RECORDS_PER_SESSION,
  MAX_SESSION_FRAMES,
  RANGE_BYTES_BUDGET
} from './constants.js'
import {
  FRAME_FIXED_BYTES, RANGE_BASE_BYTES, WANT_BYTES, ZERO_KEY, addSkip, decodeFrame, rangeCost, toWireRange, type OutRange
} from './frame.js'
import { Violation, checkShape, readRecords } from './frameCheck.js'
import { Outbox } from './outbox.js'
import { answerFor } from './rangeSplit.js'
import type { SessionOptions, SessionStats, Step } from './sessionTypes.js'

// the frame codec and the session's types are public through this module too (callers
// predate the split)
export { AeFrameError, decodeFrame, encodeFrame, recordWireSize } from './frame.js'
export type { SessionOptions, SessionStats, Step } from './sessionTypes.js'

export class ReconSession {
  private readonly role: 'initiator' | 'responder'
  private readonly set: ReconSet
  private readonly branch: number
  private readonly threshold: number
  private readonly maxRecords: number
  private readonly maxRanges: number
  private readonly maxFrames: number
  private readonly maxSessionRecords: number
  private readonly maxWants: number
  private readonly maxPushes: number
  private state: 'idle' | 'open' | 'ended' = 'idle'
  private sentSummary = false
  private lastSentDone = false
  /** records and wants queued for the peer; its pushWeight is counted against maxPushes */
  private readonly out: Outbox
  private peer: LogSummary | undefined
  /** a frame accept()ed and not yet answered, and its records the set lacked */
  private accepted: AeFrame | undefined
  private acceptedNew: Array<[DeleteRec, bigint]> = []
  private readonly st: SessionStats = {
    rounds: 0,
    framesIn: 0,
    framesOut: 0,
    recordsSent: 0,
    recordsLearned: 0,
    idsSent: 0,
    rangesSent: 0
  }

  constructor (role: 'initiator' | 'responder', set: ReconSet, opts: SessionOptions = {}) {
    this.role = role
    this.set = set
    this.branch = opts.branch ?? BRANCH
    this.threshold = opts.idListThreshold ?? ID_LIST_THRESHOLD
    this.maxRecords = opts.maxRecordsPerFrame ?? MAX_RECORDS_PER_FRAME
    this.maxRanges = opts.maxFrameRanges ?? MAX_FRAME_RANGES
    this.maxFrames = opts.maxFrames ?? MAX_SESSION_FRAMES
    this.maxSessionRecords = opts.maxRecordsPerSession ?? MAX_RECORDS_PER_SESSION
    this.maxWants = opts.maxPendingWants ?? MAX_PENDING_WANTS
    this.maxPushes = opts.maxPendingPushes ?? MAX_PENDING_PUSH_IDS
    this.out = new Outbox(set, this.maxRecords)
    if (!Number.isInteger(this.branch) || this.branch < 2 || this.branch > 1024) {
      throw new RangeError('branch must be an integer in 2..1024')
    }
    if (!Number.isInteger(this.threshold) || this.threshold < 0 || this.threshold > 1024) {
      throw new RangeError('idListThreshold must be an integer in 0..1024')
    }
    if (!Number.isInteger(this.maxRecords) || this.maxRecords < 1) throw new RangeError('maxRecordsPerFrame must be >= 1')
    // Progress needs the first answer of every reply to fit: a skip, one split (branch ranges)
    // and the closing skip + remainder. Otherwise every reply would be a bare remainder.
    if (!Number.isInteger(this.maxRanges) || this.maxRanges < this.branch + 3) {
      throw new RangeError(`maxFrameRanges must be >= branch + 3 (${this.branch + 3})`)
    }
    if (role === 'responder') this.state = 'open'
  }

  get stats (): SessionStats {
    return { ...this.st }
  }

  /** The peer's LogSummary from its first frame, if it sent one. */
  get peerSummary (): LogSummary | undefined {
    return this.peer
  }

  get ended (): boolean {
    return this.state === 'ended'
  }

  /** The initiator's first frame: the whole keyspace as one id list or `branch` fingerprints. */
  start (): AeFrame {
    if (this.role !== 'initiator') throw new Error('start() is for the initiator')
    if (this.state !== 'idle') throw new Error('session already started')
    this.state = 'open'
    return this.finish(answerFor(this.set, 0, this.set.size, MAX_KEY, this.threshold, this.branch))
  }

  /** Decodes and receives; a frame that cannot be decoded ends the session with an error. */
  receiveBytes (bytes: Uint8Array): Step {
    return this.decoded(bytes, (f) => this.receive(f))
  }

  /**
   * accept + answer in one step, for a set nothing else has to make durable first (the
   * simulation, tests): the records learned are added to the set before the frame is answered.
   */
  receive (frame: AeFrame): Step {
    const got = this.accept(frame)
    if (got.done) return got
    for (const [rec, hash] of this.acceptedNew) this.set.add(rec, hash)
    const step = this.answer()
    // they are in the set now, whatever answer() made of the session
    step.learned = got.learned
    return step
  }

  /** acceptBytes: accept() for encoded bytes; a frame that cannot be decoded ends the session. */
  acceptBytes (bytes: Uint8Array): Step {
    return this.decoded(bytes, (f) => this.accept(f))
  }

  /** the frame accept() took and answer() has not answered yet (the node reads its GC part) */
  get acceptedFrame (): AeFrame | undefined {
    return this.accepted
  }

  private decoded (bytes: Uint8Array, then: (f: AeFrame) => Step): Step {
    if (this.state === 'ended') return endedStep()
    let f: AeFrame
    try {
      f = decodeFrame(bytes, MAX_FRAME_BYTES)
    } catch (e) {
      return this.fail((e as Error).message, true)
    }
    return then(f)
  }

  /**
   * First half of receiving a frame where records count as held only once durable: validates
   * the frame and returns (as `learned`) its records the set lacks, WITHOUT adding them. The
   * caller makes them durable and adds to the set those it stored, then calls answer(); if it
   * cannot store them it calls abort(), and they stay un-held, so a later session fetches them
   * again. Returns done (with the error reply) when the frame ends the session instead.
   */
  accept (frame: AeFrame): Step {
    if (this.state === 'ended') return endedStep()
    if (this.state === 'idle') return this.fail('initiator received a frame before start()')
    if (this.accepted !== undefined) return this.fail('internal error: a frame was accepted before the previous one was answered')
    try {
      this.st.framesIn++
      if (this.role === 'responder') this.st.rounds++
      if (frame.error !== '') {
        this.state = 'ended'
        return { learned: [], done: true, error: `peer error: ${frame.error.slice(0, 200)}` }
      }
      if (this.st.framesIn > this.maxFrames) throw new Violation(`session exceeded ${this.maxFrames} frames`)
      const incoming = this.validate(frame)
      if (frame.summary !== undefined && this.peer === undefined) this.peer = frame.summary
      const learned: DeleteRec[] = []
      this.acceptedNew = []
      for (const [rec, hash] of incoming) {
        if (this.set.has(hash)) continue
        learned.push(rec)
        this.acceptedNew.push([rec, hash])
      }
      if (this.st.recordsLearned + learned.length > this.maxSessionRecords) {
        this.acceptedNew = []
        throw new Violation(`session would learn more than ${this.maxSessionRecords} records`)
      }
      this.st.recordsLearned += learned.length
      this.accepted = frame
      return { learned, done: false }
    } catch (e) {
      // a Violation is the peer's fault; anything else is ours, but it must still end the
      // session rather than escape into the transport
      return e instanceof Violation ? this.fail(e.message, true) : this.fail(`internal error: ${(e as Error).message}`)
    }
  }

  /**
   * Second half: answers the accepted frame from the set as it is now (with whatever the
   * caller stored of the frame's records). `learned` is empty: accept() reported them.
   */
  answer (): Step {
    if (this.state === 'ended') return endedStep()
    const f = this.accepted
    if (f === undefined) return this.fail('internal error: answer() without an accepted frame')
    this.accepted = undefined
    this.acceptedNew = []
    try {
      return this.respond(f)
    } catch (e) {
      return this.fail(`internal error: ${(e as Error).message}`)
    }
  }

  /** Ends the session from this side (e.g. learned records could not be stored); reply carries why. */
  abort (reason: string): Step {
    if (this.state === 'ended') return endedStep()
    this.accepted = undefined
    this.acceptedNew = []
    return this.fail(reason)
  }

  private respond (f: AeFrame): Step {
    const asks = f.ranges.some((r) => r.mode !== AeMode.SKIP)
    const quietIn = f.done && !asks && f.want.length === 0
    if (quietIn && this.lastSentDone) {
      this.state = 'ended'
      return { learned: [], done: true }
    }
    if (f.want.length > 0) this.out.queuePush({ kind: 'ids', ids: BigUint64Array.from(f.want), pos: 0, weight: f.want.length })
    const ranges = this.answerRanges(f.ranges)
    const reply = this.finish(ranges)
    const quietOut = reply.done && !reply.ranges.some((r) => r.mode !== AeMode.SKIP) && reply.want.length === 0
    if (quietOut && f.done) this.state = 'ended'
    return { reply, learned: [], done: this.state === 'ended' }
  }

  private fail (msg: string, rejected = false): Step {
    this.state = 'ended'
    const step: Step = { reply: create(AeFrameSchema, { error: msg, done: true }), learned: [], done: true, error: msg }
    if (rejected) step.rejected = true
    return step
  }

  /** Throws Violation unless the frame is well formed; returns its records with their hashes. */
  private validate (f: AeFrame): Array<[DeleteRec, bigint]> {
    checkShape(f, this.maxRanges, this.maxRecords)
    // what answering this frame would queue, against what is queued already: a peer that asks
    // (or lists) faster than frames drain must not grow our queues without end
    let lacked = 0
    let weight = f.want.length
    for (const r of f.ranges) {
      if (r.mode === AeMode.SKIP) continue
      weight += 1 + r.ids.length
      for (const h of r.ids) if (!this.set.has(h)) lacked++
    }
    if (this.out.pendingWants + lacked > this.maxWants) {
      throw new Violation(`frame would queue more than ${this.maxWants} wanted ids`)
    }
    if (this.out.pushWeight + weight > this.maxPushes) throw new Violation(`frame would queue more than ${this.maxPushes} ids and ranges to push`)
    return readRecords(f, this.set)
  }

  /**
   * Answers each question of the peer. Stops early when the reply's range budget runs out:
   * everything from there on becomes one FINGERPRINT range to MAX_KEY that the peer
   * re-examines, so nothing is lost, only a round.
   */
  private answerRanges (ranges: AeRange[]): OutRange[] {
    const out: OutRange[] = []
    let bytes = 0
    let ids = 0
    let lower = ZERO_KEY
    for (const r of ranges) {
      const upper: Key = { hlc: r.upper!.hlc, hash: r.upper!.hash }
      if (r.mode === AeMode.ID_LIST) {
        this.takeIdList(lower, upper, r.ids)
      } else if (r.mode === AeMode.FINGERPRINT) {
        const a = this.set.lowerBound(lower)
        const b = this.set.lowerBound(upper)
        const mine = this.set.fingerprint(a, b)
        const theirs = Number(r.count)
        if (mine.count === theirs && mine.sum === r.fingerprint) {
          // equal: resolved
        } else if (theirs === 0) {
          // they hold nothing here: everything of ours goes, no need to list it first
          this.out.queuePush({ kind: 'range', from: lower, to: upper, except: new BigUint64Array(0), weight: 1 })
        } else {
          const answer = answerFor(this.set, a, b, upper, this.threshold, this.branch)
          const cost = answer.reduce((s, x) => s + rangeCost(x), 0)
          const idCost = answer.reduce((s, x) => s + (x.ids?.length ?? 0), 0)
          // room for a skip before the answer, and after it for either the trailing skip or a
          // skip plus the remainder range
          if (
            out.length + 1 + answer.length + 2 > this.maxRanges ||
            bytes + cost + 3 * RANGE_BASE_BYTES > RANGE_BYTES_BUDGET ||
            ids + idCost > MAX_IDS_PER_FRAME
          ) {
            const a0 = this.set.lowerBound(lower)
            const rest = this.set.fingerprint(a0, this.set.size)
            addSkip(out, lower)
            out.push({ upper: MAX_KEY, mode: AeMode.FINGERPRINT, count: rest.count, fp: rest.sum })
            return out
          }
          addSkip(out, lower)
          out.push(...answer)
          bytes += cost + RANGE_BASE_BYTES
          ids += idCost
        }
      }
      lower = upper
    }
    return out
  }

  /** The peer listed all its ids in [lower, upper): push what it lacks, want what we lack. */
  private takeIdList (lower: Key, upper: Key, theirs: bigint[]): void {
    const except = BigUint64Array.from(theirs)
    this.out.queuePush({ kind: 'range', from: lower, to: upper, except, weight: 1 + except.length })
    for (const h of except) if (!this.set.has(h)) this.out.want(h)
  }

  /** Fills a reply with the ranges, then queued wants, then queued records, within budget. */
  private finish (ranges: OutRange[]): AeFrame {
    const asks = ranges.some((r) => r.mode !== AeMode.SKIP)
    const wireRanges: AeRange[] = []
    let bytes = FRAME_FIXED_BYTES
    if (asks) {
      for (const r of ranges) {
        bytes += rangeCost(r)
        wireRanges.push(toWireRange(r))
        if (r.ids !== undefined) this.st.idsSent += r.ids.length
      }
      const last = ranges[ranges.length - 1]!
      if (compareKeys(last.upper, MAX_KEY) !== 0) {
        wireRanges.push(toWireRange({ upper: MAX_KEY, mode: AeMode.SKIP, count: 0, fp: 0n }))
        bytes += RANGE_BASE_BYTES
      }
      this.st.rangesSent += wireRanges.length
    }
    const want = this.out.drainWants()
    this.st.idsSent += want.length
    bytes += want.length * WANT_BYTES + 8
    const records = this.out.drainRecords(MAX_FRAME_BYTES - bytes)
    this.st.recordsSent += records.length
    const done = this.out.empty
    const frame = create(AeFrameSchema, { ranges: wireRanges, records, want, done })
    if (!this.sentSummary) {
      this.sentSummary = true
      const s = this.set.summary()
      frame.summary = create(LogSummarySchema, { count: BigInt(s.count), fingerprint: s.fingerprint, maxHlc: s.maxHlc })
    }
    this.lastSentDone = done
    this.st.framesOut++
    if (this.role === 'initiator') this.st.rounds++
    return frame
  }
}

function endedStep (): Step {
  return { learned: [], done: true, error: 'session has ended' }
}
