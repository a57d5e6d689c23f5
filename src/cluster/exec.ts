// Running the system tools a local cluster needs (ip, to launch a node inside its network
// namespace) and that OS-level faults need (nft, ip): locating them even when /usr/sbin is not on PATH (a plain user shell, some CI images), feeding stdin, bounding every
// call with a timeout, and returning the output instead of throwing, so each caller decides
// which failures are errors and which are "already gone".

import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

export interface ToolRun {
  code: number
  stdout: string
  stderr: string
  /** the binary could not be started at all (not installed) */
  missing?: boolean
}

const TOOL_TIMEOUT_MS = 15_000
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin']
const found = new Map<string, string | null>()

/** Absolute path of `name` on PATH or in the sbin dirs; null when it is not installed. */
export function findTool (name: string): string | null {
  const hit = found.get(name)
  if (hit !== undefined) return hit
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN]
  let path: string | null = null
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK)
      path = join(d, name)
      break
    } catch {}
  }
  found.set(name, path)
  return path
}

/** Runs `name args…`; never rejects for a non-zero exit, only resolves with what happened. */
export async function runTool (name: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ToolRun> {
  const bin = findTool(name)
  if (bin === null) return { code: 127, stdout: '', stderr: `${name}: not found`, missing: true }
  return await new Promise<ToolRun>((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const ms = opts.timeoutMs ?? TOOL_TIMEOUT_MS
    const timer = setTimeout(() => { child.kill('SIGKILL') }, ms)
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve({ code: 127, stdout: '', stderr: `${name}: ${e.message}`, missing: e.code === 'ENOENT' })
    })
    child.once('close', (code, sig) => {
      clearTimeout(timer)
      const stderr = Buffer.concat(err).toString('utf8') + (sig === 'SIGKILL' ? `\n${name}: killed after ${ms} ms` : '')
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr })
    })
    // a tool that exits before reading its stdin must not crash us with EPIPE
    child.stdin.on('error', () => {})
    child.stdin.end(opts.stdin ?? '')
  })
}

/** Whether a failed run means "no permission" (not root, no CAP_NET_ADMIN). */
export function deniedRun (r: ToolRun): boolean {
  return /Operation not permitted|Permission denied|must be root|EPERM/i.test(r.stderr)
}

export function firstLine (text: string): string {
  return text.trim().split('\n').find((l) => l.trim() !== '')?.trim() ?? ''
}
