// The VDI namespace (issue 10 part 1) with separate node processes: 5 nodes on
// 127.0.2.10-14, copies 3, driven through the CLI (dist/: after editing src run `npm run build`
// before `npx vitest run test/integration/vdiNamespace.test.ts`).
//
//   - a VDI re-created while a node is away (so its old delete cannot fold and the new one
//     takes the next vid) stays reachable by name through every node once that delete folds,
//     including the node that was away and one restarted after the fold (no cached inode);
//     write, create and delete of the name behave;
//   - a name whose probe chain holds several deleted generations, folded: the same, and the
//     next create after the last delete reuses the chain's first vid with the next generation;
//   - creates of one name racing through every node's admin API: exactly one 200, the others
//     409 EXISTS, one VDI in every node's list; rounds repeat until the inode's arbiter has
//     refused at least one create-only put (evidence that creates really raced).
// Each case uses its own names and leaves every node running. afterAll runs
// `cluster down --purge` and asserts that no node process is left.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { show, waitFor } from '../helpers/cli.js'
import { ProcCluster } from '../helpers/procCluster.js'

const NODES = [0, 1, 2, 3, 4]
const SIZE = 64 * 1024
const c = new ProcCluster('vdins', NODES.length, '127.0.2.10', 3)

async function create (name: string, via: number): Promise<{ vid: number, generation: number }> {
  const info = await c.json(['vdi', 'create', name, String(SIZE), '--object-size', '4K', '--node', String(via)])
  expect(info).toMatchObject({ name, size: SIZE, copies: 3 })
  return { vid: parseInt(info.vid, 16), generation: info.generation }
}

async function write (name: string, via: number, offset = 0, data = randomBytes(SIZE)): Promise<Buffer> {
  const w = JSON.parse((await c.ok(['vdi', 'write', name, String(offset), '--node', String(via), '--json'], { stdin: data })).stdout)
  expect(w.written).toBe(data.length)
  return data
}

/** `name` read through every node equals `data` */
async function readsEverywhere (name: string, data: Buffer): Promise<void> {
  const reads = await Promise.all(NODES.map(async (i) => await c.bw(['vdi', 'read', name, '0', String(SIZE), '--node', String(i)])))
  for (const [i, r] of reads.entries()) {
    expect(r.code, `read through node ${i}: ${show(['vdi', 'read', name], r)}`).toBe(0)
    expect(r.out.equals(data), `read of ${name} through node ${i} differs from what was written`).toBe(true)
  }
}

/** every node's VDI list (GET /vdi, what `vdi list` shows): [name, vid] of each VDI called `name` */
async function listed (name: string): Promise<Array<Array<[string, number]>>> {
  return await Promise.all(NODES.map(async (i) => ((await c.get(i, '/vdi')).vdis as any[])
    .filter((v) => v.name === name).map((v): [string, number] => [v.name, parseInt(v.vid, 16)])))
}

/** until every running node has folded the delete of (vid, generation) into its floor */
async function folded (vid: number, generation: number): Promise<void> {
  await waitFor(`every node to fold the delete of vid ${vid.toString(16)} generation ${generation}`, 120_000, async () => {
    const floors = await Promise.all(NODES.map(async (i) => (await c.get(i, '/deletes')).floor as Array<[number, number]>))
    const missing = NODES.filter((i) => !floors[i]!.some(([v, g]) => v === vid && g >= generation))
    return missing.length === 0 || `not folded on node(s) ${missing.join(', ')}`
  })
}

async function restart (i: number): Promise<void> {
  await c.stop(i)
  await c.start(i)
}

/** create, write and delete of `name` through nodes that have not cached it, after its old vids folded */
async function behaves (name: string, vid: number, data: Buffer): Promise<void> {
  expect(await listed(name)).toEqual(NODES.map(() => [[name, vid]]))
  const again = await c.bw(['vdi', 'create', name, String(SIZE), '--object-size', '4K', '--node', '3'])
  expect(again.code, show(['vdi', 'create', name], again)).toBe(3)
  expect(again.stderr).toContain(`VDI '${name}' already exists (vid ${vid.toString(16).padStart(6, '0')})`)
  const piece = randomBytes(4096)
  await write(name, 4, 8192, piece)
  piece.copy(data, 8192)
  await readsEverywhere(name, data)
  const del = await c.json(['vdi', 'delete', name, '--node', '1'])
  expect(parseInt(del.vdi.vid, 16)).toBe(vid)
  const gone = await c.bw(['vdi', 'read', name, '0', '4096', '--node', '2'])
  expect(gone.code, show(['vdi', 'read', name], gone)).toBe(5)
  expect(gone.stderr).toContain(`VDI '${name}' not found`)
}

