// Section "cli": whole-process start-up of CLI commands that only talk to a node's API, against
// a bare `node -e 0` started the same way in the same run (issue 14: ≤ 150 ms; only `node
// start` may load libp2p). Each figure is the median of ROUNDS spawns, commands interleaved.
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fmtMs, fmtRatio, median } from './lib.js'

const ROUNDS = 9
const BIN = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'bin', 'bellwether.js')

const CASES = [
  ['bellwether vdi --help', [BIN, 'vdi', '--help']],
  ['bellwether objlist --help', [BIN, 'objlist', '--help']],
  ['bellwether check --help', [BIN, 'check', '--help']],
  ['bellwether cluster --help', [BIN, 'cluster', '--help']],
  ['bellwether --help (every command loaded)', [BIN, '--help']]
]

export default {
  name: 'cli',
  title: 'CLI start-up: API-only commands against a bare node process',
  async run () {
    const load0 = loadavg()[0]
    const time = (args) => {
      const t = performance.now()
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
      if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
      return performance.now() - t
    }
    const base = []
    const ours = CASES.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      base.push(time(['-e', '0']))
      CASES.forEach(([, args], i) => { ours[i].push(time(args)) })
    }
    const b = median(base)
    const rows = CASES.map(([label], i) => [label, fmtMs(median(ours[i])), fmtMs(b), fmtRatio(median(ours[i]), b)])
    const notes = [
      `medians of ${ROUNDS} spawns each, interleaved; baseline: \`node -e 0\`.`,
      `load average (1 min): ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end.`
    ]
    return [{ title: 'CLI start-up (whole process, ms)', columns: ['command', 'ours', 'bare node', 'ours / bare'], rows, notes }]
  }
}
