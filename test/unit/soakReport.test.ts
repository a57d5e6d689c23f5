// The soak report from files alone (no cluster): a run with no summary.json (killed before its
// final check) still gets a well-formed page with every plot, an INCOMPLETE verdict, revived
// and overdue judged from the history, the rest marked "not judged"; a torn last line is
// skipped; missing metric families are drawn as "no data"; fault bands come from the
// nemesis events; a finished run's verdict and counts are its summary.json's.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HistoryEvent } from '../../src/chaos/history.js'
import { buildReport } from '../../src/report/build.js'
import { family, faultBands, PLOT_IDS, rate } from '../../src/report/series.js'
import { findAll, parseHtml, textOf } from '../helpers/html.js'

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-report-')) })
afterAll(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

const history: HistoryEvent[] = [
  { type: 'meta', time: 0, format: 1, seed: '7' },
  { type: 'invoke', id: 0, process: 0, f: 'create', node: 0, vdi: 'a', time: 10 } as HistoryEvent,
  { type: 'ok', id: 0, process: 0, f: 'create', node: 0, vdi: 'a', vid: '00a001', generation: 1, time: 20 } as HistoryEvent,
  { type: 'invoke', id: 1, process: 0, f: 'delete', node: 0, vdi: 'a', vid: '00a001', generation: 1, time: 30 } as HistoryEvent,
  { type: 'ok', id: 1, process: 0, f: 'delete', node: 0, vdi: 'a', vid: '00a001', generation: 1, time: 40 } as HistoryEvent,
  { type: 'nemesis', f: 'partition', value: 'halves 0-1', time: 1000 },
  { type: 'nemesis', f: 'heal', value: 'partition', time: 5000 },
  { type: 'nemesis', f: 'kill', value: '1', time: 8000 },
  { type: 'sample', round: 0, time: 9000, nodes: [{ node: 0, t0: 9000, t1: 9010, count: 1, fp: 'x', heldCount: 0 }, { node: 1, t0: 9000, t1: 9010, down: true }] }
]

function metric (t: number, node: number, heap: number, ae?: number): string {
  const m: Record<string, number> = { nodejs_heap_size_used_bytes: heap, process_resident_memory_bytes: heap * 2, bw_objects: 5 + node }
  if (ae !== undefined) m['bw_ae_session_bytes_sum{role="initiator"}'] = ae
  return JSON.stringify({ t, time: new Date(t).toISOString(), node, m })
}

describe('buildReport', () => {
  it('reports a run killed before its final check: INCOMPLETE, every plot, torn lines skipped', async () => {
    await writeFile(join(dir, 'soak.json'), JSON.stringify({ seed: '7', nodes: 2, mode: 'app', nemeses: ['partition', 'kill'], durationMs: 600_000, checkLagMs: 60_000 }))
    await writeFile(join(dir, 'history.jsonl'), history.map((e) => JSON.stringify(e)).join('\n') + '\n{"type":"inv')
    await writeFile(join(dir, 'metrics.jsonl'), [metric(0, 0, 1e6), metric(0, 1, 2e6), metric(5000, 0, 1.5e6), JSON.stringify({ t: 5000, node: 1, error: 'timeout' }), metric(10_000, 0, 1.6e6)].join('\n') + '\n{"t":')
    const r = await buildReport(dir)
    expect(r).toMatchObject({ verdict: 'INCOMPLETE', plots: PLOT_IDS.length, complete: false })
    const html = await readFile(r.file, 'utf8')
    const root = parseHtml(html)
    const byId = (id: string): string => textOf(findAll(root, (e) => e.attrs.id === id)[0]!)
    expect(findAll(root, (e) => e.attrs.id === 'verdict')[0]!.attrs['data-verdict']).toBe('INCOMPLETE')
    expect(byId('v-revived')).toBe('0')
    expect(byId('v-overdue')).toBe('0')
    for (const k of ['lost', 'unpurged', 'stale', 'falselyPurged']) expect(byId(`v-${k}`)).toBe('not judged')
    expect(byId('v-faults')).toBe('2')
    expect(byId('ops-delete-ok')).toBe('1')
    const plots = findAll(root, (e) => e.tag === 'svg')
    expect(plots.map((p) => p.attrs['data-id'])).toEqual([...PLOT_IDS])
    const plot = (id: string): any => plots.find((p) => p.attrs['data-id'] === id)!
    expect(plot('heap').attrs['data-points']).toBe('4')
    expect(plot('heap').attrs['data-series']).toBe('2')
    // the per-node table: 10 s of metrics are too short for a slope, start/end are read
    const nodeRows = findAll(findAll(root, (e) => e.attrs.id === 'node-table')[0]!, (e) => e.tag === 'tr').slice(1).map((tr) => findAll(tr, (e) => e.tag === 'td').map(textOf))
    expect(nodeRows.map((r) => [r[0], r[1], r[4]])).toEqual([['0', '-', '1.0 → 1.5'], ['1', '-', '1.9 → 1.9']])
    expect(byId('v-heap-slope')).toMatch(/^no data/)
    // no anti-entropy family scraped, no heal measured: drawn as "no data"
    expect(plot('ae').attrs.class).toBe('plot nodata')
    // the partition and the kill (never restarted: to the end) are shaded on every plot with data
    expect(findAll(plot('heap'), (e) => e.attrs.class === 'band')).toHaveLength(2)
    expect(html).toMatch(/metrics\.jsonl: 1 line\(s\) skipped/)
    expect(html).toMatch(/history\.jsonl: 1 line\(s\) skipped/)
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
  })

  it('takes a finished run\'s verdict and counts from summary.json', async () => {
    await writeFile(join(dir, 'summary.json'), JSON.stringify({
      ok: false,
      seed: '7',
      nodes: 2,
      elapsedMs: 1000,
      interrupted: false,
      converged: true,
      convergeMs: 500,
      cycles: { planned: 3, run: 2, faultsFailed: 0, byKind: { partition: 1, kill: 1 } },
      live: { checks: 1, lagMs: 60_000, maxRevived: 0, maxOverdue: 0 },
      errors: [],
      check: { ok: false, check: { ok: true }, history: { counts: { lost: 1, revived: 0, unpurged: 2, stale: 0, falselyPurged: 0 }, ops: { create: { invoked: 1, ok: 1, fail: 0, info: 0 } }, purgeLatency: null, healsConverged: null, series: { purge: [[40, 100]], heals: [[5000, 200]] }, notes: [] } }
    }))
    const r = await buildReport(dir)
    expect(r).toMatchObject({ verdict: 'FAILED', complete: true })
    const root = parseHtml(await readFile(r.file, 'utf8'))
    const byId = (id: string): string => textOf(findAll(root, (e) => e.attrs.id === id)[0]!)
    expect(byId('v-lost')).toBe('1')
    expect(byId('v-unpurged')).toBe('2')
    const plots = findAll(root, (e) => e.tag === 'svg')
    expect(plots.find((p) => p.attrs['data-id'] === 'heal')!.attrs['data-points']).toBe('1')
    expect(plots.find((p) => p.attrs['data-id'] === 'purge')!.attrs['data-points']).toBe('2')
    await rm(join(dir, 'summary.json'))
  })
})

describe('series', () => {
  it('pairs faults with their heals', () => {
    expect(faultBands(history, 20_000)).toEqual([
      { from: 1000, to: 5000, label: 'partition halves 0-1' },
      { from: 8000, to: 20_000, label: 'kill node 1 (not healed)' }
    ])
  })
  it('sums a family over its label sets', () => {
    const l: any = { t: 0, node: 0, time: '', m: { 'x{role="a"}': 2, 'x{role="b"}': 3, xy: 100, x_sum: 7 } }
    expect(family(l, 'x')).toBe(5)
    expect(family(l, 'x_sum')).toBe(7)
    expect(family(l, 'nope')).toBeUndefined()
  })

  it('takes counter rates, breaking the line at a restart', () => {
    const l = (t: number, v: number): any => ({ t, node: 0, time: '', m: { c: v } })
    expect(rate([l(0, 0), l(1000, 100), l(2000, 50), l(4000, 250)], 'c')).toEqual([[1000, 100], [2000, null], [4000, 100]])
  })
})
