// Shared helpers for the benchmark sections: a seeded PRNG, statistics, number formatting,
// result tables, a keep-alive HTTP/JSON client for the nodes' admin API, Prometheus text
// parsing, and the cleanup registry that undoes everything a run created (also on SIGINT).
import http from 'node:http'
import { cpus, loadavg, totalmem, release } from 'node:os'
import { execFileSync } from 'node:child_process'
import { apiHeaders } from '../../dist/api/token.js'

// ---------------------------------------------------------------- randomness

/** sfc32 (128-bit state, period ≥ 2^32) seeded from one integer: the run is reproducible from it. */
export function makeRng (seed) {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = () => {
    const t = (a + b + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 0x100000000
  }
  for (let i = 0; i < 20; i++) next()
  return {
    /** uniform in [0, 1) */
    next,
    /** uniform integer in [0, n) for n ≤ 2^32 */
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)]
  }
}

/**
 * n distinct uniform random integers in [0, range), ascending (range ≤ 2^32). Duplicates are
 * dropped and only the shortfall is drawn again: the same as rejection sampling, so uniform.
 */
export function sparseIndexes (rng, n, range) {
  if (n > range) throw new Error(`cannot pick ${n} distinct values from ${range}`)
  let out = new Uint32Array(0)
  while (out.length < n) {
    const more = new Uint32Array(n)
    more.set(out)
    for (let k = out.length; k < n; k++) more[k] = rng.int(range)
    more.sort()
    let w = 0
    for (let k = 0; k < n; k++) if (k === 0 || more[k] !== more[k - 1]) more[w++] = more[k]
    out = more.slice(0, w)
  }
  return out
}

// ---------------------------------------------------------------- statistics and formatting

/** Nearest-rank percentile (p in 0..100); Infinity (a timeout) counts as the slowest value. */
export function percentile (values, p) {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]
}

export const median = (values) => percentile(values, 50)

export function fmtMs (ms) {
  if (ms === Infinity) return 'timeout'
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms < 0.1) return `${(ms * 1000).toFixed(1)} µs`
  if (ms < 10) return `${ms.toFixed(2)} ms`
  return `${ms.toFixed(1)} ms`
}

export function fmtBytes (b) {
  if (!Number.isFinite(b)) return 'n/a'
  if (b < 1024) return `${b % 1 === 0 ? b : b.toFixed(1)} B`
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`
  if (b < 1024 ** 3) return `${(b / 1024 / 1024).toFixed(1)} MiB`
  return `${(b / 1024 ** 3).toFixed(2)} GiB`
}

/** Bytes per id: two decimals, three below 1 (run-encoded sets are far below a byte). */
export function fmtPerId (b) {
  if (!Number.isFinite(b)) return 'n/a'
  return `${b < 1 ? b.toFixed(3) : b.toFixed(2)} B`
}

/** "ours / baseline" as a factor; below 0.01 in scientific form so it never reads 0.00×. */
export function fmtRatio (ours, base) {
  if (!Number.isFinite(ours) || !Number.isFinite(base) || base === 0) return 'n/a'
  const r = ours / base
  if (r === 0) return '0×'
  if (r < 0.01) return `${r.toExponential(1)}×`
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`
}

export const int = (n) => Number(n).toLocaleString('en-US')

// ---------------------------------------------------------------- tables

/**
 * A result table: { title, columns: [string], rows: [[string]], notes: [string], problems? }.
 * `problems` counts failures of the system under test met while measuring (the run then exits 1).
 * Printed aligned for a terminal, or as Markdown (--markdown) for docs/BENCHMARKS.md.
 */
export function renderTable (t, markdown) {
  const lines = []
  if (markdown) {
    lines.push(`### ${t.title}`, '')
    lines.push(`| ${t.columns.join(' | ')} |`)
    lines.push(`|${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`)
    for (const r of t.rows) lines.push(`| ${r.join(' | ')} |`)
    if (t.notes?.length) lines.push('', ...t.notes.map((n) => `- ${n}`))
    return lines.join('\n')
  }
  const w = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => String(r[i]).length)))
  const fmt = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')
  lines.push(`== ${t.title}`)
  lines.push(fmt(t.columns))
  lines.push(w.map((n) => '-'.repeat(n)).join('  '))
  for (const r of t.rows) lines.push(fmt(r))
  for (const n of t.notes ?? []) lines.push(`  * ${n}`)
  return lines.join('\n')
}

