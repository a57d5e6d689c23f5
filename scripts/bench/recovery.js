// Section "recovery": what recovery moves and how fast (issue 4), with separate node processes
// on 127.0.0.100-114.
//
// 1. Join: a 9-node cluster (copies 3) holds one VDI of M objects; a 10th node is started.
//    Timed from its spawn until the whole cluster is quiet again (every node: 10 members, one
//    epoch, not busy — recovery finished everywhere, old copies dropped), polled every 100 ms.
//    Objects and bytes moved = the growth of every node's GET /recovery totals (recovered,
//    bytes) over the join, next to the ideal: a joiner of N nodes should receive copies·M/N
//    objects and nothing else should move (consistent hashing). Ratio = moved / ideal.
// 2. Throughput: a 5-node cluster (copies 2); one node is stopped, a VDI of K objects is
//    written (so ≈ 2K/5 of them are placed on the stopped node), the node is restarted and
//    recovers them (GET /recovery progress, sampled every 50 ms); restart → quiet (process
//    start, membership, 1 s debounce, the others dropping their extra copies) is shown as well.
//    Run for 4 KiB and for 4 MiB (4,194,304-byte) objects. Recovery time counts from the first pull:
//    "pass start → first pull" (reconciling tombstones with and listing every peer) is shown
//    apart. Baselines, measured in the same run on the same cluster:
//    - client write: the PUT that wrote the same VDI (same object size, 8 objects in flight,
//      each to 2 replicas, fsynced) — the foreground path recovery competes with;
//    - client read: GET of the whole VDI through the restarted node afterwards, one request per
//      object, 8 in flight (recovery's parallelism): HTTP + object protocol, no disk write.
//    The 4 MiB row is also compared to the 4 KiB row (per-object overhead vs bytes).
// The node's recovery throttle (`--recovery-rate`, default 64 MiB/s) is left at its default:
// these are the figures a user gets.
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { addNode, clusterDir, startCluster, startNode, stopNode, waitQuiet } from './cluster.js'
import { api, fmtBytes, fmtMs, fmtRatio, int, isClosing, mapLimit, sleep } from './lib.js'

const JOIN = { nodes: 9, copies: 3, objects: 600, objectSize: 64 * 1024, ipBase: '127.0.0.100' }
const TP = { nodes: 5, copies: 2, ipBase: '127.0.0.110' }
/** "4 KiB objects", "4 MiB objects": labels made from the exact size, so they cannot disagree with it */
const sizeLabel = (b) => b % (1024 * 1024) === 0 ? `${b / 1024 / 1024} MiB objects` : b % 1024 === 0 ? `${b / 1024} KiB objects` : `${b} B objects`
const TP_CASES = [
  { objects: 2000, objectSize: 4 * 1024 }, // 4,096 B
  { objects: 60, objectSize: 4 * 1024 * 1024 } // 4,194,304 B: the CLI's default object size
].map((c) => ({ ...c, label: sizeLabel(c.objectSize) }))
const PARALLEL = 8
const QUIET_TIMEOUT_MS = 180_000
const MB = 1e6

export default {
  name: 'recovery',
  title: 'Recovery: objects moved when a node joins; recovery throughput (4 KiB and 4 MiB objects)',
  async run (ctx) {
    // each part on its own: a failure of one still prints the other
    const tables = []
    for (const [title, part] of [['Join', joinTable], ['Recovery throughput', throughputTable]]) {
      try {
        tables.push(await part(ctx))
      } catch (err) {
        if (isClosing()) throw err
        ctx.log(`recovery: ${title} failed: ${err?.stack ?? err}`)
        tables.push({ title: `${title}: FAILED`, columns: ['error'], rows: [[String(err?.message ?? err).split('\n')[0]]], notes: String(err?.message ?? err).split('\n').slice(1), problems: 1 })
      }
    }
    return tables
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: PARALLEL })

/** GET, body counted and discarded (lib's request() decodes it as text); resolves the byte count */
function rawGet (url, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let n = 0
      res.on('data', (b) => { n += b.length })
      res.on('error', reject)
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`GET ${url} → ${res.statusCode}`))))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

