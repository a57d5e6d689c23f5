// Many deletes and discards at once through one node's HTTP API: every one acknowledged
// must carry records of its own (a seq reused by two of them is deduplicated away: the
// client gets 200 with no record behind it), and the other node must end up applying every
// record. Two in-process nodes on 127.0.2.50-51, real TCP, real files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InprocCluster, waitFor } from '../helpers/inproc.js'
import { MAX_INDEXES_PER_RECORD } from '../../src/tombstones/constants.js'

const OBJ = 4096
const VDIS = 40
const WINDOW = 12
// a discard this large is two records, one seq each
const BIG = MAX_INDEXES_PER_RECORD + 10

describe('concurrent deletes and discards through one node', { timeout: 180_000 }, () => {
  let c: InprocCluster
  beforeAll(async () => {
    c = new InprocCluster(await mkdtemp(join(tmpdir(), 'bw-seq-it-')), 2)
    try {
      await c.addSpec('127.0.2.50')
      await c.addSpec('127.0.2.51')
      await Promise.all([c.startNode(0), c.startNode(1)])
      await c.waitMembers(60_000)
    } catch (err) {
      await c.stop()
      throw err
    }
  })
  afterAll(async () => { await c?.stop() })

  it('never share a seq, and every acknowledged one is applied on the other node', async () => {
    for (let i = 0; i < 2 * VDIS; i++) {
      const r = await c.api(0, 'POST', '/vdi', { name: `v${i}`, size: OBJ * (BIG + 10), objectSize: OBJ, copies: 2 })
      expect(r.status, JSON.stringify(r.json)).toBe(200)
    }
    // a client keeping WINDOW requests in flight: each answer starts the next request, so new
    // deletes take their seqs while earlier ones are still being appended. Per VDI a large discard
    // (two records) and three small ones; as many other VDIs deleted.
    const todo: Array<() => Promise<{ expect: number, got: { status: number, json: any } }>> = []
    for (let i = 0; i < VDIS; i++) {
      todo.push(async () => ({ expect: 2, got: await c.api(0, 'POST', `/vdi/v${i}/discard`, { objects: `0-${BIG - 1}` }) }))
      for (let k = 0; k < 3; k++) {
        todo.push(async () => ({ expect: 1, got: await c.api(0, 'POST', `/vdi/v${i}/discard`, { objects: `${BIG + k}` }) }))
      }
      todo.push(async () => ({ expect: 1, got: await c.api(0, 'DELETE', `/vdi/v${VDIS + i}`) }))
    }
    const answers: Array<{ expect: number, got: { status: number, json: any } }> = []
    const worker = async (): Promise<void> => {
      for (let next = todo.shift(); next != null; next = todo.shift()) answers.push(await next())
    }
    await Promise.all(Array.from({ length: WINDOW }, worker))
    // every call acknowledged carries records of its own: a reused seq would come back as 0 records
    expect(answers.length).toBe(5 * VDIS)
    for (const a of answers) {
      expect(a.got.status, JSON.stringify(a.got.json)).toBe(200)
      expect(a.got.json.records, JSON.stringify(a.got.json)).toBe(a.expect)
    }
    const n0 = c.node(0).node
    const mine = n0.deleteLog.records().filter((r) => r.origin === n0.self)
    // the other node applies every one of them (gossip or anti-entropy), unless GC folded them into its floor
    const n1 = c.node(1).node
    await waitFor(() => mine.every((r) => n1.deleteLog.has(r.origin, r.seq) || (n1.floor.get(r.vid) ?? -1) >= r.generation),
      60_000, 'node 1 to hold every record node 0 acknowledged')
  })
})
