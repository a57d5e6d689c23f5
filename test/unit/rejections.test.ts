// Rejections (src/node/rejections.ts): every rejection is counted in bw_rejected_total{kind};
// the log gets the first of a kind at once and then at most one line per REJECT_LOG_INTERVAL_MS,
// saying how many were suppressed in between; kinds are limited independently.
import { describe, expect, it } from 'vitest'
import { REJECT_LOG_INTERVAL_MS, Rejections } from '../../src/node/rejections.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

describe('Rejections', () => {
  it('counts every one, logs rate-limited per kind with the number suppressed', async () => {
    let now = 1000
    const metrics = new NodeMetrics()
    const log = memoryLogger()
    const r = new Rejections(metrics, log, () => now)
    for (let k = 0; k < 5; k++) r.reject('heartbeat', `bad ${k}`)
    r.reject('version', 'far future')
    expect(log.lines.map((l) => l.msg)).toEqual(['rejected heartbeat: bad 0', 'rejected version: far future'])
    now += REJECT_LOG_INTERVAL_MS
    r.reject('heartbeat', 'bad 5')
    expect(log.lines.at(-1)?.msg).toBe('rejected heartbeat: bad 5')
    expect(log.lines.at(-1)?.obj.suppressed).toBe(4)
    const values = (await metrics.rejected.get()).values
    expect(values.find((v) => v.labels.kind === 'heartbeat')?.value).toBe(6)
    expect(values.find((v) => v.labels.kind === 'version')?.value).toBe(1)
  })
})
