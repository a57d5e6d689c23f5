// Anti-entropy defaults and hard limits in one place: fan-out, id-list threshold and the
// per-frame bounds both the sender (budgets) and the receiver (validation) apply.

/**
 * Sub-ranges a differing range is split into. 16 keeps a clustered difference of d records
 * among n within ≈ log16(n) levels while a level costs only ≈ 16 × 26 B.
 */
export const BRANCH = 16

/**
 * A side holding at most this many records in a differing range lists their ids instead of
 * splitting further: 32 ids (256 B) cost about as much as one more level of 16 fingerprints
 * and save a round trip.
 */
export const ID_LIST_THRESHOLD = 32

/**
 * Records in one frame. A range that reveals 10^5 missing records streams them over many
 * frames; this bounds per-frame work (decode, validate, apply) on the receiver.
 */
export const MAX_RECORDS_PER_FRAME = 2048

/** Ranges in one frame; a reply that would need more ends with one range covering the rest. */
export const MAX_FRAME_RANGES = 4096

/** Ids (hashes) the sender asks for in one frame; more wait for later frames. */
export const MAX_WANTS_PER_FRAME = 16_384

/** Ids listed across all ID_LIST ranges of one frame. */
export const MAX_IDS_PER_FRAME = 65_536

/**
 * Encoded size of one frame. Far below a stream's comfortable message size, and large
 * enough that the biggest valid record (50 000 sparse indexes ≈ 250 KB) always fits next to
 * a full range and want budget.
 */
export const MAX_FRAME_BYTES = 1024 * 1024

/** Share of MAX_FRAME_BYTES the range answers may take; records and wants get the rest. */
export const RANGE_BYTES_BUDGET = MAX_FRAME_BYTES / 2

/** Share of MAX_FRAME_BYTES the want list may take. */
export const WANT_BYTES_BUDGET = MAX_FRAME_BYTES / 8

/**
 * Frames one session may receive before it gives up. A peer that never says done would
 * otherwise keep a session alive forever; 2^20 frames stream > 10^9 records.
 */
export const MAX_SESSION_FRAMES = 1 << 20

/** Upper bound on one encoded delete record (50 000 indexes × 5 B + origin + fixed fields). */
export const MAX_RECORD_WIRE_BYTES = 256 * 1024

/**
 * Records one session may teach this node (accepted from the peer's frames). What a session
 * learned is durable, so a peer with more simply needs another session; a peer that streams
 * without end is cut off here rather than at MAX_SESSION_FRAMES × MAX_RECORDS_PER_FRAME.
 * 2^20 records (≈ 16 MB of whole-VDI records) is a whole delete log behind in one session.
 */
export const MAX_RECORDS_PER_SESSION = 1 << 20

/**
 * Hashes this side has queued to ask the peer for (from its id lists). An honest peer lists
 * at most MAX_IDS_PER_FRAME per frame and we ask MAX_WANTS_PER_FRAME per frame; 2^18 lets a
 * big catch-up queue 16 frames of lists (2 MiB of hashes) and stops a peer from growing the
 * queue without end by listing ids faster than we ask.
 */
export const MAX_PENDING_WANTS = 1 << 18

/**
 * Work queued for the peer: hashes it asked for plus the ids of its lists we must skip when
 * pushing a range, plus one per queued range. We push MAX_RECORDS_PER_FRAME per frame; a peer
 * asking faster than that grows the queue: 2^20 (8 MiB of hashes) is a whole session's worth.
 */
export const MAX_PENDING_PUSH_IDS = 1 << 20
