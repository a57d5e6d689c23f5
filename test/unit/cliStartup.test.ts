// What a CLI command loads (issue 14: a command that only talks to a node's API starts in about
// the time of a bare node process, so only `node start` may load libp2p, and the engines of
// sim, soak, chaos run and report load only when those run). Runs the built CLI in a child
// process with a resolve hook (test/helpers/moduleLog.mjs) and reads the modules it resolved;
// start-up times themselves are in `npm run bench -- --only cli`.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'bw-cli-modules-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

let n = 0
/** the module URLs `bellwether ...args` resolved, relative to the checkout, and its exit code */
function loaded (args: string[]): { code: number | null, modules: string[] } {
  const log = join(dir, `log-${n++}`)
  const r = spawnSync(process.execPath, ['--import', join(root, 'test/helpers/moduleLog.mjs'), join(root, 'bin/bellwether.js'), ...args], {
    env: { ...process.env, MODULE_LOG: log },
    encoding: 'utf8',
    timeout: 60_000
  })
  let text = ''
  try { text = readFileSync(log, 'utf8') } catch {}
  return { code: r.status, modules: [...new Set(text.split('\n').filter((l) => l !== '').map((u) => u.replace(`file://${root}/`, '')))] }
}

/** libp2p, and the engines that commands load only when they run */
const HEAVY = [/node_modules\/libp2p\//, /node_modules\/@libp2p\//, /node_modules\/@chainsafe\//, /^dist\/node\/(node|start)\.js$/,
  /^dist\/net\/host\.js$/, /^dist\/sim\/simulator\.js$/, /^dist\/chaos\/run\.js$/, /^dist\/soak\/run\.js$/, /^dist\/report\/build\.js$/]
const heavy = (modules: string[]): string[] => modules.filter((m) => HEAVY.some((re) => re.test(m)))

describe('CLI start-up: what each command loads', () => {
  it('API-only commands, their help and the top-level help load neither libp2p nor an engine', () => {
    for (const args of [['--help'], ['vdi', '--help'], ['objlist', '--help'], ['check', '--help'], ['cluster', '--help'],
      ['sim', '--help'], ['soak', '--help'], ['chaos', 'run', '--help'], ['report', '--help'], ['node', '--help'],
      // a real API call (nothing listens on port 1: exit 2, unreachable)
      ['vdi', 'list', '--api', '127.0.0.1:1'], ['objlist', '--api', '127.0.0.1:1']]) {
      const r = loaded(args)
      expect(r.modules, args.join(' ')).toContain('dist/cli/main.js')
      expect(heavy(r.modules), args.join(' ')).toEqual([])
    }
  })

  it('the hook sees what a running command loads lazily (the check above can fail)', () => {
    const r = loaded(['sim', '--nodes', '3', '--seed', '1', '--ticks', '990'])
    expect(r.code).toBe(0)
    expect(r.modules).toContain('dist/sim/simulator.js')
  })
})
