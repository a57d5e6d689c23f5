// `bellwether check`: gather GET /status, /check, /deletes and /vdi from every running node
// and let src/check/checker.ts judge. Exit 0 only when every invariant holds; 2 when a
// running node cannot be asked (a partial check would say "fine" about what it never saw).

import { Command } from 'commander'
import { resolve } from 'node:path'
import { ApiClient } from '../apiClient.js'
import { CliError, EXIT, shortPeerId } from '../output.js'
import { judgeCluster, type CheckNodeInput } from '../../check/checker.js'
import { action, addDirJson, intArg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'

/** /check lists every object of a node; give big nodes time. */
const DEFAULT_CHECK_TIMEOUT_S = 60

export function checkCommand (ctx: Ctx): Command {
  return addDirJson(new Command('check'))
    .description('verify the invariants over all running nodes (cache = disk, purge, replication)')
    .option('--timeout <s>', 'seconds to wait for each node\'s answers', intArg('--timeout', 1, 3600), DEFAULT_CHECK_TIMEOUT_S)
    .action(action(ctx, async (o: { dir: string; json?: boolean; timeout: number }) => {
      const p = printerFor(ctx, o)
      const file = await loadCluster(resolve(o.dir))
      const nodes = await runningNodes(file)
      if (nodes.length === 0) throw new CliError(`no running node in the cluster at ${o.dir}`, EXIT.UNREACHABLE)

      const answers = await Promise.allSettled(nodes.map(async (n) => {
        const c = new ApiClient(n.apiUrl, o.timeout * 1000)
        const [status, check, deletes, vdis] = await Promise.all([c.status(), c.check(), c.deletes(), c.vdis()])
        return { input: { node: n.index, peerId: status.peerId, zone: status.zone, check, deletes: deletes.records, floor: deletes.floor } satisfies CheckNodeInput, vdis: vdis.vdis }
      }))
      const failed = answers.flatMap((a, i) => a.status === 'rejected' ? [`node ${nodes[i]!.index}: ${(a.reason as Error)?.message ?? a.reason}`] : [])
      if (failed.length > 0) throw new CliError(`cannot check, running node(s) did not answer:\n  ${failed.join('\n  ')}`, EXIT.UNREACHABLE)
      const ok = answers.flatMap((a) => a.status === 'fulfilled' ? [a.value] : [])

      const report = judgeCluster({ nodes: ok.map((a) => a.input), vdis: ok.flatMap((a) => a.vdis) })
      if (o.json === true) {
        p.printJson(report)
      } else {
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
      return report.ok ? EXIT.OK : EXIT.FAILURE
    }))
}
