// How the node's snapshots (src/node/snapshots.ts) and the VDI layer's values travel: each
// function builds one answer of the admin API contract (types.ts) — bigint HLCs and
// fingerprints as hex, epochs and seqs as decimal, oids as 16 hex digits, vids as 6.
import { formatOid, formatVid } from '../oid.js'
import { hex } from '../log.js'
import { objectCount, type Inode } from '../vdi/inode.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { AeSnapshot, DeletesSnapshot, MembersSnapshot, RecoverySnapshot, StatusSnapshot } from '../node/snapshots.js'
import type { LocalCheckSnapshot } from '../node/localCheck.js'
import type {
  AntiEntropyInfo, DeleteRecordJson, DeletesInfo, LocalCheck, MembersInfo, NodeStatus, RecoveryInfo, VdiInfo
} from './types.js'

export function vdiInfo (inode: Inode): VdiInfo {
  return {
    name: inode.name,
    vid: formatVid(inode.vid),
    size: inode.size,
    copies: inode.copies,
    objectSize: inode.objectSize,
    generation: inode.generation,
    objects: objectCount(inode),
    created: hex(inode.created)
  }
}

export function recordJson (r: DeleteRec): DeleteRecordJson {
  return {
    origin: r.origin,
    seq: r.seq.toString(),
    hlc: hex(r.hlc),
    kind: r.kind,
    vid: formatVid(r.vid),
    generation: r.generation,
    count: r.kind === 'objects' ? r.indexes.length : 0,
    ...(r.kind === 'objects' ? { indexes: Array.from(r.indexes) } : {})
  }
}

/** GET /status: the snapshot plus what only the API knows (its own URL, chaos on or off) */
export function nodeStatus (s: StatusSnapshot, api: { url: string, chaosEnabled: boolean, version: string, now: number }): NodeStatus {
  const p = s.recovery
  return {
    peerId: s.peerId,
    addrs: s.addrs,
    api: api.url,
    dataDir: s.dataDir,
    zone: s.zone,
    pid: process.pid,
    epoch: s.epoch.toString(),
    members: s.members,
    objects: s.objects,
    joined: s.joined,
    busy: s.busy,
    busyReasons: s.busyReasons,
    startupProblems: s.startupProblems,
    log: { count: s.log.count, fingerprint: hex(s.log.fingerprint), maxHlc: hex(s.log.maxHlc), unavailable: s.log.unavailable ?? null, pending: s.log.pending, writeFailures: s.log.writeFailures },
    gc: { ack: hex(s.gc.ack), horizon: hex(s.gc.horizon), floor: s.gc.floor, floorHash: hex(s.gc.floorHash) },
    ae: { active: s.ae.active, stuck: s.ae.stuck, ...s.ae.totals },
    partitioned: s.partitioned,
    peerState: { ...s.peerState },
    chaosEnabled: api.chaosEnabled,
    recovery: { running: p.running, epoch: p.epoch, toRecover: p.toRecover, recovered: p.recovered, failed: p.failed, peerFailures: p.peerFailures, deletedSkipped: p.deletedSkipped, lastCompleteEpoch: p.lastCompleteEpoch },
    startedAt: new Date(s.startedAt).toISOString(),
    uptimeMs: api.now - s.startedAt,
    version: api.version
  }
}

/** GET /members: the live members (self included, its lastHeardMs 0), by peer id */
export function membersInfo (m: MembersSnapshot, now: number): MembersInfo {
  return {
    epoch: m.epoch.toString(),
    members: m.known.filter((x) => x.status === 'alive').map((x) => ({
      peerId: x.peerId, addrs: x.addrs, zone: x.zone, api: x.api, lastHeardMs: x.self ? 0 : now - (x.lastHeard ?? now)
    }))
  }
}

export function deletesInfo (d: DeletesSnapshot): DeletesInfo {
  return {
    summary: { count: d.summary.count, fingerprint: hex(d.summary.fingerprint), maxHlc: hex(d.summary.maxHlc) },
    gc: { ack: hex(d.gc.ack), horizon: hex(d.gc.horizon), floorHash: hex(d.gc.floorHash), folded: d.gc.folded },
    floor: d.floor,
    records: d.records.map(recordJson)
  }
}

export function antiEntropyInfo (a: AeSnapshot): AntiEntropyInfo {
  return { active: a.active, stuck: a.stuck, totals: a.totals, recent: a.recent }
}

export function recoveryInfo (r: RecoverySnapshot): RecoveryInfo {
  return { progress: r.progress, totals: r.totals, repair: r.repair }
}

export function localCheckInfo (peerId: string, c: LocalCheckSnapshot): LocalCheck {
  return {
    peerId,
    cacheEqualsDisk: c.onlyInCache.length === 0 && c.onlyOnDisk.length === 0,
    onlyInCache: c.onlyInCache.map(formatOid),
    onlyOnDisk: c.onlyOnDisk.map(formatOid),
    objects: c.objects.map((o) => ({ oid: formatOid(o.oid), generation: o.generation, version: hex(o.version), checksum: o.checksum, length: o.length })),
    tombstoned: c.tombstoned.map(formatOid)
  }
}