async function recoveryTotals (nodes) {
  return await Promise.all(nodes.map(async (n) => (await api(`${n.apiUrl}/recovery`, { timeoutMs: 5000 })).totals))
}

/**
 * Samples GET /recovery of `nodes` every `everyMs` until stop(): per node, every pass seen (by
 * startedAt: when it first showed a pull — toRecover > 0 — and its last progress), and every
 * distinct error any pass reported. Passes that end between two samples are seen only if the
 * next pass has not started yet (≥ 1 s debounce, 3 s retry): good enough at 50-100 ms.
 */
function watchRecovery (nodes, everyMs = 100) {
  const passes = new Map(nodes.map((n) => [n.index, new Map()]))
  const errors = new Set()
  let on = true
  const loop = (async () => {
    while (on) {
      await Promise.all(nodes.map(async (n) => {
        if (n.pid === null) return
        try {
          const p = (await api(`${n.apiUrl}/recovery`, { timeoutMs: 2000 })).progress
          if (p.startedAt === 0) return
          const m = passes.get(n.index)
          const seen = m.get(p.startedAt) ?? { firstPullAt: undefined, progress: p }
          if (seen.firstPullAt === undefined && p.toRecover > 0) seen.firstPullAt = Date.now()
          seen.progress = p
          m.set(p.startedAt, seen)
          for (const e of p.errors) errors.add(`node ${n.index}: ${e}`)
        } catch {} // not listening (yet)
      }))
      await sleep(everyMs)
    }
  })()
  return {
    passes,
    errors,
    async stop () { on = false; await loop }
  }
}

/** one VDI of `objects` × `objectSize` random bytes, written through `via` in one PUT; returns its vid and the write time */
async function writeVdi (via, name, { objects, objectSize, copies }) {
  // the node writes the inode to `copies` replicas under its own 10 s per-request deadline: give it room to answer
  const info = await api(`${via.apiUrl}/vdi`, { method: 'POST', body: { name, size: objects * objectSize, copies, objectSize }, timeoutMs: 60_000 })
  const data = randomBytes(objects * objectSize)
  const t0 = performance.now()
  try {
    await api(`${via.apiUrl}/vdi/${name}/data?offset=0`, { method: 'PUT', body: data, type: 'application/octet-stream', timeoutMs: 600_000 })
  } catch (err) {
    // how long it ran tells a per-request deadline (the object protocol's 10 s) from an early refusal
    err.message = `${err.message} (after ${fmtMs(performance.now() - t0)})`
    throw err
  }
  return { vid: info.vid, writeMs: performance.now() - t0, bytes: data.length }
}

