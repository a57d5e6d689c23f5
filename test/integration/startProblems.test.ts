// `bellwether node start` on a data dir with damaged restart files, as a separate process
// (dist/, built by `npm test`'s pretest): a delete log with a corrupt frame in the middle
// refuses to start, exit code non-zero, the message naming the file, frame and byte offset;
// a bad floor entry and a garbled epoch file are skipped, the node starts and lists both,
// by file and entry, under `startupProblems` on /status. Addresses 127.0.2.30-31.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binPath, packageRoot } from '../../src/cluster/launcher.js'
import { bw } from '../../src/chaos/bw.js'
import { frame } from '../../src/tombstones/logFrames.js'
import type { DeleteRec } from '../../src/tombstones/record.js'
import { peerIdOfDataDir } from '../../src/net/peerKey.js'
import { freePort, waitFor } from '../helpers/inproc.js'
import { show } from '../helpers/cli.js'

const IP = '127.0.2.30'
let dir = ''
const children: ChildProcess[] = []

const rec = (seq: number): DeleteRec => ({ kind: 'vdi', origin: 'someone', seq: BigInt(seq), hlc: BigInt(seq), vid: seq, generation: 1 })

async function addrs (): Promise<{ listen: string, api: string }> {
  return { listen: `${IP}:${await freePort(IP)}`, api: `${IP}:${await freePort(IP)}` }
}

describe('bellwether node start on damaged restart files', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!existsSync(join(packageRoot(), 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it in pretest)')
    dir = await mkdtemp(join(tmpdir(), 'bw-startprob-'))
  })
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses to start on a delete log with a corrupt frame in the middle, naming file, frame and offset', async () => {
    const data = join(dir, 'corrupt-log')
    await peerIdOfDataDir(data)
    const frames = [1, 2, 3].map((i) => frame(rec(i)))
    const bytes = Buffer.concat(frames)
    bytes[frames[0].length + 9] ^= 0x01 // a payload byte of frame 2
    await writeFile(join(data, 'deletes.log'), bytes)
    const { listen, api } = await addrs()
    const args = ['node', 'start', '--data', data, '--listen', listen, '--api', api, '--log-level', 'silent', '--open-network']
    const r = await bw(args, { timeoutMs: 60_000 })
    expect(r.code, show(args, r)).toBe(1)
    const path = join(data, 'deletes.log')
    expect(r.stderr, show(args, r)).toBe(`bellwether: error: ${path}: frame 2 at byte offset ${frames[0].length} is corrupt (checksum mismatch) ` +
      `and a valid frame follows at byte offset ${frames[0].length + frames[1].length}: refusing to start rather than silently drop the delete records in between\n`)
    // nothing was "repaired" away (api.token is made before the store opens)
    expect((await readdir(data)).sort()).toEqual(['api.token', 'deletes.log', 'obj', 'peer.key'])
  })

  it('starts past a bad floor entry and a garbled epoch file, and reports both on /status', async () => {
    const data = join(dir, 'bad-floor')
    await peerIdOfDataDir(data)
    const floorPath = join(data, 'floor.json')
    const epochPath = join(data, 'epoch')
    await writeFile(floorPath, JSON.stringify({ version: 1, horizon: '10', floor: [[4, 1], [0, 2], [9, 3]], seqs: {} }))
    await writeFile(epochPath, '')
    const { listen, api } = await addrs()
    const child = spawn(process.execPath, [binPath(), 'node', 'start', '--data', data, '--listen', listen, '--api', api, '--log-level', 'silent', '--open-network', '--json'],
      { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
    await waitFor(() => stdout.includes('"event":"ready"') || child.exitCode !== null, 60_000, 'the node to print its ready line')
    expect(child.exitCode, stderr).toBeNull()
    const status = await (await fetch(`http://${api}/status`)).json()
    expect(status.startupProblems).toEqual([
      `floor file ${floorPath}: floor entry 1 [0,2] skipped: floor entry vid 0 out of range 1..16777215`,
      `${epochPath}: holds "" (0 bytes), not an epoch number; starting from epoch 0`
    ])
    expect(status.gc.floor).toBe(2) // the good entries were kept
    const deletes = await (await fetch(`http://${api}/deletes`)).json()
    expect(deletes.floor).toEqual([[4, 1], [9, 3]])
    child.kill('SIGTERM')
    expect(await exited, stderr).toBe(0)
  })
})
