// What the soak's scraper keeps of a node's /metrics: the wanted families (with _sum, _count,
// _total, without buckets), labels in one canonical order, no NaN/Inf, bounded per scrape.
import { describe, expect, it } from 'vitest'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { parsePromText } from '../../src/check/promText.js'
import { MAX_SAMPLES, pickSamples } from '../../src/soak/scraper.js'

describe('pickSamples', () => {
  it('keeps the wanted families of what prom-client writes', async () => {
    const r = new Registry()
    new Gauge({ name: 'bw_objects', help: 'h', registers: [r] }).set(42)
    new Counter({ name: 'bw_rejected_total', help: 'h', labelNames: ['kind', 'a'], registers: [r] }).inc({ kind: 'gossip', a: 'x"y' }, 3)
    const h = new Histogram({ name: 'bw_purge_seconds', help: 'h', buckets: [0.1, 1], registers: [r] })
    h.observe(0.5)
    h.observe(2)
    new Gauge({ name: 'other', help: 'h', registers: [r] }).set(1)
    new Gauge({ name: 'bw_floor_entries', help: 'h', registers: [r] }).set(NaN)
    const got = pickSamples(parsePromText(await r.metrics()), ['bw_objects', 'bw_rejected_total', 'bw_purge_seconds', 'bw_floor_entries', 'missing'])
    expect(got).toEqual({
      bw_objects: 42,
      'bw_rejected_total{a="x\\"y",kind="gossip"}': 3,
      bw_purge_seconds_sum: 2.5,
      bw_purge_seconds_count: 2
    })
  })

  it('keeps at most MAX_SAMPLES per scrape', () => {
    const text = Array.from({ length: MAX_SAMPLES + 50 }, (_, i) => `m{i="${i}"} ${i}`).join('\n')
    expect(Object.keys(pickSamples(parsePromText(text), ['m']))).toHaveLength(MAX_SAMPLES)
  })
})
