// The admin API contract (docs/API.md): the JSON body of every request and answer, as it
// travels. The server (server.ts) builds its answers typed by these and the one client
// (client.ts) returns them, so a field renamed on one side fails to compile on the other.
// 64-bit values (oids, HLCs, fingerprints, epochs) are hex or decimal strings, never bigint:
// these are wire shapes, not the node's own.

import type { PeerStateCounts } from '../node/snapshots.js'

/** Every error answer: HTTP status >= 400 with this body. */
export interface ErrorBody { error: string; code: ApiErrorCode }

export type ApiErrorCode = 'BAD_REQUEST' | 'UNAUTHORIZED' | 'NOT_FOUND' | 'EXISTS' | 'DELETED' |
'UNSUPPORTED_MEDIA_TYPE' | 'MISDIRECTED' | 'UNAVAILABLE' | 'INTERNAL'

export interface LogSummary { count: number; fingerprint: string; maxHlc: string }

/** `/status` log: the summary plus the delete log's health */
export interface LogStatus extends LogSummary {
  /** why the delete log cannot be written now (null: it can) */
  unavailable: string | null
  /** records waiting in memory for the log to take them */
  pending: number
  /** failed appends since start */
  writeFailures: number
}

/** Tombstone GC state: HLCs and the floor hash as hex strings. */
export interface GcStatus {
  /** the HLC up to which this node holds every delete record of every member ("0…0": none yet) */
  ack: string
  /** the GC horizon: records at or below it are folded into the floor ("0…0": nothing folded yet) */
  horizon: string
  /** number of floor entries (one per vid whose whole-VDI delete was folded) */
  floor: number
  floorHash: string
}

/** Anti-entropy session counters since the node started. */
export interface AeTotals {
  started: number;
  completed: number;
  failed: number
  bytesIn: number;
  bytesOut: number
  recordsLearned: number;
  recordsSent: number
}

export interface AeStatus extends AeTotals {
  /** sessions running now */
  active: number
  /** sessions whose slot the scheduler freed after its watchdog (a hung stream) */
  stuck: number
}

/** `/status` summary of the recovery pass (`GET /recovery` has all of it) */
export interface RecoveryStatus {
  running: boolean;
  epoch: string;
  toRecover: number;
  recovered: number;
  failed: number
  peerFailures: number;
  deletedSkipped: number;
  lastCompleteEpoch: string
}

/** peers in the view (live, dead, departed; not self) and the entries held per peer in each map:
 *  plain counts, the same shape as the node's snapshot */
export type PeerStateStatus = PeerStateCounts

/** GET /status */
export interface NodeStatus {
  peerId: string;
  addrs: string[];
  api: string;
  dataDir: string;
  zone: number;
  pid: number
  /** decimal */
  epoch: string
  /** the placement ring's members (live, self included) */
  members: string[]
  objects: number
  /** false while a (re)started node refuses client I/O until a peer agrees on the member set */
  joined: boolean
  busy: boolean
  busyReasons: string[]
  /** bad entries found in restart files and skipped */
  startupProblems: string[]
  log: LogStatus
  gc: GcStatus
  ae: AeStatus
  /** peers this node refuses and hangs up on (application-level partition) */
  partitioned: string[]
  /** entries kept per peer, by map: none outlives the peer's eviction (`node start --evict-after`) */
  peerState: PeerStateStatus
  chaosEnabled: boolean
  recovery: RecoveryStatus
  /** ISO time */
  startedAt: string
  uptimeMs: number
  version: string
}

export interface MemberInfo { peerId: string; addrs: string[]; zone: number; api: string; lastHeardMs: number }

/** GET /members */
export interface MembersInfo { epoch: string; members: MemberInfo[] }

/** GET /objlist[?vid=…] */
export interface ObjList { count: number; oids: string[] }

export interface VdiInfo {
  name: string;
  vid: string;
  size: number;
  copies: number;
  objectSize: number
  generation: number;
  objects: number
  /** the creating HLC, hex */
  created: string
}

/** GET /vdi */
export interface VdiList { vdis: VdiInfo[] }

/** POST /vdi */
export interface CreateVdiRequest { name: string; size: number; copies?: number; objectSize?: number; prealloc?: boolean }

/** DELETE /vdi/:name */
export interface DeleteVdiAnswer { vdi: VdiInfo; records: number }

/** POST /vdi/:name/discard */
export interface DiscardRequest {
  /** object indexes as ranges, e.g. "0-3,7" */
  objects: string
}

export interface DiscardAnswer { vdi: VdiInfo; discarded: number; records: number }

/** PUT /vdi/:name/data?offset=N */
export interface WriteAnswer { written: number; objects: number }

/** GET /vdi/:name/location?index=I */
export interface Location {
  oid: string
  placement: string[]
  holders: Array<{ peerId: string; version: string; checksum: number; generation: number }>
}

export interface DeleteRecordJson {
  origin: string;
  seq: string;
  hlc: string;
  kind: 'vdi' | 'objects'
  vid: string;
  generation: number;
  count: number;
  indexes?: number[]
}

export interface DeletesGc {
  ack: string;
  horizon: string;
  floorHash: string
  /** records folded out of the log since the node started */
  folded: number
}

/** GET /deletes */
export interface DeletesInfo {
  summary: LogSummary
  gc: DeletesGc
  /** [vid (number), generation], ascending by vid: every object of vid with generation <= it is deleted */
  floor: Array<[number, number]>
  records: DeleteRecordJson[]
}

export interface AeSessionReport {
  peer: string
  role: 'initiator' | 'responder'
  /** epoch milliseconds */
  startedAt: number
  ms: number
  bytesIn: number;
  bytesOut: number
  framesIn: number;
  framesOut: number
  rounds: number
  /** records this node learned / sent in the session */
  learned: number;
  sent: number
  /** set when the session failed */
  error?: string
}

/** GET /antientropy */
export interface AntiEntropyInfo {
  active: number
  stuck: number
  totals: AeTotals
  /** the last few sessions, newest last */
  recent: AeSessionReport[]
}

export interface RecoveryProgress extends RecoveryStatus {
  dropped: number
  /** copies put to a placement target that lacked them, before this node dropped its own */
  handedOff: number
  bytes: number
  pendingDrops: number
  /** epoch ms, 0: never */
  startedAt: number
  finishedAt: number
  errors: string[]
}

/** GET /recovery */
export interface RecoveryInfo {
  progress: RecoveryProgress
  totals: { recovered: number; failed: number; deletedSkipped: number; dropped: number; handedOff: number; racedDeletes: number; readRepaired: number; bytes: number }
  repair: { pending: number; totals: { repaired: number; pushed: number; dropped: number; overflows: number; retried: number } }
}

/** GET /chaos, POST /chaos/clock, /chaos/partition, /chaos/heal */
export interface ChaosState { partitioned: string[]; clockOffsetMs?: number }

/** POST /chaos/clock */
export interface ClockRequest { offsetMs: number }

/** POST /chaos/partition */
export interface PartitionRequest { peers: string[] }

export interface LocalCheckObject { oid: string; generation: number; version: string; checksum: number; length: number }

/** GET /check */
export interface LocalCheck {
  peerId: string
  cacheEqualsDisk: boolean;
  onlyInCache: string[];
  onlyOnDisk: string[]
  objects: LocalCheckObject[]
  /** oids this node holds that its own tombstones cover */
  tombstoned: string[]
}
