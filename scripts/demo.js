#!/usr/bin/env node
// `npm run demo`: the whole story on a local 5-node cluster, through the real CLI.
// Start a cluster, create and write a VDI, show where its objects live, delete it, show
// every node purged, run the checker, stop the cluster. Exits non-zero if any step fails.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'bin', 'bellwether.js')
const dir = process.env.BELLWETHER_DEMO_DIR ?? mkdtempSync(join(tmpdir(), 'bellwether-demo-'))
const NODES = 5
const tty = process.stdout.isTTY
const bold = (s) => tty ? `\x1b[1m${s}\x1b[0m` : s
const dim = (s) => tty ? `\x1b[2m${s}\x1b[0m` : s

function bw (args, { input, json = false, allowFail = false, quiet = false } = {}) {
  const full = [...args, '--dir', dir, ...(json ? ['--json'] : [])]
  console.log(dim(`$ bellwether ${full.join(' ')}`))
  const r = spawnSync(process.execPath, [bin, ...full], { input, encoding: json ? 'utf8' : undefined, maxBuffer: 64 << 20 })
  if (!json && !quiet) {
    if (r.stdout?.length) process.stdout.write(r.stdout)
    if (r.stderr?.length) process.stderr.write(r.stderr)
  }
  if (r.status !== 0 && !allowFail) {
    if (json) process.stderr.write(r.stderr ?? '')
    throw new Error(`'bellwether ${args.join(' ')}' exited with ${r.status}`)
  }
  return json ? JSON.parse(r.stdout) : r
}

function step (title) { console.log(`\n${bold(`== ${title}`)}`) }

// straight from each node's admin API, so the purge timing is not CLI start-up time
async function objectCounts (vidHex) {
  const { nodes } = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'))
  return await Promise.all(nodes.map(async (n) => (await (await fetch(`${n.apiUrl}/objlist?vid=${vidHex}`)).json()).count))
}

let ok = false
try {
  step(`Start a ${NODES}-node cluster on 127.0.0.10-${9 + NODES} (data in ${dir})`)
  bw(['cluster', 'up', '--nodes', String(NODES), '--copies', '3'])
  bw(['cluster', 'status'])

  step('Create a VDI: 64 objects of 64 KiB, 3 copies each, and write 4 MiB of data into it')
  bw(['vdi', 'create', 'demo-disk', '4M', '--copies', '3', '--object-size', '64K'])
  const data = Buffer.alloc(4 << 20)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff
  bw(['vdi', 'write', 'demo-disk', '0'], { input: data })
  const vdi = bw(['vdi', 'list'], { json: true }).vdis.find((v) => v.name === 'demo-disk')
  bw(['vdi', 'list'])
  const back = bw(['vdi', 'read', 'demo-disk', '1048576', '16'], { quiet: true })
  console.log(`read back 16 bytes at 1 MiB: ${Buffer.from(back.stdout).toString('hex')} (expected ${data.subarray(1 << 20, (1 << 20) + 16).toString('hex')})`)
  if (!Buffer.from(back.stdout).equals(data.subarray(1 << 20, (1 << 20) + 16))) throw new Error('read-back mismatch')

  step(`Every object lives on 3 nodes: objects of vid ${vdi.vid} per node (object list caches)`)
  const before = await objectCounts(vdi.vid)
  console.log(before.map((n, i) => `  node ${i}: ${String(n).padStart(3)} objects`).join('\n'))
  console.log(`  total ${before.reduce((a, b) => a + b, 0)} = (64 data + 1 inode) × 3 copies`)
  bw(['vdi', 'object', 'location', 'demo-disk', '--index', '7'])

  step('Delete the VDI: one small delete record, gossiped to every node, which purge cache and disk')
  bw(['vdi', 'delete', 'demo-disk'])
  const t0 = Date.now()
  let after = await objectCounts(vdi.vid)
  while (after.some((n) => n > 0) && Date.now() - t0 < 20_000) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    after = await objectCounts(vdi.vid)
  }
  console.log(after.map((n, i) => `  node ${i}: ${String(n).padStart(3)} objects`).join('\n'))
  console.log(`  every node's object list was free of vid ${vdi.vid} ${Date.now() - t0} ms after 'vdi delete' returned`)
  if (after.some((n) => n > 0)) throw new Error('some node did not purge')

  step('Deleted means gone: reading it fails, and the checker agrees')
  bw(['vdi', 'read', 'demo-disk', '0', '16'], { allowFail: true })
  bw(['cluster', 'wait', '--timeout', '30'])
  bw(['check'])
  bw(['cluster', 'status'])
  ok = true
} catch (err) {
  console.error(`\ndemo failed: ${err.message}`)
} finally {
  step('Stop the cluster')
  try { bw(['cluster', 'down', '--purge'], { allowFail: true }) } catch {}
  if (process.env.BELLWETHER_DEMO_DIR == null) rmSync(dir, { recursive: true, force: true })
}
process.exitCode = ok ? 0 : 1