async function joinTable (ctx) {
  const { nodes: N0, copies, objects: M, objectSize } = JOIN
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, 'recovery-join'), nodes: N0, copies, ipBase: JOIN.ipBase, log: ctx.log })
  try {
    const w = await writeVdi(cluster.nodes[0], 'join', JOIN)
    ctx.log(`recovery/join: ${int(M)} objects of ${fmtBytes(objectSize)} × ${copies} copies written in ${fmtMs(w.writeMs)}`)
    await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })
    const held0 = await Promise.all(cluster.nodes.map(async (n) => (await api(`${n.apiUrl}/objlist?vid=${w.vid}`)).count))
    const before = await recoveryTotals(cluster.nodes)

    const watch = watchRecovery(cluster.nodes)
    const t0 = performance.now()
    const joiner = await addNode(cluster)
    watch.passes.set(joiner.index, new Map())
    // member everywhere: every old node lists it
    let memberMs = NaN
    for (;;) {
      const seen = await Promise.all(cluster.nodes.map(async (n) => {
        try { return (await api(`${n.apiUrl}/status`, { timeoutMs: 3000 })).members.includes(joiner.peerId) } catch { return false }
      }))
      if (seen.every(Boolean)) { memberMs = performance.now() - t0; break }
      if (performance.now() - t0 > 60_000) throw new Error(`the joining node was not a member everywhere within 60 s: ${seen.join(',')}`)
      await sleep(100)
    }
    try {
      await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })
    } finally {
      await watch.stop()
    }
    const quietMs = performance.now() - t0
    const after = await recoveryTotals(cluster.nodes)
    // the joiner's passes: list/reconcile phase (start → first pull) and transfers (first pull → end)
    const jp = [...watch.passes.get(joiner.index).values()].sort((a, b) => a.progress.startedAt - b.progress.startedAt)
    const work = jp.filter((x) => x.progress.recovered > 0 && x.progress.finishedAt > 0)
    const first = work[0]
    const last = work.at(-1)
    const prepMs = first?.firstPullAt === undefined ? NaN : first.firstPullAt - first.progress.startedAt
    const transferMs = first === undefined ? NaN : last.progress.finishedAt - (first.firstPullAt ?? first.progress.startedAt)

    const N = cluster.nodes.length
    const total = M + 1 // the data objects and the inode
    const d = (k) => after.reduce((s, t, i) => s + t[k] - (before[i]?.[k] ?? 0), 0)
    const moved = d('recovered')
    const bytes = d('bytes')
    const dropped = d('dropped')
    const failed = d('failed')
    const joinerGot = after[N - 1].recovered
    const held = await Promise.all(cluster.nodes.map(async (n) => (await api(`${n.apiUrl}/objlist?vid=${w.vid}`)).count))
    const ideal = (copies * total) / N
    const idealBytes = (copies * M * objectSize) / N
    const rows = [
      ['objects moved (Σ recovered, all nodes)', int(moved), ideal.toFixed(0), fmtRatio(moved, ideal)],
      ['  of which onto the joining node', int(joinerGot), ideal.toFixed(0), fmtRatio(joinerGot, ideal)],
      ['bytes moved (Σ recovery bytes)', fmtBytes(bytes), fmtBytes(idealBytes), fmtRatio(bytes, idealBytes)],
      ['old copies dropped (Σ dropped)', int(dropped), ideal.toFixed(0), fmtRatio(dropped, ideal)],
      ['objects held by the joiner afterwards', int(held[N - 1]), ideal.toFixed(0), fmtRatio(held[N - 1], ideal)],
      ['replicas in the cluster before → after', `${int(held0.reduce((a, b) => a + b, 0))} → ${int(held.reduce((a, b) => a + b, 0))}`, int(copies * total), ''],
      ['spawn → member on every node', fmtMs(memberMs), '', ''],
      ['joiner: pass start → first pull (reconcile + list 9 peers)', fmtMs(prepMs), '', ''],
      ['joiner: first pull → last pass done (transfers)', fmtMs(transferMs), '', ''],
      ['spawn → cluster quiet (recovery done everywhere)', fmtMs(quietMs), '', '']
    ]
    const problems = failed > 0 ? 1 : 0
    return {
      title: `Join: a 10th node joins ${N0} nodes holding ${int(M)} objects × ${copies} copies (${fmtBytes(objectSize)} each)`,
      columns: ['measure', 'bellwether', `ideal (copies·M/N, N=${N})`, 'ratio'],
      rows,
      problems,
      notes: [
        'ideal: with consistent hashing only the joiner gains objects — copies·(M+1)/N of them (M data objects + the inode) — and as many old copies are dropped',
        `joiner's recovery passes (GET /recovery sampled every 100 ms): ${jp.map((x) => `${x.progress.recovered} recovered, ${x.progress.failed} failed, ${((x.progress.finishedAt || Date.now()) - x.progress.startedAt) / 1000} s`).join('; ')}; the rest of spawn → quiet is process start, membership, the 1 s recovery debounce and the other nodes' drop passes`,
        `objects written through node 0 in one PUT in ${fmtMs(w.writeMs)} (${(w.bytes * copies / MB / (w.writeMs / 1000)).toFixed(1)} MB/s of replicas)`,
        ...(failed > 0 ? [`PROBLEMS: ${failed} recovery failures during the join (GET /recovery totals.failed); errors seen: ${[...watch.errors].slice(0, 5).join(' | ') || 'none sampled'}`] : [])
      ]
    }
  } finally {
    await cluster.stop()
  }
}

