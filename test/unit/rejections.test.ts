// Rejections (src/node/rejections.ts): every refusal counted in bw_rejected_total{kind}; one
// log line per kind per interval, the next one saying how many were left out.
import { describe, expect, it } from 'vitest'
import { NodeMetrics } from '../../src/node/metrics.js'
import { Rejections } from '../../src/node/rejections.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

describe('Rejections', () => {
  it('counts every refusal by kind and logs each kind at most once per interval', async () => {
    const metrics = new NodeMetrics()
    const log = memoryLogger()
    let t = 0
    const r = new Rejections(metrics, log, () => t, 1000)
    for (let i = 0; i < 50; i++) r.note('delete-origin', `forged ${i}`, { from: 'x' })
    r.note('delete-seq', 'seq too high')
    r.note('delete-seq', 'seq too high', {}, 3)
    const value = async (kind: string): Promise<number> => (await metrics.rejected.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0
    expect(await value('delete-origin')).toBe(50)
    expect(await value('delete-seq')).toBe(4)
    expect(log.lines.map((l) => l.msg)).toEqual(['rejected delete-origin: forged 0', 'rejected delete-seq: seq too high'])
    t = 1000
    r.note('delete-origin', 'forged again')
    expect(log.lines[2]).toEqual({ level: 'warn', msg: 'rejected delete-origin: forged again', obj: { kind: 'delete-origin', suppressed: 49 } })
    const text = await metrics.registry.metrics()
    expect(text).toContain('bw_rejected_total{kind="delete-origin"} 51')
  })
})
