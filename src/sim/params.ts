// The simulator's parameters: every one derived from a single 64-bit seed (as TigerBeetle's
// simulator does), then overridden by what the user gave on the command line. All values are
// drawn from the seed in a fixed order whether or not they are overridden, so overriding one
// never changes another, and `--seed S` plus the same overrides is the whole replay recipe.

import { seededRng } from '../rng.js'
import {
  AE_MAX_CONCURRENT, AE_MIN_INTERVAL_MS, AE_SESSION_TIMEOUT_MS, FAIL_AFTER_MS, GOSSIP_D, GOSSIP_D_HI, GOSSIP_D_LAZY,
  GOSSIP_D_LO, GOSSIP_FACTOR, GOSSIP_HEARTBEAT_MS, GOSSIP_MCACHE_LENGTH, HEARTBEAT_INTERVAL_MS
} from '../net/constants.js'
import { HEARTBEATS_PER_SEC } from '../membership/constants.js'

export type LatencyDist =
  | { kind: 'fixed', ms: number }
  | { kind: 'uniform', min: number, max: number }
  | { kind: 'exp', mean: number, min: number }

/** none; isolate one node; cut a minority (≈ 1/3) off; split in halves */
export const PARTITION_MODES = ['none', 'isolate', 'minority', 'halves'] as const
export type PartitionMode = typeof PARTITION_MODES[number]

/**
 * Fixed scenarios a run can ask for instead of the seed's: `figures` is the benchmark's (no
 * crashes, no late writes, whole-VDI deletes only, a 5 s warm-up, 5 healthy deletes, one 6 s
 * partition episode with 3 deletes in it, a purge bound of 15 s + 1 s per doubling of N), short
 * in virtual time so 10,000 nodes run in minutes.
 */
export const SCENARIOS = ['figures'] as const
export type ScenarioName = typeof SCENARIOS[number]

export const PLANTED_BUGS = ['skip-purge-gate'] as const
export type PlantedBug = typeof PLANTED_BUGS[number]

export interface SimParams {
  seed: bigint
  nodes: number
  /** invariant-check period (ms of virtual time); the run is `ticks` of them */
  tickMs: number
  ticks: number
  latency: LatencyDist
  loss: number
  dup: number
  /** share of messages held back (reordered) by up to 4× the mean delay */
  reorder: number
  partitionMode: PartitionMode
  partitions: number
  partitionMs: number
  crashes: number
  crashDownMs: number
  /** overlay degree: connected peers per node (all others below degree + 1 nodes) */
  degree: number
  gossipD: number
  gossipDlo: number
  gossipDhi: number
  gossipDlazy: number
  /** IHAVE targets a heartbeat: max(Dlazy, factor × non-mesh peers), as gossipsub */
  gossipFactor: number
  gossipHeartbeatMs: number
  mcacheLength: number
  mcacheGossip: number
  heartbeatMs: number
  failAfterMs: number
  /** heartbeats a node hears per second whatever the size: periods stretch with N (src/membership/rate.ts) */
  heartbeatsPerSec: number
  aeMinIntervalMs: number
  aeMaxConcurrent: number
  aeTimeoutMs: number
  gcIntervalMs: number
  recoveryPeriodMs: number
  recoveryDebounceMs: number
  copies: number
  objectsPerNode: number
  objectsPerVdi: number
  /** share of objects written during the run (replicas cut off at the time miss them) */
  lateWrites: number
  deletes: number
  faultDeletes: number
  /** share of deletes that are discards of a few objects rather than whole-VDI deletes */
  discardShare: number
  warmupMs: number
  /** every acknowledged delete is purged everywhere this long after the last heal */
  purgeBoundMs: number
  /** log size per node above which the tombstone state counts as unbounded */
  maxTombstones: number
  /** a fixed scenario replacing the seed's choices of workload and faults */
  scenario?: ScenarioName
  plantBug?: PlantedBug
}

/** what the user may set; everything else comes from the seed */
export interface SimOverrides {
  nodes?: number
  ticks?: number
  loss?: number
  latency?: LatencyDist
  partitionMode?: PartitionMode
  partitions?: number
  scenario?: ScenarioName
  plantBug?: PlantedBug
}

export class ParamError extends Error {
  override name = 'ParamError'
}

const U64 = (1n << 64n) - 1n

