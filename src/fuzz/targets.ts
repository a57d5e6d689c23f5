// Every fuzz target, in the order scripts/fuzz.js and test/unit/fuzz.test.ts run them, and the
// findings still open: a target whose property fails on today's code is marked pending with
// what fails and where, so the CI pass stays green while the full run keeps reporting it.
// Remove the mark when the fix lands (`node scripts/fuzz.js --only NAME` shows it holding).
import type { FuzzTarget } from './target.js'
import { decoderTargets } from './decoders.js'
import { floorFileTarget, handlerTargets } from './handlers.js'
import { adminApiTarget } from './adminApi.js'

/** none open today; see the header for how a finding is marked */
const PENDING: Record<string, string> = {}

export const allTargets: Array<FuzzTarget<any, any>> = [...decoderTargets, floorFileTarget, ...handlerTargets, adminApiTarget]
  .map((t) => PENDING[t.name] === undefined ? t : { ...t, pending: PENDING[t.name] })
