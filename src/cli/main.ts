// The `bellwether` command: builds the commander tree, runs it, and turns every outcome into
// one of dog's exit codes. Never calls process.exit and never lets a stack trace reach the
// user (set BELLWETHER_DEBUG=1 to see one), so tests can call main() and read the code.

import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiError, UnreachableError } from './apiClient.js'
import { ObjectRangeError } from './objectRanges.js'
import { CliError, EXIT, processIo, type CliIo } from './output.js'
import { SizeError } from './units.js'
import { ClusterFileError } from '../cluster/clusterFile.js'
import { packageRoot } from '../cluster/launcher.js'
import { OidError } from '../oid.js'
import { chaosCommand } from './commands/chaos.js'
import { checkCommand } from './commands/check.js'
import { clusterCommand } from './commands/cluster.js'
import { nodeCommand } from './commands/node.js'
import { objlistCommand } from './commands/objlist.js'
import { reportCommand } from './commands/report.js'
import { soakCommand } from './commands/soak.js'
import type { Ctx } from './commands/shared.js'
import { vdiCommand } from './commands/vdi.js'

/** argv as in process.argv: [node, script, ...args]. Resolves to the exit code. */
export async function main (argv: string[], io: CliIo = processIo()): Promise<number> {
  const ctx: Ctx = { io, code: EXIT.OK }
  const program = buildProgram(ctx)
  try {
    await program.parseAsync(argv, { from: 'node' })
    return ctx.code
  } catch (err) {
    return exitCodeOf(err, io)
  }
}

export function buildProgram (ctx: Ctx): Command {
  const program = new Command('bellwether')
    .description('peer-to-peer storage for Sheepdog-style objects')
    .version(version(), '-V, --version')
  program.addCommand(nodeCommand(ctx))
  program.addCommand(clusterCommand(ctx))
  program.addCommand(vdiCommand(ctx))
  program.addCommand(objlistCommand(ctx))
  program.addCommand(checkCommand(ctx))
  program.addCommand(chaosCommand(ctx))
  program.addCommand(soakCommand(ctx))
  program.addCommand(reportCommand(ctx))
  applyEverywhere(program, ctx)
  return program
}

/** Groups are built with `new Command`, which inherits nothing, so the whole tree is set here. */
function applyEverywhere (cmd: Command, ctx: Ctx): void {
  cmd
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { ctx.io.stdout.write(s) },
      writeErr: (s) => { ctx.io.stderr.write(s) },
      outputError: (s, write) => write(`bellwether: ${s}`)
    })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
  for (const sub of cmd.commands) applyEverywhere(sub, ctx)
}

function exitCodeOf (err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // commander already printed the message (or the help / version text)
    return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  }
  const say = (msg: string): void => { io.stderr.write(`bellwether: ${msg}\n`) }
  if (process.env.BELLWETHER_DEBUG === '1' && err instanceof Error) io.stderr.write(`${err.stack ?? ''}\n`)
  if (err instanceof CliError || err instanceof ApiError || err instanceof UnreachableError) {
    say(err.message)
    return err.exitCode
  }
  if (err instanceof SizeError || err instanceof ObjectRangeError || err instanceof OidError) {
    say(err.message)
    return EXIT.USAGE
  }
  if (err instanceof ClusterFileError) {
    say(err.message)
    return EXIT.FAILURE
  }
  say(`error: ${err instanceof Error ? err.message : String(err)}`)
  return EXIT.FAILURE
}

function version (): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}