describe('VDI namespace with node processes (5 nodes, copies 3)', { timeout: 300_000 }, () => {
  beforeAll(async () => { await c.up() }, 200_000)
  afterAll(async () => { await c.down() }, 120_000)

  it('a VDI re-created while a node was away stays reachable through every node after the old delete folds', async () => {
    const first = await create('phoenix', 0)
    await write('phoenix', 0)
    await c.stop(4)
    let data: Buffer
    let second: { vid: number, generation: number }
    try {
      await c.ok(['vdi', 'delete', 'phoenix', '--node', '0'])
      second = await create('phoenix', 1)
      // the premise: node 4 is away, so the delete is not stable and the old vid is not reused
      expect(second.vid).not.toBe(first.vid)
      data = await write('phoenix', 1)
    } finally {
      await c.start(4)
    }
    await folded(first.vid, first.generation)
    // node 2 never served phoenix; restarted now, it has nothing cached either
    await restart(2)
    await readsEverywhere('phoenix', data)
    await behaves('phoenix', second.vid, data)
    await c.convergedAndChecked()
  })

  it('a name whose probe chain holds several deleted generations: reachable through every node once they fold; the next create reuses the first vid', async () => {
    const vids: number[] = []
    await c.stop(4)
    let data: Buffer
    try {
      for (let k = 0; k < 3; k++) {
        vids.push((await create('hydra', k)).vid)
        if (k < 2) await c.ok(['vdi', 'delete', 'hydra', '--node', String(k + 1)])
      }
      expect(new Set(vids).size, `vids ${vids.map((v) => v.toString(16)).join(', ')}`).toBe(3)
      data = await write('hydra', 2)
    } finally {
      await c.start(4)
    }
    await folded(vids[0]!, 1)
    await folded(vids[1]!, 1)
    await restart(3)
    await readsEverywhere('hydra', data)
    await behaves('hydra', vids[2]!, data)
    // the chain is now three folded vids: a create takes the first, with the next generation
    await folded(vids[2]!, 1)
    const reborn = await create('hydra', 4)
    expect(reborn).toEqual({ vid: vids[0], generation: 2 })
    await readsEverywhere('hydra', await write('hydra', 0))
    await c.convergedAndChecked()
  })

  it('creates of one name racing through every node: exactly one 200, the others 409 EXISTS, one VDI everywhere', async () => {
    const refusedByArbiter = async (): Promise<number> => {
      const texts = await Promise.all(NODES.map(async (i) => await (await fetch(`${c.node(i).apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()))
      return texts.reduce((s, t) => s + Number(/^bw_object_requests_total\{op="put",status="EXISTS"\} (\S+)$/m.exec(t)?.[1] ?? 0), 0)
    }
    const before = await refusedByArbiter()
    for (let round = 0; ; round++) {
      const name = `race-${round}`
      const answers = await Promise.all(NODES.map(async (i) => {
        const r = await fetch(`${c.node(i).apiUrl}/vdi`, { method: 'POST', body: JSON.stringify({ name, size: SIZE, objectSize: 4096 }), headers: { 'content-type': 'application/json' } })
        return { node: i, status: r.status, body: await r.json() as any }
      }))
      const won = answers.filter((a) => a.status === 200)
      expect(won, JSON.stringify(answers)).toHaveLength(1)
      for (const a of answers.filter((x) => x.status !== 200)) {
        expect(a, JSON.stringify(answers)).toMatchObject({ status: 409, body: { code: 'EXISTS', error: `VDI '${name}' already exists (vid ${won[0]!.body.vid})` } })
      }
      expect(await listed(name)).toEqual(NODES.map(() => [[name, parseInt(won[0]!.body.vid, 16)]]))
      // the rounds go on until at least one create lost at the arbiter, not only in its probe
      if (await refusedByArbiter() > before) break
      expect(round, 'no round of racing creates ever reached the arbiter twice').toBeLessThan(9)
    }
    await c.convergedAndChecked()
  })
})
