// The schedule of the short chaos run CI does (test/integration/chaosRun.test.ts): its seed must
// draw every fault kind, a halves partition among them, in the first cycles, or the run could
// pass without exercising one of them. Pure planning, no root needed: it always runs.
import { describe, expect, it } from 'vitest'
import { planSchedule } from '../../src/chaos/nemesis.js'
import { CHAOS_RUN_GAP, CHAOS_RUN_HOLD, CHAOS_RUN_KINDS, CHAOS_RUN_SEED } from '../helpers/chaosRunParams.js'

describe('the chaos run CI does', () => {
  it('draws every fault kind, a halves partition among them, in its first 5 cycles', () => {
    const early = planSchedule({ seed: CHAOS_RUN_SEED, nodes: [0, 1, 2, 3, 4], kinds: [...CHAOS_RUN_KINDS], cycles: 5, holdMs: CHAOS_RUN_HOLD, gapMs: CHAOS_RUN_GAP })
    expect(new Set(early.map((c) => c.fault.kind))).toEqual(new Set(CHAOS_RUN_KINDS))
    expect(early.some((c) => c.fault.kind === 'partition' && c.fault.shape === 'halves')).toBe(true)
  })
})
