// How often a node heartbeats and how long a silent member is given, as functions of the
// cluster size (issue 14). Pure. With every node gossiping a signed heartbeat to everyone, a
// fixed period makes each node receive (and verify, and forward) N beats a period: per-node
// cost O(N), cluster cost O(N²). Stretching the period with N keeps what each node receives
// per second constant (HEARTBEATS_PER_SEC), and the failure timeout stretches with it.
import { FAIL_AFTER_BEATS, HEARTBEATS_PER_SEC, MAX_MEMBER_COUNT } from './constants.js'

export interface RateParams {
  /** the period at or below HEARTBEATS_PER_SEC members (and for a lone node) */
  baseIntervalMs: number
  /** the timeout at or below HEARTBEATS_PER_SEC members */
  baseFailAfterMs: number
  /** heartbeats each node receives per second; 0: unbounded (fixed base period and timeout, the pre-issue-14 behaviour) */
  perSec: number
}

export const DEFAULT_RATE: Omit<RateParams, 'baseIntervalMs' | 'baseFailAfterMs'> = { perSec: HEARTBEATS_PER_SEC }

/** the member count a period is computed from: at least 1, at most MAX_MEMBER_COUNT (untrusted when it comes from a peer) */
function clampCount (members: number): number {
  if (!Number.isFinite(members) || members < 1) return 1
  return Math.min(Math.floor(members), MAX_MEMBER_COUNT)
}

/** ms between this node's heartbeats when it counts `members` live members (itself included) */
export function heartbeatIntervalMs (members: number, p: RateParams): number {
  if (!(p.perSec > 0)) return p.baseIntervalMs
  return Math.max(p.baseIntervalMs, Math.ceil(clampCount(members) * 1000 / p.perSec))
}

/**
 * How long a member may stay silent before it is declared dead, given the larger of the two
 * member counts that set its period: the receiver's own (what it expects) and the member's
 * last reported one (what the member actually uses, which differs while views disagree, e.g.
 * right after a heal). Never below the base timeout.
 */
export function failAfterMs (members: number, p: RateParams): number {
  if (!(p.perSec > 0)) return p.baseFailAfterMs
  return Math.max(p.baseFailAfterMs, FAIL_AFTER_BEATS * heartbeatIntervalMs(members, p))
}