/** The run's parameters for `seed`, with the overrides applied. Throws ParamError on bad input. */
export function deriveParams (seed: bigint, o: SimOverrides = {}): SimParams {
  if (seed < 0n || seed > U64) throw new ParamError(`seed must be in 0..2^64-1, got ${seed}`)
  const r = seededRng(seed)
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  // drawn in this order, always
  const nodes = int(5, 12)
  const latency: LatencyDist = pick([
    { kind: 'exp', mean: int(2, 40), min: int(1, 3) },
    { kind: 'uniform', min: int(1, 5), max: int(10, 80) },
    { kind: 'fixed', ms: int(1, 20) }
  ] as LatencyDist[])
  const loss = r() < 0.3 ? 0 : Math.round(r() * 1000) / 10000
  const dup = r() < 0.5 ? 0 : Math.round(r() * 500) / 10000
  const reorder = r() < 0.5 ? 0 : Math.round(r() * 2000) / 10000
  const partitionMode = pick(PARTITION_MODES)
  const partitions = int(1, 3)
  const partitionMs = int(3, 25) * 1000
  const crashes = int(0, 3)
  const crashDownMs = int(1, 20) * 1000
  const degree = int(8, 12)
  const deletes = int(2, 6)
  const faultDeletes = int(2, 6)
  const discardShare = r() < 0.5 ? 0 : 0.3
  const lateWrites = r() < 0.3 ? 0 : 0.1
  const copies = int(2, 3)
  // how soon a node starts recovery after its view changed (the node's RECOVERY_DEBOUNCE_MS is
  // 1 s): swarm testing varies it, since it decides whether recovery can outrun anti-entropy
  const recoveryDebounceMs = pick([0, 250, 1000])
  const p: SimParams = {
    seed,
    nodes: o.nodes ?? nodes,
    tickMs: 100,
    ticks: 0,
    latency: o.latency ?? latency,
    loss: o.loss ?? loss,
    dup,
    reorder,
    partitionMode: o.partitionMode ?? partitionMode,
    partitions: o.partitions ?? partitions,
    partitionMs,
    crashes,
    crashDownMs,
    degree,
    gossipD: GOSSIP_D,
    gossipDlo: GOSSIP_D_LO,
    gossipDhi: GOSSIP_D_HI,
    gossipDlazy: GOSSIP_D_LAZY,
    gossipFactor: GOSSIP_FACTOR,
    gossipHeartbeatMs: GOSSIP_HEARTBEAT_MS,
    mcacheLength: GOSSIP_MCACHE_LENGTH,
    mcacheGossip: 3,
    heartbeatMs: HEARTBEAT_INTERVAL_MS,
    failAfterMs: FAIL_AFTER_MS,
    heartbeatsPerSec: HEARTBEATS_PER_SEC,
    aeMinIntervalMs: AE_MIN_INTERVAL_MS,
    aeMaxConcurrent: AE_MAX_CONCURRENT,
    aeTimeoutMs: AE_SESSION_TIMEOUT_MS,
    gcIntervalMs: 2000,
    recoveryPeriodMs: 60_000,
    recoveryDebounceMs,
    copies,
    objectsPerNode: 12,
    objectsPerVdi: 32,
    lateWrites,
    deletes,
    faultDeletes,
    discardShare,
    warmupMs: 10_000,
    purgeBoundMs: 0,
    maxTombstones: 0,
    scenario: o.scenario,
    plantBug: o.plantBug
  }
  if (o.scenario === 'figures') {
    Object.assign(p, { crashes: 0, crashDownMs: 0, lateWrites: 0, discardShare: 0, warmupMs: 5000, deletes: 5, faultDeletes: 3, partitionMs: 6000 })
  }
  if (p.partitionMode === 'none') p.partitions = 0
  if (!Number.isInteger(p.nodes) || p.nodes < 2 || p.nodes > 100_000) throw new ParamError(`--nodes must be an integer in 2..100000, got ${p.nodes}`)
  if (!(p.loss >= 0 && p.loss < 0.5)) throw new ParamError(`--loss must be a probability in [0, 0.5), got ${p.loss}`)
  if (!Number.isInteger(p.partitions) || p.partitions < 0 || p.partitions > 20) throw new ParamError(`partition count must be an integer in 0..20, got ${p.partitions}`)
  // the bound grows with log N: a delete crosses the overlay in O(log N) anti-entropy hops
  p.purgeBoundMs = o.scenario === 'figures' ? 15_000 + 1_000 * Math.ceil(Math.log2(p.nodes)) : 60_000 + 5_000 * Math.ceil(Math.log2(p.nodes))
  p.maxTombstones = p.deletes + p.faultDeletes + 1
  const needed = Math.ceil(minimumRunMs(p) / p.tickMs)
  if (o.ticks === undefined) p.ticks = needed
  else {
    if (!Number.isInteger(o.ticks) || o.ticks < needed || o.ticks > 100_000_000) {
      throw new ParamError(`--ticks must be an integer of at least ${needed} for these parameters (warm-up, deletes, faults and the ${p.purgeBoundMs / 1000} s purge bound at ${p.tickMs} ms a tick), got ${o.ticks}`)
    }
    p.ticks = o.ticks
  }
  return p
}

/** warm-up, the healthy deletes, the fault window, then the purge bound */
export function minimumRunMs (p: SimParams): number {
  return faultWindowEnd(p) + p.purgeBoundMs
}

export function faultWindowStart (p: SimParams): number {
  return p.warmupMs + p.deletes * 1000 + 5000
}

/** the last heal and the last restart happen by this time */
export function faultWindowEnd (p: SimParams): number {
  const episodes = Math.max(p.partitions, p.crashes > 0 ? 1 : 0)
  return faultWindowStart(p) + episodes * (p.partitionMs + 5000) + p.crashDownMs + 1000
}

