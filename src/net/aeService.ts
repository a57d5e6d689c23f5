// The anti-entropy stream protocol (/bellwether/ae/1.0.0): carries one ReconSession's
// frames over a libp2p stream with it-pipe + length-prefixed framing. The session is pure;
// this adapter only moves bytes, enforces the deadline, carries each side's Opening (the GC
// exchange: writeOpening/readOpening) on its first frame, and hands learned records to the
// node (which persists, applies and purges them, and adds them to the set, before the
// session answers the frame that brought them).
// Shaped like js-libp2p's ping service: built from components (host, handler, logger) and
// an init that overrides the defaults in ./constants.ts; start() registers the handler,
// stop() unregisters it; the logger is scoped to this component.
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import { pushable } from 'it-pushable'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import { ReconSession, encodeFrame } from '../antientropy/session.js'
import { receiveDurably } from '../antientropy/durable.js'
import { MAX_FRAME_BYTES } from '../antientropy/constants.js'
import type { ReconSet } from '../antientropy/reconSet.js'
import type { DeleteRec } from '../tombstones/record.js'
import { create } from '@bufbuild/protobuf'
import { FloorEntrySchema, LogSummarySchema, type AeFrame } from '../wire/bellwether_pb.js'
import type { Opening } from '../tombstones/replicaTypes.js'
import type { Host } from './host.js'
import { AE_MAX_INBOUND_SESSIONS, AE_MAX_SESSIONS_PER_PEER, AE_PROTOCOL_NAME, AE_PROTOCOL_VERSION, AE_SESSION_TIMEOUT_MS, CLOSE_GRACE_MS, DIAL_TIMEOUT_MS, MAX_INBOUND_STREAMS, PROTOCOL_PREFIX, protocolId } from './constants.js'
import { settlesWithin } from '../deadline.js'
import { systemTime, type Timers } from '../time.js'

/** The node's side of anti-entropy. */
export interface AeHandler {
  /** the live set being reconciled: only records this node holds durably (sessions read it, ingest adds to it) */
  readonly set: ReconSet
  /**
   * persist, apply and purge records a session learned, adding to `set` those it made durable;
   * resolves once they are durable. A rejection ends the session; the records stay un-held.
   * Resolving to a string: some records were refused (and stay un-held) for a reason that may
   * be this node's lack of knowledge; the session goes on, but ends reported as failed with
   * that reason, so it does not count as a full reconciliation (serve gate, GC ack).
   */
  ingest (recs: DeleteRec[], peer: string): Promise<string | undefined | void>
  /** this side's opening (GC: clock, ack, horizon, floor digest, floor, reset), sent on its first frame */
  opening?: (peer: string) => Opening
  /**
   * the peer's opening, once the session validated the frame carrying it and before anything
   * of that frame is stored. Throwing ends the session (nothing of the frame is applied); a
   * string result marks it as not clean, as ingest's
   */
  onOpening?: (peer: string, opening: Opening) => Promise<string | undefined | void>
  /** a peer's input was refused (a frame out of bounds, too many sessions): count and log it */
  rejected?: (kind: string, reason: string, peer: string) => void
  /** every session, clean (no error) or failed, once it is over; `theirs`: the peer's opening, if it came */
  ended?: (report: SessionReport, theirs: Opening | undefined) => void
}

/**
 * The one place the typed opening meets the wire: its fields ride the protobuf AeFrame of
 * each side's first frame (LogSummary's now/ack/gcHorizon/floorHash, floor_hash, floor, reset).
 */
export function writeOpening (frame: AeFrame, o: Opening): void {
  frame.summary ??= create(LogSummarySchema, {})
  frame.summary.now = o.now
  frame.summary.ack = o.ack
  frame.summary.gcHorizon = o.gcHorizon
  frame.summary.floorHash = o.floorHash
  frame.floorHash = o.floorHash
  frame.reset = o.reset
  frame.floor = o.floor.map((e) => create(FloorEntrySchema, { vid: e.vid, generation: e.generation }))
}

/** the peer's opening from its first frame (fields it left out read as 0 / empty) */
export function readOpening (frame: AeFrame): Opening {
  return {
    now: frame.summary?.now ?? 0n,
    ack: frame.summary?.ack ?? 0n,
    gcHorizon: frame.summary?.gcHorizon ?? 0n,
    floorHash: frame.floorHash,
    reset: frame.reset,
    floor: frame.floor.map((e) => ({ vid: e.vid, generation: e.generation }))
  }
}

