// Section "memory": the object list cache at 10M oids. OidSet (the product's cache: per-vid
// buckets of runs / sorted uint32 chunks) against Set<bigint> (the naive cache, baseline)
// holding the same oids, in this process.
//   dense:  10 VDIs × 1,000,000 consecutive indexes (fully written disks), inserted in index
//           order, and again in random order (how a restarted node rebuilds from readdir)
//   sparse: 1,000 VDIs × 10,000 random indexes of 2^20, inserted in random order
// Memory = growth of process.memoryUsage().heapUsed + arrayBuffers across the build, both
// read after global.gc() (hence node --expose-gc); inputs are made before the first reading
// so they are not counted. Purge = one whole VDI: OidSet.deleteVid(vid) against deleting that
// VDI's oids one by one from the Set (given the list, its best case).
// Peak memory ≈ 0.8 GB (one Set<bigint> of 10M at a time).
// The work runs in a child process (this same file, node --expose-gc): a fresh heap that no
// cluster traffic disturbs, and a long synchronous build that Ctrl-C or the run's cleanup can
// still stop at once.
import { fork } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { OidSet } from '../../dist/idset.js'
import { fmtBytes, fmtMs, fmtPerId, fmtRatio, int, makeRng, onCleanup, sparseIndexes } from './lib.js'

const DENSE_VIDS = 10
const DENSE_PER_VID = 1_000_000
const SPARSE_VIDS = 1000
const SPARSE_PER_VID = 10_000
const SPARSE_RANGE = 2 ** 20
const TOTAL = DENSE_VIDS * DENSE_PER_VID // = SPARSE_VIDS * SPARSE_PER_VID

export default {
  name: 'memory',
  title: 'Object list cache at 10M oids: OidSet vs Set<bigint> (memory per oid, purge of one VDI)',
  async run (ctx) {
    return await runInChild(ctx)
  }
}

const SELF = fileURLToPath(import.meta.url)