/** `exp:MEAN[:MIN]`, `uniform:MIN:MAX` or `fixed:MS`, all in ms */
export function parseLatency (s: string): LatencyDist {
  const parts = s.trim().split(':')
  const nums = parts.slice(1).map((x) => (/^[0-9]+(\.[0-9]+)?$/.test(x) ? Number(x) : NaN))
  const bad = (): never => { throw new ParamError(`--latency must be exp:MEAN[:MIN], uniform:MIN:MAX or fixed:MS (ms, 0..10000), got ${JSON.stringify(s)}`) }
  if (nums.some((n) => !(n >= 0 && n <= 10_000))) bad()
  if (parts[0] === 'fixed' && nums.length === 1) return { kind: 'fixed', ms: nums[0]! }
  if (parts[0] === 'uniform' && nums.length === 2 && nums[0]! <= nums[1]!) return { kind: 'uniform', min: nums[0]!, max: nums[1]! }
  if (parts[0] === 'exp' && (nums.length === 1 || nums.length === 2) && nums[0]! > 0) return { kind: 'exp', mean: nums[0]!, min: nums[1] ?? 0 }
  return bad()
}

export function formatLatency (l: LatencyDist): string {
  if (l.kind === 'fixed') return `fixed:${l.ms}`
  if (l.kind === 'uniform') return `uniform:${l.min}:${l.max}`
  return `exp:${l.mean}:${l.min}`
}

/** `MODE[:COUNT]`, MODE one of none, isolate, minority, halves */
export function parsePartitions (s: string): { mode: PartitionMode, count?: number } {
  const [m, c, ...rest] = s.trim().split(':')
  if (!(PARTITION_MODES as readonly string[]).includes(m ?? '') || rest.length > 0 || (c !== undefined && !/^[0-9]{1,2}$/.test(c))) {
    throw new ParamError(`--partitions must be MODE[:COUNT] with MODE one of ${PARTITION_MODES.join(', ')} and COUNT 0..20, got ${JSON.stringify(s)}`)
  }
  const count = c === undefined ? undefined : Number(c)
  if (count !== undefined && count > 20) throw new ParamError(`--partitions COUNT must be at most 20, got ${count}`)
  return { mode: m as PartitionMode, count }
}

/** one line per parameter, printed before anything runs */
export function describeParams (p: SimParams): string[] {
  return [
    `seed=${p.seed}`,
    `nodes=${p.nodes} degree=${Math.min(p.degree, p.nodes - 1)} copies=${p.copies} objects/node=${p.objectsPerNode} objects/vdi<=${p.objectsPerVdi} late_writes=${p.lateWrites}`,
    `ticks=${p.ticks} tick_ms=${p.tickMs} (virtual ${(p.ticks * p.tickMs / 1000).toFixed(1)} s) warmup_ms=${p.warmupMs} purge_bound_ms=${p.purgeBoundMs}`,
    `latency=${formatLatency(p.latency)} loss=${p.loss} dup=${p.dup} reorder=${p.reorder}`,
    `partitions=${p.partitionMode}:${p.partitions} partition_ms=${p.partitionMs} crashes=${p.crashes} crash_down_ms=${p.crashDownMs}`,
    `deletes=${p.deletes} fault_deletes=${p.faultDeletes} discard_share=${p.discardShare} max_tombstones=${p.maxTombstones}`,
    `gossipsub D=${p.gossipD} Dlo=${p.gossipDlo} Dhi=${p.gossipDhi} Dlazy=${p.gossipDlazy} factor=${p.gossipFactor} heartbeat_ms=${p.gossipHeartbeatMs} mcache=${p.mcacheLength}/${p.mcacheGossip}`,
    `membership heartbeat_ms=${p.heartbeatMs} fail_after_ms=${p.failAfterMs} heartbeats_per_sec=${p.heartbeatsPerSec}; anti-entropy min_interval_ms=${p.aeMinIntervalMs} max_concurrent=${p.aeMaxConcurrent} timeout_ms=${p.aeTimeoutMs}; gc_interval_ms=${p.gcIntervalMs}; recovery period_ms=${p.recoveryPeriodMs} debounce_ms=${p.recoveryDebounceMs}`,
    ...(p.scenario !== undefined ? [`scenario: ${p.scenario} (fixed workload and faults; see SCENARIOS in src/sim/params.ts)`] : []),
    ...(p.plantBug !== undefined ? [`planted bug: ${p.plantBug} (test-only)`] : [])
  ]
}

/** The one command that replays this run: the seed plus every override the run was given. */
export function replayCommand (p: SimParams, o: SimOverrides): string {
  const args = ['bellwether', 'sim', '--nodes', String(p.nodes), '--seed', String(p.seed)]
  if (o.loss !== undefined) args.push('--loss', String(o.loss))
  if (o.latency !== undefined) args.push('--latency', formatLatency(o.latency))
  if (o.partitionMode !== undefined) args.push('--partitions', `${o.partitionMode}${o.partitions !== undefined ? `:${o.partitions}` : ''}`)
  if (o.ticks !== undefined) args.push('--ticks', String(o.ticks))
  if (o.scenario !== undefined) args.push('--scenario', o.scenario)
  if (o.plantBug !== undefined) args.push('--plant-bug', o.plantBug)
  return args.join(' ')
}
