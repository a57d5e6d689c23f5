// Section "micro": in-process speed and memory of the hot id structures, each against the
// naive structure it replaces, measured in this process on the same inputs:
//   - IndexSet with 1M sparse random uint32 ids: add, delete, heap per id — against Set<number>;
//   - OidSet.deleteVid of a 5M-object dense VDI — against deleting the same oids one by one;
//   - TombstoneIndex.covers() misses (1,000 VDI records + 200 discards of one VDI) — against
//     scanning the record list with recordCovers (what the index exists to avoid).
// These were pass/fail bounds in test/unit/idset.test.ts and tombstoneIndex.test.ts; as
// figures they carry a baseline and the load average instead of a threshold that fails a busy
// machine. Each timing is the median of ROUNDS runs, ours and the baseline alternating.
// Memory = growth of heapUsed + arrayBuffers across the build, read after global.gc().
import { performance } from 'node:perf_hooks'
import { loadavg } from 'node:os'
import { IndexSet, OidSet } from '../../dist/idset.js'
import { vidToDataOid } from '../../dist/oid.js'
import { recordCovers } from '../../dist/tombstones/record.js'
import { TombstoneIndex } from '../../dist/tombstones/tombstoneIndex.js'
import { fmtMs, fmtPerId, fmtRatio, int, median } from './lib.js'

const ROUNDS = 3
const SPARSE = 1_000_000
const DENSE = 5_000_000
const PROBES = 200_000
const NAIVE_PROBES = 2_000

