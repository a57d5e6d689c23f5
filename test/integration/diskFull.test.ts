// A node whose disk fills up (issue 10 part 3), on a real small filesystem: the test mounts a
// 4 MiB tmpfs as one node's data dir (needs root; unmounted in afterAll whatever happens) and
// fills it. An object write that hits ENOSPC fails cleanly and leaves no partial file; a delete
// the node cannot log makes it refuse VDI I/O (503 with the reason), say so in busyReasons and
// the metrics; once space is back it writes the delete, applies and purges it, and serves again,
// by itself. Two in-process nodes on 127.0.2.32-33, copies 2.
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, open, readdir, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { parseVid } from '../../src/oid.js'

const OBJ = 4096
const root = process.getuid?.() === 0
// not root: nothing can be mounted. Under CI that is a failure, never a silent skip.
if (!root && process.env.CI === 'true') throw new Error('diskFull.test.ts needs root (it mounts a tmpfs) and CI=true forbids skipping it')

describe.skipIf(!root)('a node whose disk fills up', { timeout: 240_000 }, () => {
  let base = ''
  let mnt = ''
  let mounted = false
  let c: InprocCluster | undefined

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'bw-diskfull-'))
    c = new InprocCluster(base, 2)
    mnt = join(base, 'node-1') // the data dir InprocCluster gives its second node
    await mkdir(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt])
    mounted = true
    await c.addSpec('127.0.2.32')
    await c.addSpec('127.0.2.33')
    await Promise.all([c.startNode(0), c.startNode(1)])
    await c.waitMembers(90_000)
  }, 180_000)

  afterAll(async () => {
    try {
      if (c != null) for (let i = 0; i < c.specs.length; i++) await c.stopNode(i).catch(() => {})
    } finally {
      if (mounted) {
        try { execFileSync('umount', [mnt]) } catch { execFileSync('umount', ['-l', mnt]) }
      }
      await rm(base, { recursive: true, force: true })
    }
  })

  async function vdi (name: string, fill: number): Promise<number> {
    const r = await c!.api(0, 'POST', '/vdi', { name, size: OBJ * 4, objectSize: OBJ, copies: 2 })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    const w = await c!.api(0, 'PUT', `/vdi/${name}/data?offset=0`, new Uint8Array(OBJ * 4).fill(fill))
    expect(w.status, JSON.stringify(w.json)).toBe(200)
    return parseVid(r.json.vid)
  }

  /** fills the tmpfs to the last block: a file grown until the kernel says ENOSPC */
  async function fill (): Promise<void> {
    const fh = await open(join(mnt, 'filler'), 'w')
    const chunk = Buffer.alloc(256 * 1024, 0xaa)
    try {
      for (;;) await fh.write(chunk)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    } finally {
      await fh.close()
    }
    // whatever is left is smaller than a chunk: take it a page at a time
    const fh2 = await open(join(mnt, 'filler2'), 'w')
    try {
      for (;;) await fh2.write(Buffer.alloc(4096, 0xbb))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    } finally {
      await fh2.close()
    }
    expect((await statfs(mnt)).bavail).toBe(0)
  }

  async function metric (i: number, line: string): Promise<number | undefined> {
    const text = await (await fetch(`${c!.node(i).apiUrl}/metrics`)).text()
    const m = text.split('\n').find((l) => l.startsWith(`${line} `))
    return m == null ? undefined : Number(m.slice(line.length + 1))
  }

  it('refuses I/O while it cannot log a delete, and recovers by itself once space is back', async () => {
    const cl = c!
    const keep = await vdi('keep', 1)
    const gone = await vdi('gone', 2)
    const full = cl.node(1).node
    expect(full.store.cache.countVid(gone)).toBe(5) // 4 data objects + the inode
    await fill()

    // an object write that hits ENOSPC: refused, and no partial file left behind
    const w = await cl.api(0, 'PUT', '/vdi/keep/data?offset=0', new Uint8Array(OBJ).fill(3))
    expect(w.status, JSON.stringify(w.json)).toBe(503)
    expect(w.json.error).toContain('ENOSPC')
    expect((await readdir(join(mnt, 'obj'))).filter((n) => n.startsWith('.tmp-'))).toEqual([])
    expect([...await full.store.scanDisk()].sort()).toEqual([...full.store.cache].sort())

    // a delete it cannot log
    expect((await cl.api(0, 'DELETE', '/vdi/gone')).status).toBe(200)
    let status: any
    await waitFor(async () => {
      status = (await cl.api(1, 'GET', '/status')).json
      return status.busyReasons.some((r: string) => r.startsWith('refusing object reads and writes'))
    }, 30_000, 'node 1 to say on /status that it refuses I/O')
    expect(status.busy).toBe(true)
    expect(status.busyReasons.find((r: string) => r.startsWith('refusing object reads and writes: delete log'))).toMatch(/cannot be written \(ENOSPC: /)
    expect(status.log.unavailable).toMatch(new RegExp(`^delete log ${join(mnt, 'deletes.log')} cannot be written \\(ENOSPC: `))
    expect(status.log.pending).toBe(1)
    const read = await cl.api(1, 'GET', `/vdi/keep/data?offset=0&length=${OBJ}`)
    expect(read.status).toBe(503)
    expect(read.json).toMatchObject({ code: 'UNAVAILABLE' })
    expect(read.json.error).toMatch(/^node unavailable: delete log .* cannot be written \(ENOSPC: /)
    expect(await metric(1, 'bw_delete_log_failing')).toBe(1)
    expect(await metric(1, 'bw_delete_log_pending')).toBe(1)
    expect(await metric(1, 'bw_delete_log_write_failures_total')).toBeGreaterThanOrEqual(1)
    expect(await metric(1, 'bw_refused_unavailable_total{path="api"}')).toBeGreaterThanOrEqual(1)
    // not durable, so not acted on: the deleted VDI's objects are still there
    expect(full.store.cache.countVid(gone)).toBe(5)

    // space back: no restart, no operator
    await rm(join(mnt, 'filler'))
    await rm(join(mnt, 'filler2'))
    await waitFor(() => full.unavailable() === undefined && full.store.cache.countVid(gone) === 0, 60_000, 'node 1 to write, apply and purge the delete')
    expect(full.tombstones.isVdiDeleted(gone, 1)).toBe(true)
    expect(await metric(1, 'bw_delete_log_failing')).toBe(0)
    expect(await metric(1, 'bw_delete_records_applied_total{source="late"}')).toBe(1)
    const after = (await cl.api(1, 'GET', '/status')).json
    expect(after.log.unavailable).toBeNull()
    expect(after.busyReasons.filter((r: string) => r.startsWith('refusing'))).toEqual([])
    expect((await cl.api(1, 'GET', '/vdi/gone')).status).toBe(404)
    const again = await cl.api(1, 'GET', `/vdi/keep/data?offset=0&length=${OBJ}`)
    expect(again.status).toBe(200)
    expect(full.store.cache.countVid(keep)).toBe(5)
  })
})
