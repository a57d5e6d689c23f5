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
