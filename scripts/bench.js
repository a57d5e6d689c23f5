#!/usr/bin/env node
// `npm run bench`: bellwether's benchmark. Each measurement is a section in scripts/bench/
// (a module exporting { name, title, run(ctx) → [table] }); every figure is printed next to a
// baseline measured in the same run and the ratio against it. To add a measurement, write
// scripts/bench/<name>.js and list it in SECTIONS below.
//
//   npm run bench                         all sections (≈ 21 min on 2 busy cores; idle ≈ 12 of them)
//   npm run bench -- --only purge,memory  some of them
//   npm run bench -- --only recovery      one of them (recovery: ≈ 5 min; 7-10 min on busy cores)
//   npm run bench -- --only micro         in-process figures only (no cluster; ≈ 30 s)
//   npm run bench -- --only cli           CLI start-up against a bare node (≈ 15 s)
//   npm run bench -- --only sim           simulator figures, N = 10 … 10,000, and the 10-process
//                                         validation (see docs/BENCHMARKS.md for its wall time)
//   npm run bench -- --only idle          idle CPU and RSS per node at 10, 25, 50 nodes (≈ 12 min)
//   npm run bench -- --seed 42 --deletes 100 --markdown
//
// Run with --expose-gc (npm run bench does): the memory section needs global.gc().
// Every process and temp dir the run creates is removed at the end, on failure and on
// SIGINT/SIGTERM; a watchdog ends a run that exceeds --max-minutes the same way.
// Exit status 1 when a section failed or reported problems (e.g. deletes that timed out).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cleanupAll, closeHttp, isClosing, machineInfo, makeRng, onCleanup, renderTable } from './bench/lib.js'
import purge from './bench/purge.js'
import wire from './bench/wire.js'
import memory from './bench/memory.js'
import antientropy from './bench/antientropy.js'
import recovery from './bench/recovery.js'
import micro from './bench/micro.js'
import workload from './bench/workload.js'
import cli from './bench/cli.js'
import sim from './bench/sim.js'
import idle from './bench/idle.js'

// new sections go at the end: a section's seed depends on its position (see main)
const SECTIONS = [purge, wire, memory, antientropy, recovery, micro, workload, cli, sim, idle]

const USAGE = `usage: node --expose-gc scripts/bench.js [--only NAME[,NAME…]] [--seed N] [--deletes N] [--markdown] [--markdown-file PATH] [--max-minutes M]
  --only          run only these sections (below)
  --seed          one seed for every random choice (printed at the top of each run)
  --deletes       purge: measured deletes per cluster (default 100, at least 20)
  --markdown      print the tables as Markdown; --markdown-file also writes them to PATH
  --max-minutes   watchdog: clean up and fail after this long (default 120: every section, sim's 10,000 nodes included)
  --sim-max-nodes sim: the largest N simulated (default 10000; the sizes are 10, 100, 1000, 10000 up to it)
  --sim-no-real   sim: skip the validation on 10 real node processes
  --idle-sizes    idle: cluster sizes (default 10,25,50; the largest is also timed through cluster up)
sections:
${SECTIONS.map((s) => `  ${s.name.padEnd(8)} ${s.title}`).join('\n')}`

