// `bellwether check [--history FILE]`: gather GET /status, /check, /deletes and /vdi from every
// running node and let src/check/checker.ts judge the end state (cache = disk, purge,
// replication). With --history, also judge a chaos run's operation history
// (src/check/history.ts): the history file is validated first (a malformed one is a clear
// error naming the line, exit 64, before any node is asked), then every object the history
// needs is read back through the running nodes, and lost / revived / unpurged / stale /
// falsely purged are counted. Exit 0 only when every invariant holds and every count is zero;
// 2 when a running node cannot be asked (a partial check would say "fine" about what it never saw).

import { Command } from 'commander'
import { resolve } from 'node:path'
import { CliError, EXIT, shortPeerId, type Printer } from '../output.js'
import type { CheckReport } from '../../check/checker.js'
import { finalStateOf, gatherNodes, judgeAnswers, loadHistory, readFinal } from '../../check/gather.js'
import { HistoryJudge, type HistoryFinding, type HistoryReport } from '../../check/history.js'
import { HistoryError } from '../../chaos/history.js'
import { action, addDirJson, intArg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'

/** /check lists every object of a node; give big nodes time. */
const DEFAULT_CHECK_TIMEOUT_S = 60
const DEFAULT_READ_TIMEOUT_S = 10

interface CheckOpts { dir: string; json?: boolean; timeout: number; history?: string; readTimeout: number }

export function checkCommand (ctx: Ctx): Command {
  return addDirJson(new Command('check'))
    .description('verify the invariants over all running nodes (cache = disk, purge, replication); ' +
      'with --history, also judge a chaos run\'s operation history (lost, revived, unpurged, stale, falsely purged)')
    .option('--timeout <s>', 'seconds to wait for each node\'s answers', intArg('--timeout', 1, 3600), DEFAULT_CHECK_TIMEOUT_S)
    .option('--history <file>', 'operation history (JSON Lines) of a chaos run against this cluster')
    .option('--read-timeout <s>', 'with --history: seconds for each final read of an object', intArg('--read-timeout', 1, 3600), DEFAULT_READ_TIMEOUT_S)
    .action(action(ctx, async (o: CheckOpts) => {
      const p = printerFor(ctx, o)
      let judge: HistoryJudge | undefined
      if (o.history !== undefined) {
        try {
          judge = await loadHistory(o.history)
        } catch (err) {
          if (err instanceof HistoryError) throw new CliError(`bad history: ${err.message}`, EXIT.USAGE)
          throw err
        }
      }
      const file = await loadCluster(resolve(o.dir))
      const nodes = await runningNodes(file)
      if (nodes.length === 0) throw new CliError(`no running node in the cluster at ${o.dir}`, EXIT.UNREACHABLE)

      const answers = await gatherNodes(nodes, o.timeout * 1000)
      const failed = answers.flatMap((a) => a.error !== undefined ? [`node ${a.node.index}: ${a.error}`] : [])
      if (failed.length > 0) throw new CliError(`cannot check, running node(s) did not answer:\n  ${failed.join('\n  ')}`, EXIT.UNREACHABLE)
      const report = judgeAnswers(answers)

      let history: HistoryReport | undefined
      if (judge !== undefined) {
        const reads = await readFinal(nodes, judge.readPlan(), { timeoutMs: o.readTimeout * 1000 })
        history = judge.finish(finalStateOf(file, answers, reads))
      }
      const ok = report.ok && (history?.ok ?? true)

      if (o.json === true) {
        p.printJson(history === undefined ? report : { ok, check: report, history })
      } else {
        printCluster(p, report)
        if (history !== undefined) printHistory(p, history)
      }
      return ok ? EXIT.OK : EXIT.FAILURE
    }))
}

function printCluster (p: Printer, report: CheckReport): void {
  for (const x of [...report.problems, ...report.warnings.map((w) => ({ ...w, kind: `warning: ${w.kind}` }))]) {
    const who = x.node === null ? 'cluster' : `node ${x.node} (${shortPeerId(x.peerId ?? '')})`
    p.line(`${who}${x.oid !== null ? ` ${x.oid}` : ''}: ${x.kind}: ${x.detail}`)
  }
  const s = report.summary
  p.line(`check: ${s.nodes} nodes in ${s.zones} zones, ${s.liveVdis} live VDIs, ${s.deleteRecords} delete records, ` +
    `${s.objects} objects (${s.replicas} replicas): ` +
    (report.ok ? 'OK' : `${s.problems} problem${s.problems === 1 ? '' : 's'}`) +
    (s.warnings > 0 ? `, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}` : ''))
}

function printHistory (p: Printer, h: HistoryReport): void {
  const kinds: Array<[string, HistoryFinding[]]> = [
    ['lost', h.lost], ['falsely-purged', h.falselyPurged], ['revived', h.revived], ['unpurged', h.unpurged], ['stale-cache', h.stale]
  ]
  for (const [kind, list] of kinds) for (const f of list) p.line(`history ${f.oid === '' ? '-' : f.oid}: ${kind}: ${f.detail}`)
  for (const f of h.reads.findings) p.line(`history ${f.oid}: read (not judged): ${f.detail}`)
  for (const n of h.notes) p.line(`history note: ${n}`)
  const ops = Object.entries(h.ops).map(([f, c]) => `${f} ${c.ok}/${c.fail}/${c.info}`).join(', ')
  p.line(`history: ops ok/fail/info: ${ops}`)
  p.line(`history: ${h.checked.objects} objects checked (${h.checked.ackedWrites} acked writes), ${h.checked.deletes} acked deletes, ` +
    `${h.checked.discards} acked discards, ${h.checked.sampleRounds} sample rounds, ${h.checked.nodesAnswered}/${h.checked.nodes} nodes checked; ` +
    `reads: ${h.reads.checked} checked, ${h.reads.unexpected} unexpected, ${h.reads.stale} stale`)
  const l = h.purgeLatency
  if (l !== null) {
    p.line(`history: purge latency over ${l.count} deletes: p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms` +
      (l.notPurged > 0 ? `; ${l.notPurged} never seen purged` : '') + (l.unobserved > 0 ? `; ${l.unobserved} not sampled` : ''))
  }
  const c = h.healToConverged
  if (c !== null) p.line(`history: last heal at ${c.lastHeal} ms, ${c.ms === null ? 'never converged in the samples' : `converged ${c.ms} ms later`}`)
  const n = h.counts
  p.line(`history: lost ${n.lost}, revived ${n.revived}, unpurged ${n.unpurged}, stale ${n.stale}, falsely purged ${n.falselyPurged}: ` +
    (h.ok ? 'OK' : 'FAILED'))
}
