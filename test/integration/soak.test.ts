// `bellwether soak` end to end on real node processes at 127.0.8.x, with real OS-level faults
// (nftables partitions, kill -9, SIGSTOP, clock skew: root and nft, as chaosRun.test.ts; outside
// CI without them the tests are skipped, under CI=true that fails the run):
//   1. a short soak (60 s, 3 nodes, a fault every few seconds) exits 0 with verdict OK and
//      writes a report whose verdict table and ops table match summary.json, with every plot
//      (parsed from the HTML, counted) and data in every plot whose data the run produced;
//      metrics.jsonl has a line per node per scrape; nothing of ours is left behind;
//   2. a soak killed with SIGKILL halfway: `bellwether report DIR` still writes a report from
//      the files it left (INCOMPLETE: no final check), with its plots;
//   3. SIGTERM ends a soak cleanly: final heal, final check, summary (interrupted), report,
//      teardown, and the exit code says the verdict.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bw } from '../../src/chaos/bw.js'
import { findTool } from '../../src/cluster/exec.js'
import { clusterTableName } from '../../src/chaos/nft.js'
import { binPath, packageRoot } from '../../src/cluster/launcher.js'
import { PLOT_IDS } from '../../src/report/series.js'
import { findAll, parseHtml, textOf, type El } from '../helpers/html.js'
import { prerequisite } from '../helpers/prereq.js'

const nft = findTool('nft')
const missing = process.platform !== 'linux'
  ? 'OS-level faults need Linux'
  : process.getuid?.() !== 0 ? 'not root (nftables needs root)' : nft === null ? 'the nft tool is not installed (apt install nftables)' : null
const skip = prerequisite('soak.test.ts', 'the soak (root, nft)', missing)

const dirs: string[] = []

/** node processes whose argv mentions one of these dirs */
function ourProcesses (of: string[] = dirs): number[] {
  const pids: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8')
      if (of.some((x) => cmd.includes(x))) pids.push(Number(d))
    } catch {}
  }
  return pids
}

function lines (path: string): any[] {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => { try { return [JSON.parse(l)] } catch { return [] } })
}

function cell (root: El, id: string): string {
  const el = findAll(root, (e) => e.attrs.id === id)
  expect(el, `cell #${id}`).toHaveLength(1)
  return textOf(el[0]!)
}

/**
 * A failed soak keeps its node logs in OUT/logs: the lines that name the findings' oids, and
 * what replica repair, recovery and membership did, so a rare failure in CI explains itself
 */
function logsAbout (dir: string, oids: string[]): string {
  const out: string[] = []
  const logs = join(dir, 'logs')
  if (!existsSync(logs)) return '\n(no node logs kept)'
  for (const f of readdirSync(logs).sort()) {
    const hits = readFileSync(join(logs, f), 'utf8').split('\n')
      .filter((l) => oids.some((o) => l.includes(o)) || /replica repair round|view changed|recovery (complete|incomplete)|member restarted/.test(l))
    out.push(`--- ${f} (${hits.length} lines, last 40)`, ...hits.slice(-40).map((l) => l.slice(0, 600)))
  }
  return `\nnode logs about ${oids.join(', ')}:\n${out.join('\n')}`
}

