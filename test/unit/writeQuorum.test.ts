// The write quorum (src/node/quorum.ts): a majority of the members known, counting those known
// before a restart (a file in the data dir), never those that only fell silent; a member leaves
// the count when it announces its leaving or is evicted. A file it did not write is reported.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MEMBERS_FILE, WriteQuorum } from '../../src/node/quorum.js'

const ids = ['12D3KooWA', '12D3KooWB', '12D3KooWC', '12D3KooWD', '12D3KooWE']

describe('write quorum', () => {
  let dir = ''
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'bw-quorum-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a majority of the members known may write; a minority may not, also after a restart inside it', async () => {
    const q = new WriteQuorum(dir, ids[0]!)
    expect(await q.load()).toBeUndefined()
    // alone and knowing nobody else: a cluster of one
    expect(q.refusal(1)).toBeUndefined()
    await q.heard(ids)
    expect(q.size).toBe(5)
    expect(q.refusal(3)).toBeUndefined()
    expect(q.refusal(2)).toMatch(/sees 2 of the 5 members it knows: writes need a majority \(3\)/)
    expect((await readFile(join(dir, MEMBERS_FILE), 'utf8')).trim().split('\n')).toEqual([...ids].sort())
    // restarted, before it hears anyone: still five known, so alone it may not write
    const again = new WriteQuorum(dir, ids[0]!)
    expect(await again.load()).toBeUndefined()
    expect(again.refusal(1)).toMatch(/sees 1 of the 5/)
  })

  it('a member that announced its leaving, or was evicted, no longer counts; one that fell silent does', async () => {
    const q = new WriteQuorum(dir, ids[0]!)
    await q.heard(ids)
    await q.heard(ids.slice(0, 4), [ids[4]!])
    expect(q.size).toBe(4)
    await q.forget([ids[3]!, ids[0]!])
    // itself never leaves its own count
    expect(q.size).toBe(3)
    expect(q.refusal(2)).toBeUndefined()
    await q.heard(ids.slice(0, 3))
    expect(q.size).toBe(3)
    expect(new WriteQuorum(dir, ids[0]!).size).toBe(1)
    const reloaded = new WriteQuorum(dir, ids[0]!)
    await reloaded.load()
    expect(reloaded.size).toBe(3)
  })

  it('a file it did not write is reported and ignored, never trusted', async () => {
    await writeFile(join(dir, MEMBERS_FILE), 'not a peer id!\n')
    const q = new WriteQuorum(dir, ids[0]!)
    expect(await q.load()).toMatch(/holds "not a peer id!", not a peer id; the write quorum counts only the members heard since start/)
    expect(q.size).toBe(1)
    await writeFile(join(dir, MEMBERS_FILE), Array.from({ length: 5000 }, (_, i) => `12D3KooW${i}`).join('\n'))
    expect(await new WriteQuorum(dir, ids[0]!).load()).toMatch(/5000 ids \(at most 4096\)/)
  })
})