// ---------------------------------------------------------------- machine

export function machineInfo () {
  const c = cpus()
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter(Boolean).map((l) => l.slice(3))
    if (dirty.length > 0) {
      const where = dirty.every((f) => f.startsWith('scripts/')) ? 'scripts/ only' : dirty.length <= 3 ? dirty.join(', ') : `${dirty.length} files`
      commit += ` + uncommitted changes (${where})`
    }
  } catch {}
  return {
    cpu: c[0]?.model?.trim() ?? 'unknown',
    cores: c.length,
    memory: fmtBytes(totalmem()),
    node: process.version,
    os: `${process.platform} ${release()}`,
    date: new Date().toISOString(),
    load: loadavg().map((l) => l.toFixed(2)).join(' '),
    commit
  }
}

// ---------------------------------------------------------------- admin API client

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/**
 * One request to a node's admin API; resolves { status, json, text }. GETs reuse keep-alive
 * connections (the 2 ms polls would otherwise open thousands) and are retried once when the
 * node closed an idle connection under us; other methods get a fresh connection, so a write
 * is never sent twice.
 */
export async function request (url, opts = {}) {
  const method = opts.method ?? 'GET'
  if (method !== 'GET') return await requestOnce(url, opts, false)
  try {
    return await requestOnce(url, opts, agent)
  } catch (err) {
    if (err?.code !== 'ECONNRESET' && err?.code !== 'EPIPE') throw err
    return await requestOnce(url, opts, agent)
  }
}

function requestOnce (url, { method = 'GET', body, timeoutMs = 10_000, type = 'application/json' }, via) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : (body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body)))
    const req = http.request(url, {
      method,
      agent: via,
      headers: { ...apiHeaders(), ...(payload === undefined ? {} : { 'content-type': type, 'content-length': payload.byteLength }) }
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode, json, text })
      })
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** Like request, but throws unless the status is 2xx; returns the parsed JSON (or text). */
export async function api (url, opts) {
  const r = await request(url, opts)
  if (r.status < 200 || r.status >= 300) {
    throw new Error(`${opts?.method ?? 'GET'} ${url} → ${r.status}: ${r.json?.error ?? r.text.slice(0, 200)}`)
  }
  return r.json ?? r.text
}

export function closeHttp () {
  agent.destroy()
}

/**
 * Prometheus text → Map of "name{labels}" (labels as written by prom-client) → value.
 * sumMetric() then adds up the samples of one name whose labels include the given pairs.
 */
export function parseMetrics (text) {
  const out = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)))
  }
  return out
}

export function sumMetric (metrics, name, labels = {}) {
  let s = 0
  for (const [key, v] of metrics) {
    const brace = key.indexOf('{')
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) s += v
  }
  return s
}

export async function nodeMetrics (node) {
  return parseMetrics(await api(`${node.apiUrl}/metrics`))
}

// ---------------------------------------------------------------- cleanup

const cleanups = []
let closing = false

/** true once cleanup has begun (interrupt, watchdog or the end of the run) */
export const isClosing = () => closing

export class Aborted extends Error {
  name = 'Aborted'
}

/**
 * Registers an undo step; returns a function that runs it now (once) and unregisters it.
 * Register BEFORE creating the resource: once the run is shutting down this throws Aborted,
 * so nothing new is started behind the cleanup's back.
 */
export function onCleanup (label, fn) {
  if (closing) throw new Aborted(`run is shutting down; not starting ${label}`)
  const entry = { label, fn, done: false }
  cleanups.push(entry)
  return async () => {
    if (entry.done) return
    entry.done = true
    cleanups.splice(cleanups.indexOf(entry), 1)
    await fn()
  }
}

/** Runs every pending undo step, newest first; errors are reported, never thrown. */
export async function cleanupAll () {
  closing = true
  while (cleanups.length > 0) {
    const entry = cleanups.pop()
    if (entry.done) continue
    entry.done = true
    try {
      await entry.fn()
    } catch (err) {
      process.stderr.write(`cleanup '${entry.label}' failed: ${err?.message ?? err}\n`)
    }
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit (items, limit, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
