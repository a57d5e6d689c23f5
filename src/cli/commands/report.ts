// `bellwether report DIR`: (re)builds DIR/report.html from a soak's files (src/report/build.ts),
// also for a run killed halfway. Exit 0 when the report was written, whatever its verdict;
// 5 when DIR holds nothing of a soak.
import { Command } from 'commander'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CliError, EXIT } from '../output.js'
import { action, printerFor, type Ctx } from './shared.js'

export function reportCommand (ctx: Ctx): Command {
  return new Command('report')
    .description('write DIR/report.html from a soak\'s files (history.jsonl, metrics.jsonl, summary.json), also for an interrupted run')
    .argument('<dir>', 'the soak\'s --out directory')
    .option('--json', 'print the result as JSON')
    .action(action(ctx, async (dirArg: string, o: { json?: boolean }) => {
      const p = printerFor(ctx, o)
      const dir = resolve(dirArg)
      if (!['history.jsonl', 'metrics.jsonl', 'soak.json', 'summary.json'].some((f) => existsSync(join(dir, f)))) {
        throw new CliError(`${dir} holds no soak files (history.jsonl, metrics.jsonl, soak.json, summary.json)`, EXIT.NOT_FOUND)
      }
      const { buildReport } = await import('../../report/build.js')
      const r = await buildReport(dir)
      if (o.json === true) p.printJson(r)
      else p.line(`${r.file}: ${r.verdict}${r.complete ? '' : ' (no final check in these files)'}, ${r.plots} plots`)
      return EXIT.OK
    }))
}
