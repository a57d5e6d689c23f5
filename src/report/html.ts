// The soak report page (pure: a model in, one self-contained HTML string out — inline CSS and
// SVG, no script, no network). Top: the verdict in its colour (green OK, red FAILED, amber
// INCOMPLETE for a run that ended before its final check) with the reasons; then the verdict
// table (every figure in a cell with an id, e.g. `v-lost`, so tools can read it); then the
// per-node state table (heap slope, heap and RSS at start and end, tombstones); then the
// plots, faults shaded; then the run's parameters and notes. The same figures are embedded as
// JSON (`<script type="application/json" id="report-data">`, inert) for scripts.
import { esc } from './svg.js'

export type Verdict = 'OK' | 'FAILED' | 'INCOMPLETE'

export interface ReportRow { id: string, label: string, value: string | number, bad?: boolean, hint?: string }

export interface ReportModel {
  title: string
  verdict: Verdict
  reasons: string[]
  rows: ReportRow[]
  /** ops by kind: invoked / ok / fail / info */
  ops: Array<{ f: string, invoked: number, ok: number, fail: number, info: number }>
  plots: string[]
  /** one row per node: state at start and end of the run (src/report/growth.ts) */
  perNode?: { head: string[], rows: string[][] }
  params: Array<[string, string]>
  notes: string[]
  data: unknown
}

const COLOURS: Record<Verdict, string> = { OK: '#1a7f37', FAILED: '#cf222e', INCOMPLETE: '#bf8700' }

export function renderReport (m: ReportModel): string {
  const rows = m.rows.map((r) => `<tr${r.bad === true ? ' class="bad"' : ''}><th>${esc(r.label)}</th><td id="v-${esc(r.id)}">${esc(String(r.value))}</td><td class="h">${esc(r.hint ?? '')}</td></tr>`).join('\n')
  const ops = m.ops.map((o) => `<tr><th>${esc(o.f)}</th><td id="ops-${esc(o.f)}-invoked">${o.invoked}</td><td id="ops-${esc(o.f)}-ok">${o.ok}</td><td id="ops-${esc(o.f)}-fail">${o.fail}</td><td id="ops-${esc(o.f)}-info">${o.info}</td></tr>`).join('\n')
  const perNode = m.perNode === undefined || m.perNode.rows.length === 0
    ? ''
    : `<h2>State per node</h2>\n<table id="node-table">\n<tr>${m.perNode.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n${m.perNode.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}\n</table>`
  const params = m.params.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n')
  const notes = m.notes.length === 0 ? '' : `<h2>Notes</h2><ul>${m.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
  // the JSON sits in an inert script element; '<' is escaped so no string in it can close the element
  const data = JSON.stringify(m.data).replace(/</g, '\\u003c')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>${esc(m.title)} — ${m.verdict}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 920px; }
.verdict { color: #fff; background: ${COLOURS[m.verdict]}; padding: 14px 18px; border-radius: 6px; font-size: 28px; font-weight: 700; }
.verdict small { display: block; font-size: 14px; font-weight: 400; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; }
td.h { color: #777; font-size: 12px; }
tr.bad td, tr.bad th { color: #cf222e; font-weight: 700; }
svg.plot { display: block; margin: 18px 0; }
svg.plot .t { font-size: 14px; font-weight: 600; }
svg.plot .l, svg.plot .a { font-size: 11px; fill: #444; }
svg.plot .nd { font-size: 16px; fill: #999; }
</style>
</head>
<body>
<div class="verdict" id="verdict" data-verdict="${m.verdict}">${m.verdict}<small>${esc(m.title)}${m.reasons.length > 0 ? ' — ' + esc(m.reasons.join('; ')) : ''}</small></div>
<h2>Verdict</h2>
<table id="verdict-table">
${rows}
</table>
<h2>Operations</h2>
<table id="ops-table">
<tr><th>kind</th><th>invoked</th><th>ok</th><th>fail</th><th>info (unknown)</th></tr>
${ops}
</table>
${perNode}
<h2>Over time</h2>
<p>Shaded bands: faults (partitions, killed and paused nodes), from injection to heal.</p>
<div id="plots">
${m.plots.join('\n')}
</div>
<h2>Run</h2>
<table id="params">
${params}
</table>
${notes}
<script type="application/json" id="report-data">${data}</script>
</body>
</html>
`
}
