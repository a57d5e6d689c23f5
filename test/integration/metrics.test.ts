// /metrics on real in-process nodes over TCP: it parses as Prometheus text and carries every
// metric docs/API.md lists, and the histograms count what happened — a delete made on node 0
// is aged and purged as `local` there and arrives (by gossip or anti-entropy) on the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { parsePromText, total, type Exposition } from '../../src/check/promText.js'

const OBJ = 4096

/** every metric family a node must expose (docs/API.md, "Metrics") with its type */
const FAMILIES: Record<string, string> = {
  bw_delete_records_applied_total: 'counter',
  bw_oids_purged_total: 'counter',
  bw_writes_refused_total: 'counter',
  bw_rejected_total: 'counter',
  bw_gossip_bytes_total: 'counter',
  bw_gossip_heartbeats_total: 'counter',
  bw_object_requests_total: 'counter',
  bw_objects: 'gauge',
  bw_members: 'gauge',
  bw_epoch: 'gauge',
  bw_delete_log_records: 'gauge',
  bw_delete_log_write_failures_total: 'counter',
  bw_delete_log_failing: 'gauge',
  bw_delete_log_pending: 'gauge',
  bw_refused_unavailable_total: 'counter',
  bw_recovery_objects: 'gauge',
  bw_recovery_bytes: 'gauge',
  bw_replica_repair_queue: 'gauge',
  bw_replica_repair_objects: 'gauge',
  bw_record_age_seconds: 'histogram',
  bw_purge_seconds: 'histogram',
  bw_ae_session_seconds: 'histogram',
  bw_ae_session_bytes: 'histogram',
  bw_ae_session_rounds: 'histogram',
  bw_tombstone_records_folded_total: 'counter',
  bw_floor_entries: 'gauge',
  bw_gossip_mesh_peers: 'gauge',
  bw_connections: 'gauge',
  bw_stale_connections_total: 'counter',
  bw_unhandled_errors_total: 'counter',
  bw_streams: 'gauge',
  process_resident_memory_bytes: 'gauge',
  process_cpu_seconds_total: 'counter',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_gc_duration_seconds: 'histogram'
}

describe('/metrics', { timeout: 180_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => { c = await InprocCluster.start(3, { copies: 3, ipBase: 180 }) }, 120_000)
  afterAll(async () => { await c?.stop() })

  async function scrape (i: number): Promise<Exposition> {
    const r = await fetch(`http://${c.specs[i].ip}:${c.specs[i].api}/metrics`, { signal: AbortSignal.timeout(10_000) })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/)
    return parsePromText(await r.text())
  }

  it('parses, holds every documented family, and counts a delete from arrival to purge on every node', async () => {
    await c.waitMembers()
    expect((await c.api(0, 'POST', '/vdi', { name: 'm', size: OBJ * 4, objectSize: OBJ, copies: 3 })).status).toBe(200)
    expect((await c.api(0, 'PUT', '/vdi/m/data?offset=0', new Uint8Array(OBJ * 4).fill(3))).status).toBe(200)
    const before = await Promise.all([0, 1, 2].map(scrape))
    expect((await c.api(0, 'DELETE', '/vdi/m')).status).toBe(200)
    await waitFor(async () => (await Promise.all([0, 1, 2].map(scrape))).every((e, i) => total(e, 'bw_purge_seconds_count') > total(before[i], 'bw_purge_seconds_count')), 30_000, 'every node to purge')
    const after = await Promise.all([0, 1, 2].map(scrape))
    for (const [i, e] of after.entries()) {
      for (const [name, type] of Object.entries(FAMILIES)) expect(e.types.get(name), `node ${i}: ${name}`).toBe(type)
      // the delete reached and was purged on every node: each counted one more record aged and purged
      const aged = total(e, 'bw_record_age_seconds_count') - total(before[i], 'bw_record_age_seconds_count')
      const purged = total(e, 'bw_purge_seconds_count') - total(before[i], 'bw_purge_seconds_count')
      expect([i, aged, purged]).toEqual([i, 1, 1])
      expect(total(e, 'process_resident_memory_bytes')).toBeGreaterThan(0)
      expect(total(e, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
      expect(total(e, 'bw_connections')).toBeGreaterThanOrEqual(2)
      expect(total(e, 'bw_gossip_mesh_peers')).toBeGreaterThan(0)
      expect(total(e, 'bw_streams')).toBeGreaterThan(0)
      // sessions ran when the nodes connected; each one observed once in all three histograms
      const sessions = total(e, 'bw_ae_session_seconds_count')
      expect(sessions).toBeGreaterThan(0)
      expect([total(e, 'bw_ae_session_bytes_count'), total(e, 'bw_ae_session_rounds_count')]).toEqual([sessions, sessions])
    }
    // made on node 0: local there; the others got it by gossip or anti-entropy
    expect(total(after[0], 'bw_record_age_seconds_count', { source: 'local' }) - total(before[0], 'bw_record_age_seconds_count', { source: 'local' })).toBe(1)
    for (const i of [1, 2]) expect(total(after[i], 'bw_record_age_seconds_count', { source: 'local' })).toBe(0)
  })
})
