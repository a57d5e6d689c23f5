// The dead-generation floor (src/tombstones/floor.ts) and how the delete replica's folds write
// it (src/tombstones/replica.ts, driven by src/node/deletes.ts):
// round trip, a corrupt file, a corrupt entry (skipped and reported, never silently dropped or
// loaded as garbage), saves from many sessions at once, the in-memory floor raised only after
// its save succeeded, and folded seqs surviving a restart. Real files, real delete log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Floor, FloorFileError } from '../../src/tombstones/floor.js'
import { DeleteLog } from '../../src/tombstones/deleteLog.js'
import type { TombstoneIndex } from '../../src/tombstones/tombstoneIndex.js'
import { DeleteReplica } from '../../src/tombstones/replica.js'
import { DeleteDriver } from '../../src/node/deletes.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import type { ObjectStore } from '../../src/store/objectStore.js'
import type { DeleteRec } from '../../src/tombstones/record.js'

let dir = ''
let path = ''
const logs: DeleteLog[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bw-floor-'))
  path = join(dir, 'floor.json')
})
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close()
  await rm(dir, { recursive: true, force: true })
})

const SELF = 'me'
const NOW = 1_000_000n

/**
 * A replica and its driver over a real floor file and log in `dir`, alone in its cluster (so
 * everything it holds is stable); the object store is a fake that records whole-vid purges.
 */
async function gcOver (): Promise<{ gc: DeleteDriver, replica: DeleteReplica, floor: Floor, log: DeleteLog, index: TombstoneIndex, purged: Array<[number, number]> }> {
  const floor = Floor.inDataDir(dir)
  await floor.open(SELF)
  const log = new DeleteLog(join(dir, 'deletes.log'))
  await log.open()
  logs.push(log)
  const purged: Array<[number, number]> = []
  const store = {
    cache: { size: 0 },
    has: () => false,
    settle: async () => {},
    // the generation purged through: the highest one `keep` does not keep
    removeVid: async (vid: number, keep: (m: { generation: number }) => boolean) => {
      let gen = 0
      while (gen < 1000 && !keep({ generation: gen + 1 })) gen++
      purged.push([vid, gen])
      return 0
    },
    removeIf: async () => false
  } as unknown as ObjectStore
  const replica = new DeleteReplica({ self: SELF, log, members: () => [SELF] })
  const gc = new DeleteDriver({ replica, log, store, floorFile: floor, metrics: new NodeMetrics(), logger: pino({ level: 'silent' }), out: { publish: () => {}, startSession: () => {}, reject: () => {}, syncNow: async () => undefined } })
  await gc.load()
  purged.length = 0
  return { gc, replica, floor, log, index: replica.index, purged }
}

const vdiRec = (seq: number, vid: number, origin = SELF): DeleteRec => ({ kind: 'vdi', origin, seq: BigInt(seq), hlc: BigInt(seq), vid, generation: 1 })

describe('Floor file', () => {
  it('round trip: entries, horizon, folded seqs and digest survive a reopen', async () => {
    const f = new Floor(path)
    await f.open()
    expect(await f.update((d) => { d.raise(7, 2); d.raise(3, 1); d.raise(7, 1); d.noteSeq('a', 5n); d.noteSeq('b', 9n); d.advance(0xabcn) })).toBe(true)
    // a change that changes nothing writes nothing
    expect(await f.update((d) => { d.raise(7, 2); d.advance(1n) })).toBe(false)
    const g = new Floor(path)
    await g.open()
    expect(g.entries()).toEqual([[3, 1], [7, 2]])
    expect(g.horizon).toBe(0xabcn)
    expect(g.seq('a')).toBe(5n)
    expect(g.seq('b')).toBe(9n)
    expect(g.hash()).toBe(f.hash())
    expect(g.problems).toEqual([])
  })

  it('refuses a file that is not JSON, naming it', async () => {
    await writeFile(path, '{"version":1,"floor":[[1,')
    await expect(new Floor(path).open()).rejects.toThrow(FloorFileError)
    await expect(new Floor(path).open()).rejects.toThrow(`floor file ${path} is not valid JSON`)
  })

  it('skips a bad entry and reports it with the file and the entry; the good ones load', async () => {
    await writeFile(path, JSON.stringify({ version: 1, horizon: 'ff', floor: [[1, 2], ['x', 3], [4, -1], [5], [6, 1]], seqs: { other: 'zz', [SELF]: '4' } }))
    const f = new Floor(path)
    await f.open(SELF)
    expect(f.entries()).toEqual([[1, 2], [6, 1]])
    expect(f.seq(SELF)).toBe(4n)
    expect(f.problems).toEqual([
      `floor file ${path}: floor entry 1 ["x",3] skipped: floor entry vid x out of range 1..16777215`,
      `floor file ${path}: floor entry 2 [4,-1] skipped: floor entry generation -1 out of range 0..4294967295`,
      `floor file ${path}: floor entry 3 [5] skipped: not a [vid, generation] pair`,
      `floor file ${path}: folded seq of origin "other" is "zz", not a sequence number; skipped`
    ])
  })

  it("refuses a bad folded seq of the node's own origin: starting could reuse a seq", async () => {
    await writeFile(path, JSON.stringify({ version: 1, horizon: '0', floor: [], seqs: { [SELF]: '-3' } }))
    await expect(new Floor(path).open(SELF)).rejects.toThrow(`floor file ${path}: folded seq of origin "me" is "-3", not a sequence number; this node's own, so starting could reuse a seq`)
  })
})

