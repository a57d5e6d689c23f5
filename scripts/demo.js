#!/usr/bin/env node
// `npm run demo`: the whole story on a local 5-node cluster, through the real CLI.
// Start a cluster, create and write a VDI, show where its objects live, delete it, show
// every node purged; cut two nodes off while a VDI is deleted and show them purge after the
// heal (anti-entropy); stop a node, delete a VDI it holds, restart it and show it purged that
// VDI while keeping (and serving) the live data it held; run the checker, stop the cluster.
// Exits non-zero if any step fails.
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
  return await Promise.all(nodes.map(async (n) => (await (await getOnce(`${n.apiUrl}/objlist?vid=${vidHex}`)).json()).count))
}

// bw() blocks this process in spawnSync for seconds, so fetch's pooled keep-alive sockets can be
// closed by the node while nothing here notices; a GET that meets such a socket is sent again
async function getOnce (url) {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    if (!/other side closed|ECONNRESET|socket hang up/.test(`${err.cause?.message ?? ''} ${err.cause?.code ?? ''}`)) throw err
    return await fetch(url, { signal: AbortSignal.timeout(10_000) })
  }
}

function showCounts (counts) {
  console.log(counts.map((n, i) => `  node ${i}: ${String(n).padStart(3)} objects`).join('\n'))
}

/** polls until no node lists an object of the vid (20 s at most); ms taken */
async function purgedEverywhere (vidHex) {
  const t0 = Date.now()
  let counts = await objectCounts(vidHex)
  while (counts.some((n) => n > 0) && Date.now() - t0 < 20_000) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    counts = await objectCounts(vidHex)
  }
  showCounts(counts)
  if (counts.some((n) => n > 0)) throw new Error(`some node still holds objects of vid ${vidHex}`)
  return Date.now() - t0
}

/** a VDI of 16 objects of 64 KiB, written whole with a pattern; its vid */
function makeVdi (name, seed) {
  bw(['vdi', 'create', name, '1M', '--copies', '3', '--object-size', '64K'])
  const data = Buffer.alloc(1 << 20)
  for (let i = 0; i < data.length; i++) data[i] = (i * seed) & 0xff
  bw(['vdi', 'write', name, '0'], { input: data })
  return { vid: bw(['vdi', 'list'], { json: true }).vdis.find((v) => v.name === name).vid, data }
}

let ok = false
try {
  step(`Start a ${NODES}-node cluster on 127.0.0.10-${9 + NODES} (data in ${dir})`)
  bw(['cluster', 'up', '--nodes', String(NODES), '--copies', '3', '--enable-chaos'])
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
  const ms = await purgedEverywhere(vdi.vid)
  console.log(`  every node's object list was free of vid ${vdi.vid} ${ms} ms after 'vdi delete' returned`)

  step('Deleted means gone: reading it fails')
  bw(['vdi', 'read', 'demo-disk', '0', '16'], { allowFail: true })

  step('A partition: nodes 3 and 4 are cut off while a VDI is deleted, and purge it after the heal')
  const cut = makeVdi('cut-off', 13)
  bw(['chaos', 'partition', '--groups', '0,1,2/3,4'])
  bw(['vdi', 'delete', 'cut-off'])
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const during = await objectCounts(cut.vid)
  console.log('  2 s later, still partitioned: the majority purged, nodes 3 and 4 cannot know yet')
  showCounts(during)
  if (during.slice(0, 3).some((n) => n > 0)) throw new Error('the majority did not purge')
  bw(['chaos', 'heal'])
  const healMs = await purgedEverywhere(cut.vid)
  console.log(`  nodes 3 and 4 purged vid ${cut.vid} ${healMs} ms after the heal (reconnecting nodes reconcile delete logs: LEARNED in the status below counts records learned that way)`)

  step('A node that was down: it purges what was deleted while it was away, and keeps what is live')
  const gone = makeVdi('gone-while-away', 5)
  const kept = makeVdi('kept', 11)
  const held = (await objectCounts(gone.vid))[4]
  bw(['cluster', 'stop', '--node', '4'])
  bw(['vdi', 'delete', 'gone-while-away'])
  console.log(`  node 4 is down holding ${held} objects of the deleted VDI; starting it again`)
  bw(['cluster', 'start', '--node', '4'])
  const backMs = await purgedEverywhere(gone.vid)
  console.log(`  node 4 purged it ${backMs} ms after 'cluster start' returned; it serves its object list to peers only after reconciling delete logs with them, so recovery never copies the deleted VDI back`)
  bw(['vdi', 'read', 'gone-while-away', '0', '16', '--node', '4'], { allowFail: true })
  const keptBack = bw(['vdi', 'read', 'kept', '0', String(1 << 20), '--node', '4'], { quiet: true })
  if (!Buffer.from(keptBack.stdout).equals(kept.data)) throw new Error("'kept' read through node 4 differs from what was written")
  console.log(`  'kept' (vid ${kept.vid}) reads back whole through node 4: ${(await objectCounts(kept.vid))[4]} of its objects are on node 4's disk`)

  step('The checker agrees: nothing deleted anywhere, every live object on its nodes')
  bw(['cluster', 'wait', '--timeout', '30'])
  bw(['check'])
  bw(['cluster', 'status'])
  ok = true
} catch (err) {
  console.error(`\ndemo failed: ${err.message}${err.cause != null ? ` (${err.cause.message ?? err.cause})` : ''}`)
} finally {
  step('Stop the cluster')
  try { bw(['cluster', 'down', '--purge'], { allowFail: true }) } catch {}
  if (process.env.BELLWETHER_DEMO_DIR == null) rmSync(dir, { recursive: true, force: true })
}
process.exitCode = ok ? 0 : 1
