// The soak's reader of /metrics text: only the families asked for (with _sum/_count/_total,
// without buckets), labels in one canonical order, junk skipped instead of thrown.
import { describe, expect, it } from 'vitest'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { familyOf, labelOf, MAX_SAMPLES, parsePromText } from '../../src/soak/promText.js'

describe('parsePromText', () => {
  it('reads what prom-client writes', async () => {
    const r = new Registry()
    new Gauge({ name: 'bw_objects', help: 'h', registers: [r] }).set(42)
    new Counter({ name: 'bw_rejected_total', help: 'h', labelNames: ['kind'], registers: [r] }).inc({ kind: 'gossip' }, 3)
    const h = new Histogram({ name: 'bw_purge_seconds', help: 'h', buckets: [0.1, 1], registers: [r] })
    h.observe(0.5)
    h.observe(2)
    new Gauge({ name: 'other', help: 'h', registers: [r] }).set(1)
    const got = parsePromText(await r.metrics(), ['bw_objects', 'bw_rejected_total', 'bw_purge_seconds', 'missing'])
    expect(got).toEqual({
      bw_objects: 42,
      'bw_rejected_total{kind="gossip"}': 3,
      bw_purge_seconds_sum: 2.5,
      bw_purge_seconds_count: 2
    })
  })

  it('sorts labels, skips junk and bounds what it keeps', () => {
    const text = [
      '# HELP x y',
      'm{b="2",a="1"} 5',
      'm{a="1" 7',
      'm 1e400',
      'm NaN',
      `m ${'9'.repeat(5000)}`,
      'garbage line here',
      'm{a="x\\"y"} 1 1700000000'
    ].join('\n')
    expect(parsePromText(text, ['m'])).toEqual({ 'm{a="1",b="2"}': 5, 'm{a="x\\"y"}': 1 })
    const many = Array.from({ length: MAX_SAMPLES + 50 }, (_, i) => `m{i="${i}"} ${i}`).join('\n')
    expect(Object.keys(parsePromText(many, ['m']))).toHaveLength(MAX_SAMPLES)
  })

  it('names families and labels of a key', () => {
    expect(familyOf('bw_rejected_total{kind="gossip"}')).toBe('bw_rejected_total')
    expect(labelOf('x{kind="gossip",source="ae"}', 'source')).toBe('ae')
    expect(labelOf('x', 'source')).toBeUndefined()
  })
})
