// A cluster of separate node processes for integration tests, driven as users drive it: every
// step spawns `bellwether … --dir DIR` (test/helpers/cli.ts; dist/ must be built), plus GETs on
// the nodes' admin APIs. up() runs `cluster up`; down() runs `cluster down --purge`, asserts that
// no node process is left and, whatever failed, kills any it still finds and removes the dir.
// (test/integration/recoveryProcs.test.ts extends it with a recovery watcher.)
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { packageRoot, processState } from '../../src/cluster/launcher.js'
import { bw as cliBw, json as cliJson, ok as cliOk, show, type CliOptions, type CliRun } from './cli.js'

export interface FileNode { index: number, pid: number | null, apiUrl: string, dataDir: string, peerId: string }

/** GET on an admin API, parsed; a non-2xx answer is an error */
export async function getJson (url: string): Promise<any> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (!r.ok) throw new Error(`GET ${url} → ${r.status}`)
  return await r.json()
}

export class ProcCluster {
  dir = ''
  /** every pid any node ever had, for the last-resort teardown */
  readonly launched = new Map<number, string>()

  /** `name` goes into the temp dir's name; `copies` is the cluster's default */
  constructor (readonly name: string, readonly nodes: number, readonly ipBase: string, readonly copies: number, readonly waitSeconds = 120) {}

  async up (): Promise<void> {
    if (!existsSync(join(packageRoot(), 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it in pretest)')
    this.dir = await mkdtemp(join(tmpdir(), `bw-${this.name}-`))
    const args = ['cluster', 'up', ...this.extraUpArgs(), '--nodes', String(this.nodes), '--ip-base', this.ipBase, '--copies', String(this.copies), '--timeout', '120', '--json']
    const r = await this.bw(args)
    this.track() // whatever started must be found by down(), even if the cluster did not form
    expect(r.code, show(args, r)).toBe(0)
    expect(this.file().length).toBe(this.nodes)
  }

  /** more `cluster up` flags a subclass needs (e.g. --enable-chaos) */
  protected extraUpArgs (): string[] { return [] }

  /** `bellwether ARGS --dir DIR` against this cluster */
  async bw (args: string[], opts: CliOptions = {}): Promise<CliRun> { return await cliBw(this.dir, args, opts) }
  /** runs, expects exit 0 */
  async ok (args: string[], opts: CliOptions = {}): Promise<CliRun> { return await cliOk(this.dir, args, opts) }
  /** runs with --json, expects exit 0, returns the parsed answer */
  async json (args: string[]): Promise<any> { return await cliJson(this.dir, args) }

  file (): FileNode[] {
    return JSON.parse(readFileSync(join(this.dir, 'cluster.json'), 'utf8')).nodes as FileNode[]
  }

  node (i: number): FileNode {
    const n = this.file().find((x) => x.index === i)
    if (n === undefined) throw new Error(`no node ${i} in ${this.dir}`)
    return n
  }

  running (): FileNode[] { return this.file().filter((n) => n.pid !== null) }

  track (): void {
    try { for (const n of this.file()) if (typeof n.pid === 'number') this.launched.set(n.pid, n.dataDir) } catch {}
  }

  /** never two at once: concurrent `cluster start`s each rewrite cluster.json and one's pid can be lost */
  async start (i: number): Promise<void> {
    const n = await this.json(['cluster', 'start', '--node', String(i)]) as FileNode
    if (typeof n.pid === 'number') this.launched.set(n.pid, n.dataDir)
    this.track()
  }

  async stop (i: number): Promise<void> { await this.ok(['cluster', 'stop', '--node', String(i)]) }

  async wait (): Promise<void> { await this.ok(['cluster', 'wait', '--timeout', String(this.waitSeconds)]) }

  /** `cluster wait` then `check`, both exit 0 */
  async convergedAndChecked (): Promise<void> {
    await this.wait()
    const r = await this.bw(['check'])
    expect(r.code, show(['check'], r)).toBe(0)
    expect(r.stdout).toMatch(/: OK/)
  }

  /** GET `path` on node i's admin API */
  async get (i: number, path: string): Promise<any> { return await getJson(`${this.node(i).apiUrl}${path}`) }

  async down (): Promise<void> {
    if (this.dir === '') return
    try {
      if (existsSync(join(this.dir, 'cluster.json'))) {
        this.track()
        const down = await this.bw(['cluster', 'down'])
        const after = await this.bw(['cluster', 'status', '--json'])
        await this.bw(['cluster', 'down', '--purge'])
        expect(down.code, show(['cluster', 'down'], down)).toBe(0)
        expect(after.code, show(['cluster', 'status', '--json'], after)).toBe(0)
        const nodes = JSON.parse(after.stdout).nodes as Array<{ index: number, running: boolean, pid: number | null }>
        expect(nodes.filter((n) => n.running || n.pid !== null)).toEqual([])
      }
    } finally {
      // last resort: nothing of ours may outlive the test, whatever failed above
      const left: number[] = []
      for (const [pid, dataDir] of this.launched) {
        if ((await processState(pid, dataDir)) === 'ours') {
          left.push(pid)
          try { process.kill(pid, 'SIGKILL') } catch {}
        }
      }
      await rm(this.dir, { recursive: true, force: true })
      expect(left, 'node processes left running after cluster down').toEqual([])
    }
  }
}
