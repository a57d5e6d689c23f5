// The short chaos suite CI runs: `bellwether chaos run` on 5 real node processes with the
// workload, real OS-level partitions (nftables on the input hook), kill -9, SIGSTOP and clock
// skew, then the history checker. The verdict must be zero lost, zero revived, zero unpurged,
// zero stale caches, and afterwards nothing of ours may remain: no nft table, no namespace,
// no node process. Needs root and nft (CI has both): outside CI it is skipped with the reason
// otherwise, under CI=true a missing one fails the run. That the seed draws every fault kind
// early is checked without root in test/unit/chaosRunSchedule.test.ts.
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bw } from '../../src/chaos/bw.js'
import { findTool } from '../../src/cluster/exec.js'
import { clusterTableName, lossTableName } from '../../src/chaos/nft.js'
import { bridgeNsName, netnsIdOf } from '../../src/chaos/netns.js'
import { CHAOS_RUN_DURATION_S as DURATION_S, CHAOS_RUN_GAP as GAP, CHAOS_RUN_HOLD as HOLD, CHAOS_RUN_KINDS, CHAOS_RUN_SEED as SEED } from '../helpers/chaosRunParams.js'
import { prerequisite } from '../helpers/prereq.js'

const nft = findTool('nft')
const missing = process.platform !== 'linux'
  ? 'OS-level faults need Linux'
  : process.getuid?.() !== 0 ? 'not root (nftables needs root)' : nft === null ? 'the nft tool is not installed (apt install nftables)' : null
const skip = prerequisite('chaosRun.test.ts', 'the chaos run (root, nft)', missing)

let dir = ''

/** node processes whose argv mentions our run dir */
function ourProcesses (): number[] {
  if (dir === '') return []
  const pids: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dir)) pids.push(Number(d))
    } catch {}
  }
  return pids
}

describe.skipIf(skip)('chaos run: OS partitions + kill + pause + skew on 5 nodes', { timeout: 600_000 }, () => {
  afterAll(async () => {
    for (const pid of ourProcesses()) { try { process.kill(pid, 'SIGKILL') } catch {} }
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('nothing lost, nothing revived, caches equal disks, and nothing of ours left behind', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-chaosrun-'))
    const args = ['chaos', 'run', '--nodes', '5', '--duration', String(DURATION_S), '--nemesis', CHAOS_RUN_KINDS.join(','),
      '--mode', 'os', '--seed', SEED.toString(), '--hold', HOLD.join('-'), '--gap', GAP.join('-'), '--dir', dir, '--ip-base', '127.0.1.60', '--json']
    const { code, stdout, stderr } = await bw(args, { timeoutMs: 540_000 })
    let summary: any
    try {
      summary = JSON.parse(stdout)
    } catch {
      throw new Error(`chaos run printed no JSON summary (exit ${code})\nstdout: ${stdout.slice(-3000)}\nstderr: ${stderr.slice(-3000)}`)
    }
    // the summary on disk, where the summary says it is, is the same verdict
    expect(summary.summaryFile).toBe(join(dir, 'summary.json'))
    expect(JSON.parse(await readFile(summary.summaryFile, 'utf8')).ok).toBe(summary.ok)
    const h = summary.check?.history
    const context = JSON.stringify({ errors: summary.errors, counts: h?.counts, lost: h?.lost?.slice(0, 5), revived: h?.revived?.slice(0, 5), unpurged: h?.unpurged?.slice(0, 5), stale: h?.stale?.slice(0, 5), endState: summary.check?.check?.problems?.slice(0, 5) }, null, 1)
    expect(h?.counts, context).toEqual({ lost: 0, revived: 0, unpurged: 0, stale: 0, falselyPurged: 0 })
    expect(summary.check.check.ok, context).toBe(true)
    expect(summary.converged, context).toBe(true)
    expect(summary.cycles.faultsFailed, context).toBe(0)
    expect(summary.ok, context).toBe(true)
    expect(code).toBe(0)
    // the run did real work under real faults
    expect(h.checked.ackedWrites).toBeGreaterThan(10)
    expect(h.ops.delete.ok + h.ops.discard.ok).toBeGreaterThan(0)
    for (const k of CHAOS_RUN_KINDS) expect(summary.cycles.byKind[k] ?? 0, `cycles of ${k}`).toBeGreaterThan(0)
    const history = await readFile(summary.historyFile, 'utf8')
    expect(history).toMatch(/"type":"nemesis","f":"partition"/)
    expect(history).toMatch(/"type":"nemesis","f":"kill"/)
    // cleanup: no table, no namespace, no process of ours (other clusters on this machine may have theirs)
    const clusterDir = join(dir, 'cluster')
    const tables = execFileSync(nft!, ['list', 'tables'], { encoding: 'utf8' })
    expect(tables).not.toContain(clusterTableName(clusterDir))
    expect(tables).not.toContain(lossTableName(clusterDir))
    const ip = findTool('ip')
    if (ip !== null) expect(execFileSync(ip, ['netns', 'list'], { encoding: 'utf8' })).not.toContain(bridgeNsName(netnsIdOf(clusterDir)))
    expect(ourProcesses()).toEqual([])
  })
})