export interface SessionReport {
  peer: string
  role: 'initiator' | 'responder'
  startedAt: number
  ms: number
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  rounds: number
  learned: number
  sent: number
  error?: string
}

export interface AeTotals {
  started: number
  completed: number
  failed: number
  bytesIn: number
  bytesOut: number
  recordsLearned: number
  recordsSent: number
}

const RECENT = 32

export interface AntiEntropyServiceComponents {
  host: Host
  handler: AeHandler
  logger: Logger
  /** the session deadline and its timestamps run on it; the same clock as the connection times the replica compares them with */
  timers?: Timers
}

export interface AntiEntropyServiceInit {
  protocolPrefix?: string
  /** a whole session, however many rounds */
  timeoutMs?: number
}

export class AntiEntropyService {
  readonly protocol: string
  readonly totals: AeTotals = { started: 0, completed: 0, failed: 0, bytesIn: 0, bytesOut: 0, recordsLearned: 0, recordsSent: 0 }
  /** the last few sessions, newest last (admin API) */
  readonly recent: SessionReport[] = []
  private started = false
  /** sessions open per peer (both directions) and inbound in all */
  private readonly open = new Map<string, number>()
  private inbound = 0

  private readonly host: Host
  private readonly handler: AeHandler
  private readonly log: Logger
  private readonly timeoutMs: number
  private readonly time: Timers

  constructor (components: AntiEntropyServiceComponents, init: AntiEntropyServiceInit = {}) {
    this.host = components.host
    this.handler = components.handler
    this.log = components.logger.child({ component: 'ae' })
    this.protocol = protocolId(AE_PROTOCOL_NAME, AE_PROTOCOL_VERSION, init.protocolPrefix ?? PROTOCOL_PREFIX)
    this.timeoutMs = init.timeoutMs ?? AE_SESSION_TIMEOUT_MS
    this.time = components.timers ?? systemTime
  }

  async start (): Promise<void> {
    await this.host.handle(this.protocol, ({ stream, connection }) => {
      const peer = connection.remotePeer.toString()
      const mine = this.open.get(peer) ?? 0
      if (mine >= AE_MAX_SESSIONS_PER_PEER || this.inbound >= AE_MAX_INBOUND_SESSIONS) {
        const why = mine >= AE_MAX_SESSIONS_PER_PEER ? `${mine} sessions with this peer already open (limit ${AE_MAX_SESSIONS_PER_PEER})` : `${this.inbound} inbound sessions already open (limit ${AE_MAX_INBOUND_SESSIONS})`
        this.handler.rejected?.('ae-sessions', `anti-entropy stream refused: ${why}`, peer)
        stream.abort(new Error(`too many anti-entropy sessions: ${why}`))
        return
      }
      this.inbound++
      void this.run(stream, peer, 'responder').catch(() => {}).finally(() => { this.inbound-- })
    }, { maxInboundStreams: MAX_INBOUND_STREAMS })
    this.started = true
  }

  async stop (): Promise<void> {
    if (this.started) await this.host.unhandle(this.protocol)
    this.started = false
  }

