// When to reconcile with whom. Triggers: a peer's beacon (its heartbeat's delete-log
// summary) differs from ours, or a connection to it opens (heal, restart, join) — the
// latter at once, without waiting for a beacon. At most one session per peer at a time,
// a global cap, a minimum interval per peer for beacon triggers, and backoff on failure.
// On a beacon mismatch only the side with the smaller peer id starts, unless the mismatch
// outlives a few beacons (the other side may be paused or its sessions failing). A session
// that never ends frees its slot after a watchdog, so one stuck stream cannot stall a peer.
import type { Logger } from 'pino'
import type { AntiEntropyService, SessionReport } from '../net/aeService.js'
import { AE_MAX_CONCURRENT, AE_MIN_INTERVAL_MS, AE_WATCHDOG_MS } from '../net/constants.js'
import { LATE, within } from '../deadline.js'
import { systemTime, type Timers } from '../time.js'

export interface SchedulerDeps {
  self: string
  summary (): { count: number, fingerprint: bigint, floorHash: bigint }
  /** only members in the view and not cut off by a partition are worth a dial */
  reachable (peer: string): boolean
}

export interface Beacon { count: bigint, fingerprint: bigint, floorHash: bigint }

/** equal count, fingerprint and floor: the peer holds exactly the records we hold */
export function sameSummary (mine: { count: number, fingerprint: bigint, floorHash: bigint }, theirs: Beacon): boolean {
  return BigInt(mine.count) === theirs.count && mine.fingerprint === theirs.fingerprint && mine.floorHash === theirs.floorHash
}

interface PeerSlot {
  running: boolean
  queued: boolean
  /** someone is waiting on this session (serve gate): it skips the global cap */
  urgent: boolean
  notBefore: number
  mismatchSince: number | undefined
  failures: number
  waiters: Array<(r: SessionReport | undefined) => void>
}

const TIE_BREAK_GRACE_MS = 3000
const MAX_BACKOFF_MS = 15_000

export class AeScheduler {
  private readonly peers = new Map<string, PeerSlot>()
  private running = 0
  private stopped = false
  private readonly queue: string[] = []

  constructor (
    private readonly service: AntiEntropyService,
    private readonly deps: SchedulerDeps,
    private readonly log: Logger,
    /** backoff, intervals and the watchdog run on it (virtual in tests and the simulator) */
    private readonly time: Timers = systemTime,
    private readonly watchdogMs = AE_WATCHDOG_MS
  ) {}

  private now (): number { return this.time.now() }

  /** sessions the watchdog gave up on (each one a bug worth a report) */
  stuck = 0

  stop (): void {
    this.stopped = true
    for (const slot of this.peers.values()) for (const w of slot.waiters.splice(0)) w(undefined)
  }

  get active (): number { return this.running }

  /** a peer's beacon arrived */
  onBeacon (peer: string, summary: Beacon): void {
    const slot = this.slot(peer)
    if (sameSummary(this.deps.summary(), summary)) {
      slot.mismatchSince = undefined
      return
    }
    const t = this.now()
    slot.mismatchSince ??= t
    const ours = this.deps.self < peer || t - slot.mismatchSince > TIE_BREAK_GRACE_MS
    if (ours && t >= slot.notBefore) this.request(peer)
  }

  /** a connection to `peer` opened: reconcile now */
  onConnect (peer: string): void {
    const slot = this.slot(peer)
    slot.notBefore = 0
    this.request(peer)
  }

  /** run (or join) a session with `peer`; resolves with its report, undefined if it never ran */
  async syncNow (peer: string): Promise<SessionReport | undefined> {
    return await new Promise((resolve) => {
      const slot = this.slot(peer)
      slot.waiters.push(resolve)
      slot.urgent = true
      this.request(peer)
    })
  }

  /** an evicted member: its slot goes unless a session with it is running or queued (which ends it) */
  forget (peer: string): void {
    const s = this.peers.get(peer)
    if (s != null && !s.running && !s.queued && s.waiters.length === 0) this.peers.delete(peer)
  }

  /** peers with a slot (bounded-state checks) */
  get slots (): number { return this.peers.size }

  private slot (peer: string): PeerSlot {
    let s = this.peers.get(peer)
    if (s == null) {
      s = { running: false, queued: false, urgent: false, notBefore: 0, mismatchSince: undefined, failures: 0, waiters: [] }
      this.peers.set(peer, s)
    }
    return s
  }

  private request (peer: string): void {
    if (this.stopped || peer === this.deps.self) return
    const slot = this.slot(peer)
    if (slot.queued) return
    slot.queued = true
    this.queue.push(peer)
    this.pump()
  }

  private pump (): void {
    while (!this.stopped && this.queue.length > 0) {
      // demand-driven sessions (a request is waiting on them) go first and skip the cap
      let i = this.queue.findIndex((p) => !this.slot(p).running && this.slot(p).urgent)
      if (i < 0 && this.running < AE_MAX_CONCURRENT) i = this.queue.findIndex((p) => !this.slot(p).running)
      if (i < 0) return
      const peer = this.queue.splice(i, 1)[0]
      const slot = this.slot(peer)
      slot.queued = false
      slot.urgent = false
      if (!this.deps.reachable(peer)) {
        for (const w of slot.waiters.splice(0)) w(undefined)
        continue
      }
      slot.running = true
      this.running++
      const waiters = slot.waiters.splice(0)
      void this.guarded(peer).then((report) => {
        slot.running = false
        this.running--
        if (report.error == null) {
          slot.failures = 0
          slot.mismatchSince = undefined
          slot.notBefore = this.now() + AE_MIN_INTERVAL_MS
        } else {
          slot.failures++
          slot.notBefore = this.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** slot.failures)
          this.log.debug({ peer, err: report.error, failures: slot.failures }, 'anti-entropy session failed; backing off')
        }
        for (const w of waiters) w(report)
        this.pump()
      })
    }
  }

  /** the session's report; an error report if it throws, or if it has not ended by the watchdog */
  private async guarded (peer: string): Promise<SessionReport> {
    const failed = (error: string): SessionReport => ({
      peer, role: 'initiator', startedAt: this.now(), ms: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, rounds: 0, learned: 0, sent: 0, error
    })
    const report = await within(this.service.sync(peer).catch((err) => failed(String(err?.message ?? err))), this.watchdogMs, this.time)
    if (report !== LATE) return report
    this.stuck++
    this.log.warn({ peer, ms: this.watchdogMs }, 'anti-entropy session did not end: slot freed by the watchdog')
    return failed(`session did not end within ${this.watchdogMs} ms`)
  }
}
