// Gathering the checkers' inputs over HTTP, for `bellwether check [--history FILE]` and for
// `chaos run`: every running node's /status, /check, /deletes and /vdi (the end-state check,
// src/check/checker.ts), and for the history checker (src/check/history.ts) a final read of
// every object its read plan names, each through one running node (the next one on a failure).
// `checkHistoryFile` is the whole history judgement in one call: stream the history file
// (a malformed one is a HistoryError naming the line, before any node is asked), gather, judge.

import { ApiClient } from '../api/client.js'
import type { VdiInfo } from '../api/types.js'
import type { ClusterFile, ClusterNode } from '../cluster/clusterFile.js'
import { isRunning } from '../cluster/launcher.js'
import { contentDigest, HistoryError } from '../chaos/history.js'
import { readHistory } from '../chaos/historyReader.js'
import { opFailure } from '../chaos/opFailure.js'
import { judgeCluster, type CheckNodeInput, type CheckReport } from './checker.js'
import { HistoryJudge, type FinalNodeState, type FinalRead, type FinalState, type HistoryReport, type ReadPlanItem } from './history.js'

export const DEFAULT_GATHER_TIMEOUT_MS = 60_000
export const DEFAULT_READ_TIMEOUT_MS = 10_000
export const DEFAULT_READ_CONCURRENCY = 4

export interface NodeAnswer {
  node: ClusterNode
  input?: CheckNodeInput
  vdis?: VdiInfo[]
  error?: string
}

/** /status, /check, /deletes, /vdi of each node, in parallel; a node's failure is its `error`. */
export async function gatherNodes (nodes: ClusterNode[], timeoutMs = DEFAULT_GATHER_TIMEOUT_MS): Promise<NodeAnswer[]> {
  return await Promise.all(nodes.map(async (n): Promise<NodeAnswer> => {
    try {
      const c = new ApiClient(n.apiUrl, timeoutMs)
      const [status, check, deletes, vdis] = await Promise.all([c.status(), c.check(), c.deletes(), c.vdis()])
      return { node: n, input: { node: n.index, peerId: status.peerId, zone: status.zone, check, deletes: deletes.records, floor: deletes.floor }, vdis: vdis.vdis }
    } catch (err) {
      return { node: n, error: String((err as Error)?.message ?? err) }
    }
  }))
}

export function judgeAnswers (answers: NodeAnswer[]): CheckReport {
  const ok = answers.filter((a) => a.input !== undefined)
  return judgeCluster({ nodes: ok.map((a) => a.input!), vdis: ok.flatMap((a) => a.vdis ?? []) })
}

/**
 * Reads every planned object, item k first through nodes[k mod n], then the others in turn
 * until one answers 2xx. When none does, the last error is kept (the judge counts it lost).
 */
export async function readFinal (nodes: ClusterNode[], plan: ReadPlanItem[], opts: { timeoutMs?: number; concurrency?: number } = {}): Promise<FinalRead[]> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS
  const out: FinalRead[] = new Array(plan.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const k = next++
      const p = plan[k]!
      const r: FinalRead = { vdi: p.vdi, index: p.index, oid: p.oid }
      for (let t = 0; t < nodes.length; t++) {
        const n = nodes[(k + t) % nodes.length]!
        r.node = n.index
        try {
          const data = await new ApiClient(n.apiUrl, { timeoutMs, dataTimeoutMs: timeoutMs }).readData(p.vdi, p.offset, p.length)
          r.value = contentDigest(data)
          delete r.error
          delete r.code
          break
        } catch (err) {
          const f = opFailure(err, n, timeoutMs)
          r.error = f.message.slice(0, 300)
          r.code = f.code
        }
      }
      if (nodes.length === 0) { r.error = 'no running node'; r.code = 'UNAVAILABLE' }
      out[k] = r
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? DEFAULT_READ_CONCURRENCY, Math.max(1, plan.length)) }, worker))
  return out
}

/** The history checker's view of the end: every node of the file (stopped ones unchecked), live VDIs, reads. */
export function finalStateOf (file: ClusterFile, answers: NodeAnswer[], reads: FinalRead[]): FinalState {
  const byIndex = new Map(answers.map((a) => [a.node.index, a]))
  const nodes: FinalNodeState[] = file.nodes.map((n) => {
    const a = byIndex.get(n.index)
    if (a === undefined) return { node: n.index, error: 'not running' }
    if (a.input === undefined) return { node: n.index, error: a.error ?? 'no answer' }
    return { node: n.index, peerId: a.input.peerId, check: a.input.check }
  })
  return { nodes, vdis: answers.flatMap((a) => a.vdis ?? []), reads }
}

/** Streams a history file into a judge; errors name the file and the line. */
export async function loadHistory (path: string, judge = new HistoryJudge()): Promise<HistoryJudge> {
  let at = 0
  try {
    for await (const { line, event } of readHistory(path)) {
      at = line
      judge.add(event)
    }
  } catch (err) {
    if (!(err instanceof HistoryError)) throw err
    // parse errors already name their line; pairing errors from the judge get it here
    if (err.line !== undefined || at === 0) throw new HistoryError(err.message.startsWith('cannot read') ? err.message : `${path}: ${err.message}`, err.line)
    throw new HistoryError(`${path}: line ${at}: ${err.message}`, at)
  }
  return judge
}

export interface HistoryCheck {
  /** the end-state check over the running nodes */
  cluster: CheckReport
  history: HistoryReport
  /** running nodes that did not answer (then neither judgement is complete) */
  unanswered: string[]
  ok: boolean
}

/**
 * The whole `check --history`: load and validate the history (HistoryError first, before any
 * node is asked), gather from every running node, read the planned objects, judge both.
 */
export async function checkHistoryFile (file: ClusterFile, historyPath: string, opts: { timeoutMs?: number; readTimeoutMs?: number; maxFindings?: number } = {}): Promise<HistoryCheck> {
  const judge = await loadHistory(historyPath, new HistoryJudge({ maxFindings: opts.maxFindings }))
  const alive = await Promise.all(file.nodes.map(async (n) => await isRunning(n.pid, n.dataDir)))
  const running = file.nodes.filter((_, i) => alive[i])
  const answers = await gatherNodes(running, opts.timeoutMs)
  const answering = answers.filter((a) => a.input !== undefined).map((a) => a.node)
  const reads = await readFinal(answering.length > 0 ? answering : running, judge.readPlan(), { timeoutMs: opts.readTimeoutMs })
  const cluster = judgeAnswers(answers)
  const history = judge.finish(finalStateOf(file, answers, reads))
  const unanswered = answers.filter((a) => a.input === undefined).map((a) => `node ${a.node.index}: ${a.error ?? 'no answer'}`)
  return { cluster, history, unanswered, ok: cluster.ok && history.ok && unanswered.length === 0 && running.length > 0 }
}
