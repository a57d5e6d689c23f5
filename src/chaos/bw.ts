// Runs the `bellwether` command as a child process, the way a user's script would. `chaos run`
// drives cluster and fault commands through it on purpose: the chaos run then exercises the
// very commands users type, and a fault that a command cannot inject or heal is a failure
// the run reports, not something a private shortcut papers over.
import { spawn } from 'node:child_process'
import { binPath, packageRoot } from '../cluster/launcher.js'

export interface BwRun { code: number, stdout: string, stderr: string, ms: number, timedOut: boolean }

export const BW_TIMEOUT_MS = 180_000

/** `bellwether ARGS`; never throws for a non-zero exit; a command that hangs is killed after timeoutMs */
export async function bw (args: string[], timeoutMs = BW_TIMEOUT_MS): Promise<BwRun> {
  const started = Date.now()
  // the caller's args decide the cluster: an inherited BELLWETHER_DIR or debug switch must not
  const env = { ...process.env }
  delete env.BELLWETHER_DIR
  delete env.BELLWETHER_DEBUG
  const child = spawn(process.execPath, [binPath(), ...args], { cwd: packageRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number>((resolve) => {
    child.once('error', (e) => { err.push(Buffer.from(String(e))); resolve(127) })
    child.once('close', (c, sig) => resolve(c ?? (sig !== null ? 128 : 1)))
  }).finally(() => clearTimeout(timer))
  const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n(no exit within ${timeoutMs} ms; killed)` : '')
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr, ms: Date.now() - started, timedOut }
}

/** like bw, but a non-zero exit is an error carrying the command and its stderr */
export async function bwOk (args: string[], timeoutMs = BW_TIMEOUT_MS): Promise<BwRun> {
  const r = await bw(args, timeoutMs)
  if (r.code !== 0) throw new Error(`bellwether ${args.join(' ')} → exit ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(0, 2000)}`)
  return r
}
