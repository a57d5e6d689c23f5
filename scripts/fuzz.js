#!/usr/bin/env node
// Property fuzzing of every decoder of untrusted bytes and of the gossip, anti-entropy,
// heartbeat and object handlers, from the built dist/ (run `npm run build` first, or
// `npm run fuzz`). A full run feeds each decoder 10^6 hostile inputs and each handler 10^4.
//
//   node scripts/fuzz.js [--runs N] [--handler-runs N] [--only NAME[,NAME]] [--seed S] [--path P] [--list]
//
// Prints per target: inputs, seconds, inputs/s, peak RSS. On a failure: the seed and path
// that reproduce it, the shrunk input and the error; exit code 1. Targets marked pending (a
// known finding awaiting its fix) are run and reported but do not fail the run.
import { allTargets } from '../dist/fuzz/targets.js'
import { runTarget, describeFailure } from '../dist/fuzz/target.js'

function arg (name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = process.argv[i + 1]
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`)
  return v
}

function count (name, fallback) {
  const raw = arg(name, undefined)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${raw}'`)
  return n
}

async function main () {
  if (process.argv.includes('--list')) {
    for (const t of allTargets) console.log(`${t.name.padEnd(18)} ${t.kind.padEnd(8)} ${t.covers}${t.pending ? `  [pending: ${t.pending}]` : ''}`)
    return 0
  }
  const runs = count('runs', 1_000_000)
  const handlerRuns = count('handler-runs', Math.max(1, Math.min(runs, 10_000)))
  const seed = Number(arg('seed', String(Date.now() % 2 ** 31)))
  if (!Number.isSafeInteger(seed)) throw new Error('--seed must be an integer')
  const path = arg('path', undefined)
  const only = arg('only', undefined)?.split(',')
  const targets = only == null ? allTargets : allTargets.filter((t) => only.includes(t.name))
  if (only != null && targets.length !== only.length) {
    throw new Error(`unknown target in --only ${only.join(',')}; known: ${allTargets.map((t) => t.name).join(', ')}`)
  }
  console.log(`fuzz: seed=${seed} runs=${runs} handler-runs=${handlerRuns} targets=${targets.length}`)
  let failed = 0
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 200)
  sampler.unref()
  for (const t of targets) {
    peak = process.memoryUsage().rss
    const n = t.kind === 'handler' ? handlerRuns : runs
    // shrinking a failure found late in a long run can take long: shrink only short runs
    const r = await runTarget(t, { runs: n, seed, path, shrink: n <= 100_000 })
    peak = Math.max(peak, process.memoryUsage().rss)
    const rate = r.runs / (r.ms / 1000)
    const line = `${t.name.padEnd(18)} ${String(r.runs).padStart(8)} inputs ${(r.ms / 1000).toFixed(1).padStart(7)} s ${Math.round(rate).toString().padStart(8)}/s  peak rss ${Math.round(peak / 2 ** 20)} MiB`
    if (!r.failed) { console.log(`ok   ${line}`); continue }
    if (t.pending) {
      console.log(`KNOWN ${line}  (pending: ${t.pending})`)
      console.log(describeFailure(r).split('\n').map((l) => `      ${l}`).join('\n'))
      continue
    }
    failed++
    console.log(`FAIL ${line}`)
    console.log(describeFailure(r))
  }
  clearInterval(sampler)
  console.log(failed === 0 ? 'fuzz: all targets held' : `fuzz: ${failed} target(s) failed`)
  return failed === 0 ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err) => { console.error(err?.stack ?? String(err)); process.exitCode = 2 })