function runInChild (ctx) {
  return new Promise((resolve, reject) => {
    const child = fork(SELF, ['--child', String(ctx.seed)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const stop = onCleanup('memory child process', async () => { if (child.exitCode === null) child.kill('SIGKILL') })
    let tables
    child.on('message', (m) => {
      if (m.log !== undefined) ctx.log(m.log)
      if (m.tables !== undefined) tables = m.tables
      if (m.error !== undefined) reject(new Error(m.error))
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      void stop()
      if (tables !== undefined) resolve(tables)
      else reject(new Error(`memory child exited with ${signal ?? code}`))
    })
  })
}

function measureAll (rng, log) {
  if (typeof global.gc !== 'function') throw new Error('needs node --expose-gc')
  const vids = distinctVids(rng, DENSE_VIDS + SPARSE_VIDS)
  const denseVids = vids.slice(0, DENSE_VIDS)
  const sparseVids = vids.slice(DENSE_VIDS)
  const shuffled = permutation(rng, TOTAL)

  // dense: position p ↦ (denseVids[p / 1M], p % 1M)
  const dense = {
    vid: (p) => denseVids[Math.floor(p / DENSE_PER_VID)],
    idx: (p) => p % DENSE_PER_VID
  }
  // sparse: position p ↦ (sparseVids[p / 10k], sparseIdx[p])
  const sparseIdx = new Uint32Array(TOTAL)
  for (let v = 0; v < SPARSE_VIDS; v++) sparseIdx.set(sparseIndexes(rng, SPARSE_PER_VID, SPARSE_RANGE), v * SPARSE_PER_VID)
  const sparse = {
    vid: (p) => sparseVids[Math.floor(p / SPARSE_PER_VID)],
    idx: (p) => sparseIdx[p]
  }

  const cases = [
    { label: 'dense, in order', data: dense, order: null, victim: denseVids[0], victimSize: DENSE_PER_VID },
    { label: 'dense, random order', data: dense, order: shuffled, victim: denseVids[0], victimSize: DENSE_PER_VID, sameSetAs: 0 },
    { label: 'sparse, random order', data: sparse, order: shuffled, victim: sparseVids[0], victimSize: SPARSE_PER_VID }
  ]
  const results = []
  for (const c of cases) {
    const r = { label: c.label }
    Object.assign(r, measureOidSet(c))
    log(`memory: OidSet ${c.label}: ${fmtPerId(r.oidBytes / TOTAL)}/oid, built in ${fmtMs(r.oidBuildMs)}`)
    if (c.sameSetAs === undefined) {
      Object.assign(r, measureBigintSet(c))
      log(`memory: Set<bigint> ${c.label}: ${fmtPerId(r.setBytes / TOTAL)}/oid, built in ${fmtMs(r.setBuildMs)}`)
    } else {
      const o = results[c.sameSetAs]
      Object.assign(r, { setBytes: o.setBytes, setBuildMs: NaN, setPurgeMs: o.setPurgeMs, setReused: true })
    }
    r.victimSize = c.victimSize
    results.push(r)
  }
  return [memoryTable(results), timeTable(results)]
}

function heapNow () {
  global.gc()
  global.gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** The oid of position p as a bigint, built like the node does (vid << 32 | index). */
const oidAt = (data, p) => (BigInt(data.vid(p)) << 32n) | BigInt(data.idx(p))

function measureOidSet ({ data, order, victim, victimSize }) {
  const m0 = heapNow()
  const t0 = performance.now()
  let s = new OidSet()
  for (let k = 0; k < TOTAL; k++) s.add(oidAt(data, order === null ? k : order[k]))
  const oidBuildMs = performance.now() - t0
  const oidBytes = Math.max(0, heapNow() - m0) // ≈ 0 for dense runs: noise can make it negative
  if (s.size !== TOTAL) throw new Error(`OidSet holds ${s.size}, expected ${TOTAL}`)
  const estimate = s.byteSize()
  global.gc() // no collection left pending from the build inside the timed purge
  const t1 = performance.now()
  const removed = s.deleteVid(victim)
  const oidPurgeMs = performance.now() - t1
  if (removed !== victimSize) throw new Error(`deleteVid removed ${removed}, expected ${victimSize}`)
  s = null
  return { oidBytes, oidBuildMs, oidPurgeMs, estimate }
}

function measureBigintSet ({ data, order, victim, victimSize }) {
  const m0 = heapNow()
  const t0 = performance.now()
  let s = new Set()
  for (let k = 0; k < TOTAL; k++) s.add(oidAt(data, order === null ? k : order[k]))
  const setBuildMs = performance.now() - t0
  const setBytes = heapNow() - m0
  if (s.size !== TOTAL) throw new Error(`Set holds ${s.size}, expected ${TOTAL}`)
  // the victim VDI's oids, made before the clock starts: the Set is handed the exact list
  // (the victim is the first VDI of the layout: positions 0 .. victimSize-1)
  const list = Array.from({ length: victimSize }, (_, p) => oidAt(data, p))
  if (list.some((o) => Number(o >> 32n) !== victim)) throw new Error('victim VDI layout mismatch')
  global.gc()
  const t1 = performance.now()
  for (const o of list) s.delete(o)
  const setPurgeMs = performance.now() - t1
  s = null
  return { setBytes, setBuildMs, setPurgeMs }
}

function memoryTable (results) {
  return {
    title: `Object list cache memory at ${int(TOTAL)} oids (heapUsed + arrayBuffers growth after gc)`,
    columns: ['oids', 'OidSet per oid', 'Set<bigint> per oid', 'OidSet / Set', 'OidSet total', 'Set<bigint> total'],
    rows: results.map((r) => [
      r.label, fmtPerId(r.oidBytes / TOTAL), fmtPerId(r.setBytes / TOTAL) + (r.setReused ? ' †' : ''),
      fmtRatio(r.oidBytes, r.setBytes), fmtBytes(r.oidBytes), fmtBytes(r.setBytes)
    ]),
    notes: [
      `dense = ${DENSE_VIDS} VDIs × ${int(DENSE_PER_VID)} consecutive indexes; sparse = ${int(SPARSE_VIDS)} VDIs × ${int(SPARSE_PER_VID)} uniform random indexes of 2^20.`,
      '† a Set<bigint> does not depend on insertion order: the in-order figure is reused.',
      'Heap readings are noisy by about ±0.1 MiB (±0.01 B/oid at 10M); a negative growth is shown as 0.',
      `OidSet's own byteSize() estimate: ${results.map((r) => `${r.label} ${fmtBytes(r.estimate)}`).join('; ')}.`
    ]
  }
}

function timeTable (results) {
  const rows = []
  for (const r of results) {
    if (r.setReused) {
      rows.push([`purge one VDI (${int(r.victimSize)} oids), ${r.label}`, fmtMs(r.oidPurgeMs), 'as above †', ''])
      continue
    }
    rows.push([`purge one VDI (${int(r.victimSize)} oids), ${r.label}`, fmtMs(r.oidPurgeMs), fmtMs(r.setPurgeMs), fmtRatio(r.oidPurgeMs, r.setPurgeMs)])
  }
  for (const r of results) {
    rows.push([`build: ${int(TOTAL)} single adds, ${r.label}`, fmtMs(r.oidBuildMs), r.setReused ? 'as above †' : fmtMs(r.setBuildMs), r.setReused ? '' : fmtRatio(r.oidBuildMs, r.setBuildMs)])
  }
  return {
    title: 'Purge of one whole VDI from a 10M-oid cache, and the time to build the cache',
    columns: ['operation', 'OidSet', 'Set<bigint>', 'OidSet / Set'],
    rows,
    notes: [
      'OidSet purges a VDI with deleteVid (drops its buckets); the Set deletes the VDI\'s oids one by one from a list made before timing (the baseline\'s best case).',
      'Builds include making one bigint per oid, as the node does when it lists its disk.'
    ]
  }
}

function distinctVids (rng, n) {
  const seen = new Set()
  while (seen.size < n) seen.add(1 + rng.int(0xfffffe))
  return [...seen]
}

function permutation (rng, n) {
  const p = new Uint32Array(n)
  for (let k = 0; k < n; k++) p[k] = k
  for (let k = n - 1; k > 0; k--) {
    const j = rng.int(k + 1)
    const t = p[k]
    p[k] = p[j]
    p[j] = t
  }
  return p
}

// child mode: last in the file, so every const above is initialised before it runs
if (process.argv[1] === SELF && process.argv[2] === '--child') {
  const log = (msg) => process.send({ log: msg })
  let answer
  try {
    answer = { tables: measureAll(makeRng(Number(process.argv[3])), log) }
  } catch (err) {
    answer = { error: err?.stack ?? String(err) }
  }
  process.send(answer, () => process.disconnect())
}
