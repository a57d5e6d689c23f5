// The `bellwether` command as the integration tests drive it: one CLI run against a cluster dir
// (src/chaos/bw.ts's runner, with `--dir DIR` appended and a hang made an error), the failure
// message every test shows for a run, and the small polling helpers the process-cluster tests share.
import { expect } from 'vitest'
import { bw as runBw, type BwOptions, type BwRun } from '../../src/chaos/bw.js'

export type { BwOptions as CliOptions, BwRun as CliRun } from '../../src/chaos/bw.js'

/** how long one CLI command may take unless the call says otherwise */
export const CLI_TIMEOUT_MS = 180_000

/**
 * `bellwether ARGS --dir DIR`, as a separate process; never throws for a non-zero exit, but a
 * command still running after the timeout is killed and is an error naming it, with its stderr.
 */
export async function bw (dir: string, args: string[], opts: BwOptions = {}): Promise<BwRun> {
  const ms = opts.timeoutMs ?? CLI_TIMEOUT_MS
  const r = await runBw([...args, '--dir', dir], { ...opts, timeoutMs: ms })
  if (r.timedOut) throw new Error(`bellwether ${args.join(' ')}: no exit within ${ms} ms\n${r.stderr}`)
  return r
}

/** the command, its exit code and the start of its output: the message of a failed expectation */
export function show (args: string[], r: { code: number, stdout: string, stderr: string }): string {
  return `bellwether ${args.join(' ')} → exit ${r.code}\nstdout: ${r.stdout.slice(0, 4000)}\nstderr: ${r.stderr.slice(0, 4000)}`
}

/** runs, expects exit 0, returns the run */
export async function ok (dir: string, args: string[], opts: BwOptions = {}): Promise<BwRun> {
  const r = await bw(dir, args, opts)
  expect(r.code, show(args, r)).toBe(0)
  return r
}

/** runs with --json, expects exit 0, returns the parsed answer */
export async function json (dir: string, args: string[]): Promise<any> {
  const r = await ok(dir, [...args, '--json'])
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON: ${show(args, r)}`)
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * Polls `cond` every `everyMs` until it returns true; after `timeoutMs` fails naming `what` and,
 * when the last answer was a string, that string (say there what is still missing).
 */
export async function waitFor (what: string, timeoutMs: number, cond: () => Promise<boolean | string>, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: boolean | string = false
  for (;;) {
    last = await cond()
    if (last === true) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${typeof last === 'string' ? `: ${last}` : ''}`)
    await sleep(everyMs)
  }
}
