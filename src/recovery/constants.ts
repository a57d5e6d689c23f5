// Recovery defaults in one place (the node's flags override the first two).

/** transfers in flight at once per recovering node */
export const DEFAULT_RECOVERY_PARALLEL = 8
/** bytes per second a recovering node pulls, over all transfers: 64 MiB/s leaves room for foreground I/O */
export const DEFAULT_RECOVERY_RATE = 64 * 1024 * 1024
/** read-repair hints to one peer in one pass; more wait for the next pass (its own anti-entropy purges them anyway) */
export const MAX_HINTS_PER_PEER = 65536
