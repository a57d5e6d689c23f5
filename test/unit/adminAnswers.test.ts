// How node snapshots travel (src/api/answers.ts): the exact JSON the admin API sent before the
// contract existed — hex HLCs and fingerprints, decimal epochs and seqs, 16-hex-digit oids,
// 6-hex-digit vids, null for a writable delete log, the fields in the order docs/API.md lists.
import { describe, expect, it } from 'vitest'
import { deletesInfo, localCheckInfo, membersInfo, nodeStatus, recordJson } from '../../src/api/answers.js'
import type { MembersSnapshot, StatusSnapshot } from '../../src/node/snapshots.js'

const progress = { epoch: '5', running: false, toRecover: 3, recovered: 2, failed: 1, peerFailures: 0, deletedSkipped: 4, dropped: 0, handedOff: 0, bytes: 10, pendingDrops: 0, startedAt: 1, finishedAt: 2, lastCompleteEpoch: '4', errors: ['x'] }

describe('admin API answers', () => {
  it('GET /status', () => {
    const s: StatusSnapshot = {
      peerId: 'p1',
      addrs: ['/ip4/127.0.0.1/tcp/1'],
      dataDir: '/d',
      zone: 2,
      epoch: 5n,
      members: ['p1', 'p2'],
      objects: 7,
      joined: true,
      busy: true,
      busyReasons: ['1 objects waiting for replica repair'],
      startupProblems: [],
      log: { count: 3, fingerprint: 0xabcn, maxHlc: 0x10n, unavailable: undefined, pending: 0, writeFailures: 1 },
      gc: { ack: 0x20n, horizon: 0n, floor: 1, floorHash: 0xffn, folded: 2 },
      ae: { active: 1, stuck: 0, totals: { started: 4, completed: 3, failed: 1, bytesIn: 100, bytesOut: 200, recordsLearned: 5, recordsSent: 6 } },
      partitioned: ['p9'],
      peerState: { known: 1, heartbeats: 1, backoffs: 0, relays: 1, direct: 1, synced: 1, connected: 1, up: 1, floorHashes: 1, objectPeers: 1, gcSynced: 1, gcAcks: 1, aeSlots: 1 },
      recovery: progress,
      startedAt: Date.parse('2026-01-01T00:00:00.000Z')
    }
    const got = nodeStatus(s, { url: 'http://127.0.0.1:9', chaosEnabled: false, version: '0.1.0', now: Date.parse('2026-01-01T00:00:01.500Z') })
    expect(Object.keys(got)).toEqual(['peerId', 'addrs', 'api', 'dataDir', 'zone', 'pid', 'epoch', 'members', 'objects', 'joined', 'busy', 'busyReasons',
      'startupProblems', 'log', 'gc', 'ae', 'partitioned', 'peerState', 'chaosEnabled', 'recovery', 'startedAt', 'uptimeMs', 'version'])
    expect(got).toEqual({
      peerId: 'p1',
      addrs: ['/ip4/127.0.0.1/tcp/1'],
      api: 'http://127.0.0.1:9',
      dataDir: '/d',
      zone: 2,
      pid: process.pid,
      epoch: '5',
      members: ['p1', 'p2'],
      objects: 7,
      joined: true,
      busy: true,
      busyReasons: ['1 objects waiting for replica repair'],
      startupProblems: [],
      log: { count: 3, fingerprint: '0000000000000abc', maxHlc: '0000000000000010', unavailable: null, pending: 0, writeFailures: 1 },
      gc: { ack: '0000000000000020', horizon: '0000000000000000', floor: 1, floorHash: '00000000000000ff' },
      ae: { active: 1, stuck: 0, started: 4, completed: 3, failed: 1, bytesIn: 100, bytesOut: 200, recordsLearned: 5, recordsSent: 6 },
      partitioned: ['p9'],
      peerState: { known: 1, heartbeats: 1, backoffs: 0, relays: 1, direct: 1, synced: 1, connected: 1, up: 1, floorHashes: 1, objectPeers: 1, gcSynced: 1, gcAcks: 1, aeSlots: 1 },
      chaosEnabled: false,
      recovery: { running: false, epoch: '5', toRecover: 3, recovered: 2, failed: 1, peerFailures: 0, deletedSkipped: 4, lastCompleteEpoch: '4' },
      startedAt: '2026-01-01T00:00:00.000Z',
      uptimeMs: 1500,
      version: '0.1.0'
    })
    expect(nodeStatus({ ...s, log: { ...s.log, unavailable: 'ENOSPC' } }, { url: '', chaosEnabled: true, version: '', now: 0 }).log.unavailable).toBe('ENOSPC')
  })

  it('GET /members: live members only, self heard 0 ms ago', () => {
    const m = (peerId: string, over: Partial<MembersSnapshot['known'][number]>): MembersSnapshot['known'][number] => ({
      peerId, addrs: [], zone: 0, api: `http://${peerId}`, self: false, status: 'alive', lastHeard: undefined, connected: true, partitioned: false, reported: undefined, ...over
    })
    const snap: MembersSnapshot = { epoch: 9n, known: [m('a', { self: true }), m('b', { lastHeard: 1_000 }), m('c', { status: 'dead', lastHeard: 500 })] }
    expect(membersInfo(snap, 1_250)).toEqual({
      epoch: '9',
      members: [
        { peerId: 'a', addrs: [], zone: 0, api: 'http://a', lastHeardMs: 0 },
        { peerId: 'b', addrs: [], zone: 0, api: 'http://b', lastHeardMs: 250 }
      ]
    })
  })

  it('GET /deletes and /check', () => {
    const vdiRec = { origin: 'p1', seq: 12n, hlc: 0x1234n, kind: 'vdi' as const, vid: 0x7c2b25, generation: 3 }
    expect(recordJson(vdiRec)).toEqual({ origin: 'p1', seq: '12', hlc: '0000000000001234', kind: 'vdi', vid: '7c2b25', generation: 3, count: 0 })
    const got = deletesInfo({
      summary: { count: 1, fingerprint: 1n, maxHlc: 0x1234n },
      gc: { ack: 2n, horizon: 1n, floor: 1, floorHash: 3n, folded: 4 },
      floor: [[0x7c2b25, 2]],
      records: [vdiRec]
    })
    expect(got.summary).toEqual({ count: 1, fingerprint: '0000000000000001', maxHlc: '0000000000001234' })
    expect(got.gc).toEqual({ ack: '0000000000000002', horizon: '0000000000000001', floorHash: '0000000000000003', folded: 4 })
    expect(got.floor).toEqual([[0x7c2b25, 2]])
    const oid = (0x7c2b25n << 32n) | 1n
    expect(localCheckInfo('p1', { onlyInCache: [], onlyOnDisk: [oid], objects: [{ oid, generation: 3, version: 0xfn, checksum: 9, length: 4096 }], tombstoned: [oid] })).toEqual({
      peerId: 'p1',
      cacheEqualsDisk: false,
      onlyInCache: [],
      onlyOnDisk: ['007c2b2500000001'],
      objects: [{ oid: '007c2b2500000001', generation: 3, version: '000000000000000f', checksum: 9, length: 4096 }],
      tombstoned: ['007c2b2500000001']
    })
  })
})
