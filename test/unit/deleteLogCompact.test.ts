// GC compaction rewrites the delete log while gossip and anti-entropy keep appending, and a
// floor from a peer can fold at the same time as a GC round: neither may lose a record or
// break the log (a benchmark run found both races).
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DeleteLog } from '../../src/tombstones/deleteLog.js'
import type { DeleteRec } from '../../src/tombstones/record.js'

const rec = (seq: number, vid: number): DeleteRec => ({ kind: 'vdi', origin: 'origin-a', seq: BigInt(seq), hlc: BigInt(1000 + seq), vid, generation: 1 })

describe('DeleteLog.compact under concurrency', () => {
  let dir = ''
  afterEach(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('two compactions and a stream of appends at once: every kept record is durable, the log stays usable', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-compact-'))
    const path = join(dir, 'deletes.log')
    const log = new DeleteLog(path)
    await log.open()
    await log.append(Array.from({ length: 50 }, (_, i) => rec(i + 1, i + 1)))
    const appends: Array<Promise<DeleteRec[]>> = []
    for (let i = 51; i <= 90; i++) appends.push(log.append([rec(i, i)]))
    const [a, b] = await Promise.all([
      log.compact((r) => r.vid <= 10),
      log.compact((r) => r.vid > 10 && r.vid <= 20),
      ...appends
    ]) as [number, number, ...unknown[]]
    expect(a + b).toBe(20)
    expect(log.size).toBe(70)
    await log.append([rec(91, 91)])
    await log.close()
    const again = new DeleteLog(path)
    const { records, tornBytes } = await again.open()
    expect(tornBytes).toBe(0)
    expect(records).toBe(71)
    expect(again.records().map((r) => r.vid).sort((x, y) => x - y)).toEqual(Array.from({ length: 71 }, (_, i) => i + 21))
    await again.close()
    expect((await readdir(dir)).filter((f) => f.includes('compact'))).toEqual([])
  })
})
