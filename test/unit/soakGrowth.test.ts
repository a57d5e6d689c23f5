// growth.ts: the heap slope a soak report shows is a least-squares fit of the heap's floor after warm-up, per
// process — a killed and restarted node starts a new series instead of reading as a drop —
// and start/end figures, tombstones at the end and the load average come from the lines.
import { describe, expect, it } from 'vitest'
import { growth, lsSlope, WARMUP_MS } from '../../src/report/growth.js'
import type { MetricsLine } from '../../src/soak/scraper.js'

const MIB = 1024 * 1024
const H = 3_600_000

function line (t: number, node: number, heapMiB: number, start: number, extra: Record<string, number> = {}): MetricsLine {
  return { t, time: new Date(t).toISOString(), node, load: 1 + node, m: { nodejs_heap_size_used_bytes: heapMiB * MIB, process_resident_memory_bytes: 2 * heapMiB * MIB, process_start_time_seconds: start, ...extra } }
}

describe('growth', () => {
  it('fits a straight line exactly', () => {
    expect(lsSlope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2, 12)
    expect(lsSlope([[1, 1], [1, 2]])).toBeUndefined()
    expect(lsSlope([[1, 1]])).toBeUndefined()
  })

  it('measures a leak after warm-up, ignores the warm-up and a sawtooth, and cuts a restarted process', () => {
    const lines: MetricsLine[] = []
    for (let t = 0; t <= H; t += 5000) {
      // node 0 leaks 6 MiB/h under a 40 MiB GC sawtooth (its floor rises, its peaks are noise); its first minutes climb fast (warm-up)
      const warm = t < WARMUP_MS ? 30 * (1 - t / WARMUP_MS) : 0
      lines.push(line(t, 0, 50 - warm + 6 * t / H + 40 * ((t / 5000) % 6) / 5, 1000, { bw_delete_log_records: 7, bw_floor_entries: 3 }))
      // node 1 is flat at 40 MiB, killed at 20 min (no answer for 10 s), restarted with a fresh heap at 20 MiB, flat after
      if (t >= 20 * 60_000 && t < 20 * 60_000 + 10_000) lines.push({ t, time: '', node: 1, load: 2, error: 'fetch failed' })
      else if (t < 20 * 60_000) lines.push(line(t, 1, 40, 1000))
      else lines.push(line(t, 1, 20, 2200))
    }
    const g = growth(lines)
    const [n0, n1] = g.nodes
    expect(n0!.heapSlopeMiBPerHour).toBeCloseTo(6, 0)
    expect(n0!.processes).toBe(1)
    expect(n0!.tombstonesEnd).toBe(7)
    expect(n0!.floorEnd).toBe(3)
    expect(n0!.fitMs).toBe(H - WARMUP_MS)
    // one fit across the restart would read -40 MiB/h; per process it is flat
    expect(n1!.processes).toBe(2)
    expect(n1!.heapSlopeMiBPerHour).toBeCloseTo(0, 6)
    expect(n1!.fitMs).toBeGreaterThan(25 * 60_000)
    expect(n1!.heapStartMiB).toBe(40)
    expect(n1!.heapEndMiB).toBe(20)
    expect(n1!.rssEndMiB).toBe(40)
    expect(g.load).toEqual({ min: 1, median: 2, max: 2 })
  })

  it('reads a busier and busier node whose heap returns to the same floor as flat', () => {
    // peaks climb 0 → 60 MiB over the hour (more garbage between collections), every collection gets back to 30
    const lines: MetricsLine[] = []
    for (let t = 0; t <= H; t += 5000) lines.push(line(t, 0, 30 + (60 * t / H) * (((t / 5000) % 12) / 11), 1))
    const all = lsSlope(lines.filter((l) => l.t >= WARMUP_MS).map((l) => [l.t / H, l.m!.nodejs_heap_size_used_bytes! / MIB]))
    expect(all).toBeGreaterThan(20)
    expect(growth(lines).nodes[0]!.heapSlopeMiBPerHour).toBeCloseTo(0, 6)
  })

  it('gives no slope when no process lived past warm-up plus the minimum fit', () => {
    const lines = [0, 5000, 10_000].map((t) => line(t, 0, 10 + t / 1000, 1))
    const g = growth(lines)
    expect(g.nodes[0]!.heapSlopeMiBPerHour).toBeUndefined()
    expect(g.nodes[0]!.fitMs).toBe(0)
  })
})
