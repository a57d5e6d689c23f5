// The client workload of a chaos run (Jepsen's "client" + "generator"): while faults happen it
// creates VDIs, writes whole objects with unique content (derived from the op id, so every
// write is distinguishable by its digest), reads them back, discards objects and deletes VDIs,
// each through a random running node (seeded RNG), and records every operation in the history
// as `invoke` then `ok` / `fail` / `info` (src/chaos/history.ts says what each one means).
//
// Bounds: at most `concurrency` operations in flight; each one gives up after `opTimeoutMs`
// (a paused or cut-off node never answers: `info`); at most `maxLiveVdis` VDIs live (created
// and not deleted); stops at `durationMs` or when the signal aborts, then waits for what is in
// flight (bounded by the op timeout).
//
// What the workload avoids, so that the history checker can judge precisely:
//   - it never writes an object again once a discard of it was invoked (a later write with a
//     newer version would legitimately bring it back);
//   - it discards only objects with no write in flight and no write of unknown outcome (such
//     a write may still land after the discard, with a newer version);
//   - it never uses a VDI again after invoking its delete, nor one whose create ended unknown.
// Operations concurrent with a VDI delete do happen (they are the interesting race), and so do
// concurrent writes to one object unless `sameObjectWrites: false`.
//
// Arrivals form one Poisson process at the sum of the rates (ops/s); each arrival is a kind
// drawn with the rates as weights among the kinds possible right now (nothing live to write to,
// the VDI limit reached: not possible), so the mix stays right even when the cluster is slow and
// every slot is busy (the schedule then lags, by at most MAX_LAG_MS, and does not catch up).

import { randomBytes } from 'node:crypto'
import type { ClusterNode } from '../cluster/clusterFile.js'
import { formatObjectRanges } from '../vdi/objectRanges.js'
import { parseVid } from '../oid.js'
import { seededRng } from './shapes.js'
import { contentDigest, type HistorySink, type OpEvent, type OpF, type OpType, OP_FUNCTIONS } from './history.js'
import { DeleteTracker, RunningNodes } from './runState.js'
import { ApiClient } from '../api/client.js'
import {
  DEFAULT_CONCURRENCY, DEFAULT_MAX_LIVE_VDIS, DEFAULT_OBJECTS_PER_VDI, DEFAULT_OBJECT_SIZE, DEFAULT_OP_TIMEOUT_MS,
  DEFAULT_WORKLOAD_RATES, WorkloadError, writeContent,
  type OutcomeCounts, type WorkloadOptions, type WorkloadRates, type WorkloadStats
} from './workloadConfig.js'
import { opFailure } from './opFailure.js'

/** once this far behind schedule (all slots busy for long), the arrivals restart from now */
const MAX_LAG_MS = 1_000

interface WVdi {
  name: string
  vid?: string
  generation?: number
  state: 'creating' | 'live' | 'deleting' | 'gone' | 'unknown'
  objects: number
  objectSize: number
  /** per object index: writes in flight */
  writing: Uint16Array
  /** per object index: 0 no discard, 1 discard in flight, 2 discard invoked and done (ok or unknown) */
  discard: Uint8Array
  written: Uint8Array
  infoWrite: Uint8Array
  created: number
}

interface Plan {
  f: OpF
  vdi: WVdi
  index?: number
  indexes?: number[]
}

