// Our small plotting module: one function draws a line plot over time as an inline SVG string
// (no library, no network, nothing to load), with several series, a legend, a time axis and
// shaded bands (the faults of a soak). Missing data never throws: a plot with no points says
// "no data", a null y breaks the line, non-finite values are dropped. Every plot carries
// data-* attributes (its id, series and point counts) so tests and scripts can read a report
// without rendering it.

export interface Series {
  name: string
  /** [x (ms since the run began), y]; y null breaks the line */
  points: Array<[number, number | null]>
}

export interface Band { from: number; to: number; label: string }

export type Unit = 'bytes' | 'bytes/s' | 'ms' | 's' | 'count'

export interface PlotOptions {
  id: string
  title: string
  unit: Unit
  series: Series[]
  bands?: Band[]
  /** x range (default: the data's) */
  xMin?: number
  xMax?: number
  /** draw a dot at every point (sparse series) */
  dots?: boolean
  width?: number
  height?: number
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22']

const M = { left: 74, right: 12, top: 28, bottom: 30 }
const LEGEND_ROW = 16

export function linePlot (o: PlotOptions): string {
  const width = o.width ?? 860
  const series = o.series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && (y === null || Number.isFinite(y))) }))
  const pts = series.flatMap((s) => s.points.filter((p): p is [number, number] => p[1] !== null))
  const legendRows = Math.ceil(series.length / 6)
  const height = (o.height ?? 220) + legendRows * LEGEND_ROW
  const top = M.top + legendRows * LEGEND_ROW
  const attrs = `class="plot${pts.length === 0 ? ' nodata' : ''}" data-id="${esc(o.id)}" data-series="${series.length}" data-points="${pts.length}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"`
  const title = `<text x="${M.left}" y="16" class="t">${esc(o.title)}</text>`
  if (pts.length === 0) {
    return `<svg ${attrs}>${title}<rect x="${M.left}" y="${top}" width="${width - M.left - M.right}" height="${height - top - M.bottom}" fill="#f6f6f6" stroke="#ccc"/><text x="${width / 2}" y="${(top + height - M.bottom) / 2}" text-anchor="middle" class="nd">no data</text></svg>`
  }
  const xs = pts.map((p) => p[0])
  const x0 = o.xMin ?? Math.min(...xs)
  const x1 = Math.max(o.xMax ?? Math.max(...xs), x0 + 1)
  const ys = pts.map((p) => p[1])
  const yTicks = valueTicks(Math.min(0, ...ys), Math.max(...ys), o.unit)
  const y0 = yTicks[0]!
  const y1 = Math.max(yTicks[yTicks.length - 1]!, y0 + 1e-9)
  const pw = width - M.left - M.right
  const ph = height - top - M.bottom
  const sx = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * pw
  const sy = (y: number): number => top + ph - ((y - y0) / (y1 - y0)) * ph
  const parts: string[] = [title]
  // legend
  series.forEach((s, i) => {
    const lx = M.left + (i % 6) * 130
    const ly = 24 + Math.floor(i / 6) * LEGEND_ROW
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color(i)}"/><text x="${lx + 14}" y="${ly + 1}" class="l">${esc(s.name)}</text>`)
  })
  parts.push(`<rect x="${M.left}" y="${top}" width="${pw}" height="${ph}" fill="#fff" stroke="#ccc"/>`)
  for (const b of o.bands ?? []) {
    const a = Math.max(x0, b.from)
    const z = Math.min(x1, b.to)
    if (z < a) continue
    parts.push(`<rect class="band" x="${f(sx(a))}" y="${top}" width="${f(Math.max(1, sx(z) - sx(a)))}" height="${ph}" fill="#f4a582" fill-opacity="0.3"><title>${esc(b.label)}</title></rect>`)
  }
  for (const t of yTicks) {
    const y = f(sy(t))
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${M.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle" class="a">${esc(formatValue(t, o.unit))}</text>`)
  }
  for (const t of niceTicks(x0, x1, 8, true)) {
    if (t < x0 || t > x1) continue
    const x = f(sx(t))
    parts.push(`<line x1="${x}" x2="${x}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#999"/><text x="${x}" y="${top + ph + 16}" text-anchor="middle" class="a">${esc(formatTime(t))}</text>`)
  }
  series.forEach((s, i) => {
    let d = ''
    let pen = false
    for (const [x, y] of s.points) {
      if (y === null) { pen = false; continue }
      d += `${pen ? 'L' : 'M'}${f(sx(x))} ${f(sy(y))}`
      pen = true
    }
    if (d !== '') parts.push(`<path class="s" data-name="${esc(s.name)}" d="${d}" fill="none" stroke="${color(i)}" stroke-width="1.5"/>`)
    if (o.dots === true) {
      for (const [x, y] of s.points) if (y !== null) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${color(i)}"/>`)
    }
  })
  return `<svg ${attrs}>${parts.join('')}</svg>`
}

/** y ticks: round numbers in the unit the labels use (bytes step in whole KiB / MiB / GiB) */
export function valueTicks (lo: number, hi: number, unit: Unit): number[] {
  const top = Math.max(Math.abs(lo), Math.abs(hi))
  const scale = unit === 'bytes' || unit === 'bytes/s' ? [2 ** 30, 2 ** 20, 2 ** 10].find((s) => top >= s) ?? 1 : 1
  return niceTicks(lo / scale, hi / scale, 5).map((t) => t * scale)
}

/** about n round ticks covering [lo, hi]; time=true steps in seconds, minutes and hours */
export function niceTicks (lo: number, hi: number, n: number, time = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1]
  if (hi <= lo) hi = lo + (lo === 0 ? 1 : Math.abs(lo))
  const raw = (hi - lo) / Math.max(1, n)
  const steps = time ? TIME_STEPS : undefined
  let step: number
  if (steps !== undefined) step = steps.find((s) => s >= raw) ?? Math.ceil(raw / 3_600_000) * 3_600_000
  else {
    const mag = 10 ** Math.floor(Math.log10(raw))
    step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
  }
  const first = Math.floor(lo / step) * step
  const out: number[] = []
  for (let t = first; t < hi + step * 0.999 && out.length < 100; t += step) out.push(round(t))
  return out
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000)

/** axis label of a time in ms since the start: 45s, 2m30s, 1h05m */
export function formatTime (ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 === 0 ? '' : String(s % 60).padStart(2, '0') + 's'}`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`
}

export function formatValue (v: number, unit: Unit): string {
  switch (unit) {
    case 'bytes': return bytes(v)
    case 'bytes/s': return `${bytes(v)}/s`
    case 'ms': return Math.abs(v) >= 10_000 ? `${round(v / 1000)} s` : `${round(v)} ms`
    case 's': return Math.abs(v) < 1 && v !== 0 ? `${round(v * 1000)} ms` : `${round(v)} s`
    default: return Math.abs(v) >= 10_000 ? `${round(v / 1000)}k` : String(round(v))
  }
}

function bytes (v: number): string {
  const a = Math.abs(v)
  if (a >= 2 ** 30) return `${round(v / 2 ** 30)} GiB`
  if (a >= 2 ** 20) return `${round(v / 2 ** 20)} MiB`
  if (a >= 2 ** 10) return `${round(v / 2 ** 10)} KiB`
  return `${round(v)} B`
}

function color (i: number): string {
  return PALETTE[i % PALETTE.length]!
}

function round (v: number): number {
  return Math.round(v * 1000) / 1000
}

function f (v: number): string {
  return v.toFixed(1)
}

export function esc (s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}
