// Section "sim": convergence figures from the deterministic simulator (src/sim/) for N = 10,
// 100, 1,000 and 10,000 nodes (the largest: --sim-max-nodes), all on the fixed `figures`
// scenario (`bellwether sim --scenario figures --partitions minority:1`): 5 VDI deletes in a
// healthy cluster, then a third of the nodes cut off for 6 s with 3 deletes issued meanwhile,
// then the heal. Per N: several seeds where cheap (one at 10,000), each run's invariants
// checked every tick as always; a run that fails them, or throws, is a FAILED row and a
// problem (the bench exits 1), never a missing one.
//
// Reported: rounds (gossip hops to the farthest node) and virtual time until a delete is
// known and purged everywhere; after the heal, hops since the heal and time until every delete
// the minority missed is known and purged everywhere; anti-entropy bytes per node from the
// heal to that point; the least-squares fit of the per-N medians against log2 N; tombstone
// state per node every 10 virtual s. Then the same scenario on 10 real node processes
// (simReal.js) beside the simulator's distribution at N = 10.
import { performance } from 'node:perf_hooks'
import { loadavg } from 'node:os'
import { deriveParams } from '../../dist/sim/params.js'
import { Simulator } from '../../dist/sim/simulator.js'
import { fitLogN } from '../../dist/sim/fit.js'
import { fmtBytes, int, percentile } from './lib.js'
import { realValidation } from './simReal.js'

const SIZES = [10, 100, 1_000, 10_000]
/** seeds per N: the distribution where a run is cheap, one run at 10,000 */
const SEEDS = (n) => (n <= 10 ? 20 : n <= 100 ? 8 : n <= 1_000 ? 3 : 1)
const OVERRIDES = { partitionMode: 'minority', partitions: 1, loss: 0, latency: { kind: 'exp', mean: 5, min: 1 }, scenario: 'figures' }
const SERIES_MS = 10_000

export default {
  name: 'sim',
  title: 'Simulator: rounds and time to purge everywhere after a delete and after a heal, N = 10 … 10,000; validated against 10 node processes',
  async run (ctx) {
    const maxNodes = ctx.opts.simMaxNodes ?? 10_000
    const sizes = [...new Set([...SIZES.filter((n) => n <= maxNodes), maxNodes])].sort((a, b) => a - b)
    const perN = []
    for (const n of sizes) perN.push(runSize(ctx, n))
    if (perN.every((r) => r.ok.length === 0)) throw new Error(`every simulator run failed: ${perN.flatMap((r) => r.failures).slice(0, 3).join('; ')}`)
    const tables = [figuresTable(perN, ctx.seed), seriesTable(perN)]
    if (!ctx.opts.simNoReal) tables.push(await validationTable(ctx, perN.find((r) => r.n === 10)))
    return tables
  }
}

