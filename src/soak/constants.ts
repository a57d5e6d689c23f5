// A soak's defaults in one place, so `bellwether soak --help` can print them without loading
// the soak itself (the chaos session, the checker, the report builder).

/** how long each gentle fault holds, and the quiet gap between faults (ms ranges) */
export const SOAK_HOLD_MS: [number, number] = [5_000, 15_000]
export const SOAK_GAP_MS: [number, number] = [40_000, 80_000]
export const SOAK_MAX_SKEW_MS = 30_000
export const DEFAULT_CHECK_EVERY_MS = 30_000
/** the periodic check counts a deleted object still held this long after the ack as overdue */
export const DEFAULT_CHECK_LAG_MS = 120_000
export const DEFAULT_SCRAPE_INTERVAL_MS = 5_000
