// The node's Prometheus metrics (served on the admin API's /metrics). One registry per node
// so several in-process nodes (tests, benchmarks) do not collide.
import { Counter, Gauge, Registry } from 'prom-client'

export class NodeMetrics {
  readonly registry = new Registry()
  readonly recordsApplied = this.counter('bw_delete_records_applied_total', 'delete records newly persisted and applied', ['source'])
  readonly oidsPurged = this.counter('bw_oids_purged_total', 'objects removed from disk and cache because a tombstone covers them')
  readonly writesRefused = this.counter('bw_writes_refused_total', 'object writes refused because a tombstone covers them', ['path'])
  readonly rejected = this.counter('bw_rejected_total', 'untrusted input (from a peer or a client) rejected, by kind', ['kind'])
  readonly gossipBytes = this.counter('bw_gossip_bytes_total', 'gossip payload bytes', ['topic', 'direction'])
  readonly gossipHeartbeats = this.counter('bw_gossip_heartbeats_total', 'gossipsub heartbeats run here: a message leaves the gossip cache GOSSIP_MCACHE_LENGTH heartbeats after it arrived')
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
  recovery (t: { recovered: number, failed: number, deletedSkipped: number, dropped: number, racedDeletes: number, readRepaired: number, bytes: number }): void {
    this.recoveryObjects.set({ result: 'recovered' }, t.recovered)
    this.recoveryObjects.set({ result: 'failed' }, t.failed)
    this.recoveryObjects.set({ result: 'deleted_skipped' }, t.deletedSkipped)
    this.recoveryObjects.set({ result: 'dropped' }, t.dropped)
    this.recoveryObjects.set({ result: 'raced_delete' }, t.racedDeletes)
    this.recoveryObjects.set({ result: 'read_repaired' }, t.readRepaired)
    this.recoveryBytes.set(t.bytes)
  }

  readonly repairQueue = this.gauge('bw_replica_repair_queue', 'oids whose write reached only some replicas, waiting for repair')
  readonly repairObjects = this.gauge('bw_replica_repair_objects', 'replica repairs since start, by result', ['result'])

  repair (r: { pending: number, totals: { repaired: number, pushed: number, dropped: number, overflows: number } }): void {
    this.repairQueue.set(r.pending)
    this.repairObjects.set({ result: 'repaired' }, r.totals.repaired)
    this.repairObjects.set({ result: 'pushed' }, r.totals.pushed)
    this.repairObjects.set({ result: 'dropped' }, r.totals.dropped)
    this.repairObjects.set({ result: 'overflow' }, r.totals.overflows)
  }

  private counter (name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  private gauge (name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] })
  }
}
