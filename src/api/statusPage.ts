// The live status page (`GET /` on the admin API): the cluster as this node sees it, one
// self-contained HTML page (no scripts, no external assets) that reloads itself every few
// seconds. Every value comes from a peer or the node, so all of it is escaped.
import type { BellwetherNode } from '../node/node.js'
import { hex } from '../log.js'

/** seconds between the page's reloads */
export const REFRESH_S = 2
/** anti-entropy sessions shown, newest first */
const SESSIONS_SHOWN = 12

export interface MemberRow {
  peerId: string
  self: boolean
  status: string
  zone: number
  api: string
  epoch: string
  objects: string
  log: string
  floorHash: string
  /** same delete log and floor as this node */
  agrees: boolean
  lastHeardMs: number | null
  busy: boolean
  /** this node refuses it (chaos partition) or holds no connection to it */
  cut: 'partitioned' | 'no connection' | null
}

export interface StatusPageData {
  self: string
  epoch: string
  generatedAt: string
  members: MemberRow[]
  deletes: { records: number, fingerprint: string, ack: string, horizon: string, floor: number, unavailable: string | null }
  recovery: { running: boolean, epoch: string, toRecover: number, recovered: number, failed: number, lastCompleteEpoch: string }
  repair: { pending: number, pushed: number, repaired: number }
  busyReasons: string[]
  startupProblems: string[]
  sessions: Array<{ peer: string, role: string, at: string, ms: number, bytes: number, learned: number, sent: number, error: string | null }>
}

/** What the page needs of a node: its snapshots. */
export type StatusPageNode = Pick<BellwetherNode, 'statusSnapshot' | 'membersSnapshot' | 'recoverySnapshot' | 'aeSnapshot'>

export function gatherStatusPage (n: StatusPageNode, now: number): StatusPageData {
  const s = n.statusSnapshot()
  const mine = { count: BigInt(s.log.count), fingerprint: s.log.fingerprint, floorHash: s.gc.floorHash }
  const view = n.membersSnapshot()
  const members: MemberRow[] = view.known.map((m) => {
    const st = m.reported
    return {
      peerId: m.peerId,
      self: m.self,
      status: m.status ?? 'unknown',
      zone: m.zone,
      api: m.api,
      epoch: m.self ? view.epoch.toString() : (st?.epoch.toString() ?? '?'),
      objects: m.self ? String(s.objects) : (st?.objects.toString() ?? '?'),
      log: m.self ? `${s.log.count}/${hex(s.log.fingerprint).slice(0, 8)}` : st == null ? '?' : `${st.log.count}/${hex(st.log.fingerprint).slice(0, 8)}`,
      floorHash: hex(m.self ? mine.floorHash : (st?.log.floorHash ?? 0n)).slice(0, 8),
      agrees: m.self || (st != null && st.log.count === mine.count && st.log.fingerprint === mine.fingerprint && st.log.floorHash === mine.floorHash),
      lastHeardMs: m.self || m.lastHeard === undefined ? null : now - m.lastHeard,
      busy: m.self ? s.busy : (st?.busy ?? false),
      cut: m.partitioned ? 'partitioned' : m.connected ? null : 'no connection'
    }
  })
  const p = s.recovery
  const repair = n.recoverySnapshot().repair
  return {
    self: s.peerId,
    epoch: view.epoch.toString(),
    generatedAt: new Date(now).toISOString(),
    members,
    deletes: { records: s.log.count, fingerprint: hex(s.log.fingerprint), ack: hex(s.gc.ack), horizon: hex(s.gc.horizon), floor: s.gc.floor, unavailable: s.log.unavailable ?? null },
    recovery: { running: p.running, epoch: p.epoch, toRecover: p.toRecover, recovered: p.recovered, failed: p.failed, lastCompleteEpoch: p.lastCompleteEpoch },
    repair: { pending: repair.pending, pushed: repair.totals.pushed, repaired: repair.totals.repaired },
    busyReasons: s.busyReasons,
    startupProblems: s.startupProblems,
    sessions: [...n.aeSnapshot().recent].reverse().slice(0, SESSIONS_SHOWN).map((x) => ({
      peer: x.peer, role: x.role, at: new Date(x.startedAt).toISOString(), ms: x.ms, bytes: x.bytesIn + x.bytesOut, learned: x.learned, sent: x.sent, error: x.error ?? null
    }))
  }
}

