// Receiving an anti-entropy frame when learned records must be durable before they count as
// held: the session accepts the frame without touching the set, the node stores what it
// learned (its store adds to the set only what it made durable), and only then is the frame
// answered. A failed store ends the session with an error frame and leaves those records
// un-held, so the next session with any peer fetches them again, instead of a set that
// claims records the log never got until the node restarts.
import type { DeleteRec } from '../tombstones/record.js'
import type { ReconSession, Step } from './session.js'
import type { AeFrame } from '../wire/bellwether_pb.js'

/** makes records durable and adds them to the session's set; rejects when they could not be stored */
export type Store = (recs: DeleteRec[]) => Promise<void>

/**
 * One frame in: accept, store what it taught us, answer. `learned` holds what was stored.
 * `valid` runs once the frame passed the session's checks and before anything of it is stored
 * (the first frame's floor entries are applied there): a frame the session refuses changes
 * nothing. If it throws, the error ends the session as the caller's own error.
 */
export async function receiveDurably (session: ReconSession, bytes: Uint8Array, store: Store, valid?: (frame: AeFrame) => Promise<void>): Promise<Step> {
  const got = session.acceptBytes(bytes)
  if (got.done) return got
  if (valid != null) await valid(session.acceptedFrame!)
  if (got.learned.length > 0) {
    try {
      await store(got.learned)
    } catch (err) {
      return session.abort(`could not store ${got.learned.length} learned records: ${String((err as Error)?.message ?? err).slice(0, 200)}`)
    }
  }
  const step = session.answer()
  step.learned = got.learned
  return step
}
