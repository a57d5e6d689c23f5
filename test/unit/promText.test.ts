// The Prometheus text parser: what prom-client serves parses back to the same values, and a
// malformed line is an error naming it (a broken /metrics must fail the tests that read it).
import { describe, expect, it } from 'vitest'
import { Counter, Histogram, Registry } from 'prom-client'
import { parsePromText, select, total } from '../../src/check/promText.js'

describe('parsePromText', () => {
  it('reads back counters with labels (escaped ones included) and histograms as prom-client writes them', async () => {
    const r = new Registry()
    const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['kind'], registers: [r] })
    c.inc({ kind: 'a' }, 3)
    c.inc({ kind: 'q"uote\\d' }, 2)
    const h = new Histogram({ name: 'lat_seconds', help: 'h', labelNames: ['source'], buckets: [0.1, 1], registers: [r] })
    h.observe({ source: 'gossip' }, 0.05)
    h.observe({ source: 'gossip' }, 5)
    const e = parsePromText(await r.metrics())
    expect(e.types.get('x_total')).toBe('counter')
    expect(e.types.get('lat_seconds')).toBe('histogram')
    expect(total(e, 'x_total', { kind: 'a' })).toBe(3)
    expect(total(e, 'x_total', { kind: 'q"uote\\d' })).toBe(2)
    expect(select(e, 'lat_seconds_bucket', { source: 'gossip' }).map((s) => [s.labels.le, s.value])).toEqual([['0.1', 1], ['1', 1], ['+Inf', 2]])
    expect(total(e, 'lat_seconds_count')).toBe(2)
    expect(total(e, 'lat_seconds_sum')).toBeCloseTo(5.05)
  })

  it('names the line of a malformed sample', () => {
    expect(() => parsePromText('# TYPE a counter\na 1\nb{x="1" 2\n')).toThrow('metrics line 3: bad label: b{x="1" 2')
    expect(() => parsePromText('a one\n')).toThrow('metrics line 1: bad value one: a one')
    expect(() => parsePromText('{x="1"} 1\n')).toThrow('metrics line 1: no metric name')
    expect(parsePromText('a +Inf 1700000000\n').samples).toEqual([{ name: 'a', labels: {}, value: Infinity }])
  })
})
