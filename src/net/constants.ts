// Every network default in one place (the js-libp2p service convention): protocol ids,
// topics, timeouts, size limits. Services take an `init` object that overrides these.
// Each stream protocol and gossip topic has one id, `/<prefix>/<name>/<version>`, built
// here and nowhere else; code, tests and fuzz import the constant, never the string.
export const PROTOCOL_PREFIX = 'bellwether'

/** `/<prefix>/<name>/<version>`, as js-libp2p builds its protocol ids */
export function protocolId (name: string, version: string, prefix = PROTOCOL_PREFIX): string {
  return `/${prefix}/${name}/${version}`
}

export const OBJ_PROTOCOL_NAME = 'obj'
export const OBJ_PROTOCOL_VERSION = '1.0.0'
export const OBJ_PROTOCOL = protocolId(OBJ_PROTOCOL_NAME, OBJ_PROTOCOL_VERSION)

export const AE_PROTOCOL_NAME = 'ae'
export const AE_PROTOCOL_VERSION = '1.0.0'
export const AE_PROTOCOL = protocolId(AE_PROTOCOL_NAME, AE_PROTOCOL_VERSION)

export const TOPIC_MEMBERS_NAME = 'members'
export const TOPIC_MEMBERS = protocolId(TOPIC_MEMBERS_NAME, '1.0.0')
export const TOPIC_DELETES_NAME = 'deletes'
export const TOPIC_DELETES = protocolId(TOPIC_DELETES_NAME, '1.0.0')

/** largest object payload a node accepts; frames carry one object plus a small header */
export const MAX_OBJECT_SIZE = 8 * 1024 * 1024
export const MAX_FRAME_BYTES = MAX_OBJECT_SIZE + 64 * 1024

export const REQUEST_TIMEOUT_MS = 10_000
/**
 * A request that moves an object gets REQUEST_TIMEOUT_MS plus the time its bytes take at
 * this rate: one fixed deadline failed every 4 MiB write on a loaded machine (16 transfers of
 * 4 MiB sharing a few MB/s), while a dead peer must still be given up on about as fast.
 */
export const MIN_TRANSFER_BYTES_PER_SEC = 1024 * 1024
export const LIST_CHUNK_OIDS = 8192
/** oids in one read-repair hint; recovery sends bigger sets in several */
export const MAX_PURGE_HINT_OIDS = 8192
export const MAX_INBOUND_STREAMS = 256
export const MAX_OUTBOUND_STREAMS = 256

export const HEARTBEAT_INTERVAL_MS = 1000
export const FAIL_AFTER_MS = 5000
export const REDIAL_INTERVAL_MS = 1000
/**
 * A member silent this long although we hold a connection to it: the connection is hung up so
 * the redialer makes a fresh one. A cut that drops packets (nftables, a netns) leaves both ends'
 * TCP connections open, and gossipsub may have given up its streams on one that later recovers,
 * so heartbeats never flow again on it while anti-entropy, which opens a stream per session,
 * still works. Three failure-detector periods, so a merely slow peer is not churned.
 */
export const STALE_CONNECTION_MS = 3 * FAIL_AFTER_MS
/**
 * A (re)started node with peers to join serves client I/O only once a peer agrees on the
 * member set, so a read or write is never placed on a view of itself alone (stale data, a
 * write with one copy). If no peer agrees by then, it serves with the view it has.
 */
export const JOIN_TIMEOUT_MS = 10_000
export const DIAL_TIMEOUT_MS = 3000
/**
 * gossipsub's own heartbeat (its 1 s default): meshes are grafted and IHAVE gossip is sent
 * only on it. It was 250 ms, for meshes that form fast, but every publish is flooded to all
 * subscribed peers (floodPublish), so a mesh only adds redundant paths and a slower one costs
 * no delivery; four heartbeats a second of IHAVE to every gossip target were a large share of
 * an idle node's messages (issue 14, docs/BENCHMARKS.md "Idle cost").
 */
export const GOSSIP_HEARTBEAT_MS = 1000
/**
 * gossipsub mesh degree (D, its bounds Dlo/Dhi). Each node hears every message once from its
 * publisher (flood publish) and once more from each mesh peer that forwards it: D = 4 instead
 * of gossipsub's 6 cuts the copies an idle node receives from up to 7 to up to 5. Dhi stays at
 * twice D so meshes in a cluster where every node dials every member are not pruned on every
 * heartbeat.
 */
