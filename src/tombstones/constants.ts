// Tombstone defaults in one place: record, batch and log-frame size bounds. Everything
// that sizes a delete record, a gossip batch or a log frame reads its limit from here.

/** Indexes in one discard record: keeps a record ≲ 250 KB even when the ids are sparse (≤ 5 B each). */
export const MAX_INDEXES_PER_RECORD = 50_000

/**
 * Bytes in one gossip message. gossipsub's limit is 4 MiB and an oversized message kills
 * the link for a long time, so stay far below it.
 */
export const MAX_BATCH_BYTES = 256 * 1024

/** Records in one gossip message: bounds per-message work on the receiver. */
export const MAX_RECORDS_PER_BATCH = 4096

/** UTF-8 bytes of an origin (a libp2p peer id string is ~52). */
export const MAX_ORIGIN_LENGTH = 128

/**
 * Largest payload of one delete-log frame. A maximal sparse record is < 260 KB; anything
 * claiming more is a corrupt length field, not a record.
 */
export const MAX_RECORD_BYTES = 1024 * 1024

// ---- Trust bounds on delete records from peers (issue 11). Enforced in src/node/admission.ts
// for gossip (whole message) and anti-entropy (per record) and for floor entries. ----

/**
 * A record (or floor entry) may name at most the highest generation this node knows of its vid
 * (floor, tombstones, objects held) plus this. Generation g+1 of a vid is created only once
 * the whole-VDI delete of g is folded, i.e. every current member acknowledged holding it; so
 * to a node that was a member throughout, an honest record is never more than one generation
 * ahead. A node that lags further (it was evicted, or new) learns the floor first (it comes
 * in the first frame of every session) and the rest in later sessions.
 */
export const GENERATION_SLACK = 1

/**
 * For a vid this node knows nothing of (no floor entry, no tombstone, no object), the highest
 * generation it accepts. Such a record purges nothing here (nothing of the vid is held); the
 * harm a forged one can do is to leave the vid un-creatable (a create takes generation + 1,
 * and 2^32 is not a u32). 2^20 leaves 2^32 − 2^20 generations of headroom, and is more
 * history than one vid can honestly make: every delete/re-create cycle waits for a fold
 * (a GC round every 2 s at best), so 2^20 cycles of one vid take weeks of nothing else.
 */
export const MAX_GENERATION_UNKNOWN_VID = 1 << 20

/**
 * A record of origin O may carry a seq at most this far above the highest seq of O this node
 * holds or folded. The gap is the number of O's records this node missed (a partition during
 * a delete storm): 2^32 is far beyond that, and it keeps 2^64 − 1 out of reach of any one
 * forged record. (A node never takes a record of its own origin that it did not write, so
 * nobody can push its own allocator anywhere.)
 */
export const SEQ_SLACK = 1n << 32n
