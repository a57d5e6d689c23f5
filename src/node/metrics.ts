// The node's Prometheus metrics (served on the admin API's /metrics). One registry per node
// so several in-process nodes (tests, benchmarks) do not collide. Every metric is listed in
// docs/API.md; soak runs scrape them into metrics.jsonl and plot them.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { HostState } from '../net/host.js'

// record age spans a fresh local delete (ms) to a node back from a day away
const AGE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400]
// a purge is a few unlinks per record, or a whole VDI's files
const PURGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const SESSION_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60]
const SESSION_BYTES_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
const SESSION_ROUNDS_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64]

export class NodeMetrics {
  readonly registry = new Registry()

  /**
   * `processMetrics`: prom-client's process and runtime defaults (heap, RSS, event-loop lag, GC);
   * a node asks for them, nothing else should: each registration starts an event-loop delay
   * monitor that is never stopped (a fuzzer making one NodeMetrics per input grew to 5 GB).
   * Nodes sharing one process (in-process test clusters) each report the same process.
   */
  constructor (opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics === true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 })
  }

  readonly recordsApplied = this.counter('bw_delete_records_applied_total', 'delete records newly persisted and applied', ['source'])
  readonly oidsPurged = this.counter('bw_oids_purged_total', 'objects removed from disk and cache because a tombstone covers them')
  readonly writesRefused = this.counter('bw_writes_refused_total', 'object writes refused because a tombstone covers them', ['path'])
  readonly rejected = this.counter('bw_rejected_total', 'untrusted input (from a peer or a client) rejected, by kind', ['kind'])
  /** errors that escaped every handler and timer (a bug): caught by the process guard, never a silent death */
  readonly unhandled = this.counter('bw_unhandled_errors_total', 'errors no handler or timer caught, stopped by the process guard (each is a bug): type rejection or exception', ['type'])
  readonly gossipBytes = this.counter('bw_gossip_bytes_total', 'gossip payload bytes', ['topic', 'direction'])
  readonly staleConnections = this.counter('bw_stale_connections_total', 'connections hung up because their member sent no heartbeat on them for STALE_CONNECTION_MS (the redialer makes fresh ones)')
  readonly heartbeatsRelayed = this.counter('bw_heartbeats_relayed_total', 'membership heartbeats of other members this node passed on to its gossip mesh: news, or while some member misses members (src/membership/relay.ts); the others are delivered here only')
  readonly unheardMembers = this.gauge('bw_unheard_members', 'live members this node has not heard straight from lately (their heartbeats reach it only through others, or not at all)')
  readonly gossipHeartbeats = this.counter('bw_gossip_heartbeats_total', 'gossipsub heartbeats run here: a message leaves the gossip cache GOSSIP_MCACHE_LENGTH heartbeats after it arrived')
  readonly offPlacementPuts = this.counter('bw_off_placement_puts_total', 'peer puts stored here although this node is no placement target in its own view (a writer with another view); each nudges a recovery pass')
  readonly objectRequests = this.counter('bw_object_requests_total', 'object protocol requests served', ['op', 'status'])
  readonly objects = this.gauge('bw_objects', 'objects in the object list cache')
  readonly members = this.gauge('bw_members', 'live members in the view')
  readonly epoch = this.gauge('bw_epoch', 'membership epoch')
  readonly deleteLogRecords = this.gauge('bw_delete_log_records', 'records in the delete log')
  readonly deleteLogWriteFailures = this.counter('bw_delete_log_write_failures_total', 'delete log writes, fsyncs and retries that failed (disk full, I/O error)')
  /** what the two gauges below read at scrape time (the node sets it) */
  deleteLogState: () => { failing: boolean, pending: number } = () => ({ failing: false, pending: 0 })
  readonly deleteLogFailing: Gauge = new Gauge({
    name: 'bw_delete_log_failing',
    help: '1 while the node refuses object reads and writes because its delete log cannot be written (or is catching up), else 0',
    registers: [this.registry],
    collect: () => { this.deleteLogFailing.set(this.deleteLogState().failing ? 1 : 0) }
  })

  readonly deleteLogPending: Gauge = new Gauge({
    name: 'bw_delete_log_pending',
    help: 'delete records waiting in memory for the delete log to be writable again',
    registers: [this.registry],
    collect: () => { this.deleteLogPending.set(this.deleteLogState().pending) }
  })

  readonly refusedUnavailable = this.counter('bw_refused_unavailable_total', 'requests refused because the delete log cannot be written', ['path'])

  readonly recoveryObjects = this.gauge('bw_recovery_objects', 'objects handled by recovery since start, by result (read_repaired: deleted copies a peer purged on our hint)', ['result'])
  readonly recoveryBytes = this.gauge('bw_recovery_bytes', 'object bytes pulled by recovery since start')

  /** recovery totals: a deleted oid is never requested; `raced_delete` counts transfers a delete overtook (refused at the store gate) */
  recovery (t: { recovered: number, failed: number, deletedSkipped: number, dropped: number, handedOff: number, racedDeletes: number, readRepaired: number, bytes: number }): void {
    this.recoveryObjects.set({ result: 'recovered' }, t.recovered)
    this.recoveryObjects.set({ result: 'failed' }, t.failed)
    this.recoveryObjects.set({ result: 'deleted_skipped' }, t.deletedSkipped)
    this.recoveryObjects.set({ result: 'dropped' }, t.dropped)
    this.recoveryObjects.set({ result: 'handed_off' }, t.handedOff)
    this.recoveryObjects.set({ result: 'raced_delete' }, t.racedDeletes)
    this.recoveryObjects.set({ result: 'read_repaired' }, t.readRepaired)
    this.recoveryBytes.set(t.bytes)
  }

  readonly repairQueue = this.gauge('bw_replica_repair_queue', 'oids whose write reached only some replicas, waiting for repair')
  readonly repairObjects = this.gauge('bw_replica_repair_objects', 'replica repairs since start, by result', ['result'])

  repair (r: { pending: number, totals: { repaired: number, pushed: number, dropped: number, overflows: number, retried: number } }): void {
    this.repairQueue.set(r.pending)
    this.repairObjects.set({ result: 'repaired' }, r.totals.repaired)
    this.repairObjects.set({ result: 'pushed' }, r.totals.pushed)
    this.repairObjects.set({ result: 'dropped' }, r.totals.dropped)
    this.repairObjects.set({ result: 'overflow' }, r.totals.overflows)
    this.repairObjects.set({ result: 'retried' }, r.totals.retried)
  }

  readonly recordAge = new Histogram({
    name: 'bw_record_age_seconds',
    help: 'age of a delete record (its HLC against this node\'s clock) when it was persisted and applied here, by how it arrived',
    labelNames: ['source'],
    buckets: AGE_BUCKETS,
    registers: [this.registry]
  })

  readonly purgeSeconds = new Histogram({
    name: 'bw_purge_seconds',
    help: 'from a delete record (or floor entries) arriving here to its objects gone from cache and disk, by how it arrived',
    labelNames: ['source'],
    buckets: PURGE_BUCKETS,
    registers: [this.registry]
  })

  readonly aeSessionSeconds = this.histogram('bw_ae_session_seconds', 'anti-entropy session duration (failed ones included), by role', SESSION_SECONDS_BUCKETS)
  readonly aeSessionBytes = this.histogram('bw_ae_session_bytes', 'anti-entropy session bytes, both directions, by role', SESSION_BYTES_BUCKETS)
  readonly aeSessionRounds = this.histogram('bw_ae_session_rounds', 'anti-entropy session rounds (frames this side received), by role', SESSION_ROUNDS_BUCKETS)

  /** one anti-entropy session ended (cleanly or not) */
  aeSession (r: { role: string, ms: number, bytesIn: number, bytesOut: number, rounds: number }): void {
    this.aeSessionSeconds.observe({ role: r.role }, r.ms / 1000)
    this.aeSessionBytes.observe({ role: r.role }, r.bytesIn + r.bytesOut)
    this.aeSessionRounds.observe({ role: r.role }, r.rounds)
  }

  /** records folded since start, read at scrape time (the node sets it) */
  foldedRecords: () => number = () => 0
  private foldedSeen = 0
  readonly recordsFolded: Counter = new Counter({
    name: 'bw_tombstone_records_folded_total',
    help: 'delete records folded into the floor and dropped from the log since start (bw_delete_log_records counts the live ones)',
    registers: [this.registry],
    collect: () => {
      const n = this.foldedRecords()
      if (n > this.foldedSeen) this.recordsFolded.inc(n - this.foldedSeen)
      this.foldedSeen = n
    }
  })

  /** floor size at scrape time (the node sets it) */
  floorSize: () => number = () => 0
  readonly floorEntries: Gauge = new Gauge({
    name: 'bw_floor_entries',
    help: 'entries in the floor (one per vid whose whole-VDI deletes folded; kept forever)',
    registers: [this.registry],
    collect: () => { this.floorEntries.set(this.floorSize()) }
  })

  /** the libp2p host at scrape time (the node sets it) */
  hostState: () => HostState = () => ({ mesh: [], connections: 0, streams: new Map() })
  readonly meshPeers: Gauge = new Gauge({
    name: 'bw_gossip_mesh_peers',
    help: 'gossipsub mesh peers, by topic',
    labelNames: ['topic'],
    registers: [this.registry],
    collect: () => {
      this.meshPeers.reset()
      for (const m of this.hostState().mesh) this.meshPeers.set({ topic: m.topic }, m.peers)
    }
  })

  readonly connections: Gauge = new Gauge({
    name: 'bw_connections',
    help: 'open libp2p connections',
    registers: [this.registry],
    collect: () => { this.connections.set(this.hostState().connections) }
  })

  readonly streams: Gauge = new Gauge({
    name: 'bw_streams',
    help: 'open libp2p streams, by protocol',
    labelNames: ['protocol'],
    registers: [this.registry],
    collect: () => {
      this.streams.reset()
      for (const [protocol, n] of this.hostState().streams) this.streams.set({ protocol }, n)
    }
  })

  private histogram (name: string, help: string, buckets: number[]): Histogram {
    return new Histogram({ name, help, labelNames: ['role'], buckets, registers: [this.registry] })
  }

  private counter (name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  private gauge (name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] })
  }
}