/** every seed of one N: the runs that held their invariants, and what failed */
function runSize (ctx, n) {
  const seeds = SEEDS(n)
  const load0 = loadavg()[0]
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const ok = []
  const failures = []
  for (let k = 0; k < seeds; k++) {
    const seed = BigInt(ctx.seed) * 1000n + BigInt(k)
    const label = `N=${n} seed ${seed}`
    try {
      const t = performance.now()
      const sim = new Simulator(deriveParams(seed, { ...OVERRIDES, nodes: n }), { ...OVERRIDES, nodes: n }, {
        seriesEveryMs: SERIES_MS,
        // a long run says how far it is (10 progress lines), so a slow machine is not mistaken for a hang
        out: n >= 1_000 ? (line) => { if (line.startsWith('t=')) ctx.log(`sim N=${n}: ${line.slice(0, 120)}`) } : undefined
      })
      const r = sim.run()
      ctx.log(`sim ${label}: ${int(r.events)} events, ${((performance.now() - t) / 1000).toFixed(1)} s wall${r.violation ? `, VIOLATION ${r.violation.kind}` : ''}`)
      if (r.violation !== undefined) failures.push(`${label}: ${r.violation.kind} at t=${(r.violation.at / 1000).toFixed(1)} s: ${r.violation.message} (replay: ${r.replay})`)
      else if (r.summary.afterDelete.samples.length === 0 || r.summary.afterHeal.at === null) failures.push(`${label}: the run measured nothing (no healthy delete or no heal)`)
      else ok.push({ seed, summary: r.summary, series: sim.tombstoneSeries, events: r.events })
    } catch (err) {
      failures.push(`${label}: ${err?.message ?? err}`)
      ctx.log(`sim ${label} FAILED: ${err?.stack ?? err}`)
    }
  }
  const cpu = process.cpuUsage(cpu0)
  return { n, seeds, ok, failures, wallS: (performance.now() - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, load: [load0, loadavg()[0]] }
}

const pct = (xs) => ({ p50: percentile(xs, 50), p90: percentile(xs, 90), max: percentile(xs, 100) })
const ms = (x) => (Number.isFinite(x) ? `${Math.round(x)}` : 'n/a')
const trio = (d, f = ms) => `${f(d.p50)} / ${f(d.p90)} / ${f(d.max)}`

/** the measured values of one N, pooled over its seeds */
function figures (r) {
  const deletes = r.ok.flatMap((o) => o.summary.afterDelete.samples)
  const heals = r.ok.map((o) => o.summary.afterHeal)
  return {
    deleteRounds: pct(deletes.map((d) => d.rounds)),
    deletePurged: pct(deletes.map((d) => d.purgedMs)),
    deleteConverged: pct(deletes.map((d) => d.convergedMs)),
    healRounds: pct(heals.map((h) => h.maxRounds)),
    healConverged: pct(heals.map((h) => h.convergedMs)),
    healBytes: pct(heals.map((h) => h.aeBytesPerNodeToConverge)),
    sinceHealBytes: pct(heals.map((h) => h.aeBytesPerNode)),
    deletes: deletes.length,
    events: r.ok.reduce((s, o) => s + o.events, 0)
  }
}

function figuresTable (perN, seed) {
  const rows = []
  const fits = { deleteRounds: [], deletePurged: [], healRounds: [], healConverged: [] }
  let problems = 0
  for (const r of perN) {
    problems += r.failures.length
    const f = r.ok.length > 0 ? figures(r) : undefined
    const status = r.failures.length === 0 ? `${r.seeds}` : `${r.ok.length} of ${r.seeds} (${r.failures.length} FAILED)`
    const wall = `${r.wallS.toFixed(1)} s, CPU ${r.cpuS.toFixed(1)} s (load ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)})`
    if (f === undefined) {
      rows.push([int(r.n), status, 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', wall])
      continue
    }
    for (const k of Object.keys(fits)) fits[k].push([r.n, f[k].p50])
    rows.push([
      int(r.n), status,
      trio(f.deleteRounds, String), trio(f.deletePurged), trio(f.healRounds, String), trio(f.healConverged),
      trio(f.healBytes, fmtBytes), fmtBytes(f.sinceHealBytes.p50), wall
    ])
  }
  const fitNote = (label, pts, unit) => {
    try {
      const x = fitLogN(pts)
      return `${label}: ${x.slope.toFixed(2)}${unit} per doubling of N, intercept ${x.intercept.toFixed(1)}${unit}, r² ${Number.isNaN(x.r2) ? 'n/a (flat)' : x.r2.toFixed(3)} (${x.points} sizes)`
    } catch (err) {
      return `${label}: no fit (${err.message})`
    }
  }
  return {
    title: 'Simulator convergence (figures scenario; each cell p50 / p90 / max)',
    problems,
    columns: ['N', 'seeds', 'delete: rounds', 'delete: purged everywhere (ms)', 'heal: rounds', 'heal: known + purged everywhere (ms)', 'AE bytes/node, heal → converged', 'AE bytes/node, heal → end (p50)', 'wall, CPU (1-min load start → end)'],
    rows,
    notes: [
      `scenario: \`bellwether sim --nodes N --seed S --scenario figures --partitions minority:1 --loss 0 --latency exp:5:1\` — 5 s warm-up, 5 VDI deletes 1 s apart at random live nodes, then ⌊N/3⌋ nodes cut off for 6 s with 3 deletes issued meanwhile, heal, run until the purge bound (15 s + 1 s per doubling of N past the fault window); no loss, no crashes; duplication and reordering from the seed. Seeds S = ${seed}000 + k, k = 0 … seeds − 1.`,
      'delete: per healthy delete, pooled over the seeds. rounds = gossip hops to the farthest node; purged everywhere = issue → the last copy of its objects dropped (exact virtual time, not per tick). heal: one value per seed — rounds = most hops since the heal (anti-entropy and gossip) over the deletes the minority missed; time = heal → every one of them known (log or floor) and purged on every node.',
      'AE bytes: anti-entropy frames sent, summed over nodes ÷ N, from the heal to the tick when it converged, and to the end of the run (periodic sessions included).',
      'fit of the per-N medians against log2 N (least squares, src/sim/fit.ts):',
      fitNote('  delete rounds', fits.deleteRounds, ''),
      fitNote('  delete → purged everywhere', fits.deletePurged, ' ms'),
      fitNote('  heal rounds', fits.healRounds, ''),
      fitNote('  heal → known + purged everywhere', fits.healConverged, ' ms'),
      `events simulated: ${perN.map((r) => `N=${int(r.n)} ${int(r.ok.reduce((s, o) => s + o.events, 0))}`).join(', ')}; wall and CPU time per N are the whole of its seeds, in this process (CPU: user + system of the bench process, which on a shared machine says more than wall).`,
      ...perN.flatMap((r) => r.failures.map((f) => `FAILED ${f}`))
    ]
  }
}

/** tombstone state per node every SERIES_MS of virtual time, first seed of each N */
function seriesTable (perN) {
  const runs = perN.filter((r) => r.ok.length > 0)
  const at = [...new Set(runs.flatMap((r) => r.ok[0].series.filter((s) => Math.round(s.at) % SERIES_MS === 0).map((s) => Math.round(s.at))))].sort((a, b) => a - b)
  const rows = at.map((t) => [`${t / 1000}`, ...runs.map((r) => {
    const s = r.ok[0].series.find((x) => Math.round(x.at) === t)
    return s === undefined ? '' : `${s.meanLog.toFixed(2)} / ${s.maxLog} · ${s.meanFloor.toFixed(2)} / ${s.maxFloor}`
  })])
  return {
    title: 'Simulator: tombstone state per node over virtual time (log records mean / max · floor entries mean / max)',
    columns: ['t (virtual s)', ...runs.map((r) => `N=${int(r.n)} (seed ${r.ok[0].seed})`)],
    rows,
    notes: ['healthy deletes at 5–9 s, partition 15–21 s (3 deletes during it), heal at 21 s; GC folds whole-VDI records into the floor (one entry per deleted vid) once every peer has them.']
  }
}

async function validationTable (ctx, sim10) {
  const real = await realValidation(ctx)
  const f = sim10 !== undefined && sim10.ok.length > 0 ? figures(sim10) : undefined
  const s = (pick) => (f === undefined ? 'FAILED' : trio(f[pick]))
  return {
    title: 'Validation at N = 10: the figures scenario on 10 node processes beside the simulator (p50 / p90 / max, ms)',
    problems: real.problems.length,
    columns: ['measure', 'simulator (N = 10)', 'real processes (N = 10)'],
    rows: [
      ['delete → known + purged everywhere', s('deleteConverged'), trio(pct(real.deleteMs))],
      ['heal → every missed delete known + purged everywhere', s('healConverged'), trio(pct(real.healMs))],
      ['AE bytes/node, heal → converged', f === undefined ? 'FAILED' : trio(f.healBytes, fmtBytes), trio(pct(real.healBytes), fmtBytes)],
      ['samples (deletes; heals)', f === undefined ? '' : `${f.deletes}; ${sim10.ok.length}`, `${real.deleteMs.length}; ${real.healMs.length}`]
    ],
    notes: [
      ...real.notes,
      `1-min load average during the real run: ${real.load.map((l) => l.toFixed(1)).join(' → ')}.`,
      'the simulator\'s network is exp:5:1 ms one-way and its nodes act instantly; the real nodes run on loopback on this machine and poll results over the admin API, so their figures include process scheduling and polling.',
      ...real.problems.map((p) => `PROBLEM ${p}`)
    ]
  }
}