export default {
  name: 'micro',
  title: 'Hot id structures in process: IndexSet, OidSet.deleteVid, TombstoneIndex.covers() against naive baselines',
  async run (ctx) {
    const load0 = loadavg()[0]
    const rows = []
    const notes = []
    const timed = (fn) => { const t = performance.now(); const r = fn(); return { ms: performance.now() - t, r } }
    const pair = (label, ours, base, fmt = fmtMs) => rows.push([label, fmt(ours), fmt(base), fmtRatio(ours, base)])

    // ---- IndexSet vs Set<number>, 1M sparse ids ----
    const ids = new Uint32Array(SPARSE)
    for (let k = 0; k < SPARSE; k++) ids[k] = ctx.rng.int(2 ** 32)
    const idx = { add: [], del: [] }
    const set = { add: [], del: [] }
    for (let round = 0; round < ROUNDS; round++) {
      const s = new IndexSet()
      idx.add.push(timed(() => { for (let k = 0; k < SPARSE; k++) s.add(ids[k]) }).ms)
      idx.del.push(timed(() => { for (let k = 0; k < SPARSE; k++) s.delete(ids[k]) }).ms)
      if (s.size !== 0) throw new Error(`IndexSet kept ${s.size} ids after deleting all`)
      const b = new Set()
      set.add.push(timed(() => { for (let k = 0; k < SPARSE; k++) b.add(ids[k]) }).ms)
      set.del.push(timed(() => { for (let k = 0; k < SPARSE; k++) b.delete(ids[k]) }).ms)
    }
    pair(`IndexSet: add ${int(SPARSE)} sparse random ids`, median(idx.add), median(set.add))
    pair('IndexSet: delete them one by one', median(idx.del), median(set.del))
    if (typeof global.gc === 'function') {
      const grow = (build) => {
        const m0 = heapNow()
        const keep = build()
        const bytes = heapNow() - m0
        return { bytes, keep }
      }
      const ours = grow(() => { const s = new IndexSet(); for (let k = 0; k < SPARSE; k++) s.add(ids[k]); return s })
      const base = grow(() => { const s = new Set(); for (let k = 0; k < SPARSE; k++) s.add(ids[k]); return s })
      pair('IndexSet: heap per id (after gc)', Math.max(0, ours.bytes) / SPARSE, base.bytes / SPARSE, fmtPerId)
      notes.push(`IndexSet.byteSize() estimate for the same set: ${fmtPerId(ours.keep.byteSize() / SPARSE)} per id.`)
    } else {
      notes.push('heap per id not measured: run with node --expose-gc (npm run bench does).')
    }

    // ---- OidSet.deleteVid vs per-oid deletes, 5M dense ----
    const purge = { vid: [], each: [] }
    for (let round = 0; round < ROUNDS; round++) {
      const a = new OidSet()
      a.addIndexRange(7, 0, DENSE)
      const t = timed(() => a.deleteVid(7))
      if (t.r !== DENSE) throw new Error(`deleteVid removed ${t.r}, expected ${DENSE}`)
      purge.vid.push(t.ms)
      const b = new OidSet()
      b.addIndexRange(7, 0, DENSE)
      purge.each.push(timed(() => { for (let k = 0; k < DENSE; k++) b.delete(vidToDataOid(7, k)) }).ms)
      if (b.size !== 0) throw new Error(`per-oid purge left ${b.size}`)
    }
    pair(`OidSet: purge a ${int(DENSE)}-object dense VDI (deleteVid; baseline: delete each oid)`, median(purge.vid), median(purge.each))

    // ---- TombstoneIndex.covers() vs a scan of the records ----
    const recs = []
    for (let v = 1; v <= 1000; v++) recs.push({ kind: 'vdi', origin: 'n1', seq: BigInt(v), hlc: 1n, vid: v, generation: 0 })
    for (let k = 0; k < 200; k++) recs.push({ kind: 'objects', origin: 'n1', seq: BigInt(2000 + k), hlc: BigInt(k), vid: 2000, generation: 0, indexes: Uint32Array.of(k) })
    const ix = new TombstoneIndex()
    for (const r of recs) ix.apply(r)
    const naive = (oid, gen, version) => recs.some((r) => recordCovers(r, oid, gen, version))
    const probes = [
      { label: 'an unrelated vid', oid: vidToDataOid(5000, 3), gen: 1, version: 5n },
      { label: 'an object newer than every discard of its vid', oid: vidToDataOid(2000, 3), gen: 0, version: 1000n }
    ]
    for (const p of probes) {
      const ours = []
      const base = []
      for (let round = 0; round < ROUNDS; round++) {
        const a = timed(() => { let hits = 0; for (let k = 0; k < PROBES; k++) if (ix.covers(p.oid, p.gen, p.version) !== undefined) hits++; return hits })
        const b = timed(() => { let hits = 0; for (let k = 0; k < NAIVE_PROBES; k++) if (naive(p.oid, p.gen, p.version)) hits++; return hits })
        if (a.r !== 0 || b.r !== 0) throw new Error(`covers() of ${p.label} hit: ${a.r} / ${b.r}`)
        ours.push(a.ms / PROBES)
        base.push(b.ms / NAIVE_PROBES)
      }
      pair(`TombstoneIndex.covers(): miss on ${p.label}, per probe`, median(ours), median(base), fmtNs)
    }

    notes.push(`load average (1 min): ${load0.toFixed(2)} at the start of this section, ${loadavg()[0].toFixed(2)} at its end.`)
    notes.push(`medians of ${ROUNDS} rounds, ours and the baseline alternating; covers() baseline: recordCovers over all ${recs.length} records, ${int(NAIVE_PROBES)} probes (ours: ${int(PROBES)}).`)
    notes.push('formerly test bounds: add/delete < 4 s each and heap ≤ 8 B/id (idset), deleteVid < 50 ms (idset), 400,000 misses < 2 s (tombstoneIndex).')
    return [{ title: 'Hot id structures (time or bytes; ours against the naive structure, same inputs, this process)', columns: ['operation', 'ours', 'baseline', 'ours / baseline'], rows, notes }]
  }
}

const fmtNs = (ms) => Number.isFinite(ms) ? `${(ms * 1e6).toFixed(ms * 1e6 < 10 ? 1 : 0)} ns` : 'n/a'

function heapNow () {
  global.gc()
  global.gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}
