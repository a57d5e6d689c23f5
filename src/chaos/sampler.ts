// The sampler of a chaos run: every `intervalMs` (default 500 ms) it asks each running node
// for its object list (GET /objlist, the whole cache) and its delete-log summary (GET /status),
// and appends ONE `sample` record per round to the history. It does not store object lists:
// each list is streamed through DeleteTracker.covers() (numbers only, no bigint per oid) and
// only the oids covered by an acknowledged delete/discard are kept, as compact oid groups
// ("0000abcd:0-15,20"), capped at `maxHeldPerNode` per node (then `truncated`), plus the
// total count of the cache. From these records the checker (src/check/history.ts) sees
// revived objects (a node seen without a deleted oid, later with it), purge latency and the
// time from the last heal to convergence (all nodes agree on the delete log, none holds a
// deleted oid).
// Rounds never overlap; a node that does not answer within `timeoutMs` is recorded with its
// error (paused or overloaded), a node whose process is gone as `down`.

import { ApiClient } from '../api/client.js'
import type { ClusterFile, ClusterNode } from '../cluster/clusterFile.js'
import { encodeOidGroups, type HistorySink, type SampleEvent, type SampleNode } from './history.js'
import { type DeleteTracker, RunningNodes } from './runState.js'
import { oidHigh, oidToIndex, tryParseOid } from '../oid.js'

export const DEFAULT_SAMPLE_INTERVAL_MS = 500
export const DEFAULT_SAMPLE_TIMEOUT_MS = 2_000
export const DEFAULT_MAX_HELD_PER_NODE = 4096

export interface SamplerOptions {
  file: ClusterFile
  history: HistorySink
  tracker: DeleteTracker
  /** stops the sampler (after the round in progress) */
  signal: AbortSignal
  intervalMs?: number
  timeoutMs?: number
  maxHeldPerNode?: number
  /** shared with the workload, or made from `file` (re-reading `clusterDir`/cluster.json when given) */
  nodes?: RunningNodes
  clusterDir?: string
}

export interface SamplerStats {
  rounds: number
  /** node answers received / node requests that failed / nodes found down, over all rounds */
  answered: number
  failed: number
  down: number
  /** most covered oids one node held in one sample */
  maxHeld: number
}

/** Runs rounds until the signal aborts; resolves with what it did. Never throws for a node's failure. */
export async function runSampler (opts: SamplerOptions): Promise<SamplerStats> {
  const interval = Math.max(50, opts.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS)
  const nodes = opts.nodes ?? new RunningNodes(opts.file, { dir: opts.clusterDir })
  const stats: SamplerStats = { rounds: 0, answered: 0, failed: 0, down: 0, maxHeld: 0 }
  while (!opts.signal.aborted) {
    const started = Date.now()
    const ev = await sampleRound({ ...opts, nodes, round: stats.rounds })
    opts.history.append(ev)
    stats.rounds++
    for (const n of ev.nodes) {
      if (n.down === true) stats.down++
      else if (n.error !== undefined) stats.failed++
      else stats.answered++
      stats.maxHeld = Math.max(stats.maxHeld, n.heldCount ?? 0)
    }
    const wait = interval - (Date.now() - started)
    if (wait > 0) await abortableSleep(wait, opts.signal)
  }
  return stats
}

/** One round over every node of the cluster file. */
export async function sampleRound (opts: {
  history: HistorySink
  tracker: DeleteTracker
  nodes: RunningNodes
  round: number
  timeoutMs?: number
  maxHeldPerNode?: number
}): Promise<SampleEvent> {
  const time = opts.history.now()
  const running = new Set((await opts.nodes.get()).map((n) => n.index))
  const all = opts.nodes.nodes
  const answers = await Promise.all(all.map(async (n) => running.has(n.index)
    ? await sampleNode(n, opts)
    : { node: n.index, t0: opts.history.now(), t1: opts.history.now(), down: true } satisfies SampleNode))
  return { type: 'sample', round: opts.round, time, nodes: answers }
}

async function sampleNode (n: ClusterNode, opts: { history: HistorySink; tracker: DeleteTracker; timeoutMs?: number; maxHeldPerNode?: number }): Promise<SampleNode> {
  const api = new ApiClient(n.apiUrl, opts.timeoutMs ?? DEFAULT_SAMPLE_TIMEOUT_MS)
  const t0 = opts.history.now()
  try {
    const [list, status] = await Promise.all([api.objlist(), api.status()])
    // filter as soon as the answer is here: the tracker then knows every delete acked before t1
    const t1 = opts.history.now()
    const held = filterCovered(list.oids, opts.tracker, opts.maxHeldPerNode ?? DEFAULT_MAX_HELD_PER_NODE)
    const s: SampleNode = {
      node: n.index,
      t0,
      t1,
      count: list.count,
      fp: `${status.log.count}:${status.log.fingerprint}:${status.gc?.floorHash ?? ''}`,
      heldCount: held.count
    }
    if (held.groups.length > 0) s.held = held.groups
    if (held.truncated) s.truncated = true
    return s
  } catch (err) {
    return { node: n.index, t0, t1: opts.history.now(), error: String((err as Error)?.message ?? err).slice(0, 200) }
  }
}

/**
 * The covered oids of an object list (16-hex-digit strings, ascending) as oid groups; at most
 * `max` are listed, all are counted. Malformed entries are skipped (the checker's end-state
 * check reports bad answers).
 */
export function filterCovered (oids: string[], tracker: DeleteTracker, max: number): { groups: string[]; count: number; truncated: boolean } {
  let highs = new Uint32Array(16)
  let lows = new Uint32Array(16)
  let n = 0
  let count = 0
  for (const s of oids) {
    const oid = tryParseOid(s)
    if (oid === undefined) continue
    const high = oidHigh(oid)
    const low = oidToIndex(oid)
    if (!tracker.covers(high, low)) continue
    count++
    if (n >= max) continue
    if (n === highs.length) {
      const h2 = new Uint32Array(n * 2); h2.set(highs); highs = h2
      const l2 = new Uint32Array(n * 2); l2.set(lows); lows = l2
    }
    highs[n] = high
    lows[n] = low
    n++
  }
  // the API lists ascending; sort anyway so a node that does not cannot corrupt the groups
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => highs[a]! - highs[b]! || lows[a]! - lows[b]!)
  const sh = Uint32Array.from(order, (i) => highs[i]!)
  const sl = Uint32Array.from(order, (i) => lows[i]!)
  return { groups: encodeOidGroups(sh, sl), count, truncated: count > n }
}

/** resolves after ms, or at once when the signal aborts (the nemesis loop sleeps with it too) */
export async function abortableSleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true || ms <= 0) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done (): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
