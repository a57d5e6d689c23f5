// The replica-repair queue's bound (src/vdi/replicaRepair.ts), with a fake cluster I/O that is
// never asked anything: at MAX_REPAIR_QUEUE oids a further oid is refused, the overflow is
// counted once and the node is asked once for a full recovery pass (not once per refused oid),
// and what is queued stays queued for repair.
import { describe, expect, it } from 'vitest'
import type { Logger } from 'pino'
import { vidToDataOid } from '../../src/oid.js'
import type { ClusterIO } from '../../src/vdi/clusterIo.js'
import { MAX_REPAIR_QUEUE, ReplicaRepair } from '../../src/vdi/replicaRepair.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const untouchedIo = new Proxy({}, { get: (_t, key) => { throw new Error(`cluster I/O must not be used (${String(key)})`) } }) as ClusterIO

describe('replica repair queue', () => {
  it('refuses oids past MAX_REPAIR_QUEUE, counting the overflow and asking for recovery once', () => {
    const log = memoryLogger()
    let asked = 0
    const repair = new ReplicaRepair(untouchedIo, async () => 1, log as unknown as Logger, () => { asked++ })
    for (let k = 0; k < MAX_REPAIR_QUEUE; k++) repair.enqueue(vidToDataOid(7, k))
    expect(repair.pending).toBe(MAX_REPAIR_QUEUE)
    expect(repair.totals.overflows).toBe(0)
    expect(asked).toBe(0)

    repair.enqueue(vidToDataOid(8, 0))
    expect(repair.pending).toBe(MAX_REPAIR_QUEUE)
    expect(repair.totals.overflows).toBe(1)
    expect(asked).toBe(1)
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([
      { level: 'warn', obj: { queued: MAX_REPAIR_QUEUE }, msg: 'replica repair queue full; asking for a full recovery pass' }
    ])

    // while it stays full, more refusals neither count again nor ask again
    for (let k = 1; k < 1000; k++) repair.enqueue(vidToDataOid(8, k))
    expect(repair.pending).toBe(MAX_REPAIR_QUEUE)
    expect(repair.totals.overflows).toBe(1)
    expect(asked).toBe(1)
    expect(log.lines).toHaveLength(1)
  })

  it('an oid already queued is not counted twice', () => {
    const repair = new ReplicaRepair(untouchedIo, async () => 1, memoryLogger() as unknown as Logger)
    repair.enqueue(vidToDataOid(7, 1))
    repair.enqueue(vidToDataOid(7, 1))
    expect(repair.pending).toBe(1)
    expect(repair.totals.overflows).toBe(0)
  })
})
