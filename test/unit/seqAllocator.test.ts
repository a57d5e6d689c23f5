// A node never hands out one delete seq twice, however its deletes and discards interleave: a
// reused seq is deduplicated away by every log, so its delete would be acknowledged and never
// applied anywhere. The allocator alone, then the real BellwetherNode (its log, floor and
// store on a temp dir; not started, gossip publishing replaced) with each append held at a
// gate, so the test decides in which order appends complete.

import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SeqAllocator } from '../../src/tombstones/seqAllocator.js'
import { BellwetherNode } from '../../src/node/node.js'
import { makeDiscardRecords, type DeleteRec } from '../../src/tombstones/record.js'
import { MAX_INDEXES_PER_RECORD } from '../../src/tombstones/constants.js'
import { seededRng } from '../../src/rng.js'

describe('SeqAllocator', () => {
  it('hands out increasing seqs from lowest(), and never goes back when lowest() does not move', () => {
    let low = 5n
    const a = new SeqAllocator(() => low)
    expect([a.take(), a.take(), a.take()]).toEqual([5n, 6n, 7n])
    // the log caught up with what was handed out (appends done): nothing is handed out again
    low = 7n
    expect(a.take()).toBe(8n)
    low = 1n
    expect(a.take()).toBe(9n)
  })

  it('jumps past seqs the log or floor came to hold meanwhile (records of ours learned back from peers)', () => {
    let low = 1n
    const a = new SeqAllocator(() => low)
    expect(a.take()).toBe(1n)
    low = 100n
    expect(a.take()).toBe(100n)
    expect(a.take()).toBe(101n)
  })
})

const SELF = '12D3KooWSeqTestSelf'
const dirs: string[] = []
const nodes: BellwetherNode[] = []

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.deleteLog.close().catch(() => {})
    await n.store.close().catch(() => {})
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

interface Gated {
  node: BellwetherNode
  /** appends waiting at their gate, oldest first */
  waiting: Array<() => void>
}

/** A real node's delete path (log, floor, tombstone index, store) whose appends wait until released. */
async function gatedNode (): Promise<Gated> {
  const dir = await mkdtemp(join(tmpdir(), 'bw-seq-'))
  dirs.push(dir)
  const node = new BellwetherNode({ dataDir: dir, listen: '127.0.2.50:0', api: '127.0.2.50:0', bootstrap: [], logLevel: 'silent' })
  nodes.push(node)
  node.self = SELF
  await node.store.open()
  await node.deleteLog.open()
  // publishing to peers is not what this test is about; the node is not started
  ;(node as unknown as { deleteGossip: { publish: (recs: DeleteRec[]) => void } }).deleteGossip = { publish: () => {} }
  const g: Gated = { node, waiting: [] }
  const append = node.deleteLog.append.bind(node.deleteLog)
  node.deleteLog.append = async (recs) => {
    await new Promise<void>((resolve) => g.waiting.push(resolve))
    return await append(recs)
  }
  return g
}

const vdiDelete = (node: BellwetherNode, vid: number): DeleteRec[] =>
  [{ kind: 'vdi', origin: SELF, seq: node.deletes.nextSeq(), hlc: node.now(), vid, generation: 0 }]

const discard = (node: BellwetherNode, vid: number, indexes: Uint32Array): DeleteRec[] =>
  makeDiscardRecords({ origin: SELF, hlc: node.now(), vid, generation: 0 }, () => node.deletes.nextSeq(), indexes)

describe('delete seqs through one node', () => {
  it('a delete started while an earlier one is still appending, after a third finished, gets a seq of its own', async () => {
    const { node, waiting } = await gatedNode()
    // A and B take their seqs and wait at the log
    const a = vdiDelete(node, 1)
    const pa = node.deletes.originate(a)
    const b = vdiDelete(node, 2)
    const pb = node.deletes.originate(b)
    await waitUntil(() => waiting.length === 2)
    // A's append completes; B's has not even reached the log
    waiting.shift()!()
    expect(await pa).toEqual(a)
    // C takes its seq now: the log's next seq is A's + 1, which B already has
    const c = vdiDelete(node, 3)
    const pc = node.deletes.originate(c)
    await waitUntil(() => waiting.length === 2)
    for (const release of waiting.splice(0)) release()
    const seqs = [a[0].seq, b[0].seq, c[0].seq]
    expect(new Set(seqs).size).toBe(3)
    // every delete acknowledged is one the log holds and this node applied
    expect(await pb).toEqual(b)
    expect(await pc).toEqual(c)
    expect(node.deleteLog.size).toBe(3)
    for (const s of seqs) expect(node.deleteLog.has(SELF, s)).toBe(true)
  })

  it('hundreds of concurrent deletes and discards, appends completing in random order, never share a seq and are all applied', async () => {
    for (const seed of [1, 2, 3]) {
      const { node, waiting } = await gatedNode()
      const rnd = seededRng(seed)
      const ops: Array<{ recs: DeleteRec[], done: Promise<DeleteRec[]>, release: () => void }> = []
      const pending: number[] = []
      for (let vid = 1; vid <= 200 || pending.length > 0;) {
        if (vid <= 200 && (pending.length === 0 || rnd() < 0.6)) {
          let recs: DeleteRec[]
          if (rnd() < 0.5) recs = vdiDelete(node, vid)
          else {
            // most discards fit one record; some span two (one seq each)
            const n = rnd() < 0.1 ? MAX_INDEXES_PER_RECORD + 1 + Math.floor(rnd() * 1000) : 1 + Math.floor(rnd() * 8)
            recs = discard(node, vid, Uint32Array.from({ length: n }, (_, k) => k))
          }
          vid++
          const done = node.deletes.originate(recs)
          // the append reached its gate synchronously, inside originate()
          ops.push({ recs, done, release: waiting.pop()! })
          pending.push(ops.length - 1)
          continue
        }
        // one waiting append goes through, chosen at random; its delete is acknowledged before anything else happens
        const op = ops[pending.splice(Math.floor(rnd() * pending.length), 1)[0]!]!
        op.release()
        await op.done
      }
      expect(waiting.length).toBe(0)
      const all = ops.flatMap((o) => o.recs)
      const seqs = all.map((r) => r.seq)
      expect(new Set(seqs).size, `seed ${seed}`).toBe(seqs.length)
      // acknowledged = applied: each originate returned every record it made, and the log holds them
      for (const [i, o] of ops.entries()) expect((await o.done).length, `seed ${seed} op ${i}`).toBe(o.recs.length)
      expect(node.deleteLog.size, `seed ${seed}`).toBe(all.length)
    }
  })
})

/** polls a condition across macrotasks (fs callbacks need them); fails the test if it never holds */
async function waitUntil (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('condition never held')
}
