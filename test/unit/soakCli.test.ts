// The flags of `soak`, `report` and `chaos run` as main() parses them, without starting
// anything: durations in every form, bad ones as usage errors (64) naming the flag, the
// shared flags with each command's defaults in --help, and `report` on a folder with no soak.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import type { CliIo } from '../../src/cli/output.js'

async function run (args: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const io: CliIo = {
    stdout: { write: (c: string | Uint8Array, cb?: (e?: Error | null) => void) => { out += String(c); cb?.(); return true } },
    stderr: { write: (c: string | Uint8Array, cb?: (e?: Error | null) => void) => { err += String(c); cb?.(); return true } },
    stdin: (async function * () {})()
  }
  const code = await main(['node', 'bellwether', ...args], io)
  return { code, out, err }
}

describe('soak, report and chaos run flags', () => {
  it('refuses a bad duration as a usage error naming the flag and the forms', async () => {
    for (const args of [['soak', '--out', '/tmp/x', '--duration', '15min'], ['chaos', 'run', '--duration', '2x'], ['soak', '--out', '/tmp/x', '--duration', '1h', '--check-every', 'soon']]) {
      const r = await run(args)
      expect(r.code, args.join(' ')).toBe(64)
      expect(r.err).toMatch(/invalid --(duration|check-every) '[^']+': expected seconds or a number with s, m, h or d/)
    }
    expect((await run(['soak', '--out', '/tmp/x', '--duration', '0'])).err).toMatch(/between 1 s and/)
    expect((await run(['soak', '--duration', '1h'])).err).toMatch(/--out/)
  })

  it('shows the shared flags with each command\'s defaults', async () => {
    const soak = (await run(['soak', '--help'])).out.replace(/\s+/g, ' ')
    expect(soak).toContain('--gap <ms> quiet time after each heal, MIN-MAX (the default makes about one fault a minute) (default: 40000-80000)')
    expect(soak).toContain('(default: "127.0.2.10")')
    expect(soak).toContain('--check-lag <d>')
    expect(soak).toContain('(default: 2 min)')
    const chaos = (await run(['chaos', 'run', '--help'])).out.replace(/\s+/g, ' ')
    expect(chaos).toContain('(default: 500-2000)')
    expect(chaos).toContain('(default: "127.0.1.10")')
    expect(chaos).toContain('--duration <d> how long faults are injected: 90, 90s, 15m, 2h')
  })

  it('report: a folder with no soak files is "not found" (5)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bw-noreport-'))
    try {
      const r = await run(['report', dir])
      expect(r.code).toBe(5)
      expect(r.err).toContain('holds no soak files')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
