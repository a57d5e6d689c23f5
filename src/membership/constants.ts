// Every bound on what a membership heartbeat may say, in one place (the js-libp2p constants
// convention). Each is enforced where the bytes enter: the members topic's gossip validator
// (src/membership/membership.ts, via src/membership/heartbeatCheck.ts) and again by the pure view
// (src/membership/view.ts), which never trusts its caller to have checked.

/**
 * Epochs never go above this (2^62). An honest cluster bumps its epoch once per membership
 * change; at one change per millisecond it would take ~146 million years to get here, so a
 * heartbeat above it is forged. The ceiling leaves 2^62 of headroom under uint64, so the
 * bump (`max(epoch, maxSeen) + 1`) can never overflow what the wire and the epoch file hold,
 * and it saturates here instead of throwing if it ever got here.
 */
export const MAX_EPOCH = 1n << 62n

/**
 * Once a node has joined, a heartbeat may carry an epoch at most this far (2^20 = 1,048,576)
 * above the highest epoch this node has reached or seen. Why that much slack: honest nodes
 * only diverge by view changes one side went through while it could not hear the other (a
 * partition, a node down), each needing a membership event (a failure timeout, a restart):
 * 2^20 of them is ~12 days of one change per second on the far side, far past any real
 * partition. Why no more: every accepted heartbeat can lift this node's epoch by at most this
 * much, so a member forging epochs needs 2^42 accepted heartbeats (139 years at 1000/s) to
 * push the cluster to MAX_EPOCH. A node that has not joined yet has no reference (a new node
 * starts at 0, a restarted one may be far behind) and checks MAX_EPOCH only.
 */
export const MAX_EPOCH_LEAD = 1n << 20n

/** libp2p peer ids are ~52 characters (Ed25519) and at most a few hundred (RSA) */
export const MAX_PEER_ID_LENGTH = 256
/** addresses one heartbeat may announce (a node announces one per listen address) */
export const MAX_ADDRS = 16
/** characters in one announced multiaddr */
export const MAX_ADDR_LENGTH = 256
/** characters in the announced admin API URL (`http://host:port`) */
export const MAX_API_LENGTH = 256

/**
 * Heartbeats a node receives per second, whatever the cluster size (issue 14): every node
 * heartbeats every max(HEARTBEAT_INTERVAL_MS, members / HEARTBEATS_PER_SEC s), so the
 * cluster gossips about this many a second in total and each node's membership cost (receive,
 * verify, forward) stays flat as members join, instead of growing with N (and the cluster's
 * with N²). Up to this many members nothing changes: one beat a second, the base timeout.
 */
export const HEARTBEATS_PER_SEC = 5
/**
 * A member is declared dead after missing about this many of its own (scaled) heartbeat
 * periods, never sooner than the base FAIL_AFTER_MS: memberlist likewise scales its suspicion
 * timeout with the cluster. Four periods ride out a lost beat or two and the ±20 % jitter.
 */
export const FAIL_AFTER_BEATS = 4
/**
 * The member count a heartbeat may report (it sets how long the receiver waits for that
 * member's next beat): a forged count can stretch its author's own failure timeout to
 * FAIL_AFTER_BEATS × MAX_MEMBER_COUNT / HEARTBEATS_PER_SEC s (≈ 13.7 min) and no more.
 */
export const MAX_MEMBER_COUNT = 1024