export const GOSSIP_D = 4
export const GOSSIP_D_LO = 3
export const GOSSIP_D_HI = 8
/**
 * IHAVE gossip targets per gossipsub heartbeat while some member misses members, and none
 * otherwise (src/net/lazyGossip.ts, switched by membership). gossipsub sends IHAVE to
 * max(Dlazy, factor × non-mesh peers) peers a heartbeat, listing the messages of its last few
 * heartbeats, so a peer the message missed can ask for it (IWANT). In a whole cluster every
 * message already reaches every member from its publisher (flood publish): with IHAVE always
 * on, frames nobody answered were 30 of an idle node's 75 socket writes in 10 s, and turning
 * them off cut its CPU by a fifth (issue 14, docs/BENCHMARKS.md "Sixth pass"). While a member
 * misses members (a cut between two nodes, a node that just started) IHAVE is a path around
 * the mesh, which may lack a node for a while (gossipsub keeps a pruned peer out for a minute).
 */
export const GOSSIP_D_LAZY = 3
/**
 * the share of non-mesh peers IHAVE goes to past Dlazy: with gossipsub's 0.25 the per-node
 * cost grew with the cluster (11 targets at 50 nodes). 0: Dlazy whatever N.
 */
export const GOSSIP_FACTOR = 0
/**
 * gossipsub heartbeats a message stays in a node's message cache (gossipsub's default, pinned
 * here so tests can rely on it): a peer that missed the message can still get it through
 * IHAVE/IWANT until then; after that only anti-entropy repairs the miss
 */
export const GOSSIP_MCACHE_LENGTH = 5
/**
 * gossipsub peer score for messages our validators reject (members topic): each adds 1 to a
 * per-peer counter that decays by INVALID_MESSAGE_DECAY every second, and the score is
 * WEIGHT × counter². An honest node whose heartbeat is rejected once a second (a clock off by
 * more than the max drift) settles at a counter of 2 (score −4, no effect); a peer sending 9
 * or more at once passes gossipsub's default graylist threshold (−80) and everything it sends
 * is ignored until the counter decays (about 4 s from 10 to below 1).
 */
export const MEMBERS_INVALID_MESSAGE_WEIGHT = -1
export const INVALID_MESSAGE_DECAY = 0.5
/**
 * Deletes topic: peer-score penalty for a gossip message our validator rejected (gossipsub's P4, the only
 * score component we turn on): the forwarder's score drops by weight × (rejections)², and the
 * count halves every second. One rejection costs -10 (gossipsub's gossip threshold), three in
 * a burst -90 (past the -80 graylist threshold: everything from that peer is ignored until it
 * decays). A peer that forwards what an honest node would reject is penalised; an honest peer
 * rarely does (only when the receiver lags far behind), and recovers within seconds.
 */
export const DELETES_INVALID_MESSAGE_WEIGHT = -10

/** how long unsent delete batches wait for a mesh before being dropped (anti-entropy repairs) */
export const OUTBOX_MAX_BATCHES = 1024
/**
 * Records made within this window go out in one batch. 0: those made in one turn of the event
 * loop (a group commit of the delete log resolves all its callers in one turn, so a burst still
 * batches). A longer window is added to every delete's purge latency on every peer.
 */
export const DELETES_COALESCE_MS = 0
/** how often batches queued before the mesh formed are retried */
export const DELETES_FLUSH_MS = 250

/** a whole reconciliation session, however many rounds */
export const AE_SESSION_TIMEOUT_MS = 20_000
/** after a session: how long its last frames may take to reach the muxer, and the peer to close its end */
export const CLOSE_GRACE_MS = 5000
/**
 * The scheduler frees a peer's slot if a session has not ended by then: dial, session and two
 * close graces fit twice over. A session that outlives it is a bug (a stream that never ends);
 * without this one such bug blocks every later session with that peer, and what waits on them.
 */
export const AE_WATCHDOG_MS = 2 * (DIAL_TIMEOUT_MS + AE_SESSION_TIMEOUT_MS + 2 * CLOSE_GRACE_MS)
/** at most this many sessions run at once on a node, whatever their trigger */
export const AE_MAX_CONCURRENT = 4
/** a beacon-triggered session with the same peer at most this often */
export const AE_MIN_INTERVAL_MS = 1000
/**
 * Anti-entropy sessions one peer may have open with this node at once, both directions
 * together. The scheduler runs at most one per peer on each side (and the watchdog may leave
 * one ending while the next starts): more is a peer opening streams to pin our memory.
 */
export const AE_MAX_SESSIONS_PER_PEER = 3
/** sessions other nodes may have open with this node at once (all peers together) */
export const AE_MAX_INBOUND_SESSIONS = 32

/** the pnet nonce exchange must finish within this (libp2p's 1 s default fails on a loaded
 *  2-core machine running a dozen nodes; a stranger is still refused at the first byte) */
export const PNET_HANDSHAKE_MS = 10_000
