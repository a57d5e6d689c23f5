// The report's plotting module: well-formed SVG with one path per series that has points,
// fault bands clipped to the plot, "no data" instead of a crash, escaped names, round ticks.
import { describe, expect, it } from 'vitest'
import { formatTime, formatValue, linePlot, niceTicks, valueTicks } from '../../src/report/svg.js'
import { findAll, parseHtml } from '../helpers/html.js'

function plot (svg: string): ReturnType<typeof parseHtml> {
  const root = parseHtml(svg)
  const svgs = findAll(root, (e) => e.tag === 'svg')
  expect(svgs).toHaveLength(1)
  return svgs[0]!
}

describe('linePlot', () => {
  it('draws one path per series with points, a legend entry per series, and the bands', () => {
    const svg = linePlot({
      id: 'heap',
      title: 'heap <used>',
      unit: 'bytes',
      series: [
        { name: 'n0', points: [[0, 10], [1000, 20], [2000, null], [3000, 30]] },
        { name: 'n1 & co', points: [[0, 5], [3000, 7]] },
        { name: 'empty', points: [] }
      ],
      bands: [{ from: 500, to: 1500, label: 'partition' }, { from: 10_000, to: 20_000, label: 'outside' }]
    })
    const el = plot(svg)
    expect(el.attrs['data-id']).toBe('heap')
    expect(el.attrs['data-series']).toBe('3')
    expect(el.attrs['data-points']).toBe('5')
    expect(el.attrs.class).toBe('plot')
    const paths = findAll(el, (e) => e.tag === 'path')
    expect(paths.map((p) => p.attrs['data-name'])).toEqual(['n0', 'n1 & co'])
    // the null breaks n0's line into two pieces
    expect(paths[0]!.attrs.d!.match(/M/g)).toHaveLength(2)
    // the band outside the data's range is not drawn
    expect(findAll(el, (e) => e.attrs.class === 'band')).toHaveLength(1)
    expect(svg).toContain('heap &lt;used&gt;')
  })

  it('says "no data" when no series has a point, and never throws on junk', () => {
    for (const series of [[], [{ name: 'x', points: [] }], [{ name: 'x', points: [[NaN, 1], [1, Infinity], [2, null]] as Array<[number, number | null]> }]]) {
      const el = plot(linePlot({ id: 'p', title: 't', unit: 'count', series }))
      expect(el.attrs.class).toBe('plot nodata')
      expect(el.attrs['data-points']).toBe('0')
      expect(findAll(el, (e) => e.tag === 'text').some((t) => t.children.includes('no data'))).toBe(true)
    }
  })

  it('draws a flat or single-point series without dividing by zero', () => {
    const svg = linePlot({ id: 'p', title: 't', unit: 'ms', series: [{ name: 'a', points: [[5, 0]] }], dots: true })
    expect(svg).not.toMatch(/NaN|Infinity/)
    expect(findAll(plot(svg), (e) => e.tag === 'circle')).toHaveLength(1)
  })
})

describe('ticks and labels', () => {
  it('covers the range with round steps', () => {
    const t = niceTicks(0, 97, 5)
    expect(t[0]).toBe(0)
    expect(t[t.length - 1]!).toBeGreaterThanOrEqual(97)
    expect(t[1]! - t[0]!).toBe(20)
    const tt = niceTicks(0, 3_600_000, 8, true)
    expect(tt[1]! - tt[0]!).toBe(600_000)
  })
  it('steps byte axes in whole MiB, not in powers of ten', () => {
    const t = valueTicks(0, 47 * 2 ** 20, 'bytes')
    expect(t.map((v) => formatValue(v, 'bytes'))).toEqual(['0 B', '10 MiB', '20 MiB', '30 MiB', '40 MiB', '50 MiB'])
    expect(valueTicks(0, 97, 'count')).toEqual(niceTicks(0, 97, 5))
  })

  it('formats times and values', () => {
    expect(formatTime(45_000)).toBe('45s')
    expect(formatTime(150_000)).toBe('2m30s')
    expect(formatTime(3_900_000)).toBe('1h05')
    expect(formatValue(3 * 2 ** 20, 'bytes')).toBe('3 MiB')
    expect(formatValue(0.012, 's')).toBe('12 ms')
    expect(formatValue(2048, 'bytes/s')).toBe('2 KiB/s')
  })
})