export async function runWorkload (opts: WorkloadOptions): Promise<WorkloadStats> {
  const h = opts.history
  const rates: WorkloadRates = { ...DEFAULT_WORKLOAD_RATES, ...opts.rates }
  for (const f of OP_FUNCTIONS) {
    if (!Number.isFinite(rates[f]) || rates[f] < 0) throw new WorkloadError(`rate of ${f} must be a number ≥ 0`)
  }
  if (OP_FUNCTIONS.every((f) => rates[f] === 0)) throw new WorkloadError('every rate is 0: nothing to do')
  const concurrency = posInt(opts.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency', 256)
  const objectSize = posInt(opts.objectSize ?? DEFAULT_OBJECT_SIZE, 'objectSize', 64 * 1024 * 1024)
  const objectsPerVdi = posInt(opts.objectsPerVdi ?? DEFAULT_OBJECTS_PER_VDI, 'objectsPerVdi', 1 << 20)
  const maxLive = posInt(opts.maxLiveVdis ?? DEFAULT_MAX_LIVE_VDIS, 'maxLiveVdis', 10_000)
  const opTimeoutMs = posInt(opts.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS, 'opTimeoutMs', 600_000)
  if (!Number.isFinite(opts.durationMs) || opts.durationMs < 0) throw new WorkloadError('durationMs must be ≥ 0')
  const copies = opts.copies ?? Math.max(1, Math.min(opts.file.copies, opts.file.nodes.length))
  const tracker = opts.tracker ?? new DeleteTracker()
  const nodes = opts.nodes ?? new RunningNodes(opts.file, { dir: opts.clusterDir })
  const rng = seededRng(opts.seed)
  const prefix = opts.namePrefix ?? `w${BigInt.asUintN(64, BigInt(opts.seed)).toString(36)}-${randomBytes(3).toString('hex')}`
  const signal = opts.signal ?? new AbortController().signal
  const sameObjectWrites = opts.sameObjectWrites ?? true

  const byF = Object.fromEntries(OP_FUNCTIONS.map((f) => [f, { ok: 0, fail: 0, info: 0 }])) as Record<OpF, OutcomeCounts>
  const vdis: WVdi[] = []
  let vdiSeq = 0
  let vdisCreated = 0
  /** the workload forgets VDIs it will never touch again (memory stays bounded in long runs) */
  const forget = (v: WVdi): void => {
    const i = vdis.indexOf(v)
    if (i >= 0) vdis.splice(i, 1)
  }
  let opSeq = 0
  let invoked = 0
  let skipped = 0
  let nextProcess = concurrency
  const freeProcs = Array.from({ length: concurrency }, (_, i) => concurrency - 1 - i)
  const inflight = new Set<Promise<void>>()

  h.append({
    type: 'meta',
    time: h.now(),
    format: 1,
    seed: BigInt(opts.seed).toString(),
    info: { workload: { rates, concurrency, objectSize, objectsPerVdi, maxLiveVdis: maxLive, copies, opTimeoutMs, durationMs: opts.durationMs, namePrefix: prefix, sameObjectWrites } }
  })

  const start = h.now()
  const end = start + opts.durationMs
  const exp = (rate: number): number => -Math.log(1 - rng()) / rate * 1000
  const total = OP_FUNCTIONS.reduce((a, f) => a + rates[f], 0)
  // the first arrival at once: a VDI to work on from the first moment
  let nextAt = start

  const live = (): WVdi[] => vdis.filter((v) => v.state === 'live')
  const pick = <T>(a: T[]): T | undefined => a.length === 0 ? undefined : a[Math.floor(rng() * a.length)]

  const plan = (f: OpF): Plan | undefined => {
    const lv = live()
    switch (f) {
      case 'create': {
        if (vdis.filter((v) => v.state === 'live' || v.state === 'creating').length >= maxLive) return undefined
        const v: WVdi = {
          name: `${prefix}-${vdiSeq++}`,
          state: 'creating',
          objects: objectsPerVdi,
          objectSize,
          writing: new Uint16Array(objectsPerVdi),
          discard: new Uint8Array(objectsPerVdi),
          written: new Uint8Array(objectsPerVdi),
          infoWrite: new Uint8Array(objectsPerVdi),
          created: h.now()
        }
        vdis.push(v)
        return { f, vdi: v }
      }
      case 'write': {
        const v = pick(lv)
        if (v === undefined) return undefined
        const idx = pickIndex(v, (i) => v.discard[i] === 0 && (sameObjectWrites || v.writing[i] === 0))
        if (idx === undefined) return undefined
        v.writing[idx]!++
        return { f, vdi: v, index: idx }
      }
      case 'read': {
        const v = pick(lv)
        if (v === undefined) return undefined
        // mostly objects that were written, sometimes any (zeros, discarded)
        const idx = rng() < 0.8 ? (pickIndex(v, (i) => v.written[i] === 1) ?? pickIndex(v, () => true)) : pickIndex(v, () => true)
        return idx === undefined ? undefined : { f, vdi: v, index: idx }
      }
      case 'discard': {
        const v = pick(lv)
        if (v === undefined) return undefined
        const ok: number[] = []
        let kept = 0
        for (let i = 0; i < v.objects; i++) {
          if (v.discard[i] !== 0) continue
          kept++
          if (v.writing[i] === 0 && v.infoWrite[i] === 0) ok.push(i)
        }
        // keep at least half of the VDI's objects for writes and reads
        const room = kept - Math.ceil(v.objects / 2)
        if (room <= 0 || ok.length === 0) return undefined
        const want = Math.min(room, ok.length, 1 + Math.floor(rng() * 2))
        const chosen: number[] = []
        while (chosen.length < want) {
          const i = ok.splice(Math.floor(rng() * ok.length), 1)[0]!
          chosen.push(i)
        }
        chosen.sort((a, b) => a - b)
        for (const i of chosen) v.discard[i] = 1
        return { f, vdi: v, indexes: chosen }
      }
      case 'delete': {
        // keep at least one VDI to write to unless creating more is possible
        if (lv.length < 2) return undefined
        const v = pick(lv)!
        v.state = 'deleting'
        return { f, vdi: v }
      }
    }
  }

  const pickIndex = (v: WVdi, ok: (i: number) => boolean): number | undefined => {
    const first = Math.floor(rng() * v.objects)
    for (let k = 0; k < v.objects; k++) {
      const i = (first + k) % v.objects
      if (ok(i)) return i
    }
    return undefined
  }

  /** the plan will not run: give back what it reserved */
  const cancel = (p: Plan): void => {
    if (p.f === 'create') { p.vdi.state = 'gone'; forget(p.vdi) } else if (p.f === 'write') p.vdi.writing[p.index!]!--
    else if (p.f === 'discard') for (const i of p.indexes!) p.vdi.discard[i] = 0
    else if (p.f === 'delete') p.vdi.state = 'live'
  }

  const execute = async (p: Plan, node: ClusterNode, proc: number): Promise<OpType> => {
    const id = opSeq++
    invoked++
    const v = p.vdi
    const base: Omit<OpEvent, 'type' | 'time'> = { id, process: proc, f: p.f, node: node.index, vdi: v.name }
    if (v.vid !== undefined) base.vid = v.vid
    if (v.generation !== undefined) base.generation = v.generation
    if (p.index !== undefined) base.index = p.index
    if (p.indexes !== undefined) base.indexes = p.indexes
    let content: Uint8Array | undefined
    if (p.f === 'write') {
      content = writeContent(prefix, id, v.objectSize)
      base.value = contentDigest(content)
    }
    const invokeRec: OpEvent = { ...base, type: 'invoke', time: h.now() }
    if (p.f === 'create') Object.assign(invokeRec, { size: v.objects * v.objectSize, objectSize: v.objectSize, copies })
    h.append(invokeRec)

    let type: OpType
    let extra: Partial<OpEvent> = {}
    try {
      // every step of an operation (data included) within the one op deadline
      const api = new ApiClient(node.apiUrl, { timeoutMs: opTimeoutMs, dataTimeoutMs: opTimeoutMs })
      switch (p.f) {
        case 'create':
          extra = vdiIdentity(await api.createVdi({ name: v.name, size: v.objects * v.objectSize, objectSize: v.objectSize, copies }))
          break
        case 'write':
          await api.writeData(v.name, p.index! * v.objectSize, content!)
          break
        case 'read':
          extra = { value: contentDigest(await api.readData(v.name, p.index! * v.objectSize, v.objectSize)) }
          break
        case 'discard':
          await api.discard(v.name, formatObjectRanges(Uint32Array.from(p.indexes!)))
          break
        case 'delete':
          extra = vdiIdentity((await api.deleteVdi(v.name)).vdi)
          break
      }
      type = 'ok'
    } catch (err) {
      const e = opFailure(err, node, opTimeoutMs)
      // a write refused as DELETED by one replica may have landed on another that had not heard
      // of the delete yet: not a definite failure
      const partial = (p.f === 'write' || p.f === 'create') && e.code === 'DELETED'
      type = (e.definite && !partial) || (p.f === 'read' && e.kind === 'server') ? 'fail' : 'info'
      extra = { error: e.message.slice(0, 300), code: e.code }
      if (e.code === 'REFUSED') nodes.invalidate()
    }
    const time = h.now()
    const rec: OpEvent = { ...base, ...extra, type, time }
    if (p.f === 'read' && type !== 'ok') delete rec.value
    h.append(rec)
    byF[p.f][type as 'ok' | 'fail' | 'info']++

    // what the outcome means for the workload's model (and the tracker, at the very same time)
    switch (p.f) {
      case 'create':
        if (type === 'ok') {
          v.vid = extra.vid
          v.generation = extra.generation
          v.state = 'live'
          vdisCreated++
          if (v.vid !== undefined) tracker.vdiCreated(parseVid(v.vid), v.generation ?? 0)
        } else {
          v.state = type === 'fail' ? 'gone' : 'unknown'
          forget(v)
        }
        break
      case 'write':
        v.writing[p.index!]!--
        if (type !== 'fail') v.written[p.index!] = 1
        if (type === 'info') v.infoWrite[p.index!] = 1
        break
      case 'discard':
        for (const i of p.indexes!) v.discard[i] = type === 'fail' ? 0 : 2
        if (type === 'ok' && v.vid !== undefined) tracker.discarded(parseVid(v.vid), p.indexes!)
        break
      case 'delete': {
        v.state = 'gone'
        forget(v)
        const vid = extra.vid ?? v.vid
        if (type === 'ok' && vid !== undefined) tracker.vdiDeleted(parseVid(vid), extra.generation ?? v.generation ?? 0, time)
        break
      }
      case 'read':
        break
    }
    return type
  }

  const launch = (p: Plan, node: ClusterNode): void => {
    const proc = freeProcs.pop() ?? nextProcess++
    const done: Promise<void> = execute(p, node, proc)
      .catch((): OpType => 'info')
      // after an info the operation may still be running: the slot goes on as a new process
      .then((t) => { freeProcs.push(t === 'info' ? nextProcess++ : proc) })
      .finally(() => { inflight.delete(done) })
    inflight.add(done)
  }

  // one timer for the end of the run, raced against in-flight operations when every slot is busy
  const ended = sleepUntil(h, end, signal)
  /** a kind drawn by weight among those possible now, planned (reservations made) */
  const draw = (): Plan | undefined => {
    const kinds = OP_FUNCTIONS.filter((f) => rates[f] > 0)
    while (kinds.length > 0) {
      let u = rng() * kinds.reduce((a, f) => a + rates[f], 0)
      let k = 0
      while (k < kinds.length - 1 && u >= rates[kinds[k]!]) u -= rates[kinds[k++]!]
      const p = plan(kinds[k]!)
      if (p !== undefined) return p
      kinds.splice(k, 1)
    }
    return undefined
  }

  while (!signal.aborted) {
    const at = nextAt
    if (at >= end) {
      await ended
      break
    }
    await sleepUntil(h, at, signal)
    if (signal.aborted || h.now() >= end) break
    nextAt = Math.max(at, h.now() - MAX_LAG_MS) + exp(total)
    while (inflight.size >= concurrency && !signal.aborted && h.now() < end) {
      await Promise.race([...inflight, ended])
    }
    if (signal.aborted || h.now() >= end) break
    const p = draw()
    if (p === undefined) { skipped++; continue }
    const running = await nodes.get()
    const node = pick(running)
    if (node === undefined) { cancel(p); skipped++; continue }
    launch(p, node)
  }
  await Promise.allSettled([...inflight])

  return {
    namePrefix: prefix,
    elapsedMs: h.now() - start,
    invoked,
    byF,
    vdisCreated,
    liveVdis: live().length,
    skipped
  }
}

function vdiIdentity (r: { vid?: unknown; generation?: unknown } | undefined): Partial<OpEvent> {
  const out: Partial<OpEvent> = {}
  if (typeof r?.vid === 'string' && /^[0-9a-f]{6}$/.test(r.vid)) out.vid = r.vid
  if (typeof r?.generation === 'number' && Number.isInteger(r.generation) && r.generation >= 0) out.generation = r.generation
  return out
}

function posInt (v: number, what: string, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new WorkloadError(`${what} must be an integer in 1..${max}`)
  return v
}

async function sleepUntil (h: HistorySink, t: number, signal: AbortSignal): Promise<void> {
  const ms = t - h.now()
  if (ms <= 0 || signal.aborted) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