function esc (v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function short (peerId: string): string {
  return peerId.length > 14 ? `…${peerId.slice(-8)}` : peerId
}

function table (head: string[], rows: string[][], cls = ''): string {
  return `<table${cls === '' ? '' : ` class="${cls}"`}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table>`
}

/** a cell whose content is already escaped */
function td (html: string, cls = ''): string {
  return `<td${cls === '' ? '' : ` class="${cls}"`}>${html}</td>`
}

export function renderStatusPage (d: StatusPageData): string {
  const live = d.members.filter((m) => m.status === 'alive')
  const agree = live.every((m) => m.agrees && m.epoch === d.epoch)
  const cut = d.members.filter((m) => m.cut != null)
  const verdict = cut.length > 0
    ? { cls: 'bad', text: `cut off from ${cut.length} member${cut.length === 1 ? '' : 's'}` }
    : agree ? { cls: 'ok', text: 'converged: every live member has the same delete log, floor and epoch' } : { cls: 'warn', text: 'converging: delete logs, floors or epochs differ' }
  const memberRows = d.members.map((m) => [
    td(`<span title="${esc(m.peerId)}">${esc(short(m.peerId))}</span>${m.self ? ' (this node)' : ''}`),
    td(esc(m.status), m.status === 'alive' ? '' : 'bad'),
    td(esc(m.zone)),
    td(esc(m.epoch), m.epoch === d.epoch ? '' : 'warn'),
    td(esc(m.objects)),
    td(esc(m.log)),
    td(esc(m.floorHash)),
    td(m.agrees ? 'yes' : 'no', m.agrees ? 'ok' : 'warn'),
    td(m.lastHeardMs == null ? '' : `${(m.lastHeardMs / 1000).toFixed(1)} s ago`),
    td(m.busy ? 'busy' : ''),
    td(esc(m.cut ?? ''), m.cut == null ? '' : 'bad'),
    td(esc(m.api))
  ])
  const sessionRows = d.sessions.map((s) => [
    td(esc(s.at.slice(11, 23))), td(esc(short(s.peer))), td(esc(s.role)), td(esc(s.ms)), td(esc(s.bytes)), td(esc(s.learned)), td(esc(s.sent)),
    td(esc(s.error ?? 'ok'), s.error == null ? '' : 'bad')
  ])
  const r = d.recovery
  const list = (items: string[]): string => items.length === 0 ? '<p>none</p>' : `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${REFRESH_S}">
<title>bellwether ${esc(short(d.self))} · epoch ${esc(d.epoch)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse}td,th{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}.ok{color:#17692b}.warn{color:#9a6700}.bad{color:#b3261e;font-weight:600}
#verdict{padding:.5em .8em;border-radius:4px;display:inline-block}#verdict.ok{background:#e6f4ea}#verdict.warn{background:#fff4ce}#verdict.bad{background:#fde7e9}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{color:#666}dd{margin:0}dd p,dd ul{margin:0}dd ul{padding-left:1.2em}
</style></head><body>
<h1>bellwether node ${esc(short(d.self))}</h1>
<p>epoch ${esc(d.epoch)} · ${live.length} live member${live.length === 1 ? '' : 's'} · ${esc(d.generatedAt)} · reloads every ${REFRESH_S} s</p>
<p id="verdict" class="${verdict.cls}">${esc(verdict.text)}</p>
<h2>Members</h2>
${table(['peer', 'status', 'zone', 'epoch', 'objects', 'delete log', 'floor', 'agrees', 'last heard', '', 'from here', 'api'], memberRows, 'members')}
<h2>Delete log and GC</h2>
<dl><dt>records</dt><dd>${esc(d.deletes.records)} (fingerprint ${esc(d.deletes.fingerprint)})</dd>
<dt>ack</dt><dd>${esc(d.deletes.ack)}</dd><dt>GC horizon</dt><dd>${esc(d.deletes.horizon)}</dd>
<dt>floor entries</dt><dd>${esc(d.deletes.floor)}</dd>
<dt>delete log</dt><dd class="${d.deletes.unavailable == null ? 'ok' : 'bad'}">${esc(d.deletes.unavailable ?? 'writable')}</dd></dl>
<h2>Recovery and repair</h2>
<dl><dt>recovery</dt><dd>${r.running ? 'running' : 'idle'} · epoch ${esc(r.epoch)} · ${esc(r.recovered)}/${esc(r.toRecover)} recovered, ${esc(r.failed)} failed · last complete epoch ${esc(r.lastCompleteEpoch)}</dd>
<dt>replica repair</dt><dd>${esc(d.repair.pending)} waiting · ${esc(d.repair.pushed)} pushed · ${esc(d.repair.repaired)} repaired</dd>
<dt>busy</dt><dd>${list(d.busyReasons)}</dd>
<dt>startup problems</dt><dd>${list(d.startupProblems)}</dd></dl>
<h2>Recent anti-entropy sessions</h2>
${d.sessions.length === 0 ? '<p>none yet</p>' : table(['started', 'peer', 'role', 'ms', 'bytes', 'learned', 'sent', 'result'], sessionRows, 'sessions')}
</body></html>
`
}
