// Waiting on a promise for at most a while. A wait that must end (a stream's flush, a session
// a scheduler slot depends on) races the promise against a timer on the injected Timers; a
// system timer is unref'd, since a deadline alone is no reason to keep a stopping process alive.
import { systemTime, type TimerHandle, type Timers } from './time.js'

/** what `within` resolves to when the time ran out first */
export const LATE: unique symbol = Symbol('late')

/** what `p` resolves to, or LATE once `ms` have passed without it settling (a rejection propagates) */
export async function within<T> (p: Promise<T>, ms: number, time: Timers = systemTime): Promise<T | typeof LATE> {
  let timer: TimerHandle | undefined
  const late = new Promise<typeof LATE>((resolve) => {
    timer = time.setTimeout(() => { resolve(LATE) }, ms, { unref: true })
  })
  try {
    return await Promise.race([p, late])
  } finally {
    time.clearTimeout(timer)
  }
}

/** true if `p` settles (either way) within `ms` */
export async function settlesWithin (p: Promise<unknown>, ms: number, time: Timers = systemTime): Promise<boolean> {
  return await within(p.then(() => true, () => true), ms, time) !== LATE
}
