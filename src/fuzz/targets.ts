// Every fuzz target, in the order scripts/fuzz.js and test/unit/fuzz.test.ts run them, and the
// findings still open: a target whose property fails on today's code is marked pending with
// what fails and where, so the CI pass stays green while the full run keeps reporting it.
// Remove the mark when the fix lands (`node scripts/fuzz.js --only NAME` shows it holding).
import type { FuzzTarget } from './target.js'
import { decoderTargets } from './decoders.js'
import { floorFileTarget, handlerTargets } from './handlers.js'
import { adminApiTarget } from './adminApi.js'

const PENDING: Record<string, string> = {
  heartbeat: 'a heartbeat with epoch 2^64-1 makes MembershipView.bump return epoch 2^64 (src/membership/view.ts bump); fix on wt-i (saturating bump, epoch bound)',
  'heartbeat-ingest': 'epoch 2^64-1 then any view change: MembershipService.beat cannot encode epoch 2^64, an unhandled rejection (src/node/membership.ts applyChange → beat); fix on wt-i',
  'object-version': 'a PUT with version 2^64-1 (or anything past the max clock drift) is stored and served (src/node/objectHandler.ts put); fix on wt-i (version bound)',
  'ae-session': "a session's first frame has its floor entries applied by inspect() (src/net/aeService.ts run → src/node/node.ts inspect → gc.applyFloor) before the session validates the frame, so a frame the session then rejects has raised the floor and purged; fix expected on wt-h"
}

export const allTargets: Array<FuzzTarget<any, any>> = [...decoderTargets, floorFileTarget, ...handlerTargets, adminApiTarget]
  .map((t) => PENDING[t.name] === undefined ? t : { ...t, pending: PENDING[t.name] })