async function until (what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

describe.skipIf(skip)('bellwether soak', { timeout: 600_000 }, () => {
  afterAll(async () => {
    for (const d of dirs) {
      await bw(['cluster', 'down', '--purge', '--dir', join(d, 'cluster')])
      await bw(['chaos', 'cleanup', '--dir', join(d, 'cluster')])
    }
    for (const pid of ourProcesses()) { try { process.kill(pid, 'SIGKILL') } catch {} }
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('a 60 s soak under faults: verdict OK, a report whose numbers are summary.json\'s, every plot drawn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bw-soak-'))
    dirs.push(dir)
    const { code, stdout, stderr } = await bw(['soak', '--nodes', '3', '--duration', '60s', '--out', dir, '--seed', '11', '--mode', 'os',
      '--hold', '2000-4000', '--gap', '4000-7000', '--check-every', '10s', '--scrape-every', '2s', '--ip-base', '127.0.8.10', '--json'], { timeoutMs: 540_000 })
    let summary: any
    try {
      summary = JSON.parse(stdout)
    } catch {
      throw new Error(`soak printed no JSON summary (exit ${code})\nstdout: ${stdout.slice(-3000)}\nstderr: ${stderr.slice(-3000)}`)
    }
    const h = summary.check?.history
    const context = JSON.stringify({ errors: summary.errors, counts: h?.counts, live: summary.live, lost: h?.lost?.slice(0, 3), revived: h?.revived?.slice(0, 3), unpurged: h?.unpurged?.slice(0, 3) }, null, 1) +
      (summary.ok === true ? '' : logsAbout(dir, [...(h?.lost ?? []), ...(h?.revived ?? []), ...(h?.unpurged ?? [])].slice(0, 3).map((f: { oid: string }) => f.oid)))
    expect(summary.ok, context).toBe(true)
    expect(code).toBe(0)
    expect(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')).ok).toBe(true)
    // real work under real faults, watched by the periodic check and the scraper
    expect(summary.cycles.run, context).toBeGreaterThan(0)
    expect(h.ops.write.ok).toBeGreaterThan(10)
    expect(h.ops.delete.ok + h.ops.discard.ok).toBeGreaterThan(0)
    expect(summary.live.checks).toBeGreaterThan(1)
    expect(stderr).toMatch(/soak \d+ s \/ 1 min · ops \d+ · deletes converged \d+\/\d+ · faults \d+ · violations 0/)

    // metrics.jsonl: every node in the scrapes, with the families it serves
    const metrics = lines(join(dir, 'metrics.jsonl'))
    for (const n of [0, 1, 2]) expect(metrics.filter((l) => l.node === n && l.m !== undefined).length, `scrapes of node ${n}`).toBeGreaterThan(5)
    expect(metrics.every((l) => typeof l.t === 'number' && typeof l.time === 'string')).toBe(true)
    const families = new Set(metrics.flatMap((l) => Object.keys(l.m ?? {}).map((k) => k.replace(/\{.*$/, ''))))
    for (const f of ['bw_objects', 'bw_delete_log_records', 'bw_floor_entries']) expect(families, f).toContain(f)

    // the report: well-formed (the parser throws otherwise), verdict first, numbers from summary.json
    const html = await readFile(join(dir, 'report.html'), 'utf8')
    expect(html).not.toMatch(/<script(?![^>]*application\/json)|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
    const root = parseHtml(html)
    const verdict = findAll(root, (e) => e.attrs.id === 'verdict')
    expect(verdict[0]!.attrs['data-verdict']).toBe('OK')
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('<svg'))
    for (const k of ['lost', 'revived', 'unpurged', 'stale', 'falselyPurged']) expect(cell(root, `v-${k}`), k).toBe(String(h.counts[k]))
    expect(cell(root, 'v-overdue')).toBe(String(summary.live.maxOverdue))
    expect(cell(root, 'v-faults')).toBe(String(Object.values(summary.cycles.byKind as Record<string, number>).reduce((a, b) => a + b, 0)))
    expect(cell(root, 'v-faults-failed')).toBe(String(summary.cycles.faultsFailed))
    for (const [f, c] of Object.entries(h.ops as Record<string, Record<string, number>>)) {
      for (const k of ['invoked', 'ok', 'fail', 'info']) expect(cell(root, `ops-${f}-${k}`), `${f} ${k}`).toBe(String(c[k]))
    }
    const q = h.purgeLatency
    expect(cell(root, 'v-purge')).toBe(`${q.p50} / ${q.p99} / ${q.max} ms`)

    // every plot, in order; data wherever the run produced it; the faults shaded
    const plots = findAll(root, (e) => e.tag === 'svg')
    expect(plots.map((p) => p.attrs['data-id'])).toEqual([...PLOT_IDS])
    const points = (id: string): number => Number(plots.find((p) => p.attrs['data-id'] === id)!.attrs['data-points'])
    // p50 and p99 per window with purges
    expect(points('purge')).toBeGreaterThan(0)
    expect(points('purge') % 2).toBe(0)
    expect(points('heal')).toBe(h.series.heals.filter((x: [number, number | null]) => x[1] !== null).length)
    expect(points('heal')).toBeGreaterThan(0)
    expect(points('objects')).toBe(metrics.filter((l) => l.m?.bw_objects !== undefined).length)
    expect(points('tombstones')).toBeGreaterThan(0)
    // every node serves these (process defaults and the node's gauges): each of their plots has a line per node
    const perNode: Record<string, string> = { heap: 'nodejs_heap_size_used_bytes', rss: 'process_resident_memory_bytes', lag: 'nodejs_eventloop_lag_p99_seconds' }
    for (const [id, f] of Object.entries(perNode)) {
      expect(families, f).toContain(f)
      expect(points(id), id).toBe(metrics.filter((l) => l.m?.[f] !== undefined).length)
      expect(plots.find((p) => p.attrs['data-id'] === id)!.attrs['data-series'], id).toBe('3')
    }
    expect(families).toContain('bw_tombstone_records_folded_total')
    // anti-entropy bytes exist once a session ran (a labelled histogram shows nothing before)
    if (families.has('bw_ae_session_bytes_sum')) expect(points('ae')).toBeGreaterThan(0)
    else expect(plots.find((p) => p.attrs['data-id'] === 'ae')!.attrs.class).toBe('plot nodata')
    expect(findAll(plots.find((p) => p.attrs['data-id'] === 'objects')!, (e) => e.attrs.class === 'band').length).toBeGreaterThan(0)

    // nothing of ours left: no node process, no nft table
    expect(ourProcesses()).toEqual([])
    expect(execFileSync(nft!, ['list', 'tables'], { encoding: 'utf8' })).not.toContain(clusterTableName(join(dir, 'cluster')))
  })

  it('`bellwether report DIR` on the files of a soak killed halfway', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bw-soakkill-'))
    dirs.push(dir)
    const child = spawn(process.execPath, [binPath(), 'soak', '--nodes', '3', '--duration', '10m', '--out', dir, '--seed', '12', '--mode', 'os',
      '--hold', '2000-3000', '--gap', '2000-3000', '--check-every', '5s', '--scrape-every', '2s', '--ip-base', '127.0.8.40'], { cwd: packageRoot(), stdio: 'ignore' })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    try {
      // halfway: the cluster is up, metrics are flowing, a fault was healed, a periodic check ran
      await until('scrapes, a healed fault and a periodic check', () =>
        lines(join(dir, 'metrics.jsonl')).filter((l) => l.m !== undefined).length >= 15 &&
        lines(join(dir, 'history.jsonl')).some((e) => e.type === 'nemesis' && ['heal', 'start', 'resume'].includes(e.f)) &&
        lines(join(dir, 'checks.jsonl')).length > 0, 300_000)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    expect(existsSync(join(dir, 'summary.json'))).toBe(false)
    // the killed soak left its cluster running: a user takes it down as its soak.json says
    expect(JSON.parse(await readFile(join(dir, 'soak.json'), 'utf8')).clusterDir).toBe(join(dir, 'cluster'))
    expect((await bw(['cluster', 'down', '--purge', '--dir', join(dir, 'cluster')])).code).toBe(0)
    await bw(['chaos', 'cleanup', '--dir', join(dir, 'cluster')])
    const { code, stdout, stderr } = await bw(['report', dir, '--json'])
    expect(code, stderr).toBe(0)
    const r = JSON.parse(stdout)
    expect(r).toMatchObject({ file: join(dir, 'report.html'), verdict: 'INCOMPLETE', complete: false, plots: PLOT_IDS.length })
    const root = parseHtml(await readFile(r.file, 'utf8'))
    expect(findAll(root, (e) => e.attrs.id === 'verdict')[0]!.attrs['data-verdict']).toBe('INCOMPLETE')
    expect(cell(root, 'v-lost')).toBe('not judged')
    expect(cell(root, 'v-revived')).toBe('0')
    expect(Number(cell(root, 'v-faults'))).toBeGreaterThan(0)
    const plots = findAll(root, (e) => e.tag === 'svg')
    expect(plots.map((p) => p.attrs['data-id'])).toEqual([...PLOT_IDS])
    expect(Number(plots.find((p) => p.attrs['data-id'] === 'objects')!.attrs['data-points'])).toBeGreaterThan(0)
    expect(findAll(plots.find((p) => p.attrs['data-id'] === 'objects')!, (e) => e.attrs.class === 'band').length).toBeGreaterThan(0)
  })

  it('SIGTERM ends a soak early with the final check, the report and the teardown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bw-soakterm-'))
    dirs.push(dir)
    const child = spawn(process.execPath, [binPath(), 'soak', '--nodes', '3', '--duration', '1h', '--out', dir, '--seed', '13', '--mode', 'os',
      '--hold', '2000-3000', '--gap', '2000-3000', '--check-every', '5s', '--scrape-every', '2s', '--ip-base', '127.0.8.70', '--json'], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'ignore'] })
    let stdout = ''
    child.stdout!.on('data', (b: Buffer) => { stdout += b.toString() })
    const exited = new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)))
    try {
      await until('a healed fault and a periodic check', () =>
        lines(join(dir, 'history.jsonl')).some((e) => e.type === 'nemesis' && ['heal', 'start', 'resume'].includes(e.f)) &&
        lines(join(dir, 'checks.jsonl')).length > 0, 300_000)
      child.kill('SIGTERM')
      const code = await exited
      const summary = JSON.parse(stdout)
      expect(summary.interrupted).toBe(true)
      expect(code).toBe(summary.ok === true ? 0 : 1)
      expect(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')).interrupted).toBe(true)
      // the final check ran, after the final heal
      expect(summary.check?.history?.counts).toBeDefined()
      const root = parseHtml(await readFile(join(dir, 'report.html'), 'utf8'))
      expect(findAll(root, (e) => e.attrs.id === 'verdict')[0]!.attrs['data-verdict']).toBe(summary.ok === true ? 'OK' : 'FAILED')
      expect(ourProcesses([dir])).toEqual([])
    } finally {
      child.kill('SIGKILL')
    }
  })
})
