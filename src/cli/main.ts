// The `bellwether` command: builds the commander tree, runs it, and turns every outcome into
// one of dog's exit codes. Never calls process.exit and never lets a stack trace reach the
// user (set BELLWETHER_DEBUG=1 to see one), so tests can call main() and read the code.

import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiError, UnreachableError } from '../api/client.js'
import { ObjectRangeError } from '../vdi/objectRanges.js'
import { CliError, EXIT, processIo, type CliIo } from './output.js'
import { SizeError } from './units.js'
import { ClusterFileError } from '../cluster/clusterFile.js'
import { packageRoot } from '../cluster/launcher.js'
import { OidError } from '../oid.js'
import type { Ctx } from './commands/shared.js'

type CommandModule = (ctx: Ctx) => Command

/**
 * Each top-level command's module, loaded only when that command runs: a command that only
 * talks to a node's API must not pay for loading libp2p (`node start`) or the chaos machinery.
 * In the order `--help` lists them.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  node: async () => (await import('./commands/node.js')).nodeCommand,
  cluster: async () => (await import('./commands/cluster.js')).clusterCommand,
  vdi: async () => (await import('./commands/vdi.js')).vdiCommand,
  objlist: async () => (await import('./commands/objlist.js')).objlistCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  chaos: async () => (await import('./commands/chaos.js')).chaosCommand,
  soak: async () => (await import('./commands/soak.js')).soakCommand,
  report: async () => (await import('./commands/report.js')).reportCommand,
  sim: async () => (await import('./commands/sim.js')).simCommand
}

/** argv as in process.argv: [node, script, ...args]. Resolves to the exit code. */
export async function main (argv: string[], io: CliIo = processIo()): Promise<number> {
  const ctx: Ctx = { io, code: EXIT.OK }
  try {
    const program = await buildProgram(ctx, argv[2])
    await program.parseAsync(argv, { from: 'node' })
    return ctx.code
  } catch (err) {
    return exitCodeOf(err, io)
  }
}

/** the command tree; with `only` naming a command, that command alone (help and typos get all) */
export async function buildProgram (ctx: Ctx, only?: string): Promise<Command> {
  const program = new Command('bellwether')
    .description('peer-to-peer storage for Sheepdog-style objects')
    .version(version(), '-V, --version')
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS)
  const modules = await Promise.all(names.map(async (n) => await COMMANDS[n]()))
  for (const make of modules) program.addCommand(make(ctx))
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
  if (err instanceof CliError) {
    say(err.message)
    return err.exitCode
  }
  if (err instanceof ApiError || err instanceof UnreachableError) {
    say(err.message)
    return apiExitCode(err)
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

/** dog's exit code for a failed admin API call */
export function apiExitCode (err: ApiError | UnreachableError): number {
  if (err instanceof UnreachableError) return EXIT.UNREACHABLE
  switch (err.code) {
    case 'NOT_FOUND':
    case 'DELETED':
      return EXIT.NOT_FOUND
    case 'EXISTS':
      return EXIT.EXISTS
    // the node checked our argument and refused it: a usage error, as in dog
    case 'BAD_REQUEST':
      return EXIT.USAGE
    case 'UNAVAILABLE':
      return EXIT.UNREACHABLE
    default:
      return EXIT.FAILURE
  }
}

function version (): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}