function parseCli () {
  let a
  try {
    a = parseArgs({
      options: {
        only: { type: 'string' },
        seed: { type: 'string' },
        deletes: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        'markdown-file': { type: 'string' },
        'max-minutes': { type: 'string', default: '120' },
        'sim-max-nodes': { type: 'string' },
        'sim-no-real': { type: 'boolean', default: false },
        'idle-sizes': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }).values
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`)
    process.exit(64)
  }
  if (a.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const names = a.only === undefined ? SECTIONS.map((s) => s.name) : a.only.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = names.filter((n) => !SECTIONS.some((s) => s.name === n))
  if (unknown.length > 0 || names.length === 0) {
    console.error(`unknown section(s): ${unknown.join(', ') || '(none given)'}\n${USAGE}`)
    process.exit(64)
  }
  const num = (v, flag) => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) {
      console.error(`${flag} must be a non-negative integer`)
      process.exit(64)
    }
    return n
  }
  return {
    sections: SECTIONS.filter((s) => names.includes(s.name)),
    seed: num(a.seed, '--seed') ?? (Date.now() % 0x7fffffff),
    deletes: num(a.deletes, '--deletes'),
    markdown: a.markdown,
    markdownFile: a['markdown-file'],
    maxMinutes: num(a['max-minutes'], '--max-minutes'),
    simMaxNodes: simMaxNodes(num(a['sim-max-nodes'], '--sim-max-nodes')),
    simNoReal: a['sim-no-real'],
    idleSizes: a['idle-sizes']?.split(',').map((x) => num(x.trim(), '--idle-sizes'))
  }
}

function simMaxNodes (n) {
  if (n !== undefined && (n < 10 || n > 100_000)) {
    console.error('--sim-max-nodes must be in 10..100000')
    process.exit(64)
  }
  return n
}

async function main () {
  const opts = parseCli()
  const started = Date.now()
  const log = (msg) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`)

  let stopping = false
  const abort = async (why, code) => {
    if (stopping) return
    stopping = true
    log(`${why}: cleaning up`)
    await cleanupAll()
    closeHttp()
    process.exit(code)
  }
  process.on('SIGINT', () => { void abort('interrupted', 130) })
  process.on('SIGTERM', () => { void abort('terminated', 143) })
  const watchdog = setTimeout(() => { void abort(`still running after ${opts.maxMinutes} min`, 1) }, opts.maxMinutes * 60_000)

  const m = machineInfo()
  const header = [
    `bellwether benchmark — ${m.date}`,
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memory} RAM; ${m.os}; node ${m.node}; load average at start ${m.load}`,
    `commit ${m.commit}; seed ${opts.seed}; sections ${opts.sections.map((s) => s.name).join(', ')}`
  ]
  const mdHeader = header.map((l) => `${l}  `).join('\n')
  const md = [mdHeader] // the same results in Markdown, for --markdown-file
  console.log(opts.markdown ? mdHeader : header.join('\n'))
  if (typeof global.gc !== 'function') log('warning: run with node --expose-gc (npm run bench does); the memory section needs it')

  const tmp = await mkdtemp(join(tmpdir(), 'bellwether-bench-'))
  try {
    onCleanup(`temp dir ${tmp}`, async () => await rm(tmp, { recursive: true, force: true }))
  } catch (err) { // interrupted while the dir was being made
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  let failed = 0
  let problems = 0
  try {
    for (const section of opts.sections) {
      if (isClosing()) break
      const t0 = Date.now()
      log(`section ${section.name}: ${section.title}`)
      // each section gets its own rng stream, so --only gives the same workload as a full run
      const seed = opts.seed + SECTIONS.indexOf(section) * 7919
      try {
        const tables = await section.run({ opts, seed, rng: makeRng(seed), tmp, log })
        for (const t of tables) {
          problems += t.problems ?? 0
          console.log('\n' + renderTable(t, opts.markdown))
          md.push(renderTable(t, true))
        }
        log(`section ${section.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      } catch (err) {
        if (isClosing()) break // interrupted: the failure is only the teardown under its feet
        failed++
        console.log(`\n== ${section.title}\n  FAILED: ${err?.stack ?? err}`)
        md.push(`### ${section.title}\n\nFAILED: ${err?.message ?? err}`)
      }
    }
  } finally {
    clearTimeout(watchdog)
    await cleanupAll()
    closeHttp()
  }
  const total = `total ${((Date.now() - started) / 1000).toFixed(0)} s` +
    (failed > 0 ? `; ${failed} section(s) FAILED` : '') +
    (problems > 0 ? `; ${problems} PROBLEM(S) of the system under test (see the notes above)` : '')
  console.log(`\n${total}`)
  if (opts.markdownFile !== undefined) {
    await writeFile(opts.markdownFile, md.join('\n\n') + `\n\n${total}\n`)
    log(`results written to ${opts.markdownFile} (Markdown)`)
  }
  process.exitCode = failed > 0 || problems > 0 ? 1 : 0
}

main().catch(async (err) => {
  console.error(err?.stack ?? err)
  await cleanupAll()
  closeHttp()
  process.exit(1)
})