  /** run one session as initiator with `peer` */
  async sync (peer: string): Promise<SessionReport> {
    // a stopped or paused peer must not pin a session slot: opening the stream has its own short deadline
    const stream = await this.host.dialProtocol(peerIdFromString(peer), this.protocol, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    return await this.run(stream, peer, 'initiator')
  }

  private async run (stream: Stream, peer: string, role: 'initiator' | 'responder'): Promise<SessionReport> {
    this.open.set(peer, (this.open.get(peer) ?? 0) + 1)
    try {
      return await this.session(stream, peer, role)
    } finally {
      const n = (this.open.get(peer) ?? 1) - 1
      if (n <= 0) this.open.delete(peer)
      else this.open.set(peer, n)
    }
  }

  /** sessions open with `peer` now, both directions */
  openWith (peer: string): number { return this.open.get(peer) ?? 0 }

  private async session (stream: Stream, peer: string, role: 'initiator' | 'responder'): Promise<SessionReport> {
    const session = new ReconSession(role, this.handler.set)
    /** why the session, however it ends, is not a full reconciliation (records refused) */
    let unclean: string | undefined
    const report: SessionReport = { peer, role, startedAt: this.time.now(), ms: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, rounds: 0, learned: 0, sent: 0 }
    this.totals.started++
    const out = pushable<Uint8Array>()
    const timer = this.time.setTimeout(() => { stream.abort(new Error(`anti-entropy session with ${peer} timed out after ${this.timeoutMs} ms`)) }, this.timeoutMs)
    const sinkDone = pipe(out, (src) => lp.encode(src, { maxDataLength: MAX_FRAME_BYTES }), stream.sink).catch((err) => { report.error ??= String(err?.message ?? err) })
    let firstOut = true
    let firstIn = true
    let theirs: Opening | undefined
    const send = (frame: AeFrame): void => {
      if (firstOut) {
        firstOut = false
        const mine = this.handler.opening?.(peer)
        if (mine !== undefined) writeOpening(frame, mine)
      }
      const bytes = encodeFrame(frame)
      report.bytesOut += bytes.byteLength
      out.push(bytes)
    }
    try {
      if (role === 'initiator') send(session.start())
      for await (const chunk of lp.decode(stream.source, { maxDataLength: MAX_FRAME_BYTES })) {
        const bytes = chunk.subarray()
        report.bytesIn += bytes.byteLength
        // the first frame's GC part (floor, reset) is applied only once the session validated
        // the whole frame: a frame it refuses must change nothing (a fuzzer found a refused
        // frame's floor entries applied and purged)
        let valid: ((frame: AeFrame) => Promise<void>) | undefined
        if (firstIn) {
          firstIn = false
          valid = async (frame) => {
            theirs = readOpening(frame)
            const onOpening = this.handler.onOpening
            if (onOpening != null) unclean ??= (await onOpening(peer, theirs)) ?? undefined
          }
        }
        // learned records join the set only once the handler made them durable
        const step = await receiveDurably(session, bytes, async (recs) => { unclean ??= (await this.handler.ingest(recs, peer)) ?? undefined }, valid)
        if (step.rejected === true) this.handler.rejected?.('ae-frame', `anti-entropy frame refused, session ended: ${step.error ?? ''}`, peer)
        report.learned += step.learned.length
        this.totals.recordsLearned += step.learned.length
        if (step.reply != null) send(step.reply)
        if (step.error != null) report.error = step.error
        if (step.done) break
      }
      if (!session.ended && report.error == null) report.error = 'peer closed the stream mid-session'
      if (unclean != null) report.error ??= unclean
    } catch (err) {
      report.error ??= String((err as Error)?.message ?? err)
    } finally {
      this.time.clearTimeout(timer)
      out.end()
      // Never wait on the sink past the stream's own end: once the muxer's side of the sink has
      // ended (the connection closed under the session, a reset, the deadline's abort above),
      // the byte-stream wrapper libp2p puts in front of it waits forever for a reader of the end
      // marker we just queued, so sinkDone would never settle and the session never return.
      // The flush gets what is left of the session's deadline, and at least a short grace.
      const flushMs = Math.max(CLOSE_GRACE_MS, report.startedAt + this.timeoutMs - this.time.now())
      const flushed = stream.writeStatus !== 'closed' && await settlesWithin(sinkDone, flushMs, this.time)
      if (!flushed) {
        report.error ??= `stream to ${peer} ended before the session's last frames were sent`
        stream.abort(new Error(report.error))
      }
      // a graceful close waits for the peer's end too: bounded as well
      await stream.close({ signal: AbortSignal.timeout(CLOSE_GRACE_MS) }).catch(() => { stream.abort(new Error('close failed')) })
      const st = session.stats
      Object.assign(report, { ms: this.time.now() - report.startedAt, framesIn: st.framesIn, framesOut: st.framesOut, rounds: st.rounds, sent: st.recordsSent })
      this.account(report, theirs)
    }
    if (report.error != null) this.log.debug({ peer, role, err: report.error }, 'anti-entropy session failed')
    return report
  }

  private account (r: SessionReport, theirs: Opening | undefined): void {
    if (r.error == null) this.totals.completed++
    else this.totals.failed++
    this.totals.bytesIn += r.bytesIn
    this.totals.bytesOut += r.bytesOut
    this.totals.recordsSent += r.sent
    this.recent.push(r)
    if (this.recent.length > RECENT) this.recent.shift()
    try { this.handler.ended?.(r, theirs) } catch (err) { this.log.warn({ err: String(err) }, 'anti-entropy session accounting failed') }
  }
}
