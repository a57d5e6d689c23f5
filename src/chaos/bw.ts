// Runs the `bellwether` command as a child process, the way a user's script would. `chaos run`
// drives cluster and fault commands through it on purpose: the chaos run then exercises the
// very commands users type, and a fault that a command cannot inject or heal is a failure
// the run reports, not something a private shortcut papers over. The integration tests run the
// CLI through it too (test/helpers/cli.ts): stdin can be fed (`vdi write`) and the raw stdout
// bytes are kept (`vdi read` prints binary data).
import { spawn } from 'node:child_process'
import { binPath, packageRoot } from '../cluster/launcher.js'

export interface BwRun {
  code: number
  /** stdout as UTF-8 text */
  stdout: string
  /** stdout as the bytes the command printed */
  out: Buffer
  stderr: string
  ms: number
  timedOut: boolean
}

export interface BwOptions {
  /** the command is killed after this long (default BW_TIMEOUT_MS) */
  timeoutMs?: number
  /** written to the command's stdin, which is then closed; without it stdin is /dev/null */
  stdin?: Uint8Array
}

export const BW_TIMEOUT_MS = 180_000

/** `bellwether ARGS`; never throws for a non-zero exit; a command that hangs is killed after timeoutMs */
export async function bw (args: string[], opts: BwOptions = {}): Promise<BwRun> {
  const timeoutMs = opts.timeoutMs ?? BW_TIMEOUT_MS
  const started = Date.now()
  // the caller's args decide the cluster: an inherited BELLWETHER_DIR or debug switch must not
  const env = { ...process.env }
  delete env.BELLWETHER_DIR
  delete env.BELLWETHER_DEBUG
  const child = spawn(process.execPath, [binPath(), ...args], {
    cwd: packageRoot(), env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
  })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout!.on('data', (b: Buffer) => out.push(b))
  child.stderr!.on('data', (b: Buffer) => err.push(b))
  if (opts.stdin !== undefined && child.stdin !== null) {
    // a command that exits without reading all of it (bad arguments) must not crash the caller with EPIPE
    child.stdin.on('error', () => {})
    child.stdin.end(Buffer.from(opts.stdin))
  }
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number>((resolve) => {
    child.once('error', (e) => { err.push(Buffer.from(String(e))); resolve(127) })
    child.once('close', (c, sig) => resolve(c ?? (sig !== null ? 128 : 1)))
  }).finally(() => clearTimeout(timer))
  const stdout = Buffer.concat(out)
  const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n(no exit within ${timeoutMs} ms; killed)` : '')
  return { code, stdout: stdout.toString('utf8'), out: stdout, stderr, ms: Date.now() - started, timedOut }
}

/** like bw, but a non-zero exit is an error carrying the command and its stderr */
export async function bwOk (args: string[], opts: BwOptions = {}): Promise<BwRun> {
  const r = await bw(args, opts)
  if (r.code !== 0) throw new Error(`bellwether ${args.join(' ')} → exit ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(0, 2000)}`)
  return r
}
