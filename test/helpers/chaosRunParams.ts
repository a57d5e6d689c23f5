// The seeded schedule of the short chaos run CI does (test/integration/chaosRun.test.ts), shared
// with the unit test that checks, without root, that this seed draws every fault kind early.
export const CHAOS_RUN_SEED = 2n
export const CHAOS_RUN_DURATION_S = 50
export const CHAOS_RUN_HOLD: [number, number] = [2000, 5000]
export const CHAOS_RUN_GAP: [number, number] = [1000, 2500]
export const CHAOS_RUN_KINDS = ['partition', 'kill', 'pause', 'skew'] as const