async function throughputTable (ctx) {
  const cluster = await startCluster({ dir: clusterDir(ctx.tmp, 'recovery-tp'), nodes: TP.nodes, copies: TP.copies, ipBase: TP.ipBase, log: ctx.log })
  const rows = []
  const notes = []
  let problems = 0
  const results = []
  const x = cluster.nodes[TP.nodes - 1] // the node stopped and restarted in every case
  try {
    await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })
    for (const [k, c] of TP_CASES.entries()) {
      // each case on its own: a failure of one still prints the other, with the nodes' log tails
      try {
        await throughputCase(k, c)
      } catch (err) {
        if (isClosing()) throw err
        problems++
        const msg = String(err?.message ?? err)
        ctx.log(`recovery/throughput: ${c.label} FAILED: ${err?.stack ?? err}`)
        for (const n of cluster.nodes) ctx.log(`recovery/throughput: node ${n.index} (pid ${n.pid ?? 'stopped'}), end of its log:\n${await logTail(n.logFile)}`)
        rows.push([c.label, 'FAILED', '', '', '', '', '', '', '', ''])
        notes.push(`PROBLEMS: ${c.label} FAILED: ${msg.split('\n')[0].slice(0, 400)}`)
        if (x.pid === null) await startNode(cluster, x).catch(() => {}) // leave the cluster whole for the next case
      }
    }
  } finally {
    agent.destroy()
    await cluster.stop()
  }

  async function throughputCase (k, c) {
    await stopNode(cluster, x)
    await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })
    const name = `tp${k}`
    // no fallback to smaller objects: a failed write fails the case (and is reported as such)
    const w = await writeVdi(cluster.nodes[0], name, { ...c, copies: TP.copies })
    ctx.log(`recovery/throughput: ${c.label}: ${int(c.objects)} written in ${fmtMs(w.writeMs)} with node ${x.index} down`)
    await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })

    // restart it and watch its recovery passes
    const watch = watchRecovery([x], 50)
    const t0 = performance.now()
    await startNode(cluster, x)
    try {
      await waitQuiet(cluster, { timeoutMs: QUIET_TIMEOUT_MS })
    } finally {
      await watch.stop()
    }
    const quietMs = performance.now() - t0
    const final = await api(`${x.apiUrl}/recovery`)
    const passes = watch.passes.get(x.index)
    passes.set(final.progress.startedAt, { firstPullAt: passes.get(final.progress.startedAt)?.firstPullAt, progress: final.progress })
    const moving = [...passes.values()].filter((p) => p.progress.recovered > 0 && p.progress.finishedAt > 0).sort((a, b) => a.progress.startedAt - b.progress.startedAt)
    const totals = final.totals // a fresh process: everything since the restart
    if (moving.length === 0) throw new Error(`${c.label}: node ${x.index} recovered nothing after its restart (totals ${JSON.stringify(totals)})`)
    // transfers: from the first pull of the first pass that moved objects to the end of the last one
    const from = moving[0].firstPullAt ?? moving[0].progress.startedAt
    const ms = moving.at(-1).progress.finishedAt - from
    const prepMs = from - moving[0].progress.startedAt
    const bytes = totals.bytes ?? totals.recovered * c.objectSize
    if (totals.failed > 0) { problems++; notes.push(`PROBLEMS: ${c.label}: ${totals.failed} recovery failures on the restarted node: ${[...watch.errors].slice(0, 3).join(' | ')}`) }
    const held = (await api(`${x.apiUrl}/objlist?vid=${w.vid}`)).count

    // baseline 2: read the whole VDI back through the restarted node, one object per request, 8 in flight
    const r0 = performance.now()
    let readBytes = 0
    await mapLimit(Array.from({ length: c.objects }, (_, i) => i), PARALLEL, async (i) => {
      const n = await rawGet(`${x.apiUrl}/vdi/${name}/data?offset=${i * c.objectSize}&length=${c.objectSize}`)
      readBytes += n
    })
    if (readBytes !== w.bytes) throw new Error(`read back ${readBytes} bytes of ${name} through node ${x.index}, wrote ${w.bytes}`)
    const readMs = performance.now() - r0

    const res = {
      c,
      recovered: totals.recovered,
      held,
      bytes,
      ms,
      prepMs,
      quietMs,
      passes: moving.length,
      objPerS: totals.recovered / (ms / 1000),
      mbPerS: bytes / MB / (ms / 1000),
      writeMbPerS: w.bytes / MB / (w.writeMs / 1000),
      writeObjPerS: c.objects / (w.writeMs / 1000),
      readMbPerS: readBytes / MB / (readMs / 1000),
      readObjPerS: c.objects / (readMs / 1000)
    }
    results.push(res)
    ctx.log(`recovery/throughput: ${c.label}: ${int(res.recovered)} objects recovered in ${fmtMs(ms)} (${res.objPerS.toFixed(0)} obj/s, ${res.mbPerS.toFixed(1)} MB/s)`)
    rows.push([
      c.label, `${int(res.recovered)} (${fmtBytes(bytes)})`, fmtMs(ms), fmtMs(quietMs),
      res.objPerS.toFixed(0), res.mbPerS.toFixed(1),
      `${res.writeObjPerS.toFixed(0)} / ${res.writeMbPerS.toFixed(1)}`, fmtRatio(res.mbPerS, res.writeMbPerS),
      `${res.readObjPerS.toFixed(0)} / ${res.readMbPerS.toFixed(1)}`, fmtRatio(res.mbPerS, res.readMbPerS)
    ])
  }
  const [small, big] = results
  if (small !== undefined && big !== undefined) {
    rows.push([
      `${big.c.label.replace(/ objects$/, '')} / ${small.c.label.replace(/ objects$/, '')}`, '', fmtRatio(big.ms, small.ms), '', fmtRatio(big.objPerS, small.objPerS), fmtRatio(big.mbPerS, small.mbPerS),
      `${fmtRatio(big.writeObjPerS, small.writeObjPerS)} / ${fmtRatio(big.writeMbPerS, small.writeMbPerS)}`, '',
      `${fmtRatio(big.readObjPerS, small.readObjPerS)} / ${fmtRatio(big.readMbPerS, small.readMbPerS)}`, ''
    ])
  }
  return {
    title: `Recovery throughput: a restarted node of ${TP.nodes} (copies ${TP.copies}) recovers what was written while it was down`,
    columns: ['case', 'recovered (bytes)', 'recovery time', 'restart → quiet', 'objects/s', 'MB/s',
      'baseline: client write obj/s / MB/s', 'recovery / write (MB/s)', 'baseline: client read obj/s / MB/s', 'recovery / read (MB/s)'],
    rows,
    problems,
    notes: [
      'recovery time: first pull of the first recovery pass that moved objects → end of the last such pass on the restarted node (GET /recovery, sampled every 50 ms); restart → quiet adds process start, membership, the 1 s debounce, reconciling with and listing the peers, and the other nodes dropping their extra copies',
      `recovery: ${PARALLEL} transfers in flight, each a fetch over the object protocol (libp2p) and an fsynced local write; default throttle (--recovery-rate 64 MiB/s)`,
      'baseline client write: the one PUT that wrote the VDI through node 0 (8 objects in flight, each to 2 replicas, fsynced); MB/s of VDI data, not of replicas',
      `baseline client read: GET of every object of the VDI through the restarted node afterwards, ${PARALLEL} in flight (objects it does not hold come over the object protocol); no disk write`,
      'MB = 10^6 bytes; the last row divides the 4 MiB run by the 4 KiB run (same cluster, same run): per-object overhead vs bytes',
      ...results.map((r) => `${r.c.label}: ${int(r.c.objects)} objects written while the node was down; it holds ${int(r.held)} of them afterwards, ${int(r.recovered)} recovered in ${r.passes} pass(es); pass start → first pull ${fmtMs(r.prepMs)}`),
      ...notes
    ]
  }
}

async function logTail (path, lines = 8) {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).map((l) => '    ' + l.slice(0, 400)).join('\n')
  } catch {
    return '    (no log)'
  }
}