describe('GC writing the floor', () => {
  it('many floors from peers and a GC round at once: every save lands whole, nothing is lost', async () => {
    const { gc, replica, floor } = await gcOver()
    await gc.ingest([vdiRec(1, 100), vdiRec(2, 101)], 'ae')
    const applied = Array.from({ length: 30 }, async (_, i) => await gc.takeFloor([{ vid: i + 1, generation: 1 }], false))
    const results = await Promise.allSettled([...applied, gc.gcRound(() => NOW)])
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    const want = [...Array.from({ length: 30 }, (_, i) => [i + 1, 1]), [100, 1], [101, 1]]
    expect(replica.floor.entries()).toEqual(want)
    expect(floor.entries()).toEqual(want)
    const again = Floor.inDataDir(dir)
    await again.open(SELF)
    expect(again.entries()).toEqual(want)
    expect((await readdir(dir)).filter((n) => n.includes('.tmp'))).toEqual([])
  })

  it('raises the in-memory floor only after the save succeeded', async () => {
    const { gc, replica, floor, index, purged } = await gcOver()
    // a directory where the file goes: every save fails at its rename
    await mkdir(path)
    await writeFile(join(path, 'x'), '')
    await expect(gc.takeFloor([{ vid: 3, generation: 1 }], false)).rejects.toMatchObject({ code: 'EISDIR', syscall: 'rename' })
    expect(replica.floor.get(3)).toBeUndefined()
    expect(floor.get(3)).toBeUndefined()
    expect(index.isVdiDeleted(3, 1)).toBe(false)
    expect(purged).toEqual([])
    await rm(join(path, 'x'))
    await rmdir(path)
    expect(await gc.takeFloor([{ vid: 3, generation: 1 }], false)).toBe(0)
    expect(replica.floor.get(3)).toBe(1)
    expect(floor.get(3)).toBe(1)
    expect(index.isVdiDeleted(3, 1)).toBe(true)
    expect(purged).toEqual([[3, 1]])
    expect(JSON.parse(await readFile(path, 'utf8')).floor).toEqual([[3, 1]])
  })

  it('a folded seq is never handed out again after a restart', async () => {
    const { gc, log } = await gcOver()
    await gc.ingest([vdiRec(1, 10), vdiRec(2, 11), vdiRec(3, 12), vdiRec(1, 13, 'peer')], 'ae')
    expect(await gc.gcRound(() => NOW)).toBe(4)
    expect(log.size).toBe(0)
    await log.close()
    logs.splice(0)
    // restart: the log is empty, so only the floor knows seqs 1..3 of SELF were used
    const again = await gcOver()
    expect(again.log.nextSeq(SELF)).toBe(1n)
    expect(again.floor.seq(SELF)).toBe(3n)
    expect(again.floor.seq('peer')).toBe(1n)
    expect(again.floor.entries()).toEqual([[10, 1], [11, 1], [12, 1], [13, 1]])
    expect(again.replica.nextSeq()).toBe(4n)
  })
})
